"""A page a person can read: a few documents drawn at random, text and images in their sequence, then the
images removed from the documents (near-duplicates of evaluation images, repeats), marked as the samples page
marks removed samples.

The documents are drawn with a seeded reservoir over every record of the given folders (read once without
image bytes), then read again with their images, which are inlined as data URIs so the page stands alone
(Snakemake's report embeds it as is). Removed images come from each folder's ``removed/images.parquet``
(``docs.clean``): every one is counted, the first ``REMOVED_SHOWN`` are shown (evaluation near-duplicates first).
"""

from __future__ import annotations

import base64
import html
import json
import os
import random
from pathlib import Path

import pyarrow.parquet as pq

from sciclip.docs.clean import REMOVED
from sciclip.docs.image_removals import REASONS
from sciclip.docs.model import DocRecord
from sciclip.docs.reader import read_dir
from sciclip.report.grid import _cell
from sciclip.storage.atomic import atomic_write_bytes

STYLE = """
body { font-family: Georgia, serif; max-width: 52em; margin: 2em auto; line-height: 1.45; color: #222; }
article { border-top: 3px solid #446; margin-top: 3em; padding-top: 1em; }
.meta { font: 0.8em monospace; color: #555; white-space: pre-wrap; }
figure { margin: 1em 0; padding: 0.5em; background: #f4f4f8; }
figure img { max-width: 100%; display: block; margin: auto; }
figcaption { font: 0.75em monospace; color: #444; margin-top: 0.3em; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 14px; }
.grid figure { margin: 0; padding: 6px; border: 1px solid #ddd; border-radius: 4px; }
.grid figure.removed { border: 3px solid #cc3311; background: #fff3f0; }
.grid img { max-width: 170px; max-height: 170px; display: block; margin: auto; }
.grid figcaption { font: 12px sans-serif; line-height: 1.35; } .tag { font-size: 11px; color: #555; }
.why { font-weight: bold; color: #cc3311; font-size: 12px; }
"""
REMOVED_SHOWN = 24
CONTAMINATED = REASONS[1]
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


def _why(row: dict) -> str:
    if row["reason"] == CONTAMINATED:
        why = f"near-duplicate of an evaluation image (score {row['score']:.2f})"
    elif row["earlier_documents"] is not None:
        why = f"repeated: {row['earlier_documents']} earlier documents already hold it (the limit)"
    else:
        why = row["reason"].replace("_", " ")
    return why + ("" if row["document_kept"] else "; the document no longer qualified and was dropped")


def removed_images(dirs: list[str | os.PathLike], cap: int = REMOVED_SHOWN) -> tuple[dict, int, list[dict]]:
    """(removed images by reason, documents dropped after a removal, up to ``cap`` rows with their image to
    show: evaluation near-duplicates first, then the others, each in folder order)."""
    counts: dict[str, int] = {}
    dropped: set[tuple[int, str]] = set()
    shown: dict[bool, list[dict]] = {True: [], False: []}
    for i, d in enumerate(dirs):
        path = Path(d) / REMOVED
        if not path.is_file():
            continue
        f = pq.ParquetFile(path)
        for g in range(f.num_row_groups):
            for row in f.read_row_group(g).to_pylist():
                counts[row["reason"]] = counts.get(row["reason"], 0) + 1
                if not row["document_kept"]:
                    dropped.add((i, row["id"]))
                first = row["reason"] == CONTAMINATED
                if row["image_bytes"] and len(shown[first]) < cap:
                    shown[first].append(row)
    return dict(sorted(counts.items())), len(dropped), (shown[True] + shown[False])[:cap]


def render_removed(dirs: list[str | os.PathLike], cap: int = REMOVED_SHOWN) -> str:
    counts, dropped, rows = removed_images(dirs, cap)
    total = sum(counts.values())
    head = (f"<h1>Removed from the documents: {total} images</h1><p class=\"meta\">"
            + html.escape(", ".join(f"{k}: {v}" for k, v in counts.items()) or "nothing removed")
            + f"; documents dropped afterwards: {dropped}"
            + (f"; the first {len(rows)} shown" if 0 < len(rows) < total else "") + "</p>")
    if not rows:
        return head
    cells = [_cell(f"{r['source']} document {r['id']}, position {r['position']}", r["image_bytes"], r["caption"] or "",
                   _why(r)) for r in rows]
    return head + "<div class=\"grid\">" + "".join(cells) + "</div>"


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
            f"{body}\n{render_removed(dirs)}</body></html>\n")


def write_page(dirs: list[str | os.PathLike], out: str | os.PathLike, n: int = 3, seed: int = 0) -> int:
    page = render_page(dirs, n, seed)
    atomic_write_bytes(out, page.encode("utf-8"))
    return page.count("<article>")
