"""``sciclip report-figures|demo-summary``: what a person reads after a run."""

from __future__ import annotations

import sys
from pathlib import Path

from sciclip.cli.common import non_negative_int
from sciclip.cli.train import pairs_line
from sciclip.errors import SciclipError
from sciclip.shards.final_sources import sources_note


def cmd_report_figures(args) -> int:
    from sciclip.report.figures import make_report_figures

    made = make_report_figures(args.results, args.out, args.sources, args.threshold, args.thumbnails, args.seed,
                               finals=args.finals, descriptor=args.descriptor, eval_set=args.eval_set)
    print(f"wrote {len(made)} report figures -> {args.out}", file=sys.stderr)
    return 0


def cmd_report_corpus(args) -> int:
    from sciclip.report.corpus import make_corpus_report

    made = make_corpus_report(args.results, args.out, args.sources, args.variants or [])
    print(f"wrote {len(made)} corpus report files -> {args.out}", file=sys.stderr)
    return 0


def cmd_report_training(args) -> int:
    from sciclip.report.training import training_html
    from sciclip.storage.atomic import atomic_write_bytes

    atomic_write_bytes(args.out, training_html([Path(r) for r in args.records]).encode("utf-8"))
    print(f"training page ({len(args.records)} runs) -> {args.out}", file=sys.stderr)
    return 0


def corpus_lines(results: Path) -> list[str]:
    """The demo summary's lines on metadata, figure kinds, near-duplicates and filtered variants."""
    from sciclip.report.corpus import kind_counts, kind_rows
    from sciclip.storage.tables import read_json

    lines = []
    sources = sorted(p.parent.name for p in results.glob("*/metadata") if p.is_dir())
    if sources:
        counts = kind_counts(kind_rows(results, sources), sources)
        lines.append("\nDataComp metadata (CLIP scores, embeddings, figure kinds): "
                     + ", ".join(f"results/{s}/metadata" for s in sources))
        for s in sources:
            mix = ", ".join(f"{k} {n}" for k, n in sorted(counts[s].items(), key=lambda kv: (-kv[1], kv[0])))
            lines.append(f"  {s} kinds: {mix or 'none'}")
    near = results / "near_dup" / "report.json"
    if near.is_file():
        r = read_json(near, "a near-duplicate report", ("samples", "removed", "descriptor"))
        per = ", ".join(f"{k} {v}" for k, v in r.get("removed_per_source", {}).items()) or "none"
        lines.append(f"\nnear-duplicates inside the corpus ({r['descriptor']}): {r['removed']} of {r['samples']} "
                     f"samples repeat an earlier one ({per}; {r.get('across_sources', 0)} across sources)")
    for f in sorted((results / "final").glob("*.filters.json")):
        r = read_json(f, "a variant's filter report", ("pool", "filters", "selected", "kept"))
        per = ", ".join(f"{k} {v['kept']}" for k, v in r["filters"].items())
        lines.append(f"\nvariant {f.name.removesuffix('.filters.json')}: of {r['pool']} samples, {per}; all filters "
                     f"{r['selected']}; in the output {r['kept']}")
    return lines


def heldout_lines(results: Path) -> list[str]:
    """The science split: pairs held out per source, and near-duplicates of them kept out of training."""
    from sciclip.storage.tables import read_json

    reports = sorted(results.glob("*/heldout.json"))
    if not reports:
        return []
    parts = []
    for f in reports:
        r = read_json(f, "a held-out split report (sciclip heldout --report)", ("source", "pool", "heldout", "set"))
        parts.append(f"{r['source']} {r['heldout']} of {r['pool']} pairs ({r['set']})")
    lines = ["\nscience retrieval split, held out of every final output: " + "; ".join(parts)]
    excl = results / "heldout" / "report.json"
    if excl.is_file():
        r = read_json(excl, "a held-out exclusion report", ("heldout", "near_duplicates", "excluded"))
        per = ", ".join(f"{k} {v}" for k, v in r["near_duplicates"].items()) or "none searched"
        lines.append(f"  near-duplicates of their images kept out of training too: {per}")
    return lines


