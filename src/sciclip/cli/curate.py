"""``sciclip embed|embed-eval|score|subset``: decontamination against evaluation images and duplicate removal."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from sciclip.cli.common import positive_int, say
from sciclip.errors import SciclipError

log = logging.getLogger(__name__)


def embed_kwargs(args) -> dict:
    return {"weights": _weights(args), "device": args.device, "batch_size": args.batch_size,
            "workers": args.workers, "half": args.half}


def _weights(args) -> str | None:
    """A local checkpoint path; a URL is fetched once into --weights-cache."""
    if args.descriptor != "yokoo" or not args.weights:
        return args.weights
    if "://" in args.weights and not args.weights.startswith("file://"):
        from sciclip.storage.remote import SourceSpec, fetch
        base, name = args.weights.rsplit("/", 1)
        dest = Path(args.weights_cache) / name
        if not dest.is_file():
            fetch(SourceSpec(base), name, dest)
        return str(dest)
    return args.weights.removeprefix("file://")


def add_embed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--descriptor", choices=("yokoo", "phash"), default="yokoo",
                   help="yokoo: Yokoo's ISC21 descriptor as DataComp uses it (needs weights); phash: a "
                        "64-bit perceptual hash (default: %(default)s)")
    p.add_argument("--weights", default=None, help="Yokoo checkpoint (isc_ft_v107.pth.tar): a path or URL")
    p.add_argument("--weights-cache", default="resources/weights",
                   help="folder a weights URL is downloaded to (default: %(default)s)")
    p.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    p.add_argument("--batch-size", type=positive_int, default=64,
                   help="images per inference batch (default: %(default)s)")
    p.add_argument("--workers", type=int, default=2,
                   help="DataLoader workers streaming the shards (default: %(default)s)")
    p.add_argument("--half", action="store_true", help="half precision on the GPU")


def _unit(args):
    """(plan, unit) for per-unit runs, else a plan over the whole folder with one unit."""
    from sciclip.shards.tail_plan import folder_plan, read_plan

    if args.plan or args.unit:
        if not (args.plan and args.unit):
            raise SciclipError("--plan and --unit go together")
        return read_plan(args.plan), args.unit
    plan = folder_plan(args.input, shards_per_unit=1 << 30)
    return plan, plan.units[0].name


def cmd_embed(args) -> int:
    from sciclip.curate.decontaminate import embed_unit

    plan, unit = _unit(args)
    n = embed_unit(args.input, plan, unit, args.out, args.descriptor, **embed_kwargs(args))
    say(f"embedded {n} images ({args.descriptor}) -> {args.out}")
    return 0


def cmd_embed_eval(args) -> int:
    from sciclip.curate.decontaminate import embed_eval

    n = embed_eval(args.out, args.descriptor, images=args.eval_images, embeddings=args.eval_embeddings,
                   **embed_kwargs(args))
    say(f"{n} evaluation descriptors ({args.descriptor}) -> {args.out}")
    return 0


def cmd_eval_set(args) -> int:
    from sciclip.curate.eval_set import write_listing

    rep = write_listing(args.eval_images, args.eval_embeddings, args.out)
    say(f"{rep['set']}: {rep['files']} files, {rep['bytes']:,} bytes -> {args.out}")
    return 0


def cmd_score(args) -> int:
    from sciclip.curate.decontaminate import score_unit
    from sciclip.storage.atomic import atomic_write_bytes

    plan, unit = _unit(args)
    rep = score_unit(args.input, plan, unit, args.embeddings, args.eval, args.out, match_threshold=args.threshold)
    if args.report:
        atomic_write_bytes(args.report, (json.dumps(rep) + "\n").encode())
    say(f"scored {rep['samples']} samples ({rep['descriptor']}) -> {args.out}")
    return 0


def cmd_filter(args) -> int:
    from sciclip.curate.dedup import filter_unit
    from sciclip.shards.tail_plan import read_plan

    if args.scores and args.threshold is None:
        raise SciclipError("--scores needs --threshold")
    rep = filter_unit(args.input, read_plan(args.plan), args.unit, args.scores,
                      args.threshold if args.scores else 2.0, args.out, args.dedup_partitions)
    say(f"tail unit {args.unit}: {rep['samples']} samples, {rep['contaminated']} contaminated -> {args.out}")
    return 0


def cmd_subset(args) -> int:
    from sciclip.curate.dedup import build_subset, dedup_source, merge_subsets
    from sciclip.shards.tail_plan import read_plan

    if args.merge:
        n = merge_subsets(args.merge, args.out, exclude=args.exclude)
        say(f"merged {len(args.merge)} subsets: {n} uids -> {args.out}"
            + (f" (without those of {args.exclude})" if args.exclude else ""))
        if args.sources_out:
            from sciclip.shards.final_sources import write_sources_record

            rec = write_sources_record(args.sources_out, args.sources or [], args.configured or args.sources or [])
            if rec["left_out"]:
                log.warning("%s: configured to mix %s; %s not enabled, left out", args.out,
                            ", ".join(rec["configured"]), ", ".join(rec["left_out"]))
        return 0
    if args.exclude:
        raise SciclipError("--exclude goes with --merge")
    if args.scores and args.threshold is None:
        raise SciclipError("--scores needs --threshold")
    threshold = args.threshold if args.threshold is not None else 2.0
    if args.filtered is not None:  # an empty list is a source with no samples: an empty subset, not an error
        if not args.plan:
            raise SciclipError("--filtered needs --plan")
        rep = dedup_source(args.filtered, read_plan(args.plan), threshold, args.out, args.report,
                           dedup=not args.keep_duplicates)
    elif args.input:
        rep = build_subset(args.input, args.scores, threshold if args.scores else 2.0, args.out, args.report)
    else:
        raise SciclipError("give --input I2D [--scores S --threshold T], --filtered DIR... --plan P, or --merge A B ...")
    say(f"{rep['samples']} samples: {rep['contaminated']} contaminated, {rep['exact_duplicates']} exact "
        f"duplicates, {rep['kept']} kept -> {args.out}")
    return 0


def _add_unit_args(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--plan", required=required, help="tail plan (convert-plan); with --unit: one tail unit only")
    p.add_argument("--unit", required=required, help="the tail unit of --plan to process")


def register(sub) -> None:
    p = sub.add_parser("embed", help="descriptors of the images of an img2dataset folder (or of one tail unit)")
    p.add_argument("input", help="img2dataset folder")
    p.add_argument("--out", required=True, help="folder for emb.npy, ids.npy and descriptor.txt")
    _add_unit_args(p)
    add_embed_args(p)
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("embed-eval", help="descriptors of the evaluation images (or load precomputed ones)")
    p.add_argument("--eval-images", "--images", default=None, help="folder of images or of shards")
    p.add_argument("--eval-embeddings", "--embeddings", default=None, help="precomputed Yokoo descriptors (.pt/.npy)")
    p.add_argument("--out", required=True, help="folder for emb.npy, ids.npy and descriptor.txt")
    add_embed_args(p)
    p.set_defaults(func=cmd_embed_eval)

    p = sub.add_parser("eval-set", help="list the evaluation set's files with sizes and sha256 (what the "
                                         "workflow tracks: a changed set reruns decontamination)")
    p.add_argument("--eval-images", "--images", default=None, help="folder of images or of shards")
    p.add_argument("--eval-embeddings", "--embeddings", default=None, help="precomputed descriptors (.pt/.npy); wins")
    p.add_argument("--out", required=True, help="the listing (TSV)")
    p.set_defaults(func=cmd_eval_set)

    p = sub.add_parser("score", help="max similarity of each sample to the evaluation set (faiss), per shard")
    p.add_argument("input", help="img2dataset folder")
    p.add_argument("--embeddings", required=True, help="the folder embed wrote")
    p.add_argument("--eval", required=True, help="evaluation descriptors (embed-eval)")
    p.add_argument("--out", required=True, help="folder for {shard}.parquet")
    p.add_argument("--report", default=None, help="also write what was done as JSON here")
    p.add_argument("--threshold", type=float, default=None,
                   help="list the samples scoring at least this in --report, each with the evaluation item it "
                        "matches")
    _add_unit_args(p)
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("filter", help="one tail unit's contaminated samples and duplicate-detection records")
    p.add_argument("input", help="img2dataset folder")
    _add_unit_args(p, required=True)
    p.add_argument("--scores", default=None, help="folder of score parquets (without: nothing is contaminated)")
    p.add_argument("--threshold", type=float, default=None,
                   help="score at or above which a sample is contaminated (needed with --scores)")
    p.add_argument("--dedup-partitions", type=positive_int, default=64,
                   help="hash partitions for exact-duplicate removal (default: %(default)s)")
    p.add_argument("--out", required=True,
                   help="folder for contaminated.parquet, filter.json and the records by partition "
                        "({p:03d}.npy)")
    p.set_defaults(func=cmd_filter)

    p = sub.add_parser("subset", help="decontaminated, de-duplicated uid subset (DataComp .npy)")
    p.add_argument("--input", help="img2dataset folder")
    p.add_argument("--scores", help="folder of score parquets (without: only exact duplicates are removed)")
    p.add_argument("--threshold", type=float, default=None,
                   help="score at or above which a sample is contaminated (needed with --scores)")
    p.add_argument("--report", default=None, help="JSON report of what was removed")
    p.add_argument("--filtered", nargs="*", default=None,
                   help="instead: the filter outputs of every tail unit (none: a source with no samples)")
    p.add_argument("--plan", default=None, help="with --filtered: the tail plan")
    p.add_argument("--merge", nargs="+", default=None, help="instead: merge these subset files")
    p.add_argument("--keep-duplicates", action="store_true",
                   help="with --filtered: keep exact duplicates (a source switched out of dedup, e.g. CommonPool)")
    p.add_argument("--sources", nargs="*", default=None, help="with --merge: the source of each subset")
    p.add_argument("--configured", nargs="*", default=None,
                   help="with --merge: the sources the output is configured to mix (reshard.outputs)")
    p.add_argument("--sources-out", default=None,
                   help="with --merge: write which sources the output mixes and which it leaves out (JSON)")
    p.add_argument("--exclude", default=None, help="with --merge: leave out the uids of this subset file")
    p.add_argument("--out", required=True, help="the subset file to write (.npy)")
    p.set_defaults(func=cmd_subset)
