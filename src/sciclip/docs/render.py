"""A page a person can read: a few documents drawn at random, text and images in their sequence.

The documents are drawn with a seeded reservoir over every record of the given folders (read once without
image bytes), then read again with their images, which are inlined as data URIs so the page stands alone
(Snakemake's report embeds it as is).
"""

from __future__ import annotations

import base64
import html
import json
import os
import random

from sciclip.docs.model import DocRecord
from sciclip.docs.reader import read_dir
from sciclip.storage.atomic import atomic_write_bytes

STYLE = """
body { font-family: Georgia, serif; max-width: 52em; margin: 2em auto; line-height: 1.45; color: #222; }
article { border-top: 3px solid #446; margin-top: 3em; padding-top: 1em; }
.meta { font: 0.8em monospace; color: #555; white-space: pre-wrap; }
figure { margin: 1em 0; padding: 0.5em; background: #f4f4f8; }
figure img { max-width: 100%; display: block; margin: auto; }
figcaption { font: 0.75em monospace; color: #444; margin-top: 0.3em; }
"""
_FIGURE_KEYS = ("source_path", "src", "figure_label", "label", "figure_id", "alt_text", "original_width",
                "original_height", "width", "height", "format", "uid")


def choose(dirs: list[str | os.PathLike], n: int, seed: int) -> list[tuple[int, str]]:
    """(folder index, document id) of ``n`` documents drawn uniformly (reservoir sampling, seeded)."""
    rng = random.Random(seed)
    picked: list[tuple[int, str]] = []
    seen = 0
    for i, d in enumerate(dirs):
        for r in read_dir(d, with_images=False):
            seen += 1
            if len(picked) < n:
                picked.append((i, r.id))
            else:
                j = rng.randrange(seen)
                if j < n:
                    picked[j] = (i, r.id)
    return picked


def render_document(r: DocRecord) -> str:
    general = json.dumps(r.general_metadata, ensure_ascii=False, indent=1, sort_keys=True)
    parts = [f"<article><h2>{html.escape(r.source)} document {html.escape(r.id)}</h2>",
             f"<div class=\"meta\">{html.escape(general)}</div>",
             f"<p class=\"meta\">{r.words} words, {r.n_images} images, {len(r.texts)} positions</p>"]
    for text, data, meta in zip(r.texts, r.image_bytes, r.metadata):
        if text is not None:
            parts += [f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.split("\n\n")]
        else:
            shown = {k: meta[k] for k in _FIGURE_KEYS if meta and meta.get(k) not in (None, "")}
            uri = "data:image/jpeg;base64," + base64.b64encode(data or b"").decode("ascii")
            parts.append(f"<figure><img src=\"{uri}\" alt=\"{html.escape(str(shown.get('alt_text', '')))}\">"
                         f"<figcaption>{html.escape(json.dumps(shown, ensure_ascii=False))}</figcaption></figure>")
    parts.append("</article>")
    return "\n".join(parts)


def render_page(dirs: list[str | os.PathLike], n: int = 3, seed: int = 0) -> str:
    picked = choose(dirs, n, seed)
    wanted = {(i, doc_id) for i, doc_id in picked}
    records: dict[tuple[int, str], DocRecord] = {}
    for i in sorted({i for i, _ in picked}):
        for r in read_dir(dirs[i]):
            if (i, r.id) in wanted:
                records[(i, r.id)] = r
    body = "\n".join(render_document(records[k]) for k in picked if k in records)
    if not picked:
        body = "<p>No documents were built.</p>"
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>sciclip documents</title>"
            f"<style>{STYLE}</style></head><body><h1>{len(picked)} documents drawn at random (seed {seed})</h1>"
            f"{body}</body></html>\n")


def write_page(dirs: list[str | os.PathLike], out: str | os.PathLike, n: int = 3, seed: int = 0) -> int:
    page = render_page(dirs, n, seed)
    atomic_write_bytes(out, page.encode("utf-8"))
    return page.count("<article>")
