"""The unit job every source and both outputs share: one unit in, shards and ``stats.json`` out.

Items (papers, articles, pages) are processed on their own, optionally in worker processes, results in
input order: whatever goes wrong with one item or figure is counted under a reason and logged, and the rest
of the unit still lands. Each item gets a private scratch directory, removed afterwards. ``run_unit`` runs a
source's unit for one output: "pairs" (``candidates`` -> samples -> WebDataset shards) or "documents"
(``documents`` -> assembled records -> OBELICS parquet/tar shards); the two differ only in their ``Output``
record (result, stats, per-item work, writer), everything else is this module's, once.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sciclip.errors import SciclipError, Skip
from sciclip.progress import progress
from sciclip.shards.writer import ShardWriter
from sciclip.sources.base import Source, WorkItem
from sciclip.sources.pool import ordered_map
from sciclip.sources.samples import Sample, make_sample
from sciclip.storage.atomic import atomic_dir, atomic_write_bytes

if TYPE_CHECKING:
    from sciclip.docs.model import DocRecord

log = logging.getLogger(__name__)

STATS_NAME = "stats.json"


class Result(Protocol):
    """What one item hands back to ``run_job`` (``ItemResult``, ``DocResult``)."""

    item_id: str
    input_bytes: int
    messages: list[str]

    def outputs(self) -> list[tuple[str, Any]]: ...  # (key, output) to write; a key seen before is a duplicate

    def duplicate(self) -> None: ...  # count one output dropped for its repeated key

    def skip(self, reason: str, message: str, error: bool) -> None: ...  # error: something unforeseen raised


@dataclass
class ItemResult:
    item_id: str
    samples: list[Sample] = field(default_factory=list)
    candidates_found: int = 0
    item_skip: str | None = None
    input_bytes: int = 0
    timings: dict = field(default_factory=dict)  # seconds: parse, rasterise (PDF/EPS), decode (rasters, resize included), encode
    skipped_candidates: Counter = field(default_factory=Counter)
    refused_members: Counter = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)

    def outputs(self) -> list[tuple[str, Sample]]:
        return [(s.key, s) for s in self.samples]

    def duplicate(self) -> None:
        self.skipped_candidates["duplicate_key"] += 1

    def skip(self, reason: str, message: str, error: bool) -> None:
        self.item_skip = reason
        if error:  # a skipped item keeps the samples it gave before the skip; a crashed one none
            self.samples.clear()
        self.messages.append(message)


@dataclass
class UnitStats:
    """What every unit job's ``stats.json`` holds, whatever the source and the output (pairs or documents).

    Field names are the same for every source; ``nouns`` says what the source calls its items, candidates
    and units ("papers", "figures", "batch"), so that every printer speaks the source's language. The schema
    is documented once, in ``config/README.md``.
    """

    source: str
    input: str
    nouns: dict = field(default_factory=dict)
    items_seen: int = 0
    items_with_candidates: int = 0
    candidates_found: int = 0
    skipped_items: dict = field(default_factory=dict)
    refused_members: dict = field(default_factory=dict)
    archive_damaged: str | None = None
    shards: list = field(default_factory=list)
    duration_s: float = 0.0
    timings_s: dict = field(default_factory=dict)

    def add_item(self, candidates_found: int, item_skip: str | None, refused_members: Counter,
                 timings: dict) -> None:
        """Count one item's shared counters (the output's own are counted by the subclass's ``add``)."""
        self.items_seen += 1
        self.candidates_found += candidates_found
        if candidates_found:
            self.items_with_candidates += 1
        if item_skip:
            bump(self.skipped_items, item_skip)
        for k, v in refused_members.items():
            bump(self.refused_members, k, v)
        for k, v in timings.items():
            self.timings_s[k] = round(self.timings_s.get(k, 0.0) + v, 4)


@dataclass
class JobStats(UnitStats):
    """A pairs job's stats: the shared counters, the samples written and the candidates skipped by reason."""

    items_with_samples: int = 0
    samples_written: int = 0
    skipped_candidates: dict = field(default_factory=dict)

    def add(self, r: ItemResult) -> None:
        self.add_item(r.candidates_found, r.item_skip, r.refused_members, r.timings)
        if r.samples:
            self.items_with_samples += 1
        for k, v in r.skipped_candidates.items():
            bump(self.skipped_candidates, k, v)

    def wrote(self, sample: Sample) -> None:
        self.samples_written += 1


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


