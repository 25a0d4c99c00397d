"""arXiv's 00README: the submitter's instructions to arXiv's compiler, read before guessing.

A source tree may hold stale copies of the paper, drafts, cover letters; arXiv compiles the files the
00README names as top-level and never the ones it says to ignore, and the PDF on arXiv is what the
captions must match. Two formats exist (https://info.arxiv.org/help/00README.html):

- ``00README.XXX`` (classic): one directive a line, ``<file> toplevelfile``, ``<file> ignore``,
  ``<file> include``, ``<file> landscape``, ``<file>.map fontmap``, ``nostamp``, ``nohypertex``;
- ``00README.json`` (or .yaml/.yml/.toml, submission system 1.5): ``{"process": {"compiler": "pdflatex"},
  "sources": [{"filename": ..., "usage": "toplevel" | "include" | "ignore" | "append"}]}``; an entry
  with no usage is top-level.

When several are present the first of .yml .yaml .json .jsn .toml .xxx wins, as in arXiv's tex2pdf.
Only what changes the figures is kept: top-level files, ignored files, and the engine (it decides
``\\ifpdf``/``\\ifxetex`` branches).
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

import yaml

log = logging.getLogger(__name__)

README_EXTS = [".yml", ".yaml", ".json", ".jsn", ".toml", ".xxx"]


@dataclass(frozen=True)
class Readme00:
    toplevel: tuple[str, ...] = ()  # paths relative to the tree root, in the order given
    ignore: frozenset[str] = frozenset()
    engine: str = "pdftex"  # pdftex | latex (DVI) | xetex | luatex
    source: str = ""  # the 00README file read, "" if none


def engine_of(compiler: str) -> str:
    """Our engine name for a 00README compiler such as ``pdflatex``, ``lualatex`` or ``etex+dvips_ps2pdf``."""
    first = compiler.lower().split("+")[0]
    if "xe" in first:
        return "xetex"
    if "lua" in first:
        return "luatex"
    if "pdf" in first or not first:
        return "pdftex"
    return "latex"  # latex, tex, etex: pdfTeX writing DVI


def parse_classic(text: str) -> Readme00:
    toplevel: list[str] = []
    ignore: set[str] = set()
    for line in text.splitlines():
        words = line.split()
        if len(words) != 2:
            continue  # nostamp, nohypertex, nohyperref and blank lines change no figure
        name, keyword = words[0], words[1].lower()
        if keyword == "toplevelfile":
            toplevel.append(name)
        elif keyword == "ignore":
            ignore.add(name)
    return Readme00(tuple(toplevel), frozenset(ignore))


def parse_structured(data: object) -> Readme00:
    if not isinstance(data, dict):
        return Readme00()
    toplevel: list[str] = []
    ignore: set[str] = set()
    for entry in data.get("sources") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("filename"), str):
            continue
        usage = entry.get("usage")
        if usage == "toplevel" or (usage is None and set(entry) == {"filename"}):
            toplevel.append(entry["filename"])
        elif usage == "ignore":
            ignore.add(entry["filename"])
    engine = "pdftex"
    process = data.get("process") or data.get("compilation")
    if isinstance(process, dict):
        spec = process.get("compiler") or process.get("engine")
        if isinstance(spec, str):
            engine = engine_of(spec)
            if spec in ("tex", "pdftex") and process.get("output") == "dvi":
                engine = "latex"
    return Readme00(tuple(toplevel), frozenset(ignore), engine)


def read_readme00(files: list[PurePosixPath], read_bytes: Callable[[PurePosixPath], bytes]) -> Readme00:
    """The directives of the 00README at the root of a source tree; none when absent or unreadable."""
    found = [f for f in files if len(f.parts) == 1 and f.stem.lower() == "00readme"
             and f.suffix.lower() in README_EXTS]
    if not found:
        return Readme00()
    rel = min(found, key=lambda f: (README_EXTS.index(f.suffix.lower()), str(f)))
    try:
        raw = read_bytes(rel)
        text = raw.decode("utf-8", errors="replace")
        ext = rel.suffix.lower()
        if ext == ".xxx":
            readme = parse_classic(text)
        elif ext in (".json", ".jsn"):
            readme = parse_structured(json.loads(text))
        elif ext == ".toml":
            readme = parse_structured(tomllib.loads(text))
        else:
            readme = parse_structured(yaml.safe_load(text))
    except (OSError, ValueError, yaml.YAMLError) as exc:  # json/toml errors are ValueErrors
        log.info("%s: unreadable, ignored: %s", rel, exc)
        return Readme00()
    return Readme00(readme.toplevel, readme.ignore, readme.engine, str(rel))
