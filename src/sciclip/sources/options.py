"""Extraction options every source shares (image pipeline, caption rules, limits, shard size)."""

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
