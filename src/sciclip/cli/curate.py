"""``sciclip embed|embed-eval|score|subset``: decontamination against evaluation images and duplicate removal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sciclip.cli.common import positive_int
from sciclip.errors import SciclipError


def _embed_kwargs(args) -> dict:
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
    p.add_argument("--descriptor", choices=("yokoo", "phash"), default="yokoo")
    p.add_argument("--weights", default=None, help="Yokoo checkpoint (isc_ft_v107.pth.tar): a path or URL")
    p.add_argument("--weights-cache", default="resources/weights", help="where a weights URL is downloaded to")
    p.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers streaming the shards")
    p.add_argument("--half", action="store_true", help="half precision on the GPU")


def cmd_embed(args) -> int:
    from sciclip.curate.decontaminate import embed_source

    n = embed_source(args.input, args.out, args.descriptor, **_embed_kwargs(args))
    print(f"embedded {n} images ({args.descriptor}) -> {args.out}", file=sys.stderr)
    return 0


def cmd_embed_eval(args) -> int:
    from sciclip.curate.decontaminate import embed_eval

    n = embed_eval(args.out, args.descriptor, images=args.eval_images, embeddings=args.eval_embeddings, **_embed_kwargs(args))
    print(f"{n} evaluation descriptors ({args.descriptor}) -> {args.out}", file=sys.stderr)
    return 0


def cmd_score(args) -> int:
    from sciclip.curate.decontaminate import score_source

    rep = score_source(args.input, args.embeddings, args.eval, args.out)
    print(f"scored {rep['samples']} samples ({rep['descriptor']}) -> {args.out}", file=sys.stderr)
    return 0


def cmd_subset(args) -> int:
    from sciclip.curate.decontaminate import build_subset, merge_subsets

    if args.merge:
        n = merge_subsets(args.merge, args.out)
        print(f"merged {len(args.merge)} subsets: {n} uids -> {args.out}", file=sys.stderr)
        return 0
    if not args.input or (args.scores and args.threshold is None):
        raise SciclipError("give --input, and --scores with --threshold (or --merge A.npy B.npy ...)")
    rep = build_subset(args.input, args.scores, args.threshold if args.scores else 2.0, args.out, args.report)
    print(f"{rep['samples']} samples: {rep['contaminated']} contaminated, {rep['exact_duplicates']} exact duplicates, "
          f"{rep['kept']} kept -> {args.out}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("embed", help="descriptors of every image of an img2dataset folder")
    p.add_argument("input")
    p.add_argument("--out", required=True, help=".npz with ids and descriptors")
    add_embed_args(p)
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("embed-eval", help="descriptors of the evaluation images (or load precomputed ones)")
    p.add_argument("--eval-images", "--images", default=None, help="folder of images or of shards")
    p.add_argument("--eval-embeddings", "--embeddings", default=None, help="precomputed Yokoo descriptors (.pt/.npy)")
    p.add_argument("--out", required=True)
    add_embed_args(p)
    p.set_defaults(func=cmd_embed_eval)

    p = sub.add_parser("score", help="max similarity of each sample to the evaluation set (faiss), per shard")
    p.add_argument("input", help="img2dataset folder")
    p.add_argument("--embeddings", required=True)
    p.add_argument("--eval", required=True)
    p.add_argument("--out", required=True, help="folder for {shard}.parquet")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("subset", help="decontaminated, de-duplicated uid subset (DataComp .npy)")
    p.add_argument("--input", help="img2dataset folder")
    p.add_argument("--scores", help="folder of score parquets (without: only exact duplicates are removed)")
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--report", default=None, help="JSON report of what was removed")
    p.add_argument("--merge", nargs="+", default=None, help="instead: merge these subset files")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_subset)
