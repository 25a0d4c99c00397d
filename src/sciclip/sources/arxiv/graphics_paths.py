"""Finding the file behind ``\\includegraphics{name}`` the way pdfLaTeX does, then a little more leniently.

graphics.sty tries, for a name without a known extension, each extension of the list in effect in turn
(``graphics_extensions``), and for each one every directory: the main file's directory (TeX's working
directory), then each ``\\graphicspath`` prefix. So ``figs/x.pdf`` beats ``x.png`` when ``.pdf`` comes first
in the list, whatever the directory order. Inside a file read with the import package's ``\\import`` (or
``\\subimport``, ``\\inputfrom``, ...) the import directories come first, before the graphics path, and the
working directory last (import.sty 6.x's ``\\im@iffileexists``). latex+dvips papers use .eps/.ps. After
what TeX would find: the other known extensions, a case-insensitive second try (papers written on
case-insensitive file systems), and as a last resort a file with the same (unique) name anywhere in the tree.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from sciclip.sources.arxiv.graphics_extensions import PDFTEX_2017, apply_changes, driver_extensions
from sciclip.sources.arxiv.tex_source import IMPORT_MARK_RE, SourceTree, normalise
from sciclip.text.latex_macros import read_group

if TYPE_CHECKING:
    from sciclip.sources.arxiv.latex_figures import FigureCandidate

DVIPS_EXTENSIONS = [".eps", ".ps"]
OTHER_EXTENSIONS = [".gif", ".tif", ".tiff", ".bmp", ".epsi", ".epsf"]
_PDFTEX = [e for e in PDFTEX_2017 if e.islower()]
SEARCH_EXTENSIONS = (_PDFTEX + [e.upper() for e in _PDFTEX]
                     + DVIPS_EXTENSIONS + [e.upper() for e in DVIPS_EXTENSIONS]
                     + OTHER_EXTENSIONS + [e.upper() for e in OTHER_EXTENSIONS])
KNOWN_SUFFIXES = {e.lower() for e in SEARCH_EXTENSIONS}
_NOT_GRAPHICS = (".tex", ".bib", ".sty", ".cls")


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


def search_order(extensions: tuple[str, ...] | list[str] | None) -> list[str]:
    """``extensions`` (the list in effect; None: pdfLaTeX's current one) then every other known extension."""
    first = list(PDFTEX_2017 if extensions is None else extensions)
    return first + [e for e in SEARCH_EXTENSIONS if e not in first]


def resolve_graphic(tree: SourceTree, raw_name: str, main_dir: PurePosixPath, graphicspath: list[str],
                    extensions: tuple[str, ...] | list[str] | None = None,
                    imported: bool = False) -> PurePosixPath | None:
    """The file ``raw_name`` names. ``graphicspath``: the directories graphics searches besides the working
    directory (the import directories first when ``imported``, then ``\\graphicspath``'s)."""
    name = clean_graphic_name(raw_name)
    if not name:
        return None
    prefixes: list[str] = list(graphicspath) + [""] if imported else [""] + list(graphicspath)
    bases = [b for b in (normalise(main_dir, prefix, name) for prefix in prefixes) if b is not None]
    has_ext = PurePosixPath(name).suffix.lower() in KNOWN_SUFFIXES
    candidates: list[PurePosixPath] = list(bases) if has_ext else []
    # extension-major, as graphics.sty loops; TeX appends extensions even to a dotted name ("fig.1.pdf")
    candidates += [b.with_name(b.name + ext) for ext in search_order(extensions) for b in bases]
    if not has_ext:
        candidates += bases
    for ignore_case in (False, True):
        for cand in candidates:
            hit = tree.find(cand, ignore_case=ignore_case)
            if hit is not None and hit.suffix.lower() not in _NOT_GRAPHICS:
                return hit
    return _unique_basename(tree, PurePosixPath(name).name, has_ext, search_order(extensions))


def figure_graphic(tree: SourceTree, cand: FigureCandidate, main_dir: PurePosixPath,
                   yymm: str = "") -> PurePosixPath | None:
    """The file behind a figure candidate's graphic: the driver's extension order for the paper's engine
    and month, changed as the paper changed it where the graphic stands."""
    exts = apply_changes(driver_extensions(tree.readme.engine, yymm), cand.extension_changes)
    return resolve_graphic(tree, cand.image_ref, main_dir, cand.graphicspath, exts, cand.imported)


def _unique_basename(tree: SourceTree, name: str, has_ext: bool, order: list[str]) -> PurePosixPath | None:
    wanted = {name.lower()} if has_ext else {(name + e).lower() for e in SEARCH_EXTENSIONS}
    hits = [f for f in tree.files if f.name.lower() in wanted]
    if has_ext:
        return hits[0] if len(hits) == 1 else None
    # without an extension, several formats of one figure are fine: take the one TeX would
    stems = {str(h.with_suffix("")).lower() for h in hits}
    if len(stems) != 1:
        return None
    rank = {}
    for i, e in enumerate(order):
        rank.setdefault(e.lower(), i)
    return min(hits, key=lambda h: rank.get(h.suffix.lower(), len(order)))


SearchEvent = tuple[int, str, list[str]]  # (position, path | push | pop, directories)


def graphics_search_at(events: list[SearchEvent], pos: int, start: list[str]) -> tuple[list[str], bool]:
    """(directories graphics searches besides the working directory, inside an import?) at ``pos``.

    ``\\graphicspath`` replaces the list; an import prepends its directory and, when it ends, restores the
    list from before it (import.sty saves and restores ``\\Ginput@path``), so a ``\\graphicspath`` set in an
    imported file ends with it.
    """
    current, saved = list(start), []
    for at, kind, dirs in events:
        if at > pos:
            break
        if kind == "path":
            current = dirs
        elif kind == "push":
            saved.append(current)
            current = dirs + current
        elif saved:
            current = saved.pop()
    return current, bool(saved)


def graphics_search_events(text: str) -> list[SearchEvent]:
    """``\\graphicspath`` settings and import starts/ends (``inline_inputs``' marks) in ``text``, in order."""
    events: list[SearchEvent] = []
    for m in re.finditer(r"\\graphicspath\s*\{", text):
        g = read_group(text, m.end() - 1)
        if g:
            events.append((m.start(), "path", parse_graphicspath(g[0])))
    for m in IMPORT_MARK_RE.finditer(text):
        events.append((m.start(), "push", [m.group(1)]) if m.group(1) is not None else (m.start(), "pop", []))
    events.sort(key=lambda e: e[0])
    return events
