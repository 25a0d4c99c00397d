"""Decoding, comments, main files, \\input inlining and pdfLaTeX-like graphics resolution."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from sciclip.sources.arxiv.graphics_paths import clean_graphic_name, parse_graphicspath, resolve_graphic
from sciclip.sources.arxiv.tex_source import (
    SourceTree,
    decode_tex,
    find_main_files,
    inline_inputs,
    remove_disabled_blocks,
    strip_comments,
)
from sciclip.text.captions import compose_caption
from sciclip.text.latex import latex_to_text
from sciclip.text.latex_macros import collect_macros, expand_macros


def make_tree(tmp_path: Path, files: dict[str, bytes | str]) -> SourceTree:
    rels = []
    for name, data in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        rels.append(PurePosixPath(name))
    return SourceTree(tmp_path, rels)


def test_decode_utf8_and_latin1():
    assert decode_tex("Zürich α".encode("utf-8")) == "Zürich α"
    assert decode_tex("Résumé à zéro".encode("latin-1")) == "Résumé à zéro"
    assert decode_tex(b"\xef\xbb\xbfbom") == "bom"
    assert decode_tex(b"smart \x93quotes\x94") == "smart \u201cquotes\u201d"  # cp1252


def test_strip_comments_like_tex():
    assert strip_comments("a % c\n  b") == "a b"
    assert strip_comments("50\\% off % gone\nx") == "50\\% off x"
    assert strip_comments("line\\\\% comment after a line break\nnext") == "line\\\\next"
    assert strip_comments("para %\n\nnext") == "para \nnext"


def test_disabled_blocks():
    assert remove_disabled_blocks(r"A \iffalse B \ifx C \fi D \fi E") == "A  E"
    assert remove_disabled_blocks(r"A \iffalse X \else Y \fi Z") == "A  Y  Z"
    assert remove_disabled_blocks("A \\begin{comment} Q \\end{comment} W") == "A  W"


def test_main_files_and_inlining(tmp_path):
    tree = make_tree(tmp_path, {
        "paper.tex": "\\documentclass{article}\n\\begin{document}\n\\input{sections/intro}\n\\include{sections/end}\n"
                     "\\input epsf\n\\end{document}\n",
        "sections/intro.tex": "INTRO \\input{sections/deeper.tex} % comment\n",
        "sections/deeper.tex": "DEEPER \\input{sections/intro}",  # a cycle: must not loop
        "sections/end.tex": "END",
        "standalone.tex": "\\documentclass{standalone}\\begin{document}S\\end{document}",
        "supplement.tex": "\\documentclass{article}\\begin{document}\\input{standalone}\\end{document}",
        "notes.txt": "x",
    })
    assert find_main_files(tree) == [PurePosixPath("paper.tex"), PurePosixPath("supplement.tex")]
    text = inline_inputs(tree, PurePosixPath("paper.tex"))
    assert "INTRO DEEPER" in text and "\nEND\n" in text
    assert "\\input epsf" in text  # a package, not in the tree: left alone
    assert "comment" not in text


def test_old_documentstyle_is_a_main_file(tmp_path):
    tree = make_tree(tmp_path, {"old.tex": "\\documentstyle[12pt]{article}\\begin{document}x\\end{document}"})
    assert find_main_files(tree) == [PurePosixPath("old.tex")]


@pytest.fixture
def gtree(tmp_path):
    return make_tree(tmp_path, {
        "figs/plot.pdf": b"%PDF", "figs/plot.png": b"png", "figs/only.eps": b"%!", "figs/UPPER.PNG": b"x",
        "sub/Mixed.Jpg": b"x", "deep/dir/unique_name.pdf": b"%PDF", "fig.1.pdf": b"%PDF", "main.tex": b"",
        "a.tex": b"", "a.png": b"x",
    })


@pytest.mark.parametrize("ref,graphicspath,expected", [
    ("figs/plot", [], "figs/plot.png"),  # pdfTeX order: .png before .pdf
    ("plot", ["figs/"], "figs/plot.png"),
    ("plot.pdf", ["figs/"], "figs/plot.pdf"),
    ("./figs/plot.pdf", [], "figs/plot.pdf"),
    ("figs/only", [], "figs/only.eps"),  # latex+dvips extension
    ("figs/UPPER", [], "figs/UPPER.PNG"),
    ("figs/upper.png", [], "figs/UPPER.PNG"),  # case-insensitive second try
    ("sub/mixed.jpg", [], "sub/Mixed.Jpg"),
    ("unique_name", [], "deep/dir/unique_name.pdf"),  # last resort: a unique basename
    ("fig.1", [], "fig.1.pdf"),  # extension appended to a dotted name
    ("{fig.1}.pdf", [], "fig.1.pdf"),
    ("a", [], "a.png"),  # never the .tex of the same stem
    ("missing", ["figs/"], None),
    ("../outside", [], None),
])
def test_resolve_graphic(gtree, ref, graphicspath, expected):
    got = resolve_graphic(gtree, ref, PurePosixPath("."), graphicspath)
    assert (str(got) if got else None) == expected


def test_resolve_relative_to_main_dir(tmp_path):
    tree = make_tree(tmp_path, {"paper/main.tex": b"", "paper/img/x.png": b"x"})
    assert str(resolve_graphic(tree, "img/x", PurePosixPath("paper"), [])) == "paper/img/x.png"


def test_graphicspath_and_names():
    assert parse_graphicspath("{figs/}{ images/ }") == ["figs/", "images/"]
    assert parse_graphicspath(" {images/} ") == ["images/"]
    assert clean_graphic_name(' "my fig" ') == "my fig"
    assert clean_graphic_name(r"\detokenize{a_b}.pdf") == "a_b.pdf"


def test_macro_definitions_and_expansion():
    macros = collect_macros(r"""
