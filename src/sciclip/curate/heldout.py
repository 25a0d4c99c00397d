"""The science retrieval split: pairs of each paper source held out of training and written as an evaluation
set in clip_benchmark's retrieval layout (``wds_sciclip-<source>_test``).

- Which samples: the source's final pairs (its decontaminated, de-duplicated subset) ranked by a keyed hash
  of the uid, the first ``min(cap, ceil(fraction x n))``. Deterministic by uid: the same corpus gives the same
  split on every run, and a sample's rank does not depend on the other samples (a larger corpus keeps a
  smaller one's held-out samples, up to the cap).
- What leaves training (``exclusion``): the held-out samples, and every sample of every source whose image
  is a near-duplicate of a held-out image by the decontamination descriptor and threshold (the definition the
  evaluation sets get). The final outputs' subsets are merged without them (``sciclip subset --merge ...
  --exclude``), so no final output, mixed or filtered, holds a held-out image.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from sciclip.errors import SciclipError
from sciclip.evaluate.layout import SetWriter, one_line
from sciclip.shards.reader import ShardReport, read_samples
from sciclip.shards.subset_file import U16, hex_to_pairs, load_subset, multiplicity, save_subset
from sciclip.storage.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

SALT = np.uint64(0x5C1C11B0E7A1D5E5)  # keys the rank: the split is unrelated to any other use of uid order


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (vectorised; a well-mixed bijection of uint64; written here: 5 numpy lines)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def rank(pairs: np.ndarray) -> np.ndarray:
    """A keyed 64-bit hash of each uid (high, low): the held-out order."""
    hi = np.asarray(pairs["f0"], dtype=np.uint64)
    lo = np.asarray(pairs["f1"], dtype=np.uint64)
    return _mix(hi ^ _mix(lo ^ SALT))


def heldout_count(n: int, fraction: float, cap: int) -> int:
    if n <= 0 or fraction <= 0:
        return 0
    return min(cap, n, math.ceil(fraction * n))


def select(subset: np.ndarray, fraction: float, cap: int) -> np.ndarray:
    """The held-out uids of a sorted subset, sorted (a subset file itself)."""
    pairs = np.unique(np.asarray(subset))  # a uid listed twice (upsampling) is one sample
    k = heldout_count(len(pairs), fraction, cap)
    if k == 0:
        return np.zeros(0, U16)
    r = rank(pairs)
    order = np.lexsort((pairs["f1"], pairs["f0"], r))[:k]
    return np.sort(pairs[order])


def hex_uid(pair) -> str:
    return f"{int(pair[0]):016x}{int(pair[1]):016x}"


def write_heldout(subset_path: str | os.PathLike, img2dataset: str | os.PathLike, source: str, fraction: float,
                  cap: int, out_subset: str | os.PathLike, out_set: str | os.PathLike,
                  report: str | os.PathLike | None = None, shard_size: int = 10_000) -> dict:
    """Select a source's held-out pairs, save them as a subset file, and write them as a retrieval set (image,
    its caption, its json) read from the source's img2dataset shards, in shard order."""
    pool = np.unique(np.asarray(load_subset(subset_path)))
    held = select(pool, fraction, cap)
    if not held.size and len(pool):
        raise SciclipError(f"{subset_path}: no sample to hold out ({len(pool)} samples, fraction {fraction})")
    if not held.size:  # the source gave no sample: an empty split, which evaluate skips (zero samples is a result)
        n = SetWriter(out_set, "retrieval", shard_size=shard_size).close(allow_empty=True)
        return _finish(out_subset, held, report, source, pool, n, fraction, cap, out_set)
    folder = Path(img2dataset)
    shards = sorted(p for p in folder.glob("*.tar") if p.stem.isdigit())
    if not shards:
        raise SciclipError(f"{folder}: no img2dataset shards")
    wanted = {hex_uid(p) for p in held}
    writer = SetWriter(out_set, "retrieval", shard_size=shard_size)
    found: set[str] = set()
    try:
        for shard in shards:
            if not wanted - found:
                break
            uids = set(pq.read_table(shard.with_suffix(".parquet"), columns=["uid"]).column("uid").to_pylist())
            if not uids & wanted:
                continue
            rep = ShardReport(shard.name)
            for key, members in read_samples(shard, rep):
                meta = json.loads(members.get("json", b"{}"))
                uid = meta.get("uid")
                if uid not in wanted or uid in found or "jpg" not in members:
                    continue
                caption = one_line(members.get("txt", b"").decode("utf-8", "replace"))
                record = {"uid": uid, "source": source, "key": key, "url": meta.get("url")}
                writer.add(uid, {"jpg": members["jpg"], "txt": caption.encode(), "json": json.dumps(record).encode()})
                found.add(uid)
            if rep.truncated:
                raise SciclipError(f"{shard}: {rep.truncated}")
        missing = sorted(wanted - found)
        if missing:
            raise SciclipError(f"{folder}: {len(missing)} held-out uid(s) not in its shards (first {missing[0]}): "
                               "the subset file and the shards disagree")
    except BaseException:
        writer.abort()
        raise
    n = writer.close()
    return _finish(out_subset, held, report, source, pool, n, fraction, cap, out_set)


