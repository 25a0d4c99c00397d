"""DataComp metadata for our img2dataset shards: what CommonPool ships beside its shards, computed per tail unit.

For every img2dataset shard ``{shard}.tar`` of a source, ``metadata/{shard}.parquet`` and ``metadata/{shard}.npz``
in DataComp's layout (the metadata folder apart from the shards, as ``download_upstream.py`` makes it), so that
DataComp's own ``baselines.py --metadata_dir`` reads ours:

- parquet, one row per sample with an image, in shard order: DataComp's columns ``uid, url, text,
  original_width, original_height, sha256`` and ``clip_<model>_similarity_score`` per model (``b32``, ``l14``),
  then ours: ``source, key, width, height, kind, kind_score``;
- npz, the same rows: ``<model>_img`` and ``<model>_txt``, float16, L2-normalised (as DataComp ships them).

A model that is switched off has no columns and no arrays. Images stream through a DataLoader (workers split the
unit's shards); a shard's rows are written as soon as the shard is complete, so memory holds the shards in
flight, never the unit. A sample whose image does not decode has no row (counted as ``image_decode_error``).
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from sciclip.curate.clip_models import ClipModel, ModelSpec
from sciclip.curate.decontaminate import unit_shards
from sciclip.curate.kinds import classify, kind_embeddings
from sciclip.errors import SciclipError
from sciclip.shards.reader import IMAGE_EXTS, ShardReport, read_samples
from sciclip.shards.tail_plan import TailPlan
from sciclip.storage.atomic import atomic_path, atomic_write_bytes
from sciclip.storage.npz import save_npz

log = logging.getLogger(__name__)

ROW_COLUMNS = ("key", "uid", "url", "caption", "original_width", "original_height", "width", "height", "sha256",
               "source", "status")


@dataclass
class _Shard:
    path: Path
    rows: list[dict] = field(default_factory=list)  # the parquet's success rows, shard order (read when complete)
    failed: set = field(default_factory=set)  # row indices whose image did not decode
    emb: dict = field(default_factory=dict)  # (model, "img"|"txt") -> (rows, dim) float32
    parts: dict = field(default_factory=dict)  # (model, part) -> [(row indices, features)] until complete


def shard_rows(shard: Path) -> list[dict]:
    """The img2dataset parquet's rows of samples that are in the tar (status success), in shard order."""
    meta = shard.with_suffix(".parquet")
    try:
        names = set(pq.read_schema(meta).names)
        table = pq.read_table(meta, columns=[c for c in ROW_COLUMNS if c in names])
    except (OSError, pa.ArrowException) as e:
        raise SciclipError(f"{meta}: not an img2dataset parquet ({e})") from None
    return [r for r in table.to_pylist() if r.get("status") == "success"]


def _decode(data: bytes) -> Image.Image | None:
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
        return img.convert("RGB")
    except Exception:  # any undecodable image is one skipped row, whatever Pillow raises
        return None


def _image_stream(shards: list[Path], transforms: list):
    """A torch IterableDataset over the shards, split between DataLoader workers by shard (built lazily:
    importing this module does not import torch). It yields (shard, row, [tensor per transform] or None,
    caption) per sample of the img2dataset parquet, then (shard, -1, None, rows) once the shard is done: the
    worker reads the rows, so the main process holds only the shards in flight."""
    import torch.utils.data as tud

    class Stream(tud.IterableDataset):
        def __iter__(self):
            info = tud.get_worker_info()
            mine = range(len(shards)) if info is None else range(info.id, len(shards), info.num_workers)
            for s in mine:
                rows = shard_rows(shards[s])
                index = {r["key"]: i for i, r in enumerate(rows)}
                seen = set()
                for key, members in read_samples(shards[s], ShardReport(shards[s].name)):
                    i = index.get(key)
                    if i is None or i in seen:
                        continue
                    seen.add(i)
                    data = next((members[e] for e in IMAGE_EXTS if e in members), None)
                    img = _decode(data) if data is not None else None
                    yield s, i, None if img is None else [t(img) for t in transforms], rows[i]["caption"] or ""
                for i in range(len(rows)):  # rows the tar lacks (cut short): no image
                    if i not in seen:
                        yield s, i, None, ""
                yield s, -1, None, len(rows)

    return Stream()


def _collate(items):
    return items  # lists of (shard, row, tensors, caption): stacked per model in the main process


