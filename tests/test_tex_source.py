"""Decoding, comments, main files, \\input inlining and pdfLaTeX-like graphics resolution."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from sciclip.sources.arxiv.graphics_extensions import (
    DVIPS,
    PDFTEX_2017,
    PDFTEX_BEFORE_2017,
    apply_changes,
    driver_extensions,
    extension_changes,
)
from sciclip.sources.arxiv.graphics_paths import (
    clean_graphic_name,
    figure_graphic,
    graphics_search_at,
    graphics_search_events,
    parse_graphicspath,
    resolve_graphic,
)
from sciclip.sources.arxiv.latex_figures import figures_in_text
from sciclip.sources.arxiv.tex_conditionals import resolve_conditionals
from sciclip.sources.arxiv.tex_source import (
    SourceTree,
    decode_tex,
    find_main_files,
    inline_inputs,
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
    assert resolve_conditionals(r"A \iffalse B \ifx C \fi D \fi E") == "A  E"
    assert resolve_conditionals(r"A \iffalse X \else Y \fi Z") == "A  Y  Z"
    assert resolve_conditionals("A \\begin{comment} Q \\end{comment} W") == "A  W"


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
    ("figs/plot", [], "figs/plot.pdf"),  # pdftex.def's order since 2017: .pdf before .png
    ("plot", ["figs/"], "figs/plot.pdf"),
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


@pytest.mark.parametrize("engine,yymm,first", [
    ("pdftex", "", ".pdf"),  # unknown month: today's TeX Live
    ("pdftex", "2101", ".pdf"),
    ("pdftex", "2010", ".pdf"),  # arXiv runs TeX Live 2020 from 2020-10-01
    ("pdftex", "2009", ".png"),  # TeX Live 2016: pdftex.def before 2017/06/01
    ("pdftex", "9901", ".png"),  # an old-style id's month
    ("luatex", "1905", ".png"),
    ("latex", "2101", ".eps"),  # dvips.def
    ("xetex", "2511", ".pdf"),
])
def test_driver_extension_order_follows_engine_and_month(engine, yymm, first):
    exts = driver_extensions(engine, yymm)
    assert exts[0] == first
    if engine in ("pdftex", "luatex"):
        assert exts in (PDFTEX_2017, PDFTEX_BEFORE_2017) and ".MPS" not in exts


def test_paper_changes_to_the_extension_list():
    text = r"""\DeclareGraphicsExtensions{ .png , .pdf }\PrependGraphicsExtensions{.jpg,.png}
