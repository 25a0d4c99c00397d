"""The embedded sample corpus: a small arXiv bulk-source mirror in the real formats.

Layout mirrors the ``arxiv`` bucket (``src/arXiv_src_manifest.xml``, ``src/arXiv_src_YYMM_NNN.tar``), each
tarball holding ``YYMM/<id>.gz`` members (gzipped source tars or single gzipped .tex files) and a
PDF-only ``.pdf``. Every byte is a function of the code: fixed seeds, fixed tar and gzip headers, so the
same version writes the same mirror everywhere. The papers between them exercise the LaTeX and image
cases the extractor must handle; ``tests/fixtures/sample_expected.tsv`` lists the pairs they must give.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sciclip.sample import media
from sciclip.sources.arxiv.ids import id_sort_key
from sciclip.sources.arxiv.manifest import manifest_xml
from sciclip.storage.atomic import atomic_write_bytes


@dataclass
class Paper:
    paper_id: str
    files: dict[str, bytes] = field(default_factory=dict)  # empty: a single gzipped file (see single)
    single: bytes | None = None  # a gzipped single source file
    pdf_only: bytes | None = None
    raw_gz: bytes | None = None  # a member written as-is (for deliberately broken members)


def _tex(s: str, encoding: str = "utf-8") -> bytes:
    return s.strip("\n").encode(encoding) + b"\n"


def paper_9901_001() -> Paper:
    """Old-style id, Latin-1 source, \\epsfig inside center."""
    return Paper("hep-th9901001", {
        "paper.tex": _tex(r"""
\documentclass{article}
\usepackage{epsfig}
\begin{document}
\title{A Latin-1 paper}
We study the modèle.
\begin{figure}
\begin{center}
\epsfig{file=fig1.eps,width=8cm}
\end{center}
\caption{Résumé: the phase of the modèle at zéro temperature.}
\label{fig:phase}
\end{figure}
\end{document}
""", "latin-1"),
        "fig1.eps": media.eps("hep-th9901001/fig1", (0, 0, 288, 216)),
    })


def paper_9901_002() -> Paper:
    """AASTeX \\plotone with an EPS carrying a HiResBoundingBox."""
    return Paper("astro-ph9901002", {
        "ms.tex": _tex(r"""
\documentclass{aastex}
\begin{document}
\begin{figure}
\plotone{f1.eps}
\caption{Light curve of the variable star observed in 1998.}
\end{figure}
\end{document}
"""),
        "f1.eps": media.eps("astro-ph9901002/f1", (18, 18, 450, 306), hires=True),
    })


def paper_9901_003() -> Paper:
    return Paper("hep-th9901003", pdf_only=media.pdf_multipage("hep-th9901003/paper", (612, 792), pages=1))


def paper_2001_00001() -> Paper:
    """UTF-8; \\input/\\include from subfolders; \\graphicspath; figure, figure*, wrapfigure; center,
    \\resizebox, \\centerline; a caption with math, refs, cites, a URL, macros, [short], nested braces
    and a comment; RGBA PNG, CMYK JPEG, animated GIF; a missing file; a captioned table with a graphic;
    a commented-out figure."""
    return Paper("2001.00001", {
        "main.tex": _tex(r"""
