"""Images leave their documents (``image_removals``' decisions), and each changed document is checked again.

A removed image's position goes; its caption (the first paragraph after its images, recorded in their
``caption`` metadata by ``assemble``) stays as text by default (``captions="text"``): the documents already
treat a figure whose image cannot be had that way, and decontamination is about images, not words. With
``captions="drop"`` the caption goes too, once every image it belongs to has gone. Adjacent texts are merged
again, so texts and images still alternate. A changed document must still pass the document rules
(``assemble.keep_record``: some text, ``min_words``, ``min_images``), else it is dropped; every removal is counted by
reason in ``stats.json`` (images: ``skipped_images``; documents: ``skipped_documents`` as
``<rule>_after_decontamination`` or ``<rule>_after_image_dedup``; captions: ``removed``) and listed in
``removed/images.parquet`` (a subfolder: it is not a document shard; the report's page shows them), with the
image bytes of every contaminated image and of the first ``REPORT_IMAGES`` others.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.docs.assemble import keep_record
from sciclip.docs.image_removals import CONTAMINATED, REASONS, REMOVAL, TOO_FREQUENT
from sciclip.docs.model import DocRecord
from sciclip.docs.reader import read_dir
from sciclip.docs.writer import DocWriter
from sciclip.errors import SciclipError
from sciclip.sources.job import SHARDS, STATS_NAME, DocStats, bump, write_stats
from sciclip.sources.options import KEEP_DROP, DocOptions
from sciclip.storage.atomic import atomic_dir

REMOVED = "removed/images.parquet"
REPORT_IMAGES = 32  # removed images (other than contaminated ones) whose bytes are kept for the report
REMOVED_SCHEMA = pa.schema([
    ("id", pa.string()), ("source", pa.string()), ("position", pa.int32()), ("uid", pa.string()),
    ("reason", pa.string()), ("score", pa.float32()), ("earlier_documents", pa.int32()), ("caption", pa.string()),
    ("document_kept", pa.bool_()), ("image_bytes", pa.binary()),
])
_COUNTED = ("nouns", "items_seen", "items_with_candidates", "items_with_documents", "candidates_found",
            "skipped_items", "skipped_documents", "skipped_images", "removed", "refused_members", "archive_damaged",
            "timings_s")


@dataclass(frozen=True)
class CleanOptions:
    captions: str = "text"  # text: a removed image's caption stays as text; drop: it goes with its images
    min_words: int = 0
    min_images: int = 0
    docs_per_shard: int = 1000
    formats: tuple[str, ...] = ("parquet", "tar")

    def __post_init__(self) -> None:
        if self.captions not in KEEP_DROP:
            raise ValueError(f"captions must be one of {KEEP_DROP}, not {self.captions!r}")
        DocOptions(docs_per_shard=self.docs_per_shard, formats=self.formats)  # the same checks


def _paragraphs(text: str) -> list[str]:
    return [p for p in (x.strip() for x in text.split("\n\n")) if p]


def remove_images(record: DocRecord, positions: set[int], captions: str = "text") -> tuple[DocRecord, int]:
    """``record`` without the images at ``positions`` (and, with ``captions="drop"``, without the captions whose
    images all went): (new record, captions dropped). Everything else stays, in order."""
    dropped_captions = 0
    rows: list[tuple] = []
    run: list[int] = []  # the image positions just before the current text
    for i, (t, im, b, m) in enumerate(zip(record.texts, record.images, record.image_bytes, record.metadata)):
        if im is not None:
            run.append(i)
            if i not in positions:
                rows.append((None, im, b, m))
            continue
        assert t is not None
        paras = _paragraphs(t)
        caption = (record.metadata[run[-1]] or {}).get("caption") if run else None
        if (captions == "drop" and caption and paras and paras[0] == caption
                and all(j in positions for j in run)):
            paras = paras[1:]
            dropped_captions += 1
        run = []
        if not paras:
            continue
        text = "\n\n".join(paras)
        if rows and rows[-1][0] is not None:
            rows[-1] = (rows[-1][0] + "\n\n" + text, None, None, None)
        else:
            rows.append((text, None, None, None))
    texts, images, blobs, metas = (list(x) for x in zip(*rows)) if rows else ([], [], [], [])
    out = DocRecord(record.id, record.source, texts, images, blobs, metas, record.general_metadata)
    out.check()
    return out, dropped_captions


def _input_stats(docdir: Path) -> DocStats:
    """The folder's own counters (items seen, earlier removals by reason), which this step's are added to."""
    path = docdir / STATS_NAME
    try:
        unit = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SciclipError(f"{path}: not a document folder's statistics ({e})") from None
    stats = DocStats(unit.get("source") or "", unit.get("input") or docdir.name)
    for k in _COUNTED:
        if unit.get(k) is not None:
            setattr(stats, k, unit[k])
    return stats


class _RemovedWriter:
    """The list of removed images (``REMOVED``), written a row group at a time; in place only when complete."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self.rows: list[dict] = []
        self.kept_bytes = 0
        self.writer = pq.ParquetWriter(self.tmp, REMOVED_SCHEMA, compression="zstd")

    def add(self, record: DocRecord, position: int, reason: int, value: float, kept: bool) -> None:
        meta = record.metadata[position] or {}
        keep_bytes = reason != TOO_FREQUENT or self.kept_bytes < REPORT_IMAGES
        self.kept_bytes += int(reason == TOO_FREQUENT and keep_bytes)
        self.rows.append({
            "id": record.id, "source": record.source, "position": position, "uid": meta.get("uid"),
            "reason": REASONS[reason], "score": float(value) if reason == CONTAMINATED else None,
            "earlier_documents": int(value) if reason == TOO_FREQUENT else None,
            "caption": meta.get("caption") or meta.get("alt_text") or "", "document_kept": kept,
            "image_bytes": record.image_bytes[position] if keep_bytes else None})
        if len(self.rows) >= 256:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=REMOVED_SCHEMA))
            self.rows = []

    def close(self, ok: bool) -> None:
        if ok:
            self.flush()
        self.writer.close()
        if ok:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def _item(record: DocRecord) -> str:
    """The item (paper, article, page) a document comes from: a unit writes an item's documents together."""
    g = record.general_metadata
    return str(g.get("paper_id") or g.get("pmcid") or g.get("url") or record.id)


