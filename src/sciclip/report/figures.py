"""The pictures of ``snakemake --report``: what a run produced, at a glance.

A counts table (seen, skipped and removed by reason, kept) comes first; then caption-length histograms per
source, samples per month (arXiv, in calendar order: 9901 is January 1999, before 2001) and per work unit
under the name the source gives it (a PMC batch, a cc unit of crawl files), skip reasons (per item and per
candidate, in the source's nouns), the decontamination score histogram with the threshold, and the thumbnail page (final samples;
removed ones apart and marked). Count axes only have whole-number ticks. Everything is read back from the
run's outputs; figures are SVG (deterministic: no dates, a fixed hash salt), the pages self-contained HTML.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pyarrow.parquet as pq

from sciclip.errors import SciclipError
from sciclip.report.counts import counts_html, decontamination_line, load_source, nouns
from sciclip.report.grid import grid_html
from sciclip.storage.atomic import atomic_write_bytes, check_dir_target
from sciclip.storage.tables import read_json

FIGURES = ["counts.html", "caption_lengths.svg", "samples_per_unit.svg", "skip_reasons.svg",
           "decontamination_scores.svg", "samples.html"]
LABEL_SIZE = 10  # tick labels a person can read without zooming


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams["svg.hashsalt"] = "sciclip"
    plt.rcParams["font.size"] = LABEL_SIZE
    return plt


def _integer_axis(axis) -> None:
    """Counts are whole numbers: no 0.5 ticks when the bars are short."""
    from matplotlib.ticker import MaxNLocator
    axis.set_major_locator(MaxNLocator(integer=True))


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


def month_key(yymm: str) -> tuple[int, str]:
    """Calendar order of arXiv's YYMM months (91..99 are the 1990s); anything else sorts last."""
    from sciclip.sources.arxiv.ids import year_month

    return (year_month(yymm), "") if re.fullmatch(r"\d{4}", yymm or "") else (10**9, yymm or "?")


def samples_per_unit(results: Path, source: str, rows: list[dict], unit: str = "unit") -> tuple[str, dict[str, int]]:
    """(title, unit -> extracted samples): months for arXiv, in calendar order; work units otherwise, ``unit``
    being what the source calls one."""
    if source == "arxiv":
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.get("yymm") or "?"] = counts.get(r.get("yymm") or "?", 0) + 1
        return "arxiv: samples extracted per month", {k: counts[k] for k in sorted(counts, key=month_key)}
    counts = {}
    for f in sorted((results / source / "shards").glob("*/stats.json")):
        counts[f.parent.name] = int(read_json(f, "job stats", ("samples_written",))["samples_written"])
    return f"{source}: samples extracted per {unit}", counts


def make_report_figures(results: str | Path, out: str | Path, sources: list[str], threshold: float | None,
                        thumbnails: int = 24, seed: int = 0, finals: list[str] | None = None,
                        descriptor: str | None = None, eval_set: str | Path | None = None) -> list[Path]:
    results, out = Path(results), Path(out)
    if not results.is_dir():
        raise SciclipError(f"{results}: no such directory (the workflow's results folder)")
    if not any((results / "stats" / f"{s}.json").is_file() for s in sources):  # a source of 0 samples has stats
        raise SciclipError(f"{results}: no stats of {', '.join(sources)} yet (did the workflow run?)")
    if finals is None:
        finals = sorted(p.name for p in (results / "final").glob("*") if (p / "meta.json").is_file())
    check_dir_target(out)
    out.mkdir(parents=True, exist_ok=True)
    decon = decontamination_line(descriptor, threshold, eval_set)
    atomic_write_bytes(out / "counts.html", counts_html(results, sources, finals, decon).encode("utf-8"))
    plt = _plt()
    data = {s: _rows(results / s / "img2dataset", ["caption", "yymm", "uid", "key"]) for s in sources}
    width = 5.5 * len(sources)

    fig, axes = plt.subplots(1, len(sources), figsize=(width, 3.4), squeeze=False)
    for ax, s in zip(axes[0], sources):
        lengths = [len(r["caption"] or "") for r in data[s]]
        ax.hist(lengths, bins=30, color="#4477aa")
        ax.set_title(f"{s}: caption length ({len(lengths)} samples)")
        ax.set_xlabel("characters")
        ax.set_ylabel("samples")
        _integer_axis(ax.yaxis)
    _save(fig, out / "caption_lengths.svg")

    fig, axes = plt.subplots(1, len(sources), figsize=(width, 3.6), squeeze=False)
    for ax, s in zip(axes[0], sources):
        title, counts = samples_per_unit(results, s, data[s], nouns(load_source(results, s)["stats"])["unit"])
        keys = list(counts)
        ax.bar(range(len(keys)), [counts[k] for k in keys], color="#228833")
        # horizontal labels while they fit; a long run of months turns them, never below a readable size
        ax.set_xticks(range(len(keys)), keys, rotation=0 if len(keys) <= 8 else 45,
                      ha="center" if len(keys) <= 8 else "right")
        ax.set_title(title)
        ax.set_ylabel("samples")
        _integer_axis(ax.yaxis)
    _save(fig, out / "samples_per_unit.svg")

    fig, axes = plt.subplots(1, len(sources), figsize=(width + 2, 3.8), squeeze=False)
    fig.subplots_adjust(wspace=0.9)
    for ax, s in zip(axes[0], sources):
        stats = load_source(results, s)["stats"]
        item, candidate = (nouns(stats)[k].removesuffix("s") for k in ("item", "candidate"))
        reasons = {f"{k} ({item})": v for k, v in (stats.get("skipped_items") or {}).items()}
        reasons |= {f"{k} ({candidate})": v for k, v in (stats.get("skipped_candidates") or {}).items()}
        names = sorted(reasons, key=lambda k: (-reasons[k], k))
        ax.barh(range(len(names)), [reasons[k] for k in names], color="#ee6677")
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlabel("skipped")
        _integer_axis(ax.xaxis)
        ax.set_title(f"{s}: skip reasons")
    _save(fig, out / "skip_reasons.svg")

    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for s in sources:
        scores = [r["score"] for r in _rows(results / s / "scores", ["score"])] if (results / s / "scores").is_dir() else []
        if scores:
            ax.hist(scores, bins=40, range=(0, 1), alpha=0.6, label=f"{s} ({len(scores)})")
    if threshold is not None and threshold <= 1:
        ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:g}")
    ax.set_xlabel("max similarity to an evaluation image")
    ax.set_ylabel("samples")
    _integer_axis(ax.yaxis)
    ax.set_title("decontamination scores")
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    _save(fig, out / "decontamination_scores.svg")

    atomic_write_bytes(out / "samples.html", grid_html(results, sources, finals, thumbnails, seed).encode("utf-8"))
    return [out / f for f in FIGURES]
