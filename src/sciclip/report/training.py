"""The report's training page: what the run trained on, how its loss went, and for the tiny preset whether it
learned its own training pairs (loss and recall@1 before and after).

Read from the training job's ``summary.json`` (``sciclip train``).
"""

from __future__ import annotations

import html
from pathlib import Path

from sciclip.storage.tables import read_json

STYLE = ("<style>body{font-family:sans-serif;margin:1em}table.sciclip{border-collapse:collapse;margin:0.5em 0 1em;"
         "font-size:14px}table.sciclip td,table.sciclip th{border:1px solid #ccc;padding:3px 10px;text-align:left}"
         "table.sciclip td.n{text-align:right;font-variant-numeric:tabular-nums}</style>")


def _rows(t: dict) -> list[tuple[str, str]]:
    rows = [("preset", f"{t.get('preset', '?')} ({t.get('model', '?')})"),
            ("training samples", f"{t.get('train_num_samples', '?'):,}" if isinstance(t.get("train_num_samples"), int)
             else "?"),
            ("data", ", ".join(str(s.get("pattern", "")) for s in t.get("sources") or []) or "?"),
            ("epochs, global batch", f"{t.get('epochs', '?')}, {t.get('global_batch', '?')}"),
            ("steps logged", str(t.get("steps_logged", "?"))),
            ("batch loss, first -> last", f"{t['first_loss']:.4f} -> {t['last_loss']:.4f}"
             if "first_loss" in t and "last_loss" in t else "?"),
            ("checkpoint", str(t.get("checkpoint", "?")))]
    pairs = t.get("training_pairs")
    if pairs:
        b, a = pairs["before"], pairs["after"]
        rows += [(f"on its {pairs['pairs']} training pairs: loss", f"{b['loss']:.3f} -> {a['loss']:.3f}"),
                 ("recall@1 image -> text", f"{b['image_to_text_r1']:.0%} -> {a['image_to_text_r1']:.0%}"),
                 ("recall@1 text -> image", f"{b['text_to_image_r1']:.0%} -> {a['text_to_image_r1']:.0%}")]
    return rows


def training_html(records: list[Path]) -> str:
    """One table per run, from its summary."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>sciclip training</title>{STYLE}</head><body>"]
    if not records:
        parts.append("<p>No training run (train.enabled is false, or it has no data).</p>")
    for path in records:
        run = path.parent.name
        t = read_json(path, "a training summary (sciclip train)")
        body = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in _rows(t))
        parts.append(f"<h2>{html.escape(run)}</h2><table class='sciclip'>{body}</table>")
        if t.get("training_pairs"):
            parts.append("<p>The tiny preset is a smoke test: these are its own training pairs, so they show that "
                         "the model can learn, not how well it generalises.</p>")
    parts.append("</body></html>")
    return "".join(parts)
