"""Figure kinds by zero-shot classification over the CLIP image embeddings the metadata already holds.

The paper found its subsets "dominated by complicated graphs and plots" and left open whether keeping only
natural images helps; a ``kind`` per sample lets a filter ask that. The classifier is CLIP's zero-shot recipe
(Radford et al.; clip_benchmark's ``zero_shot_classifier``): a kind's text embedding is the normalised mean of
the normalised embeddings of its prompts; a sample's kind is the one whose embedding is nearest its image
embedding, and ``kind_score`` the softmax probability of that kind at CLIP's logit scale of 100.

The prompt set (``PROMPTS``) is part of the definition: change it and the kinds change. A user can replace
it with a YAML/JSON file of ``kind: [prompt, ...]`` (``metadata.kind_prompts``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sciclip.errors import SciclipError

LOGIT_SCALE = 100.0  # OpenAI CLIP's learned scale (OpenCLIP clamps training at the same value)

PROMPTS: dict[str, list[str]] = {
    "photograph": ["a photograph.", "a photo of an object.", "a photo of a scene.", "a photo of a person."],
    "microscopy": ["a microscopy image.", "a micrograph of cells.", "a fluorescence microscopy image.",
                   "an electron microscope image.", "a histology slide."],
    "medical_scan": ["a medical scan.", "an x-ray image.", "an MRI scan.", "a CT scan.", "an ultrasound image."],
    "chart": ["a chart.", "a plot of data.", "a line graph.", "a bar chart.", "a scatter plot.", "a histogram."],
    "diagram": ["a diagram.", "a schematic.", "a flowchart.", "a block diagram.", "an architecture diagram."],
    "table": ["a table.", "a table of numbers.", "a spreadsheet."],
    "text": ["text.", "a page of text.", "mathematical equations.", "a formula.", "an algorithm listing."],
    "map": ["a map.", "a geographic map.", "a satellite image of the earth."],
    "screenshot": ["a screenshot.", "a screenshot of a user interface.", "a screenshot of a website."],
    "drawing": ["a drawing.", "an illustration.", "a sketch.", "a cartoon.", "a painting."],
    "chemical_structure": ["a chemical structure.", "a molecular structure diagram.", "a skeletal formula.",
                           "a protein structure rendering."],
}
KINDS = tuple(PROMPTS)


def load_prompts(path: str | None) -> dict[str, list[str]]:
    """The built-in prompt set, or a user's file (YAML or JSON mapping kind -> list of prompts)."""
    if not path:
        return PROMPTS
    p = Path(path)
    try:
        import yaml
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise SciclipError(f"{p}: cannot read the kind prompts ({e.strerror})") from None
    except Exception as e:  # yaml's errors: one line naming the file
        raise SciclipError(f"{p}: not a YAML/JSON mapping of kind -> prompts ({type(e).__name__})") from None
    if not isinstance(data, dict) or not data or not all(
            isinstance(k, str) and isinstance(v, list) and v and all(isinstance(t, str) for t in v)
            for k, v in data.items()):
        raise SciclipError(f"{p}: expected a mapping of kind -> non-empty list of prompts")
    return {k: list(v) for k, v in data.items()}


def kind_embeddings(encode_texts, prompts: dict[str, list[str]]) -> np.ndarray:
    """(kinds, dim): per kind, the normalised mean of its prompts' normalised text embeddings."""
    rows = []
    for texts in prompts.values():
        emb = encode_texts(texts).astype(np.float32).mean(axis=0)
        rows.append(emb / max(float(np.linalg.norm(emb)), 1e-12))
    return np.stack(rows).astype(np.float32)


def classify(image_embeddings: np.ndarray, kinds: np.ndarray, names: list[str]) -> tuple[list[str], np.ndarray]:
    """(kind, its softmax probability) for each row of normalised image embeddings."""
    if len(image_embeddings) == 0:
        return [], np.zeros(0, np.float32)
    logits = LOGIT_SCALE * (image_embeddings.astype(np.float32) @ kinds.T)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    best = probs.argmax(axis=1)
    return [names[i] for i in best], probs[np.arange(len(best)), best].astype(np.float32)


def prompts_json(prompts: dict[str, list[str]]) -> str:
    return json.dumps(prompts, sort_keys=False)
