"""Figures of a LaTeX document: which graphic goes with which caption.

Only the regions that can hold figures are parsed (floats, and the group around each \\captionof):
pylatexenc is thorough but slow on a whole paper, and the rest of the text cannot change the pairing.

Pairing, inside one float (the rules in one place):
- a sub-unit (``subfigure`` environment, ``\\subfloat``/``\\subfigure``, ``\\subcaptionbox``, or a
  ``minipage`` holding a ``\\subcaption``) gives its graphics its subcaption, labelled (a), (b), ... in
  document order as LaTeX numbers them, plus the main caption of the scope around it;
- a ``minipage`` (any environment or group) with its own ``\\caption`` is a figure of its own;
- otherwise wrappers (center, \\resizebox, \\centerline, tabular, ...) are transparent;
- with one main caption every graphic of the scope gets it; with several, a graphic takes the first
  caption after it (LaTeX captions usually follow the image), or the last one;
- several graphics with subcaptions: zipped in order when the counts agree, else by position;
- graphics in tables, and graphics outside floats without \\captionof, are not samples.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from pylatexenc.latexwalker import (
    LatexEnvironmentNode,
    LatexGroupNode,
    LatexMacroNode,
    LatexMathNode,
    LatexWalker,
    LatexWalkerError,
)

from sciclip.sources.arxiv.graphics_extensions import Change, extension_changes
from sciclip.sources.arxiv.graphics_paths import graphics_search_at, graphics_search_events
from sciclip.sources.arxiv.latex_regions import GRAPHIC_USE_RE, figure_regions
from sciclip.sources.arxiv.tex_source import (
    SourceTree,
    blank_import_marks,
    document_body,
    find_main_files,
    inline_inputs,
)
from sciclip.text.latex_context import (
    FIGURE_CAPTION_TYPES,
    GRAPHIC_MACROS,
    STRUCTURAL,
    SUB_ENVS,
    TABLE_ENVS,
    VERBATIM_ENVS,
    context_db,
)
from sciclip.text.latex_macros import Macro, collect_macros, expand_macros

log = logging.getLogger(__name__)

_DB = context_db()


@dataclass
class GraphicRef:
    name: str  # as written in the source
    macro: str
    pos: int


@dataclass
class FigureCandidate:
    """One image reference with the caption(s) LaTeX would print for it."""

    image_ref: str
    caption_latex: str | None
    subcaption_latex: str | None
    sublabel: str | None  # "(a)", "(b)", ... for subfigures
    figure_label: str
    env: str
    main_tex: str
    figure_index: int  # 1-based, per main file, in document order
    graphic_index: int  # 0-based within the figure
    graphicspath: list[str] = field(default_factory=list)  # where graphics looks besides the working directory
    region: tuple[int, int] = (0, 0)  # the float's span in DocumentFigures.body (documents place it there)
    imported: bool = False  # inside a file read with \import & co: its directories before the working one
    extension_changes: tuple[Change, ...] = ()  # the paper's changes to the driver's extension list so far


@dataclass
class _Caption:
    pos: int
    latex: str
    letter: str | None = None


@dataclass
class _Scope:
    kind: str  # root | sub | box | table
    pos: int
    graphics: list[GraphicRef] = field(default_factory=list)
    captions: list[_Caption] = field(default_factory=list)
    subcaps: list[_Caption] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    children: list["_Scope"] = field(default_factory=list)
    env: str = ""


@dataclass
class DocumentFigures:
    candidates: list[FigureCandidate]
    macros: dict[str, Macro]
    counts: dict[str, int]  # e.g. table_graphic, uncaptioned_graphic, latex_parse_error
    body: str = ""  # the document body the candidates' regions index (structural macros expanded)


def arg_latex(node) -> str | None:
    """Source text of a macro argument, without the braces/brackets around it."""
    if node is None:
        return None
    if isinstance(node, LatexGroupNode):
        return "".join(n.latex_verbatim() for n in node.nodelist)
    return node.latex_verbatim()


class _Walker:
    def __init__(self) -> None:
        self.letter = 0

    def next_letter(self) -> str:
        self.letter += 1
        n = self.letter
        s = ""
        while n:
            n, r = divmod(n - 1, 26)
            s = chr(ord("a") + r) + s
        return f"({s})"

    def walk(self, nodes, scope: _Scope) -> None:
        for node in nodes or []:
            if node is None:
                continue
            if isinstance(node, LatexMacroNode):
                self._macro(node, scope)
            elif isinstance(node, LatexEnvironmentNode):
                self._env(node, scope)
            elif isinstance(node, LatexGroupNode):
                child = _Scope("box", node.pos)
                self.walk(node.nodelist, child)
                scope.children.append(child)
            elif isinstance(node, LatexMathNode):
                continue

    def _args(self, node):
        return node.nodeargd.argnlist if node.nodeargd is not None else []

    def _macro(self, node: LatexMacroNode, scope: _Scope) -> None:
        name = node.macroname
        args = self._args(node)
        if name in GRAPHIC_MACROS:
            for ref in graphic_names(name, [arg_latex(a) for a in args]):
                scope.graphics.append(GraphicRef(ref, name, node.pos))
            return
        if name in ("caption", "captionof"):
            if name == "captionof":
                kind = (arg_latex(args[1]) or "").strip() if len(args) > 1 else ""
                if kind not in FIGURE_CAPTION_TYPES:
                    scope.kind = "table" if scope.kind == "box" else scope.kind
                    if kind.startswith("table"):
                        scope.captions.append(_Caption(node.pos, "\0table"))
                    return
            body = arg_latex(args[-1]) if args else None
            if body is None:
                return
            self._labels_in(args[-1], scope)
            if scope.kind == "sub":
                scope.subcaps.append(_Caption(node.pos, body, self.next_letter()))
            else:
                scope.captions.append(_Caption(node.pos, body))
            return
        if name == "subcaption":
            body = arg_latex(args[-1]) if args else None
            if body is not None:
                self._labels_in(args[-1], scope)
                scope.subcaps.append(_Caption(node.pos, body, self.next_letter()))
            return
        if name in ("subfloat", "subfigure", "subtable", "sidesubfloat"):
            child = _Scope("sub", node.pos)
            opts = [a for a in args[:2] if a is not None]
            if opts:
                # subfig/subfigure: with two optional arguments the second is the caption
                child.subcaps.append(_Caption(node.pos, arg_latex(opts[-1]) or "", self.next_letter()))
                self._labels_in(opts[-1], child)
            self.walk([args[2]] if len(args) > 2 and args[2] is not None else [], child)
            scope.children.append(child)
            return
        if name == "subcaptionbox":
            child = _Scope("sub", node.pos)
            cap = args[2] if len(args) > 2 else None
            if cap is not None:
                child.subcaps.append(_Caption(node.pos, arg_latex(cap) or "", self.next_letter()))
                self._labels_in(cap, child)
            self.walk([args[-1]] if args and args[-1] is not None else [], child)
            scope.children.append(child)
            return
        if name == "label":
            if args and args[0] is not None:
                scope.labels.append((arg_latex(args[0]) or "").strip())
            return
        # wrappers: \resizebox{..}{..}{BODY}, \centerline{BODY}, \parbox{w}{BODY}, unknown macros...
        for a in args:
            if isinstance(a, (LatexGroupNode, LatexMacroNode, LatexEnvironmentNode)):
                self.walk([a] if not isinstance(a, LatexGroupNode) else a.nodelist, scope)

    def _labels_in(self, node, scope: _Scope) -> None:
        if node is None:
            return
        text = node.latex_verbatim()
        for m in re.finditer(r"\\label\s*\{([^{}]*)\}", text):
            scope.labels.append(m.group(1).strip())

    def _env(self, node: LatexEnvironmentNode, scope: _Scope) -> None:
        name = node.environmentname
        if name in VERBATIM_ENVS:
            return
        if name in SUB_ENVS:
            child = _Scope("sub", node.pos, env=name)
        elif name in TABLE_ENVS:
            child = _Scope("table", node.pos, env=name)
        else:
            child = _Scope("box", node.pos, env=name)
        self.walk(node.nodelist, child)
        scope.children.append(child)


def graphic_names(macro: str, args: list[str | None]) -> list[str]:
    """File names referenced by one graphics macro, given its parsed arguments."""
    if macro in ("includegraphics", "includegraphicx"):
        return [args[-1]] if args and args[-1] else []
    if macro in ("epsfbox", "epsffile"):
        return [args[-1]] if args and args[-1] else []
    if macro in ("plotone", "plotfiddle"):
        return [args[0]] if args and args[0] else []
    if macro == "plottwo":
        return [a for a in args[:2] if a]
    if macro in ("epsfig", "psfig"):
        spec = args[0] or "" if args else ""
        m = re.search(r"(?:^|,)\s*(?:file|figure)\s*=\s*([^,]+)", spec)
        return [m.group(1).strip()] if m else []
    return []


def _flatten(scope: _Scope) -> None:
    """Make caption-less boxes transparent: their content joins the scope around them."""
    for child in scope.children:
        _flatten(child)
    new_children: list[_Scope] = []
    for child in scope.children:
        if child.kind == "box" and not child.captions:
            scope.graphics.extend(child.graphics)
            scope.subcaps.extend(child.subcaps)
            scope.labels.extend(child.labels)
            new_children.extend(child.children)
        else:
            new_children.append(child)
    scope.children = new_children
    scope.graphics.sort(key=lambda g: g.pos)
    scope.subcaps.sort(key=lambda c: c.pos)
    scope.children.sort(key=lambda c: c.pos)


def _pick(caps: list[_Caption], pos: int) -> _Caption | None:
    if not caps:
        return None
    if len(caps) == 1:
        return caps[0]
    for c in caps:
        if c.pos > pos:
            return c
    return caps[-1]


@dataclass
class _Pair:
    graphic: GraphicRef
    main: _Caption | None
    sub: _Caption | None
    label: str


def _resolve(scope: _Scope, inherited: _Caption | None, inherited_label: str, out: list[_Pair],
             counts: dict[str, int]) -> None:
    if scope.kind == "table" or any(c.latex == "\0table" for c in scope.captions):
        counts["table_graphic"] = counts.get("table_graphic", 0) + _count_graphics(scope)
        return
    mains = [c for c in scope.captions if c.latex != "\0table"]
    label = scope.labels[0] if scope.labels else inherited_label
    subcaps = scope.subcaps
    zipped = len(subcaps) > 1 and len(subcaps) == len(scope.graphics)
    for i, g in enumerate(scope.graphics):
        main = _pick(mains, g.pos) if mains else inherited
        if zipped:
            sub = subcaps[i]
        else:
            sub = _pick([c for c in subcaps if c.pos > g.pos] or subcaps, g.pos) if subcaps else None
        out.append(_Pair(g, main, sub, label))
    for child in scope.children:
        if child.kind == "box":  # a box with its own caption: an independent figure
            _resolve(child, None, "", out, counts)
        else:
            _resolve(child, _pick(mains, child.pos) if mains else inherited, label, out, counts)


def _count_graphics(scope: _Scope) -> int:
    return len(scope.graphics) + sum(_count_graphics(c) for c in scope.children)


def parse_region(text: str) -> _Scope:
    walker = LatexWalker(text, latex_context=_DB, tolerant_parsing=True)
    nodes, _, _ = walker.get_latex_nodes(pos=0)
    root = _Scope("root", 0)
    w = _Walker()
    # the region is one environment (or a group): walk inside it, so its caption is the root's
    if len(nodes) == 1 and isinstance(nodes[0], (LatexEnvironmentNode, LatexGroupNode)):
        node = nodes[0]
        if isinstance(node, LatexEnvironmentNode):
            root.env = node.environmentname
            if root.env in TABLE_ENVS:
                root.kind = "table"
        w.walk(node.nodelist, root)
    else:
        w.walk(nodes, root)
    return root


def figures_in_text(text: str, main_tex: str = "main.tex",
                    structural_macros: bool = True) -> DocumentFigures:
    """Figure candidates of one inlined, comment-free LaTeX document."""
    macros = collect_macros(text)
    for name in STRUCTURAL:
        macros.pop(name, None)
    preamble, body = document_body(text)
    if structural_macros:
        structural = {n for n, mac in macros.items()
                      if re.search(r"\\(?:" + "|".join(STRUCTURAL) + r")(?![A-Za-z@])", mac.body)}
        body = expand_macros(body, macros, only=structural)
    start_paths, _ = graphics_search_at(graphics_search_events(preamble), len(preamble), [])
    body_events = graphics_search_events(body)
    start_exts = [c for _, c in extension_changes(preamble)]
    body_exts = extension_changes(body)
    body = blank_import_marks(body)
    counts: dict[str, int] = {}
    regions, loose = figure_regions(body)
    if loose:
        counts["uncaptioned_graphic"] = loose
    candidates: list[FigureCandidate] = []
    fig_index = 0
    for env, s, e in regions:
        if env in TABLE_ENVS:
            n = len(GRAPHIC_USE_RE.findall(body, s, e))
            if n:
                counts["table_graphic"] = counts.get("table_graphic", 0) + n
            continue
        if not GRAPHIC_USE_RE.search(body, s, e):
            continue  # no graphic, no candidate: spare the parse (a tikz or pgfplots figure costs most)
        try:
            root = parse_region(body[s:e])
        except (LatexWalkerError, IndexError, RecursionError) as exc:
            counts["latex_parse_error"] = counts.get("latex_parse_error", 0) + 1
            log.info("%s: figure at offset %d could not be parsed: %s", main_tex, s, exc)
            continue
        _flatten(root)
        pairs: list[_Pair] = []
        _resolve(root, None, "", pairs, counts)
        if not pairs:
            continue
        fig_index += 1
        for gi, p in enumerate(pairs):
            at = s + p.graphic.pos
            dirs, imported = graphics_search_at(body_events, at, start_paths)
            candidates.append(FigureCandidate(
                image_ref=p.graphic.name,
                caption_latex=p.main.latex if p.main else None,
                subcaption_latex=p.sub.latex if p.sub else None,
                sublabel=p.sub.letter if p.sub else None,
                figure_label=p.label,
                env=root.env or env,
                main_tex=main_tex,
                figure_index=fig_index,
                graphic_index=gi,
                graphicspath=dirs,
                region=(s, e),
                imported=imported,
                extension_changes=tuple(start_exts + [c for pos, c in body_exts if pos < at]),
            ))
    return DocumentFigures(candidates, macros, counts, body)


def paper_figures(tree: SourceTree) -> tuple[list[tuple[PurePosixPath, DocumentFigures]], list[PurePosixPath]]:
    """Figures of every main file of a paper (a paper may have several, e.g. paper + supplement)."""
    mains = find_main_files(tree)
    docs = []
    for main in mains:
        text = inline_inputs(tree, main)
        docs.append((main, figures_in_text(text, str(main))))
    return docs, mains
