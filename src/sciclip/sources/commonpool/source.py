"""The ``commonpool`` source: a unit's downloaded metadata rows through the shared machinery, uid kept.

An item is one metadata row (a url). A url whose image did not arrive is an item skipped under its reason
(``http_404``, ``name_not_resolved``, ``timeout``, ``opted_out``…): dead links are the norm in a years-old pool,
so they are counted, never an error, and the unit's other rows still land. An image that arrived is one
candidate, as DataComp's img2dataset download wrote it (512 px, JPEG, faces blurred): copied, not converted
again, under the pool's own ``uid`` (so DataComp's subsets and baselines name our samples), with the caption
as the pool has it (no length limit, no rewriting: the pool's definition, not ours) and the pool's metadata
columns in its json. Everything after that — shards, stats, the tail — is shared with every source.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from sciclip.errors import SciclipError, Skip
from sciclip.sources.base import Candidate, Source, WorkItem
from sciclip.sources.options import ExtractOptions
from sciclip.sources.registry import register


@register
class CommonPoolSource(Source):
    name = "commonpool"
    noun = "urls"
    candidate_noun = "images"
    unit_noun = "unit of metadata parquets"
    item_error = "image_error"
    # no extra columns in the shared img2dataset schema: a mix of CommonPool with the paper sources must keep
    # one set of json keys (Hugging Face's loader), and the pool's columns travel in its metadata parquets

    def __init__(self, opts: ExtractOptions = ExtractOptions()) -> None:
        # the pool's captions as they are: no length limit, no label, placeholders untouched
        super().__init__(replace(opts, min_caption_chars=0, caption_label=False, placeholders="keep"))

    def check(self, inputs: list[Path]) -> None:
        super().check(inputs)
        for p in inputs:
            if not p.is_dir():
                raise SciclipError(f"{p}: not a download folder (img2dataset output of a commonpool unit)")

    def items(self, inputs: list[Path], job: Any, scratch: Path) -> Iterator[WorkItem]:
        from sciclip.sources.commonpool.outcomes import merged_outcomes

        for o in merged_outcomes(inputs):
            yield WorkItem(o.uid, o, o.size)

    def input_size(self, inputs: list[Path]) -> int:
        return sum(p.stat().st_size for d in inputs for p in Path(d).glob("*.tar"))

    def candidates(self, item: WorkItem, scratch: Path, result: Any) -> Iterator[Candidate | Skip]:
        o = item.payload
        if o.failure:
            raise Skip(o.failure, f"{o.url} {o.error[:120]}".strip())
        path = scratch / "image.jpg"
        path.write_bytes(o.read())
        meta = {**o.columns, "url": o.url, **{k: v for k, v in o.image.items() if v is not None}}
        yield Candidate(caption=o.text, image_path=path, source_path=o.url, uid_parts=(), meta=meta,
                        image_ref=o.url, uid=o.uid, encoded=True)
