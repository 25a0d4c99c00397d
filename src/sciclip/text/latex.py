"""Caption LaTeX to the plain text a CLIP model trains on.

pylatexenc does the conversion (math to unicode where it can, accents, dashes, quotes); we add the
paper's own macros first and the conventions of the paper we follow: ``\\ref`` -> ``<ref>``,
``\\cite`` -> ``<cit.>``, labels and footnotes dropped, URLs kept as text, whitespace normalised.
"""

from __future__ import annotations

import re

from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec
from pylatexenc.latex2text import get_default_latex_context_db as _l2t_db
from pylatexenc.latexwalker import LatexWalker
from pylatexenc.macrospec import std_macro

from sciclip.text.captions import normalise_space
from sciclip.text.latex_context import context_db
from sciclip.text.latex_macros import Macro, expand_macros, resolve_xspace

REF_MACROS = ["ref", "cref", "Cref", "autoref", "pageref", "vref", "nameref", "subref", "Vref",
              "cpageref", "crefrange", "Crefrange"]
CITE_MACROS = ["cite", "citep", "citet", "citealp", "citealt", "citeauthor", "citeyear", "citeyearpar", "Cite",
               "Citep", "Citet", "parencite", "textcite", "autocite", "footcite", "citenum", "nocite",
               "citetext", "Citeauthor", "citeN", "shortcite", "onlinecite"]
DROP_MACROS = ["label", "footnote", "footnotemark", "footnotetext", "protect", "xspace", "index", "hypertarget",
               "vspace", "hspace", "phantom", "hphantom", "vphantom", "newline", "linebreak", "captionsetup",
               "centering", "raggedright", "noindent", "tnote"]


def _last_arg_text(node, l2tobj) -> str:
    args = node.nodeargd.argnlist if node.nodeargd else []
    args = [a for a in args if a is not None]
    return l2tobj.nodelist_to_text([args[-1]]) if args else ""


def _all_args_text(node, l2tobj) -> str:
    args = node.nodeargd.argnlist if node.nodeargd else []
    return " ".join(l2tobj.nodelist_to_text([a]) for a in args if a is not None)


def _converter() -> tuple[LatexNodes2Text, object]:
    walker_db = context_db()
    walker_db.add_context_category("sciclip-captions", prepend=True, macros=[
        std_macro(n, "*[[{") for n in CITE_MACROS] + [
        std_macro(n, "*{") for n in REF_MACROS + ["eqref"]] + [
        std_macro("href", "[{{"), std_macro("url", "{"), std_macro("num", "[{"), std_macro("SI", "[{[{"),
        std_macro("si", "[{"), std_macro("qty", "[{{"), std_macro("unit", "[{"), std_macro("ang", "[{"),
        std_macro("footnote", "[{"), std_macro("textsuperscript", "{"), std_macro("textsubscript", "{"),
        std_macro("ensuremath", "{"), std_macro("texorpdfstring", "{{"), std_macro("tnote", "{"),
        std_macro("footnotetext", "[{"), std_macro("index", "{"), std_macro("color", "[{"),
        std_macro("textcolor", "[{{"), std_macro("colorbox", "[{{"), std_macro("underline", "{"),
        std_macro("uline", "{"), std_macro("textnormal", "{"), std_macro("textup", "{"), std_macro("mbox", "{"),
        std_macro("hbox", "{"), std_macro("fbox", "{"), std_macro("textsf", "{"), std_macro("texttt", "{"),
        std_macro("textsc", "{"), std_macro("textsl", "{"), std_macro("textmd", "{"), std_macro("mathsf", "{"),
        std_macro("mathtt", "{"), std_macro("operatorname", "*{"),
    ])
    l2t_db = _l2t_db()
    specs = ([MacroTextSpec(n, simplify_repl="<ref>") for n in REF_MACROS]
             + [MacroTextSpec("eqref", simplify_repl="(<ref>)")]  # LaTeX prints \eqref as "(n)"
             + [MacroTextSpec(n, simplify_repl="<cit.>") for n in CITE_MACROS]
             + [MacroTextSpec(n, simplify_repl="") for n in DROP_MACROS]
             + [MacroTextSpec(n, simplify_repl=_last_arg_text) for n in
                ("url", "href", "num", "si", "unit", "ang", "textsuperscript", "textsubscript", "ensuremath",
                 "texorpdfstring", "textrm", "text", "textsf", "texttt", "textsc", "textsl", "textmd", "textup",
                 "textnormal", "textcolor", "colorbox", "underline", "uline", "mbox", "hbox", "fbox", "mathsf",
                 "mathtt", "operatorname")]
             + [MacroTextSpec("color", simplify_repl="")]
             + [MacroTextSpec("SI", simplify_repl=_all_args_text), MacroTextSpec("qty", simplify_repl=_all_args_text),
                MacroTextSpec("\\", simplify_repl=" "), MacroTextSpec("textbackslash", simplify_repl="\\")])
    l2t_db.add_context_category("sciclip-captions", prepend=True, macros=specs)
    return LatexNodes2Text(latex_context=l2t_db, math_mode="text", strict_latex_spaces=False), walker_db


_L2T, _WDB = _converter()


# Math macros that take an argument: the space after them is not a separator to keep.
_MATH_ARG_MACROS = {"frac", "dfrac", "tfrac", "sqrt", "mathbf", "mathrm", "mathit", "mathcal", "mathbb", "mathsf",
                    "mathtt", "mathfrak", "mathscr", "boldsymbol", "bm", "hat", "widehat", "bar", "vec", "tilde",
                    "widetilde", "dot", "ddot", "overline", "underline", "text", "textrm", "mbox", "operatorname",
                    "left", "right", "big", "Big", "bigg", "Bigg", "begin", "end", "label", "ref", "cite"}
_MATH_RE = re.compile(r"(?<!\\)(\$\$?)(.+?)(?<!\\)\1", re.S)
_SPACED_MACRO_RE = re.compile(r"\\([A-Za-z]+)(\s+)(?=[^\s{\[])")


def _keep_math_spaces(latex: str) -> str:
    """pylatexenc drops the space after a math macro ($\\beta \\leq 1$ -> "β≤ 1"); an empty group after
    an argument-less control word keeps it ("β ≤ 1")."""
    def fix(m: re.Match) -> str:
        body = _SPACED_MACRO_RE.sub(
            lambda g: g.group(0) if g.group(1) in _MATH_ARG_MACROS else f"\\{g.group(1)}{{}}\\ ",
            m.group(2))
        return m.group(1) + body + m.group(1)
    return _MATH_RE.sub(fix, latex)


def latex_to_text(latex: str, macros: dict[str, Macro] | None = None) -> str:
    """Plain text of a LaTeX fragment (a caption), the paper's ``macros`` expanded first."""
    if macros:
        latex = expand_macros(latex, macros)
    latex = _keep_math_spaces(resolve_xspace(latex))
    try:
        nodes, _, _ = LatexWalker(latex, latex_context=_WDB, tolerant_parsing=True).get_latex_nodes(pos=0)
        text = _L2T.nodelist_to_text(nodes)
    except Exception:  # pylatexenc raises assorted errors on broken input; fall back to crude stripping
        text = re.sub(r"\\[A-Za-z@]+\*?|[{}$]", " ", latex)
    return normalise_space(text)


