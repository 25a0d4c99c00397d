"""The parts of a LaTeX body that are not running prose: where they are and what kind they are.

A document body is read as prose (paragraphs split at blank lines) interrupted by spans that need their own
treatment: figure and table floats, section headings, lists, the abstract, code and verbatim, the
bibliography, and commands that print front matter or nothing at all (``\\author``, ``\\maketitle``,
definitions). Found by scanning ``\\begin``/``\\end`` and command names, like the figure regions, so that
unbalanced markup in real papers costs one span, not the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sciclip.sources.arxiv.latex_regions import env_spans, figure_regions
from sciclip.text.latex_context import TABLE_ENVS, VERBATIM_ENVS
from sciclip.text.latex_macros import read_group, skip_space

SECTION_LEVELS = ("part", "chapter", "section", "subsection", "subsubsection", "paragraph", "subparagraph")
_SECTION_RE = re.compile(r"\\(" + "|".join(SECTION_LEVELS) + r")\*?(?![A-Za-z@])")
LIST_ENVS = {"itemize", "enumerate", "description", "compactitem", "compactenum", "inparaenum", "asparaenum"}
CODE_ENVS = (VERBATIM_ENVS - {"comment", "filecontents", "filecontents*"}) | {"algorithmic", "algorithmic*", "code"}
DROP_ENVS = {"comment", "filecontents", "filecontents*", "tikzpicture", "pgfpicture", "titlepage", "frontmatter",
             "acronym", "keywords", "keyword", "CCSXML"}
BIB_ENVS = {"thebibliography"}
ABSTRACT_ENVS = {"abstract", "Abstract"}
ALGORITHM_ENVS = {"algorithm", "algorithm*"}
# commands that print front matter (kept apart: the title opens the document) or nothing useful, with the
# number of mandatory arguments to remove with them (optional [..] arguments are removed too)
FRONT_MATTER = {"title": 1, "author": 1, "affiliation": 1, "affil": 1, "email": 1, "thanks": 1, "altaffiliation": 1,
                "altaffilmark": 1, "keywords": 1, "date": 1, "institute": 1, "address": 1, "correspondingauthor": 1,
                "orcid": 1, "received": 1, "accepted": 1, "published": 1, "submitjournal": 1, "shorttitle": 1,
                "shortauthors": 1, "runningtitle": 1, "titlerunning": 1, "authorrunning": 1, "icmltitle": 1,
                "icmlauthor": 2, "icmlaffiliation": 2, "icmlcorrespondingauthor": 2, "icmlkeywords": 1,
                "IEEEauthorblockN": 1, "IEEEauthorblockA": 1, "affiliations": 1, "emails": 1, "name": 1,
                "pacs": 1, "subjclass": 1, "dedicatory": 1, "twocolumn": 0, "onecolumn": 0}
SILENT = {"maketitle": 0, "tableofcontents": 0, "listoffigures": 0, "listoftables": 0, "bibliographystyle": 1,
          "bibliography": 1, "addbibresource": 1, "printbibliography": 0, "newpage": 0, "clearpage": 0,
          "cleardoublepage": 0, "pagebreak": 0, "appendix": 0, "setcounter": 2, "addtocounter": 2, "pagestyle": 1,
          "thispagestyle": 1, "graphicspath": 1, "usepackage": 1, "input": 1, "include": 1, "newenvironment": 3,
          "renewenvironment": 3, "newtheorem": 2, "theoremstyle": 1, "setlength": 2, "addtolength": 2,
          "linenumbers": 0, "nolinenumbers": 0, "IEEEpeerreviewmaketitle": 0, "IEEEoverridecommandlockouts": 0,
          "acknowledgments": 0, "acknowledgements": 0, "listofchanges": 0, "captionsetup": 1, "hypersetup": 1,
          "definecolor": 3, "crefname": 3, "Crefname": 3, "newacronym": 3, "nocite": 1, "vspace": 1, "hspace": 1,
          "fontsize": 2, "selectfont": 0, "rule": 2, "noindent": 0, "centering": 0, "bigskip": 0, "medskip": 0, "smallskip": 0}
_DEF_RE = re.compile(r"\\(?:(?:re)?newcommand|providecommand|DeclareRobustCommand|DeclareMathOperator|[gex]?def|let)"
                     r"(?![A-Za-z@])\*?")
_CS_RE = re.compile(r"\\(?:[A-Za-z@]+|.)", re.S)
_CMD_RE = re.compile(r"\\([A-Za-z@]+)(?![A-Za-z@])\*?")
# TeX primitives taking a dimension, not a group: \vskip-36pt, \hskip 1em plus 2pt, \kern3pt
_DIMEN_RE = re.compile(r"\\(?:vskip|hskip|kern|vspace\*?|hspace\*?)\s*=?\s*-?[\d.]+\s*(?:pt|em|ex|cm|mm|in|bp|sp|pc|dd|mu)"
                       r"(?:\s*(?:plus|minus)\s*-?[\d.]+\s*(?:pt|em|ex|cm|mm|in|bp|sp|pc|dd|mu|fil+))*")
ABSTRACT_CMD = "abstract"  # \abstract{...} (some classes): the abstract as a command


@dataclass
class Span:
    kind: str  # figure | table | algorithm | heading | list | abstract | code | bibliography | drop
    start: int
    end: int
    env: str = ""
    content: str = ""  # the heading's title, the abstract's text, the list's or environment's inside


def skip_args(text: str, pos: int, mandatory: int) -> int:
    """Past a command's arguments: any ``*``, optional ``[..]`` groups and ``mandatory`` braced groups."""
    p = pos
    if text.startswith("*", p):
        p += 1
    taken = 0
    while True:
        q = skip_space(text, p)
        if q < len(text) and text[q] == "[":
            g = read_group(text, q, "[", "]")
            if g is None:
                return p
            p = g[1]
            continue
        if taken < mandatory and q < len(text) and text[q] == "{":
            g = read_group(text, q)
            if g is None:
                return p
            p = g[1]
            taken += 1
            continue
        if taken < mandatory and q < len(text) and text[q] == "\\":  # \author\foo: a one-token argument
            cs = _CS_RE.match(text, q)
            p = cs.end() if cs else q + 1
            taken += 1
            continue
        return p


