"""One LaTeX main file as an interleaved document: title, abstract, headings, paragraphs and figures in order.

The figures are the pair extraction's own (``figures_in_text``: the same pairing, graphics resolution and
caption text), placed at the float's position in the body, or (``figure_placement: first_ref``) after the
paragraph that first references the figure's label, as MINT-1T places arXiv figures. A figure is its images
in order, each followed by its subcaption when it has one, then its caption. Text goes through the captions'
converter (``latex_to_text``: the paper's macros expanded, math as unicode where possible).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from sciclip.docs.model import Block, ImageBlock, TextBlock
from sciclip.sources.arxiv.graphics_paths import figure_graphic
from sciclip.sources.arxiv.latex_figures import FigureCandidate, figures_in_text
from sciclip.sources.arxiv.latex_spans import Span, body_spans, last_group, piece_content, title_of
from sciclip.sources.arxiv.tex_source import SourceTree, document_body, inline_inputs
from sciclip.sources.options import DocOptions
from sciclip.text.captions import normalise_space
from sciclip.text.latex import latex_to_text
from sciclip.text.latex_macros import Macro, read_group, skip_space

# pylatexenc reports each tolerated parse error at INFO: on whole bodies (letters, exam classes) that is a
# line per paragraph, and the text is what it could read either way
logging.getLogger("pylatexenc.latexwalker").setLevel(logging.WARNING)

_PARA_RE = re.compile(r"\n[ \t]*\n\s*")
_REF_RE = re.compile(r"\\(?:ref|cref|Cref|autoref|subref|vref|Vref|nameref|cpageref|Autoref|fref|Fref)\*?"
                     r"\s*\{([^{}]*)\}")
_CAPTION_RE = re.compile(r"\\caption(?:of\s*\{[^{}]*\})?(?![A-Za-z@])")
_ITEM_RE = re.compile(r"\\item(?![A-Za-z@])")
_NESTED_LIST_RE = re.compile(r"\\(?:begin|end)\s*\{(?:itemize|enumerate|description|compactitem|compactenum)\}"
                             r"(?:\s*\[[^\]]*\])?")


@dataclass
class _Segment:
    """Consecutive blocks that move together (a figure) or stay (a paragraph), with their body span."""

    start: int
    end: int
    blocks: list[Block]
    figure_label: str = ""
    anchor: tuple = field(default_factory=tuple)


@dataclass
class LatexDocument:
    blocks: list[Block]
    figures: int  # figure floats with at least one image reference
    counts: dict[str, int]  # e.g. table_graphic, uncaptioned_graphic, latex_parse_error


class _Text:
    """LaTeX to text with the paper's macros and the configured reference/citation placeholders."""

    def __init__(self, macros: dict[str, Macro], opts: DocOptions) -> None:
        self.macros = macros
        self.opts = opts

    def __call__(self, latex: str) -> str:
        text = latex_to_text(latex, self.macros)
        if self.opts.ref_text != "<ref>":
            text = text.replace("<ref>", self.opts.ref_text)
        if self.opts.cite_text != "<cit.>":
            text = text.replace("<cit.>", self.opts.cite_text)
        if not (self.opts.ref_text and self.opts.cite_text):  # a dropped placeholder leaves a gap
            text = re.sub(r"\s+([,.;:)])", r"\1", normalise_space(text))
        return text


def caption_latex(region: str) -> str | None:
    """The first \\caption (or \\captionof) argument in a float's LaTeX."""
    for m in _CAPTION_RE.finditer(region):
        g = last_group(region, m.end())
        if g is not None:
            return g
    return None


def _without_captions(region: str) -> str:
    out, pos = [], 0
    for m in _CAPTION_RE.finditer(region):
        p = m.end() + (1 if region.startswith("*", m.end()) else 0)
        q = skip_space(region, p)
        while q < len(region) and region[q] == "[":
            g = read_group(region, q, "[", "]")
            if g is None:
                break
            q = skip_space(region, g[1])
        g = read_group(region, q)
        if g is None:
            continue
        out.append(region[pos:m.start()])
        pos = g[1]
    out.append(region[pos:])
    return "".join(out)


