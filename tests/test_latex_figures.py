"""Pairing of graphics with captions, case by case, on small LaTeX documents."""

from __future__ import annotations

from sciclip.sources.arxiv.latex_figures import figures_in_text, graphic_names
from sciclip.text.captions import compose_caption
from sciclip.text.latex import latex_to_text


def doc(body: str, preamble: str = "") -> str:
    return "\\documentclass{article}\n" + preamble + "\n\\begin{document}\n" + body + "\n\\end{document}\n"


def pairs(text: str, mode: str = "combine") -> list[tuple[str, str]]:
    """(image reference, final caption text) of every candidate."""
    figs = figures_in_text(text)
    out = []
    for c in figs.candidates:
        main = latex_to_text(c.caption_latex, figs.macros) if c.caption_latex is not None else None
        sub = latex_to_text(c.subcaption_latex, figs.macros) if c.subcaption_latex is not None else None
        out.append((c.image_ref, compose_caption(main, sub, c.sublabel, mode)))
    return out


def test_plain_figure_in_center():
    text = doc(r"""
\begin{figure}[t]
\begin{center}
\includegraphics[width=\linewidth]{a.png}
\end{center}
\caption{A plain figure.}\label{fig:a}
\end{figure}""")
    figs = figures_in_text(text)
    assert [(c.image_ref, c.caption_latex, c.figure_label, c.env) for c in figs.candidates] == [
        ("a.png", "A plain figure.", "fig:a", "figure")]


def test_figure_star_wrapfigure_and_wrappers():
    text = doc(r"""
\begin{figure*}\centering\resizebox{\textwidth}{!}{\includegraphics{wide}}\caption{Wide one.}\end{figure*}
\begin{wrapfigure}{r}{0.4\textwidth}\centerline{\includegraphics[width=3cm]{wrapped.pdf}}
\caption{Wrapped one.}\end{wrapfigure}
\begin{figure}\scalebox{0.5}{\fbox{\includegraphics{boxed}}}\caption{Boxed one.}\end{figure}""")
    assert pairs(text) == [("wide", "Wide one."), ("wrapped.pdf", "Wrapped one."), ("boxed", "Boxed one.")]
    envs = [c.env for c in figures_in_text(text).candidates]
    assert envs == ["figure*", "wrapfigure", "figure"]


def test_subcaption_environments_and_modes():
    text = doc(r"""
\begin{figure}
\begin{subfigure}[b]{0.4\textwidth}\includegraphics{l}\caption{Left}\label{fig:l}\end{subfigure}
\begin{subfigure}[b]{0.4\textwidth}\includegraphics{r}\caption{Right part.}\end{subfigure}
\caption{Both parts.}\label{fig:both}
\end{figure}""")
    assert pairs(text) == [("l", "(a) Left. Both parts."), ("r", "(b) Right part. Both parts.")]
    assert pairs(text, "sub") == [("l", "(a) Left"), ("r", "(b) Right part.")]
    assert pairs(text, "main") == [("l", "Both parts."), ("r", "Both parts.")]
    labels = [c.figure_label for c in figures_in_text(text).candidates]
    assert labels == ["fig:l", "fig:both"]


def test_subcaption_in_minipages_and_letters_restart_per_figure():
    text = doc(r"""
\begin{figure}
\begin{minipage}{.5\linewidth}\includegraphics{a}\subcaption{First}\end{minipage}
\begin{minipage}{.5\linewidth}\includegraphics{b}\subcaption{Second}\end{minipage}
\caption{Pair one.}
\end{figure}
\begin{figure}
\begin{minipage}{.5\linewidth}\includegraphics{c}\subcaption{Third}\end{minipage}
\caption{Pair two.}
\end{figure}""")
    assert pairs(text) == [("a", "(a) First. Pair one."), ("b", "(b) Second. Pair one."),
                           ("c", "(a) Third. Pair two.")]


def test_subfloat_one_and_two_optional_arguments():
    text = doc(r"""
\begin{figure}
\subfloat[One arg]{\includegraphics{p}}
\subfloat[List entry][Two args]{\centerline{\includegraphics{q}}}
\subfloat{\includegraphics{r}}
\caption{Subfig figure.}
\end{figure}""")
    assert pairs(text) == [("p", "(a) One arg. Subfig figure."), ("q", "(b) Two args. Subfig figure."),
                           ("r", "Subfig figure.")]