def last_group(text: str, pos: int) -> str | None:
    """The last braced argument of the command ending its name at ``pos`` (after optional arguments)."""
    p = pos + (1 if text.startswith("*", pos) else 0)
    q = skip_space(text, p)
    while q < len(text) and text[q] == "[":
        g = read_group(text, q, "[", "]")
        if g is None:
            return None
        q = skip_space(text, g[1])
    g = read_group(text, q)
    return g[0] if g else None


def definition_end(text: str, m: re.Match) -> int:
    """End of a \\newcommand/\\def/\\let definition starting with ``m`` (or its start when unreadable)."""
    p = skip_space(text, m.end())
    word = m.group(0).lstrip("\\").rstrip("*")
    if word == "let":
        cs = _CS_RE.match(text, p)
        if not cs:
            return m.end()
        p = skip_space(text, cs.end())
        if text.startswith("=", p):
            p = skip_space(text, p + 1)
        cs = _CS_RE.match(text, p)
        return cs.end() if cs else p + 1
    if word.endswith("def"):
        cs = _CS_RE.match(text, p)
        if not cs:
            return m.end()
        brace = text.find("{", cs.end())
        g = read_group(text, brace) if brace >= 0 and brace - cs.end() < 40 else None
        return g[1] if g else m.end()
    # \newcommand{\name}[n][default]{body} or \newcommand\name...
    if text.startswith("{", p):
        g = read_group(text, p)
        if g is None:
            return m.end()
        p = g[1]
    else:
        cs = _CS_RE.match(text, p)
        if not cs:
            return m.end()
        p = cs.end()
    return skip_args(text, p, 1)


def title_of(text: str) -> str | None:
    """The LaTeX of the document's \\title (or \\icmltitle), if any."""
    for m in re.finditer(r"\\(?:title|icmltitle)(?![A-Za-z@])", text):
        g = last_group(text, m.end())
        if g is not None and g.strip():
            return g
    return None


