"""What an interleaved document is, before and after its images are converted.

A source turns one paper or page into a ``RawDocument``: text blocks and image blocks in reading order,
the images still files, bytes or URLs. ``assemble`` (one place for every source) converts the images through
the shared pipeline and gives a ``DocRecord`` in OBELICS' layout: parallel ``texts``/``images`` lists with
exactly one non-null per position, per-position ``metadata`` (null for text) and ``general_metadata``, plus
the JPEG bytes in a parallel list so that a record is self-contained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# what a text block is; kept in the raw document only (OBELICS positions carry no kind)
TEXT_KINDS = ("title", "abstract", "heading", "paragraph", "list", "caption", "table", "code", "bibliography")


@dataclass
class TextBlock:
    text: str
    kind: str = "paragraph"
    pos: int = 0  # offset in the source (LaTeX body, JATS element order): where first_ref placement looks


@dataclass
class ImageBlock:
    """One image at its place: a file (papers), bytes, or a URL to fetch (web). ``ref`` names it in logs and
    in the position's metadata (``source_path`` for papers, ``src`` for web pages)."""

    ref: str
    path: Path | None = None
    data: bytes | None = None
    url: str = ""
    alt_text: str = ""
    meta: dict = field(default_factory=dict)
    missing: str = ""  # a reason when the source already knows the image cannot be had (graphic_not_found)


Block = TextBlock | ImageBlock


@dataclass
class RawDocument:
    doc_id: str
    source: str  # arxiv | pmc | web
    blocks: list[Block]
    general: dict = field(default_factory=dict)  # paper_id/pmcid or url, source file and offsets


@dataclass
class DocRecord:
    """One document in OBELICS' layout (lists of equal length, one non-null per position)."""

    id: str
    source: str
    texts: list[str | None]
    images: list[str | None]  # what each image is (URL for web, provenance URL for papers), as OBELICS
    image_bytes: list[bytes | None]  # the shared pipeline's JPEG
    metadata: list[dict | None]
    general_metadata: dict

    @property
    def n_images(self) -> int:
        return sum(1 for x in self.images if x is not None)

    @property
    def n_texts(self) -> int:
        return sum(1 for x in self.texts if x is not None)

    @property
    def words(self) -> int:
        return sum(len(t.split()) for t in self.texts if t)

    def check(self) -> None:
        """The layout's invariant, asserted before writing: a broken record must never reach a shard."""
        n = len(self.texts)
        if not (len(self.images) == len(self.image_bytes) == len(self.metadata) == n):
            raise ValueError(f"{self.id}: parallel lists differ in length")
        for i, (t, im, b) in enumerate(zip(self.texts, self.images, self.image_bytes)):
            if (t is None) == (im is None) or (im is None) != (b is None):
                raise ValueError(f"{self.id}: position {i} must hold exactly one of text and image")