class SampleShards(ShardWriter):
    """The pairs' writer: a sample's members into WebDataset tars, listed as ``[{name, samples}]``."""

    def write(self, sample: Sample) -> None:  # type: ignore[override]
        super().write(sample.key, sample.members())

    def close(self) -> list[dict]:  # type: ignore[override]
        super().close()
        return [{"name": p.name, "samples": n} for p, n in zip(self.shards, self.counts)]


def bump(d: dict, key: str, n: int = 1) -> None:
    """Add ``n`` to the counter ``d[key]`` of a plain-dict counter (stats JSON keeps only reasons seen)."""
    d[key] = d.get(key, 0) + n


def run_job(stats: Any, jobs: Callable[[str], Iterable[tuple]], work: Callable[[tuple], Result], outdir: Path,
            writer: Any, workers: int, scratch_root: str | None, total: int | None, started: float) -> Any:
    """Run ``work`` over ``jobs(scratch)`` (in parallel, results in input order; ``scratch`` lives as long as
    the job, for files items share), write each result's outputs into ``writer`` (``write(output)``,
    idempotent ``close()`` listing the shards) and count them (``stats.wrote``, ``stats.add``); a repeated key
    is counted on its result, not written. Then ``outdir/stats.json``."""
    scratch = tempfile.mkdtemp(prefix=f"sciclip-{stats.input.split('.')[0]}-", dir=scratch_root)
    keys: set[str] = set()
    try:
        with writer, progress(total=total, unit="B", unit_scale=True, desc=stats.input) as bar:
            for result in ordered_map(work, jobs(scratch), workers):
                bar.update(result.input_bytes)
                for msg in result.messages:
                    log.info("%s %s: %s", stats.input, result.item_id, msg)
                for key, output in result.outputs():
                    if key in keys:
                        result.duplicate()
                        continue
                    keys.add(key)
                    writer.write(output)
                    stats.wrote(output)
                stats.add(result)
            if total:
                bar.update(max(0, total - bar.n))
            stats.shards = writer.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    stats.duration_s = round(time.monotonic() - started, 3)
    write_stats(stats, outdir)
    return stats


def write_stats(stats: Any, outdir: Path) -> None:
    atomic_write_bytes(outdir / STATS_NAME, (json.dumps(asdict(stats), indent=2, sort_keys=True) + "\n").encode())


