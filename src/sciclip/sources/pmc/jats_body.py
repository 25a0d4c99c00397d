"""One JATS article as an interleaved document: title, abstracts, sections, paragraphs, lists and figures.

The article is walked in document order: front matter (title, abstracts), body, back matter (appendices,
acknowledgements; the reference list as configured), floats-group, then sub-articles (eLife's decision
letters and replies, with their own figures). A ``<fig>`` is its graphics (each matched to a media file as
for the pairs, ``match_media``) followed by its caption (label + title + paragraphs, ``caption_parts``);
a ``<fig-group>``'s figures follow one another, then the group's caption if it has one. A figure stays where
it is in the XML (PMC puts it near its first citation; some publishers gather them in ``floats-group``),
or with ``figure_placement: first_ref`` moves after the paragraph holding the first ``<xref>`` to it.
Parsing is the pairs' hardened parser (no entities, DTDs, network or huge trees).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sciclip.docs.model import Block, ImageBlock, TextBlock
from sciclip.sources.options import DocOptions
from sciclip.sources.pmc.jats_figures import (
    caption_parts,
    flat_text,
    href_of,
    local,
    match_media,
    parse_root,
)
from sciclip.text.captions import normalise_space

# Elements that start a block of their own when met inside a paragraph.
BLOCK_CHILDREN = {"fig", "fig-group", "table-wrap", "table-wrap-group", "list", "disp-formula", "boxed-text",
                  "disp-quote", "statement", "def-list", "supplementary-material", "media", "preformat", "code",
                  "graphic", "array", "chem-struct-wrap"}
SKIP = {"supplementary-material", "media", "graphic", "fn-group", "glossary", "notes", "title", "label",
        "object-id", "permissions", "caption", "alternatives", "funding-group", "counts", "custom-meta-group"}
_FIG_XREF = ("fig", "figure")


@dataclass
class _Segment:
    blocks: list[Block]
    seq: int
    rids: set[str] = field(default_factory=set)  # figure ids cited from this text segment
    fig_ids: tuple[str, ...] = ()  # for a figure segment: the ids it moves with
    key: tuple = ()


@dataclass
class JatsDocument:
    blocks: list[Block]
    figures: int
    title: str


class _Walker:
    def __init__(self, opts: DocOptions, media: dict[str, Path], provenance) -> None:
        self.opts = opts
        self.media = media
        self.names = sorted(media)
        self.provenance = provenance  # figure id -> the image's URL (the ``images`` column)
        self.segments: list[_Segment] = []
        self.figures = 0

    def emit(self, blocks: list[Block], rids: set[str] | None = None, fig_ids: tuple[str, ...] = ()) -> None:
        blocks = [b for b in blocks if not isinstance(b, TextBlock) or b.text.strip()]
        if blocks:
            self.segments.append(_Segment(blocks, len(self.segments), rids or set(), fig_ids))

    def text(self, text: str, kind: str = "paragraph", rids: set[str] | None = None) -> None:
        text = normalise_space(text)
        if text:
            self.emit([TextBlock(text, kind)], rids)

    # --- containers -------------------------------------------------------------------------------------
    def walk(self, el) -> None:
        for child in el:
            self.element(child)

    def element(self, el) -> None:
        name = local(el)
        if name in ("sec", "app", "ack", "boxed-text", "bio"):
            title = next((c for c in el if local(c) == "title"), None)
            label = next((c for c in el if local(c) == "label"), None)
            if title is not None:
                head = " ".join(flat_text(x) for x in (label, title) if x is not None)
                self.text(head, "heading")
            self.walk(el)
        elif name == "p":
            self.paragraph(el)
        elif name in ("fig", "fig-group"):
            self.figure(el)
        elif name in ("table-wrap", "table-wrap-group"):
            self.table(el)
        elif name in ("list", "def-list"):
            self.listing(el)
        elif name == "disp-formula":
            self.text(flat_text(el))
        elif name == "ref-list":
            if self.opts.bibliography == "text":
                refs = [flat_text(r) for r in el if local(r) == "ref"]
                self.text("\n".join(f"- {r}" for r in refs if r), "bibliography")
        elif name in ("preformat", "code"):
            if self.opts.listings == "text":
                self.emit([TextBlock("".join(el.itertext()).strip("\n"), "code")])
        elif name in SKIP or not isinstance(el.tag, str):
            return
        else:
            self.walk(el)

    # --- blocks -----------------------------------------------------------------------------------------
    def paragraph(self, p) -> None:
        """A paragraph's text, cut where a block (a figure, a list, a table) sits inside it."""
        parts: list[str] = [p.text or ""]
        rids: set[str] = set()
        for child in p:
            if isinstance(child.tag, str) and local(child) in BLOCK_CHILDREN:
                self.text("".join(parts), rids=rids)
                parts, rids = [], set()
                self.element(child)
            elif isinstance(child.tag, str):
                parts.append(flat_text(child) if local(child) not in ("fn",) else "")
                rids |= _fig_rids(child)
            parts.append(child.tail or "")
        self.text("".join(parts), rids=rids)

    def listing(self, el) -> None:
        """One line per item (nested lists flattened into their item); figures inside follow the list."""
        lines = []
        for item in el:
            if local(item) not in ("list-item", "def-item"):
                continue
            label = next((c for c in item if local(c) == "label"), None)
            body = " ".join(flat_text(c) for c in item if local(c) != "label")
            bullet = flat_text(label) if label is not None else "-"
            lines.append(f"{bullet} {normalise_space(body)}")
        if lines:
            self.emit([TextBlock("\n".join(lines), "list")], _fig_rids(el))
        for fig in el.iter():
            if local(fig) == "fig-group" or (local(fig) == "fig" and local(fig.getparent()) != "fig-group"):
                self.figure(fig)

    def table(self, el) -> None:
        if self.opts.tables == "drop":
            return
        label, text, _ = caption_parts(el)
        blocks: list[Block] = []
        if text or label:
            blocks.append(TextBlock(normalise_space(f"{label} {text}"), "caption"))
        if self.opts.tables == "text":
            table = next((c for c in el.iter() if local(c) == "table"), None)
            if table is not None:
                rows = [" | ".join(normalise_space("".join(c.itertext())) for c in tr if local(c) in ("td", "th"))
                        for tr in table.iter() if local(tr) == "tr"]
                blocks.append(TextBlock("\n".join(r for r in rows if r.strip(" |")), "table"))
        self.emit(blocks)

    def figure(self, el) -> None:
        figs = [el] if local(el) == "fig" else [c for c in el.iter() if local(c) == "fig"]
        blocks: list[Block] = []
        for fig in figs:
            blocks += self._one_figure(fig)
        if local(el) == "fig-group":
            label, text, _ = caption_parts(el)
            if text:
                blocks.append(TextBlock(normalise_space(f"{label} {text}"), "caption"))
        ids = tuple(f.get("id") or "" for f in figs) + ((el.get("id") or "",) if el is not figs[0] else ())
        self.emit(blocks, fig_ids=tuple(i for i in ids if i))

    def _one_figure(self, fig) -> list[Block]:
        self.figures += 1
        fig_id = fig.get("id") or ""
        label, text, _ = caption_parts(fig)
        blocks: list[Block] = []
        slots = _graphic_slots(fig)
        for gi, hrefs in enumerate(slots):
            files = [self.media[m] for m in (match_media(h, self.names) for h in hrefs) if m]
            path = max(files, key=lambda f: (f.stat().st_size, f.name)) if files else None
            meta = {"source_path": path.name if path else "", "figure_id": fig_id, "label": label,
                    "fig_type": fig.get("fig-type") or "", "graphic_index": gi, "href": hrefs[0],
                    "in_sub_article": any(local(a) == "sub-article" for a in fig.iterancestors())}
            blocks.append(ImageBlock(ref=path.name if path else hrefs[0], path=path, url=self.provenance(fig_id),
                                     meta=meta, missing="" if path else "graphic_not_found"))
        if text or label:
            blocks.append(TextBlock(normalise_space(f"{label} {text}"), "caption"))
        return blocks

    # --- order ------------------------------------------------------------------------------------------
    def ordered(self) -> list[Block]:
        for seg in self.segments:
            seg.key = (seg.seq, 0, 0)
        if self.opts.figure_placement == "first_ref":
            first: dict[str, int] = {}
            for seg in self.segments:
                for rid in seg.rids:
                    first.setdefault(rid, seg.seq)
            for seg in self.segments:
                hosts = [first[i] for i in seg.fig_ids if i in first]
                if hosts:
                    seg.key = (min(hosts), 1, seg.seq)
        return [b for seg in sorted(self.segments, key=lambda s: s.key) for b in seg.blocks]


