"""Dataset statistics: counts from the extraction jobs, caption lengths from the shards themselves.

``sciclip stats DIR`` works on any WebDataset directory (ours or not): it reads every ``*.tar`` below
DIR for samples and captions; when our per-job ``stats.json`` files are there too, their item/candidate
counters and skip reasons are summed in (the schema, the same for every source: ``config/README.md``).
"""

from __future__ import annotations

import json
import logging
import os
import tarfile
from pathlib import Path

import numpy as np

from sciclip.errors import SciclipError
from sciclip.progress import progress
from sciclip.shards.reader import IMAGE_EXTS, check_shards, cut_in_a_header, split_key

log = logging.getLogger(__name__)

COUNTERS = ("items_seen", "items_with_candidates", "items_with_samples", "candidates_found", "samples_written")
REASON_MAPS = ("skipped_items", "skipped_candidates", "refused_members")
# what the unit stats called their counters before the names fitted every source: old results still sum
LEGACY_NAMES = {"papers_seen": "items_seen", "papers_with_figures": "items_with_candidates",
                "papers_with_samples": "items_with_samples", "figures_found": "candidates_found",
                "skipped_papers": "skipped_items", "skipped_figures": "skipped_candidates"}


def current_names(stats: dict) -> dict:
    """A unit's stats with its counters under today's names (stats written before the rename read the same)."""
    return {LEGACY_NAMES.get(k, k): v for k, v in stats.items()}


def length_summary(values: list[int]) -> dict[str, float]:
    if not values:
        return {"count": 0, "mean": 0.0, "median": 0.0, "p95": 0.0, "min": 0, "max": 0}
    arr = np.asarray(values, dtype=np.float64)
    return {"count": int(arr.size), "mean": round(float(arr.mean()), 2), "median": float(np.median(arr)),
            "p95": round(float(np.percentile(arr, 95)), 2), "min": int(arr.min()), "max": int(arr.max())}


def shard_captions(path: Path) -> tuple[int, list[str], str | None]:
    """(samples with an image, their captions, damage) of one shard; tolerant of truncation."""
    images: set[str] = set()
    captions: dict[str, str] = {}
    damage = None
    try:
        with tarfile.open(path, mode="r|*") as tar:
            pending: str | None = None  # an image counts once the next header shows its data was whole
            for m in tar:
                if pending:
                    images.add(pending)
                    pending = None
                if not m.isreg():
                    continue
                key, ext = split_key(m.name)
                if ext in IMAGE_EXTS:
                    pending = key
                elif ext == "txt":
                    f = tar.extractfile(m)
                    captions[key] = f.read().decode("utf-8", "replace") if f else ""
            if pending:
                images.add(pending)
            damage = cut_in_a_header(path, tar.offset)
    except (tarfile.TarError, EOFError, OSError) as e:
        damage = f"{type(e).__name__}: {e}"
    return len(images), [c for k, c in captions.items() if k in images], damage


def source_nouns(name: str) -> dict[str, str]:
    """What the source calls its items, candidates and work units ("papers", "figures", "unit"), as it declares
    them: kept in the stats so that the report, whose environment lacks the sources' parsers, can say them."""
    from sciclip.sources.base import Source
    from sciclip.sources.registry import sources

    return sources().get(name, Source).nouns()


