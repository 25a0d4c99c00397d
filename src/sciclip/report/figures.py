"""The pictures of ``snakemake --report``: what a run produced, at a glance.

Caption-length histograms per source, samples per month (arXiv) and per batch (PMC), skip reasons,
the decontamination score histogram with the threshold, and a grid of random sample thumbnails with their
captions. Everything is read back from the run's outputs; figures are SVG (deterministic: no dates, a fixed
hash salt), the grid a self-contained HTML page.
"""

from __future__ import annotations

import base64
import html
import io
import json
import random
from pathlib import Path

import pyarrow.parquet as pq
from PIL import Image

from sciclip.shards.reader import ShardReport, read_samples
from sciclip.storage.atomic import atomic_write_bytes

FIGURES = ["caption_lengths.svg", "samples_per_unit.svg", "skip_reasons.svg", "decontamination_scores.svg",
           "samples.html"]


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams["svg.hashsalt"] = "sciclip"
    return plt


def _save(fig, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    fig.clf()


def _rows(folder: Path, columns: list[str]) -> list[dict]:
    rows: list[dict] = []
    for p in sorted(folder.glob("*.parquet")):
        names = pq.read_schema(p).names
        rows += pq.read_table(p, columns=[c for c in columns if c in names]).to_pylist()
    return rows


def make_report_figures(results: str | Path, out: str | Path, sources: list[str], threshold: float | None,
                        thumbnails: int = 24, seed: int = 0) -> list[Path]:
    results, out = Path(results), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plt = _plt()
    data = {s: _rows(results / s / "img2dataset", ["caption", "yymm", "uid", "key"]) for s in sources}

    fig, axes = plt.subplots(1, len(sources), figsize=(5 * len(sources), 3.2), squeeze=False)
    for ax, s in zip(axes[0], sources):
        lengths = [len(r["caption"] or "") for r in data[s]]
        ax.hist(lengths, bins=30, color="#4477aa")
        ax.set_title(f"{s}: caption length ({len(lengths)} samples)")
        ax.set_xlabel("characters")
        ax.set_ylabel("samples")
    _save(fig, out / "caption_lengths.svg")

    fig, axes = plt.subplots(1, len(sources), figsize=(5 * len(sources), 3.2), squeeze=False)
    for ax, s in zip(axes[0], sources):
        if s == "arxiv":
            counts: dict[str, int] = {}
            for r in data[s]:
                counts[r.get("yymm") or "?"] = counts.get(r.get("yymm") or "?", 0) + 1
            ax.set_title("arxiv: samples per month (YYMM)")
        else:
            counts = {}
            for d in sorted((results / s / "shards").glob("*/stats.json")):
                counts[d.parent.name] = json.loads(d.read_text()).get("samples_written", 0)
            ax.set_title(f"{s}: samples per batch")
        keys = sorted(counts)
        ax.bar(range(len(keys)), [counts[k] for k in keys], color="#228833")
        ax.set_xticks(range(len(keys)), keys, rotation=90, fontsize=7)
    _save(fig, out / "samples_per_unit.svg")

    fig, axes = plt.subplots(1, len(sources), figsize=(5 * len(sources), 3.5), squeeze=False)
    fig.subplots_adjust(wspace=0.8)
    for ax, s in zip(axes[0], sources):
        stats_file = results / "stats" / f"{s}.json"
        stats = json.loads(stats_file.read_text()) if stats_file.is_file() else {}
        reasons = {f"paper: {k}": v for k, v in (stats.get("skipped_papers") or {}).items()}
        reasons |= {f"figure: {k}": v for k, v in (stats.get("skipped_figures") or {}).items()}
        names = sorted(reasons, key=lambda k: -reasons[k])
        ax.barh(range(len(names)), [reasons[k] for k in names], color="#ee6677")
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(f"{s}: skip reasons")
    _save(fig, out / "skip_reasons.svg")

    fig, ax = plt.subplots(figsize=(6, 3.2))
    for s in sources:
        scores = [r["score"] for r in _rows(results / s / "scores", ["score"])] if (results / s / "scores").is_dir() else []
        if scores:
            ax.hist(scores, bins=40, range=(0, 1), alpha=0.6, label=f"{s} ({len(scores)})")
    if threshold is not None and threshold <= 1:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:g}")
    ax.set_xlabel("max similarity to an evaluation image")
    ax.set_ylabel("samples")
    ax.set_title("decontamination scores")
    ax.legend(fontsize=7)
    _save(fig, out / "decontamination_scores.svg")

    atomic_write_bytes(out / "samples.html", _grid(results, sources, thumbnails, seed).encode("utf-8"))
    return [out / f for f in FIGURES]


def _grid(results: Path, sources: list[str], n: int, seed: int) -> str:
    """Random samples (fixed seed) as thumbnails with their captions, images embedded as data URIs."""
    shards = sorted(p for s in sources for p in (results / s / "img2dataset").glob("*.tar"))
    samples: list[tuple[str, bytes, str]] = []
    for shard in shards:
        for key, members in read_samples(shard, ShardReport(shard.name)):
            if "jpg" in members and "txt" in members:
                samples.append((key, members["jpg"], members["txt"].decode("utf-8", "replace")))
    picked = random.Random(seed).sample(samples, min(n, len(samples)))
    cells = []
    for key, jpg, caption in picked:
        img = Image.open(io.BytesIO(jpg))
        img.thumbnail((160, 160))
        buf = io.BytesIO()
        img.convert("RGB").save(buf, "JPEG", quality=85)
        uri = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
        cells.append(f'<figure><img src="{uri}" alt="{html.escape(key)}"><figcaption>{html.escape(caption)}'
                     f"</figcaption></figure>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>sciclip samples</title><style>"
            "body{font-family:sans-serif}.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));"
            "gap:12px}figure{margin:0}img{max-width:160px;max-height:160px;display:block}"
            "figcaption{font-size:11px;line-height:1.3}</style></head><body>"
            f"<h1>{len(picked)} random samples of {len(samples)}</h1><div class='grid'>" + "".join(cells)
            + "</div></body></html>")
