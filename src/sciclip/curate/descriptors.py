"""Image descriptors for decontamination: Yokoo's ISC21 model (production) and a perceptual hash (demo, tests).

Yokoo (DataComp's "dedup-isc-ft-v107"): timm ``tf_efficientnetv2_m`` features (last stage) -> GeM pooling
with p=1 (an average) -> Linear(512 -> 256, no bias) -> BatchNorm1d -> L2 norm; square resize to the
checkpoint's ``args.input_size``, mean = std = 0.5. The released ``isc_ft_v107.pth.tar`` holds ``arch``,
``args`` (an argparse.Namespace) and a DataParallel ``state_dict`` (``module.backbone.*``, ``module.fc.weight``,
``module.bn.*``). The similarity of two images is the inner product of their unit descriptors.

pHash (imagehash's 64-bit DCT hash): robust to resizing, re-encoding and grayscale, cheap, no weights;
the similarity of two images is 1 - Hamming distance / 64.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from sciclip.errors import SciclipError
from sciclip.shards.reader import ShardReport, read_samples

log = logging.getLogger(__name__)

YOKOO_ARCH = "tf_efficientnetv2_m.in21k_ft_in1k"
YOKOO_URL = ("https://github.com/lyakaap/ISC21-Descriptor-Track-1st/releases/download/v1.0.1/"
             "isc_ft_v107.pth.tar")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")


# ---- pHash ------------------------------------------------------------------------------------------------

def phash_bits(img: Image.Image) -> np.ndarray:
    """The 64-bit perceptual hash, packed into 8 bytes (faiss's binary vector layout)."""
    import imagehash
    return np.packbits(imagehash.phash(img.convert("RGB")).hash.flatten())


# ---- Yokoo ------------------------------------------------------------------------------------------------

def build_yokoo(arch: str = YOKOO_ARCH, fc_dim: int = 256):
    """The ISC21 network with random weights (weights come from ``load_yokoo``)."""
    import timm
    import torch
    import torch.nn.functional as F
    from torch import nn

    class ISCNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = timm.create_model(arch, pretrained=False, features_only=True)
            channels = self.backbone.feature_info.channels()[-1]
            self.fc = nn.Linear(channels, fc_dim, bias=False)
            self.bn = nn.BatchNorm1d(fc_dim)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            feat = self.backbone(x)[-1]
            pooled = feat.clamp(min=1e-6).mean(dim=(2, 3))  # GeM with p=1 is the mean
            return F.normalize(self.bn(self.fc(pooled)), dim=1)

    return ISCNet()


def _timm_name(arch: str) -> str:
    """Checkpoint arch names are timm-0.4 era (``tf_efficientnetv2_m_in21ft1k``); map to today's names."""
    legacy = {"tf_efficientnetv2_m_in21ft1k": YOKOO_ARCH}
    return legacy.get(arch, arch)


def load_yokoo(weights: str | os.PathLike, device: str = "cpu"):
    """(model in eval mode, input side) from a checkpoint in the released format.

    The checkpoint's ``args`` is an argparse.Namespace: it is allow-listed for torch's safe loader instead of
    unpickling arbitrary objects.
    """
    import torch

    path = Path(weights)
    if not path.is_file():
        raise SciclipError(f"{path}: no such Yokoo checkpoint")
    torch.serialization.add_safe_globals([argparse.Namespace])
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise SciclipError(f"{path}: not a loadable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise SciclipError(f"{path}: expected a dict with arch, args and state_dict")
    arch = _timm_name(str(ckpt.get("arch", YOKOO_ARCH)))
    args = ckpt.get("args")
    input_size = int(getattr(args, "input_size", 512) if args is not None else 512)
    state = {k.removeprefix("module."): v for k, v in ckpt["state_dict"].items()}
    model = build_yokoo(arch, fc_dim=state["fc.weight"].shape[0])
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise SciclipError(f"{path}: state_dict does not fit {arch} (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.eval().to(device)
    return model, input_size


def yokoo_transform(input_size: int):
    from torchvision import transforms

    return transforms.Compose([
        transforms.Resize((input_size, input_size)),
        transforms.ToTensor(),
        transforms.Normalize(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
    ])


# ---- reading images ---------------------------------------------------------------------------------------

def shard_images(shards: list[Path]) -> Iterator[tuple[str, Image.Image]]:
    """(uid, image) of every sample in WebDataset shards (the uid from the json, else the key)."""
    for shard in shards:
        for key, members in read_samples(shard, ShardReport(shard.name)):
            data = next((members[e[1:]] for e in IMAGE_EXTS if e[1:] in members), None)
            if data is None:
                continue
            uid = json.loads(members["json"]).get("uid") if "json" in members else None
            image = open_image(data)
            if image is not None:
                yield uid or key, image


def open_image(data: bytes) -> Image.Image | None:
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
        return img.convert("RGB")
    except Exception:
        return None


def folder_images(folder: Path) -> Iterator[tuple[str, Image.Image]]:
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in IMAGE_EXTS:
            img = open_image(p.read_bytes())
            if img is not None:
                yield str(p.relative_to(folder)), img


# ---- embedding --------------------------------------------------------------------------------------------

def shard_stream(shards: list, transform, read: Callable[[list], Iterator[tuple[str, Image.Image]]] | None = None):
    """A torch IterableDataset over shards, split between DataLoader workers by shard (built lazily so
    that importing this module does not import torch); ``read`` gives a list of shards' (id, image)
    (default: WebDataset shards, ``shard_images``)."""
    import torch.utils.data as tud

    read = read or shard_images

    class ShardStream(tud.IterableDataset):
        def __iter__(self):
            info = tud.get_worker_info()
            mine = shards if info is None else shards[info.id::info.num_workers]
            for uid, img in read(mine):
                if img is not None:
                    yield uid, transform(img)

    return ShardStream()


def _item_batches(items, transform, batch_size: int):
    """(ids, stacked tensors) of an iterable of (id, image), one batch in memory at a time (a DataLoader over a
    list would hold every transformed image: 3 MiB each at 512 px)."""
    import torch

    ids: list[str] = []
    tensors = []
    for i, img in items:
        if img is None:
            continue
        ids.append(i)
        tensors.append(transform(img))
        if len(ids) == batch_size:
            yield ids, torch.stack(tensors)
            ids, tensors = [], []
    if ids:
        yield ids, torch.stack(tensors)


def embed_batches(items, descriptor: str, weights: str | None = None, device: str | None = None,
                  batch_size: int = 64, workers: int = 2, half: bool = False, shards: list | None = None,
                  progress_desc: str = "embed", total: int | None = None,
                  read: Callable[[list], Iterator[tuple[str, Image.Image]]] | None = None,
                  ) -> Iterator[tuple[list[str], np.ndarray]]:
    """Batches of (ids, descriptors) for ``shards`` (streamed by a DataLoader, read by ``read``: WebDataset
    shards by default) or an iterable of (id, image): callers write them out as they come, so memory stays at
    one batch whatever the corpus size."""
    from sciclip.progress import progress

    read = read or shard_images
    if descriptor == "phash":
        source = items if shards is None else read(shards)
        ids: list[str] = []
        codes: list[np.ndarray] = []
        for uid, img in progress(iterable=source, desc=progress_desc, unit="img", total=total):
            if img is None:
                continue
            ids.append(uid)
            codes.append(phash_bits(img))
            if len(ids) == batch_size:
                yield ids, np.stack(codes)
                ids, codes = [], []
        if ids:
            yield ids, np.stack(codes)
        return
    if descriptor != "yokoo":
        raise SciclipError(f"unknown descriptor {descriptor!r} (yokoo or phash)")
    import torch
    import torch.utils.data as tud

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if not weights:
        raise SciclipError("the yokoo descriptor needs decontamination.weights (a path or URL)")
    model, size = load_yokoo(weights, device)
    if half and device.startswith("cuda"):
        model = model.half()
    transform = yokoo_transform(size)
    if shards is not None:
        dataset = shard_stream(shards, transform, read)
        loader = tud.DataLoader(dataset, batch_size=batch_size, num_workers=min(workers, len(shards)) if shards else 0,
                                pin_memory=device.startswith("cuda"))
    else:
        loader = _item_batches(items, transform, batch_size)
    with torch.inference_mode():
        for batch_ids, x in progress(iterable=loader, desc=progress_desc, unit="batch",
                                     total=-(-total // batch_size) if total else None):
            x = x.to(device, non_blocking=True)
            if half and device.startswith("cuda"):
                x = x.half()
            yield list(batch_ids), model(x).float().cpu().numpy().astype(np.float32)


DIMS = {"phash": (8, np.uint8), "yokoo": (256, np.float32)}


def embed(items, descriptor: str, **kw) -> tuple[list[str], np.ndarray]:
    """All (ids, descriptors) in memory: for the evaluation set, which is small."""
    ids: list[str] = []
    out: list[np.ndarray] = []
    for batch_ids, emb in embed_batches(items, descriptor, **kw):
        ids += batch_ids
        out.append(emb)
    dim, dtype = DIMS[descriptor]
    return ids, (np.concatenate(out) if out else np.zeros((0, dim), dtype))


def load_eval_embeddings(path: str | os.PathLike) -> np.ndarray:
    """Precomputed evaluation descriptors: .npy, or a torch .pt/.pth (a tensor, or a dict holding one)."""
    path = Path(path)
    if not path.is_file():
        raise SciclipError(f"{path}: no such evaluation embeddings file")
    if path.suffix == ".npy":
        return np.load(path)
    import torch
    obj = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(obj, dict):
        tensors = [v for v in obj.values() if hasattr(v, "numpy")]
        if not tensors:
            raise SciclipError(f"{path}: no tensor inside")
        obj = tensors[0]
    return obj.float().numpy() if hasattr(obj, "float") else np.asarray(obj)
