"""Options every source shares, for pairs (image pipeline, caption rules, limits, shard size) and documents."""

from __future__ import annotations

from dataclasses import dataclass

from sciclip.images.pipeline import ImageOptions

SUBFIGURE_MODES = ("combine", "sub", "main")
MULTI_IMAGE_MODES = ("main", "skip")
PLACEHOLDER_MODES = ("keep", "drop")


@dataclass(frozen=True)
class ExtractOptions:
    image: ImageOptions = ImageOptions()
    subfigure_caption: str = "combine"
    multi_image: str = "main"
    min_caption_chars: int = 10
    max_paper_bytes: int = 512 << 20
    max_member_bytes: int = 1 << 30
    samples_per_shard: int = 10_000
    caption_label: bool = False  # put the figure's label ("Figure 3:") before the caption text
    placeholders: str = "keep"  # <ref> / <cit.> left for cross-references and citations, or dropped

    def __post_init__(self) -> None:
        if self.subfigure_caption not in SUBFIGURE_MODES:
            raise ValueError(f"subfigure_caption must be one of {SUBFIGURE_MODES}, not {self.subfigure_caption!r}")
        if self.multi_image not in MULTI_IMAGE_MODES:
            raise ValueError(f"multi_image must be one of {MULTI_IMAGE_MODES}, not {self.multi_image!r}")
        if self.placeholders not in PLACEHOLDER_MODES:
            raise ValueError(f"placeholders must be one of {PLACEHOLDER_MODES}, not {self.placeholders!r}")


PLACEMENTS = ("float", "first_ref")
TABLE_MODES = ("caption", "text", "drop")
KEEP_DROP = ("drop", "text")
FORMATS = ("parquet", "tar")


@dataclass(frozen=True)
class DocOptions:
    """How a source's items become documents. ``extract`` carries the image pipeline and the limits the pair
    extraction uses (one image path); names are the config keys and CLI options of ``docs``."""

    extract: ExtractOptions = ExtractOptions()
    figure_placement: str = "float"  # float: where the float is; first_ref: after the paragraph citing it first
    tables: str = "caption"  # caption: the table's caption as text; text: caption and cells; drop
    algorithms: str = "caption"  # same choices as tables
    listings: str = "drop"  # code listings and verbatim: drop or text
    bibliography: str = "drop"  # reference lists: drop or text
    ref_text: str = "<ref>"  # what \ref and <xref> (to figures, tables, sections) become; "" drops them
    cite_text: str = "<cit.>"  # what \cite and bibliography xrefs become; "" drops them
    docs_per_shard: int = 1000
    formats: tuple[str, ...] = FORMATS
    min_words: int = 0  # documents with fewer words are skipped (web documents use the filters instead)
    min_images: int = 0  # documents with fewer images are skipped (0: text-only documents are kept)

    def __post_init__(self) -> None:
        for name, value, allowed in (("figure_placement", self.figure_placement, PLACEMENTS),
                                     ("tables", self.tables, TABLE_MODES), ("algorithms", self.algorithms, TABLE_MODES),
                                     ("listings", self.listings, KEEP_DROP),
                                     ("bibliography", self.bibliography, KEEP_DROP)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
        bad = [f for f in self.formats if f not in FORMATS]
        if bad or not self.formats:
            raise ValueError(f"formats must be a non-empty subset of {FORMATS}, not {self.formats!r}")
        if self.docs_per_shard < 1:
            raise ValueError("docs_per_shard must be at least 1")
