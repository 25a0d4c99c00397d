"""The report's corpus page: what the metadata says is in the corpus, and what the curation removed from it.

Figure kinds per source (counts, a bar chart of the shares, and the few samples of each kind the classifier is
surest of), in-corpus near-duplicates (each removed sample beside the earlier sample it repeats), and the
filtered variants (the pool, what each filter keeps, what the variant holds). Everything is read back from the
run's outputs: ``results/{source}/metadata/``, ``results/near_dup/report.json``, ``results/final/*.filters.json``.
"""

from __future__ import annotations

import html
from pathlib import Path

import pyarrow.parquet as pq

from sciclip.report.grid import STYLE, _cell
from sciclip.shards.reader import ShardReport, read_samples
from sciclip.storage.atomic import atomic_write_bytes, check_dir_target
from sciclip.storage.tables import read_json

PER_KIND = 4  # samples shown per kind


def kind_rows(results: Path, sources: list[str]) -> list[dict]:
    """(source, shard, key, kind, kind_score, text) of every metadata row that has a kind."""
    rows = []
    for s in sources:
        for p in sorted((results / s / "metadata").glob("*.parquet")):
            names = pq.read_schema(p).names
            if "kind" not in names:
                continue
            t = pq.read_table(p, columns=["key", "kind", "kind_score", "text"]).to_pylist()
            rows += [{"source": s, "shard": p.stem, **r} for r in t]
    return rows


def kind_counts(rows: list[dict], sources: list[str]) -> dict[str, dict[str, int]]:
    """source -> kind -> samples, kinds in order of their total."""
    counts: dict[str, dict[str, int]] = {s: {} for s in sources}
    for r in rows:
        counts[r["source"]][r["kind"]] = counts[r["source"]].get(r["kind"], 0) + 1
    return counts


def _images(results: Path, wanted: list[tuple[str, int, str]]) -> dict[tuple[str, str], tuple[bytes, str]]:
    """(source, key) -> (jpg, caption) of samples, each read from its img2dataset shard (by number)."""
    by_shard: dict[tuple[str, int], set[str]] = {}
    for source, shard, key in wanted:
        by_shard.setdefault((source, int(shard)), set()).add(key)
    tars = {s: {int(p.stem): p for p in (results / s / "img2dataset").glob("*.tar") if p.stem.isdigit()}
            for s in {s for s, _ in by_shard}}
    found = {}
    for (source, shard), keys in sorted(by_shard.items()):
        path = tars[source].get(shard)
        if path is None:
            continue
        for key, members in read_samples(path, ShardReport(path.name)):
            if key in keys and "jpg" in members:
                found[(source, key)] = (members["jpg"], members.get("txt", b"").decode("utf-8", "replace"))
    return found


def kinds_svg(counts: dict[str, dict[str, int]], path: Path) -> None:
    from sciclip.report.figures import _plt, _save

    plt = _plt()
    kinds = sorted({k for c in counts.values() for k in c}, key=lambda k: -sum(c.get(k, 0) for c in counts.values()))
    sources = [s for s in counts if counts[s]]
    fig, ax = plt.subplots(figsize=(7.5, 0.8 + 0.6 * max(1, len(sources))))
    cmap = plt.get_cmap("tab20")
    left = [0.0] * len(sources)
    for i, k in enumerate(kinds):
        shares = [counts[s].get(k, 0) / max(1, sum(counts[s].values())) for s in sources]
        ax.barh(range(len(sources)), shares, left=left, color=cmap(i % 20), label=k)
        left = [a + b for a, b in zip(left, shares)]
    ax.set_yticks(range(len(sources)), [f"{s} ({sum(counts[s].values())})" for s in sources])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of samples")
    ax.set_title("figure kinds per source")
    if kinds:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    _save(fig, path)


def _table(head: list[str], rows: list[list]) -> str:
    cells = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table border='1' cellpadding='4' style='border-collapse:collapse'><tr>{cells}</tr>{body}</table>"


