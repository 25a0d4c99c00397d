"""The unit job every extraction shares: one unit in, shards and ``stats.json`` out.

Items (papers, articles, pages) are processed on their own, optionally in worker processes, results in
input order: whatever goes wrong with one item or figure is counted under a reason and logged, and the rest
of the unit still lands. Each item gets a private scratch directory, removed afterwards. The pairs
(``extract_unit``) and the interleaved documents (``sciclip.docs.job``) both run on ``run_job`` and
``isolated_item``; only their results, stats and writers differ.
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
from typing import Any, Protocol

from sciclip.errors import Skip
from sciclip.progress import progress
from sciclip.shards.writer import ShardWriter
from sciclip.sources.base import Source, WorkItem
from sciclip.sources.pool import ordered_map
from sciclip.sources.samples import Sample, make_sample
from sciclip.storage.atomic import atomic_dir, atomic_write_bytes

log = logging.getLogger(__name__)

STATS_NAME = "stats.json"


class Result(Protocol):
    """What one item hands back to ``run_job`` (``ItemResult``, ``docs.job.DocResult``)."""

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


def _work(args: tuple) -> ItemResult:
    return process_item(*args)


def extract_unit(source: Source, inputs: list, outdir, workers: int = 1, scratch_root: str | None = None,
                 label: str | None = None) -> JobStats:
    """Extract every item of a unit's ``inputs`` into ``outdir/{00000..}.tar`` plus ``outdir/stats.json``."""
    paths = [Path(p) for p in inputs]
    source.check(paths)
    started = time.monotonic()
    stats = JobStats(source.name, label or "+".join(p.name for p in paths), source.nouns())

    def jobs(scratch: str):
        for item in source.items(paths, stats):
            yield (source, item, scratch)

    with atomic_dir(outdir, owns=("*.tar", STATS_NAME)) as tmp:  # a rerun replaces the old output
        run_job(stats, jobs, _work, tmp, SampleShards(tmp, source.opts.samples_per_shard), workers, scratch_root,
                source.input_size(paths), started)
    log.info("%s: %d %s, %d %s found, %d samples written, skipped %s %s, skipped %s %s", stats.input,
             stats.items_seen, source.noun, stats.candidates_found, source.candidate_noun, stats.samples_written,
             source.noun, stats.skipped_items, source.candidate_noun, stats.skipped_candidates)
    return stats
