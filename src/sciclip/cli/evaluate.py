"""``sciclip evaluate|evalsets|heldout|heldout-exclude|experiments-table|report-experiments``: scoring trained
models as DataComp does, the science split held out of training, and comparing runs."""

from __future__ import annotations

from sciclip.cli.common import check_outputs, non_negative_int, positive_int, say
from sciclip.errors import SciclipError


def cmd_evaluate(args) -> int:
    from sciclip.evaluate.results import aggregates, summary_path
    from sciclip.evaluate.run import evaluate

    check_outputs(args.out)
    lines = evaluate(args.model, args.checkpoint, args.data_root, args.tasks, args.out, batch_size=args.batch_size,
                     workers=args.workers, device=args.device, precision=args.precision)
    agg = aggregates(lines)
    extra = f"; DataComp average {agg['Average']:.4f} ({summary_path(args.out)})" if agg else ""
    say(f"evaluated {len(lines)} tasks -> {args.out}{extra}")
    return 0


def cmd_evalsets(args) -> int:
    from sciclip.evaluate.download import download_evalsets

    done = download_evalsets(args.tasks, args.out, base_url=args.base_url, retries=args.retries)
    say(f"{len(done)} evaluation sets -> {args.out}")
    return 0


def cmd_heldout(args) -> int:
    from sciclip.curate.heldout import write_heldout

    check_outputs(args.out, args.report)
    rep = write_heldout(args.subset, args.img2dataset, args.source, args.fraction, args.cap, args.out, args.set,
                        report=args.report)
    say(f"{args.source}: {rep['heldout']} of {rep['pool']} pairs held out -> {args.set} ({args.out})")
    return 0


def cmd_heldout_exclude(args) -> int:
    from sciclip.curate.heldout import exclusion

    check_outputs(args.out, args.report)
    embeddings: dict[str, list[str]] = {}
    for source, folder in args.embeddings or []:
        embeddings.setdefault(source, []).append(folder)
    rep = exclusion(args.heldout, embeddings, args.threshold, args.out, report=args.report)
    per = ", ".join(f"{k} {v}" for k, v in rep["near_duplicates"].items()) or "none searched"
    say(f"{rep['excluded']} uids kept out of training: {rep['heldout']} held out, near-duplicates {per} -> {args.out}")
    return 0


def _runs(pairs: list[str]) -> list[tuple[str, str]]:
    runs = []
    for p in pairs:
        name, sep, path = p.partition("=")
        if not sep or not name or not path:
            raise SciclipError(f"{p!r}: expected RUN=eval_results.jsonl")
        runs.append((name, path))
    return runs


def cmd_experiments_table(args) -> int:
    from sciclip.report.experiments import write_table

    check_outputs(args.out)
    runs = _runs(args.runs)
    header = write_table(runs, args.out)
    say(f"{len(runs)} runs x {len(header) - 1} tasks and aggregates -> {args.out}")
    return 0


def cmd_report_experiments(args) -> int:
    from sciclip.report.experiments import make_experiments_report

    made = make_experiments_report(_runs(args.runs), args.out, args.data_root or [])
    say(f"wrote {len(made)} experiment report files -> {args.out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="zero-shot evaluation as DataComp does it (eval_results.jsonl)")
    p.add_argument("--model", required=True, help="OpenCLIP model name (ViT-B-32) or local-dir:PATH")
    p.add_argument("--checkpoint", default=None,
                   help="OpenCLIP training checkpoint (epoch_latest.pt) or a pretrained file/tag")
    p.add_argument("--data-root", nargs="+", required=True,
                   help="folders holding the sets (wds_<task>_test/, or DataComp's hf_cache/), searched in order")
    p.add_argument("--tasks", nargs="+", required=True,
                   help="task keys (vtab/cifar100, sciclip/arxiv, ...); 'datacomp': DataComp's 40")
    p.add_argument("--out", required=True, help="results file (DataComp's eval_results.jsonl)")
    p.add_argument("--batch-size", type=positive_int, default=64,
                   help="images per batch (default: %(default)s)")
    p.add_argument("--workers", type=non_negative_int, default=4,
                   help="data loader workers (default: %(default)s)")
    p.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda when present)")
    p.add_argument("--precision", default="fp32",
                   help="OpenCLIP precision of the model while evaluating (default: %(default)s, as "
                        "DataComp)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("evalsets", help="download DataComp's evaluation sets (Hugging Face; needs the network)")
    p.add_argument("--tasks", nargs="+", default=["datacomp"],
                   help="task keys, or 'datacomp': all 40 of DataComp's (default: datacomp)")
    p.add_argument("--out", required=True, help="data root to fill (wds_<task>_test/ folders, hf_cache/)")
    p.add_argument("--base-url", default="https://huggingface.co/datasets/djghosh",
                   help="where the WebDataset repositories are (default: %(default)s, DataComp's)")
    p.add_argument("--retries", type=non_negative_int, default=4,
                   help="retries of a download on transient errors (default: %(default)s)")
    p.set_defaults(func=cmd_evalsets)

    p = sub.add_parser("heldout", help="a paper source's science retrieval split (held out of training)")
    p.add_argument("--subset", required=True, help="the source's final pairs (decontaminated.npy)")
    p.add_argument("--img2dataset", required=True, help="the source's img2dataset folder")
    p.add_argument("--source", required=True,
                   help="the paper source's name (arxiv, pmc): task sciclip/<source>")
    p.add_argument("--fraction", type=float, required=True, help="share of the pairs held out")
    p.add_argument("--cap", type=positive_int, required=True, help="at most this many")
    p.add_argument("--out", required=True, help="held-out uids (a DataComp subset file)")
    p.add_argument("--set", required=True, help="the retrieval set's folder (wds_sciclip-<source>_test)")
    p.add_argument("--report", default=None, help="also write the counts as JSON here")
    p.set_defaults(func=cmd_heldout)

    p = sub.add_parser("heldout-exclude", help="held-out uids and near-duplicates of their images, for removal")
    p.add_argument("--heldout", nargs="*", default=[], help="held-out subset files (sciclip heldout --out)")
    p.add_argument("--embeddings", nargs=2, action="append", metavar=("SOURCE", "DIR"),
                   help="a tail unit's descriptors (sciclip embed --out) of SOURCE (repeatable)")
    p.add_argument("--threshold", type=float, required=True, help="near-duplicate similarity (decontamination's)")
    p.add_argument("--out", required=True,
                   help="the uids to exclude from training (a DataComp subset file, .npy)")
    p.add_argument("--report", default=None, help="also write the counts as JSON here")
    p.set_defaults(func=cmd_heldout_exclude)

    p = sub.add_parser("experiments-table", help="a row per run, a column per task and aggregate (CSV)")
    p.add_argument("runs", nargs="+", help="RUN=path/to/eval_results.jsonl, the first run first")
    p.add_argument("--out", required=True, help="the table to write (CSV)")
    p.set_defaults(func=cmd_experiments_table)

    p = sub.add_parser("report-experiments", help="the report's experiments page and per-task difference chart")
    p.add_argument("runs", nargs="+", help="RUN=path/to/eval_results.jsonl, the first run first")
    p.add_argument("--out", required=True, help="folder for experiments.html and experiments.svg")
    p.add_argument("--data-root", nargs="*", default=None, help="for chance levels of sets outside DataComp's list")
    p.set_defaults(func=cmd_report_experiments)