def _env_kind(name: str) -> str | None:
    if name in LIST_ENVS:
        return "list"
    if name in ABSTRACT_ENVS:
        return "abstract"
    if name in BIB_ENVS:
        return "bibliography"
    if name in CODE_ENVS:
        return "code"
    if name in DROP_ENVS:
        return "drop"
    return None


def _inside(text: str, start: int, end: int) -> str:
    """The contents of an environment span: between ``\\begin{name}[opts]{args}`` and ``\\end{name}``."""
    m = re.match(r"\\begin\s*\{[^{}]*\}", text[start:end])
    inner_start = start + (m.end() if m else 0)
    m_end = re.search(r"\\end\s*\{[^{}]*\}\s*$", text[start:end])
    inner_end = start + m_end.start() if m_end else end
    return text[inner_start:inner_end]


def body_spans(body: str) -> list[Span]:
    """Every non-prose span of ``body``, outermost first-come, sorted and non-overlapping."""
    spans: list[Span] = []
    regions, _ = figure_regions(body)
    for env, s, e in regions:
        if env in ALGORITHM_ENVS:
            kind = "algorithm"
        elif env in TABLE_ENVS:
            kind = "code" if env == "listing" else "table"
        else:
            kind = "figure"
        spans.append(Span(kind, s, e, env))
    for name, s, e in env_spans(body):
        kind = _env_kind(name)
        if kind is not None:
            spans.append(Span(kind, s, e, name, _inside(body, s, e)))
    for m in _SECTION_RE.finditer(body):
        end = skip_args(body, m.end(), 1)
        spans.append(Span("heading", m.start(), end, m.group(1), last_group(body, m.end()) or ""))
    for m in _DIMEN_RE.finditer(body):
        spans.append(Span("drop", m.start(), m.end()))
    for m in _DEF_RE.finditer(body):
        spans.append(Span("drop", m.start(), definition_end(body, m)))
    for m in _CMD_RE.finditer(body):
        name = m.group(1)
        if name in FRONT_MATTER or name in SILENT:
            nargs = FRONT_MATTER.get(name, SILENT.get(name, 0))
            spans.append(Span("drop", m.start(), skip_args(body, m.end(), nargs), name))
        elif name == ABSTRACT_CMD:
            g = last_group(body, m.end())
            if g is not None:
                spans.append(Span("abstract", m.start(), skip_args(body, m.end(), 1), name, g))
    return _outermost(spans)


_PRIORITY = {"figure": 0, "table": 0, "algorithm": 0, "code": 1, "bibliography": 1, "abstract": 2, "list": 3,
             "heading": 4, "drop": 5}
FLOATS = ("figure", "table", "algorithm")
_ENV_MARK_RE = re.compile(r"\\(?:begin|end)\s*\{[^{}]*\}")


def _outermost(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans: floats first (a figure inside a list item is still a figure), then the rest,
    each kept unless inside an earlier-kept one; a list or abstract holding a float is cut around it."""
    floats = _first_come([s for s in spans if s.kind in FLOATS])
    rest: list[Span] = []
    for s in spans:
        if s.kind in FLOATS:
            continue
        inner = [f for f in floats if s.start <= f.start and f.end <= s.end]
        if inner and s.kind in ("list", "abstract"):
            rest += _cut(s, inner)
        elif not any(f.start < s.end and s.start < f.end for f in floats):
            rest.append(s)
    return _first_come(floats + rest)


def _cut(span: Span, holes: list[Span]) -> list[Span]:
    pieces, pos = [], span.start
    for h in sorted(holes, key=lambda x: x.start):
        pieces.append((pos, h.start))
        pos = h.end
    pieces.append((pos, span.end))
    return [Span(span.kind, a, b, span.env, span.content if (a, b) == (span.start, span.end) else "")
            for a, b in pieces if b > a]


def piece_content(body: str, span: Span) -> str:
    """A span's inside; for a piece of a list or abstract cut around a float, its text without markers."""
    return span.content or _ENV_MARK_RE.sub(" ", body[span.start:span.end])


def _first_come(spans: list[Span]) -> list[Span]:
    spans.sort(key=lambda s: (s.start, -(s.end - s.start), _PRIORITY[s.kind]))
    out: list[Span] = []
    for s in spans:
        if out and s.start < out[-1].end:
            continue
        out.append(s)
    return out
