"""``sciclip pmc …``: the PMC article index, batch download and extraction."""

from __future__ import annotations

import argparse
import shutil

from sciclip.cli.common import (
    add_download_args,
    add_extract_args,
    add_units_args,
    check_outputs,
    done_line,
    extract_options,
    positive_int,
    say,
)
from sciclip.errors import SciclipError
from sciclip.storage.atomic import check_dir_target


def _spec(args):
    from sciclip.storage.remote import SourceSpec

    # the PMC bucket is world-readable: unsigned requests, no credentials needed
    return SourceSpec(args.source, requester_pays=False, unsigned=args.source.startswith("s3://"),
                      endpoint_url=args.endpoint_url, timeout_s=args.timeout_s)


def add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", required=True,
                   help="s3://pmc-oa-opendata (cloud), http(s):// or a local directory (either layout)")
    p.add_argument("--layout", choices=("cloud", "legacy"), required=True,
                   help="cloud: PMC<n>.<v>/ prefixes + metadata/; legacy: oa_file_list.csv + oa_package/")
    add_download_args(p)
    p.add_argument("--threads", type=positive_int, default=8,
                   help="parallel downloads within one job (default: %(default)s)")


def add_jats_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("JATS figures")
    g.add_argument("--fig-types", default="",
                   help="fig-type values to keep, comma-separated, case-insensitive (default: every <fig>)")
    g.add_argument("--languages", default="en",
                   help="caption languages to keep (xml:lang), comma-separated; untagged captions are kept "
                        "(default: %(default)s; empty: all)")


def _jats_options(args):
    from sciclip.sources.pmc.extract import JatsOptions

    return JatsOptions(fig_types=tuple(t.strip() for t in args.fig_types.split(",") if t.strip()),
                       languages=tuple(x.strip().lower() for x in args.languages.split(",") if x.strip()))


def _check_local_source(args) -> None:
    """A local mirror that is not there fails at once, not after a fallback and a confusing sub-path."""
    from sciclip.storage.remote import local_root

    spec = _spec(args)
    if spec.scheme in ("local", "file"):
        root = local_root(spec)
        if not root.exists():
            raise SciclipError(f"{root}: no such directory (--source: a mirror of the {args.layout} layout)")
        if not root.is_dir():
            raise SciclipError(f"{root}: not a directory (--source: a mirror of the {args.layout} layout)")


def cmd_list(args) -> int:
    from sciclip.sources.pmc.index import NONCOMMERCIAL, build_index, write_batches, write_index

    check_outputs(args.out, args.batches)
    _check_local_source(args)
    licence = args.license
    if licence not in ("commercial", "noncommercial"):
        licence = [x.strip() for x in licence.split(",") if x.strip()]
        unknown = [x for x in licence if x not in NONCOMMERCIAL] or ([] if licence else [""])
        if unknown:
            raise SciclipError(f"--license {args.license!r}: unknown licence code {unknown[0]!r} (use commercial, "
                               f"noncommercial, or codes among {', '.join(NONCOMMERCIAL)})")
    records, report = build_index(_spec(args), args.layout, licence, args.start, args.end, args.max_count,
                                  args.batch_size, args.enumerate, args.threads, args.retries, args.backoff_s)
    write_index(records, args.out)
    if args.batches:
        write_batches(records, args.batches)
    say(f"selected {report['selected']} of {report['candidates']} articles in {report['batches']} batches "
        f"(excluded: {report['excluded']}) -> {args.out}")
    return 0


def _batches(args) -> list[str]:
    from sciclip.sources.units import unit_members

    batches = list(args.batch or [])
    if args.units or args.unit:
        if not (args.units and args.unit):
            raise SciclipError("--units and --unit go together")
        batches += unit_members(args.units, args.unit)
    if not batches:
        raise SciclipError("give --batch NAME (repeatable) or --units/--unit")
    return batches


def _batch_records(args, batches: list[str]):
    from sciclip.sources.pmc.index import read_index

    records = []
    for b in batches:
        found = read_index(args.index, b)
        if not found:
            raise SciclipError(f"{args.index}: no articles in batch {b}")
        records += found
    return records


def cmd_download(args) -> int:
    from sciclip.sources.pmc.download import download_batch

    batches = _batches(args)
    check_dir_target(args.out)
    rep = download_batch(_spec(args), _batch_records(args, batches), args.out, args.retries, args.backoff_s,
                         args.threads)
    say(f"{'+'.join(batches)}: {rep.articles} articles, {rep.fetched_files} files fetched, {rep.reused_files} "
        f"reused, {len(rep.failed_articles)} failed -> {args.out}")
    return 0