def _finish(out_subset, held, report, source, pool, n, fraction, cap, out_set) -> dict:
    save_subset(out_subset, held)
    rep = {"source": source, "pool": int(len(pool)), "heldout": n, "fraction": fraction, "cap": cap,
           "set": str(out_set)}
    if report:
        atomic_write_bytes(report, (json.dumps(rep, indent=1) + "\n").encode())
    return rep


def _unit_rows(embeddings: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, str]:
    from sciclip.curate.decontaminate import load_unit_embeddings

    ids, emb, descriptor = load_unit_embeddings(embeddings)
    ids = np.asarray(ids)
    keep = ids != b""  # rows of samples without a decodable image
    if keep.all():
        return ids, emb, descriptor  # still memory-mapped: scoring reads it in chunks
    return ids[keep], np.asarray(emb)[keep], descriptor


def exclusion(heldout: list[str | os.PathLike], embeddings: dict[str, list[str]], threshold: float,
              out: str | os.PathLike, report: str | os.PathLike | None = None) -> dict:
    """The uids to keep out of training: the held-out ones, and every sample (of any source) whose descriptor
    is at least ``threshold`` similar to a held-out image's. ``embeddings``: source -> its tail units' descriptor
    folders (``sciclip embed``)."""
    from sciclip.curate.decontaminate import max_similarity

    held = np.unique(np.concatenate([np.asarray(load_subset(p)) for p in heldout] or [np.zeros(0, U16)]))
    vectors, descriptor = [], None
    for dirs in embeddings.values():
        for d in dirs:
            ids, emb, desc = _unit_rows(d)
            if descriptor not in (None, desc):
                raise SciclipError(f"{d}: {desc} descriptors, but others are {descriptor}")
            descriptor = desc
            hit = multiplicity(held, hex_to_pairs(ids)) > 0
            if hit.any():
                vectors.append(np.asarray(emb)[hit])
    index = np.concatenate(vectors) if vectors else None
    near: dict[str, int] = {}
    excluded = [held]
    if index is not None and len(index):
        for source, dirs in embeddings.items():
            n = 0
            for d in dirs:
                ids, emb, _ = _unit_rows(d)
                close = max_similarity(emb, index, descriptor) >= threshold
                pairs = hex_to_pairs(ids[close])
                fresh = pairs[multiplicity(held, pairs) == 0]
                n += len(np.unique(fresh))
                excluded.append(fresh)
            near[source] = n
    elif len(held):
        log.warning("no descriptors of the held-out images: only the held-out samples themselves are excluded")
    result = np.unique(np.concatenate(excluded)) if excluded else np.zeros(0, U16)
    save_subset(out, result.astype(U16))
    rep = {"heldout": int(len(held)), "near_duplicates": near, "excluded": int(len(result)),
           "descriptor": descriptor, "threshold": threshold}
    if report:
        atomic_write_bytes(report, (json.dumps(rep, indent=1) + "\n").encode())
    return rep
