"""A paper's source tree as TeX sees it: decoded files, main files, and \\input/\\include inlined.

The seed parsed every .tex file on its own, so figures in sections pulled in with \\input lost the
paper's macros and \\graphicspath, and commented-out figures were extracted. Here every main file
becomes one flat text, comments and disabled blocks removed, the way the TeX run saw it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sciclip.sources.arxiv.readme00 import Readme00, read_readme00
from sciclip.sources.arxiv.tex_conditionals import resolve_conditionals

TEX_SUFFIXES = (".tex", ".ltx", ".latex", ".tex_", "")
MAX_INLINE_DEPTH = 16


def decode_tex(data: bytes) -> str:
    """Sources are mostly UTF-8 or Latin-1 and say so unreliably: valid UTF-8 is almost never Latin-1
    text by accident, so try it strictly first; cp1252 covers the Windows quotes Latin-1 lacks."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_COMMENT_RE = re.compile(r"(?<!\\)((?:\\\\)*)%[^\n]*(?:\n[ \t]*)?")


def strip_comments(text: str) -> str:
    """Drop ``%`` comments like TeX does: the comment, its end of line and the next line's indentation.

    A comment line followed by a blank line still leaves the paragraph break.
    """
    return _COMMENT_RE.sub(lambda m: m.group(1), text)


def clean_tex(text: str, engine: str = "pdftex") -> str:
    """Source as TeX reads it: comments dropped, engine conditionals and \\iffalse blocks resolved."""
    return resolve_conditionals(strip_comments(text), engine)


@dataclass
class SourceTree:
    """The files of one paper, extracted below ``root`` (already checked to be safe)."""

    root: Path
    files: list[PurePosixPath]
    _lower: dict[str, list[PurePosixPath]] = field(default_factory=dict, repr=False)
    _cache: dict[PurePosixPath, str] = field(default_factory=dict, repr=False)
    _readme: Readme00 | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._set = set(self.files)
        for f in self.files:
            self._lower.setdefault(str(f).lower(), []).append(f)

    def exists(self, rel: PurePosixPath) -> bool:
        return rel in self._set

    def find(self, rel: PurePosixPath, ignore_case: bool = False) -> PurePosixPath | None:
        if rel in self._set:
            return rel
        if ignore_case:
            hits = self._lower.get(str(rel).lower())
            if hits and len(hits) == 1:
                return hits[0]
        return None

    def path(self, rel: PurePosixPath) -> Path:
        return self.root.joinpath(*rel.parts)

    def read_bytes(self, rel: PurePosixPath) -> bytes:
        return self.path(rel).read_bytes()

    @property
    def readme(self) -> Readme00:
        """The submitter's 00README directives (none if there is no 00README)."""
        if self._readme is None:
            self._readme = read_readme00(self.files, self.read_bytes)
        return self._readme

    def text(self, rel: PurePosixPath) -> str:
        """Decoded source as the 00README's engine (pdfLaTeX by default) reads it: comments removed,
        conditionals resolved (cached: sections are inlined often)."""
        if rel not in self._cache:
            self._cache[rel] = clean_tex(decode_tex(self.read_bytes(rel)), self.readme.engine)
        return self._cache[rel]

    def tex_files(self) -> list[PurePosixPath]:
        return [f for f in self.files if f.suffix.lower() in TEX_SUFFIXES and not _looks_binary_name(f)]


def _looks_binary_name(rel: PurePosixPath) -> bool:
    return rel.suffix == "" and rel.name.lower() in ("makefile", "readme", "license", "copying")


_DOCCLASS_RE = re.compile(r"\\document(class|style)\s*(\[[^\]]*\]\s*)?\{")
_INPUT_RE = re.compile(
    r"\\(?:(?P<cmd>input|include|subfile|subfileinclude)(?![A-Za-z@])"
    r"|(?P<icmd>import|subimport|inputfrom|includefrom|subinputfrom|subincludefrom)\*?\s*\{(?P<dir>[^{}]*)\})"
    r"\s*(?:\{(?P<braced>[^{}]*)\}|(?P<bare>[^\s{}\\%]+))")


