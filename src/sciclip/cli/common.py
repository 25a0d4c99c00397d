"""Argument groups and helpers several command groups share.

Option names are the config keys' names (``--raster-timeout-s`` for ``extract.raster_timeout_s``), so that
``config_flags`` can translate any config section without a table of renames.
"""

from __future__ import annotations

import argparse
import sys


def positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def non_negative_int(value: str) -> int:
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {n}")
    return n


def positive_float(value: str) -> float:
    x = float(value)
    if not x > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {value}")
    return x


def non_negative_float(value: str) -> float:
    x = float(value)
    if not x >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return x


def jpeg_quality(value: str) -> int:
    n = int(value)
    if not 1 <= n <= 100:
        raise argparse.ArgumentTypeError(f"must be from 1 to 100, not {n}")
    return n


def check_outputs(*paths: str | None) -> None:
    """Refuse output files that cannot be written (a folder, below a file) before any work is done."""
    from sciclip.storage.atomic import check_file_target

    for p in paths:
        if p:
            check_file_target(p)


def say(message: str) -> None:
    """The one summary line a command prints when it is done (stderr: stdout stays for data)."""
    print(message, file=sys.stderr)


def add_download_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint-url", default=None,
                   help="S3 endpoint override (tests use a local server; default: AWS, or $AWS_ENDPOINT_URL)")
    p.add_argument("--retries", type=non_negative_int, default=4,
                   help="retries on transient errors and md5 mismatches (default: %(default)s)")
    p.add_argument("--backoff-s", "--backoff", type=non_negative_float, default=2.0,
                   help="first retry delay in seconds; doubles on each retry, capped at 120 s (default: "
                        "%(default)s)")
    p.add_argument("--timeout-s", "--timeout", type=positive_float, default=60.0,
                   help="connect/read timeout in seconds (default: %(default)s)")


def add_units_args(p: argparse.ArgumentParser, required: bool = False) -> None:
    p.add_argument("--units", required=required,
                   help="unit list TSV (results/<source>/units.tsv, from sciclip units)")
    p.add_argument("--unit", required=required, help="name of the unit of --units to process")


def add_extract_args(p: argparse.ArgumentParser, caption_limit: bool = True) -> None:
    """The shared extraction options; ``caption_limit=False`` leaves out ``--min-caption-chars`` for a source
    whose texts have their own limit (cc: ``--min-text-chars``), so that config key never reaches it."""
    g = p.add_argument_group("images")
    g.add_argument("--max-size", type=positive_int, default=512,
                   help="longer side of output images in px; larger ones are downscaled, never upscaled "
                        "(default: %(default)s)")
    g.add_argument("--no-resize", dest="resize", action="store_false",
                   help="keep raster images at their size (vector figures are then rendered at --vector-dpi)")
    g.add_argument("--jpeg-quality", type=jpeg_quality, default=95,
                   help="JPEG quality of the output images, 1-100 (default: %(default)s)")
    g.add_argument("--min-size", type=non_negative_int, default=32,
                   help="drop images whose shorter side is below this many px (default: %(default)s)")
    g.add_argument("--max-pixels", type=positive_int, default=100_000_000,
                   help="skip images above this many pixels (decompression-bomb guard; default: %(default)s)")
    g.add_argument("--raster-timeout-s", "--raster-timeout", type=positive_float, default=60.0,
                   help="time limit in seconds for one pdftoppm or Ghostscript run (default: %(default)s)")
    g.add_argument("--vector-dpi", type=positive_float, default=150.0,
                   help="resolution in dpi of PDF/EPS figures with --no-resize (default: %(default)s)")
    g = p.add_argument_group("captions")
    g.add_argument("--subfigure-caption", choices=("combine", "sub", "main"), default="combine",
                   help="caption of a subfigure image: its subcaption followed by the figure caption "
                        "(combine), only the subcaption (sub) or only the figure caption (main) (default: "
                        "%(default)s)")
    g.add_argument("--multi-image", choices=("main", "skip"), default="main",
                   help="several images in one figure without subcaptions each get the figure caption (main) "
                        "or are skipped (skip) (default: %(default)s)")
    if caption_limit:
        g.add_argument("--min-caption-chars", type=non_negative_int, default=10,
                       help="drop captions shorter than this many characters (default: %(default)s)")
    g.add_argument("--caption-label", action="store_true",
                   help="start captions with the figure's label (\"Figure 3:\"); default: caption text only")
    g.add_argument("--placeholders", choices=("keep", "drop"), default="keep",
                   help="cross-references and citations become <ref> and <cit.> (keep), or are removed "
                        "(drop) (default: %(default)s)")
    g = p.add_argument_group("limits and output")
    g.add_argument("--max-paper-mb", type=positive_int, default=512,
                   help="cap on a paper's inflated size in MiB (gzip/tar bomb guard; default: %(default)s)")
    g.add_argument("--samples-per-shard", type=positive_int, default=10_000,
                   help="maximum samples per output shard (default: %(default)s)")
    g.add_argument("--workers", type=positive_int, default=1, help="worker processes (default: %(default)s)")
    g.add_argument("--scratch-dir", default=None, help="where papers are unpacked (default: $TMPDIR)")


def extract_options(args):
    from sciclip.images.pipeline import ImageOptions
    from sciclip.sources.options import ExtractOptions

    image = ImageOptions(max_size=args.max_size, resize=args.resize, jpeg_quality=args.jpeg_quality,
                         min_size=args.min_size, max_pixels=args.max_pixels, timeout_s=args.raster_timeout_s,
                         vector_dpi=args.vector_dpi)
    return ExtractOptions(image=image, subfigure_caption=args.subfigure_caption, multi_image=args.multi_image,
                          min_caption_chars=getattr(args, "min_caption_chars", 0), max_paper_bytes=args.max_paper_mb << 20,
                          samples_per_shard=args.samples_per_shard, caption_label=args.caption_label,
                          placeholders=args.placeholders)


def done_line(name: str, stats, outdir) -> str:
    """The job's one summary line, in the source's nouns; what was lost (skipped items, refused members, a
    damaged input) is in it, so partial damage is seen without reading the log."""
    item, candidate = stats.nouns["item"], stats.nouns["candidate"]
    line = (f"{name}: {stats.items_seen} {item}, {stats.candidates_found} {candidate}, {stats.samples_written} "
            f"samples -> {outdir}")
    extra = []
    if stats.skipped_items:
        extra.append(f"skipped {item}: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.skipped_items.items())))
    if stats.refused_members:
        extra.append("refused members: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.refused_members.items())))
    if stats.archive_damaged:
        extra.append(f"damaged input: {stats.archive_damaged}")
    return line + (f" ({'; '.join(extra)})" if extra else "")