def _fig_rids(el) -> set[str]:
    out: set[str] = set()
    for x in el.iter():
        if local(x) == "xref" and (x.get("ref-type") or "").lower() in _FIG_XREF:
            out.update((x.get("rid") or "").split())
    return out


def _graphic_slots(fig) -> list[list[str]]:
    """One href list per image of a figure: a ``<graphic>``, or the files of an ``<alternatives>``."""
    out = []
    for child in fig:
        name = local(child)
        if name == "graphic" and href_of(child):
            out.append([href_of(child)])
        elif name == "alternatives":
            hrefs = [href_of(g) for g in child if local(g) == "graphic" and href_of(g)]
            if hrefs:
                out.append(hrefs)
    return out


def parse_article(data: bytes, origin: str):
    return parse_root(data, origin)


def _children(el, name: str) -> list:
    return [c for c in el if local(c) == name]


def _front(w: _Walker, front, heading: bool) -> str:
    """Title and abstracts of a ``front`` or ``front-stub``; the title's text."""
    title = ""
    for tg in (x for x in front.iter() if local(x) == "title-group"):
        t = next((c for c in tg if local(c) == "article-title"), None)
        if t is not None:
            title = flat_text(t)
            w.text(title, "heading" if heading else "title")
            break
    for ab in (x for x in front.iter() if local(x) == "abstract"):
        t = next((c for c in ab if local(c) == "title"), None)
        if t is not None:
            w.text(flat_text(t), "heading")
        before = len(w.segments)
        w.walk(ab)
        for seg in w.segments[before:]:
            for b in seg.blocks:
                if isinstance(b, TextBlock) and b.kind == "paragraph":
                    b.kind = "abstract"
    return title


def jats_document(data: bytes, origin: str, opts: DocOptions, media: dict[str, Path], provenance) -> JatsDocument:
    """The blocks of one article (``media``: file name -> path; ``provenance``: figure id -> image URL)."""
    root = parse_article(data, origin)
    w = _Walker(opts, media, provenance)
    title = ""
    for part in root:
        name = local(part)
        if name == "front":
            title = _front(w, part, heading=False)
        elif name in ("body", "back", "floats-group"):
            w.walk(part)
        elif name in ("sub-article", "response"):
            _sub_article(w, part)
    return JatsDocument(w.ordered(), w.figures, title)


def _sub_article(w: _Walker, el) -> None:
    """eLife's decision letters and author responses: a heading, then their own body and figures."""
    for part in el:
        name = local(part)
        if name in ("front", "front-stub"):
            _front(w, part, heading=True)
        elif name in ("body", "back", "floats-group"):
            w.walk(part)
        elif name in ("sub-article", "response"):
            _sub_article(w, part)