\documentclass[twocolumn]{article}
\usepackage{graphicx}
\usepackage{wrapfig}
\usepackage{url}
\graphicspath{{figs/}{extra/}}
\newcommand{\method}{\textsc{FlowNet}}
\newcommand{\dataset}[1]{\emph{#1} dataset}
\begin{document}
\title{Sample paper one}
\maketitle
\input{sections/intro}
\include{sections/results}
% \begin{figure}\includegraphics{figs/commented.png}\caption{This figure is commented out and must not appear.}\end{figure}
\begin{table}[t]
\centering
\begin{tabular}{cc} a & b \\ \includegraphics{figs/tableicon.png} & c \end{tabular}
\caption{Accuracy of all methods on the test split (a table, not a figure).}
\end{table}
\end{document}
"""),
        "sections/intro.tex": _tex(r"""
\section{Introduction}
Figure~\ref{fig:overview} shows the overview of \method.
\begin{figure}[t]
  \begin{center}
    \includegraphics[width=0.9\linewidth]{overview}
  \end{center}
  \caption[Overview]{Overview of \method{} trained on the \dataset{Zürich} with $\alpha = 0.5$ and
    $\beta \leq 1$ (see Sec.~\ref{sec:results} and \cite{smith2020,doe2019}). % a comment inside
    Code at \url{https://example.org/flow_net}. {Nested {braces} stay} intact.}
  \label{fig:overview}
\end{figure}
"""),
        "sections/results.tex": _tex(r"""
\section{Results}\label{sec:results}
\begin{figure*}
\centering
\resizebox{\textwidth}{!}{\includegraphics{./figs/results_cmyk.jpg}}
\caption{Results on the benchmark: the error drops from 12\% to 3\% --- a 4$\times$ reduction.}
\label{fig:results}
\end{figure*}
\begin{wrapfigure}{r}{0.4\textwidth}
\centerline{\includegraphics[width=0.38\textwidth]{extra/anim.gif}}
\caption{A GIF figure wrapped in text, placed on the right.}
\end{wrapfigure}
\begin{figure}
\includegraphics{figs/missing_plot}
\caption{This plot was never uploaded, so its file is missing.}
\end{figure}
"""),
        "figs/overview.png": media.png_rgba("2001.00001/overview", (800, 600)),
        "figs/results_cmyk.jpg": media.jpeg_cmyk("2001.00001/results", (1024, 400)),
        "figs/tableicon.png": media.png_rgb("2001.00001/tableicon", (64, 64)),
        "figs/commented.png": media.png_rgb("2001.00001/commented", (200, 200)),
        "extra/anim.gif": media.gif_animated("2001.00001/anim", (300, 200)),
    })


def paper_2001_00002() -> Paper:
    """subcaption: subfigure environments with \\caption, minipages with \\subcaption; \\includegraphics*;
    names without extension, with ./, with upper-case extensions; palette PNG; multi-page PDF; two
    graphics sharing one caption."""
    return Paper("2001.00002", {
        "main.tex": _tex(r"""
\documentclass{article}
\usepackage{graphicx,subcaption}
\begin{document}
\begin{figure}[ht]
  \centering
  \begin{subfigure}[b]{0.45\textwidth}
    \includegraphics[width=\textwidth]{img/loss_curve.PNG}
    \caption{Training loss}\label{fig:loss}
  \end{subfigure}
  \hfill
  \begin{subfigure}[b]{0.45\textwidth}
    \includegraphics*[viewport=0 0 100 100]{./img/accuracy}
    \caption{Validation accuracy}
  \end{subfigure}
  \caption{Learning curves of the model over 100 epochs.}
  \label{fig:curves}
\end{figure}

\begin{figure}
\centering
\begin{minipage}{0.48\linewidth}
  \includegraphics[width=\linewidth]{img/palette_map.png}
  \subcaption{Palette map of the region}
\end{minipage}
\begin{minipage}{0.48\linewidth}
  \includegraphics[width=\linewidth]{img/Photo.JPG}
  \subcaption{Photograph of the site}
\end{minipage}
\caption{Study area.}
\end{figure}

\begin{figure}
\includegraphics{img/panel_left.png}\includegraphics{img/panel_right.png}
\caption{Two panels without subcaptions share this caption.}
\end{figure}
\end{document}
"""),
        "img/loss_curve.PNG": media.png_rgb("2001.00002/loss", (640, 480)),
        "img/accuracy.pdf": media.pdf_multipage("2001.00002/accuracy", (360, 252), pages=2),
        "img/palette_map.png": media.png_palette("2001.00002/palette", (400, 400)),
        "img/Photo.JPG": media.jpeg_rgb("2001.00002/photo", (600, 800)),
        "img/panel_left.png": media.png_gray("2001.00002/left", (256, 256)),
        "img/panel_right.png": media.png_gray("2001.00002/right", (256, 256)),
    })


def paper_2001_00003() -> Paper:
    """A gzipped single .tex file (no tar): its only figure's file cannot be there."""
    return Paper("2001.00003", single=_tex(r"""
\documentclass{article}
\usepackage{graphicx}
\begin{document}
Un détecteur à Zürich.
\begin{figure}
\includegraphics{diagram}
\caption{Schematic of the détecteur (the file was not shipped with the source).}
\end{figure}
\end{document}
"""))


def paper_2001_00004() -> Paper:
    """subfig's \\subfloat (one and two optional arguments) with \\centerline; EPS with a normal and an
    (atend) bounding box, extension-less; minipages with captions of their own."""
    return Paper("2001.00004", {
        "paper.tex": _tex(r"""
\documentclass{revtex4}
\usepackage{graphicx}
\usepackage{subfig}
\newcommand{\fig}[1]{Fig.~\ref{#1}}
\begin{document}
\begin{figure}
\centering
\subfloat[Phase diagram at $T=0$]{\includegraphics[width=0.45\textwidth]{plots/phase.eps}\label{fig:phase}}
\hfill
\subfloat[][Spectrum with the box at the end]{\centerline{\includegraphics{plots/spectrum_atend}}}
\caption{Two EPS panels: the phase diagram and the spectrum (cf.\ \fig{fig:phase}).}
\end{figure}
\begin{figure}
\begin{minipage}{0.5\textwidth}
\includegraphics{plots/left.png}
\caption{Left panel has its own caption.}
\end{minipage}%
\begin{minipage}{0.5\textwidth}
\includegraphics{plots/right.png}
\caption{Right panel has another caption.}
\end{minipage}
\end{figure}
\end{document}
"""),
        "plots/phase.eps": media.eps("2001.00004/phase", (0, 0, 300, 200)),
        "plots/spectrum_atend.eps": media.eps("2001.00004/spectrum", (50, 60, 350, 260), atend=True),
        "plots/left.png": media.png_rgb("2001.00004/left", (320, 240)),
        "plots/right.png": media.png_rgb("2001.00004/right", (320, 240)),
    })


def paper_2001_00005() -> Paper:
    """A member whose gzip stream is cut short: the paper is skipped, its neighbours are not."""
    good = media.gzip_bytes(media.tar_bytes({"x.tex": b"\\documentclass{article}\n" * 200}))
    return Paper("2001.00005", raw_gz=good[: len(good) // 2])


def paper_2001_00006() -> Paper:
    """Bad figures beside good ones: a corrupt PNG, an icon below min_size, a too-short caption."""
    return Paper("2001.00006", {
        "main.tex": _tex(r"""
\documentclass{article}
\usepackage{graphicx}
\begin{document}
\begin{figure}\includegraphics{broken.png}\caption{This image file is corrupt and must be skipped.}\end{figure}
\begin{figure}\includegraphics{good.jpg}\caption{A good JPEG figure next to a broken one.}\end{figure}
\begin{figure}\includegraphics{icon.png}\caption{A tiny icon that is below the minimum size.}\end{figure}
\begin{figure}\includegraphics{good2.png}\caption{Plot.}\end{figure}
\end{document}
"""),
        "broken.png": b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4,
        "good.jpg": media.jpeg_rgb("2001.00006/good", (500, 375)),
        "icon.png": media.png_rgb("2001.00006/icon", (16, 16)),
        "good2.png": media.png_rgb("2001.00006/good2", (300, 300)),
    })


def paper_2002_00001() -> Paper:
    """Planted contamination: near-duplicates of the four evaluation images, next to a clean figure."""
    eval_figs = [media.near_duplicates(media.eval_image(i)) for i in range(media.EVAL_IMAGES)]
    files = {
        "main.tex": _tex(r"""
\documentclass{article}
\usepackage{graphicx}
\begin{document}
\begin{figure}\includegraphics{planted_resized.png}\caption{A benchmark photograph, resized for the paper.}\end{figure}
\begin{figure}\includegraphics{planted_q70.jpg}\caption{A benchmark photograph, re-encoded as a lossy JPEG.}\end{figure}
\begin{figure}\includegraphics{planted_crop.png}\caption{A benchmark photograph with its borders cropped.}\end{figure}
\begin{figure}\includegraphics{planted_gray.png}\caption{A benchmark photograph converted to grayscale.}\end{figure}
\begin{figure}\includegraphics{clean.png}\caption{Our own measurement, which no benchmark contains.}\end{figure}
\end{document}
"""),
        "planted_resized.png": eval_figs[0]["resized"],
        "planted_q70.jpg": eval_figs[1]["jpeg70"],
        "planted_crop.png": eval_figs[2]["crop"],
        "planted_gray.png": eval_figs[3]["gray"],
        "clean.png": media.png_rgb("2002.00001/clean", (500, 400)),
    }
    return Paper("2002.00001", files)


_LOGO = None


def _logo() -> bytes:
    global _LOGO
    if _LOGO is None:
        _LOGO = media.png_rgb("2002/shared-logo", (300, 120))
    return _LOGO


def _logo_paper(paper_id: str, own: str) -> Paper:
    """Two papers reuse the same figure with the same caption (an exact duplicate across papers)."""
    return Paper(paper_id, {
        "main.tex": _tex(r"""
\documentclass{article}
\usepackage{graphicx}
\begin{document}
\begin{figure}\includegraphics{logo.png}\caption{Logo of the consortium that funded this work.}\end{figure}
\begin{figure}\includegraphics{own.png}\caption{OWN}\end{figure}
\end{document}
""".replace("OWN", own)),
        "logo.png": _logo(),
        "own.png": media.png_rgb(f"{paper_id}/own", (400, 300)),
    })


def paper_2002_00002() -> Paper:
    return _logo_paper("2002.00002", "Results of the first consortium study.")


def paper_2002_00003() -> Paper:
    return _logo_paper("2002.00003", "Results of the second consortium study.")


TARBALLS: dict[str, list] = {
    "arXiv_src_9901_001": [paper_9901_001, paper_9901_002, paper_9901_003],
    "arXiv_src_2001_001": [paper_2001_00001, paper_2001_00002, paper_2001_00003],
    "arXiv_src_2001_002": [paper_2001_00004, paper_2001_00005, paper_2001_00006],
    "arXiv_src_2002_001": [paper_2002_00001, paper_2002_00002, paper_2002_00003],
}


def _member(paper: Paper, yymm: str) -> tuple[str, bytes]:
    if paper.pdf_only is not None:
        return f"{yymm}/{paper.paper_id}.pdf", paper.pdf_only
    if paper.raw_gz is not None:
        return f"{yymm}/{paper.paper_id}.gz", paper.raw_gz
    if paper.single is not None:
        return f"{yymm}/{paper.paper_id}.gz", media.gzip_bytes(paper.single)
    return f"{yymm}/{paper.paper_id}.gz", media.gzip_bytes(media.tar_bytes(paper.files))


def build_tarball(papers: list[Paper], yymm: str) -> bytes:
    return media.tar_bytes(dict(_member(p, yymm) for p in papers))


def write_arxiv_sample(outdir: str | Path) -> list[Path]:
    root = Path(outdir) / "arxiv" / "src"
    root.mkdir(parents=True, exist_ok=True)
    written = []
    entries = []
    for name, makers in TARBALLS.items():
        yymm = name.split("_")[2]
        seq = int(name.split("_")[3])
        papers = [make() for make in makers]
        data = build_tarball(papers, yymm)
        path = root / f"{name}.tar"
        atomic_write_bytes(path, data)
        written.append(path)
        ids = sorted((p.paper_id for p in papers), key=id_sort_key)
        entries.append({
            "content_md5sum": hashlib.md5(data).hexdigest(), "filename": f"src/{name}.tar",
            "first_item": ids[0], "last_item": ids[-1], "md5sum": hashlib.md5(data).hexdigest(),
            "num_items": len(ids), "seq_num": seq, "size": len(data), "timestamp": "2020-01-01 00:00:00",
            "yymm": yymm,
        })
    manifest = root / "arXiv_src_manifest.xml"
    atomic_write_bytes(manifest, manifest_xml(entries))
    written.append(manifest)
    return written
