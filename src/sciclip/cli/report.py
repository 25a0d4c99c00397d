"""``sciclip report-figures|demo-summary``: what a person reads after a run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sciclip.errors import SciclipError


def cmd_report_figures(args) -> int:
    from sciclip.report.figures import make_report_figures

    made = make_report_figures(args.results, args.out, args.sources, args.threshold, args.thumbnails, args.seed)
    print(f"wrote {len(made)} report figures -> {args.out}", file=sys.stderr)
    return 0


def cmd_demo_summary(args) -> int:
    from sciclip.shards.stats import format_summary

    results = Path(args.results)
    files = sorted((results / "stats").glob("*.json"))
    if not files:
        raise SciclipError(f"{results}/stats: no stats yet (did the workflow run?)")
    print("\nsciclip demo finished.")
    for f in files:
        stats = json.loads(f.read_text())
        print(f"\nshards: {stats['directory']}  (stats: {f})")
        print(format_summary(stats))
        report = results / stats["source"] / "decontamination.json"
        if report.is_file():
            r = json.loads(report.read_text())
            print(f"  decontamination: {r['contaminated']} near-duplicates of evaluation images and "
                  f"{r['exact_duplicates']} exact duplicates removed, {r['kept']} kept")
    for final in sorted(p for p in (results / "final").glob("*") if p.is_dir()):
        meta = json.loads((final / "meta.json").read_text()) if (final / "meta.json").is_file() else {}
        print(f"\nfinal (DataComp format): {final}  {meta.get('output_count', '?')} samples in "
              f"{meta.get('output_shard_count', '?')} shards")
    for summary in sorted((results / "train").glob("*/summary.json")):
        t = json.loads(summary.read_text())
        print(f"\ntrained {summary.parent.name} ({t['preset']}): {t['steps_logged']} steps, loss "
              f"{t['first_loss']:.4f} -> {t['last_loss']:.4f}; checkpoint {t['checkpoint']}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("report-figures", help="figures for snakemake --report (histograms, skips, thumbnails)")
    p.add_argument("--results", default="results")
    p.add_argument("--out", required=True)
    p.add_argument("--sources", nargs="+", default=["arxiv", "pmc"])
    p.add_argument("--threshold", type=float, default=None, help="decontamination threshold line")
    p.add_argument("--thumbnails", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_report_figures)

    p = sub.add_parser("demo-summary", help="print where the demo's shards are and their stats")
    p.add_argument("results", nargs="?", default="results")
    p.set_defaults(func=cmd_demo_summary)
