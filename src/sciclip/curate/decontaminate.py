"""Decontamination against evaluation images, and exact-duplicate removal, down to a DataComp subset file.

Definitions (one place):
- score(sample) = max similarity of its descriptor to any evaluation-image descriptor, by exact search with
  faiss (inner product of unit vectors for Yokoo, 1 - Hamming/64 for pHash; a GPU index when faiss has one);
- a sample is contaminated when score >= threshold (DataComp: 0.604169 for Yokoo's descriptor);
- an exact duplicate is a sample whose (image sha256, caption) already occurred earlier in key order;
- the subset = uids of samples neither contaminated nor duplicates, as a sorted ``np.dtype("u8,u8")`` array.

Everything runs per tail unit (``shards.tail_plan``) with memory bounded by the unit: descriptors stream into
preallocated memory-mapped arrays, scores are computed in chunks; exact duplicates across the whole source are
found by ``curate.dedup`` over hash partitions.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.curate.descriptors import DIMS, embed, embed_batches, folder_images, load_eval_embeddings
from sciclip.errors import SciclipError
from sciclip.shards.tail_plan import TailPlan, folder_plan
from sciclip.storage.atomic import atomic_dir, atomic_path

log = logging.getLogger(__name__)

DATACOMP_SCORE_COLUMN = "dedup-isc-ft-v107-score"


SCORE_CHUNK = 65_536  # queries per faiss search: bounds the working memory of scoring


def _save_npz(path: Path, ids: list[str], emb: np.ndarray, descriptor: str) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:  # a file object: np.savez would append ".npz"
        np.savez(f, ids=np.array(ids, dtype=str), emb=emb, descriptor=np.array(descriptor))


def load_npz(path: str | os.PathLike) -> tuple[list[str], np.ndarray, str]:
    try:
        with np.load(path) as z:
            return [str(x) for x in z["ids"]], z["emb"], str(z["descriptor"])
    except (OSError, ValueError, KeyError) as e:
        raise SciclipError(f"{path}: not a descriptor file ({e})") from None


def unit_shards(folder: str | os.PathLike, plan: TailPlan, unit: str) -> list[Path]:
    u = plan.unit(unit)
    shards = [Path(folder) / f"{i:0{plan.oom_shards}d}.tar" for i in range(u.first_shard, u.first_shard + u.shards)]
    missing = [p for p in shards if not p.is_file()]
    if missing:
        raise SciclipError(f"{missing[0]}: no such shard (was tail unit {unit} converted?)")
    return shards


def embed_unit(folder: str | os.PathLike, plan: TailPlan, unit: str, out: str | os.PathLike, descriptor: str,
               **kw) -> int:
    """Descriptors of one tail unit, streamed into ``out/emb.npy`` (rows) and ``out/ids.npy`` (uids as S32),
    both preallocated for the unit's planned samples; rows of samples without a decodable image keep an empty id."""
    n = plan.unit(unit).samples
    dim, dtype = DIMS[descriptor]
    shards = unit_shards(folder, plan, unit)
    with atomic_dir(out, owns=("emb.npy", "ids.npy", "descriptor.txt")) as tmp:
        emb = np.lib.format.open_memmap(tmp / "emb.npy", mode="w+", dtype=dtype, shape=(n, dim))
        ids = np.lib.format.open_memmap(tmp / "ids.npy", mode="w+", dtype="S32", shape=(n,))
        filled = 0
        for batch_ids, batch in embed_batches(None, descriptor, shards=shards, progress_desc=f"embed {unit}",
                                              total=n, **kw):
            if filled + len(batch_ids) > n:
                raise SciclipError(f"tail unit {unit}: more images than the plan's {n} samples")
            emb[filled:filled + len(batch)] = batch
            ids[filled:filled + len(batch_ids)] = np.array(batch_ids, dtype="S32")
            filled += len(batch_ids)
        emb.flush()
        ids.flush()
        del emb, ids
        (tmp / "descriptor.txt").write_text(descriptor)
    return filled


def load_unit_embeddings(folder: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, str]:
    folder = Path(folder)
    try:
        return (np.load(folder / "ids.npy", mmap_mode="r"), np.load(folder / "emb.npy", mmap_mode="r"),
                (folder / "descriptor.txt").read_text().strip())
    except (OSError, ValueError) as e:
        raise SciclipError(f"{folder}: not a unit's descriptors ({e})") from None


def embed_eval(out: str | os.PathLike, descriptor: str, images: str | None = None, embeddings: str | None = None,
               **kw) -> int:
    """Evaluation descriptors from a folder of images, a folder of shards, or a precomputed file."""
    if embeddings:
        if descriptor != "yokoo":
            raise SciclipError("precomputed evaluation embeddings are Yokoo descriptors; use descriptor: yokoo")
        emb = load_eval_embeddings(embeddings).astype(np.float32)
        ids = [str(i) for i in range(len(emb))]
    elif images:
        folder = Path(images)
        if not folder.is_dir():
            raise SciclipError(f"{folder}: evaluation images folder not found")
        shards = sorted(folder.glob("*.tar"))
        if shards:
            ids, emb = embed(None, descriptor, shards=shards, progress_desc="embed eval", **kw)
        else:
            ids, emb = embed(folder_images(folder), descriptor, progress_desc="embed eval", **kw)
    else:
        raise SciclipError("give decontamination.eval_images or decontamination.eval_embeddings")
    if len(ids) == 0:
        raise SciclipError("no evaluation images found")
    _save_npz(Path(out), ids, emb, descriptor)
    return len(ids)


