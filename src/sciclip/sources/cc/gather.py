"""The steps that need the whole pool: cross-file dedup with entry counts, and summing per-unit counts.

``gather_pool`` reads every unit's matched parquet (in unit order), writes a keep-mask per unit (first
occurrence of each (url, text) in crawl-file order) and the pool's per-entry counts over the kept rows
(uint64, one per metadata entry): the counts balancing before download uses. ``sum_counts`` adds the
per-unit counts the download jobs write: the counts of the downloaded pool, for the final balancing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from sciclip.errors import SciclipError
from sciclip.sources.cc.balance import entry_counts
from sciclip.sources.cc.dedup import dedup_masks
from sciclip.storage.atomic import atomic_dir, atomic_write_bytes

COUNTS = "counts.npy"
BATCH = 200_000


def mask_path(pool_dir: str | os.PathLike, unit: str) -> Path:
    return Path(pool_dir) / f"{unit}.keep.npy"


def save_npy(path: Path, array: np.ndarray) -> None:
    """np.save, atomically."""
    import io

    buf = io.BytesIO()
    np.save(buf, array)
    atomic_write_bytes(path, buf.getvalue())


def _batches(path: Path):
    def read():
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH, columns=["url", "text"]):
            yield batch.column(0).to_pylist(), batch.column(1).to_pylist()
    return read


def gather_pool(units: list[tuple[str, str | os.PathLike]], size: int, out_dir: str | os.PathLike,
                max_rows: int = 20_000_000, scratch: str | None = None) -> dict:
    """Dedup masks and entry counts of the matched pool ``units`` ((name, parquet) in unit order)."""
    paths = [Path(p) for _, p in units]
    for p in paths:
        if not p.is_file():
            raise SciclipError(f"{p}: no matched pool file")
    sizes = [pq.ParquetFile(p).metadata.num_rows for p in paths]
    with atomic_dir(out_dir, owns=("*.npy", "summary.json")) as out:  # replaces the old output
        counts = np.zeros(size, dtype=np.uint64)
        kept = 0
        per_unit = {}
        for u, mask in dedup_masks([(n, _batches(p)) for n, p in zip(sizes, paths)], max_rows, scratch):
            name = units[u][0]
            save_npy(mask_path(out, name), mask)
            ids = pq.read_table(paths[u], columns=["entry_ids"]).column(0).to_pylist()
            if ids and max(max(e) for e in ids) >= size:
                raise SciclipError(f"{paths[u]}: entry ids beyond the metadata's {size} entries (another metadata list?)")
            counts += entry_counts(ids, size, mask)
            kept += int(mask.sum())
            per_unit[name] = {"rows": len(mask), "kept": int(mask.sum())}
        save_npy(out / COUNTS, counts)
        summary = {"units": len(units), "rows": sum(sizes), "unique_pairs": kept, "duplicates": sum(sizes) - kept,
                   "entries": size, "entries_matched": int((counts > 0).sum()), "max_count": int(counts.max(initial=0)),
                   "per_unit": per_unit}
        atomic_write_bytes(out / "summary.json", (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode())
    return summary


def load_counts(path: str | os.PathLike, size: int | None = None) -> np.ndarray:
    try:
        counts = np.load(path)
    except (OSError, ValueError) as e:
        raise SciclipError(f"{path}: not a counts file ({e})") from None
    if counts.dtype != np.uint64 or counts.ndim != 1 or (size is not None and len(counts) != size):
        raise SciclipError(f"{path}: expected uint64 counts of {size or 'N'} entries, got {counts.dtype}{counts.shape}")
    return counts


def sum_counts(paths: list[str | os.PathLike], out: str | os.PathLike) -> np.ndarray:
    """The sum of per-unit uint64 counts files (all of one length)."""
    total: np.ndarray | None = None
    for p in paths:
        c = load_counts(p, None if total is None else len(total))
        total = c.copy() if total is None else total + c
    if total is None:
        raise SciclipError("no counts files to sum")
    save_npy(Path(out), total)
    return total