def find_main_files(tree: SourceTree) -> list[PurePosixPath]:
    """Files that start a LaTeX run, chosen as arXiv's compiler chooses them.

    The 00README's top-level files when it names any. Otherwise files with \\documentclass (or LaTeX
    2.09's \\documentstyle) that the 00README does not ignore and that no other such file pulls in
    (standalone/subfiles children); of these only the ones nearest the root, so that stale copies kept
    in a subfolder (``old/paper-v9.tex``) do not add outdated captions. Two mains side by side (paper
    and supplement) both count.
    """
    readme = tree.readme
    named = [hit for hit in (_find_named(tree, n) for n in readme.toplevel) if hit is not None]
    if named:
        return list(dict.fromkeys(named))
    ignored = {p for p in (normalise(n) for n in readme.ignore) if p is not None}
    candidates = []
    for rel in tree.tex_files():
        if rel in ignored or any(part.startswith(".") or part == "__MACOSX" for part in rel.parts):
            continue
        try:
            text = tree.text(rel)
        except OSError:
            continue
        if _DOCCLASS_RE.search(text):
            candidates.append(rel)
    included: set[PurePosixPath] = set()
    for rel in candidates:
        for child in _referenced_inputs(tree, rel, tree.text(rel)):
            if child != rel:
                included.add(child)
    mains = [c for c in candidates if c not in included]
    if not mains:
        return []
    top = min(len(c.parts) for c in mains)
    return sorted(c for c in mains if len(c.parts) == top)


def _find_named(tree: SourceTree, name: str) -> PurePosixPath | None:
    rel = normalise(name)
    return None if rel is None else tree.find(rel) or tree.find(rel, ignore_case=True)


def _referenced_inputs(tree: SourceTree, including: PurePosixPath, text: str) -> list[PurePosixPath]:
    found = []
    for m in _INPUT_RE.finditer(text):
        target = resolve_input(tree, m, including)
        if target is not None:
            found.append(target)
    return found


_IMPORT_CMDS = ("import", "inputfrom", "includefrom")  # the others (sub...) extend the current import path


def import_path(m: re.Match, current: str) -> str | None:
    """The import package's ``\\import@path`` while the file of an \\import-like match is read (None for
    \\input and friends): \\import's path is from the working directory, \\subimport's extends the current one;
    import.sty 6 ensures the trailing slash. The starred forms are the same since 6.0."""
    icmd = m.group("icmd")
    if icmd is None:
        return None
    given = m.group("dir").strip().strip('"').replace("\\", "/")
    if given and not given.endswith("/"):
        given += "/"
    return given if icmd in _IMPORT_CMDS else current + given


def resolve_input(tree: SourceTree, m: re.Match, including: PurePosixPath,
                  main_dir: PurePosixPath | None = None, imports: tuple[str, ...] = (),
                  current_import: str = "") -> PurePosixPath | None:
    """The file an \\input/\\include/\\subfile/\\import match reads.

    ``imports``: the import directories in effect (innermost first, relative to ``main_dir``); inside an
    import, import.sty looks there before the working directory, as it does for the imported file itself.
    """
    name = (m.group("braced") if m.group("braced") is not None else m.group("bare") or "").strip().strip('"')
    if not name:
        return None
    imported = import_path(m, current_import)
    cands: list[PurePosixPath] = []
    if main_dir is not None:
        if imported is not None:
            cands += _input_candidates(main_dir, imported, name)
        else:
            for d in imports:
                cands += _input_candidates(main_dir, d, name)
            cands += _input_candidates(main_dir, "", name)  # TeX resolves relative to the directory it runs in
    # \import and sloppy authors: relative to the including file
    cands += _input_candidates(including.parent, (m.group("dir") or "").strip(), name)
    for cand in cands:
        hit = tree.find(cand) or tree.find(cand, ignore_case=True)
        if hit is not None:
            return hit
    return None