\newcommand{\kepler}{\project{Kepler}}
\newcommand\project[1]{\textsf{#1}}
\newcommand{\opt}[2][default]{#1-#2}
\def\alsodef{DEF}
\def\withargs#1#2{#2#1}
\renewcommand{\eqref}[1]{\ref{eq:#1}}
\DeclareMathOperator{\Tr}{Tr}
\newcommand{\internal}{\@secret}
\def\delimited#1.{x}
""")
    assert {"kepler", "project", "opt", "alsodef", "withargs", "eqref", "Tr"} <= set(macros)
    assert "internal" not in macros and "delimited" not in macros
    assert expand_macros(r"\kepler\ data", macros) == r"\textsf{Kepler}\ data"
    assert expand_macros(r"\opt{b} \opt[a]{b}", macros) == "default-b a-b"
    assert expand_macros(r"\withargs{1}{2} \alsodef", macros) == "21 DEF"
    assert expand_macros(r"\eqref{x}", macros) == r"\ref{eq:x}"


def test_self_recursive_macro_is_bounded():
    macros = collect_macros(r"\newcommand{\loop}{a\loop}")
    out = expand_macros(r"\loop", macros)
    assert len(out) < 200_000


@pytest.mark.parametrize("latex,text", [
    (r"with $\alpha = 0.5$ and $\beta \leq 1$", "with α = 0.5 and β ≤ 1"),
    (r"see Fig.~\ref{a}, Eq.~\eqref{b} and \cite{c,d} or \citep[p.~3]{e}", "see Fig. <ref>, Eq. (<ref>) and <cit.> or <cit.>"),
    (r"at \url{https://x.org/a_b} and \href{https://y.org}{the site}", "at https://x.org/a_b and the site"),
    (r"12\% --- a ``quoted'' \emph{word}", "12% — a “quoted” word"),
    (r"{Nested {braces}} \label{fig:x}\footnote{dropped}", "Nested braces"),
    ("multi\n   line\t  text", "multi line text"),
    (r"\texttt{scipy.spatial} and \textsf{sans} \num{10000}", "scipy.spatial and sans 10000"),
    (r"Caf\'e na\"ive", "Café naïve"),
])
def test_caption_text(latex, text):
    assert latex_to_text(latex) == text


def test_compose_caption_modes():
    assert compose_caption("Main.", "Sub", "(a)", "combine") == "(a) Sub. Main."
    assert compose_caption("Main.", "Sub!", "(b)", "combine") == "(b) Sub! Main."
    assert compose_caption("Main.", "Sub", "(a)", "sub") == "(a) Sub"
    assert compose_caption("Main.", "Sub", "(a)", "main") == "Main."
    assert compose_caption(None, "Sub", "(a)", "main") == "(a) Sub"
    assert compose_caption("Main.", None, None, "sub") == "Main."
