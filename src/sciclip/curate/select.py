"""A filter set applied to the metadata of a pool: the uid subset it keeps, as DataComp's baselines save it.

The pool is every row of the metadata parquets given (one source's folder, or every folder of a mixed
output's sources). Selected uids are routed by their top bits into partition files and written sorted,
partition by partition (``np.dtype("u8,u8")``, the resharder's ``-s`` file); with a base subset (the output's
decontaminated, de-duplicated one) only uids in both are kept, with the base's multiplicity. Memory: one
metadata file and one partition, never the pool (the fraction's threshold takes two passes, ``filters``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.curate.filters import Filter
from sciclip.errors import SciclipError
from sciclip.shards.subset_file import UidPartitions, hex_to_pairs, load_subset
from sciclip.storage.atomic import atomic_write_bytes


def metadata_files(dirs: list[str | os.PathLike]) -> list[Path]:
    """Every ``*.parquet`` of the metadata folders, folders in the order given, files by name."""
    files: list[Path] = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise SciclipError(f"{d}: no such metadata folder")
        files += sorted(p for p in d.glob("*.parquet") if not p.name.startswith("."))
    return files


def _arrays(parquet: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    if not names:
        return {}
    npz = parquet.with_suffix(".npz")
    try:
        with np.load(npz) as z:
            return {n: z[n] for n in names}
    except (OSError, KeyError, ValueError) as e:
        raise SciclipError(f"{npz}: cannot read {', '.join(names)} ({type(e).__name__}: {e})") from None


def _read(parquet: Path, columns: list[str]) -> pa.Table:
    try:
        names = set(pq.read_schema(parquet).names)
        missing = [c for c in columns if c not in names]
        if missing:
            raise SciclipError(f"{parquet}: no column {', '.join(missing)} (was that model or the kinds switched "
                               "off in metadata?)")
        return pq.read_table(parquet, columns=columns)
    except (OSError, pa.ArrowException) as e:
        raise SciclipError(f"{parquet}: not a metadata parquet ({e})") from None


def select(metadata_dirs: list[str | os.PathLike], filters: list[Filter], out: str | os.PathLike,
           base: str | os.PathLike | None = None, report: str | os.PathLike | None = None,
           partitions: int = 256) -> dict:
    """Apply ``filters`` (all must keep a row) to the pool; write the sorted subset to ``out``."""
    files = metadata_files(metadata_dirs)
    for f in filters:
        f.prepare(files)
    out = Path(out)
    passing = {f.name: 0 for f in filters}
    pool = selected = 0
    columns = sorted({"uid", *(c for f in filters for c in f.columns)})
    with UidPartitions(out, partitions) as parts:
        for path in files:
            table = _read(path, columns)
            arrays = _arrays(path, tuple(a for f in filters for a in f.arrays))
            keep = np.ones(table.num_rows, bool)
            for f in filters:
                m = f.mask(table, arrays)
                passing[f.name] += int(m.sum())
                keep &= m
            pool += table.num_rows
            pairs = hex_to_pairs(np.array(table.column("uid").to_pylist(), dtype="S32")[keep])
            selected += len(pairs)
            parts.add(pairs)
        base_arr = load_subset(base) if base else None
        kept = parts.write(out, base_arr)
    rep = {"pool": pool, "files": len(files), "filters": {f.name: {"kept": passing[f.name], **f.describe()}
                                                          for f in filters},
           "selected": selected, "base": None if base_arr is None else int(len(base_arr)), "kept": kept}
    if report:
        atomic_write_bytes(report, (json.dumps(rep, indent=1) + "\n").encode())
    return rep
