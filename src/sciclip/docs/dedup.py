"""OBELICS' dedup across web documents, over every unit of a run, in bounded memory.

Steps, in OBELICS' spirit (each removal counted by reason):
1. URL dedup: one document per URL, the last one read (units are read in the given order: the newest WARC
   last), as OBELICS keeps the newest capture;
2. among those, per image URL the number of documents using it, per domain the number of documents holding
   each paragraph, and per document its set of image URLs;
3. identical image sets: only the last document with a given set is kept;
4. images whose URL is in more than ``max_image_documents`` documents are removed (logos, buttons, ads);
5. paragraphs seen in more than one document of a domain are removed from all of them (boilerplate);
6. a document left without an image or without text is removed.
Counts live in an SQLite file beside the output (not in memory), so a run of any size fits; the records are
streamed three times (twice without their image bytes).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sciclip.docs.model import DocRecord
from sciclip.docs.reader import read_dir
from sciclip.docs.writer import DocWriter
from sciclip.sources.job import SHARDS, STATS_NAME, DocStats, bump, write_stats
from sciclip.storage.atomic import atomic_dir

SCHEMA = """
CREATE TABLE urls (url TEXT PRIMARY KEY, seq INTEGER);
CREATE TABLE sets (sig BLOB PRIMARY KEY, seq INTEGER);
CREATE TABLE images (url TEXT PRIMARY KEY, docs INTEGER);
CREATE TABLE paragraphs (domain TEXT, hash BLOB, docs INTEGER, PRIMARY KEY (domain, hash));
"""


@dataclass(frozen=True)
class DedupOptions:
    max_image_documents: int = 10
    urls: bool = True
    paragraphs: bool = True
    image_sets: bool = True
    docs_per_shard: int = 1000
    formats: tuple[str, ...] = ("parquet", "tar")


def _unit_totals(dirs: list[Path]) -> DocStats:
    """The units' own counters (pages seen, filter removals by reason), which the dedup's are added to; the
    document, word and image counts are the dedup's output's."""
    total = DocStats("web", "dedup")
    for d in dirs:
        path = d / STATS_NAME
        if not path.is_file():
            continue
        unit = json.loads(path.read_text())
        total.items_seen += unit.get("items_seen", 0)
        total.candidates_found += unit.get("candidates_found", 0)
        total.items_with_candidates += unit.get("items_with_candidates", 0)
        total.nouns = total.nouns or unit.get("nouns") or {}
        for key in ("skipped_items", "skipped_documents", "skipped_images", "removed"):
            for k, v in (unit.get(key) or {}).items():
                bump(getattr(total, key), k, v)
        if unit.get("archive_damaged"):
            total.archive_damaged = "; ".join(filter(None, [total.archive_damaged, unit["archive_damaged"]]))
    return total


def _records(dirs: list[Path], with_images: bool) -> Iterator[tuple[int, DocRecord]]:
    seq = 0
    for d in dirs:
        for r in read_dir(d, with_images):
            yield seq, r
            seq += 1


def _hash(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def _paragraphs(r: DocRecord) -> set[str]:
    return {p.strip() for t in r.texts if t for p in t.split("\n\n") if p.strip()}


def _image_set(r: DocRecord) -> bytes:
    return _hash("\n".join(sorted({u for u in r.images if u})))


def _count(db: sqlite3.Connection, dirs: list[Path], opts: DedupOptions) -> None:
    for seq, r in _records(dirs, with_images=False):
        db.execute("INSERT OR REPLACE INTO urls VALUES (?, ?)", (r.general_metadata.get("url", r.id), seq))
    db.commit()
    for seq, r in _records(dirs, with_images=False):
        if opts.urls and not _kept_url(db, r, seq):
            continue
        db.execute("INSERT OR REPLACE INTO sets VALUES (?, ?)", (_image_set(r), seq))
        db.executemany("INSERT INTO images VALUES (?, 1) ON CONFLICT(url) DO UPDATE SET docs = docs + 1",
                       [(u,) for u in {u for u in r.images if u}])
        domain = r.general_metadata.get("domain", "")
        db.executemany("INSERT INTO paragraphs VALUES (?, ?, 1) ON CONFLICT(domain, hash) DO UPDATE "
                       "SET docs = docs + 1", [(domain, _hash(p)) for p in _paragraphs(r)])
    db.commit()


def _kept_url(db: sqlite3.Connection, r: DocRecord, seq: int) -> bool:
    row = db.execute("SELECT seq FROM urls WHERE url = ?", (r.general_metadata.get("url", r.id),)).fetchone()
    return row is None or row[0] == seq


def _clean(db: sqlite3.Connection, r: DocRecord, opts: DedupOptions, removed: Counter,
           images_removed: Counter) -> DocRecord:
    """The record without frequent images and without its domain's repeated paragraphs, texts re-merged."""
    domain = r.general_metadata.get("domain", "")
    positions: list[tuple] = []
    for t, im, b, m in zip(r.texts, r.images, r.image_bytes, r.metadata):
        if im is not None:
            docs = db.execute("SELECT docs FROM images WHERE url = ?", (im,)).fetchone()
            if docs and docs[0] > opts.max_image_documents:
                images_removed["image_in_too_many_documents"] += 1
                continue
            positions.append((None, im, b, m))
            continue
        kept = []
        for p in (x.strip() for x in t.split("\n\n")):
            if not p:
                continue
            row = db.execute("SELECT docs FROM paragraphs WHERE domain = ? AND hash = ?",
                             (domain, _hash(p))).fetchone() if opts.paragraphs else None
            if row and row[0] > 1:
                removed["repeated_domain_paragraph"] += 1
            else:
                kept.append(p)
        if not kept:
            continue
        text = "\n\n".join(kept)
        if positions and positions[-1][0] is not None:
            positions[-1] = (positions[-1][0] + "\n\n" + text, None, None, None)
        else:
            positions.append((text, None, None, None))
    texts, images, blobs, metas = (list(x) for x in zip(*positions)) if positions else ([], [], [], [])
    return DocRecord(r.id, r.source, texts, images, blobs, metas, r.general_metadata)