def test_subfigure_package_macro_and_subcaptionbox():
    text = doc(r"""
\begin{figure}
\subfigure[Old style]{\includegraphics{s1}}
\subcaptionbox{Boxed sub\label{fig:bx}}{\includegraphics{s2}}
\caption{Mixed.}
\end{figure}""")
    assert pairs(text) == [("s1", "(a) Old style. Mixed."), ("s2", "(b) Boxed sub. Mixed.")]


def test_minipages_with_own_captions_are_separate_figures():
    text = doc(r"""
\begin{figure}
\begin{minipage}{0.5\textwidth}\includegraphics{left}\caption{Left caption.}\end{minipage}%
\begin{minipage}{0.5\textwidth}\includegraphics{right}\caption{Right caption.}\end{minipage}
\end{figure}""")
    assert pairs(text) == [("left", "Left caption."), ("right", "Right caption.")]


def test_several_images_share_one_caption_and_sequential_captions():
    text = doc(r"""
\begin{figure}\includegraphics{x}\includegraphics{y}\caption{Shared.}\end{figure}
\begin{figure}
\includegraphics{first}\caption{After first.}
\includegraphics{second}\caption{After second.}
\end{figure}""")
    assert pairs(text) == [("x", "Shared."), ("y", "Shared."), ("first", "After first."),
                           ("second", "After second.")]


def test_caption_above_graphic():
    text = doc(r"\begin{figure}\caption{Caption on top.}\includegraphics{below}\end{figure}")
    assert pairs(text) == [("below", "Caption on top.")]


def test_tables_are_not_samples_and_are_counted():
    text = doc(r"""
\begin{table}\begin{tabular}{c}\includegraphics{icon}\end{tabular}\caption{A table.}\end{table}
\begin{figure}\includegraphics{fig}\caption{A figure.}\end{figure}""")
    figs = figures_in_text(text)
    assert [c.image_ref for c in figs.candidates] == ["fig"]
    assert figs.counts["table_graphic"] == 1


def test_captionof_inside_a_group_outside_floats():
    text = doc(r"""
Some text.
\begin{itemize}
\item Steps shown here.\par
  {\centering \includegraphics[width=0.7\textwidth]{steps.png}
   \captionof{figure}{\href{http://x.org/a\%28b}{Integral steps of $\tan (x)$}.}\label{fig:steps}}
\end{itemize}
\begin{minipage}{\linewidth}\includegraphics{tab.png}\captionof{table}{Not a figure.}\end{minipage}
\includegraphics{inline-logo}""")
    figs = figures_in_text(text)
    assert pairs(text) == [("steps.png", "Integral steps of tan (x).")]
    assert figs.candidates[0].figure_label == "fig:steps"
    assert figs.counts.get("uncaptioned_graphic") == 1


def test_commented_and_disabled_figures_are_ignored():
    from sciclip.sources.arxiv.tex_source import clean_tex

    text = clean_tex(doc(r"""
% \begin{figure}\includegraphics{c1}\caption{Commented out.}\end{figure}
%\begin{figure}[H]
%\includegraphics{c2}
%\caption{Commented line by line.}
%\end{figure}
\iffalse
\begin{figure}\includegraphics{c3}\caption{In iffalse.}\end{figure}
\fi
\begin{comment}
\begin{figure}\includegraphics{c4}\caption{In a comment environment.}\end{figure}
\end{comment}
\begin{figure}\includegraphics{live}\caption{Live 100\% figure.} % trailing comment
\end{figure}"""))
    assert pairs(text) == [("live", "Live 100% figure.")]


def test_verbatim_does_not_open_figures():
    text = doc(r"""
\begin{verbatim}
\begin{figure}\includegraphics{fake}\caption{Not real.}\end{figure}
\end{verbatim}
\begin{figure}\includegraphics{real}\caption{Real figure.}\end{figure}""")
    assert pairs(text) == [("real", "Real figure.")]