def clean_documents(docdir: str | os.PathLike, removals: str | os.PathLike, outdir: str | os.PathLike,
                    opts: CleanOptions = CleanOptions()) -> DocStats:
    """``docdir``'s documents without the images ``removals`` names, re-checked, into ``outdir``."""
    docdir, outdir = Path(docdir), Path(outdir)
    if not docdir.is_dir():
        raise SciclipError(f"{docdir}: no such document folder")
    try:
        decisions = np.load(removals)
    except (OSError, ValueError) as e:
        raise SciclipError(f"{removals}: not a removals file ({e})") from None
    if decisions.dtype != REMOVAL:
        raise SciclipError(f"{removals}: not a removals file (dtype {decisions.dtype})")
    started = time.monotonic()
    stats = _input_stats(docdir)
    # a rerun replaces the old output, never mixes with it; a killed job leaves no folder that looks finished
    with atomic_dir(outdir, owns=SHARDS + (REMOVED.split('/')[0],)) as tmp:
        images_removed: Counter = Counter()
        docs_dropped: Counter = Counter()
        captions_dropped = 0
        rules = DocOptions(min_words=opts.min_words, min_images=opts.min_images)
        removed = _RemovedWriter(tmp / REMOVED)
        ok = False
        items = 0
        last_item = None
        try:
            with DocWriter(tmp, opts.docs_per_shard, opts.formats) as writer:
                image = 0  # index of the next image in the folder, as the decisions count them
                j = 0
                for record in read_dir(docdir):
                    gone: dict[int, tuple[int, float]] = {}
                    for pos, meta in enumerate(record.metadata):
                        if record.images[pos] is None:
                            continue
                        while j < len(decisions) and decisions["image"][j] == image:
                            d = decisions[j]
                            uid = f"{int(d['uh']):016x}{int(d['ul']):016x}"
                            if uid != (meta or {}).get("uid"):
                                raise SciclipError(f"{removals}: image {image} is {uid}, but {docdir} holds "
                                                   f"{(meta or {}).get('uid')} there (removals of another folder?)")
                            gone[pos] = (int(d["reason"]), float(d["value"]))
                            j += 1
                        image += 1
                    if gone:
                        new, dropped = remove_images(record, set(gone), opts.captions)
                        why = keep_record(new, rules)
                        for pos, (reason, value) in gone.items():
                            images_removed[REASONS[reason]] += 1
                            removed.add(record, pos, reason, value, why is None)
                        if why is not None:
                            step = "decontamination" if any(r == CONTAMINATED for r, _ in gone.values()) else "image_dedup"
                            docs_dropped[f"{why}_after_{step}"] += 1
                            continue
                        captions_dropped += dropped
                        record = new
                    writer.write(record)
                    stats.wrote(record)
                    if _item(record) != last_item:
                        items, last_item = items + 1, _item(record)
                if j < len(decisions):
                    raise SciclipError(f"{removals}: names {len(decisions) - j} images beyond the {image} of {docdir}")
                stats.shards = writer.close()
            ok = True
        finally:
            removed.close(ok)
        for target, counter in ((stats.skipped_images, images_removed), (stats.skipped_documents, docs_dropped),
                                (stats.removed, Counter({"caption_of_removed_image": captions_dropped}))):
            for k, v in counter.items():
                if v:
                    bump(target, k, v)
        stats.items_with_documents = items
        stats.duration_s = round(time.monotonic() - started, 3)
        write_stats(stats, tmp)
    return stats