def corpus_html(results: Path, sources: list[str], variants: list[str], near_dup_cap: int = 24) -> tuple[str, dict]:
    rows = kind_rows(results, sources)
    counts = kind_counts(rows, sources)
    kinds = sorted({k for c in counts.values() for k in c}, key=lambda k: (-sum(c.get(k, 0) for c in counts.values()), k))
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>sciclip corpus</title><style>{STYLE}</style>"
             "</head><body><h2>Figure kinds (zero-shot over the metadata's CLIP embeddings)</h2>"]
    if rows:
        parts.append(_table(["kind", *sources, "all"],
                            [[k, *(counts[s].get(k, 0) for s in sources), sum(counts[s].get(k, 0) for s in sources)]
                             for k in kinds]))
        best = {}
        for r in sorted(rows, key=lambda r: (-r["kind_score"], r["source"], r["key"])):
            best.setdefault(r["kind"], [])
            if len(best[r["kind"]]) < PER_KIND:
                best[r["kind"]].append(r)
        images = _images(results, [(r["source"], r["shard"], r["key"]) for rs in best.values() for r in rs])
        for k in kinds:
            parts.append(f"<h3>{html.escape(k)}: the {len(best[k])} samples it is surest of</h3><div class='grid'>")
            for r in best[k]:
                jpg, caption = images.get((r["source"], r["key"]), (None, r["text"]))
                if jpg is not None:
                    parts.append(_cell(f"{r['source']} {r['key']} ({r['kind_score']:.2f})", jpg, caption))
            parts.append("</div>")
    else:
        parts.append("<p>No kinds (metadata off, or metadata.kind_model null).</p>")
    parts.append(_near_dup_section(results, near_dup_cap))
    parts.append(_variants_section(results, variants))
    parts.append("</body></html>")
    return "".join(parts), counts


def _near_dup_section(results: Path, cap: int) -> str:
    path = results / "near_dup" / "report.json"
    if not path.is_file():
        return "<h2>Near-duplicates inside the corpus</h2><p>Not searched (curate.near_dup.enabled is false).</p>"
    rep = read_json(path, "a near-duplicate report (sciclip near-dup --report)")
    removed = rep.get("removed_samples") or []
    head = (f"<h2>Near-duplicates inside the corpus: {rep['removed']} of {rep['samples']} samples "
            f"({rep['descriptor']}, similarity >= {rep['threshold']:g}; {rep.get('across_sources', 0)} across "
            "sources)</h2><p>Each removed sample is shown after the earlier sample it repeats, which stays.</p>")
    shown = removed[:cap]
    wanted = []
    for r in shown:
        wanted.append((r["source"], r["shard"], r["key"]))
        wanted.append((r["match"]["source"], r["match"]["shard"], r["match"]["key"]))
    images = _images(results, wanted)
    cells = []
    for r in shown:
        m = r["match"]
        kept = images.get((m["source"], m["key"]))
        gone = images.get((r["source"], r["key"]))
        if kept and gone:
            cells.append(_cell(f"kept: {m['source']} {m['key']}", *kept))
            cells.append(_cell(f"{r['source']} {r['key']}", *gone,
                               why=f"near-duplicate of {m['source']} {m['key']} (similarity {r['similarity']:.2f})"))
    more = f"<p>The first {len(shown)} shown.</p>" if len(shown) < len(removed) else ""
    return head + more + ("<div class='grid'>" + "".join(cells) + "</div>" if cells else "<p>None.</p>")


def _variants_section(results: Path, variants: list[str]) -> str:
    if not variants:
        return "<h2>Filtered variants</h2><p>None configured (curate.filters).</p>"
    parts = ["<h2>Filtered variants (results/final/&lt;name&gt;)</h2>"]
    for v in variants:
        path = results / "final" / f"{v}.filters.json"
        if not path.is_file():
            continue
        rep = read_json(path, "a variant's filter report (sciclip select --report)")
        rows = [["pool (metadata rows)", rep["pool"]]]
        rows += [[f"{name} {_describe(info)}", info["kept"]] for name, info in rep["filters"].items()]
        rows += [["all filters", rep["selected"]], ["in the decontaminated output", rep["base"]],
                 ["variant", rep["kept"]]]
        parts += [f"<h3>{html.escape(v)}</h3>", _table(["", "samples"], rows)]
    return "".join(parts)


def _describe(info: dict) -> str:
    shown = {k: v for k, v in info.items() if k != "kept" and v is not None}
    return "(" + ", ".join(f"{k} {v}" for k, v in shown.items()) + ")" if shown else ""


def make_corpus_report(results: str | Path, out: str | Path, sources: list[str], variants: list[str]) -> list[Path]:
    results, out = Path(results), Path(out)
    check_dir_target(out)
    out.mkdir(parents=True, exist_ok=True)
    page, counts = corpus_html(results, sources, variants)
    atomic_write_bytes(out / "corpus.html", page.encode("utf-8"))
    kinds_svg(counts, out / "kinds.svg")
    return [out / "corpus.html", out / "kinds.svg"]

