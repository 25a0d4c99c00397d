"""What every extraction job shares, whatever the source: options, the sample record, per-paper results,
job statistics, and the loop that streams results into shards in input order and writes ``stats.json``.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sciclip.images.pipeline import ImageOptions
from sciclip.progress import progress
from sciclip.shards.writer import ShardWriter
from sciclip.sources.pool import ordered_map
from sciclip.storage.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

SUBFIGURE_MODES = ("combine", "sub", "main")
MULTI_IMAGE_MODES = ("main", "skip")
STATS_NAME = "stats.json"


@dataclass(frozen=True)
class ExtractOptions:
    image: ImageOptions = ImageOptions()
    subfigure_caption: str = "combine"
    multi_image: str = "main"
    min_caption_chars: int = 10
    max_paper_bytes: int = 512 << 20
    max_member_bytes: int = 1 << 30
    samples_per_shard: int = 10_000

    def __post_init__(self) -> None:
        if self.subfigure_caption not in SUBFIGURE_MODES:
            raise ValueError(f"subfigure_caption must be one of {SUBFIGURE_MODES}, not {self.subfigure_caption!r}")
        if self.multi_image not in MULTI_IMAGE_MODES:
            raise ValueError(f"multi_image must be one of {MULTI_IMAGE_MODES}, not {self.multi_image!r}")


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


@dataclass
class PaperResult:
    paper_id: str
    samples: list[Sample] = field(default_factory=list)
    figures_found: int = 0
    paper_skip: str | None = None
    input_bytes: int = 0
    timings: dict = field(default_factory=dict)  # seconds: parse, rasterise, decode, resize, encode
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

    def add(self, r: PaperResult) -> None:
        self.papers_seen += 1
        self.figures_found += r.figures_found
        if r.figures_found:
            self.papers_with_figures += 1
        if r.samples:
            self.papers_with_samples += 1
        if r.paper_skip:
            _bump(self.skipped_papers, r.paper_skip)
        for k, v in r.figure_skips.items():
            _bump(self.skipped_figures, k, v)
        for k, v in r.refused_members.items():
            _bump(self.refused_members, k, v)
        for k, v in r.timings.items():
            self.timings_s[k] = round(self.timings_s.get(k, 0.0) + v, 4)


def _bump(d: dict, key: str, n: int = 1) -> None:
    d[key] = d.get(key, 0) + n


def run_job(stats: JobStats, jobs: Callable[[str], Iterable[tuple]], work: Callable[[tuple], PaperResult],
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
                        log.info("%s %s: %s", stats.input, result.paper_id, msg)
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
    outdir.mkdir(parents=True, exist_ok=True)
    for old in outdir.glob("*.tar"):
        old.unlink()
    (outdir / STATS_NAME).unlink(missing_ok=True)
