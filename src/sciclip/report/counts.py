"""The counts a reader of the report wants first: what was seen, what was dropped and why, what was kept.

One column per source, one row per stage, from the run's own records: the summed extraction stats
(``results/stats/<source>.json``), the decontamination report (``results/<source>/decontamination.json``)
and the final outputs' ``meta.json``. Rows only some sources have (a skip reason) show 0 for the others.
"""

from __future__ import annotations

import html
from pathlib import Path

from sciclip.storage.tables import read_json

STATS_KEYS = ("items_seen", "candidates_found", "samples_written")
DECON_KEYS = ("samples", "kept", "contaminated", "exact_duplicates")


def nouns(stats: dict) -> dict[str, str]:
    """The source's nouns as its stats record them (``sciclip stats``); where they lack one, the neutral word."""
    return {"item": "items", "candidate": "candidates", "unit": "unit", **(stats.get("nouns") or {})}


def load_source(results: Path, source: str) -> dict:
    """The stats and decontamination report of one source ({} for what the run did not produce)."""
    stats_file = results / "stats" / f"{source}.json"
    decon_file = results / source / "decontamination.json"
    return {
        "stats": read_json(stats_file, "source stats (sciclip stats --out)", STATS_KEYS) if stats_file.is_file()
        else {},
        "decon": read_json(decon_file, "a decontamination report (sciclip subset --report)", DECON_KEYS)
        if decon_file.is_file() else {},
    }


def count_rows(data: dict[str, dict]) -> list[tuple[str, list[int | str]]]:
    """(row label, one value per source) in pipeline order; ``data`` maps a source to ``load_source``."""
    sources = list(data)

    def row(label: str, get) -> tuple[str, list[int | str]]:
        return label, [get(data[s]) for s in sources]

    def reasons(key: str) -> list[str]:
        return sorted({r for s in sources for r in (data[s]["stats"].get(key) or {})})

    def stat(key: str):
        return lambda d: d["stats"].get(key, "–")

    def decon(key: str):
        return lambda d: d["decon"].get(key, "–")

    def named(kind: str) -> str:  # "papers / articles / images": each source's own noun, once
        return " / ".join(dict.fromkeys(nouns(data[s]["stats"])[kind] for s in sources))

    rows = [row(f"{named('item')} seen", stat("items_seen"))]
    rows += [row(f"&nbsp;&nbsp;skipped: {r}", lambda d, r=r: (d["stats"].get("skipped_items") or {}).get(r, 0))
             for r in reasons("skipped_items")]
    rows.append(row(f"{named('candidate')} found", stat("candidates_found")))
    rows += [row(f"&nbsp;&nbsp;skipped: {r}", lambda d, r=r: (d["stats"].get("skipped_candidates") or {}).get(r, 0))
             for r in reasons("skipped_candidates")]
    rows.append(row("samples extracted", stat("samples_written")))
    rows.append(row("&nbsp;&nbsp;removed: near-duplicate of an evaluation image", decon("contaminated")))
    rows.append(row("&nbsp;&nbsp;removed: exact duplicate", decon("exact_duplicates")))
    rows.append(row("<b>samples kept</b>", decon("kept")))
    return rows


def final_outputs(results: Path, names: list[str]) -> list[tuple[str, int | str, int | str, str]]:
    """(name, samples, shards, sources) of each final output, from its ``meta.json`` and its sources record
    (which says when a configured source was left out of a mix)."""
    from sciclip.shards.final_sources import sources_note

    out = []
    for name in names:
        meta_file = results / "final" / name / "meta.json"
        meta = read_json(meta_file, "a reshard meta.json") if meta_file.is_file() else {}
        out.append((name, meta.get("output_count", "–"), meta.get("output_shard_count", "–"),
                    sources_note(results, name)))
    return out


def decontamination_line(descriptor: str | None, threshold: float | None, eval_set: str | Path | None) -> str:
    """Which descriptor and evaluation set decontaminated (from the listing the workflow tracks), or ""."""
    if not (descriptor and eval_set):
        return ""
    from sciclip.curate.eval_set import read_listing

    s = read_listing(eval_set)
    at = f" (threshold {threshold:g})" if threshold is not None else ""
    return (f"Decontaminated with the {descriptor} descriptor{at} against {s['set']}: {s['files']:,} files, "
            f"{s['bytes']:,} bytes (listing sha256 {s['sha256'][:12]}).")


def counts_html(results: Path, sources: list[str], finals: list[str], decontamination: str = "") -> str:
    """A self-contained HTML fragment: the counts table and the final outputs (the report's landing page
    includes it as is)."""
    data = {s: load_source(results, s) for s in sources}
    head = "".join(f"<th>{html.escape(s)}</th>" for s in sources)
    body = "".join(f"<tr><td>{label}</td>" + "".join(f"<td class='n'>{_fmt(v)}</td>" for v in values) + "</tr>"
                   for label, values in count_rows(data))
    finals_rows = "".join(f"<tr><td>results/final/{html.escape(n)}</td><td class='n'>{_fmt(c)}</td>"
                          f"<td class='n'>{_fmt(k)}</td><td>{html.escape(note)}</td></tr>"
                          for n, c, k, note in final_outputs(results, finals))
    style = ("<style>table.sciclip{border-collapse:collapse;margin:0.5em 0 1em;font-family:sans-serif;"
             "font-size:14px}table.sciclip td,table.sciclip th{border:1px solid #ccc;padding:3px 10px;"
             "text-align:left}table.sciclip td.n{text-align:right;font-variant-numeric:tabular-nums}</style>")
    line = f"<p class='sciclip'>{html.escape(decontamination)}</p>" if decontamination else ""
    return (f"{style}<table class='sciclip'><tr><th>stage</th>{head}</tr>{body}</table>{line}"
            "<table class='sciclip'><tr><th>final output (DataComp format)</th><th>samples</th><th>shards</th>"
            "<th>sources</th></tr>"
            f"{finals_rows}</table>")


def _fmt(v: int | str) -> str:
    return f"{v:,}" if isinstance(v, int) else html.escape(str(v))
