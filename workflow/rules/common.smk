# Helpers for the rules: targets and input functions (named get_*), no logic in the rules themselves.
import shlex
from pathlib import Path

# Rules run the package from this checkout, in the venv or in a rule's conda env alike.
SRC = str(Path(workflow.basedir) / "src")
shell.prefix(f"set -euo pipefail; export PYTHONPATH={shlex.quote(SRC)}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; ")

RESULTS = "results"
SAMPLE_DIR = config["sample"]["outdir"]
ARXIV = config["arxiv"]
EXTRACT = config["extract"]


wildcard_constraints:
    tarball=r"arXiv_src_\d{4}_\d{3}",
    name=r"[A-Za-z0-9_\-]+",


def get_final_targets():
    targets = []
    if ARXIV["enabled"]:
        targets.append(f"{RESULTS}/stats/arxiv.json")
    return targets


def _is_under(path, root):
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False


def get_arxiv_manifest_input(wildcards):
    """The sample mirror is built by the workflow itself when the source points into it (the demo)."""
    source = str(ARXIV["source"])
    if "://" not in source and _is_under(source, SAMPLE_DIR):
        return [f"{SAMPLE_DIR}/arxiv/src/arXiv_src_manifest.xml"]
    return []


def get_sample_outdir(wildcards, output):
    """The sample root, from the manifest path <root>/arxiv/src/arXiv_src_manifest.xml."""
    return str(Path(output.manifest).parents[2])


def get_source_flags(section):
    """Command-line flags that say where a source lives and how to reach it."""
    flags = ["--source", str(section["source"])]
    flags.append("--requester-pays" if section.get("requester_pays") else "--no-requester-pays")
    if section.get("endpoint_url"):
        flags += ["--endpoint-url", str(section["endpoint_url"])]
    dl = section["download"]
    flags += ["--retries", str(dl["retries"]), "--backoff", str(dl["backoff_s"]), "--timeout", str(dl["timeout_s"])]
    return " ".join(shlex.quote(f) for f in flags)


def get_select_flags():
    flags = ["--max-size-gb", str(ARXIV["max_size_gb"] if ARXIV["max_size_gb"] is not None else 0)]
    if ARXIV.get("start") is not None:
        flags += ["--start", str(ARXIV["start"])]
    if ARXIV.get("end") is not None:
        flags += ["--end", str(ARXIV["end"])]
    if ARXIV.get("tarballs"):
        flags += ["--tarballs", ",".join(str(t) for t in ARXIV["tarballs"])]
    return " ".join(shlex.quote(f) for f in flags)


def get_extract_flags():
    e = EXTRACT
    flags = ["--max-size", e["max_size"], "--jpeg-quality", e["jpeg_quality"], "--min-size", e["min_size"],
             "--max-pixels", e["max_pixels"], "--raster-timeout", e["raster_timeout_s"],
             "--vector-dpi", e["vector_dpi"], "--subfigure-caption", e["subfigure_caption"],
             "--multi-image", e["multi_image"], "--min-caption-chars", e["min_caption_chars"],
             "--max-paper-mb", e["max_paper_mb"], "--samples-per-shard", e["samples_per_shard"]]
    if not e["resize"]:
        flags.append("--no-resize")
    if e.get("scratch_dir"):
        flags += ["--scratch-dir", e["scratch_dir"]]
    return " ".join(shlex.quote(str(f)) for f in flags)


def _selected_arxiv():
    """Tarballs chosen by the selection checkpoint (name -> (key, md5))."""
    path = checkpoints.arxiv_select.get().output[0]
    entries = {}
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            entries[row["name"]] = (row["filename"], row["md5sum"])
    return entries


def get_arxiv_key(wildcards):
    return _selected_arxiv()[wildcards.tarball][0]


def get_arxiv_md5(wildcards):
    return _selected_arxiv()[wildcards.tarball][1]


def get_arxiv_shard_dirs(wildcards):
    return [f"{RESULTS}/arxiv/shards/{name}" for name in sorted(_selected_arxiv())]


def arxiv_tarball_output():
    path = f"{RESULTS}/arxiv/tarballs/{{tarball}}.tar"
    return path if ARXIV["keep_tarballs"] else temp(path)


def get_heal_input(wildcards):
    inputs = config.get("heal", {}).get("inputs", {})
    if wildcards.name not in inputs:
        raise ValueError(f"heal: no input directory configured for {wildcards.name!r} (config heal.inputs)")
    return inputs[wildcards.name]
