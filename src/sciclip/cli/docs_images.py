"""``sciclip docs embed|removals|clean``: the documents' images checked against the evaluation set and for
repeats across documents, then removed from their documents.

Option names are config keys (``docs.max_image_documents`` -> ``--max-image-documents``; the descriptor
options are the ``decontamination`` section's, as for the pairs' ``embed``)."""

from __future__ import annotations

from pathlib import Path

from sciclip.cli.common import positive_int, say
from sciclip.errors import SciclipError


def cmd_embed(args) -> int:
    from sciclip.cli.curate import embed_kwargs
    from sciclip.docs.image_descriptors import embed_documents

    rep = embed_documents(args.docs, args.out, args.descriptor, args.eval, **embed_kwargs(args))
    say(f"{args.docs}: {rep['images']} images described ({rep['descriptor']}), {rep['undescribed']} undecodable"
        f"{', scored' if rep['scored'] else ''} -> {args.out}")
    return 0


def _folders(specs: list[list[str]]):
    from sciclip.docs.image_removals import Folder

    out = []
    for spec in specs:
        if len(spec) < 3:
            raise SciclipError(f"--folder {' '.join(spec)}: give NAME DOCS DESCRIPTORS [DESCRIPTORS ...]")
        name, docs, *descriptors = spec
        out.append(Folder(name, Path(docs), [Path(d) for d in descriptors]))
    return out


def cmd_removals(args) -> int:
    from sciclip.docs.image_removals import find_removals

    rep = find_removals(_folders(args.folder), args.out, args.contamination_threshold, args.near_threshold,
                        args.max_image_documents, args.probes, args.seed)
    say(f"{rep['images']} images of {rep['documents']} documents: removed {rep['removed']} -> {args.out}")
    return 0


def cmd_clean(args) -> int:
    from sciclip.docs.clean import CleanOptions, clean_documents

    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    try:
        opts = CleanOptions(args.removed_image_captions, args.min_words, args.min_images, args.docs_per_shard,
                            formats)
    except ValueError as e:
        raise SciclipError(str(e)) from None
    s = clean_documents(args.docs, args.removals, args.out, opts)
    say(f"{args.docs}: {s.documents} documents, {s.images} images kept; images removed {s.skipped_images}, "
        f"documents {s.skipped_documents} -> {args.out}")
    return 0


def register(docs) -> None:
    from sciclip.cli.curate import add_embed_args

    p = docs.add_parser("embed", help="descriptors of every image of a document folder, scored against the "
                                      "evaluation set (embed-eval's file)")
    p.add_argument("docs", help="a document folder (one unit's output)")
    p.add_argument("--out", required=True, help="folder for images.parquet, emb.npy and descriptor.txt")
    p.add_argument("--eval", default=None, help="evaluation descriptors (embed-eval); none: no scores")
    add_embed_args(p)
    p.set_defaults(func=cmd_embed)

    p = docs.add_parser("removals", help="which document images go: near-duplicates of evaluation images, and "
                                         "images repeated in too many documents (all folders at once)")
    p.add_argument("--folder", action="append", nargs="+", required=True, metavar="NAME DOCS DESCRIPTORS",
                   help="a document folder under a name, then the descriptor folders of the units it was made from "
                        "(in order); repeated, in corpus order")
    p.add_argument("--out", required=True, help="folder for <name>.npy and report.json")
    p.add_argument("--contamination-threshold", type=float, default=None,
                   help="images scoring at least this are removed (the decontamination threshold; default: none)")
    p.add_argument("--near-threshold", type=float, default=None,
                   help="near-duplicate similarity for counting repeats (default: exact copies only)")
    p.add_argument("--max-image-documents", type=positive_int, default=None,
                   help="an image (or a near-copy) stays in its first N documents only (default: no limit)")
    p.add_argument("--probes", type=positive_int, default=2,
                   help="Yokoo only: the nearest partitions each image is searched in (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="Yokoo only: k-means seed (default: %(default)s)")
    p.set_defaults(func=cmd_removals)

    p = docs.add_parser("clean", help="a document folder without the images `docs removals` named, re-checked")
    p.add_argument("docs", help="the document folder")
    p.add_argument("--removals", required=True, help="its decisions (<removals>/<name>.npy)")
    p.add_argument("--out", required=True, help="the cleaned document folder to write")
    p.add_argument("--removed-image-captions", choices=("text", "drop"), default="text",
                   help="a removed image's caption stays as text (text) or goes once every image it belongs "
                        "to is gone (drop) (default: %(default)s)")
    p.add_argument("--min-words", type=int, default=0,
                   help="documents left with fewer words are dropped (default: %(default)s)")
    p.add_argument("--min-images", type=int, default=0,
                   help="documents left with fewer images are dropped (default: %(default)s)")
    p.add_argument("--docs-per-shard", type=positive_int, default=1000,
                   help="documents per output shard (default: %(default)s)")
    p.add_argument("--formats", default="parquet,tar",
                   help="output formats, comma-separated (default: %(default)s)")
    p.set_defaults(func=cmd_clean)
