"""The document job every source shares: one unit in, document shards and ``stats.json`` out.

It runs on the pair extraction's machinery (``sources.job``: the unit loop, item isolation, skip reasons,
stats and shard writing); what is the documents' own is here: the result and stats records, the document
source interface and the per-item work (assemble, filter, keep).
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from sciclip.docs.assemble import ImageCheck, assemble
from sciclip.docs.model import DocRecord, RawDocument
from sciclip.docs.options import DocOptions
from sciclip.docs.writer import DocWriter
from sciclip.errors import SciclipError
from sciclip.sources.base import WorkItem
from sciclip.sources.job import STATS_NAME, UnitStats, bump, isolated_item, run_job, write_stats
from sciclip.storage.atomic import atomic_dir

log = logging.getLogger(__name__)

__all__ = ["SHARDS", "STATS_NAME", "DocResult", "DocSource", "DocStats", "run_documents", "write_stats"]
SHARDS = ("*.tar", "*.parquet", STATS_NAME)  # what a documents job writes into its folder


@dataclass
class DocResult:
    item_id: str
    records: list[DocRecord] = field(default_factory=list)
    item_skip: str | None = None
    input_bytes: int = 0
    candidates_found: int = 0  # figures (papers) or images (pages) the item's documents hold before any check
    timings: dict = field(default_factory=dict)
    skipped_images: Counter = field(default_factory=Counter)
    skipped_documents: Counter = field(default_factory=Counter)
    removed: Counter = field(default_factory=Counter)  # paragraphs and other parts removed by filters
    refused_members: Counter = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)

    def outputs(self) -> list[tuple[str, DocRecord]]:
        return [(r.id, r) for r in self.records]

    def duplicate(self) -> None:
        self.skipped_documents["duplicate_id"] += 1

    def skip(self, reason: str, message: str, error: bool) -> None:
        self.item_skip = reason
        self.records.clear()  # a document is whole or absent: a skipped item gives none
        self.messages.append(message)


@dataclass
class DocStats(UnitStats):
    """A documents job's stats: the shared counters, what was written, and what was dropped by reason."""

    items_with_documents: int = 0
    documents: int = 0
    words: int = 0
    images: int = 0
    texts: int = 0
    skipped_documents: dict = field(default_factory=dict)
    skipped_images: dict = field(default_factory=dict)
    removed: dict = field(default_factory=dict)

    def add(self, r: DocResult) -> None:
        self.add_item(r.candidates_found, r.item_skip, r.refused_members, r.timings)
        if r.records:
            self.items_with_documents += 1
        for target, counter in ((self.skipped_images, r.skipped_images), (self.skipped_documents, r.skipped_documents),
                                (self.removed, r.removed)):
            for k, v in counter.items():
                bump(target, k, v)

    def wrote(self, record: DocRecord) -> None:
        self.documents += 1
        self.words += record.words
        self.images += record.n_images
        self.texts += record.n_texts


class DocSource(ABC):
    """A source of documents: lists a unit's items, turns one item into raw documents."""

    name: ClassVar[str]
    noun: ClassVar[str] = "items"
    candidate_noun: ClassVar[str] = "figures"
    unit_noun: ClassVar[str] = "unit"

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

    @classmethod
    def nouns(cls) -> dict[str, str]:
        return {"item": cls.noun, "candidate": cls.candidate_noun, "unit": cls.unit_noun}

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
    noun = source.noun.removesuffix("s")
    with isolated_item(result, f"docs-{source.name}", source.noun, f"{noun}_error", scratch_root) as scratch:
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
    return result


def _work(args: tuple) -> DocResult:
    return process_item(*args)


def run_documents(source: DocSource, inputs: list, outdir, workers: int = 1, scratch_root: str | None = None,
                  label: str | None = None) -> DocStats:
    """Every document of a unit's ``inputs`` into ``outdir/{00000..}.parquet|.tar`` plus ``stats.json``."""
    paths = [Path(p) for p in inputs]
    source.check(paths)
    started = time.monotonic()
    stats = DocStats(source.name, label or "+".join(p.name for p in paths), source.nouns())

    def jobs(scratch: str):
        for item in source.items(paths, stats, Path(scratch)):
            yield (source, item, scratch)

    with atomic_dir(outdir, owns=SHARDS) as tmp:  # a rerun replaces the old output, never mixes with it
        writer = DocWriter(tmp, source.opts.docs_per_shard, source.opts.formats)
        run_job(stats, jobs, _work, tmp, writer, workers, scratch_root, source.input_size(paths), started)
    log.info("%s: %d %s, %d documents, %d words, %d images; skipped items %s, documents %s, images %s",
             stats.input, stats.items_seen, source.noun, stats.documents, stats.words, stats.images,
             stats.skipped_items, stats.skipped_documents, stats.skipped_images)
    return stats
