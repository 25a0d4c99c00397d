"""Per-source document statistics: the unit jobs' counters summed, document sizes read back from the shards."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sciclip.docs.reader import read_dir
from sciclip.errors import SciclipError
from sciclip.shards.stats import length_summary
from sciclip.sources.job import STATS_NAME

COUNTERS = ("items_seen", "items_with_candidates", "items_with_documents", "candidates_found", "documents", "words",
            "images", "texts")
REASON_MAPS = ("skipped_items", "skipped_documents", "skipped_images", "removed", "refused_members")


def docs_stats(directories: list[str | os.PathLike], source: str | None = None) -> dict:
    """Sum the ``stats.json`` of each unit folder and describe the documents they hold."""
    out: dict = {"source": source, "nouns": {}, "units": 0, **{k: 0 for k in COUNTERS}, **{k: {} for k in REASON_MAPS},
                 "damaged_units": []}
    words: list[int] = []
    images: list[int] = []
    for d in directories:
        path = Path(d) / STATS_NAME
        if not path.is_file():
            raise SciclipError(f"{path}: no such file (not a document unit folder?)")
        unit = json.loads(path.read_text())
        out["units"] += 1
        out["nouns"] = out["nouns"] or unit.get("nouns") or {}
        for k in COUNTERS:
            out[k] += int(unit.get(k, 0))
        for k in REASON_MAPS:
            for reason, n in (unit.get(k) or {}).items():
                out[k][reason] = out[k].get(reason, 0) + n
        if unit.get("archive_damaged"):
            out["damaged_units"].append({"unit": Path(d).name, "error": unit["archive_damaged"]})
        for r in read_dir(d, with_images=False):
            words.append(r.words)
            images.append(r.n_images)
    for k in REASON_MAPS:
        out[k] = dict(sorted(out[k].items()))
    out["words_per_document"] = length_summary(words)
    out["images_per_document"] = length_summary(images)
    return out


def summary_line(s: dict) -> str:
    item = (s.get("nouns") or {}).get("item", "items")
    return (f"{s['source'] or 'documents'}: {s['documents']} documents from {s['items_seen']} {item}, "
            f"{s['words']} words, {s['images']} images; skipped {item} {s['skipped_items'] or {}}, "
            f"documents {s['skipped_documents'] or {}}, images {s['skipped_images'] or {}}")
