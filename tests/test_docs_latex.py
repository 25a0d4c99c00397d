"""LaTeX and JATS bodies as blocks: what each option does to tables, algorithms, listings, the bibliography,
references and figure placement, on small hand-written inputs."""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath

import pytest
from PIL import Image

from sciclip.docs.model import ImageBlock, TextBlock
from sciclip.sources.arxiv.latex_body import latex_document
from sciclip.sources.arxiv.tex_source import SourceTree
from sciclip.sources.options import DocOptions
from sciclip.sources.pmc.jats_body import jats_document
from tests.conftest import FIXTURES

PAPER = r"""\documentclass{article}
\newcommand{\method}{FlowNet}
\title{A Study of \method}
\author{A. Author \and B. Author}
\begin{document}
\maketitle
\begin{abstract}
We present \method, a model.
\end{abstract}
\section{Introduction}
\label{sec:intro}
Prior work~\cite{smith} is discussed in Section~\ref{sec:intro}.

As Figure~\ref{fig:arch} shows, the model has $\alpha \leq 1$ layers.
\begin{itemize}
\item first point
\item second point
\end{itemize}
\begin{table}
\caption{Results table.}
\begin{tabular}{cc} a & b \\ c & d \end{tabular}
\end{table}
\begin{algorithm}
\caption{Training loop.}
repeat until done
\end{algorithm}
\begin{lstlisting}
print("code")
\end{lstlisting}
\begin{figure}
\includegraphics{arch.png}
\caption{The architecture of \method.}
\label{fig:arch}
\end{figure}
\section{Conclusion}
Done.
\begin{thebibliography}{9}
\bibitem{smith} J. Smith. A paper. 2020.
\end{thebibliography}
\end{document}
"""


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "main.tex").write_text(PAPER)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buf, "PNG")
    (tmp_path / "arch.png").write_bytes(buf.getvalue())
    return SourceTree(tmp_path, [PurePosixPath("main.tex"), PurePosixPath("arch.png")])


def texts(blocks) -> list[tuple[str, str]]:
    return [(b.kind, b.text) if isinstance(b, TextBlock) else ("image", b.ref) for b in blocks]


def test_default_layout(tree):
    doc = latex_document(tree, PurePosixPath("main.tex"), DocOptions(), lambda p: f"u#{p}")
    assert texts(doc.blocks) == [
        ("title", "A Study of FlowNet"),
        ("abstract", "We present FlowNet, a model."),
        ("heading", "Introduction"),
        ("paragraph", "Prior work <cit.> is discussed in Section <ref>."),
        ("paragraph", "As Figure <ref> shows, the model has α ≤ 1 layers."),
        ("list", "- first point\n- second point"),
        ("caption", "Results table."),
        ("caption", "Training loop."),
        ("image", "arch.png"),
        ("caption", "The architecture of FlowNet."),
        ("heading", "Conclusion"),
        ("paragraph", "Done."),
    ]
    image = next(b for b in doc.blocks if isinstance(b, ImageBlock))
    assert image.url == "u#arch.png" and image.meta["figure_label"] == "fig:arch" and doc.figures == 1


def test_options_keep_or_drop_each_part(tree):
    opts = DocOptions(tables="text", algorithms="drop", listings="text", bibliography="text", ref_text="",
                      cite_text="[1]", figure_placement="first_ref")
    got = texts(latex_document(tree, PurePosixPath("main.tex"), opts, str).blocks)
    assert ("paragraph", "Prior work [1] is discussed in Section.") in got
    assert ("table", "a b c d") in got and ("caption", "Training loop.") not in got
    assert ("code", 'print("code")') in got
    assert got[-1] == ("bibliography", "- J. Smith. A paper. 2020.")
    i = got.index(("image", "arch.png"))
    assert got[i - 1][1].startswith("As Figure shows")  # moved after the paragraph citing it
    assert got[i + 1] == ("caption", "The architecture of FlowNet.")


