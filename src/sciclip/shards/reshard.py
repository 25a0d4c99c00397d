"""Resharding img2dataset-layout shards to a uid subset, in DataComp's output format.

Output exactly as DataComp's resharder.py writes it: ``{:08d}.tar`` shards of at most ``shard_size``
samples, each sample keyed ``{uid}-{j}`` (j counts repeats of a uid listed more than once in the subset,
i.e. upsampling) with its other members copied unchanged; ``{:08d}_stats.json`` = ``{"successes": n}``;
``sample_ids.npy``, a copy of the subset file; ``meta.json`` with the arguments as strings and the run's
state (``output_shard_count`` is what DataComp's train.py reads). It accepts the same flags.

Unlike resharder.py, output order does not depend on worker timing, and memory does not depend on the number
of samples: a first pass (parallel over input shards) counts how many output samples each input shard gives —
from the shard's parquet when present, else from its json members, looked up in the memory-mapped subset —
so that each output shard knows which slice of which input shards it holds; then each worker writes whole
output shards, re-reading only the selections of the input shards it needs and seeking past unselected members.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tarfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from sciclip.errors import SciclipError
from sciclip.progress import progress
from sciclip.shards import fast_tar
from sciclip.shards.reader import split_key
from sciclip.shards.subset_file import hex_to_pairs, load_subset, multiplicity
from sciclip.storage.atomic import atomic_dir, atomic_write_bytes

log = logging.getLogger(__name__)

_SUBSETS: dict[str, np.ndarray] = {}


def _subset(path: str) -> np.ndarray:
    """The subset, memory-mapped once per (worker) process; sortedness is checked once, by the caller."""
    if path not in _SUBSETS:
        _SUBSETS[path] = load_subset(path, check=False)
    return _SUBSETS[path]


def _shard_uids_from_parquet(tar_path: Path) -> list[str] | None:
    pq_path = tar_path.with_suffix(".parquet")
    if not pq_path.is_file():
        return None
    try:
        table = pq.read_table(pq_path, columns=None)
    except Exception:  # unreadable parquet: fall back to the tar itself
        return None
    names = table.column_names
    if "uid" not in names:
        return None
    uids = table.column("uid").to_pylist()
    if "status" in names:  # img2dataset lists failed rows too; only successes are in the tar
        status = table.column("status").to_pylist()
        uids = [u for u, s in zip(uids, status) if s == "success"]
    return uids


def _shard_uids_from_tar(tar_path: Path) -> list[str]:
    uids: list[str] = []
    last_key = None
    with tarfile.open(tar_path, "r:") as tar:
        for m in tar:
            if not m.isreg():
                continue
            key, ext = split_key(m.name)
            if key != last_key:
                uids.append("")
                last_key = key
            if ext == "json":
                data = json.loads(tar.extractfile(m).read())
                uids[-1] = str(data.get("uid") or "")
    return uids


def _selection(tar_path: Path, subset_path: str) -> tuple[list[tuple[int, str, int]], int]:
    """(ordinal in the shard, uid, times selected) of the shard's selected samples, and its sample count."""
    uids = _shard_uids_from_parquet(tar_path)
    if uids is None:
        try:
            uids = _shard_uids_from_tar(tar_path)
        except (tarfile.TarError, OSError, ValueError) as e:
            raise SciclipError(f"{tar_path}: not a readable tar shard ({e})") from None
    valid = [(i, u.lower()) for i, u in enumerate(uids) if re.fullmatch(r"[0-9a-fA-F]{32}", u or "")]
    counts = multiplicity(_subset(subset_path), hex_to_pairs(np.array([u for _, u in valid], dtype="S32")))
    return [(i, u, int(c)) for (i, u), c in zip(valid, counts) if c > 0], len(uids)


def _count(args: tuple[str, str]) -> tuple[str, int, int]:
    selected, samples = _selection(Path(args[0]), args[1])
    return args[0], sum(c for _, _, c in selected), samples


def _selected_samples(tar_path: str, wanted: dict[int, tuple]) -> Iterator[tuple[int, list[tuple[str, bytes]]]]:
    """(ordinal, members) of the wanted samples of one shard, seeking past every other member."""
    try:
        yield from _selected_fast(tar_path, wanted)
    except fast_tar.Unsupported:  # PAX/GNU headers: tarfile knows them (rare in shards)
        yield from _selected_tarfile(tar_path, wanted)


