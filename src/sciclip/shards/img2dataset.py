"""Our per-tarball / per-batch shards rewritten in img2dataset's output layout, which DataComp's tools read.

Layout (see ../shared/notes/formats.md): ``{shard:05d}.tar`` with a fixed number of samples per shard;
sample key = shard_id * 10**oom_samples + index, zero-padded to oom_samples + oom_shards digits; members
``.jpg``, ``.txt``, ``.json`` (img2dataset's fields: key, caption, url, status, error_message, width, height,
original_width, original_height, exif, sha256 — plus ours: uid, source, paper/article id, label, license);
beside each shard ``{shard}.parquet`` (one row per sample, the same fields) and ``{shard}_stats.json``.
Input order is the sorted input directories, then shard order, then sample order: the output is a pure
function of the input. Image bytes are copied, never re-encoded.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.errors import SciclipError
from sciclip.progress import progress
from sciclip.shards.reader import ShardReport, read_samples
from sciclip.shards.writer import ShardWriter
from sciclip.sources.base import Source
from sciclip.sources.registry import source_columns, sources
from sciclip.storage.atomic import atomic_write_bytes

# img2dataset's own columns, then ours; every sample's json has all of them (missing ones are null). The
# sources' own columns (``Source.columns``) go between ``source`` and ``figure_label``, in registry order.
IMG2DATASET_COLUMNS = ["key", "caption", "url", "status", "error_message", "width", "height", "original_width",
                       "original_height", "exif", "sha256"]
INT_COLUMNS = {"width", "height", "original_width", "original_height"}


def columns() -> tuple[str, ...]:
    return _columns(tuple(sources()))


@functools.cache
def _columns(registered: tuple[str, ...]) -> tuple[str, ...]:  # cached per set of registered sources
    return tuple(IMG2DATASET_COLUMNS + ["uid", "source"] + source_columns() + ["figure_label", "source_path"])


@functools.cache
def _source(name: str) -> Source | None:
    cls = sources().get(name)
    return cls() if cls else None


def provenance_url(meta: dict) -> str:
    """Where the figure came from, as a URL a person can follow (the source says how)."""
    source = _source(str(meta.get("source")))
    return source.provenance_url(meta) if source else str(meta.get("url") or "")


def img2dataset_json(meta: dict, key: str, caption: str) -> dict:
    out = {c: meta.get(c) for c in columns()}
    out.update({
        "key": key, "caption": caption, "url": provenance_url(meta), "status": "success", "error_message": None,
        "exif": None, "figure_label": meta.get("figure_label") or meta.get("label"),
    })
    return out


@dataclass
class ConvertReport:
    inputs: int = 0
    samples: int = 0
    shards: int = 0
    skipped_incomplete: int = 0
    damaged_inputs: int = 0


def _input_samples(dirs: list[Path], report: ConvertReport) -> Iterator[tuple[bytes, str, dict]]:
    for d in dirs:
        for shard in sorted(p for p in d.glob("*.tar") if not p.name.startswith(".")):
            report.inputs += 1
            sr = ShardReport(shard.name)
            for _, members in read_samples(shard, sr):
                if "jpg" not in members or "txt" not in members or "json" not in members:
                    report.skipped_incomplete += 1
                    continue
                yield members["jpg"], members["txt"].decode("utf-8"), json.loads(members["json"])
            if sr.truncated:
                report.damaged_inputs += 1


def _schema() -> pa.Schema:
    return pa.schema([pa.field(c, pa.int64() if c in INT_COLUMNS else pa.string()) for c in columns()])


def convert(input_dirs: list[str | os.PathLike], outdir: str | os.PathLike, samples_per_shard: int = 10_000,
            expected_total: int | None = None) -> ConvertReport:
    """Rewrite the samples under ``input_dirs`` (each a folder of shards) into img2dataset layout."""
    dirs = sorted(Path(d) for d in input_dirs)
    for d in dirs:
        if not d.is_dir():
            raise SciclipError(f"{d}: not a directory")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for old in list(outdir.glob("*.tar")) + list(outdir.glob("*.parquet")) + list(outdir.glob("*_stats.json")):
        old.unlink()
    oom_samples = len(str(samples_per_shard - 1))
    total = expected_total
    oom_shards = max(5, len(str(((total or 0) + samples_per_shard - 1) // samples_per_shard)))
    report = ConvertReport()
    rows: list[dict] = []
    shard_id = 0
    idx = 0
    started = time.time()
    writer = ShardWriter(outdir, samples_per_shard, name_format="{:05d}.tar")

    def finish_shard() -> None:
        nonlocal rows, started
        name = f"{shard_id:05d}"
        table = pa.Table.from_pylist(rows, schema=_schema())
        tmp = outdir / f".{name}.parquet.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, outdir / f"{name}.parquet")
        now = time.time()
        stats = {"count": len(rows), "successes": len(rows), "failed_to_download": 0, "failed_to_resize": 0,
                 "duration": round(now - started, 3), "start_time": started, "end_time": now,
                 "status_dict": {"success": len(rows)}}
        atomic_write_bytes(outdir / f"{name}_stats.json", (json.dumps(stats, indent=2) + "\n").encode())
        rows = []
        started = now

    with progress(desc=f"img2dataset {outdir.name}", unit="sample") as bar:
        for jpg, caption, meta in _input_samples(dirs, report):
            key = f"{shard_id * 10 ** oom_samples + idx:0{oom_samples + oom_shards}d}"
            out = img2dataset_json(meta, key, caption)
            writer.write(key, {"jpg": jpg, "txt": caption.encode("utf-8"),
                               "json": json.dumps(out, sort_keys=True, ensure_ascii=False).encode("utf-8")})
            rows.append(out)
            report.samples += 1
            bar.update(1)
            idx += 1
            if idx == samples_per_shard:
                finish_shard()
                shard_id += 1
                idx = 0
        writer.close()
        if rows:
            finish_shard()
            shard_id += 1
    report.shards = shard_id
    return report