def _index(index_vectors: np.ndarray, descriptor: str):
    import faiss

    if descriptor == "phash":
        index = faiss.IndexBinaryFlat(index_vectors.shape[1] * 8)
        index.add(np.ascontiguousarray(index_vectors, dtype=np.uint8))
        return index
    index = faiss.IndexFlatIP(index_vectors.shape[1])
    if hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0:
        index = faiss.index_cpu_to_all_gpus(index)
    index.add(np.ascontiguousarray(index_vectors, dtype=np.float32))
    return index


def max_similarity(queries: np.ndarray, index_vectors: np.ndarray, descriptor: str) -> np.ndarray:
    """Max similarity of every query to the index vectors, searched in chunks (queries may be a memmap)."""
    return nearest(queries, index_vectors, descriptor)[0]


def nearest(queries: np.ndarray, index_vectors: np.ndarray, descriptor: str) -> tuple[np.ndarray, np.ndarray]:
    """(max similarity, row of the index vector that gives it) of every query, searched in chunks."""
    out = np.zeros(len(queries), np.float32)
    rows = np.zeros(len(queries), np.int64)
    if len(queries) == 0:
        return out, rows
    index = _index(index_vectors, descriptor)
    bits = index_vectors.shape[1] * 8
    for start in range(0, len(queries), SCORE_CHUNK):
        q = np.asarray(queries[start:start + SCORE_CHUNK])
        if descriptor == "phash":
            dist, found = index.search(np.ascontiguousarray(q, dtype=np.uint8), 1)
            out[start:start + len(q)] = 1.0 - dist[:, 0] / bits
        else:
            sims, found = index.search(np.ascontiguousarray(q, dtype=np.float32), 1)
            out[start:start + len(q)] = sims[:, 0]
        rows[start:start + len(q)] = found[:, 0]
    return out, rows


def score_unit(folder: str | os.PathLike, plan: TailPlan, unit: str, embeddings: str | os.PathLike,
               eval_embeddings: str | os.PathLike, outdir: str | os.PathLike,
               match_threshold: float | None = None) -> dict:
    """Per img2dataset shard of the unit, ``{shard}.parquet`` with uid and score (and DataComp's column for
    Yokoo), rows in shard order; samples that failed conversion have no row (as in img2dataset's tars).

    With ``match_threshold``, the returned report also lists the samples scoring at least that with the
    evaluation item each is nearest to (``matches``: uid, score, eval), so that the report can say which
    evaluation image a removed sample matched; the score files stay DataComp's."""
    ids, emb, descriptor = load_unit_embeddings(embeddings)
    eval_ids, ev, ev_descriptor = load_npz(eval_embeddings)
    if descriptor != ev_descriptor:
        raise SciclipError(f"{embeddings} ({descriptor}) and {eval_embeddings} ({ev_descriptor}) use different "
                           "descriptors")
    scores, rows = nearest(emb, ev, descriptor)
    matches = []
    order = np.argsort(ids, kind="stable")
    sorted_ids = np.asarray(ids)[order]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    n = 0
    for shard in unit_shards(folder, plan, unit):
        table = pq.read_table(shard.with_suffix(".parquet"), columns=["uid", "status"])
        uids = [u for u, s in zip(table.column("uid").to_pylist(), table.column("status").to_pylist())
                if s == "success"]
        wanted = np.array(uids, dtype="S32")
        pos = np.searchsorted(sorted_ids, wanted)
        found = (pos < len(sorted_ids)) & (sorted_ids[np.minimum(pos, len(sorted_ids) - 1)] == wanted)
        if not bool(np.all(found)):
            first = uids[int(np.argmin(found))]
            raise SciclipError(f"{shard}: {int((~found).sum())} samples have no descriptor (first uid {first})")
        col = pa.array(scores[order[pos]], pa.float32())
        cols = {"uid": pa.array(uids, pa.string()), "score": col}
        if match_threshold is not None:
            at = order[pos]
            matches += [{"uid": u, "score": round(float(scores[i]), 6), "eval": eval_ids[int(rows[i])]}
                        for u, i in zip(uids, at) if scores[i] >= match_threshold]
        if descriptor == "yokoo":
            cols[DATACOMP_SCORE_COLUMN] = col
        tmp = outdir / f".{shard.stem}.parquet.tmp"
        pq.write_table(pa.table(cols), tmp)
        os.replace(tmp, outdir / f"{shard.stem}.parquet")
        n += len(uids)
    rep = {"samples": n, "descriptor": descriptor}
    if match_threshold is not None:
        rep["matches"] = matches
    return rep


def embed_source(folder: str | os.PathLike, out: str | os.PathLike, descriptor: str, **kw) -> int:
    """Descriptors of a whole img2dataset folder into ``out`` (one unit covering every shard)."""
    plan = folder_plan(folder, shards_per_unit=1 << 30)
    return embed_unit(folder, plan, plan.units[0].name, out, descriptor, **kw)


def score_source(folder: str | os.PathLike, embeddings: str | os.PathLike, eval_embeddings: str | os.PathLike,
                 outdir: str | os.PathLike) -> dict:
    """Scores of a whole img2dataset folder from ``embed_source``'s output."""
    plan = folder_plan(folder, shards_per_unit=1 << 30)
    return score_unit(folder, plan, plan.units[0].name, embeddings, eval_embeddings, outdir)
