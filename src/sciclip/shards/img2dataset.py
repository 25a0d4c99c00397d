"""Our per-tarball / per-batch shards rewritten in img2dataset's output layout, which DataComp's tools read.

Layout (see ../shared/notes/formats.md): ``{shard:05d}.tar`` with a fixed number of samples per shard;
sample key = shard_id * 10**oom_samples + index, zero-padded to oom_samples + oom_shards digits; members
``.jpg``, ``.txt``, ``.json`` (img2dataset's fields: key, caption, url, status, error_message, width, height,
original_width, original_height, exif, sha256 — plus ours: uid, source, each source's declared columns, label);
beside each shard ``{shard}.parquet`` (one row per sample, the same fields, each with its declared type: cc's
WARC offsets are int64, its entry ids list<int64>; in the json they are text, see ``img2dataset_json``) and
``{shard}_stats.json``.
Input order is the sorted input directories, then shard order, then sample order: the output is a pure
function of the input. Image bytes are copied, never re-encoded.

Conversion runs per tail unit (``shards.tail_plan``): each job writes its own range of shards, so a corpus of
any size converts in parallel with bounded memory, and the result is byte-identical to a single job. A sample
the plan counted but the job cannot read whole (a damaged or incomplete input) keeps its key, as img2dataset
does for a failed download: a parquet row with status ``failed_to_download`` and no tar members.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.errors import SciclipError
from sciclip.progress import progress
from sciclip.shards import fast_tar
from sciclip.shards.reader import ShardReport, read_samples
from sciclip.shards.tail_plan import TailPlan, plan_tail
from sciclip.shards.writer import ShardWriter
from sciclip.sources.base import Source
from sciclip.sources.registry import source_column_types, sources
from sciclip.storage.atomic import atomic_write_bytes

# img2dataset's own columns, then ours; every sample's json has all of them. The sources' own columns
# (``Source.columns``, each with its declared type) go between ``source`` and ``figure_label``, in registry order.
IMG2DATASET_COLUMNS = ["key", "caption", "url", "status", "error_message", "width", "height", "original_width",
                       "original_height", "exif", "sha256"]
INT_COLUMNS = {"width", "height", "original_width", "original_height"}
ARROW_TYPES = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(),
               "list<int64>": pa.list_(pa.int64()), "list<string>": pa.list_(pa.string())}


def columns() -> tuple[str, ...]:
    return tuple(column_types())


def column_types() -> dict[str, str]:
    """Every column and its type (``ARROW_TYPES``' names), in order."""
    return _column_types(tuple(sources()))


@functools.cache
def _column_types(registered: tuple[str, ...]) -> dict[str, str]:  # cached per set of registered sources
    declared = source_column_types()
    for c, t in declared.items():
        if t not in ARROW_TYPES:
            raise SciclipError(f"column {c!r}: unknown type {t!r} (known: {', '.join(ARROW_TYPES)})")
    types = {c: "int64" if c in INT_COLUMNS else "string" for c in IMG2DATASET_COLUMNS + ["uid", "source"]}
    types.update(declared)
    types.update({"figure_label": "string", "source_path": "string"})
    return types


def _number(v, kind: type) -> int | float | None:
    if isinstance(v, bool) or v is None or v == "":
        return None
    try:
        return kind(v)
    except (TypeError, ValueError, OverflowError):
        return None


def typed(value, kind: str):
    """``value`` as a ``kind`` column holds it. A missing (or unreadable) string is "", never null: readers
    that infer a schema from the first rows (Hugging Face datasets) then see one type whatever the source;
    a missing number, flag or list is null, as img2dataset writes for what it lacks. A list given as the
    comma-separated text older shards held ("3,17") is read as one."""
    if kind == "string":
        return "" if value is None else value if isinstance(value, str) else str(value)
    if kind in ("int64", "float64"):
        n = _number(value, int if kind == "int64" else float)
        return n if n is None or kind == "float64" or -(1 << 63) <= n < 1 << 63 else None
    if kind == "bool":
        return value if isinstance(value, bool) else None
    if value is None:
        return None
    if isinstance(value, str):
        value = [x.strip() for x in value.split(",") if x.strip()]
    if not isinstance(value, (list, tuple)):
        return None
    if kind == "list<string>":
        return [typed(x, "string") for x in value]
    items = [typed(x, "int64") for x in value]
    return None if None in items else items


def _source(name: str) -> Source | None:
    cls = sources().get(name)
    return _instance(cls) if cls else None


@functools.cache
def _instance(cls: type[Source]) -> Source:  # cached per class: the registry may change (tests add sources)
    return cls()


def provenance_url(meta: dict) -> str:
    """Where the figure came from, as a URL a person can follow (the source says how)."""
    source = _source(str(meta.get("source")))
    return source.provenance_url(meta) if source else str(meta.get("url") or "")


def img2dataset_row(meta: dict, key: str, caption: str) -> dict:
    """One parquet row: the same keys for every source, each column with its declared type (``typed``)."""
    out = {c: meta.get(c) for c in columns()}
    out.update({
        "key": key, "caption": caption, "url": provenance_url(meta), "status": "success", "error_message": None,
        "exif": None, "figure_label": meta.get("figure_label") or meta.get("label"),
    })
    types = column_types()
    return {c: typed(v, types[c]) for c, v in out.items()}


def as_text(value) -> str:
    """A typed value in the json's text form: "" for null, ids comma-separated ("3,17")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(as_text(v) for v in value)
    return str(value)


def img2dataset_json(row: dict) -> dict:
    """The sample's json: the parquet row with every source column as text. Hugging Face's webdataset loader
    infers the json's schema from the first five samples, and a mixed output starts with one source's: a
    number or list that is null there (another source's column) would make it refuse the rest. Typed values
    are in the parquet beside the shard; img2dataset's own numbers (sizes) are always set, and stay numbers."""
    types = column_types()
    return {c: v if types[c] == "string" or c in INT_COLUMNS else as_text(v) for c, v in row.items()}


@dataclass
class ConvertReport:
    inputs: int = 0
    samples: int = 0
    shards: int = 0
    failed: int = 0  # samples counted by the plan but missing, incomplete or unreadable in the input
    damaged_inputs: list = field(default_factory=list)


def _range_samples(path: Path, skip: int, take: int, report: ConvertReport) -> Iterator[tuple | None]:
    """``take`` samples of one input shard after the first ``skip``: (jpg, caption, meta), or None for a
    sample that is not there whole (the stream is padded to ``take``)."""
    report.inputs += 1
    sr = ShardReport(path.name)
    n = 0
    if path.is_file():
        for i, (_, members) in enumerate(read_samples(path, sr)):
            if i < skip:
                continue
            if n == take:
                break
            n += 1
            if "jpg" not in members or "txt" not in members or "json" not in members:
                yield None
                continue
            try:
                yield members["jpg"], members["txt"].decode("utf-8"), json.loads(members["json"])
            except (UnicodeDecodeError, ValueError):
                yield None
    else:
        sr.truncated = "no such file"
    if sr.truncated or n < take:
        report.damaged_inputs.append(f"{path}: {sr.truncated or 'fewer samples than counted'}")
    for _ in range(take - n):
        yield None


def _schema() -> pa.Schema:
    return pa.schema([pa.field(c, ARROW_TYPES[t]) for c, t in column_types().items()])


def _failed_row(key: str, error: str) -> dict:
    row = {c: None for c in columns()}
    row.update({"key": key, "status": "failed_to_download", "error_message": error})
    return row


def _write_shard(outdir: Path, name: str, samples: list[tuple[str, dict[str, bytes]]], rows: list[dict],
                 started: float) -> None:
    writer = ShardWriter(outdir, 1 << 62, name_format=name + ".tar")
    for key, members in samples:
        writer.write(key, members)
    if not writer.close():  # every sample failed: an empty tar keeps the shard sequence whole
        with open(outdir / f".{name}.tar.tmp", "wb") as f:
            fast_tar.TarWriter(f).close()
        os.replace(outdir / f".{name}.tar.tmp", outdir / f"{name}.tar")
    tmp = outdir / f".{name}.parquet.tmp"
    pq.write_table(pa.Table.from_pylist(rows, schema=_schema()), tmp)
    os.replace(tmp, outdir / f"{name}.parquet")
    now = time.time()
    ok = sum(1 for r in rows if r["status"] == "success")
    status = {"success": ok, "failed_to_download": len(rows) - ok} if ok < len(rows) else {"success": ok}
    stats = {"count": len(rows), "successes": ok, "failed_to_download": len(rows) - ok, "failed_to_resize": 0,
             "duration": round(now - started, 3), "start_time": started, "end_time": now, "status_dict": status}
    atomic_write_bytes(outdir / f"{name}_stats.json", (json.dumps(stats, indent=2) + "\n").encode())


def convert_unit(plan: TailPlan, unit_name: str, outdir: str | os.PathLike) -> ConvertReport:
    """Write the img2dataset shards of one tail unit into ``outdir`` (shared by all units of the plan)."""
    unit = plan.unit(unit_name)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    report = ConvertReport()
    per_shard = plan.samples_per_shard
    stream = (item for path, skip, take in unit.inputs for item in _range_samples(Path(path), skip, take, report))
    with progress(total=unit.samples, desc=f"img2dataset {unit.name}", unit="sample") as bar:
        for shard in range(unit.first_shard, unit.first_shard + unit.shards):
            started = time.time()
            samples: list[tuple[str, dict[str, bytes]]] = []
            rows: list[dict] = []
            size = min(per_shard, plan.samples - shard * per_shard)
            for index in range(size):
                key = plan.key(shard, index)
                item = next(stream)
                if item is None:
                    rows.append(_failed_row(key, "sample missing, incomplete or unreadable in the input"))
                    report.failed += 1
                else:
                    jpg, caption, meta = item
                    row = img2dataset_row(meta, key, caption)
                    samples.append((key, {"jpg": jpg, "txt": caption.encode("utf-8"), "json": json.dumps(
                        img2dataset_json(row), sort_keys=True, ensure_ascii=False).encode()}))
                    rows.append(row)
                    report.samples += 1
                bar.update(1)
            _write_shard(outdir, f"{shard:0{plan.oom_shards}d}", samples, rows, started)
            report.shards += 1
    if next(stream, None) is not None:
        raise SciclipError(f"tail unit {unit.name}: the input holds more samples than the plan counted")
    return report


def convert(input_dirs: list[str | os.PathLike], outdir: str | os.PathLike, samples_per_shard: int = 10_000,
            shards_per_unit: int = 50) -> ConvertReport:
    """Rewrite the samples under ``input_dirs`` (each a folder of shards) into img2dataset layout: the plan,
    then every tail unit in turn (the workflow runs the units as parallel jobs)."""
    outdir = Path(outdir)
    plan = plan_tail(input_dirs, samples_per_shard, shards_per_unit)
    outdir.mkdir(parents=True, exist_ok=True)
    for old in list(outdir.glob("*.tar")) + list(outdir.glob("*.parquet")) + list(outdir.glob("*_stats.json")):
        old.unlink()
    total = ConvertReport()
    for unit in plan.units:
        r = convert_unit(plan, unit.name, outdir)
        total.inputs += r.inputs
        total.samples += r.samples
        total.shards += r.shards
        total.failed += r.failed
        total.damaged_inputs += r.damaged_inputs
    return total