def documents_lines(results: Path) -> list[str]:
    """The interleaved documents written per source, and how to open them."""
    from sciclip.storage.tables import read_json

    files = sorted((results / "docs" / "stats").glob("*.json"))
    if not files:
        return []
    lines = [f"\ninterleaved documents (OBELICS layout): {results}/docs/<source>/clean/"]
    first = None
    for f in files:
        s = read_json(f, "a documents stats file (sciclip docs stats)", ("source", "documents", "words", "images"))
        lines.append(f"  {s['source']}: {s['documents']} documents, {s['words']} words, {s['images']} images "
                     f"(stats: {f})")
        if s["documents"] and first is None:
            first = s["source"]
    if first:  # every source's clean documents are one folder per unit (web: its dedup folder)
        lines.append("  open them (pip install datasets; texts and images interleaved, None where the other is):")
        lines.append(f'    datasets.load_dataset("parquet", data_files="{results}/docs/{first}/clean/*/*.parquet", '
                     'split="train")')
    report = results / "report" / "documents.html"
    if report.is_file():
        lines.append(f"  a few of them as a reader sees them: {report}")
    return lines


def cmd_demo_summary(args) -> int:
    from sciclip.shards.stats import format_summary
    from sciclip.storage.tables import read_json

    results = Path(args.results)
    files = sorted((results / "stats").glob("*.json"))
    if not files:
        raise SciclipError(f"{results}/stats: no stats yet (did the workflow run?)")
    print("\nsciclip demo finished.")
    for f in files:
        stats = read_json(f, "source stats (sciclip stats --out)", ("source", "directory", "samples", "shards",
                                                                     "caption_chars", "caption_words"))
        print(f"\nshards: {stats['directory']}  (stats: {f})")
        print(format_summary(stats))
        if not stats["samples"]:
            noun = (stats.get("nouns") or {}).get("item", "items")
            print(f"  no samples: none of the {stats.get('items_seen', 0)} {noun} seen gave one (the skip reasons "
                  "above say why)")
        report = results / stats["source"] / "decontamination.json"
        if report.is_file():
            r = read_json(report, "a decontamination report", ("contaminated", "exact_duplicates", "kept"))
            print(f"  decontamination: {r['contaminated']} near-duplicates of evaluation images and "
                  f"{r['exact_duplicates']} exact duplicates removed, {r['kept']} kept")
    for line in corpus_lines(results):
        print(line)
    finals = sorted(p for p in (results / "final").glob("*") if p.is_dir())
    counts = {}
    for final in finals:
        meta = read_json(final / "meta.json", "a reshard meta.json") if (final / "meta.json").is_file() else {}
        counts[final] = meta.get("output_count", 0)
        note = sources_note(results, final.name)
        print(f"\nfinal (DataComp format): {final}  {meta.get('output_count', '?')} samples in "
              f"{meta.get('output_shard_count', '?')} shards" + (f"  ({note})" if "only" in note else ""))
    for line in heldout_lines(results):
        print(line)
    for line in documents_lines(results):
        print(line)
    for summary in sorted((results / "train").glob("*/summary.json")):
        t = read_json(summary, "a training summary", ("preset", "steps_logged", "first_loss", "last_loss",
                                                      "checkpoint"))
        print(f"\ntrained {summary.parent.name} ({t['preset']}): {t['steps_logged']} steps, batch loss "
              f"{t['first_loss']:.4f} -> {t['last_loss']:.4f}; checkpoint {t['checkpoint']}")
        if "training_pairs" in t:
            print(f"  {pairs_line(t['training_pairs'])}")
    table = results / "experiments" / "table.csv"
    if table.is_file():
        from sciclip.report.experiments import table_lines

        print(f"\nexperiments: main metric per task and run ({table}; report: {results}/report/experiments.html)")
        for line in table_lines(table):
            print(line)
    print(f"\nreport: {report_state(results)}")
    finals = [f for f in finals if counts.get(f)]  # an output of no samples has nothing to load
    if finals:
        print("\nload the output in Python (pip install webdataset):\n")
        print(loading_snippet(([f for f in finals if f.name == "mixed"] or finals)[0]))
    return 0


