"""TeX conditionals whose value is known without running TeX, resolved the way arXiv's TeX run takes them.

Papers switch on the engine: ``\\ifpdf \\graphicspath{{Raster/}} \\else \\graphicspath{{Vector/}} \\fi``
(the ifpdf/iftex packages, the ``\\ifx\\pdfoutput\\undefined`` idiom), and disable drafts with
``\\iffalse``. Keeping both branches put the wrong \\graphicspath last and every figure of a thesis was
lost; so the branch the engine takes is kept and the other dropped. arXiv compiles with pdfLaTeX unless
its 00README says otherwise. Conditionals we cannot evaluate (``\\ifdim``, a paper's own ``\\newif``)
stay as written, with both branches, but are tracked so that each ``\\else``/``\\fi`` closes the right one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PDFTEX = {"ifpdf": True, "ifPDFTeX": True, "ifpdftex": True, "ifxetex": False, "ifXeTeX": False,
           "ifluatex": False, "ifLuaTeX": False, "ifLuaHBTeX": False, "ifluahbtex": False, "iftutex": False,
           "ifTUTeX": False, "ifetex": True, "ifeTeX": True, "ifvtex": False, "ifVTeX": False, "ifptex": False,
           "ifpTeX": False, "ifuptex": False, "ifupTeX": False, "ifalephtex": False, "ifAlephTeX": False,
           "ifCLASSINFOpdf": True}
# Named conditionals per engine (iftex, ifpdf, ifxetex, ifluatex packages; IEEEtran's \ifCLASSINFOpdf);
# "latex" is pdfTeX writing DVI.
ENGINE_CONDITIONALS: dict[str, dict[str, bool]] = {
    "pdftex": _PDFTEX,
    "latex": {**_PDFTEX, "ifpdf": False, "ifCLASSINFOpdf": False},
    "xetex": {**_PDFTEX, "ifpdf": False, "ifPDFTeX": False, "ifpdftex": False, "ifxetex": True, "ifXeTeX": True,
              "iftutex": True, "ifTUTeX": True, "ifCLASSINFOpdf": False},
    "luatex": {**_PDFTEX, "ifPDFTeX": False, "ifpdftex": False, "ifluatex": True, "ifLuaTeX": True,
               "iftutex": True, "ifTUTeX": True},
}
# Engine primitives, for \ifx\cs\undefined and \ifdefined\cs.
ENGINE_PRIMITIVES: dict[str, set[str]] = {
    "pdftex": {"pdfoutput", "pdftexversion", "pdftexrevision", "pdfstrcmp"},
    "latex": {"pdfoutput", "pdftexversion", "pdftexrevision", "pdfstrcmp"},
    "xetex": {"XeTeXversion", "XeTeXrevision"},
    "luatex": {"directlua", "luatexversion", "pdfoutput"},
}
_ALWAYS = {"iftrue": True, "iffalse": False, "if0": False}
# \if... names that are macros with arguments (etoolbox, ifthen), not conditionals closed by \fi.
_NOT_CONDITIONALS = {
    "ifthenelse", "ifdef", "ifundef", "ifcsdef", "ifcsundef", "ifdefmacro", "ifcsmacro", "ifdefempty", "ifcsempty",
    "ifdefvoid", "ifcsvoid", "ifdefequal", "ifcsequal", "ifdefstring", "ifcsstring", "ifdefstrequal",
    "ifcsstrequal", "ifbool", "ifboolexpr", "ifboolexpe", "iftoggle", "ifnumcomp", "ifnumequal", "ifnumgreater",
    "ifnumless", "ifnumodd", "ifdimcomp", "ifdimequal", "ifdimgreater", "ifdimless", "ifstrequal", "ifstrempty",
    "ifblank", "ifinlist", "ifinlistcs", "ifrmnum", "ifdefparam", "ifdefprefix", "ifdefprotected",
    "ifdefltxprotect", "ifdefcounter", "ifdeflength", "ifdefdimen", "ifltxcounter", "ifpatchable", "iffileexists",
}

_TOKEN_RE = re.compile(
    r"\\begin\s*\{comment\}"
    r"|(?P<unless>\\unless\s*)?\\(?P<if>if0(?![0-9])|if[A-Za-z@]*)(?![A-Za-z@])"
    r"|\\(?P<end>fi|else)(?![A-Za-z@])")
_END_COMMENT_RE = re.compile(r"\\end\s*\{comment\}")
_IFX_UNDEFINED_RE = re.compile(r"\s*\\([A-Za-z@]+)\s*\\@?undefined(?![A-Za-z@])")
_IFDEFINED_RE = re.compile(r"\s*\\([A-Za-z@]+)(?![A-Za-z@])")
# \newif\ifdraft, \let\ifdraft\iftrue, \def\ifdraft: names being defined, not tested
_DEFINITION_SITE_RE = re.compile(r"(?:\\(?:newif|[gex]?def|let|(?:re)?newcommand\*?\s*\{?|providecommand\*?\s*\{?)"
                                 r"|\\let\s*\\[A-Za-z@]+\s*=?)\s*$")


@dataclass
class _Frame:
    start: int
    value: bool | None  # None: not known, kept as written
    outer_live: bool


def _evaluate(text: str, m: re.Match, engine: str) -> tuple[bool | None, int]:
    """Value of the conditional at ``m`` for ``engine`` (None if unknown) and where its test ends."""
    name = m.group("if")
    end = m.end()
    value: bool | None = _ALWAYS.get(name)
    if value is None:
        value = ENGINE_CONDITIONALS[engine].get(name)
    if value is None and name in ("ifx", "ifdefined"):
        t = (_IFX_UNDEFINED_RE if name == "ifx" else _IFDEFINED_RE).match(text, end)
        if t and any(t.group(1) in prims for prims in ENGINE_PRIMITIVES.values()):
            defined = t.group(1) in ENGINE_PRIMITIVES[engine]
            value, end = (not defined if name == "ifx" else defined), t.end()
    if value is not None and m.group("unless"):
        value = not value
    return value, end


def _is_conditional(text: str, m: re.Match) -> bool:
    name = m.group("if")
    if name in _NOT_CONDITIONALS or (name not in _ALWAYS and re.match(r"\s*\{", text[m.end():m.end() + 40])):
        return False  # \\ifthenelse{..}{..}{..} and friends take arguments and have no \\fi
    return not _DEFINITION_SITE_RE.search(text, max(0, m.start() - 48), m.start())


def _resolve(text: str, engine: str, distrust: set[int]) -> tuple[str, set[int]]:
    out: list[str] = []
    pos = 0  # start of text not yet copied (or skipped)
    live = True
    stack: list[_Frame] = []
    i = 0
    while (m := _TOKEN_RE.search(text, i)) is not None:
        i = m.end()
        if m.group(0).startswith("\\begin"):
            if live:  # a comment environment TeX reads is dropped whole
                out.append(text[pos:m.start()])
                end = _END_COMMENT_RE.search(text, m.end())
                pos = i = end.end() if end else len(text)
            continue
        if m.group("if"):
            if not _is_conditional(text, m):
                continue
            value, test_end = _evaluate(text, m, engine)
            if m.start() in distrust:
                value = None
            stack.append(_Frame(m.start(), value, live))
            if value is not None:
                if live:
                    out.append(text[pos:m.start()])
                pos = i = test_end
                live = live and value
            continue
        if not stack:
            continue  # a stray \else/\fi (or one of a conditional opened in another file)
        top = stack[-1]
        if m.group("end") == "fi":
            stack.pop()
        if top.value is None:
            continue
        if live:
            out.append(text[pos:m.start()])
        pos = m.end()
        live = top.outer_live and (m.group("end") == "fi" or not top.value)
    if live:
        out.append(text[pos:])
    return "".join(out), {f.start for f in stack if f.value is not None}


def resolve_conditionals(text: str, engine: str = "pdftex") -> str:
    """``text`` with known conditionals replaced by the branch ``engine`` takes and ``comment``
    environments removed.

    A known conditional left open at the end means we misread the nesting (a macro named like a
    conditional, say); rather than lose the rest of the file it is then kept as written.
    """
    if engine not in ENGINE_CONDITIONALS:
        engine = "pdftex"
    distrust: set[int] = set()
    for _ in range(4):
        out, unclosed = _resolve(text, engine, distrust)
        if not unclosed - distrust:
            return out
        distrust |= unclosed
    return out