def list_text(inside: str, env: str, text: _Text) -> str:
    """A list as one line per item ("- " or "1. "), nested lists flattened into their items."""
    inside = _NESTED_LIST_RE.sub(" ", inside)
    parts = _ITEM_RE.split(inside)
    lines = []
    for n, part in enumerate(parts[1:], start=1):
        label = ""
        p = skip_space(part, 0)
        if part.startswith("[", p):
            g = read_group(part, p, "[", "]")
            if g is not None:
                label, part = text(g[0]), part[g[1]:]
        item = text(part)
        if not item and not label:
            continue
        bullet = f"{label}" if label else (f"{n}." if env in ("enumerate", "compactenum", "asparaenum") else "-")
        lines.append(f"{bullet} {item}".strip())
    lead = text(parts[0]) if parts else ""
    return "\n".join(([lead] if lead else []) + lines)


_BIBITEM_RE = re.compile(r"\\bibitem(?![A-Za-z@])\s*(?:\[[^\]]*\])?\s*(?:\{[^{}]*\})?")


def bibliography_text(inside: str, text: _Text) -> str:
    """A thebibliography environment as one line per \\bibitem (the widest-label argument and keys dropped)."""
    g = read_group(inside, skip_space(inside, 0))
    if g is not None:
        inside = inside[g[1]:]
    items = [text(part) for part in _BIBITEM_RE.split(inside)[1:]]
    return "\n".join(f"- {item}" for item in items if item)


