"""The document job every source shares: one unit in, document shards and ``stats.json`` out.

The shape of the pair extraction's job (``sources.job``): items (papers, articles, pages) are processed on
their own, optionally in worker processes, results in input order; whatever goes wrong with one item or
image is counted under a reason and logged, and the rest of the unit lands.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import traceback
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import ClassVar

from sciclip.docs.assemble import ImageCheck, assemble
from sciclip.docs.model import DocRecord, RawDocument
from sciclip.docs.options import DocOptions
from sciclip.docs.writer import DocWriter
from sciclip.errors import SciclipError, Skip
from sciclip.sources.base import WorkItem
from sciclip.sources.job import bump
from sciclip.sources.pool import ordered_map
from sciclip.storage.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

STATS_NAME = "stats.json"


@dataclass
class DocResult:
    item_id: str
    records: list[DocRecord] = field(default_factory=list)
    item_skip: str | None = None
    input_bytes: int = 0
    figures_found: int = 0
    timings: dict = field(default_factory=dict)
    skipped_images: Counter = field(default_factory=Counter)
    skipped_documents: Counter = field(default_factory=Counter)
    removed: Counter = field(default_factory=Counter)  # paragraphs and other parts removed by filters
    refused_members: Counter = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)


@dataclass
class DocStats:
    source: str
    input: str
    items_seen: int = 0
    items_with_documents: int = 0
    documents: int = 0
    words: int = 0
    images: int = 0
    texts: int = 0
    figures_found: int = 0
    skipped_items: dict = field(default_factory=dict)
    skipped_documents: dict = field(default_factory=dict)
    skipped_images: dict = field(default_factory=dict)
    removed: dict = field(default_factory=dict)
    refused_members: dict = field(default_factory=dict)
    archive_damaged: str | None = None
    shards: list = field(default_factory=list)
    duration_s: float = 0.0
    timings_s: dict = field(default_factory=dict)

    @property
    def papers_seen(self) -> int:  # the pair sources' item listers log progress under this name
        return self.items_seen

    def add(self, r: DocResult) -> None:
        self.items_seen += 1
        self.figures_found += r.figures_found
        if r.records:
            self.items_with_documents += 1
        if r.item_skip:
            bump(self.skipped_items, r.item_skip)
        for target, counter in ((self.skipped_images, r.skipped_images), (self.skipped_documents, r.skipped_documents),
                                (self.removed, r.removed), (self.refused_members, r.refused_members)):
            for k, v in counter.items():
                bump(target, k, v)
        for k, v in r.timings.items():
            self.timings_s[k] = round(self.timings_s.get(k, 0.0) + v, 4)

    def count(self, record: DocRecord) -> None:
        self.documents += 1
        self.words += record.words
        self.images += record.n_images
        self.texts += record.n_texts


class DocSource(ABC):
    """A source of documents: lists a unit's items, turns one item into raw documents."""

    name: ClassVar[str]
    noun: ClassVar[str] = "items"

    def __init__(self, opts: DocOptions = DocOptions()) -> None:
        self.opts = opts

    def check(self, inputs: list[Path]) -> None:
        for p in inputs:
            if not p.exists():
                raise SciclipError(f"{p}: no such file or directory")

    @abstractmethod
    def items(self, inputs: list[Path], stats: DocStats, scratch: Path) -> Iterator[WorkItem]:
        """The unit's items in a fixed order (unit-level problems go into ``stats``; ``scratch`` lives as long
        as the job, for files the items share)."""

    @abstractmethod
    def documents(self, item: WorkItem, scratch: Path, result: DocResult) -> Iterator[RawDocument]:
        """Raw documents of one item; an item-level problem raises ``Skip``."""

    def image_check(self) -> ImageCheck | None:
        """An extra check on each converted image (web filters); None: the pipeline's own limits only."""
        return None

    def finish(self, record: DocRecord, result: DocResult) -> DocRecord | None:
        """Last look at an assembled record (web filters); None drops it (counted by the source)."""
        return record

    def input_size(self, inputs: list[Path]) -> int:
        return sum(p.stat().st_size for p in inputs if p.is_file())


