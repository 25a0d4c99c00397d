"""Near-duplicate images inside the corpus, across every source, from the decontamination descriptors.

Definition (one place): two samples are near-duplicates when their descriptors' similarity reaches the
threshold (pHash: 1 - Hamming/64; Yokoo: inner product of unit vectors, as decontamination measures it).
A sample is removed when it has a near-duplicate that comes earlier in corpus order (sources in registry order,
then key order inside a source): the first of every group stays, whichever source holds it.

Bounded memory at any corpus size: nothing holds the corpus. Each unit's descriptors are read once and every
sample is written, with its order and uid, into the partition files of the keys it can match under; then one
partition at a time is searched exactly:

- pHash, by multi-index hashing (Norouzi et al., CVPR 2012): with a threshold of at most d differing bits the
  64 bits are cut into d + 1 chunks; two codes within d bits agree exactly on at least one chunk (pigeonhole),
  so every pair is found among the samples sharing a (chunk, value). Exact: no pair is missed.
- Yokoo, by partitioned search (an inverted file): k-means centroids trained on a strided sample, each sample
  written to its ``probes`` nearest centroids; pairs are searched exactly inside each partition. Approximate:
  a pair whose members share none of their nearest centroids is missed (the report says how many partitions
  and probes were used).

Memory: one partition (about ``PARTITION_RECORDS`` records) and one block of similarities (``BLOCK_CELLS``);
the pairs found and the removed uids go through files too (one file of each in memory at a time). Time: pHash grows with the sum of squared bucket sizes (about N^2 / 2^16 per chunk at
the default threshold); Yokoo with N x partition size x 256.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from sciclip.curate.decontaminate import load_unit_embeddings, unit_shards
from sciclip.errors import SciclipError
from sciclip.progress import progress
from sciclip.shards.subset_file import U16, UidPartitions, hex_to_pairs
from sciclip.shards.tail_plan import TailPlan
from sciclip.storage.atomic import atomic_path

log = logging.getLogger(__name__)

PARTITION_RECORDS = 1 << 21  # pHash records per partition file (32 bytes each: ~64 MiB)
YOKOO_PARTITION = 5_000  # samples per Yokoo centroid, on average: the exact search costs N x 2 x this x 256
BLOCK_CELLS = 1 << 24  # similarities per block of queries x candidates (64 MiB of float32, and masks of it)


def block_rows(candidates: int) -> int:
    """Query rows per block, so that a block stays within BLOCK_CELLS whatever the partition's size."""
    return max(1, BLOCK_CELLS // max(1, candidates))


SOURCE_SHIFT = 56  # order = source rank << 56 | position in the source's key order

PHASH_REC = np.dtype([("order", "u8"), ("uh", "u8"), ("ul", "u8"), ("code", "u8"), ("group", "u8")])


@dataclass
class UnitInput:
    source: str
    rank: int  # the source's position in corpus order
    plan: TailPlan
    unit: str
    img2dataset: Path
    embeddings: Path


def max_bits(threshold: float) -> int:
    """Hamming distances that reach a pHash similarity threshold: 1 - h/64 >= t."""
    return max(0, int(math.floor((1.0 - threshold) * 64 + 1e-9)))


def chunk_bounds(bits: int) -> list[tuple[int, int]]:
    """(shift, width) of the d + 1 chunks of a 64-bit code, as equal as they can be."""
    m = bits + 1
    if m > 64:
        raise SciclipError(f"a pHash threshold allowing {bits} differing bits cannot be searched by chunks")
    widths = [64 // m + (1 if i < 64 % m else 0) for i in range(m)]
    out, shift = [], 64
    for w in widths:
        shift -= w
        out.append((shift, w))
    return out


def _positions(unit: UnitInput, ids: np.ndarray) -> np.ndarray:
    """Each descriptor row's position in the source's key order (shard * per_shard + index), from the unit's
    img2dataset parquets; rows without an id (no decodable image) get -1."""
    plan = unit.plan
    key_base = 10 ** len(str(plan.samples_per_shard - 1))
    uids, pos = [], []
    for shard in unit_shards(unit.img2dataset, plan, unit.unit):
        t = pq.read_table(shard.with_suffix(".parquet"), columns=["key", "uid", "status"])
        for k, u, s in zip(*(t.column(c).to_pylist() for c in ("key", "uid", "status"))):
            if s == "success":
                uids.append(u)
                pos.append(int(shard.stem) * plan.samples_per_shard + int(k) % key_base)
    order = np.argsort(np.array(uids, dtype="S32"), kind="stable")
    known = np.array(uids, dtype="S32")[order]
    where = np.searchsorted(known, ids)
    out = np.full(len(ids), -1, np.int64)
    hit = (where < len(known)) & (ids != b"")
    hit[hit] = known[where[hit]] == ids[hit]
    out[hit] = np.array(pos, np.int64)[order][where[hit]]
    return out


def _read_unit(unit: UnitInput) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(uids, descriptors, corpus order) of a unit's samples with a descriptor."""
    ids, emb, _ = load_unit_embeddings(unit.embeddings)
    ids = np.asarray(ids)
    pos = _positions(unit, ids)
    good = pos >= 0
    order = (np.uint64(unit.rank) << np.uint64(SOURCE_SHIFT)) | pos[good].astype(np.uint64)
    return ids[good], np.asarray(emb)[good], order


def phash_codes(emb: np.ndarray) -> np.ndarray:
    """Packed 8-byte pHash -> one big-endian uint64 per sample (bit 63 = the hash's first bit)."""
    return np.ascontiguousarray(emb, dtype=np.uint8).view(">u8").ravel().astype(np.uint64)


def find_near_duplicates(units: list[UnitInput], threshold: float, out: str | os.PathLike,
                         report: str | os.PathLike | None = None, pairs: str | os.PathLike | None = None,
                         probes: int = 2, seed: int = 0) -> dict:
    """The sorted uids of every near-duplicate to remove (``out``, u8,u8 .npy), every removed sample with the
    earlier sample it repeats (``pairs``, parquet) and a report (counts, the first ``REPORT_ROWS`` removed)."""
    descriptors = {load_unit_embeddings(u.embeddings)[2] for u in units}
    if len(descriptors) > 1:
        raise SciclipError(f"units use different descriptors: {sorted(descriptors)}")
    descriptor = descriptors.pop() if descriptors else "phash"
    out = Path(out)
    work = out.with_name(f".{out.name}.work-{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    names = {u.rank: u.source for u in units}
    plans = {u.rank: u.plan for u in units}
    per_source: dict[str, int] = {}
    removed = across = 0
    first: list[np.ndarray] = []  # the earliest removed samples, for the report's listing
    try:
        found, info = _search_parts((lambda: (_read_unit(u) for u in units)), descriptor, threshold, work, probes,
                                    seed)
        with UidPartitions(out) as uids, _PairsWriter(pairs, names, plans) as table:
            for rec in found.resolved():
                rank = rec["order"] >> np.uint64(SOURCE_SHIFT)
                for r, n in zip(*np.unique(rank, return_counts=True)):
                    per_source[names[int(r)]] = per_source.get(names[int(r)], 0) + int(n)
                across += int((rank != (rec["match_order"] >> np.uint64(SOURCE_SHIFT))).sum())
                removed += len(rec)
                pair = np.empty(len(rec), U16)
                pair["f0"], pair["f1"] = rec["uh"], rec["ul"]
                uids.add(pair)
                table.write(rec)
                first = [np.sort(np.concatenate([*first, rec]), order="order")[:REPORT_ROWS]]
            uids.write(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rep = {"descriptor": descriptor, "threshold": threshold, "samples": info.pop("samples"), "removed": removed,
           "removed_per_source": dict(sorted(per_source.items())), "across_sources": across, **info}
    if report:
        _write_report(Path(report), rep, np.concatenate(first) if first else np.zeros(0, FOUND), names, plans)
    return rep


def search(batches, descriptor: str, threshold: float, work: Path, probes: int = 2, seed: int = 0):
    """(removed samples, one row each with its match, in corpus order; search facts) over ``batches()``, a
    callable giving (uids as S32, descriptors, order) per unit, read once per pass; ``work`` holds the partitions.
    All in memory: for tests and small corpora (the job streams the same through files)."""
    found, info = _search_parts(batches, descriptor, threshold, work, probes, seed)
    rec = [r for r in found.resolved()]
    return (np.sort(np.concatenate(rec), order="order") if rec else np.zeros(0, FOUND)), info


def _search_parts(batches, descriptor: str, threshold: float, work: Path, probes: int, seed: int):
    work.mkdir(parents=True, exist_ok=True)
    found = _Found(work)
    if descriptor == "phash":
        info = _phash_search(batches, threshold, work, found)
    else:
        info = _yokoo_search(batches, threshold, work, probes, seed, found)
    found.close()
    return found, info


FOUND = np.dtype([("order", "u8"), ("uh", "u8"), ("ul", "u8"), ("match_order", "u8"), ("mh", "u8"),
                  ("ml", "u8"), ("sim", "f4")])


FOUND_PARTS = 64  # files the pairs found are spread over (by removed sample): resolving holds one


class _Found:
    """Pairs found, on disk: every pair of one removed sample lands in the same file (by a hash of its order),
    so that a file at a time can be resolved."""

    def __init__(self, work: Path) -> None:
        self.paths = [work / f"found.{q:03d}" for q in range(FOUND_PARTS)]
        self.files = [open(p, "wb") for p in self.paths]

    def add(self, rec: np.ndarray) -> None:
        q = (mix64(rec["order"]) % np.uint64(FOUND_PARTS)).astype(np.int64)
        for part in np.unique(q):
            self.files[part].write(rec[q == part].tobytes())

    def close(self) -> None:
        for f in self.files:
            f.close()

    def resolved(self):
        for p in self.paths:
            rec = _resolve(np.fromfile(p, dtype=FOUND))
            p.unlink()
            if len(rec):
                yield rec


def _resolve(rec: np.ndarray) -> np.ndarray:
    """One row per removed sample: its most similar earlier match (ties: the earliest), in corpus order."""
    if not len(rec):
        return rec
    rec = rec[np.lexsort((rec["match_order"], -rec["sim"], rec["order"]))]
    first = np.ones(len(rec), bool)
    first[1:] = rec["order"][1:] != rec["order"][:-1]
    return rec[first]


def _match_block(q_order: np.ndarray, c_order: np.ndarray, sim: np.ndarray, ok: np.ndarray):
    """For each query row: is some candidate earlier and similar enough, and which (most similar) one."""
    ok = ok & (c_order[None, :] < q_order[:, None])
    hit = ok.any(axis=1)
    scored = np.where(ok, sim, -np.inf)
    top = ok & (scored == scored.max(axis=1, keepdims=True))  # ties: the earliest, whatever the row order
    best = np.where(top, c_order[None, :], np.iinfo(np.uint64).max).argmin(axis=1)
    return hit, best


def _found(q, c, hit, best, sim) -> np.ndarray:
    rows = np.nonzero(hit)[0]
    f = np.zeros(len(rows), FOUND)
    f["order"], f["uh"], f["ul"] = q["order"][rows], q["uh"][rows], q["ul"][rows]
    m = best[rows]
    f["match_order"], f["mh"], f["ml"] = c["order"][m], c["uh"][m], c["ul"][m]
    f["sim"] = sim[rows, m]
    return f


def _phash_search(batches, threshold: float, work: Path, found: _Found) -> dict:
    bits = max_bits(threshold)
    chunks = chunk_bounds(bits)
    total = sum(len(ids) for ids, _, _ in batches())
    nparts = max(1, math.ceil(total * len(chunks) / PARTITION_RECORDS))
    files = [open(work / f"p{p:05d}", "wb") for p in range(nparts)]
    try:
        for ids, emb, order in progress(batches(), desc="near-dup: hash", unit="unit"):
            codes = phash_codes(emb)
            pairs = hex_to_pairs(ids)
            for c, (shift, width) in enumerate(chunks):
                rec = np.zeros(len(codes), PHASH_REC)
                rec["order"], rec["uh"], rec["ul"], rec["code"] = order, pairs["f0"], pairs["f1"], codes
                value = (codes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
                rec["group"] = (np.uint64(c) << np.uint64(58)) | value
                part = (mix64(rec["group"]) % np.uint64(nparts)).astype(np.int64)
                for p in np.unique(part):
                    files[p].write(rec[part == p].tobytes())
    finally:
        for f in files:
            f.close()
    for p in progress(range(nparts), desc="near-dup: search", unit="part"):
        rec = np.fromfile(work / f"p{p:05d}", dtype=PHASH_REC)
        (work / f"p{p:05d}").unlink()
        for f in _phash_partition(rec, bits):
            found.add(f)
    return {"samples": total, "max_bits": bits, "chunks": len(chunks), "partitions": nparts}


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads groups over partitions whatever their bit patterns."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _phash_partition(rec: np.ndarray, bits: int) -> list[np.ndarray]:
    """Pairs within ``bits`` among samples sharing a chunk value; identical codes collapse to their first."""
    out: list[np.ndarray] = []
    if len(rec) < 2:
        return out
    rec = rec[np.lexsort((rec["order"], rec["code"], rec["group"]))]
    starts = np.flatnonzero(np.r_[True, rec["group"][1:] != rec["group"][:-1]])
    ends = np.r_[starts[1:], len(rec)]
    for s, e in zip(starts.tolist(), ends.tolist()):
        if e - s < 2:
            continue
        g = rec[s:e]
        new_code = np.r_[True, g["code"][1:] != g["code"][:-1]]
        reps = g[new_code]
        # copies of an identical code go to its first (they sort by order inside a code)
        dup_rows = np.flatnonzero(~new_code)
        if len(dup_rows):
            rep_of = np.cumsum(new_code) - 1
            f = np.zeros(len(dup_rows), FOUND)
            d = g[dup_rows]
            r = reps[rep_of[dup_rows]]
            f["order"], f["uh"], f["ul"] = d["order"], d["uh"], d["ul"]
            f["match_order"], f["mh"], f["ml"], f["sim"] = r["order"], r["uh"], r["ul"], 1.0
            out.append(f)
        if len(reps) < 2:
            continue
        step = block_rows(len(reps))
        for b in range(0, len(reps), step):
            q = reps[b:b + step]
            dist = np.bitwise_count(q["code"][:, None] ^ reps["code"][None, :])
            sim = (1.0 - dist / 64.0).astype(np.float32)
            hit, best = _match_block(q["order"], reps["order"], sim, dist <= bits)
            if hit.any():
                out.append(_found(q, reps, hit, best, sim))
    return out


YOKOO_REC_HEAD = [("order", "u8"), ("uh", "u8"), ("ul", "u8")]


def kmeans_partitions(batches, work: Path, probes: int, seed: int) -> tuple[int, int, np.dtype | None, int]:
    """Records with an ``emb`` field (unit vectors), from ``batches()`` (read three times: count, train,
    assign), written to ``work/p{p:05d}``, the files of their ``probes`` nearest centroids (spherical k-means
    trained on a strided sample, about ``YOKOO_PARTITION`` records per centroid): (partitions, probes, record
    dtype, records); (0, 0, None, 0) when there is nothing."""
    import faiss

    total = sum(len(rec) for rec in batches())
    k = max(1, math.ceil(total / YOKOO_PARTITION))
    probes = min(probes, k)
    dim = None
    rec_dtype = None
    train = []
    stride = max(1, total // max(1, k * 64))  # faiss's k-means wants >= 39 points per centroid
    for rec in batches():
        rec_dtype = rec.dtype
        dim = rec.dtype["emb"].shape[0]
        train.append(np.asarray(rec["emb"][::stride], np.float32))
    if dim is None or total == 0:
        return 0, 0, None, total
    sample = np.concatenate(train)
    if k > 1:
        km = faiss.Kmeans(dim, k, niter=20, seed=seed, spherical=True, verbose=False)
        km.train(np.ascontiguousarray(sample))
        centroids = km.centroids
    else:
        centroids = np.zeros((1, dim), np.float32)
    index = faiss.IndexFlatIP(dim)
    index.add(np.ascontiguousarray(centroids, np.float32))
    files = [open(work / f"p{p:05d}", "wb") for p in range(k)]
    try:
        for rec in progress(batches(), desc="near-dup: assign", unit="unit"):
            _, near = index.search(np.ascontiguousarray(rec["emb"], np.float32), probes)
            for j in range(probes):
                for p in np.unique(near[:, j]):
                    files[p].write(rec[near[:, j] == p].tobytes())
    finally:
        for f in files:
            f.close()
    return k, probes, rec_dtype, total


def _yokoo_search(batches, threshold: float, work: Path, probes: int, seed: int, found: _Found) -> dict:
    def records():
        for ids, emb, order in batches():
            pairs = hex_to_pairs(ids)
            rec = np.zeros(len(ids), np.dtype(YOKOO_REC_HEAD + [("emb", "f4", (emb.shape[1],))]))
            rec["order"], rec["uh"], rec["ul"], rec["emb"] = order, pairs["f0"], pairs["f1"], emb
            yield rec

    k, probes, rec_dtype, total = kmeans_partitions(records, work, probes, seed)
    if rec_dtype is None:
        return {"samples": total, "partitions": 0, "probes": 0}
    for p in progress(range(k), desc="near-dup: search", unit="part"):
        rec = np.fromfile(work / f"p{p:05d}", dtype=rec_dtype)
        (work / f"p{p:05d}").unlink()
        emb = np.ascontiguousarray(rec["emb"])  # a field of a record array is strided: BLAS wants it packed
        step = block_rows(len(rec))
        for b in range(0, len(rec), step):
            q = rec[b:b + step]
            sim = emb[b:b + step] @ emb.T
            hit, best = _match_block(q["order"], rec["order"], sim, sim >= np.float32(threshold))
            if hit.any():
                found.add(_found(q, rec, hit, best, sim))
    return {"samples": total, "partitions": k, "probes": probes}


def _where(order: int, names: dict, plans: dict) -> dict:
    rank, pos = order >> SOURCE_SHIFT, order & ((1 << SOURCE_SHIFT) - 1)
    plan = plans[rank]
    shard = pos // plan.samples_per_shard
    return {"source": names[rank], "shard": shard, "key": plan.key(shard, pos % plan.samples_per_shard)}


def _uid_hex(hi, lo) -> str:
    return f"{int(hi):016x}{int(lo):016x}"


class _PairsWriter:
    """``pairs.parquet``: every removed sample and its match (uid, source, key, shard each; the similarity),
    one row group per resolved file."""

    def __init__(self, path: str | os.PathLike | None, names: dict, plans: dict) -> None:
        self.path, self.names, self.plans = (Path(path) if path else None), names, plans
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}") if self.path else None
        self.writer = None

    def __enter__(self) -> _PairsWriter:
        return self

    def write(self, rec: np.ndarray) -> None:
        if self.path is None:
            return
        import pyarrow as pa

        cols: dict[str, list] = {k: [] for k in ("uid", "source", "key", "shard", "match_uid", "match_source",
                                                 "match_key", "match_shard")}
        for r in rec:
            a, b = _where(int(r["order"]), self.names, self.plans), _where(int(r["match_order"]), self.names, self.plans)
            cols["uid"].append(_uid_hex(r["uh"], r["ul"]))
            cols["match_uid"].append(_uid_hex(r["mh"], r["ml"]))
            for k in ("source", "key", "shard"):
                cols[k].append(a[k])
                cols[f"match_{k}"].append(b[k])
        table = pa.table({**cols, "similarity": pa.array(rec["sim"], pa.float32())})
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.tmp, table.schema)
        self.writer.write_table(table)

    def __exit__(self, exc_type, *exc) -> None:
        if self.path is None:
            return
        if self.writer is None and exc_type is None:  # nothing removed: an empty table with the columns
            import pyarrow as pa
            self.writer = pq.ParquetWriter(self.tmp, pa.schema(
                [(k, pa.string()) for k in ("uid", "source", "key")] + [("shard", pa.int64())]
                + [(k, pa.string()) for k in ("match_uid", "match_source", "match_key")]
                + [("match_shard", pa.int64()), ("similarity", pa.float32())]))
        if self.writer is not None:
            self.writer.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


REPORT_ROWS = 1000  # removed samples listed in the report (all of them are in pairs.parquet)


def _write_report(path: Path, rep: dict, removed: np.ndarray, names: dict, plans: dict) -> None:
    """The counts, then the first removed samples (corpus order) with the earlier sample each repeats."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        head = {**rep, "listed": int(len(removed))}
        f.write(json.dumps(head, indent=1)[:-2] + ',\n "removed_samples": [')
        for i, r in enumerate(removed):
            row = {"uid": _uid_hex(r["uh"], r["ul"]), **_where(int(r["order"]), names, plans),
                   "match_uid": _uid_hex(r["mh"], r["ml"]), "match": _where(int(r["match_order"]), names, plans),
                   "similarity": round(float(r["sim"]), 6)}
            f.write(("\n  " if i == 0 else ",\n  ") + json.dumps(row))
        f.write("\n ]\n}\n" if len(removed) else "]\n}\n")