def dedup_documents(unit_dirs: list[str | os.PathLike], outdir: str | os.PathLike,
                    opts: DedupOptions = DedupOptions()) -> DocStats:
    """Dedup the documents of ``unit_dirs`` (read in this order) into ``outdir`` shards plus ``stats.json``."""
    dirs = [Path(d) for d in unit_dirs]
    started = time.monotonic()
    stats = _unit_totals(dirs)
    with atomic_dir(outdir, owns=SHARDS) as tmp:  # a rerun replaces the old output, never mixes with it
        db_path = tmp / ".dedup.sqlite"
        db = sqlite3.connect(db_path)
        try:
            db.executescript(SCHEMA)
            _count(db, dirs, opts)
            skipped: Counter = Counter()
            removed: Counter = Counter()
            images_removed: Counter = Counter()
            with DocWriter(tmp, opts.docs_per_shard, opts.formats) as writer:
                for seq, r in _records(dirs, with_images=True):
                    if opts.urls and not _kept_url(db, r, seq):
                        skipped["duplicate_url"] += 1
                        continue
                    if opts.image_sets:
                        row = db.execute("SELECT seq FROM sets WHERE sig = ?", (_image_set(r),)).fetchone()
                        if row and row[0] != seq:
                            skipped["duplicate_image_set"] += 1
                            continue
                    r = _clean(db, r, opts, removed, images_removed)
                    if not r.n_images or not r.n_texts:
                        skipped["no_image_after_dedup" if not r.n_images else "no_text_after_dedup"] += 1
                        continue
                    writer.write(r)
                    stats.wrote(r)
                stats.shards = writer.close()
            stats.items_with_documents = stats.documents
            for target, counter in ((stats.skipped_documents, skipped), (stats.removed, removed),
                                    (stats.skipped_images, images_removed)):
                for k, v in counter.items():
                    bump(target, k, v)
        finally:
            db.close()
            db_path.unlink(missing_ok=True)
        stats.duration_s = round(time.monotonic() - started, 3)
        write_stats(stats, tmp)
    return stats

