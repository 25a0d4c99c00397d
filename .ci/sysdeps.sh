#!/usr/bin/env bash
# Install the Debian tools sciclip shells out to, only when missing: poppler-utils (pdftoppm, pdfinfo)
# and ghostscript (gs), GNU time for the benchmarks, graphviz (dot: the README's `snakemake --rulegraph | dot`),
# and what pip builds kenlm with (g++, cmake, zlib headers).
# Needs root or passwordless sudo when something is missing.
set -euo pipefail
missing=()
command -v pdftoppm >/dev/null && command -v pdfinfo >/dev/null || missing+=(poppler-utils)
command -v gs >/dev/null || missing+=(ghostscript)
[ -x /usr/bin/time ] || missing+=(time)   # GNU time: the benchmarks' peak-RSS measurement
command -v dot >/dev/null || missing+=(graphviz)   # the rule graph as a picture (README)
# kenlm (requirements.txt) is an sdist: pip compiles it
command -v g++ >/dev/null || missing+=(g++)
command -v cmake >/dev/null || missing+=(cmake)
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root (or sudo) to apt-get install ${missing[*]}"; exit 1; }
  SUDO="sudo"
fi
echo "installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