def dataset_stats(directories: str | Path | list, source: str | None = None) -> dict:
    """Stats over one or several WebDataset directories (e.g. the shard folders of all tarballs)."""
    dirs = [Path(d) for d in (directories if isinstance(directories, (list, tuple)) else [directories])]
    for d in dirs:
        if not d.exists():
            raise SciclipError(f"{d}: no such directory")
        if not d.is_dir():
            raise SciclipError(f"{d}: not a directory (give the folder holding the shards)")
    directory = Path(os.path.commonpath([str(d.resolve()) for d in dirs])) if len(dirs) > 1 else dirs[0]
    if len(dirs) > 1:
        directory = Path(os.path.relpath(directory)) if not dirs[0].is_absolute() else directory
    shards = sorted(p for d in dirs for p in d.rglob("*.tar") if not p.name.startswith("."))
    check_shards(shards)
    out: dict = {"source": source or directory.name, "directory": str(directory), "inputs": len(dirs),
                 "shards": len(shards)}
    out["nouns"] = source_nouns(out["source"])
    jobs = sorted(p for d in dirs for p in d.rglob("stats.json"))
    if not shards and not jobs:
        raise SciclipError(f"{dirs[0]}: no shards (*.tar) or job stats (stats.json) below it")
    if jobs:
        totals = {k: 0 for k in COUNTERS}
        reasons: dict[str, dict[str, int]] = {k: {} for k in REASON_MAPS}
        damaged = []
        for job in jobs:
            try:
                data = current_names(json.loads(job.read_text()))
            except (OSError, ValueError) as e:
                raise SciclipError(f"{job}: unreadable job stats ({e})") from None
            for k in COUNTERS:
                totals[k] += int(data.get(k, 0))
            for k in REASON_MAPS:
                for reason, n in (data.get(k) or {}).items():
                    reasons[k][reason] = reasons[k].get(reason, 0) + int(n)
            if data.get("archive_damaged"):
                damaged.append(data["archive_damaged"])
        out["jobs"] = len(jobs)
        out.update(totals)
        out.update({k: dict(sorted(v.items())) for k, v in reasons.items()})
        out["damaged_inputs"] = damaged
    samples = 0
    chars: list[int] = []
    words: list[int] = []
    damaged_shards = []
    for shard in progress(iterable=shards, desc="stats", unit="shard"):
        n, caps, damage = shard_captions(shard)
        samples += n
        chars.extend(len(c) for c in caps)
        words.extend(len(c.split()) for c in caps)
        if damage:
            log.warning("%s: damaged (%s); counted its %d whole samples before the break", shard, damage, n)
            damaged_shards.append({"shard": str(shard.relative_to(directory)), "error": damage})
    out["samples"] = samples
    out["caption_chars"] = length_summary(chars)
    out["caption_words"] = length_summary(words)
    out["damaged_shards"] = damaged_shards
    return out


def format_summary(stats: dict) -> str:
    """``sciclip stats``' lines, in the source's own nouns ("papers seen", "texts found")."""
    lines = [f"{stats['source']}: {stats['samples']} samples in {stats['shards']} shards under {stats['directory']}"]
    nouns = {**source_nouns(stats["source"]), **(stats.get("nouns") or {})}
    item, candidate = nouns["item"], nouns["candidate"]
    if "items_seen" in stats:
        lines.append(f"  {item} seen {stats['items_seen']} ({stats['items_with_candidates']} with {candidate}, "
                     f"{stats['items_with_samples']} with samples), {candidate} found {stats['candidates_found']}, "
                     f"samples written {stats['samples_written']}")
        for k, label in (("skipped_items", f"skipped {item}"), ("skipped_candidates", f"skipped {candidate}"),
                         ("refused_members", "refused members")):
            if stats.get(k):
                lines.append(f"  {label}: " + ", ".join(f"{r} {n}" for r, n in stats[k].items()))
    c, w = stats["caption_chars"], stats["caption_words"]
    lines.append(f"  caption characters: mean {c['mean']}, median {c['median']}, p95 {c['p95']}; "
                 f"words: mean {w['mean']}, median {w['median']}, p95 {w['p95']}")
    if stats.get("damaged_inputs"):
        lines.append(f"  damaged inputs ({len(stats['damaged_inputs'])}, {item} before the damage kept): "
                     + "; ".join(stats["damaged_inputs"]))
    if stats.get("damaged_shards"):
        d = stats["damaged_shards"]
        lines.append(f"  damaged shards ({len(d)}, whole samples before the break counted): "
                     + "; ".join(f"{x['shard']} ({x['error']})" for x in d[:3]) + (" ..." if len(d) > 3 else ""))
    return "\n".join(lines)
