"""From a source's raw document to a record in OBELICS' layout: written once for every source.

Images go through the shared pipeline (``convert_image``: the same JPEGs, limits and reasons as the pairs);
an image that cannot be had is dropped and counted, never the document. A repeated image within a document
is dropped (OBELICS does the same). Adjacent texts are merged with a blank line, so texts and images
alternate as in OBELICS. A caption block that directly follows images is theirs: its text is kept in their
metadata (``caption``), which is how a later step that removes an image finds its caption (the first
paragraph of the next text position).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sciclip.docs.model import DocRecord, ImageBlock, RawDocument, TextBlock
from sciclip.errors import Skip
from sciclip.images.pipeline import ConvertedImage, ImageOptions, convert_image
from sciclip.sources.options import DocOptions
from sciclip.sources.uids import sample_uid

# an extra check on a converted image (web filters: format, size, aspect ratio): a reason, or None to keep it
ImageCheck = Callable[[ConvertedImage, ImageBlock], "str | None"]


def image_bytes(block: ImageBlock) -> bytes:
    if block.data is not None:
        return block.data
    if block.path is not None:
        return block.path.read_bytes()
    raise Skip("image_not_fetched", block.ref)


def assemble(raw: RawDocument, opts: ImageOptions, skipped: Counter, scratch: Path | None = None,
             timings: dict | None = None, check: ImageCheck | None = None) -> DocRecord:
    """The record of ``raw``; ``skipped`` counts dropped images by reason."""
    texts: list[str | None] = []
    images: list[str | None] = []
    data_col: list[bytes | None] = []
    metadata: list[dict | None] = []
    seen: set[str] = set()
    run: list[dict] = []  # metadata of the images since the last text: a caption that follows is theirs
    for block in raw.blocks:
        if isinstance(block, TextBlock):
            text = block.text.strip()
            if not text:
                continue
            if block.kind == "caption":
                for meta in run:
                    meta["caption"] = text
            run = []
            if texts and texts[-1] is not None:
                texts[-1] = f"{texts[-1]}\n\n{text}"
            else:
                texts.append(text)
                images.append(None)
                data_col.append(None)
                metadata.append(None)
            continue
        try:
            if block.missing:
                raise Skip(block.missing, block.ref)
            data = image_bytes(block)
            sha = hashlib.sha256(data).hexdigest()
            if sha in seen:
                raise Skip("repeated_image", block.ref)
            image = convert_image(data, opts, path=block.path, scratch=scratch, timings=timings)
            reason = check(image, block) if check is not None else None
            if reason:
                raise Skip(reason, block.ref)
        except Skip as s:
            skipped[s.reason] += 1
            continue
        except OSError:  # a file that vanished or cannot be read: the image goes, not the document
            skipped["image_unreadable"] += 1
            continue
        seen.add(sha)
        uid = sample_uid("docs", raw.source, raw.doc_id, block.ref, sha)
        meta = dict(block.meta)
        meta.update({"uid": uid, "sha256": sha, "alt_text": block.alt_text, "format": image.source_format,
                     "original_width": image.original_width, "original_height": image.original_height,
                     "width": image.width, "height": image.height})
        texts.append(None)
        images.append(block.url or block.ref)
        data_col.append(image.jpeg)
        metadata.append(meta)
        run.append(meta)
    record = DocRecord(raw.doc_id, raw.source, texts, images, data_col, metadata, dict(raw.general))
    record.check()
    return record


def keep_record(record: DocRecord, opts: DocOptions) -> str | None:
    """Why a document is not written, or None: no content, or below the configured minimums."""
    if not record.texts:
        return "empty_document"
    if record.words < opts.min_words:
        return "too_few_words"
    if record.n_images < opts.min_images:
        return "too_few_images"
    return None
