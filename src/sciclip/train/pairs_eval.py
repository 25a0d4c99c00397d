"""Did the model learn anything? Loss and retrieval recall@1 on the training pairs, before and after.

OpenCLIP logs the loss of each step's batch, which on a few dozen samples is too noisy to show learning.
Here the whole set of training pairs (up to ``MAX_PAIRS``) is scored in one batch, deterministically (the
evaluation transform, no augmentation), once with the weights training started from (the same seed as
``open_clip_train``) and once with the final checkpoint: the symmetric contrastive loss, and how often an
image's nearest caption is its own (image->text) and the reverse. A smoke test, not a benchmark: these
are the training pairs, so a model that learns memorises them.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

from sciclip.shards.reader import ShardReport, read_samples

MAX_PAIRS = 256


def training_pairs(shards: list[Path], limit: int = MAX_PAIRS) -> list[tuple[bytes, str]]:
    """(jpg, caption) of the first ``limit`` samples of ``shards``, in order."""
    pairs = []
    for shard in shards:
        for _, members in read_samples(shard, ShardReport(shard.name)):
            if "jpg" in members and "txt" in members:
                pairs.append((members["jpg"], members["txt"].decode("utf-8", "replace")))
                if len(pairs) == limit:
                    return pairs
    return pairs


def _metrics(model, images, texts) -> dict[str, float]:
    import torch
    import torch.nn.functional as F

    model.eval()
    with torch.no_grad():
        img, txt, scale = model(images, texts)[:3]
        logits = scale * img @ txt.T
        target = torch.arange(len(logits))
        loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
        i2t = (logits.argmax(dim=1) == target).float().mean()
        t2i = (logits.argmax(dim=0) == target).float().mean()
    return {"loss": round(float(loss), 4), "image_to_text_r1": round(float(i2t), 4),
            "text_to_image_r1": round(float(t2i), 4)}


def evaluate_pairs(model_name: str, checkpoint: str | os.PathLike, shards: list[Path], seed: int = 0,
                   device: str | None = None) -> dict:
    """{"pairs": n, "before": metrics, "after": metrics} on the training pairs of ``shards``."""
    import numpy as np
    import open_clip
    import torch
    from PIL import Image

    pairs = training_pairs(shards)
    # open_clip_train seeds like this right before it builds the model: the same initial weights
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    model, _, preprocess = open_clip.create_model_and_transforms(model_name, device=device or "cpu")
    tokenizer = open_clip.get_tokenizer(model_name)
    images = torch.stack([preprocess(Image.open(io.BytesIO(jpg)).convert("RGB")) for jpg, _ in pairs])
    texts = tokenizer([caption for _, caption in pairs])
    images, texts = images.to(device or "cpu"), texts.to(device or "cpu")
    before = _metrics(model, images, texts)
    state = torch.load(checkpoint, map_location=device or "cpu", weights_only=True)["state_dict"]
    model.load_state_dict({k.removeprefix("module."): v for k, v in state.items()})
    return {"pairs": len(pairs), "before": before, "after": _metrics(model, images, texts)}
