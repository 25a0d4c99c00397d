"""A paper's source tree as TeX sees it: decoded files, main files, and \\input/\\include inlined.

The seed parsed every .tex file on its own, so figures in sections pulled in with \\input lost the
paper's macros and \\graphicspath, and commented-out figures were extracted. Here every main file
becomes one flat text, comments and disabled blocks removed, the way the TeX run saw it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

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


_BLOCK_RE = re.compile(r"\\(iffalse|if0|begin\s*\{comment\})|\\(fi|else)(?![A-Za-z@])|\\end\s*\{comment\}|"
                       r"\\(if[A-Za-z@]*)(?![A-Za-z@])")


def remove_disabled_blocks(text: str) -> str:
    """Remove ``\\iffalse ... \\fi`` (keeping an ``\\else`` branch) and ``comment`` environments.

    Nested \\if...\\fi inside a disabled block are counted so the right \\fi closes it.
    """
    out: list[str] = []
    pos = 0
    i = 0
    while True:
        m = _BLOCK_RE.search(text, i)
        if m is None:
            break
        opener = m.group(1)
        if not opener:
            i = m.end()
            continue
        if opener.startswith("begin"):
            end = re.compile(r"\\end\s*\{comment\}").search(text, m.end())
            stop = end.end() if end else len(text)
            out.append(text[pos:m.start()])
            pos = i = stop
            continue
        # \iffalse / \if0: skip to the matching \fi, or resume after a top-level \else
        depth = 0
        j = m.end()
        resume = None
        while True:
            n = _BLOCK_RE.search(text, j)
            if n is None:
                resume = len(text)
                break
            j = n.end()
            if n.group(1) in ("iffalse", "if0") or n.group(3):
                depth += 1
            elif n.group(2) == "else" and depth == 0:
                # the \else branch is live: keep it, and drop the closing \fi later
                out.append(text[pos:m.start()])
                fi = _matching_fi(text, j)
                out.append(text[j:fi[0]])
                pos = i = fi[1]
                resume = -1
                break
            elif n.group(2) == "fi":
                if depth == 0:
                    resume = j
                    break
                depth -= 1
        if resume == -1:
            continue
        out.append(text[pos:m.start()])
        pos = i = resume
    out.append(text[pos:])
    return "".join(out)


def _matching_fi(text: str, start: int) -> tuple[int, int]:
    depth = 0
    for n in _BLOCK_RE.finditer(text, start):
        if n.group(1) in ("iffalse", "if0") or n.group(3):
            depth += 1
        elif n.group(2) == "fi":
            if depth == 0:
                return n.start(), n.end()
            depth -= 1
    return len(text), len(text)


def clean_tex(text: str) -> str:
    return remove_disabled_blocks(strip_comments(text))


@dataclass
class SourceTree:
    """The files of one paper, extracted below ``root`` (already checked to be safe)."""

    root: Path
    files: list[PurePosixPath]
    _lower: dict[str, list[PurePosixPath]] = field(default_factory=dict, repr=False)
    _cache: dict[PurePosixPath, str] = field(default_factory=dict, repr=False)

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

    def text(self, rel: PurePosixPath) -> str:
        """Decoded source with comments and disabled blocks removed (cached: sections are inlined often)."""
        if rel not in self._cache:
            self._cache[rel] = clean_tex(decode_tex(self.read_bytes(rel)))
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
    """Files that start a LaTeX run: they contain \\documentclass (or LaTeX 2.09's \\documentstyle) and
    are not themselves pulled in by another main file (standalone/subfiles children)."""
    candidates = []
    for rel in tree.tex_files():
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
    return sorted(c for c in candidates if c not in included)


def _referenced_inputs(tree: SourceTree, including: PurePosixPath, text: str) -> list[PurePosixPath]:
    found = []
    for m in _INPUT_RE.finditer(text):
        target = resolve_input(tree, m, including)
        if target is not None:
            found.append(target)
    return found


def resolve_input(tree: SourceTree, m: re.Match, including: PurePosixPath,
                  main_dir: PurePosixPath | None = None) -> PurePosixPath | None:
    name = (m.group("braced") if m.group("braced") is not None else m.group("bare") or "").strip().strip('"')
    if not name:
        return None
    sub = (m.group("dir") or "").strip()
    bases = []
    if main_dir is not None:
        bases.append(main_dir)  # TeX resolves relative to the directory it runs in
    bases.append(including.parent)  # \import and sloppy authors: relative to the including file
    for base in bases:
        for cand in _input_candidates(base, sub, name):
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


def inline_inputs(tree: SourceTree, main: PurePosixPath, max_chars: int = 20_000_000) -> str:
    """The main file with every resolvable \\input/\\include/\\subfile replaced by the file's text.

    Unresolvable ones (packages such as epsf.tex, files the author did not ship) stay as written.
    Cycles and depth are capped.
    """
    main_dir = main.parent
    total = 0

    def expand(rel: PurePosixPath, depth: int, stack: tuple[PurePosixPath, ...]) -> str:
        nonlocal total
        text = tree.text(rel)
        total += len(text)
        if total > max_chars:
            return ""
        if depth >= MAX_INLINE_DEPTH:
            return text

        def repl(m: re.Match) -> str:
            target = resolve_input(tree, m, rel, main_dir)
            if target is None or target in stack or target.suffix.lower() in (".bbl", ".sty", ".cls"):
                return m.group(0) if target is None else ""
            if _is_graphic_name(target):
                return m.group(0)
            body = expand(target, depth + 1, stack + (target,))
            if "include" in (m.group("cmd") or m.group("icmd")):
                return "\n" + body + "\n"
            return body

        return _INPUT_RE.sub(repl, text)

    return expand(main, 0, (main,))


def _is_graphic_name(rel: PurePosixPath) -> bool:
    return rel.suffix.lower() in (".pdf", ".png", ".jpg", ".jpeg", ".eps", ".ps", ".gif", ".pdf_tex")


def document_body(text: str) -> tuple[str, str]:
    """(preamble, body) split at \\begin{document}; a file without one is all body."""
    m = re.search(r"\\begin\s*\{document\}", text)
    if not m:
        return "", text
    end = re.search(r"\\end\s*\{document\}", text[m.end():])
    body = text[m.end(): m.end() + end.start()] if end else text[m.end():]
    return text[: m.start()], body