class _Builder:
    def __init__(self, tree: SourceTree, main: PurePosixPath, opts: DocOptions, provenance, yymm: str = "") -> None:
        self.tree = tree
        self.main = main
        self.yymm = yymm  # the paper's month: which TeX Live arXiv compiled it with (graphics_extensions)
        self.opts = opts
        self.provenance = provenance  # source_path -> the image's URL (the ``images`` column)

    def figure_blocks(self, cands: list[FigureCandidate], region: str, text: _Text) -> list[Block]:
        """Images in order, each followed by its subcaption; a caption after the last image that carries it
        (a float of two captioned minipages gives image, caption, image, caption)."""
        blocks: list[Block] = []
        pending: str | None = None  # the caption of the images just emitted
        for c in cands:
            if c.caption_latex != pending and pending is not None:
                blocks.append(TextBlock(text(pending), "caption"))
            pending = c.caption_latex
            resolved = figure_graphic(self.tree, c, self.main.parent, self.yymm)
            path = str(resolved) if resolved is not None else ""
            meta = {"source_path": path, "image_ref": c.image_ref, "main_tex": c.main_tex,
                    "figure_index": c.figure_index, "figure_label": c.figure_label, "figure_env": c.env,
                    "graphic_index": c.graphic_index}
            blocks.append(ImageBlock(ref=path or c.image_ref,
                                     path=self.tree.path(resolved) if resolved is not None else None,
                                     url=self.provenance(path or c.image_ref), meta=meta,
                                     missing="" if resolved is not None else "graphic_not_found"))
            if c.subcaption_latex is not None:
                sub = text(c.subcaption_latex)
                if sub:
                    blocks.append(TextBlock(normalise_space(f"{c.sublabel or ''} {sub}"), "caption"))
        if pending is None:
            pending = caption_latex(region)
        if pending is not None:
            blocks.append(TextBlock(text(pending), "caption"))
        return blocks

    def span_blocks(self, span: Span, body: str, text: _Text) -> list[Block]:
        opts = self.opts
        region = body[span.start:span.end]
        if span.kind in ("table", "algorithm"):
            mode = opts.tables if span.kind == "table" else opts.algorithms
            if mode == "drop":
                return []
            cap = caption_latex(region)
            out = [TextBlock(text(cap), "caption")] if cap else []
            if mode == "text":
                out.append(TextBlock(text(_without_captions(region)), "table"))
            return out
        if span.kind == "figure":  # a figure without images (tikz, verbatim): its caption stays as text
            cap = caption_latex(region)
            return [TextBlock(text(cap), "caption")] if cap else []
        if span.kind == "heading":
            return [TextBlock(text(span.content), "heading")]
        if span.kind == "abstract":
            return [TextBlock(text(p), "abstract") for p in _PARA_RE.split(piece_content(body, span))]
        if span.kind == "list":
            return [TextBlock(list_text(piece_content(body, span), span.env, text), "list")]
        if span.kind == "code" and opts.listings == "text":
            code = re.sub(r"^\s*\[[^\]\n]*\]", "", span.content)  # \begin{lstlisting}[language=..]
            return [TextBlock(code.strip("\n"), "code")]
        if span.kind == "bibliography" and opts.bibliography == "text":
            return [TextBlock(bibliography_text(span.content, text), "bibliography")]
        return []

    def build(self) -> LatexDocument:
        text = inline_inputs(self.tree, self.main)
        figs = figures_in_text(text, str(self.main))
        conv = _Text(figs.macros, self.opts)
        body = figs.body
        by_region: dict[tuple[int, int], list[FigureCandidate]] = {}
        for c in figs.candidates:
            by_region.setdefault(c.region, []).append(c)
        segments: list[_Segment] = []
        pos = 0
        for span in body_spans(body) + [Span("end", len(body), len(body))]:
            segments += self._prose(body, pos, span.start, conv)
            if span.kind == "end":
                break
            cands = by_region.get((span.start, span.end), [])
            if span.kind == "figure" and cands:
                blocks = self.figure_blocks(cands, body[span.start:span.end], conv)
                label = next((c.figure_label for c in cands if c.figure_label), "")
                segments.append(_Segment(span.start, span.end, blocks, label))
            else:
                blocks = self.span_blocks(span, body, conv)
                segments.append(_Segment(span.start, span.end, blocks))
            pos = span.end
        self._place(segments, body)
        preamble, _ = document_body(text)
        title_latex = title_of(preamble) or title_of(body)
        blocks: list[Block] = [TextBlock(conv(title_latex), "title")] if title_latex else []
        for seg in segments:
            blocks += [b for b in seg.blocks if not isinstance(b, TextBlock) or b.text.strip()]
        return LatexDocument(blocks, len(by_region), dict(figs.counts))

    def _prose(self, body: str, start: int, end: int, text: _Text) -> list[_Segment]:
        out = []
        cuts = [(m.start(), m.end()) for m in _PARA_RE.finditer(body, start, end)]
        bounds = [start] + [e for _, e in cuts]
        ends = [s for s, _ in cuts] + [end]
        for s, e in zip(bounds, ends):
            piece = body[s:e]
            para = text(piece) if piece.strip() else ""
            if para:
                out.append(_Segment(s, e, [TextBlock(para, "paragraph", s)]))
        return out

    def _place(self, segments: list[_Segment], body: str) -> None:
        """Order segments: in body order, figures moved after the first referencing paragraph if asked."""
        for seg in segments:
            seg.anchor = (seg.start, 0, seg.start)
        if self.opts.figure_placement == "first_ref":
            first: dict[str, int] = {}
            figure_spans = [(s.start, s.end) for s in segments if s.figure_label]
            for m in _REF_RE.finditer(body):
                if any(a <= m.start() < b for a, b in figure_spans):
                    continue  # a figure citing another one does not place it
                for label in m.group(1).split(","):
                    first.setdefault(label.strip(), m.start())
            hosts = [s for s in segments if not s.figure_label]
            for seg in segments:
                where = first.get(seg.figure_label) if seg.figure_label else None
                host = next((h for h in hosts if h.start <= where < max(h.end, h.start + 1)), None) \
                    if where is not None else None
                if host is not None:
                    seg.anchor = (host.start, 1, seg.start)
        segments.sort(key=lambda s: s.anchor)


def latex_document(tree: SourceTree, main: PurePosixPath, opts: DocOptions, provenance,
                   yymm: str = "") -> LatexDocument:
    """The blocks of one main file of a paper (``provenance``: source path -> the image's URL; ``yymm``: the
    paper's month, for the graphics extension order of arXiv's TeX Live then)."""
    return _Builder(tree, main, opts, provenance, yymm).build()