def test_figure_without_image_gives_nothing_and_without_caption_has_none():
    text = doc(r"""
\begin{figure}\begin{tikzpicture}\draw (0,0) -- (1,1);\end{tikzpicture}\caption{Tikz only.}\end{figure}
\begin{figure}\includegraphics{nocap}\end{figure}""")
    figs = figures_in_text(text)
    assert [(c.image_ref, c.caption_latex) for c in figs.candidates] == [("nocap", None)]


def test_graphic_macro_forms():
    text = doc(r"""
\begin{figure}\includegraphics*[viewport=0 0 10 10]{star}\caption{Star form.}\end{figure}
\begin{figure}\includegraphics[width=.4\textwidth]
    {split/over/lines.pdf}\caption{Split arguments.}\end{figure}
\begin{figure}\epsfig{file=old.eps,width=8cm}\caption{epsfig form.}\end{figure}
\begin{figure}\psfig{figure=older.ps,height=3in}\caption{psfig form.}\end{figure}
\begin{figure}\epsfbox{box.eps}\caption{epsfbox form.}\end{figure}
\begin{figure}\plotone{f1.eps}\caption{plotone form.}\end{figure}
\begin{figure}\plottwo{f2a.eps}{f2b.eps}\caption{plottwo form.}\end{figure}""")
    assert [ref for ref, _ in pairs(text)] == ["star", "split/over/lines.pdf", "old.eps", "older.ps", "box.eps",
                                               "f1.eps", "f2a.eps", "f2b.eps"]


def test_graphic_names_parses_epsfig_keys():
    assert graphic_names("epsfig", ["file=a.eps, width=3cm"]) == ["a.eps"]
    assert graphic_names("psfig", ["width=3cm,figure=b.ps"]) == ["b.ps"]
    assert graphic_names("epsfig", ["width=3cm"]) == []


def test_paper_macros_wrapping_figures_are_expanded():
    text = doc(r"""
\myfig{plots/a.png}{A figure from a macro with \emph{markup}.}
""", preamble=r"\newcommand{\myfig}[2]{\begin{figure}\includegraphics{#1}\caption{#2}\end{figure}}")
    assert pairs(text) == [("plots/a.png", "A figure from a macro with markup.")]


def test_caption_short_form_and_nested_braces_and_macros():
    text = doc(r"""
\begin{figure}\includegraphics{m}
\caption[Short]{Long with \kepler\ data and {nested {braces}} and \Fig{x}.}
\end{figure}""", preamble=r"""\newcommand{\project}[1]{\textsf{#1}}
\newcommand{\kepler}{\project{Kepler}}
\newcommand{\Fig}[1]{Figure~\ref{fig:#1}}""")
    assert pairs(text) == [("m", "Long with Kepler data and nested braces and Figure <ref>.")]


def test_graphicspath_is_recorded():
    text = doc(r"\begin{figure}\includegraphics{a}\caption{With a path.}\end{figure}",
               preamble=r"\graphicspath{{figs/}{more/}}")
    assert figures_in_text(text).candidates[0].graphicspath == ["figs/", "more/"]


def test_images_in_tikz_nodes_are_the_figures_images():
    text = doc(r"""
\begin{figure*}
\begin{subfigure}{0.3\textwidth}\includegraphics{loss}\caption{Loss}\end{subfigure}
\begin{subfigure}{0.3\textwidth}\includegraphics{acc}\caption{Accuracy}\end{subfigure}
\begin{tikzpicture}\node[anchor=south west,inner sep=0] at (0,0) {\includegraphics[width=2cm]{legend}};
\draw (0,0) -- (1,1);\end{tikzpicture}
\caption{Curves with a shared legend.}
\end{figure*}
\begin{figure}\tikz \node {\includegraphics{sketch}}; \caption{A tikz command.}\end{figure}
\begin{figure}\begin{tikzpicture}\begin{axis}\addplot coordinates {(0,0) (1,1)};\end{axis}\end{tikzpicture}
\caption{A pgfplots figure: no image.}\end{figure}""")
    assert sorted(pairs(text)) == [("acc", "(b) Accuracy. Curves with a shared legend."),
                                   ("legend", "Curves with a shared legend."),
                                   ("loss", "(a) Loss. Curves with a shared legend."),
                                   ("sketch", "A tikz command.")]