JATS = b"""<?xml version="1.0"?>
<article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta>
<title-group><article-title>Cells <italic>in vitro</italic></article-title></title-group>
<abstract><p>Short abstract.</p></abstract></article-meta></front>
<body><sec><title>Results</title>
<p>Cells grew (<xref ref-type="fig" rid="f1">Figure 1</xref>) as in <xref ref-type="bibr" rid="r1">[1]</xref>.</p>
<p>Before the table. <table-wrap id="t1"><label>Table 1</label><caption><p>Counts.</p></caption>
<table><tr><td>a</td><td>1</td></tr></table></table-wrap> After the table.</p>
<list><list-item><p>one</p></list-item><list-item><p>two</p></list-item></list>
</sec></body>
<back><ref-list><ref id="r1"><mixed-citation>Doe J. A study. 2001.</mixed-citation></ref></ref-list></back>
<floats-group><fig id="f1"><label>Figure 1</label><caption><p>Growth curve.</p></caption>
<graphic xlink:href="f1"/></fig></floats-group></article>"""


def test_jats_options(tmp_path):
    (tmp_path / "f1.jpg").write_bytes(b"\xff\xd8\xff")
    media = {"f1.jpg": tmp_path / "f1.jpg"}
    doc = jats_document(JATS, "a.xml", DocOptions(), media, lambda fid: f"u#{fid}")
    assert texts(doc.blocks) == [
        ("title", "Cells in vitro"), ("abstract", "Short abstract."), ("heading", "Results"),
        ("paragraph", "Cells grew (Figure 1) as in [1]."), ("paragraph", "Before the table."),
        ("caption", "Table 1 Counts."), ("paragraph", "After the table."), ("list", "- one\n- two"),
        ("image", "f1.jpg"), ("caption", "Figure 1 Growth curve.")]
    moved = jats_document(JATS, "a.xml", DocOptions(figure_placement="first_ref", tables="text",
                                                    bibliography="text"), media, str)
    got = texts(moved.blocks)
    assert got[4] == ("image", "f1.jpg") and got[3][1].startswith("Cells grew")
    assert ("table", "a | 1") in got and got[-1] == ("bibliography", "- Doe J. A study. 2001.")
    assert Path(moved.blocks[4].path).name == "f1.jpg"


def fixture_tree(name: str) -> SourceTree:
    root = FIXTURES / "latex_papers" / name
    return SourceTree(root, sorted(PurePosixPath(p.relative_to(root).as_posix()) for p in root.rglob("*")
                                   if p.is_file()))


def test_imported_inkscape_figures_keep_image_and_caption():
    """Documents read TeX through the pairs' own code: \\import-ed .pdf_tex figures find their PDF."""
    doc = latex_document(fixture_tree("inkscape-import"), PurePosixPath("main.tex"), DocOptions(), str)
    got = texts(doc.blocks)
    assert got == [
        ("heading", "Setup"),
        ("image", "figures/setup.pdf"),
        ("caption", "The experimental setup, drawn in Inkscape."),
        ("heading", "Results"),
        ("image", "sections/plots/curve.pdf"),
        ("image", "sections/plots/curve.pdf"),  # pages 1 and 2 of one drawing
        ("caption", "Measured curve with its labels on top."),
        ("image", "sections/photo.png"),
        ("caption", "A photograph stored next to the results section."),
        ("image", "appendix/diagram.png"),
        ("caption", "Block diagram from the appendix folder."),
    ]
    assert all(b.missing == "" for b in doc.blocks if isinstance(b, ImageBlock))


@pytest.mark.parametrize("yymm,first", [("2101", "figures/spectrum.pdf"), ("1905", "figures/spectrum.png")])
def test_documents_take_the_format_arxivs_tex_live_took(yymm, first):
    doc = latex_document(fixture_tree("extension-order"), PurePosixPath("main.tex"), DocOptions(), str, yymm)
    assert [b.ref for b in doc.blocks if isinstance(b, ImageBlock)][0] == first
