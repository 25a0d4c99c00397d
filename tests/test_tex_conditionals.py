"""Engine conditionals (\\ifpdf, iftex's \\ifPDFTeX/\\ifxetex/\\ifluatex) take pdfLaTeX's branch; the ones we
cannot evaluate stay as written without upsetting the nesting (issue 11: a thesis lost every figure)."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest

from sciclip.sources.arxiv.latex_figures import paper_figures
from sciclip.sources.arxiv.tex_conditionals import resolve_conditionals
from tests.test_tex_source import make_tree


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("latex,kept", [
    (r"A \ifpdf P \else V \fi Z", "A P Z"),
    (r"A \ifPDFTeX P \else V \fi Z", "A P Z"),
    (r"A \ifpdftex P \fi Z", "A P Z"),  # no \else
    (r"A \ifxetex X \fi Z", "A Z"),
    (r"A \ifXeTeX X \else P \fi Z", "A P Z"),
    (r"A \ifluatex L \else P \fi Z", "A P Z"),
    (r"A \ifLuaTeX L \else \ifxetex X \else P \fi \fi Z", "A P Z"),  # nested, both known
    (r"A \ifpdf \ifdim\x>0pt D \else E \fi \else V \ifnum1=1 N \fi \fi Z",
     r"A \ifdim\x>0pt D \else E \fi Z"),  # unknown conditionals inside keep both branches
    (r"A \unless\ifpdf V \else P \fi Z", "A P Z"),
    (r"A \ifx\pdfoutput\undefined V \else P \fi Z", "A P Z"),
    (r"A \ifx\XeTeXversion\undefined P \else X \fi Z", "A P Z"),
    (r"A \ifdefined\directlua L \else P \fi Z", "A P Z"),
    (r"A \iftrue T \else F \fi Z", "A T Z"),
    (r"A \ifCLASSINFOpdf P \else V \fi Z", "A P Z"),  # IEEEtran
    (r"\newif\ifpdf \let\ifcolour\iffalse A \ifcolour C \fi Z", r"\newif\ifpdf \let\ifcolour\iffalse A \ifcolour C \fi Z"),
    (r"A \ifthenelse{\boolean{x}}{T}{F} \ifpdf P \else V \fi Z", r"A \ifthenelse{\boolean{x}}{T}{F} P Z"),
    (r"A \ifpdf P \ifdef\x{a}{b} \else V \fi Z", r"A P \ifdef\x{a}{b} Z"),  # etoolbox \ifdef has no \fi
    (r"A \iffalse B \ifx C \fi D \fi E", "A E"),
    (r"A \iffalse X \else Y \fi Z", "A Y Z"),
    ("A \\begin{comment} Q \\fi \\end{comment} W", "A W"),
])
def test_pdflatex_branches(latex, kept):
    assert squash(resolve_conditionals(latex)) == kept


def test_other_engines_take_their_branch():
    text = r"\ifpdf P\fi \ifxetex X\fi \ifluatex L\fi \ifPDFTeX T\fi"
    assert squash(resolve_conditionals(text, "xetex")) == "X"
    assert squash(resolve_conditionals(text, "luatex")) == "P L"
    assert squash(resolve_conditionals(text, "latex")) == "T"  # pdfTeX writing DVI


def test_a_known_conditional_left_open_is_kept_rather_than_eating_the_file():
    # \ifoptionx: a macro defined elsewhere, named like a conditional; it takes the \fi of \ifxetex
    text = r"\ifxetex \usepackage{fontspec} \ifoptionx\y \fi \begin{document} BODY \end{document}"
    assert "BODY" in resolve_conditionals(text)
    assert "BODY" in resolve_conditionals(r"\ifxetex X \begin{document} BODY")  # a \fi in another file


THESIS_CHAPTER = r"""
\ifpdf
    \graphicspath{{Chapter2/Figs/Raster/}{Chapter2/Figs/PDF/}{Chapter2/Figs/}}
\else
    \graphicspath{{Chapter2/Figs/Vector/}{Chapter2/Figs/}}
\fi
\begin{figure}\includegraphics{overview}\caption{Overview of chapter two.}\end{figure}
"""


def test_thesis_graphicspath_in_the_pdf_branch_of_each_chapter(tmp_path):
    tree = make_tree(tmp_path, {
        "thesis.tex": "\\documentclass{book}\\usepackage{ifpdf}\n\\graphicspath{{Figs/}}\n\\begin{document}\n"
                      "\\begin{figure}\\includegraphics{title}\\caption{Title figure.}\\end{figure}\n"
                      "\\include{Chapter2/chapter2}\n\\end{document}\n",
        "Chapter2/chapter2.tex": THESIS_CHAPTER,
        "Figs/title.png": b"x", "Chapter2/Figs/Raster/overview.png": b"x", "Chapter2/Figs/Vector/overview.eps": b"x",
    })
    docs, mains = paper_figures(tree)
    assert mains == [PurePosixPath("thesis.tex")]
    cands = docs[0][1].candidates
    assert [(c.image_ref, c.graphicspath) for c in cands] == [
        ("title", ["Figs/"]),  # the preamble's path, until a chapter sets its own
        ("overview", ["Chapter2/Figs/Raster/", "Chapter2/Figs/PDF/", "Chapter2/Figs/"])]
