"""One unit's image download, exactly as DataComp's ``download_upstream.py`` runs img2dataset, and retry rounds.

DataComp calls ``img2dataset.download`` over the metadata folder with ``url`` -> image, ``text`` -> caption,
``uid`` saved beside, images resized to 512 px on the longer side (``keep_ratio_largest``) only when bigger,
encoded as JPEG (quality 95, img2dataset's default), faces blurred from the ``face_bboxes`` column
(``bbox_col``), 10,000 samples per shard, 8-digit shard names, 2 retries and img2dataset's other defaults
(10 s timeout, sha256 of what arrived, EXIF read). ``DATACOMP`` holds those settings; the unit's job passes
them through the same img2dataset path as the cc source (``sciclip.sources.cc.download.run_img2dataset``: in
this process for one process, and fetching only from public addresses, which a years-old list of web URLs
needs: any of them may now name a private network).

Besides ``uid`` each url carries ``row`` (its place in the unit, the key that matches attempts up) and the pool's
other metadata columns (CLIP scores, face boxes, ...), so the samples keep them; img2dataset reserves some
names (``sha256``, ``original_width``, ``original_height``, ...), which are saved as ``pool_<name>``.

A retry round takes the rows whose latest attempt failed (under ``retry_reasons``, by default every reason but
an opt-out or a refused private address) and downloads only those into a folder of its own: nothing that arrived
is fetched twice, and earlier attempts are never rewritten.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.errors import SciclipError
from sciclip.sources.cc.download import DownloadOptions, run_img2dataset
from sciclip.sources.commonpool.outcomes import I2D_COLUMNS, merged_outcomes, read_attempt
from sciclip.storage.atomic import atomic_write_bytes

# download_upstream.py's arguments (its defaults) that decide what the shards hold
DATACOMP = {"image_size": 512, "resize_mode": "keep_ratio_largest", "resize_only_if_bigger": True,
            "encode_format": "jpg", "number_sample_per_shard": 10_000, "oom_shard_count": 8, "retries": 2}
BBOX = "face_bboxes"
REQUIRED = ("uid", "url", "text")
RESERVED = (set(I2D_COLUMNS) - {"url"}) | {"md5", "sha512", "row"}  # img2dataset's names (but the url), and ours
NEVER_RETRIED = ("opted_out", "private_address")  # the server said no, or the address is never allowed
REPORT = "download.json"


@dataclass(frozen=True)
class PoolDownloadOptions:
    processes: int = 1
    threads: int = 64
    timeout_s: float = 10.0
    retries: int = DATACOMP["retries"]
    image_size: int = DATACOMP["image_size"]
    resize_mode: str = DATACOMP["resize_mode"]
    resize_only_if_bigger: bool = DATACOMP["resize_only_if_bigger"]
    encode_format: str = DATACOMP["encode_format"]
    samples_per_shard: int = DATACOMP["number_sample_per_shard"]
    blur_faces: bool = True
    user_agent_token: str | None = "sciclip"
    disallowed_header_directives: tuple[str, ...] = ("noai", "noimageai", "noindex", "noimageindex")
    serve: str | None = None  # a folder served on 127.0.0.1 as the web (demo, tests)
    allow_private_addresses: bool = False

    def transport(self) -> DownloadOptions:
        """The cc download's options that drive img2dataset's process and connections."""
        return DownloadOptions(processes=self.processes, threads=self.threads, serve=self.serve,
                               allow_private_addresses=self.allow_private_addresses)


def img2dataset_kwargs(url_list: Path, out_dir: Path, columns: list[str], bbox: bool,
                       opts: PoolDownloadOptions) -> dict:
    """``img2dataset.download``'s arguments for one unit, as ``download_upstream.py`` passes them."""
    return {
        "url_list": str(url_list), "input_format": "parquet", "url_col": "url", "caption_col": "text",
        "bbox_col": BBOX if bbox else None, "save_additional_columns": columns, "output_format": "webdataset",
        "output_folder": str(out_dir), "image_size": opts.image_size, "resize_mode": opts.resize_mode,
        "resize_only_if_bigger": opts.resize_only_if_bigger, "encode_format": opts.encode_format,
        "number_sample_per_shard": opts.samples_per_shard, "oom_shard_count": DATACOMP["oom_shard_count"],
        "retries": opts.retries, "timeout": int(max(1, opts.timeout_s)), "processes_count": opts.processes,
        "thread_count": opts.threads, "user_agent_token": opts.user_agent_token,
        "disallowed_header_directives": list(opts.disallowed_header_directives), "compute_hash": "sha256",
        "extract_exif": True, "enable_wandb": False, "distributor": "multiprocessing",
        "incremental_mode": "incremental",
    }


