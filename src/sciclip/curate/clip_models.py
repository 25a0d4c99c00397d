"""CLIP models for DataComp's metadata, loaded through OpenCLIP's own mechanism.

A model is named for the columns it fills (DataComp's ``b32`` and ``l14``: ``clip_b32_similarity_score``,
``b32_img``, ``b32_txt``) and is any OpenCLIP model: a built-in name with a pretrained tag or file
(``ViT-B-32`` + ``openai``, as dataset2metadata computes CommonPool's metadata), or ``local-dir:PATH`` (a folder
with ``open_clip_config.json`` and its weights: the demo's and the tests' small models, made locally). Loading
is OpenCLIP's ``create_model_and_transforms``: on a user's machine a tag downloads once into OpenCLIP's cache;
tests and the demo never name a tag.

Image and text features are L2-normalised; the similarity score is their inner product (dataset2metadata's
``batched_dot_product`` of normalised features).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from sciclip.errors import SciclipError

NAME = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class ModelSpec:
    name: str  # column prefix, e.g. b32
    model: str  # OpenCLIP model name or local-dir:PATH
    pretrained: str | None = None  # tag (openai) or checkpoint file (loaded into a local-dir model too)

    @property
    def score_column(self) -> str:
        return f"clip_{self.name}_similarity_score"


def parse_spec(name: str, model: str, pretrained: str | None) -> ModelSpec:
    if not NAME.fullmatch(name):
        raise SciclipError(f"model name {name!r}: use lower-case letters and digits (it names columns, e.g. b32)")
    if pretrained in ("", "none", "null"):
        pretrained = None
    return ModelSpec(name, model, pretrained)


class ClipModel:
    """One OpenCLIP model in eval mode with its image transform and tokenizer."""

    def __init__(self, spec: ModelSpec, device: str = "cpu", precision: str = "fp32") -> None:
        import open_clip
        import torch

        self.spec = spec
        self.device = device
        # OpenCLIP ignores `pretrained` for a local-dir:/hf-hub: model; a checkpoint file (a training run's
        # epoch_latest.pt) is then loaded into it here
        schema = spec.model.startswith(("local-dir:", "hf-hub:"))
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                spec.model, pretrained=None if schema else spec.pretrained, device=device, precision=precision)
            if schema and spec.pretrained:
                open_clip.load_checkpoint(model, spec.pretrained, device=device)
            self.tokenizer = open_clip.get_tokenizer(spec.model)
        except (RuntimeError, FileNotFoundError, ValueError, OSError, KeyError) as e:
            where = f"{spec.model}" + (f" / {spec.pretrained}" if spec.pretrained else "")
            raise SciclipError(f"CLIP model {spec.name} ({where}): cannot load ({type(e).__name__}: {e})") from None
        self.model = model.eval()
        self.preprocess = preprocess
        self._torch = torch
        self.dim = int(self._out_dim())

    def _out_dim(self) -> int:
        with self._torch.inference_mode():
            return self.encode_texts(["a"]).shape[1]

    def encode_images(self, batch) -> np.ndarray:
        """Normalised float32 features of a batch of preprocessed images (a tensor)."""
        with self._torch.inference_mode():
            x = batch.to(self.device, non_blocking=True)
            dtype = next(self.model.parameters()).dtype
            feats = self.model.encode_image(x.to(dtype))
            return _normalise(feats.float().cpu().numpy())

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 features of texts (OpenCLIP's tokenizer truncates, as clip.tokenize(truncate=True))."""
        with self._torch.inference_mode():
            tokens = self.tokenizer(texts).to(self.device)
            feats = self.model.encode_text(tokens)
            return _normalise(feats.float().cpu().numpy())


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def write_tiny_model(folder, seed: int = 0) -> None:
    """A small random CLIP saved as an OpenCLIP ``local-dir`` model (config + safetensors): what the demo and
    the tests compute metadata with, so that nothing is downloaded. Same seed, same weights, on any machine
    (torch's CPU generator is deterministic)."""
    import shutil
    from pathlib import Path

    import open_clip
    import torch
    from safetensors.torch import save_file

    from sciclip.storage.atomic import atomic_path
    from sciclip.train.openclip import TINY_MODEL_DIR

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TINY_MODEL_DIR / "open_clip_config.json", folder / "open_clip_config.json")
    torch.manual_seed(seed)
    model = open_clip.create_model(f"local-dir:{TINY_MODEL_DIR}")  # the package folder holds no weights
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    with atomic_path(folder / "open_clip_model.safetensors") as tmp:
        save_file(state, str(tmp))