def embed_rows(models: list[ClipModel], shards: list[Path], batch_size: int, workers: int,
               desc: str, total: int | None = None) -> Iterator[_Shard]:
    """Each shard as it completes, with its rows and their normalised image and text features per model."""
    import torch
    import torch.utils.data as tud

    from sciclip.progress import progress

    loader = tud.DataLoader(_image_stream(shards, [m.preprocess for m in models]), batch_size=batch_size,
                            collate_fn=_collate, num_workers=min(workers, len(shards)))
    state: dict[int, _Shard] = {}
    bar = progress(desc=desc, unit="img", total=total)
    for batch in loader:
        good = [(s, i, t, c) for s, i, t, c in batch if t is not None]
        for s, i, t, _ in batch:
            st = state.setdefault(s, _Shard(shards[s]))
            if t is None and i >= 0:
                st.failed.add(i)
        if good:
            index = np.array([i for _, i, _, _ in good])
            where = np.array([s for s, _, _, _ in good])
            for m_index, model in enumerate(models):
                img = model.encode_images(torch.stack([t[m_index] for _, _, t, _ in good]))
                txt = model.encode_texts([c for _, _, _, c in good])
                for s in np.unique(where):
                    sel = where == s
                    for part, feats in (("img", img), ("txt", txt)):
                        state[int(s)].parts.setdefault((model.spec.name, part), []).append((index[sel], feats[sel]))
        bar.update(sum(1 for _, i, _, _ in batch if i >= 0))
        for s, i, _, count in batch:
            if i == -1:  # the shard's last item: its worker has sent every row before it
                st = state.pop(s)
                st.rows = shard_rows(st.path)
                if len(st.rows) != count:
                    raise SciclipError(f"{st.path.with_suffix('.parquet')}: changed while it was read")
                for model in models:
                    for part in ("img", "txt"):
                        arr = np.zeros((count, model.dim), np.float32)
                        for rows, feats in st.parts.pop((model.spec.name, part), []):
                            arr[rows] = feats
                        st.emb[(model.spec.name, part)] = arr
                yield st
    bar.close()


def _table(st: _Shard, keep: list[int], models: list[ModelSpec], kinds: tuple[list[str], np.ndarray] | None):
    rows = [st.rows[i] for i in keep]
    cols = {
        "uid": pa.array([r["uid"] for r in rows], pa.string()),
        "url": pa.array([r.get("url") or "" for r in rows], pa.string()),
        "text": pa.array([r.get("caption") or "" for r in rows], pa.string()),
        "original_width": pa.array([r.get("original_width") for r in rows], pa.int64()),
        "original_height": pa.array([r.get("original_height") for r in rows], pa.int64()),
        "sha256": pa.array([r.get("sha256") or "" for r in rows], pa.string()),
    }
    for m in models:
        img, txt = st.emb[(m.name, "img")][keep], st.emb[(m.name, "txt")][keep]
        cols[m.score_column] = pa.array(np.einsum("ij,ij->i", img, txt).astype(np.float32), pa.float32())
    cols["source"] = pa.array([r.get("source") or "" for r in rows], pa.string())
    cols["key"] = pa.array([r["key"] for r in rows], pa.string())
    cols["width"] = pa.array([r.get("width") for r in rows], pa.int64())
    cols["height"] = pa.array([r.get("height") for r in rows], pa.int64())
    if kinds is not None:
        cols["kind"] = pa.array(kinds[0], pa.string())
        cols["kind_score"] = pa.array(kinds[1], pa.float32())
    return pa.table(cols)