def _grouped(members: Iterator[tuple[str, Callable[[], bytes], Callable[[], None]]], wanted: dict[int, tuple]):
    ordinal = -1
    last_key = None
    current: list[tuple[str, bytes]] = []
    remaining = len(wanted)
    for name, read, skip in members:
        key, ext = split_key(name)
        if key != last_key:
            if ordinal in wanted:
                yield ordinal, current
                remaining -= 1
                if remaining == 0:
                    return  # nothing more needed from this shard
            current = []
            ordinal += 1
            last_key = key
        if ordinal in wanted:
            current.append((ext, read()))
        else:
            skip()
    if ordinal in wanted:
        yield ordinal, current


def _selected_fast(tar_path: str, wanted: dict[int, tuple]):
    with open(tar_path, "rb", buffering=1 << 20) as f:
        def members():
            for name, size in fast_tar.iter_members(f):
                yield (name, lambda size=size: fast_tar.read_data(f, size), lambda size=size: fast_tar.skip(f, size))
        yield from _grouped(members(), wanted)


def _selected_tarfile(tar_path: str, wanted: dict[int, tuple]):
    with tarfile.open(tar_path, "r:") as tar:
        def members():
            for m in tar:
                if m.isreg():
                    yield m.name, lambda m=m: tar.extractfile(m).read(), lambda: None
        yield from _grouped(members(), wanted)


def _picks(selected: list[tuple[int, str, int]], a: int, b: int) -> list[tuple[int, str, int, int]]:
    """The output positions [a, b) of one input shard (a sample selected c times takes c positions) as
    (ordinal, uid, first repeat j, repeats)."""
    picks, pos = [], 0
    for ordinal, uid, count in selected:
        lo, hi = max(a, pos), min(b, pos + count)
        if lo < hi:
            picks.append((ordinal, uid, lo - pos, hi - lo))
        pos += count
        if pos >= b:
            break
    return picks


def _write_output(args: tuple) -> tuple[int, int]:
    """Write output shard ``index`` from its parts: [(input tar, first position, end position), ...]."""
    index, parts, subset_path, output_dir, output_shard_format, output_shard_stats_format = args
    out_path = Path(output_dir) / output_shard_format.format(index)
    tmp = out_path.with_name(f".{out_path.name}.tmp-{os.getpid()}")
    written = 0
    with open(tmp, "wb", buffering=1 << 20) as f:
        out = fast_tar.TarWriter(f)
        for tar_path, a, b in parts:
            selected, _ = _selection(Path(tar_path), subset_path)
            wanted = {ordinal: (uid, j0, n) for ordinal, uid, j0, n in _picks(selected, a, b)}
            try:
                for ordinal, members in _selected_samples(tar_path, wanted):
                    uid, j0, n = wanted[ordinal]
                    for j in range(j0, j0 + n):
                        for ext, data in members:
                            out.add(f"{uid}-{j}.{ext}", data)
                        written += 1
            except (fast_tar.Damaged, tarfile.TarError, OSError) as e:
                log.error("%s: damaged (%s); its later samples are missing from output shard %d", tar_path, e, index)
        out.close()
    os.replace(tmp, out_path)
    stats = Path(output_dir) / output_shard_stats_format.format(index)
    atomic_write_bytes(stats, json.dumps({"successes": written}).encode())
    return index, written


def plan_outputs(counts: list[tuple[str, int]], shard_size: int) -> Iterator[list[tuple[str, int, int]]]:
    """Parts of each output shard in turn, from the per-input-shard output counts (global order = input shard
    order, then sample order; a sample's repeats stay together unless a shard boundary splits them)."""
    parts: list[tuple[str, int, int]] = []
    fill = 0
    for tar_path, n in counts:
        start = 0
        while start < n:
            take = min(n - start, shard_size - fill)
            parts.append((tar_path, start, start + take))
            start += take
            fill += take
            if fill == shard_size:
                yield parts
                parts, fill = [], 0
    if parts:
        yield parts


def input_shards(input_dir: Path, shard_format: str, first_shard: int, num_shards: int | None) -> list[Path]:
    if num_shards is None:
        # every shard of the format present, from first_shard on (resharder.py binary-searches the count)
        pattern = re.compile("^" + re.escape(shard_format).replace(re.escape("{:08d}"), r"(\d{8})")
                             .replace(re.escape("{:05d}"), r"(\d{5})") + "$")
        ids = sorted(int(m.group(1)) for p in input_dir.iterdir() if (m := pattern.match(p.name)))
        ids = [i for i in ids if i >= first_shard]
    else:
        ids = list(range(first_shard, first_shard + num_shards))
    paths = [input_dir / shard_format.format(i) for i in ids]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        log.warning("%d input shards missing (first: %s)", len(missing), missing[0])
    return [p for p in paths if p.is_file()]


