"""DataComp metadata taken from the pool it came with, not computed: CommonPool's scores and embeddings, by uid.

CommonPool ships, per metadata parquet, DataComp's columns (``clip_b32_similarity_score``,
``clip_l14_similarity_score``, computed with OpenAI's CLIP ViT-B/32 and ViT-L/14, ``face_bboxes``, ...) and an npz
of the same rows' embeddings (``b32_img``, ``b32_txt``, ``l14_img``, ``l14_txt``). Running the models again over
the images we downloaded would cost a GPU pass per model for values the pool already holds; a tail unit's
metadata is therefore assembled from the pool's rows of its samples' uids: the pool's values of DataComp's
columns and scores, its embeddings as shipped (float16), our ``source, key, width, height``, and the figure
``kind`` from the kind model's image embeddings against its prompts (only the prompts are encoded). Every other
pool column (``face_bboxes``) is kept after ours. A unit whose rows or models the pool lacks is left to the
models (``available`` says so).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.errors import SciclipError

log = logging.getLogger(__name__)

DATACOMP_COLUMNS = ("uid", "url", "text", "original_width", "original_height", "sha256")


class PoolMetadata:
    """The metadata parquets (and npz beside them) of some pool folders, looked up by uid; one file's rows and
    arrays in memory at a time (a tail unit reads the pool in its own order)."""

    def __init__(self, dirs: list[str | os.PathLike]) -> None:
        self.files: list[Path] = []
        for d in dirs:
            d = Path(d)
            if not d.is_dir():
                raise SciclipError(f"{d}: no such pool metadata folder")
            self.files += sorted(p for p in d.glob("*.parquet") if not p.name.startswith("."))
        self.index: dict[str, tuple[int, int]] = {}
        self.columns: list[str] = []
        for f, path in enumerate(self.files):
            try:
                schema = pq.read_schema(path)
                uids = pq.read_table(path, columns=["uid"]).column("uid").to_pylist()
            except (OSError, pa.ArrowException, KeyError) as e:
                raise SciclipError(f"{path}: not a pool metadata parquet ({e})") from None
            self.columns += [c for c in schema.names if c not in self.columns]
            for i, uid in enumerate(uids):
                self.index.setdefault(uid, (f, i))
        self._loaded: tuple[int, list[dict], dict] | None = None

    def array_names(self, f: int) -> set[str]:
        npz = self.files[f].with_suffix(".npz")
        if not npz.is_file():
            return set()
        try:
            with np.load(npz) as z:
                return set(z.files)
        except (OSError, ValueError) as e:
            raise SciclipError(f"{npz}: not an npz file ({e})") from None

    def available(self, uids: list[str], models: list[str]) -> str | None:
        """Why these uids' metadata cannot be taken from the pool (None: it can)."""
        missing = [u for u in uids if u not in self.index]
        if missing:
            return f"{len(missing)} uids are not in the pool's metadata (e.g. {missing[0]})"
        for m in models:
            if f"clip_{m}_similarity_score" not in self.columns:
                return f"the pool has no clip_{m}_similarity_score"
        for f in sorted({self.index[u][0] for u in uids}):
            lacking = {f"{m}_{p}" for m in models for p in ("img", "txt")} - self.array_names(f)
            if lacking:
                return f"{self.files[f].with_suffix('.npz')}: no {', '.join(sorted(lacking))}"
        return None

    def _file(self, f: int) -> tuple[list[dict], dict]:
        if self._loaded is None or self._loaded[0] != f:
            rows = pq.read_table(self.files[f]).to_pylist()
            with np.load(self.files[f].with_suffix(".npz")) as z:
                arrays = {n: z[n] for n in z.files}
            self._loaded = (f, rows, arrays)
        return self._loaded[1], self._loaded[2]

    def rows(self, uids: list[str], models: list[str]) -> tuple[list[dict], dict[str, np.ndarray]]:
        """The pool's rows of ``uids`` (in that order) and their arrays per model and part."""
        out_rows: list[dict] = []
        parts = {f"{m}_{p}": [] for m in models for p in ("img", "txt")}
        for uid in uids:
            f, i = self.index[uid]
            rows, arrays = self._file(f)
            out_rows.append(rows[i])
            for name, acc in parts.items():
                acc.append(arrays[name][i])
        return out_rows, {n: (np.stack(v) if v else np.zeros((0, 0), np.float16)) for n, v in parts.items()}


def pool_table(ours: list[dict], pool_rows: list[dict], models: list[str], extra: list[str],
               kinds: tuple[list[str], np.ndarray] | None) -> pa.Table:
    """A metadata parquet's table for one shard: DataComp's columns and scores as the pool has them, ours, the
    kinds, then the pool's other columns (``extra``)."""
    cols = {
        "uid": pa.array([r["uid"] for r in ours], pa.string()),
        "url": pa.array([p.get("url") or "" for p in pool_rows], pa.string()),
        "text": pa.array([p.get("text") or "" for p in pool_rows], pa.string()),
        "original_width": pa.array([p.get("original_width") for p in pool_rows], pa.int64()),
        "original_height": pa.array([p.get("original_height") for p in pool_rows], pa.int64()),
        "sha256": pa.array([p.get("sha256") or "" for p in pool_rows], pa.string()),
    }
    for m in models:
        cols[f"clip_{m}_similarity_score"] = pa.array([p.get(f"clip_{m}_similarity_score") for p in pool_rows],
                                                       pa.float32())
    cols["source"] = pa.array([r.get("source") or "" for r in ours], pa.string())
    cols["key"] = pa.array([r["key"] for r in ours], pa.string())
    cols["width"] = pa.array([r.get("width") for r in ours], pa.int64())
    cols["height"] = pa.array([r.get("height") for r in ours], pa.int64())
    if kinds is not None:
        cols["kind"] = pa.array(kinds[0], pa.string())
        cols["kind_score"] = pa.array(kinds[1], pa.float32())
    table = pa.table(cols)
    for c in extra:
        table = table.append_column(c, pa.array([p.get(c) for p in pool_rows]) if pool_rows else pa.array([]))
    return table
