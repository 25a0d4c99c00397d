"""Finding the file behind ``\\includegraphics{name}`` the way pdfLaTeX does, then a little more leniently.

pdfLaTeX looks for the name as written relative to the main file's directory, then below each
``\\graphicspath`` prefix, and for a name without a known extension appends the extensions in its
``\\DeclareGraphicsExtensions`` order (.png .pdf .jpg .mps .jpeg .jbig2 .jb2, then upper case). latex+dvips
papers use .eps/.ps. Papers written on case-insensitive file systems get a case-insensitive second try,
and as a last resort a file with the same (unique) name anywhere in the tree.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from sciclip.sources.arxiv.tex_source import SourceTree, normalise

PDFTEX_EXTENSIONS = [".png", ".pdf", ".jpg", ".mps", ".jpeg", ".jbig2", ".jb2"]
DVIPS_EXTENSIONS = [".eps", ".ps"]
OTHER_EXTENSIONS = [".gif", ".tif", ".tiff", ".bmp", ".epsi", ".epsf"]
SEARCH_EXTENSIONS = (PDFTEX_EXTENSIONS + [e.upper() for e in PDFTEX_EXTENSIONS]
                     + DVIPS_EXTENSIONS + [e.upper() for e in DVIPS_EXTENSIONS]
                     + OTHER_EXTENSIONS + [e.upper() for e in OTHER_EXTENSIONS])
KNOWN_SUFFIXES = {e.lower() for e in SEARCH_EXTENSIONS}


def clean_graphic_name(raw: str) -> str:
    """The file name inside an \\includegraphics argument: braces, quotes and \\detokenize removed."""
    name = raw.strip()
    name = re.sub(r"\\(?:detokenize|string|protect)\s*", "", name)
    name = name.replace("{", "").replace("}", "").strip().strip('"').strip()
    name = name.replace(r"\_", "_").replace("\\space", " ")
    return name


def parse_graphicspath(arg: str) -> list[str]:
    """``{dir1/}{dir2/}`` (or a bare ``dir/``) to a list of directory prefixes."""
    dirs = re.findall(r"\{([^{}]*)\}", arg)
    if not dirs and arg.strip():
        dirs = [arg.strip()]
    return [d.strip().strip('"') for d in dirs if d.strip()]


def resolve_graphic(tree: SourceTree, raw_name: str, main_dir: PurePosixPath,
                    graphicspath: list[str]) -> PurePosixPath | None:
    name = clean_graphic_name(raw_name)
    if not name:
        return None
    prefixes: list[PurePosixPath | str] = [""] + list(graphicspath)
    candidates: list[PurePosixPath] = []
    has_ext = PurePosixPath(name).suffix.lower() in KNOWN_SUFFIXES
    for prefix in prefixes:
        base = normalise(main_dir, prefix, name)
        if base is None:
            continue
        if has_ext:
            candidates.append(base)
        # TeX appends extensions even to a name with a dot in it ("fig.1" -> "fig.1.pdf").
        candidates.extend(base.with_name(base.name + ext) for ext in SEARCH_EXTENSIONS)
        if not has_ext:
            candidates.append(base)
    for ignore_case in (False, True):
        for cand in candidates:
            hit = tree.find(cand, ignore_case=ignore_case)
            if hit is not None and hit.suffix.lower() not in (".tex", ".bib", ".sty", ".cls"):
                return hit
    return _unique_basename(tree, PurePosixPath(name).name, has_ext)


def _unique_basename(tree: SourceTree, name: str, has_ext: bool) -> PurePosixPath | None:
    wanted = {name.lower()} if has_ext else {(name + e).lower() for e in SEARCH_EXTENSIONS}
    hits = [f for f in tree.files if f.name.lower() in wanted]
    if has_ext:
        return hits[0] if len(hits) == 1 else None
    # without an extension, several formats of one figure are fine: take pdfTeX's preferred one
    stems = {str(h.with_suffix("")).lower() for h in hits}
    if len(stems) != 1:
        return None
    order = {e.lower(): i for i, e in enumerate(SEARCH_EXTENSIONS)}
    return min(hits, key=lambda h: order.get(h.suffix.lower(), 99))