def reshard(input_dirs: list[str | os.PathLike], output_dir: str | os.PathLike, subset_file: str | os.PathLike,
            shard_size: int = 10_000, num_workers: int = 1, first_shard: int = 0, num_shards: int | None = None,
            shard_format: str = "{:08d}.tar", output_shard_format: str = "{:08d}.tar",
            shard_stats_format: str = "{:08d}_stats.json", output_shard_stats_format: str = "{:08d}_stats.json",
            overwrite: bool = False, argv: dict | None = None) -> dict:
    started = time.perf_counter()
    output_dir = Path(output_dir)
    subset = load_subset(subset_file)
    shards = [p for d in input_dirs for p in input_shards(Path(d), shard_format, first_shard, num_shards)]
    if not shards and len(subset):  # an empty subset (a source that gave no samples) makes an empty output
        raise SciclipError(f"no input shards matching {shard_format} in {', '.join(map(str, input_dirs)) or '(none)'}")
    if not overwrite and output_dir.is_dir() and any(output_dir.iterdir()):
        raise SciclipError(f"{output_dir}: refusing to overwrite a non-empty directory (pass --overwrite)")
    with atomic_dir(output_dir, owns=("*",)) as tmp:  # the old output stays whole until the new one is
        state = _reshard_into(tmp, shards, subset, subset_file, shard_size, num_workers, output_shard_format,
                              output_shard_stats_format)
        args = {"input_dir": input_dirs[0] if len(input_dirs) == 1 else list(input_dirs), "output_dir": output_dir,
                "subset_file": subset_file, "num_shards": num_shards, "first_shard": first_shard,
                "num_workers": state["worker_success"], "shard_size": shard_size, "shard_format": shard_format,
                "output_shard_format": output_shard_format, "shard_stats_format": shard_stats_format,
                "output_shard_stats_format": output_shard_stats_format, "overwrite": overwrite, **(argv or {})}
        meta = {**{k: str(v) for k, v in args.items()}, **state, "cwd": str(Path.cwd())}
        atomic_write_bytes(tmp / "meta.json", json.dumps(meta).encode())
    elapsed = time.perf_counter() - started
    log.info("processed %d samples in %.3fs (%.1f samples/s); wrote %d samples in %d shards", state["processed_count"],
             elapsed, state["processed_count"] / elapsed if elapsed else 0.0, state["output_count"],
             state["output_shard_count"])
    return {**state, "seconds": elapsed}


def _reshard_into(output_dir: Path, shards: list[Path], subset: np.ndarray, subset_file: str | os.PathLike,
                  shard_size: int, num_workers: int, output_shard_format: str, output_shard_stats_format: str) -> dict:
    """The output shards, their stats and ``sample_ids.npy`` written into ``output_dir``; returns the
    resharder's state (DataComp's fields of ``meta.json``)."""
    workers = max(1, min(num_workers, len(shards) or 1))
    subset_path = str(subset_file)
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    try:
        mapper = pool.map if pool else map
        scans = list(progress(iterable=mapper(_count, [(str(p), subset_path) for p in shards]),
                              total=len(shards), desc="scan", unit="shard"))
        tasks = ((i, parts, subset_path, str(output_dir), output_shard_format, output_shard_stats_format)
                 for i, parts in enumerate(plan_outputs([(path, n) for path, n, _ in scans], shard_size)))
        total_out = sum(n for _, n, _ in scans)
        results = list(progress(iterable=mapper(_write_output, tasks), total=-(-total_out // shard_size),
                                desc="write", unit="shard"))
    finally:
        if pool:
            pool.shutdown()
    output_count = sum(n for _, n in results)
    processed = sum(n for _, _, n in scans)
    shutil.copyfile(subset_file, output_dir / "sample_ids.npy")
    if output_count != int(len(subset)):
        log.warning("%d samples of the subset were not found in the input", int(len(subset)) - output_count)
    return {"processed_count": processed, "output_count": output_count, "blur_count": 0, "blur_time": 0,
            "output_shard_count": len(results), "worker_success": workers}