@contextmanager
def isolated_item(result: Result, prefix: str, noun: str, error_reason: str, scratch_root: str) -> Iterator[Path]:
    """A private scratch folder for one item, removed afterwards. A ``Skip`` raised inside is the item's
    skip reason; anything else (a bug, an input nobody foresaw) is ``error_reason``: it loses this item,
    never the unit."""
    scratch = Path(tempfile.mkdtemp(prefix=f"{prefix}-", dir=scratch_root))
    noun = noun.removesuffix("s")
    try:
        yield scratch
    except Skip as s:
        result.skip(s.reason, f"{noun} skipped ({s})", error=False)
    except Exception as e:
        result.skip(error_reason, f"{noun} skipped ({type(e).__name__}: {e})\n{traceback.format_exc(limit=4)}",
                    error=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def process_item(source: Source, item: WorkItem, scratch_root: str) -> ItemResult:
    """All samples of one item; never raises for bad input (the reason lands in the result)."""
    result = ItemResult(item.id, input_bytes=item.size)
    with isolated_item(result, source.name, source.noun, source.item_error, scratch_root) as scratch:
        for cand in source.candidates(item, scratch, result):
            result.candidates_found += 1
            try:
                if isinstance(cand, Skip):
                    raise cand
                result.samples.append(make_sample(source.name, cand, source.opts, scratch, result.timings))
            except Skip as s:
                result.skipped_candidates[s.reason] += 1
                where = f" {cand.image_ref or cand.source_path!r}" if not isinstance(cand, Skip) else ""
                result.messages.append(f"{source.candidate_noun.removesuffix('s')}{where} skipped ({s})")
    return result


def process_documents(source: Source, item: WorkItem, scratch_root: str) -> DocResult:
    """All documents of one item, assembled and checked; never raises for bad input (the reason lands in the
    result)."""
    from sciclip.docs.assemble import assemble, keep_record

    result = DocResult(item.id, input_bytes=item.size)
    with isolated_item(result, f"docs-{source.name}", source.noun, source.item_error, scratch_root) as scratch:
        for raw in source.documents(item, scratch, result):
            record = assemble(raw, source.docs.extract.image, result.skipped_images, scratch, result.timings,
                              source.image_check())
            record = source.finish(record, result)
            if record is None:
                continue
            reason = keep_record(record, source.docs)
            if reason:
                result.skipped_documents[reason] += 1
                continue
            result.records.append(record)
    return result


def _pairs(args: tuple) -> ItemResult:
    return process_item(*args)


def _documents(args: tuple) -> DocResult:
    return process_documents(*args)


def _sample_shards(source: Source, folder: Path) -> SampleShards:
    return SampleShards(folder, source.opts.samples_per_shard)


def _document_shards(source: Source, folder: Path) -> Any:
    from sciclip.docs.writer import DocWriter

    return DocWriter(folder, source.docs.docs_per_shard, source.docs.formats)


@dataclass(frozen=True)
class Output:
    """What makes one output of a unit job: its stats record, the per-item work (module-level: it runs in
    worker processes), its writer, and the files it owns in the unit's folder (a rerun replaces them)."""

    stats: type[UnitStats]
    work: Callable[[tuple], Any]
    writer: Callable[[Source, Path], Any]
    owns: tuple[str, ...]


OUTPUTS = {"pairs": Output(JobStats, _pairs, _sample_shards, ("*.tar", STATS_NAME)),
           "documents": Output(DocStats, _documents, _document_shards, ("*.tar", "*.parquet", STATS_NAME))}
SHARDS = OUTPUTS["documents"].owns  # what a documents job writes into its folder (docs clean and dedup too)


def run_unit(source: Source, inputs: list, outdir, output: str = "pairs", workers: int = 1,
             scratch_root: str | None = None, label: str | None = None) -> Any:
    """One output of every item of a unit's ``inputs``: ``outdir/{00000..}`` shards plus ``outdir/stats.json``."""
    if output not in source.outputs():
        raise SciclipError(f"source {source.name!r} gives no {output} (it gives {', '.join(source.outputs())})")
    out = OUTPUTS[output]
    paths = [Path(p) for p in inputs]
    source.check(paths)
    started = time.monotonic()
    stats = out.stats(source.name, label or "+".join(p.name for p in paths), source.nouns())

    def jobs(scratch: str):
        for item in source.items(paths, stats, Path(scratch)):
            yield (source, item, scratch)

    with atomic_dir(outdir, owns=out.owns) as tmp:  # a rerun replaces the old output, never mixes with it
        run_job(stats, jobs, out.work, tmp, out.writer(source, tmp), workers, scratch_root, source.input_size(paths),
                started)
    made = (f"{stats.samples_written} samples" if isinstance(stats, JobStats) else
            f"{stats.documents} documents, {stats.words} words, {stats.images} images")
    log.info("%s: %d %s, %d %s found, %s; skipped %s %s, %s", stats.input, stats.items_seen, source.noun,
             stats.candidates_found, source.candidate_noun, made, source.noun, stats.skipped_items,
             {k: v for k, v in asdict(stats).items() if k.startswith("skipped_") and k != "skipped_items"})
    return stats


def extract_unit(source: Source, inputs: list, outdir, workers: int = 1, scratch_root: str | None = None,
                 label: str | None = None) -> JobStats:
    """The pairs of every item of a unit's ``inputs`` into ``outdir/{00000..}.tar`` plus ``outdir/stats.json``."""
    return run_unit(source, inputs, outdir, "pairs", workers, scratch_root, label)


def run_documents(source: Source, inputs: list, outdir, workers: int = 1, scratch_root: str | None = None,
                  label: str | None = None) -> DocStats:
    """The documents of every item of a unit's ``inputs`` into ``outdir/{00000..}.parquet|.tar`` plus
    ``stats.json``."""
    return run_unit(source, inputs, outdir, "documents", workers, scratch_root, label)
