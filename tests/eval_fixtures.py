"""Tiny evaluation sets in clip_benchmark's layout, a tiny CLIP with a training-style checkpoint, and the
independent computations the evaluation tests compare ``sciclip evaluate`` with (plain OpenCLIP calls, loops)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from sciclip.evaluate.layout import write_set
from sciclip.evaluate.tasks import folder_name


def image(seed: int, size: int = 40) -> bytes:
    """A random picture (PNG): distinct per seed."""
    rng = np.random.default_rng(seed)
    arr = (rng.random((size // 4, size // 4, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).resize((size, size), Image.Resampling.NEAREST).save(buf, "PNG")
    return buf.getvalue()


def write_classification(root: Path, key: str, labels: list[int], classnames: list[str], templates: list[str],
                         npy: np.ndarray | None = None, seed: int = 0, shard_size: int = 7) -> Path:
    """A classification set (several shards), optionally with an ``npy`` metadata row per sample."""
    folder = root / folder_name(key)

    def samples():
        for i, label in enumerate(labels):
            members = {"png": image(seed * 1000 + i), "cls": str(label).encode()}
            if npy is not None:
                buf = io.BytesIO()
                np.save(buf, np.asarray(npy[i]))
                members["npy"] = buf.getvalue()
            yield f"s{i:04d}", members

    write_set(folder, samples(), classnames=classnames, templates=templates, shard_size=shard_size)
    return folder


def write_retrieval(root: Path, key: str, captions: list[list[str]], seed: int = 0, shard_size: int = 5) -> Path:
    folder = root / folder_name(key)
    write_set(folder, ((f"r{i:04d}", {"png": image(seed * 1000 + i), "txt": "\n".join(c).encode()})
                       for i, c in enumerate(captions)), dataset_type="retrieval", shard_size=shard_size)
    return folder


class Reference:
    """The model as plain OpenCLIP sees it: the tiny config, the checkpoint's weights, no clip_benchmark."""

    def __init__(self, model_dir: Path, checkpoint: Path | None) -> None:
        import open_clip
        import torch

        self.torch = torch
        self.model, _, self.preprocess = open_clip.create_model_and_transforms(f"local-dir:{model_dir}")
        if checkpoint is not None:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
            self.model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
        self.model.eval()
        self.tokenizer = open_clip.get_tokenizer(f"local-dir:{model_dir}")

    def images(self, pngs: list[bytes]) -> np.ndarray:
        with self.torch.no_grad():
            x = self.torch.stack([self.preprocess(Image.open(io.BytesIO(p))) for p in pngs])
            f = self.model.encode_image(x)
            return (f / f.norm(dim=-1, keepdim=True)).numpy().astype(np.float64)

    def texts(self, texts: list[str]) -> np.ndarray:
        with self.torch.no_grad():
            f = self.model.encode_text(self.tokenizer(texts))
            return (f / f.norm(dim=-1, keepdim=True)).numpy().astype(np.float64)

    def class_embeddings(self, classnames: list[str], templates: list[str]) -> np.ndarray:
        """Per class: the normalised mean of the normalised embeddings of every filled-in template."""
        out = []
        for c in classnames:
            e = self.texts([t.format(c=c) for t in templates]).mean(axis=0)
            out.append(e / np.linalg.norm(e))
        return np.stack(out)

    def logits(self, pngs: list[bytes], classnames: list[str], templates: list[str]) -> np.ndarray:
        return self.images(pngs) @ self.class_embeddings(classnames, templates).T


def ambiguous(logits: np.ndarray, k: int = 1, margin: float = 1e-4) -> int:
    """Samples whose k-th and (k+1)-th logits are closer than float32 noise could reorder."""
    s = np.sort(logits, axis=1)[:, ::-1]
    if s.shape[1] <= k:
        return 0
    return int((s[:, k - 1] - s[:, k] < margin).sum())


def brute_recall(sim: np.ndarray, positives: list[set[int]], k: int) -> float:
    """Share of queries (rows) with a positive among their k most similar candidates (columns), by loops."""
    hits = 0
    for q, pos in enumerate(positives):
        order = sorted(range(sim.shape[1]), key=lambda j: -sim[q, j])[:k]
        hits += any(j in pos for j in order)
    return hits / len(positives)


def tiny_checkpoint(path: Path, seed: int) -> Path:
    """An OpenCLIP training checkpoint ({"epoch", "name", "state_dict": "module."-prefixed}) of the tiny
    architecture with weights drawn from ``seed`` (not a model folder's own weights)."""
    import open_clip
    import torch

    from sciclip.train.openclip import TINY_MODEL_DIR

    torch.manual_seed(seed)
    model = open_clip.create_model(f"local-dir:{TINY_MODEL_DIR}")  # the config alone: random weights
    torch.save({"epoch": 1, "name": "t", "state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}},
               path)
    return path
