"""Decontamination against evaluation images, and exact-duplicate removal, down to a DataComp subset file.

Definitions (one place):
- score(sample) = max similarity of its descriptor to any evaluation-image descriptor, by exact search with
  faiss (inner product of unit vectors for Yokoo, 1 - Hamming/64 for pHash; a GPU index when faiss has one);
- a sample is contaminated when score >= threshold (DataComp: 0.604169 for Yokoo's descriptor);
- an exact duplicate is a sample whose (image sha256, caption) already occurred earlier in key order;
- the subset = uids of samples neither contaminated nor duplicates, as a sorted ``np.dtype("u8,u8")`` array.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.curate.descriptors import embed, folder_images, load_eval_embeddings
from sciclip.errors import SciclipError
from sciclip.shards.reshard import U16, uid_pairs
from sciclip.storage.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

DATACOMP_SCORE_COLUMN = "dedup-isc-ft-v107-score"


def _save_npz(path: Path, ids: list[str], emb: np.ndarray, descriptor: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npz")
    np.savez(tmp, ids=np.array(ids, dtype=str), emb=emb, descriptor=np.array(descriptor))
    os.replace(tmp, path)


def load_npz(path: str | os.PathLike) -> tuple[list[str], np.ndarray, str]:
    with np.load(path) as z:
        return [str(x) for x in z["ids"]], z["emb"], str(z["descriptor"])


def img2dataset_shards(folder: str | os.PathLike) -> list[Path]:
    shards = sorted(p for p in Path(folder).glob("*.tar") if not p.name.startswith("."))
    if not shards:
        raise SciclipError(f"{folder}: no shards")
    return shards


def embed_source(folder: str | os.PathLike, out: str | os.PathLike, descriptor: str, **kw) -> int:
    ids, emb = embed(None, descriptor, shards=img2dataset_shards(folder), progress_desc=f"embed {Path(folder).name}",
                     **kw)
    _save_npz(Path(out), ids, emb, descriptor)
    return len(ids)


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


def max_similarity(queries: np.ndarray, index_vectors: np.ndarray, descriptor: str) -> np.ndarray:
    import faiss

    if len(queries) == 0:
        return np.zeros(0, np.float32)
    if descriptor == "phash":
        index = faiss.IndexBinaryFlat(index_vectors.shape[1] * 8)
        index.add(np.ascontiguousarray(index_vectors, dtype=np.uint8))
        dist, _ = index.search(np.ascontiguousarray(queries, dtype=np.uint8), 1)
        return (1.0 - dist[:, 0] / (index_vectors.shape[1] * 8)).astype(np.float32)
    index = faiss.IndexFlatIP(index_vectors.shape[1])
    if hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0:
        index = faiss.index_cpu_to_all_gpus(index)
    index.add(np.ascontiguousarray(index_vectors, dtype=np.float32))
    sims, _ = index.search(np.ascontiguousarray(queries, dtype=np.float32), 1)
    return sims[:, 0].astype(np.float32)


def score_source(folder: str | os.PathLike, embeddings: str | os.PathLike, eval_embeddings: str | os.PathLike,
                 outdir: str | os.PathLike) -> dict:
    """Per img2dataset shard, ``{shard}.parquet`` with uid and score (and DataComp's column for Yokoo)."""
    ids, emb, descriptor = load_npz(embeddings)
    _, ev, ev_descriptor = load_npz(eval_embeddings)
    if descriptor != ev_descriptor:
        raise SciclipError(f"{embeddings} ({descriptor}) and {eval_embeddings} ({ev_descriptor}) use different descriptors")
    scores = dict(zip(ids, max_similarity(emb, ev, descriptor).tolist()))
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    n = 0
    for shard in img2dataset_shards(folder):
        uids = pq.read_table(shard.with_suffix(".parquet"), columns=["uid"]).column("uid").to_pylist()
        missing = [u for u in uids if u not in scores]
        if missing:
            raise SciclipError(f"{shard}: {len(missing)} samples have no descriptor (first uid {missing[0]})")
        col = pa.array([scores[u] for u in uids], pa.float32())
        cols = {"uid": pa.array(uids, pa.string()), "score": col}
        if descriptor == "yokoo":
            cols[DATACOMP_SCORE_COLUMN] = col
        tmp = outdir / f".{shard.stem}.parquet.tmp"
        pq.write_table(pa.table(cols), tmp)
        os.replace(tmp, outdir / f"{shard.stem}.parquet")
        n += len(uids)
    return {"samples": n, "descriptor": descriptor}


def build_subset(folder: str | os.PathLike, scores_dir: str | os.PathLike | None, threshold: float,
                 out: str | os.PathLike, report_path: str | os.PathLike | None = None) -> dict:
    """The decontaminated, de-duplicated uid subset of one img2dataset folder (``scores_dir`` None: no
    decontamination, only exact duplicates go)."""
    seen: set[tuple[str, str]] = set()
    keep: list[str] = []
    contaminated: list[dict] = []
    duplicates: list[dict] = []
    total = 0
    for shard in img2dataset_shards(folder):
        meta = pq.read_table(shard.with_suffix(".parquet"), columns=["key", "uid", "sha256", "caption"]).to_pylist()
        if scores_dir is None:
            score_of = {r["uid"]: float("-inf") for r in meta}
        else:
            sc = pq.read_table(Path(scores_dir) / f"{shard.stem}.parquet", columns=["uid", "score"]).to_pylist()
            score_of = {r["uid"]: r["score"] for r in sc}
        for row in meta:
            total += 1
            s = score_of.get(row["uid"])
            if s is None:
                raise SciclipError(f"{shard}: no score for uid {row['uid']}")
            if s >= threshold:
                contaminated.append({"uid": row["uid"], "key": row["key"], "score": round(float(s), 6)})
                continue
            ident = (row["sha256"], row["caption"])
            if ident in seen:
                duplicates.append({"uid": row["uid"], "key": row["key"]})
                continue
            seen.add(ident)
            keep.append(row["uid"])
    subset = np.sort(uid_pairs(keep)) if keep else np.zeros(0, dtype=U16)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}.npy")
    np.save(tmp, subset)
    os.replace(tmp, out)
    report = {"samples": total, "kept": len(keep), "contaminated": len(contaminated),
              "exact_duplicates": len(duplicates), "threshold": threshold,
              "contaminated_samples": contaminated, "duplicate_samples": duplicates}
    if report_path:
        atomic_write_bytes(report_path, (json.dumps(report, indent=2) + "\n").encode())
    log.info("%s: %d samples, %d contaminated, %d exact duplicates, %d kept", folder, total, len(contaminated),
             len(duplicates), len(keep))
    return report


def merge_subsets(paths: list[str | os.PathLike], out: str | os.PathLike) -> int:
    """The union (with multiplicity) of several subset files, sorted: the mixed output's subset."""
    from sciclip.shards.reshard import load_subset

    arrays = [np.asarray(load_subset(p)) for p in paths]
    merged = np.sort(np.concatenate(arrays)) if arrays else np.zeros(0, dtype=U16)
    np.save(out, merged.astype(U16))
    return len(merged)