def report_state(results: Path) -> str:
    """Where the HTML report is, or how to make it: ``snakemake --cores N`` writes the figures but not the
    report, so one older than the figures is called stale."""
    report_html = results / "report.html"
    refresh = f"snakemake --report {report_html}"
    if not report_html.is_file():
        return f"{refresh}  (not made yet)"
    figures = [p.stat().st_mtime for p in (results / "report").glob("*") if p.is_file()]
    if figures and max(figures) > report_html.stat().st_mtime:
        return f"{report_html} is older than this run's results: refresh it with {refresh}"
    return str(report_html)


def loading_snippet(final: Path) -> str:
    """Three lines that read a final output with webdataset (a brace pattern over its shards)."""
    shards = sorted(p.stem for p in final.glob("*.tar") if p.stem.isdigit()) or ["00000000"]
    pattern = f"{final}/{{{shards[0]}..{shards[-1]}}}.tar" if len(shards) > 1 else f"{final}/{shards[0]}.tar"
    return ("    import webdataset as wds\n"
            f'    ds = wds.WebDataset("{pattern}", shardshuffle=False).decode("pil").to_tuple("jpg", "txt", "json")\n'
            "    image, caption, meta = next(iter(ds))   # a PIL image, its caption, uid/source/paper metadata")


def register(sub) -> None:
    p = sub.add_parser("report-figures", help="figures for snakemake --report (histograms, skips, thumbnails)")
    p.add_argument("--results", default="results",
                   help="the workflow's results folder (default: %(default)s)")
    p.add_argument("--out", required=True, help="folder for the figures and pages")
    p.add_argument("--sources", nargs="+", default=["arxiv", "pmc"],
                   help="sources whose shards and stats to read (default: arxiv pmc)")
    p.add_argument("--threshold", type=float, default=None, help="decontamination threshold line")
    p.add_argument("--finals", nargs="*", default=None,
                   help="final outputs whose samples the grid shows (default: every folder under RESULTS/final)")
    p.add_argument("--descriptor", default=None, help="the descriptor that decontaminated (named on the page)")
    p.add_argument("--eval-set", default=None, help="the evaluation set's listing (sciclip eval-set --out)")
    p.add_argument("--thumbnails", type=non_negative_int, default=24,
                   help="samples in each grid (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random choice of grid samples (default: %(default)s)")
    p.set_defaults(func=cmd_report_figures)

    p = sub.add_parser("report-corpus", help="the report's corpus page: figure kinds, near-duplicates, variants")
    p.add_argument("--results", default="results",
                   help="the workflow's results folder (default: %(default)s)")
    p.add_argument("--out", required=True, help="folder for corpus.html and kinds.svg")
    p.add_argument("--sources", nargs="+", required=True, help="sources whose metadata to read")
    p.add_argument("--variants", nargs="*", default=None, help="filtered variants to list (results/final/NAME)")
    p.set_defaults(func=cmd_report_corpus)

    p = sub.add_parser("report-training", help="the report's training page: data, loss and recall")
    p.add_argument("records", nargs="*", help="training summary.json files")
    p.add_argument("--out", required=True, help="the HTML page to write")
    p.set_defaults(func=cmd_report_training)

    p = sub.add_parser("demo-summary", help="print where the demo's shards are and their stats")
    p.add_argument("results", nargs="?", default="results",
                   help="the workflow's results folder (default: %(default)s)")
    p.set_defaults(func=cmd_demo_summary)
