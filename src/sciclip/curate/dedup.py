"""The contamination filter per tail unit, and global exact-duplicate removal with bounded memory.

Exact duplicate (one definition): a sample whose (image sha256, caption) already occurred earlier in key order;
the first is kept. A whole corpus never sits in one set: each tail unit's ``filter`` job hashes its samples'
(sha256, caption) to 128 bits and writes them into ``partitions`` files by hash; the ``dedup`` gather job then
reads one partition at a time across all units (a duplicate always lands in the same partition as its first),
keeps the first of each hash in key order, and routes the kept uids into partitions by uid prefix, so that the
sorted subset is written partition by partition. Memory: one partition, about samples / partitions records.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.curate.decontaminate import unit_shards
from sciclip.errors import SciclipError
from sciclip.shards.subset_file import (
    U16,
    SubsetWriter,
    hex_to_pairs,
    load_subset,
    merge_sorted,
    multiplicity,
)
from sciclip.shards.tail_plan import TailPlan, folder_plan
from sciclip.storage.atomic import atomic_dir, atomic_path, atomic_write_bytes, temporary_name

RECORD = np.dtype([("ih", "u8"), ("il", "u8"), ("order", "u8"), ("uh", "u8"), ("ul", "u8")])
DUPLICATE = np.dtype([("order", "u8"), ("uh", "u8"), ("ul", "u8")])
CONTAMINATED = "contaminated.parquet"
NO_SCORE = float("-inf")


def _ident(sha256: str, caption: str) -> bytes:
    return hashlib.blake2b(f"{sha256}\0{caption}".encode(), digest_size=16).digest()


def _partition_of(values: np.ndarray, partitions: int) -> np.ndarray:
    return (values % np.uint64(partitions)).astype(np.int64)


def filter_unit(folder: str | os.PathLike, plan: TailPlan, unit: str, scores_dir: str | os.PathLike | None,
                threshold: float, out: str | os.PathLike, partitions: int = 64) -> dict:
    """Contaminated samples of one tail unit (``contaminated.parquet``, key order), and every other sample's
    duplicate-detection record in ``{p:03d}.npy`` by hash partition."""
    with atomic_dir(out, owns=("*.npy", CONTAMINATED, "filter.json")) as tmp:
        contaminated: dict[str, list] = {"uid": [], "key": [], "score": []}
        records = []
        per_shard = plan.samples_per_shard
        key_base = 10 ** len(str(per_shard - 1))  # a key is shard * key_base + index
        for shard in unit_shards(folder, plan, unit):
            shard_no = int(shard.stem)
            meta = pq.read_table(shard.with_suffix(".parquet"), columns=["key", "uid", "sha256", "caption", "status"])
            rows = [r for r in meta.to_pylist() if r["status"] == "success"]
            if scores_dir is None:
                score_of: dict[str, float] = {}
            else:
                sc = pq.read_table(Path(scores_dir) / f"{shard.stem}.parquet", columns=["uid", "score"])
                score_of = dict(zip(sc.column("uid").to_pylist(), sc.column("score").to_pylist()))
            keep = np.ones(len(rows), bool)
            ih, il, order = [], [], []
            for i, row in enumerate(rows):
                s = score_of.get(row["uid"], NO_SCORE if scores_dir is None else None)
                if s is None:
                    raise SciclipError(f"{shard}: no score for uid {row['uid']}")
                digest = _ident(row["sha256"] or "", row["caption"] or "")
                ih.append(int.from_bytes(digest[:8], "big"))
                il.append(int.from_bytes(digest[8:], "big"))
                order.append(shard_no * per_shard + int(row["key"]) % key_base)
                if s >= threshold:
                    contaminated["uid"].append(row["uid"])
                    contaminated["key"].append(row["key"])
                    contaminated["score"].append(round(float(s), 6))
                    keep[i] = False
            rec = np.zeros(len(rows), RECORD)
            rec["ih"], rec["il"], rec["order"] = ih, il, order
            if rows:
                pairs = hex_to_pairs(np.array([r["uid"] for r in rows], dtype="S32"))
                rec["uh"], rec["ul"] = pairs["f0"], pairs["f1"]
            records.append(rec[keep])
        allrec = np.concatenate(records) if records else np.zeros(0, RECORD)
        part = _partition_of(allrec["ih"], partitions)
        for p in range(partitions):
            np.save(tmp / f"{p:03d}.npy", allrec[part == p])
        pq.write_table(pa.table({"uid": pa.array(contaminated["uid"], pa.string()),
                                 "key": pa.array(contaminated["key"], pa.string()),
                                 "score": pa.array(contaminated["score"], pa.float64())}), tmp / CONTAMINATED)
        atomic_write_bytes(tmp / "filter.json", json.dumps({"unit": unit, "partitions": partitions,
                                                            "samples": len(allrec) + len(contaminated["uid"]),
                                                            "contaminated": len(contaminated["uid"])}).encode())
    return {"samples": len(allrec) + len(contaminated["uid"]), "contaminated": len(contaminated["uid"])}


def _dedup_partitions(unit_dirs: list[Path], partitions: int, uid_parts: int, unit_starts: np.ndarray,
                      work: Path, dedup: bool = True) -> tuple[int, int]:
    """Pass over hash partitions: kept uids appended to ``work/kept.{q}`` (by uid prefix), duplicates to
    ``work/dup.{d}`` (by the tail unit their key falls in, so that each file is one stretch of key order).
    Without ``dedup`` every sample is kept (a source whose pool is defined elsewhere: CommonPool)."""
    dup_parts = len(unit_starts)
    kept_files = [open(work / f"kept.{q:04d}", "wb") for q in range(uid_parts)]
    dup_files = [open(work / f"dup.{d:04d}", "wb") for d in range(dup_parts)]
    kept = dups = 0
    shift = np.uint64(64 - max(1, (uid_parts - 1).bit_length()))
    try:
        for p in range(partitions):
            arrays = [np.load(d / f"{p:03d}.npy") for d in unit_dirs]
            rec = np.concatenate(arrays) if arrays else np.zeros(0, RECORD)
            if not len(rec):
                continue
            rec = rec[np.lexsort((rec["order"], rec["il"], rec["ih"]))]
            first = np.ones(len(rec), bool)
            if dedup:
                first[1:] = (rec["ih"][1:] != rec["ih"][:-1]) | (rec["il"][1:] != rec["il"][:-1])
            win, lose = rec[first], rec[~first]
            q = (win["uh"] >> shift).astype(np.int64) if uid_parts > 1 else np.zeros(len(win), np.int64)
            for part in np.unique(q):
                sel = win[q == part]
                pairs = np.empty(len(sel), U16)
                pairs["f0"], pairs["f1"] = sel["uh"], sel["ul"]
                kept_files[part].write(pairs.tobytes())
            d = np.searchsorted(unit_starts, lose["order"], "right") - 1
            for part in np.unique(d):
                sel = lose[d == part]
                out = np.empty(len(sel), DUPLICATE)
                out["order"], out["uh"], out["ul"] = sel["order"], sel["uh"], sel["ul"]
                dup_files[part].write(out.tobytes())
            kept += len(win)
            dups += len(lose)
    finally:
        for f in kept_files + dup_files:
            f.close()
    return kept, dups


def _uid_hex(hi: int, lo: int) -> str:
    return f"{hi:016x}{lo:016x}"


def _contaminated_rows(unit_dirs: list[Path]) -> Iterator[dict]:
    for d in unit_dirs:
        table = pq.read_table(d / CONTAMINATED)
        for uid, key, score in zip(*(table.column(c).to_pylist() for c in ("uid", "key", "score"))):
            yield {"uid": uid, "key": key, "score": score}


def _duplicate_rows(work: Path, dup_parts: int, plan: TailPlan) -> Iterator[dict]:
    per_shard = plan.samples_per_shard
    for d in range(dup_parts):
        rec = np.fromfile(work / f"dup.{d:04d}", dtype=DUPLICATE)
        rec = rec[np.argsort(rec["order"], kind="stable")]
        for order, hi, lo in zip(rec["order"].tolist(), rec["uh"].tolist(), rec["ul"].tolist()):
            yield {"uid": _uid_hex(hi, lo), "key": plan.key(order // per_shard, order % per_shard)}


def _write_list(f, items: Iterable[dict]) -> None:
    """A JSON list exactly as ``json.dumps(..., indent=2)`` writes it one level deep, streamed item by item."""
    first = True
    for item in items:
        f.write("[\n    " if first else ",\n    ")
        f.write(json.dumps(item, indent=2).replace("\n", "\n    "))
        first = False
    f.write("[]" if first else "\n  ]")


def dedup_source(unit_dirs: list[str | os.PathLike], plan: TailPlan, threshold: float, out: str | os.PathLike,
                 report_path: str | os.PathLike | None = None, uid_partitions: int = 256, dedup: bool = True) -> dict:
    """The decontaminated, de-duplicated subset of a source from its units' filter outputs (sorted u8,u8 .npy),
    and the report of what was removed (contaminated and duplicate samples, each in key order). ``dedup=False``
    keeps exact duplicates (the report then says ``"dedup": false``)."""
    dirs = sorted((Path(d) for d in unit_dirs), key=lambda p: p.name)
    infos = []
    for d in dirs:
        try:
            infos.append(json.loads((d / "filter.json").read_text()))
        except (OSError, ValueError) as e:
            raise SciclipError(f"{d}: not a filter output ({e})") from None
    partitions = {i["partitions"] for i in infos} or {1}
    if len(partitions) != 1:
        raise SciclipError(f"filter outputs use different partition counts: {sorted(partitions)}")
    out = Path(out)
    work = temporary_name(out, "work")  # a fixed name: this run removes what a killed one left
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        starts = np.array([u.first_shard * plan.samples_per_shard for u in plan.units] or [0], dtype=np.uint64)
        kept, dups = _dedup_partitions(dirs, partitions.pop(), uid_partitions, starts, work, dedup)
        writer = SubsetWriter(out, kept)
        for q in range(uid_partitions):
            part = np.fromfile(work / f"kept.{q:04d}", dtype=U16)
            part.sort()
            writer.write(part)
        writer.close()
        contaminated = sum(i["contaminated"] for i in infos)
        samples = sum(i["samples"] for i in infos)
        if report_path:
            with atomic_path(report_path) as tmp, open(tmp, "w", encoding="utf-8") as f:
                head = {"samples": samples, "kept": kept, "contaminated": contaminated, "exact_duplicates": dups,
                        "threshold": threshold, **({} if dedup else {"dedup": False})}
                f.write(json.dumps(head, indent=2)[:-2] + ",\n  \"contaminated_samples\": ")
                _write_list(f, _contaminated_rows(dirs))
                f.write(",\n  \"duplicate_samples\": ")
                _write_list(f, _duplicate_rows(work, len(starts), plan))
                f.write("\n}\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"samples": samples, "kept": kept, "contaminated": contaminated, "exact_duplicates": dups}


def merge_subsets(paths: list[str | os.PathLike], out: str | os.PathLike,
                  exclude: str | os.PathLike | None = None) -> int:
    """The union (with multiplicity) of several sorted subset files, merged chunk by chunk: a mixed output's;
    uids in the ``exclude`` subset (the science split and its near-duplicates: small) are left out."""
    arrays = [load_subset(p) for p in paths]
    gone = np.asarray(load_subset(exclude)) if exclude else np.zeros(0, U16)
    length = sum(len(a) for a in arrays) - sum(int(multiplicity(a, gone).sum()) for a in arrays)
    writer = SubsetWriter(out, length)
    for chunk in merge_sorted(arrays):
        writer.write(chunk[multiplicity(gone, chunk) == 0] if len(gone) else chunk)
    writer.close()
    return writer.length


def build_subset(folder: str | os.PathLike, scores_dir: str | os.PathLike | None, threshold: float,
                 out: str | os.PathLike, report_path: str | os.PathLike | None = None,
                 shards_per_unit: int = 50, partitions: int = 64) -> dict:
    """The whole subset of one img2dataset folder in one call: every unit filtered, then deduplicated."""
    plan = folder_plan(folder, shards_per_unit)
    out = Path(out)
    work = temporary_name(out, "filter")
    shutil.rmtree(work, ignore_errors=True)
    try:
        dirs = []
        for unit in plan.units:
            filter_unit(folder, plan, unit.name, scores_dir, threshold, work / unit.name, partitions)
            dirs.append(work / unit.name)
        return dedup_source(dirs, plan, threshold, out, report_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