def cmd_extract(args) -> int:
    from sciclip.sources.pmc.extract import extract_articles

    stats = extract_articles(args.input, args.outdir, extract_options(args), _jats_options(args),
                             workers=args.workers, scratch_root=args.scratch_dir)
    say(done_line(args.input, stats, args.outdir))
    return 0


def cmd_batch(args) -> int:
    """One workflow job: download a unit's batches (resumable), then extract them."""
    from sciclip.sources.pmc.download import download_batch
    from sciclip.sources.pmc.extract import extract_articles

    batches = _batches(args)
    label = args.label or args.unit or "+".join(batches)
    check_dir_target(args.downloads)
    check_dir_target(args.outdir)
    download_batch(_spec(args), _batch_records(args, batches), args.downloads, args.retries, args.backoff_s,
                   args.threads)
    stats = extract_articles(args.downloads, args.outdir, extract_options(args), _jats_options(args),
                             workers=args.workers, scratch_root=args.scratch_dir, label=label)
    if not args.keep_downloads:
        shutil.rmtree(args.downloads, ignore_errors=True)
    say(done_line(label, stats, args.outdir))
    return 0


def register(sub) -> None:
    pmc = sub.add_parser("pmc", help="the PubMed Central Open Access path").add_subparsers(
        dest="pmc_command", metavar="STAGE", required=True)
    p = pmc.add_parser("list", help="enumerate and select articles, write the batch index")
    add_source_args(p)
    p.add_argument("--out", required=True, help="index TSV to write")
    p.add_argument("--batches", default=None, help="also write the batch list (batch, articles) here")
    p.add_argument("--license", default="commercial",
                   help="commercial (CC0, CC BY, CC BY-SA, CC BY-ND), noncommercial (adds -NC) or licence "
                        "codes, comma-separated (default: %(default)s)")
    p.add_argument("--start", default=None, help="first PMCID, inclusive (e.g. PMC1000000)")
    p.add_argument("--end", default=None, help="last PMCID, inclusive")
    p.add_argument("--max-count", type=positive_int, default=None, help="at most this many articles")
    p.add_argument("--batch-size", type=positive_int, default=1000,
                   help="articles per batch (default: %(default)s)")
    p.add_argument("--enumerate", choices=("inventory", "listing"), default="inventory",
                   help="cloud layout: read the newest daily S3 inventory (inventory; falls back to listing "
                        "when there is none) or list metadata/ (listing) (default: %(default)s)")
    p.set_defaults(func=cmd_list)

    p = pmc.add_parser("download", help="download batches into article folders (resumable)")
    add_source_args(p)
    p.add_argument("--index", required=True, help="the article index TSV (sciclip pmc list --out)")
    p.add_argument("--batch", action="append", help="batch name, e.g. b00000 (repeatable)")
    add_units_args(p)
    p.add_argument("--out", required=True, help="folder for the PMC<n>.<v>/ article folders")
    p.set_defaults(func=cmd_download)

    p = pmc.add_parser("extract", help="extract figures of article folders and/or .tar.gz packages into shards")
    p.add_argument("input", help="directory with PMC<n>.<v>/ folders and/or PMC<n>.tar.gz packages")
    p.add_argument("outdir", help="folder to write the shards and stats.json to")
    add_extract_args(p)
    add_jats_args(p)
    p.set_defaults(func=cmd_extract)

    for name, what in (("batch", "download and extract batches"),
                       ("unit", "download and extract one work unit (the workflow's per-unit job)")):
        p = pmc.add_parser(name, help=what)
        add_source_args(p)
        p.add_argument("--index", required=True, help="the article index TSV (sciclip pmc list --out)")
        p.add_argument("--batch", action="append", help="batch name (repeatable)")
        add_units_args(p, required=name == "unit")
        p.add_argument("--label", default=None, help="name of the work unit in the stats (default: the unit)")
        p.add_argument("--downloads", required=True, help="where the batch's articles are downloaded")
        p.add_argument("--keep-downloads", action="store_true", help="keep the downloads after extraction")
        p.add_argument("outdir", help="folder to write the shards and stats.json to")
        add_extract_args(p)
        add_jats_args(p)
        p.set_defaults(func=cmd_batch)
