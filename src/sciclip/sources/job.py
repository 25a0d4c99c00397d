"""The extraction job every source shares: one unit in, shards and ``stats.json`` out.

Items (papers, articles, pages) are processed on their own, optionally in worker processes, results in
input order: whatever goes wrong with one item or figure is counted under a reason and logged, and the rest
of the unit still lands. Each item gets a private scratch directory, removed afterwards.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sciclip.errors import Skip
from sciclip.progress import progress
from sciclip.shards.writer import ShardWriter
from sciclip.sources.base import Source, WorkItem
from sciclip.sources.pool import ordered_map
from sciclip.sources.samples import Sample, make_sample
from sciclip.storage.atomic import atomic_write_bytes, check_dir_target

log = logging.getLogger(__name__)

STATS_NAME = "stats.json"


@dataclass
class ItemResult:
    item_id: str
    samples: list[Sample] = field(default_factory=list)
    figures_found: int = 0
    paper_skip: str | None = None
    input_bytes: int = 0
    timings: dict = field(default_factory=dict)  # seconds: parse, rasterise (PDF/EPS), decode (rasters, resize included), encode
    figure_skips: Counter = field(default_factory=Counter)
    refused_members: Counter = field(default_factory=Counter)
    messages: list[str] = field(default_factory=list)


@dataclass
class JobStats:
    source: str
    input: str
    papers_seen: int = 0
    papers_with_figures: int = 0
    papers_with_samples: int = 0
    figures_found: int = 0
    samples_written: int = 0
    skipped_papers: dict = field(default_factory=dict)
    skipped_figures: dict = field(default_factory=dict)
    refused_members: dict = field(default_factory=dict)
    archive_damaged: str | None = None
    shards: list = field(default_factory=list)
    duration_s: float = 0.0
    timings_s: dict = field(default_factory=dict)

    def add(self, r: ItemResult) -> None:
        self.papers_seen += 1
        self.figures_found += r.figures_found
        if r.figures_found:
            self.papers_with_figures += 1
        if r.samples:
            self.papers_with_samples += 1
        if r.paper_skip:
            bump(self.skipped_papers, r.paper_skip)
        for k, v in r.figure_skips.items():
            bump(self.skipped_figures, k, v)
        for k, v in r.refused_members.items():
            bump(self.refused_members, k, v)
        for k, v in r.timings.items():
            self.timings_s[k] = round(self.timings_s.get(k, 0.0) + v, 4)


def bump(d: dict, key: str, n: int = 1) -> None:
    """Add ``n`` to the counter ``d[key]`` of a plain-dict counter (stats JSON keeps only reasons seen)."""
    d[key] = d.get(key, 0) + n


def run_job(stats: JobStats, jobs: Callable[[str], Iterable[tuple]], work: Callable[[tuple], ItemResult],
            outdir: Path, samples_per_shard: int, workers: int, scratch_root: str | None, total: int | None,
            damage_errors: tuple[type[BaseException], ...] = (), started: float | None = None) -> JobStats:
    """Run ``work`` over ``jobs(scratch)`` (in parallel, results in input order), write every sample into
    ``outdir`` shards, then ``outdir/stats.json``. An input that breaks off (``damage_errors``) keeps what
    came before it and is recorded in the stats."""
    started = started if started is not None else time.monotonic()
    scratch = tempfile.mkdtemp(prefix=f"sciclip-{stats.input.split('.')[0]}-", dir=scratch_root)
    keys: set[str] = set()
    try:
        with ShardWriter(outdir, samples_per_shard) as writer, \
                progress(total=total, unit="B", unit_scale=True, desc=stats.input) as bar:
            try:
                for result in ordered_map(work, jobs(scratch), workers):
                    bar.update(result.input_bytes)
                    for msg in result.messages:
                        log.info("%s %s: %s", stats.input, result.item_id, msg)
                    for sample in result.samples:
                        if sample.key in keys:
                            result.figure_skips["duplicate_key"] += 1
                            continue
                        keys.add(sample.key)
                        writer.write(sample.key, sample.members())
                        stats.samples_written += 1
                    stats.add(result)
            except damage_errors as e:
                stats.archive_damaged = str(e)
                log.error("%s; kept the %d samples of the %d papers before the damage",
                          e, stats.samples_written, stats.papers_seen)
            if total:
                bar.update(max(0, total - bar.n))
        stats.shards = [{"name": p.name, "samples": n} for p, n in zip(writer.shards, writer.counts)]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    stats.duration_s = round(time.monotonic() - started, 3)
    atomic_write_bytes(outdir / STATS_NAME, (json.dumps(asdict(stats), indent=2, sort_keys=True) + "\n").encode())
    log.info("%s: %d papers, %d figures found, %d samples written, skipped papers %s, skipped figures %s",
             stats.input, stats.papers_seen, stats.figures_found, stats.samples_written,
             stats.skipped_papers, stats.skipped_figures)
    return stats


def prepare_outdir(outdir: Path) -> None:
    """A rerun replaces the previous output of a job, never mixes with it."""
    check_dir_target(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.glob("*.tar"):
        old.unlink()
    (outdir / STATS_NAME).unlink(missing_ok=True)


def process_item(source: Source, item: WorkItem, scratch_root: str) -> ItemResult:
    """All samples of one item; never raises for bad input (the reason lands in the result)."""
    result = ItemResult(item.id, input_bytes=item.size)
    scratch = Path(tempfile.mkdtemp(prefix=f"{source.name}-", dir=scratch_root))
    noun = source.noun.removesuffix("s")
    try:
        for cand in source.candidates(item, scratch, result):
            result.figures_found += 1
            try:
                if isinstance(cand, Skip):
                    raise cand
                result.samples.append(make_sample(source.name, cand, source.opts, scratch, result.timings))
            except Skip as s:
                result.figure_skips[s.reason] += 1
                where = f" {cand.image_ref or cand.source_path!r}" if not isinstance(cand, Skip) else ""
                result.messages.append(f"figure{where} skipped ({s})")
    except Skip as s:
        result.paper_skip = s.reason
        result.messages.append(f"{noun} skipped ({s})")
    except Exception as e:  # a bug or an input we did not foresee: lose this item, not the unit
        result.paper_skip = source.item_error
        result.samples.clear()
        result.messages.append(f"{noun} skipped ({type(e).__name__}: {e})\n{traceback.format_exc(limit=4)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _work(args: tuple) -> ItemResult:
    return process_item(*args)


def extract_unit(source: Source, inputs: list, outdir, workers: int = 1, scratch_root: str | None = None,
                 label: str | None = None) -> JobStats:
    """Extract every item of a unit's ``inputs`` into ``outdir/{00000..}.tar`` plus ``outdir/stats.json``."""
    paths = [Path(p) for p in inputs]
    source.check(paths)
    outdir = Path(outdir)
    prepare_outdir(outdir)
    started = time.monotonic()
    stats = JobStats(source.name, label or "+".join(p.name for p in paths))

    def jobs(scratch: str):
        for item in source.items(paths, stats):
            yield (source, item, scratch)

    return run_job(stats, jobs, _work, outdir, source.opts.samples_per_shard, workers, scratch_root,
                   source.input_size(paths), started=started)