def _input_candidates(base: PurePosixPath, sub: str, name: str) -> list[PurePosixPath]:
    joined = normalise(base, sub, name)
    if joined is None:
        return []
    cands = [joined]
    if joined.suffix.lower() not in (".tex", ".ltx"):
        cands.insert(0, joined.with_name(joined.name + ".tex"))
    return cands


def normalise(*pieces: PurePosixPath | str) -> PurePosixPath | None:
    """Join path pieces and fold '.'/'..' without touching the disk; None when it climbs above the root."""
    parts: list[str] = []
    for piece in pieces:
        for p in str(piece).replace("\\", "/").split("/"):
            if p in ("", "."):
                continue
            if p == "..":
                if not parts:
                    return None
                parts.pop()
            else:
                parts.append(p)
    return PurePosixPath(*parts) if parts else None


# Where an imported file's text starts (with the import directory) and ends, in inline_inputs' output: graphics
# resolution needs them (``graphics_paths.graphics_search_events``); figures_in_text blanks them out.
IMPORT_MARK_RE = re.compile(r"\\sciclipimport(?:\{([^{}]*)\}|end(?![A-Za-z@]))")


def import_marks(directory: str, body: str) -> str:
    return f"\\sciclipimport{{{directory}}}{body}\\sciclipimportend"


def blank_import_marks(text: str) -> str:
    """``text`` with the import marks replaced by as many spaces (positions into it stay valid)."""
    return IMPORT_MARK_RE.sub(lambda m: " " * len(m.group(0)), text)


def inline_inputs(tree: SourceTree, main: PurePosixPath, max_chars: int = 20_000_000) -> str:
    """The main file with every resolvable \\input/\\include/\\subfile/\\import replaced by the file's text.

    Unresolvable ones (packages such as epsf.tex, files the author did not ship) stay as written.
    Cycles and depth are capped. An imported file's text is wrapped in import marks naming its import
    directory (relative to the main file's), so that its graphics are looked for there.
    """
    main_dir = main.parent
    total = 0

    def expand(rel: PurePosixPath, depth: int, stack: tuple[PurePosixPath, ...], imports: tuple[str, ...],
               current: str) -> str:
        nonlocal total
        text = tree.text(rel)
        total += len(text)
        if total > max_chars:
            return ""
        if depth >= MAX_INLINE_DEPTH:
            return text

        def repl(m: re.Match) -> str:
            target = resolve_input(tree, m, rel, main_dir, imports, current)
            if target is None or target in stack or target.suffix.lower() in (".bbl", ".sty", ".cls"):
                return m.group(0) if target is None else ""
            if _is_graphic_name(target):
                return m.group(0)
            path = import_path(m, current)
            if path is None:
                body = expand(target, depth + 1, stack + (target,), imports, current)
            else:
                body = import_marks(path, expand(target, depth + 1, stack + (target,), (path,) + imports, path))
            if "include" in (m.group("cmd") or m.group("icmd")):
                return "\n" + body + "\n"
            return body

        return _INPUT_RE.sub(repl, text)

    return expand(main, 0, (main,), (), "")


def _is_graphic_name(rel: PurePosixPath) -> bool:
    # an Inkscape ``.pdf_tex`` is TeX (a picture placing its .pdf and the labels): read like any input
    return rel.suffix.lower() in (".pdf", ".png", ".jpg", ".jpeg", ".eps", ".ps", ".gif")


def document_body(text: str) -> tuple[str, str]:
    """(preamble, body) split at \\begin{document}; a file without one is all body."""
    m = re.search(r"\\begin\s*\{document\}", text)
    if not m:
        return "", text
    end = re.search(r"\\end\s*\{document\}", text[m.end():])
    body = text[m.end(): m.end() + end.start()] if end else text[m.end():]
    return text[: m.start()], body