def keep_record(record: DocRecord, opts: DocOptions) -> str | None:
    """Why a document is not written, or None: no content, or below the configured minimums."""
    if not record.texts:
        return "empty_document"
    if record.words < opts.min_words:
        return "too_few_words"
    if record.n_images < opts.min_images:
        return "too_few_images"
    return None


def process_item(source: DocSource, item: WorkItem, scratch_root: str) -> DocResult:
    """All documents of one item; never raises for bad input (the reason lands in the result)."""
    result = DocResult(item.id, input_bytes=item.size)
    scratch = Path(tempfile.mkdtemp(prefix=f"docs-{source.name}-", dir=scratch_root))
    noun = source.noun.removesuffix("s")
    try:
        for raw in source.documents(item, scratch, result):
            record = assemble(raw, source.opts.extract.image, result.skipped_images, scratch, result.timings,
                              source.image_check())
            record = source.finish(record, result)
            if record is None:
                continue
            reason = keep_record(record, source.opts)
            if reason:
                result.skipped_documents[reason] += 1
                continue
            result.records.append(record)
    except Skip as s:
        result.item_skip = s.reason
        result.records.clear()
        result.messages.append(f"{noun} skipped ({s})")
    except Exception as e:  # a bug or an input we did not foresee: lose this item, not the unit
        result.item_skip = f"{noun}_error"
        result.records.clear()
        result.messages.append(f"{noun} skipped ({type(e).__name__}: {e})\n{traceback.format_exc(limit=4)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _work(args: tuple) -> DocResult:
    return process_item(*args)


def prepare_outdir(outdir: Path) -> None:
    """A rerun replaces the previous output of a job, never mixes with it."""
    outdir.mkdir(parents=True, exist_ok=True)
    for old in [*outdir.glob("*.tar"), *outdir.glob("*.parquet")]:
        old.unlink()
    (outdir / STATS_NAME).unlink(missing_ok=True)


def write_stats(stats: DocStats, outdir: Path) -> None:
    atomic_write_bytes(outdir / STATS_NAME, (json.dumps(asdict(stats), indent=2, sort_keys=True) + "\n").encode())


def run_documents(source: DocSource, inputs: list, outdir, workers: int = 1, scratch_root: str | None = None,
                  label: str | None = None) -> DocStats:
    """Every document of a unit's ``inputs`` into ``outdir/{00000..}.parquet|.tar`` plus ``stats.json``."""
    paths = [Path(p) for p in inputs]
    source.check(paths)
    outdir = Path(outdir)
    prepare_outdir(outdir)
    started = time.monotonic()
    stats = DocStats(source.name, label or "+".join(p.name for p in paths))
    scratch = tempfile.mkdtemp(prefix="sciclip-docs-", dir=scratch_root)
    keys: set[str] = set()
    try:
        with DocWriter(outdir, source.opts.docs_per_shard, source.opts.formats) as writer:
            jobs = ((source, item, scratch) for item in source.items(paths, stats, Path(scratch)))
            for result in ordered_map(_work, jobs, workers):
                for msg in result.messages:
                    log.info("%s %s: %s", stats.input, result.item_id, msg)
                for record in result.records:
                    if record.id in keys:
                        result.skipped_documents["duplicate_id"] += 1
                        continue
                    keys.add(record.id)
                    writer.write(record)
                    stats.count(record)
                stats.add(result)
            stats.shards = writer.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    stats.duration_s = round(time.monotonic() - started, 3)
    write_stats(stats, outdir)
    log.info("%s: %d %s, %d documents, %d words, %d images; skipped items %s, documents %s, images %s",
             stats.input, stats.items_seen, source.noun, stats.documents, stats.words, stats.images,
             stats.skipped_items, stats.skipped_documents, stats.skipped_images)
    return stats
