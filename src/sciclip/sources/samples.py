"""From a source's candidate to a finished sample: what is the same for every source, written once."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from sciclip.errors import Skip
from sciclip.images.pipeline import convert_image, sniff_format
from sciclip.sources.base import Candidate
from sciclip.sources.options import ExtractOptions
from sciclip.sources.uids import sample_uid
from sciclip.text.captions import caption_text

UID = re.compile(r"[0-9a-f]{32}")  # DataComp's uid: 128 bits in lower-case hex


@dataclass
class Sample:
    key: str
    jpg: bytes
    caption: str
    meta: dict

    def members(self) -> dict[str, bytes]:
        return {
            "jpg": self.jpg,
            "txt": self.caption.encode("utf-8"),
            "json": json.dumps(self.meta, sort_keys=True, ensure_ascii=False).encode("utf-8"),
        }


def make_sample(source: str, cand: Candidate, opts: ExtractOptions, scratch, timings: dict) -> Sample:
    """Check the caption, convert the image, derive sha256 and uid, and add the common metadata keys.

    The checks run in this order so that a figure lands under one reason whatever else is wrong with it.
    """
    caption = caption_text(cand.caption, cand.label, opts.caption_label, opts.placeholders)
    if len(caption) < opts.min_caption_chars:
        raise Skip("caption_too_short", f"{len(caption)} < {opts.min_caption_chars} characters")
    if cand.image_path is None:
        raise Skip("graphic_not_found", cand.image_ref)
    data = cand.image_path.read_bytes()
    if cand.encoded:
        return _encoded_sample(source, cand, data, caption)
    image = convert_image(data, opts.image, path=cand.image_path, scratch=scratch, timings=timings)
    sha = hashlib.sha256(data).hexdigest()
    uid = cand.uid or sample_uid(source, *cand.uid_parts, cand.source_path, sha, caption)
    meta = dict(cand.meta)
    meta.update({
        "uid": uid, "key": uid, "source": source, "source_path": cand.source_path,
        "image_format": image.source_format, "original_width": image.original_width,
        "original_height": image.original_height, "width": image.width, "height": image.height,
        "sha256": sha, "caption": caption,
    })
    return Sample(uid, image.jpeg, caption, meta)


def _encoded_sample(source: str, cand: Candidate, data: bytes, caption: str) -> Sample:
    """A sample whose JPEG and uid the source already has: copied as they are (re-encoding would only lose
    quality, and the uid is what the source's own subsets name). The sizes and the original's sha256 come with
    the candidate; an image that is no JPEG is refused (the shards hold JPEGs only)."""
    if sniff_format(data) != "jpeg":
        raise Skip("unsupported_format", f"{cand.image_ref or cand.source_path}: not a JPEG")
    if not UID.fullmatch(cand.uid):
        raise Skip("bad_uid", repr(cand.uid[:40]))
    meta = dict(cand.meta)
    meta.update({"uid": cand.uid, "key": cand.uid, "source": source, "source_path": cand.source_path,
                 "image_format": "jpeg", "sha256": cand.meta.get("sha256") or hashlib.sha256(data).hexdigest(),
                 "caption": caption})
    return Sample(cand.uid, data, caption, meta)
