"""The ``cc`` source: a unit's downloaded images, balanced to the target, through the shared machinery.

An item is one attempted image (MetaCLIP's record: a url and its texts); a failed download is an item
skipped under its reason (``opted_out``, ``http_404``, ``timeout``…), so the unit's ``stats.json`` says
what the web refused. Each text of an image that arrived is a candidate unless the final balancing draw
(``t`` against the summed counts of the downloaded pool, stage "final") drops it, counted as
``balanced_out``. Everything after that — caption check, the image pipeline (which resizes web images the
same way as figures), sha256, content-derived uid, shards, stats — is shared with the paper sources.
Vector files from the web are refused before the pipeline could hand them to a rasteriser.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from sciclip.errors import SciclipError, Skip
from sciclip.sources.base import Candidate, Source, WorkItem
from sciclip.sources.options import ExtractOptions
from sciclip.sources.registry import register

# numpy, pyarrow and the cc modules are imported where used: every sciclip command loads the registry,
# and the rule environments of the paper sources need not carry what only cc jobs use

STAGE = "final"


@register
class CommonCrawlSource(Source):
    name = "cc"
    noun = "images"
    candidate_noun = "texts"  # an image's alt, title… each a candidate sample
    unit_noun = "unit of crawl files"
    item_error = "image_error"
    # page_url last (the toy source in tests/test_sources.py declares it too and expects it at the end)
    columns: ClassVar[dict[str, str]] = {"attr": "string", "entry_ids": "list<int64>", "crawl": "string",
                                         "warc_filename": "string", "warc_record_offset": "int64",
                                         "warc_record_length": "int64", "page_url": "string"}

    def __init__(self, opts: ExtractOptions = ExtractOptions(), counts: Any = None, t: float = 20_000,
                 seed: int = 0) -> None:
        super().__init__(opts)
        self.probs = None
        if counts is not None:
            from sciclip.sources.cc.balance import probabilities

            self.probs = probabilities(counts, t)
        self.seed = seed

    def check(self, inputs: list[Path]) -> None:
        super().check(inputs)
        for p in inputs:
            if not p.is_dir():
                raise SciclipError(f"{p}: not a download folder (img2dataset output of a cc unit)")

    def items(self, inputs: list[Path], job: Any, scratch: Path) -> Iterator[WorkItem]:
        from sciclip.sources.cc.i2d_shards import iter_downloads

        for folder in inputs:
            for d in iter_downloads(folder):
                yield WorkItem(d.key, d, d.size)

    def input_size(self, inputs: list[Path]) -> int:
        return sum(p.stat().st_size for d in inputs for p in Path(d).glob("*.tar"))

    def candidates(self, item: WorkItem, scratch: Path, result: Any) -> Iterator[Candidate | Skip]:
        from sciclip.images.pipeline import VECTOR_FORMATS, sniff_format
        from sciclip.sources.cc.balance import keep, record_id

        d = item.payload
        if d.failure:
            raise Skip(d.failure, d.url)
        data = d.read()
        if sniff_format(data) in VECTOR_FORMATS:
            raise Skip("not_a_raster_image", d.url)
        path = scratch / "image"
        path.write_bytes(data)
        rid = record_id(d.url)
        for t in d.record["texts"]:
            if self.probs is not None and not keep(self.seed, STAGE, d.url, t["text"], t["entry_ids"], self.probs):
                yield Skip("balanced_out", t["text"][:60])
                continue
            meta = {"url": d.url, "page_url": t["page_url"], "attr": t["attr"], "crawl": t["crawl"],
                    "entry_ids": [int(i) for i in t["entry_ids"]], "warc_filename": t["warc_filename"],
                    "warc_record_offset": int(t["warc_record_offset"]),
                    "warc_record_length": int(t["warc_record_length"]), "record_id": rid}
            yield Candidate(caption=t["text"], image_path=path, source_path=d.url, uid_parts=(rid, t["attr"]),
                            meta=meta, image_ref=d.url)
