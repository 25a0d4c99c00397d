"""Options of document building, shared by the sources (names are the config keys and CLI options)."""

from __future__ import annotations

from dataclasses import dataclass

from sciclip.sources.options import ExtractOptions

PLACEMENTS = ("float", "first_ref")
TABLE_MODES = ("caption", "text", "drop")
KEEP_DROP = ("drop", "text")
FORMATS = ("parquet", "tar")


@dataclass(frozen=True)
class DocOptions:
    """``extract`` carries the image pipeline and the limits the pair extraction uses (one image path)."""

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
