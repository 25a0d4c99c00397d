"""The thumbnail page of the report: what a model will train on, and, apart and marked, what was removed.

The first grid samples the final outputs (``results/final/<name>/``, DataComp's ``{uid}-{j}`` keys; a uid in
several outputs counts once), so nothing decontamination removed can appear in it. The second grid shows
every removed sample (up to a cap) with the reason and score from ``results/<source>/decontamination.json``,
its image read back from the img2dataset shards it was removed from.
"""

from __future__ import annotations

import base64
import html
import io
import random
from pathlib import Path

from PIL import Image

from sciclip.shards.reader import ShardReport, read_samples
from sciclip.storage.tables import read_json

STYLE = ("body{font-family:sans-serif;margin:1em}h2{margin-top:1.5em}"
         ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:14px}"
         "figure{margin:0;padding:6px;border:1px solid #ddd;border-radius:4px}"
         "figure.removed{border:3px solid #cc3311;background:#fff3f0}"
         "img{max-width:170px;max-height:170px;display:block;margin:auto}"
         "figcaption{font-size:12px;line-height:1.35}.tag{font-size:11px;color:#555}"
         ".why{font-weight:bold;color:#cc3311;font-size:12px}")


def final_samples(results: Path, finals: list[str], n: int, seed: int,
                  scan: int = 20) -> list[tuple[str, bytes, str, str]]:
    """``n`` random distinct final samples (uid, jpg, caption, output name), fixed seed.

    Shards are visited in a seeded random order and a reservoir keeps ``n`` samples, so memory stays small;
    the scan stops after ``scan * n`` samples: at full scale a few shards, in the demo all of them."""
    rng = random.Random(seed)
    shards = [(name, p) for name in finals for p in sorted((results / "final" / name).glob("*.tar"))]
    rng.shuffle(shards)
    seen: set[str] = set()
    picked: list[tuple[str, bytes, str, str]] = []
    for name, shard in shards:
        for key, members in read_samples(shard, ShardReport(shard.name)):
            uid = key.rsplit("-", 1)[0]
            if uid in seen or "jpg" not in members or "txt" not in members:
                continue
            seen.add(uid)
            sample = (uid, members["jpg"], members["txt"].decode("utf-8", "replace"), name)
            if len(picked) < n:
                picked.append(sample)
            elif (j := rng.randrange(len(seen))) < n:
                picked[j] = sample
        if len(seen) >= scan * n:
            break
    return sorted(picked)


def removed_samples(results: Path, sources: list[str], cap: int) -> tuple[list[tuple[str, bytes, str, str]], int]:
    """(key, jpg, caption, why) of up to ``cap`` removed samples, and how many were removed in all."""
    found = []
    total = 0
    for source in sources:
        report_file = results / source / "decontamination.json"
        if not report_file.is_file():
            continue
        report = read_json(report_file, "a decontamination report (sciclip subset --report)")
        matched = eval_matches(results, source)
        why = {r["key"]: f"near-duplicate of evaluation image {matched[r['uid']]} (score {r['score']:.2f})"
               if r.get("uid") in matched else f"near-duplicate of an evaluation image (score {r['score']:.2f})"
               for r in report.get("contaminated_samples") or []}
        why |= {r["key"]: "exact duplicate of a kept sample" for r in report.get("duplicate_samples") or []}
        total += len(why)
        wanted = set(sorted(why)[: max(0, cap - len(found))])  # the first removed, in key (= shard) order
        for shard in sorted((results / source / "img2dataset").glob("*.tar")):
            if not wanted:
                break
            for key, members in read_samples(shard, ShardReport(shard.name)):
                if key in wanted and "jpg" in members:
                    caption = members.get("txt", b"").decode("utf-8", "replace")
                    found.append((f"{source} {key}", members["jpg"], caption, why[key]))
                    wanted.discard(key)
    return found, total


def eval_matches(results: Path, source: str) -> dict[str, str]:
    """uid -> the evaluation item it is nearest to, for the samples at or above the threshold (the score jobs'
    reports, ``results/<source>/scores.units/*.json``)."""
    out: dict[str, str] = {}
    for f in sorted((results / source / "scores.units").glob("*.json")):
        for m in read_json(f, "a score report (sciclip score --report)").get("matches") or []:
            out[m["uid"]] = str(m["eval"])
    return out


def _count(results: Path, final: str) -> str:
    meta = results / "final" / final / "meta.json"
    return str(read_json(meta, "a reshard meta.json").get("output_count", "?")) if meta.is_file() else "?"


def _thumb(jpg: bytes) -> str:
    img = Image.open(io.BytesIO(jpg))
    img.thumbnail((170, 170))
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def _cell(label: str, jpg: bytes, caption: str, why: str = "") -> str:
    cls = " class='removed'" if why else ""
    mark = f"<div class='why'>REMOVED: {html.escape(why)}</div>" if why else ""
    return (f"<figure{cls}><img src='{_thumb(jpg)}' alt='{html.escape(label)}'><figcaption>{mark}"
            f"{html.escape(caption)}<div class='tag'>{html.escape(label)}</div></figcaption></figure>")


def grid_html(results: Path, sources: list[str], finals: list[str], n: int, seed: int) -> str:
    """The page: ``n`` random final samples (fixed seed), then the removed ones (at most ``n``)."""
    picked = final_samples(results, finals, max(n, 0), seed)
    removed, n_removed = removed_samples(results, sources, max(n, 0))
    sizes = ", ".join(f"results/final/{f}: {_count(results, f)}" for f in finals) or "no final output"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>sciclip samples</title><style>{STYLE}"
             "</style></head><body>",
             f"<h2>{len(picked)} random final samples ({html.escape(sizes)} samples)</h2>",
             "<div class='grid'>", *(_cell(f"{name} {uid}", jpg, cap) for uid, jpg, cap, name in picked), "</div>",
             f"<h2>Removed by decontamination: {n_removed} samples"
             + (f" (the first {len(removed)} shown)" if len(removed) < n_removed else "") + "</h2>"]
    if removed:
        parts += ["<div class='grid'>", *(_cell(k, jpg, cap, why) for k, jpg, cap, why in removed), "</div>"]
    else:
        parts.append("<p>None.</p>")
    parts.append("</body></html>")
    return "".join(parts)