\AppendGraphicsExtensions*{.svg,.mps}\RemoveGraphicsExtensions {.pdf}\AppendGraphicsExtensions{.svg}"""
    changes = [c for _, c in extension_changes(text)]
    assert changes[0] == ("declare", False, (".png", ".pdf"))
    assert changes[2] == ("append", True, (".svg", ".mps"))
    steps = [apply_changes(PDFTEX_2017, changes[:n]) for n in range(1, 6)]
    assert steps[0] == (".png", ".pdf")  # replaced, spaces dropped
    assert steps[1] == (".jpg", ".png", ".pdf")  # grfext moves an entry already listed
    assert steps[2] == (".jpg", ".png", ".pdf", ".mps")  # starred: only what the driver has a rule for
    assert steps[3] == (".jpg", ".png", ".mps")
    assert steps[4] == (".jpg", ".png", ".mps", ".svg")
    assert apply_changes(DVIPS, [("prepend", True, (".pdf",))]) == DVIPS


def test_each_extension_in_every_directory_before_the_next(tmp_path):
    tree = make_tree(tmp_path, {"x.png": b"x", "figs/x.pdf": b"%PDF", "figs/y.pdf": b"%PDF", "y.PNG": b"x"})
    assert str(resolve_graphic(tree, "x", PurePosixPath("."), ["figs/"])) == "figs/x.pdf"
    assert str(resolve_graphic(tree, "x", PurePosixPath("."), ["figs/"], PDFTEX_BEFORE_2017)) == "x.png"
    assert str(resolve_graphic(tree, "x", PurePosixPath("."), ["figs/"], (".png",))) == "x.png"
    # none of the listed extensions exists: the other known ones, in today's order
    assert str(resolve_graphic(tree, "x", PurePosixPath("."), ["figs/"], (".jpg",))) == "figs/x.pdf"
    # the driver lists the upper-case forms after all lower-case ones
    assert str(resolve_graphic(tree, "y", PurePosixPath("."), ["figs/"], PDFTEX_BEFORE_2017)) == "figs/y.pdf"
    # a name with its extension: the working directory first, but inside an \import its directories first
    assert str(resolve_graphic(tree, "x.png", PurePosixPath("."), ["figs/"])) == "x.png"
    tree2 = make_tree(tmp_path / "t2", {"d.pdf": b"%PDF", "inc/d.pdf": b"%PDF"})
    assert str(resolve_graphic(tree2, "d.pdf", PurePosixPath("."), ["inc/"])) == "d.pdf"
    assert str(resolve_graphic(tree2, "d.pdf", PurePosixPath("."), ["inc/"], imported=True)) == "inc/d.pdf"


def test_unique_basename_fallback_takes_the_format_tex_would(tmp_path):
    tree = make_tree(tmp_path, {"deep/a/p.png": b"x", "deep/a/p.pdf": b"%PDF"})
    assert str(resolve_graphic(tree, "p", PurePosixPath("."), [])) == "deep/a/p.pdf"
    assert str(resolve_graphic(tree, "p", PurePosixPath("."), [], PDFTEX_BEFORE_2017)) == "deep/a/p.png"


IMPORT_MAIN = r"""\documentclass{article}
\usepackage{import}
\graphicspath{{art/}}
\begin{document}
\import{parts}{one}
\includefrom{parts/}{two}
\begin{figure}\includegraphics{tail}\caption{Tail.}\end{figure}
\end{document}
"""


@pytest.fixture
def itree(tmp_path):
    return make_tree(tmp_path, {
        "paper/main.tex": IMPORT_MAIN,
        "paper/parts/one.tex": r"ONE \subimport*{deep/}{three} \input{four} \inputfrom{other/}{five}"
                               r"\begin{figure}\includegraphics{pic}\caption{One.}\end{figure}",
        "paper/parts/deep/three.tex": r"THREE \subinputfrom{more}{six} \graphicspath{{deep-art/}}"
                                      r"\begin{figure}\includegraphics{pic}\caption{Three.}\end{figure}",
        "paper/parts/deep/more/six.tex": "SIX",
        "paper/parts/four.tex": "FOUR-IMPORTED",  # \input inside an import: the import directory first
        "paper/four.tex": "FOUR-MAIN",
        "paper/other/five.tex": "FIVE",  # \inputfrom is \import: from the main file's directory
        "paper/parts/other/five.tex": "FIVE-WRONG",
        "paper/parts/two.tex": "TWO",
        "paper/parts/pic.png": b"x", "paper/parts/deep/pic.png": b"x", "paper/pic.png": b"x",
        "paper/art/tail.png": b"x",
    })


def test_import_package_path_rules(itree):
    text = inline_inputs(itree, PurePosixPath("paper/main.tex"))
    for word in ("ONE", "THREE", "SIX", "FOUR-IMPORTED", "FIVE", "TWO"):
        assert word in text
    assert "WRONG" not in text and "FOUR-MAIN" not in text
    assert "\\sciclipimport{parts/}" in text and "\\sciclipimport{parts/deep/}" in text
    assert "\\sciclipimport{parts/deep/more/}SIX\\sciclipimportend" in text
    assert "\\sciclipimport{parts/}\nTWO\n\\sciclipimportend" not in text  # \includefrom: newlines outside
    assert "\n\\sciclipimport{parts/}TWO\\sciclipimportend\n" in text


def test_graphics_in_imported_files(itree):
    main = PurePosixPath("paper/main.tex")
    figs = figures_in_text(inline_inputs(itree, main), str(main))
    assert "sciclipimport" not in figs.body  # marks blanked, positions kept
    got = [(c.caption_latex, c.graphicspath, c.imported, str(figure_graphic(itree, c, main.parent)))
           for c in figs.candidates]
    assert got == [
        ("Three.", ["deep-art/"], True, "paper/pic.png"),  # \graphicspath inside replaces the import dirs
        ("One.", ["parts/", "art/"], True, "paper/parts/pic.png"),  # and ends with the imported file
        ("Tail.", ["art/"], False, "paper/art/tail.png"),
    ]


def test_graphics_search_state():
    text = r"\graphicspath{{a/}}X\sciclipimport{i/}Y\sciclipimport{i/j/}Z\sciclipimportend W\sciclipimportend V"
    events = graphics_search_events(text)
    at = {c: graphics_search_at(events, text.index(c), []) for c in "XYZWV"}
    assert at == {"X": (["a/"], False), "Y": (["i/", "a/"], True), "Z": (["i/j/", "i/", "a/"], True),
                  "W": (["i/", "a/"], True), "V": (["a/"], False)}


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


PAPER = "\\documentclass{article}\\begin{document}\\begin{figure}\\includegraphics{a}\\caption{%s}\\end{figure}" \
        "\\end{document}"


def test_stale_copies_in_subfolders_are_not_main_files(tmp_path):
    tree = make_tree(tmp_path, {
        "main.tex": PAPER % "Current.", "supplement.tex": PAPER % "Supplement.",
        "old/paper-v9.tex": PAPER % "Outdated.", "old/paper-v10.tex": PAPER % "Outdated too.",
        "__MACOSX/._main.tex": PAPER % "AppleDouble junk.",
    })
    assert find_main_files(tree) == [PurePosixPath("main.tex"), PurePosixPath("supplement.tex")]


def test_subfolder_mains_count_when_none_is_at_the_top(tmp_path):
    tree = make_tree(tmp_path, {"paper/main.tex": PAPER % "Current.", "paper/old/v1.tex": PAPER % "Old.",
                                "supp/supp.tex": PAPER % "Supplement.", "README": "x"})
    assert find_main_files(tree) == [PurePosixPath("paper/main.tex"), PurePosixPath("supp/supp.tex")]


@pytest.mark.parametrize("name,readme,mains", [
    ("00README.json", '{"process": {"compiler": "pdflatex"}, "sources": [{"filename": "sub/ms.tex", '
     '"usage": "toplevel"}, {"filename": "main.tex", "usage": "ignore"}]}', ["sub/ms.tex"]),
    ("00README.json", '{"sources": [{"filename": "draft.tex", "usage": "ignore"}]}', ["main.tex"]),
    ("00README.json", '{"sources": [{"filename": "sub/ms.tex"}]}', ["sub/ms.tex"]),  # no usage: top-level
    ("00README.yaml", "sources:\n  - filename: sub/ms.tex\n    usage: toplevel\n", ["sub/ms.tex"]),
    ("00README.XXX", "sub/ms.tex toplevelfile\nnostamp\nnohypertex\nmain.tex ignore\n", ["sub/ms.tex"]),
    ("00README.XXX", "draft.tex ignore\nfigs/x.eps landscape\n", ["main.tex"]),
    ("00README.XXX", "missing.tex toplevelfile\ndraft.tex ignore\n", ["main.tex"]),  # a name not shipped
    ("00README.json", "{not json", ["draft.tex", "main.tex"]),  # unreadable: guessed as without it
])
def test_00readme_decides_the_main_files(tmp_path, name, readme, mains):
    tree = make_tree(tmp_path, {name: readme, "main.tex": PAPER % "Main.", "draft.tex": PAPER % "Draft.",
                                "sub/ms.tex": PAPER % "In a subfolder."})
    assert [str(m) for m in find_main_files(tree)] == mains


def test_00readme_compiler_decides_engine_branches(tmp_path):
    files = {"main.tex": "\\documentclass{article}\\ifxetex\\graphicspath{{xe/}}\\else\\graphicspath{{pdf/}}\\fi"}
    tree = make_tree(tmp_path / "a", {**files, "00README.json": '{"process": {"compiler": "xelatex"}}'})
    assert "{xe/}" in tree.text(PurePosixPath("main.tex")) and "pdf/" not in tree.text(PurePosixPath("main.tex"))
    tree = make_tree(tmp_path / "b", files)
    assert "{pdf/}" in tree.text(PurePosixPath("main.tex")) and "xe/" not in tree.text(PurePosixPath("main.tex"))


XSPACE_MACROS = r"""
\newcommand{\model}{Parti\xspace}
\newcommand{\eg}{e.g.\xspace}
\newcommand{\kepler}{\textsf{Kepler}}
"""


@pytest.mark.parametrize("latex,text", [
    (r"Selected \model images.", "Selected Parti images."),
    (r"Selected \model. More", "Selected Parti. More"),
    (r"\model{} images and \model{}images", "Parti images and Partiimages"),
    (r"\model, \model; \model-based (\model) ``\model''", "Parti, Parti; Parti-based (Parti) “Parti”"),
    (r"\model\ images, \model~images, {\model} images", "Parti images, Parti images, Parti images"),
    ("\\model\n    images", "Parti images"),
    (r"\eg \model\ and \model\footnote{x} now", "e.g. Parti and Parti now"),
    (r"\kepler\ data, \kepler{} data, \kepler-band", "Kepler data, Kepler data, Kepler-band"),
    (r"\kepler data", "Keplerdata"),  # as TeX prints it: the space after a control word is skipped
    (r"plain Parti\xspace images", "plain Parti images"),
])
def test_macro_spacing_as_tex_and_xspace(latex, text):
    assert latex_to_text(latex, collect_macros(XSPACE_MACROS)) == text


def test_caption_conventions_label_and_placeholders():
    from sciclip.text.captions import caption_text, drop_placeholders

    assert caption_text("Growth over time.", "Figure 1", False, "keep") == "Growth over time."
    assert caption_text("Growth over time.", "Figure 1", True, "keep") == "Figure 1 Growth over time."
    assert caption_text("As in Fig. <ref>.", "", True, "keep") == "As in Fig. <ref>."
    assert drop_placeholders("as shown in Fig. <ref>.") == "as shown in Fig."
    assert drop_placeholders("Results (<ref>) agree with <cit.>.") == "Results agree with."
    assert drop_placeholders("compare [<cit.>, <cit.>] and Eq. (<ref>), too") == "compare and Eq., too"
    assert drop_placeholders("Loss <cit.>, accuracy <cit.>; all in %.") == "Loss, accuracy; all in %."
    assert drop_placeholders("Ellipsis... stays <ref>") == "Ellipsis... stays"


def test_arxiv_captions_follow_the_same_convention(sample_tarballs, tmp_path):
    from sciclip.sources.arxiv.extract import extract_tarball
    from sciclip.sources.options import ExtractOptions
    from tests.conftest import read_dir

    t = next(p for p in sample_tarballs if p.stem == "arXiv_src_2001_001")
    extract_tarball(t, tmp_path / "plain")
    extract_tarball(t, tmp_path / "label", ExtractOptions(caption_label=True, placeholders="drop"))
    plain = {s["meta"]["source_path"]: s["caption"] for s in read_dir(tmp_path / "plain")}
    label = {s["meta"]["source_path"]: s["caption"] for s in read_dir(tmp_path / "label")}
    assert plain and plain.keys() == label.keys()
    assert not any(c.startswith("Figure ") for c in plain.values())
    assert all(c.startswith("Figure ") for c in label.values())
    assert not any("<ref>" in c or "<cit.>" in c for c in label.values())