def metadata_unit(folder: str | os.PathLike, plan: TailPlan, unit: str, outdir: str | os.PathLike,
                  specs: list[ModelSpec], kind_model: str | None = None, prompts: dict | None = None,
                  device: str | None = None, precision: str = "fp32", batch_size: int = 64,
                  workers: int = 2, pool: list[str | os.PathLike] | None = None) -> dict:
    """Metadata of one tail unit's shards into ``outdir`` (``{shard}.parquet`` + ``{shard}.npz``); a report.
    With ``pool`` (CommonPool's own metadata folders) the scores and embeddings are the pool's, where it has
    them for every sample and model (``sciclip.curate.pool_metadata``); else the models compute them."""
    import torch

    if not specs:
        raise SciclipError("no CLIP model configured (metadata.models)")
    if kind_model is not None and kind_model not in {s.name for s in specs}:
        raise SciclipError(f"kind_model {kind_model!r} is not one of the models ({', '.join(s.name for s in specs)})")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if pool:
        rep = _from_pool(folder, plan, unit, outdir, specs, kind_model, prompts, device, precision, pool)
        if rep is not None:
            return rep
    models = [ClipModel(s, device, precision) for s in specs]
    kind_emb = None
    if kind_model is not None and prompts:
        model = next(m for m in models if m.spec.name == kind_model)
        kind_emb = kind_embeddings(model.encode_texts, prompts)
    shards = unit_shards(folder, plan, unit)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    report = {"unit": unit, "samples": 0, "skipped": {}, "models": {s.name: {"model": s.model,
                                                                           "pretrained": s.pretrained}
                                                                    for s in specs},
              "kinds": {}}
    import time
    start = time.perf_counter()
    for st in embed_rows(models, shards, batch_size, workers, f"metadata {unit}", plan.unit(unit).samples):
        keep = [i for i in range(len(st.rows)) if i not in st.failed]
        kinds = None
        if kind_emb is not None:
            kinds = classify(st.emb[(kind_model, "img")][keep], kind_emb, list(prompts))
            for k in kinds[0]:
                report["kinds"][k] = report["kinds"].get(k, 0) + 1
        table = _table(st, keep, specs, kinds)
        arrays = {f"{m.name}_{part}": st.emb[(m.name, part)][keep].astype(np.float16)
                  for m in specs for part in ("img", "txt")}
        save_npz(outdir / f"{st.path.stem}.npz", arrays)
        with atomic_path(outdir / f"{st.path.stem}.parquet") as tmp:
            pq.write_table(table, tmp)
        report["samples"] += len(keep)
        if st.failed:
            report["skipped"]["image_decode_error"] = report["skipped"].get("image_decode_error", 0) + len(st.failed)
            log.warning("%s: %d images do not decode (no metadata row)", st.path, len(st.failed))
    report["kinds"] = dict(sorted(report["kinds"].items()))
    report["duration_s"] = round(time.perf_counter() - start, 3)  # decoding and the forward passes, not loading
    return report


def _from_pool(folder, plan: TailPlan, unit: str, outdir, specs: list[ModelSpec], kind_model: str | None,
               prompts: dict | None, device: str, precision: str, pool: list) -> dict | None:
    """The unit's metadata from the pool's rows (None, with a warning, when the pool lacks some)."""
    import time

    from sciclip.curate.pool_metadata import DATACOMP_COLUMNS, PoolMetadata, pool_table

    start = time.perf_counter()
    pm = PoolMetadata(pool)
    shards = unit_shards(folder, plan, unit)
    rows = {s: shard_rows(s) for s in shards}
    names = [s.name for s in specs]
    why = pm.available([r["uid"] for rs in rows.values() for r in rs], names)
    if why:
        log.warning("tail unit %s: the models compute its metadata (%s)", unit, why)
        return None
    kind_emb = None
    if kind_model is not None and prompts:
        model = ClipModel(next(s for s in specs if s.name == kind_model), device, precision)
        kind_emb = kind_embeddings(model.encode_texts, prompts)
    known = set(DATACOMP_COLUMNS) | {f"clip_{n}_similarity_score" for n in names}
    extra = [c for c in pm.columns if c not in known]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    report = {"unit": unit, "samples": 0, "skipped": {}, "reused": True,
              "models": {s.name: {"model": s.model, "pretrained": s.pretrained} for s in specs}, "kinds": {}}
    for shard, ours in rows.items():
        pool_rows, arrays = pm.rows([r["uid"] for r in ours], names)
        kinds = None
        if kind_emb is not None and not ours:
            kinds = ([], np.zeros(0, np.float32))
        elif kind_emb is not None:
            img = arrays[f"{kind_model}_img"].astype(np.float32)
            if img.shape[1] != kind_emb.shape[1]:
                raise SciclipError(f"the pool's {kind_model}_img is {img.shape[1]} wide, model {kind_model}'s "
                                   f"text embeddings {kind_emb.shape[1]}: not the same model")
            kinds = classify(img / np.maximum(np.linalg.norm(img, axis=1, keepdims=True), 1e-12), kind_emb,
                             list(prompts))
            for k in kinds[0]:
                report["kinds"][k] = report["kinds"].get(k, 0) + 1
        save_npz(outdir / f"{shard.stem}.npz", {n: a.astype(np.float16) for n, a in arrays.items()})
        with atomic_path(outdir / f"{shard.stem}.parquet") as tmp:
            pq.write_table(pool_table(ours, pool_rows, names, extra, kinds), tmp)
        report["samples"] += len(ours)
    report["kinds"] = dict(sorted(report["kinds"].items()))
    report["duration_s"] = round(time.perf_counter() - start, 3)
    return report


def write_report(path: str | os.PathLike, report: dict) -> None:
    atomic_write_bytes(path, (json.dumps(report, indent=1, sort_keys=True) + "\n").encode())