def _read_metadata(path: Path) -> pa.Table:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as e:
        raise SciclipError(f"{path}: not a readable metadata parquet ({e})") from None
    missing = [c for c in REQUIRED if c not in table.column_names]
    if missing:
        raise SciclipError(f"{path}: not CommonPool metadata (no column {', '.join(missing)})")
    return table


def url_table(parquets: list[Path]) -> pa.Table:
    """The unit's urls: every metadata row in file and row order, with ``row`` and the pool's other columns
    (reserved names as ``pool_<name>``)."""
    tables, start = [], 0
    for path in parquets:
        t = _read_metadata(path)
        t = t.rename_columns([f"pool_{c}" if c in RESERVED else c for c in t.column_names])
        t = t.append_column("row", pa.array(range(start, start + t.num_rows), pa.int64()))
        start += t.num_rows
        tables.append(t)
    if not tables:
        raise SciclipError("a commonpool unit without metadata files")
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as e:
        raise SciclipError(f"{parquets[0].parent}: the unit's metadata files disagree on their columns ({e})") from None


def _download(table: pa.Table, out_dir: Path, opts: PoolDownloadOptions) -> None:
    """img2dataset over ``table``'s urls into ``out_dir`` (DataComp's settings)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if table.num_rows == 0:
        return
    bbox = opts.blur_faces and BBOX in table.column_names
    columns = [c for c in table.column_names if c not in ("url", "text") and not (bbox and c == BBOX)]
    url_list = out_dir.parent / f".{out_dir.name}.urls.parquet"
    pq.write_table(table, url_list)
    try:
        run_img2dataset(url_list, out_dir, opts.transport(), img2dataset_kwargs(url_list, out_dir, columns, bbox, opts))
    finally:
        url_list.unlink(missing_ok=True)


def _report(attempts: list[Path], started: float, **extra) -> dict:
    outcomes = merged_outcomes(attempts)
    status = Counter(o.failure or "success" for o in outcomes)
    return {"urls": len(outcomes), "downloaded": status.pop("success", 0), "failed": dict(sorted(status.items())),
            "duration_s": round(time.monotonic() - started, 3), **extra}


def download_unit(parquets: list[Path], out_dir: str | Path, opts: PoolDownloadOptions) -> dict:
    """The unit's urls downloaded into ``out_dir`` (img2dataset's layout) and ``download.json`` (what arrived,
    what failed and why)."""
    started = time.monotonic()
    out_dir = Path(out_dir)
    table = url_table(parquets)
    _download(table, out_dir, opts)
    report = _report([out_dir], started, metadata_files=[p.name for p in parquets])
    atomic_write_bytes(out_dir / REPORT, (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
    return report


def failed_rows(attempts: list[str | Path], reasons: tuple[str, ...] = ()) -> pa.Table:
    """The rows whose latest attempt failed (under ``reasons``; none given: every reason but ``NEVER_RETRIED``),
    rebuilt as url-list rows from what the attempts saved (url, text, uid, row, the pool's columns)."""
    rows = []
    for o in merged_outcomes(attempts):
        if o.failure is None or (o.failure not in reasons if reasons else o.failure in NEVER_RETRIED):
            continue
        rows.append({"url": o.url, "text": o.text, "uid": o.uid, "row": o.row, **o.columns})
    schema = _saved_schema(attempts)
    return pa.Table.from_pylist(rows, schema=schema) if schema is not None else pa.Table.from_pylist(rows)


def _saved_schema(attempts: list[str | Path]) -> pa.Schema | None:
    """The url list's schema as the first attempt saved it (so that a retry's parquet has the same types)."""
    for folder in attempts:
        for p in sorted(Path(folder).glob("[0-9]*.parquet")):
            s = pq.read_schema(p)
            fields = [pa.field("url", pa.string()), pa.field("text", pa.string())]
            fields += [f for f in s if f.name not in I2D_COLUMNS]
            return pa.schema(fields)
    return None


def retry_unit(attempts: list[str | Path], out_dir: str | Path, opts: PoolDownloadOptions,
               reasons: tuple[str, ...] = ()) -> dict:
    """One retry round: the failed rows of ``attempts`` downloaded again into ``out_dir``; its report counts the
    unit as it stands after the round."""
    started = time.monotonic()
    out_dir = Path(out_dir)
    for a in attempts:  # a missing attempt is an error, not "nothing failed"
        next(iter(read_attempt(a)), None)
    table = failed_rows(attempts, reasons)
    _download(table, out_dir, opts)
    report = _report([*map(Path, attempts), out_dir], started, retried=table.num_rows)
    atomic_write_bytes(out_dir / REPORT, (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
    return report
