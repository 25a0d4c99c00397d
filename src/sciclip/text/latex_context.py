"""What pylatexenc must know about the LaTeX of papers: figure, table and verbatim environments, graphics
macros and their arguments. Shared by figure pairing (arXiv) and caption/text conversion."""

from __future__ import annotations

from pylatexenc.latexwalker import get_default_latex_context_db
from pylatexenc.macrospec import EnvironmentSpec, VerbatimArgsParser, std_environment, std_macro

FIGURE_ENVS = {"figure", "figure*", "wrapfigure", "wrapfigure*", "SCfigure", "SCfigure*", "sidewaysfigure",
               "sidewaysfigure*", "floatingfigure", "figwindow", "widefigure",
               "fullwidthfigure", "marginfigure", "teaserfigure"}
TABLE_ENVS = {"table", "table*", "wraptable", "wraptable*", "sidewaystable", "sidewaystable*", "SCtable",
              "SCtable*", "floatingtable", "margintable", "longtable", "algorithm", "algorithm*", "listing"}
SUB_ENVS = {"subfigure", "subfigure*", "subfloat"}
VERBATIM_ENVS = {"verbatim", "verbatim*", "lstlisting", "minted", "Verbatim", "comment", "alltt", "filecontents",
                 "filecontents*"}
# tikzpicture/pgfpicture are not verbatim: a panel or legend placed with \node{\includegraphics{..}} is
# one of the figure's images.
GRAPHIC_MACROS = {"includegraphics", "epsfig", "psfig", "epsfbox", "epsffile", "plotone", "plottwo",
                  "plotfiddle", "includegraphicx", "epsfxsize"}
# Macros our parser interprets: papers redefining them are not expanded over them.
STRUCTURAL = GRAPHIC_MACROS | {"caption", "captionof", "subcaption", "subfloat", "subfigure", "subcaptionbox",
                               "label", "begin", "end"}
FIGURE_CAPTION_TYPES = {"figure", "figure*", "subfigure"}


def context_db():
    db = get_default_latex_context_db()
    macros = [
        std_macro("includegraphics", "*[[{"),
        std_macro("epsfig", "{"), std_macro("psfig", "{"), std_macro("epsfbox", "[{"), std_macro("epsffile", "[{"),
        std_macro("plotone", "{"), std_macro("plottwo", "{{"), std_macro("plotfiddle", "{{{{{{{"),
        std_macro("caption", "*[{"), std_macro("subcaption", "*[{"), std_macro("captionof", "*{[{"),
        std_macro("subcaptionbox", "*[{[[{"), std_macro("subfloat", "[[{"), std_macro("subfigure", "[[{"),
        std_macro("subtable", "[[{"), std_macro("sidesubfloat", "[[{"),
        std_macro("label", "{"), std_macro("graphicspath", "{"), std_macro("captionsetup", "[{"),
        std_macro("resizebox", "*{{{"), std_macro("scalebox", "{[{"), std_macro("rotatebox", "[{{"),
        std_macro("centerline", "{"), std_macro("parbox", "[[[{{"), std_macro("makebox", "[[{"),
        std_macro("framebox", "[[{"), std_macro("fbox", "{"), std_macro("raisebox", "{[[{"),
        std_macro("adjustbox", "{{"), std_macro("href", "{{"), std_macro("hyperref", "[{"),
        std_macro("vskip", ""), std_macro("hskip", ""), std_macro("vspace", "*{"), std_macro("hspace", "*{"),
        std_macro("setlength", "{{"), std_macro("addtolength", "{{"),
    ]
    envs = [
        std_environment("figure", "["), std_environment("figure*", "["), std_environment("wrapfigure", "[{[{"),
        std_environment("wrapfigure*", "[{[{"), std_environment("SCfigure", "[["),
        std_environment("subfigure", "[[[{"), std_environment("subfigure*", "[[[{"),
        std_environment("minipage", "[[[{"), std_environment("table", "["), std_environment("table*", "["),
        std_environment("wraptable", "[{[{"), std_environment("tabular", "[{"), std_environment("tabular*", "{[{"),
        std_environment("tabularx", "{[{"), std_environment("adjustbox", "{"),
        EnvironmentSpec("lstlisting", args_parser=VerbatimArgsParser(verbatim_arg_type="verbatim-environment")),
        EnvironmentSpec("Verbatim", args_parser=VerbatimArgsParser(verbatim_arg_type="verbatim-environment")),
        EnvironmentSpec("minted", args_parser=VerbatimArgsParser(verbatim_arg_type="verbatim-environment")),
    ]
    db.add_context_category("sciclip-figures", prepend=True, macros=macros, environments=envs)
    return db
