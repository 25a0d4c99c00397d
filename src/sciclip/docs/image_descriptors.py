"""Descriptors of every image of a document unit, and each image's score against the evaluation set.

The same descriptors (``curate.descriptors``: pHash, Yokoo), the same evaluation file (``embed-eval``'s
``eval_<descriptor>.npz``) and the same score (``curate.decontaminate.max_similarity``: faiss, on the GPU when
there is one) as the pairs, so that a document image and a pair image are judged alike. One job per unit, memory
bounded by the unit: descriptors stream into a preallocated memory-mapped array.

Output folder: ``images.parquet`` (one row per image, in document order then position order: the unit-local
document index, document id, position, image uid and sha256, whether it could be described, the score),
``emb.npy`` (one descriptor row per image, same order; zeros where it could not be described) and
``descriptor.txt``. Rows follow ``reader.read_dir`` order, which is what ``image_removals`` relies on.

Not reused: the pairs' descriptors of the same figure. They are kept only with ``keep_embeddings`` (temp()
otherwise), keyed by the pair's uid, and the pair's JPEG is identified by the sha256 of its *source* file; a
document image is the same picture only when its JPEG bytes are, which the pairs' outputs do not record, and
reading them back would make every document job wait for the pairs' whole tail (its plan is a checkpoint over
every extraction unit). The documents need the descriptor itself anyway (the cross-document near-duplicate
search), not only the score.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from sciclip.curate.decontaminate import load_npz, max_similarity
from sciclip.curate.descriptors import DIMS, embed_batches, open_image
from sciclip.docs.model import DocRecord
from sciclip.docs.reader import read_parquet, read_tar, shard_files
from sciclip.errors import SciclipError

IMAGES = "images.parquet"
EMB = "emb.npy"
DESCRIPTOR = "descriptor.txt"
SCHEMA = pa.schema([("doc", pa.int64()), ("id", pa.string()), ("position", pa.int32()), ("uid", pa.string()),
                    ("sha256", pa.string()), ("described", pa.bool_()), ("score", pa.float32())])


def unit_shards(directory: str | os.PathLike) -> list[Path]:
    """The unit's shards in reading order: parquet when there are any, else tar (``read_dir``'s choice)."""
    return shard_files(directory, "parquet") or shard_files(directory, "tar")


def shard_records(path: Path, with_images: bool = True) -> Iterator[DocRecord]:
    return read_parquet(path, with_images) if path.suffix == ".parquet" else read_tar(path)


def shard_images(specs: list[tuple[Path, int]]) -> Iterator[tuple[str, Image.Image | None]]:
    """(row number in the unit, image) of every image of the given (shard, first row) specs; an image no
    decoder opens comes as None (the embedder passes it over: it stays undescribed)."""
    for path, first in specs:
        row = first
        for record in shard_records(Path(path)):
            for data in record.image_bytes:
                if data is None:
                    continue
                yield str(row), open_image(data)
                row += 1


def _rows(shards: list[Path]) -> tuple[dict[str, list], list[int]]:
    """Every image's row (without its bytes), and each shard's first row."""
    cols: dict[str, list] = {"doc": [], "id": [], "position": [], "uid": [], "sha256": []}
    firsts = []
    doc = 0
    for path in shards:
        firsts.append(len(cols["uid"]))
        for record in shard_records(path, with_images=False):
            for pos, (image, meta) in enumerate(zip(record.images, record.metadata)):
                if image is None:
                    continue
                meta = meta or {}
                cols["doc"].append(doc)
                cols["id"].append(record.id)
                cols["position"].append(pos)
                cols["uid"].append(str(meta.get("uid") or ""))
                cols["sha256"].append(str(meta.get("sha256") or ""))
            doc += 1
    return cols, firsts


def embed_documents(unit_dir: str | os.PathLike, out: str | os.PathLike, descriptor: str,
                    eval_embeddings: str | os.PathLike | None = None, **kw) -> dict:
    """Descriptors (and scores, with ``eval_embeddings``) of every image of a document unit into ``out``."""
    unit_dir, out = Path(unit_dir), Path(out)
    if not unit_dir.is_dir():
        raise SciclipError(f"{unit_dir}: no such document folder")
    if descriptor not in DIMS:
        raise SciclipError(f"unknown descriptor {descriptor!r} (yokoo or phash)")
    ev = None
    if eval_embeddings is not None:
        _, ev, ev_descriptor = load_npz(eval_embeddings)
        if ev_descriptor != descriptor:
            raise SciclipError(f"{eval_embeddings} holds {ev_descriptor} descriptors, not {descriptor}")
    shards = unit_shards(unit_dir)
    cols, firsts = _rows(shards)
    n = len(cols["uid"])
    dim, dtype = DIMS[descriptor]
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    emb = np.lib.format.open_memmap(tmp / EMB, mode="w+", dtype=dtype, shape=(n, dim))
    described = np.zeros(n, bool)
    if n:
        specs = [(p, f) for p, f in zip(shards, firsts)]
        for ids, batch in embed_batches(None, descriptor, shards=specs, read=shard_images, total=n,
                                        progress_desc=f"embed {unit_dir.name}", **kw):
            rows = np.array([int(i) for i in ids], np.int64)
            if len(rows) and (rows.max() >= n or described[rows].any()):
                raise SciclipError(f"{unit_dir}: its shards changed while they were read")
            emb[rows] = batch
            described[rows] = True
    scores = np.full(n, np.nan, np.float32)
    if ev is not None and described.any():
        scores[described] = max_similarity(np.asarray(emb)[described], ev, descriptor)
    emb.flush()
    del emb
    table = pa.table({**{k: cols[k] for k in ("doc", "id", "position", "uid", "sha256")},
                      "described": pa.array(described, pa.bool_()),
                      "score": pa.array(scores, pa.float32(), mask=np.isnan(scores))}, schema=SCHEMA)
    pq.write_table(table, tmp / IMAGES)
    (tmp / DESCRIPTOR).write_text(descriptor)
    report = {"unit": unit_dir.name, "descriptor": descriptor, "images": n, "undescribed": int((~described).sum()),
              "scored": ev is not None}
    (tmp / "embed.json").write_text(json.dumps(report) + "\n")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return report


def load_descriptors(folder: str | os.PathLike) -> tuple[pa.Table, np.ndarray, str]:
    """(images table, descriptors memory-mapped, descriptor name) of an ``embed_documents`` output."""
    folder = Path(folder)
    try:
        return (pq.read_table(folder / IMAGES), np.load(folder / EMB, mmap_mode="r"),
                (folder / DESCRIPTOR).read_text().strip())
    except (OSError, ValueError, pa.ArrowException) as e:
        raise SciclipError(f"{folder}: not a document unit's descriptors ({e})") from None
