"""``sciclip docs …``: interleaved image-text documents (OBELICS layout) from papers and web pages."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from sciclip.cli import docs_images, docs_web
from sciclip.cli.common import add_extract_args, add_units_args, extract_options, positive_int, say
from sciclip.errors import SciclipError

DOC_SOURCES = ("arxiv", "pmc", "web")


def add_doc_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("documents")
    g.add_argument("--figure-placement", choices=("float", "first_ref"), default="float",
                   help="a figure goes where its float is (float), or after the paragraph that first refers "
                        "to it (first_ref) (default: %(default)s)")
    g.add_argument("--tables", choices=("caption", "text", "drop"), default="caption",
                   help="tables become their caption as text (caption), caption and cell text (text), or "
                        "nothing (drop) (default: %(default)s)")
    g.add_argument("--algorithms", choices=("caption", "text", "drop"), default="caption",
                   help="algorithm floats, as --tables (default: %(default)s)")
    g.add_argument("--listings", choices=("drop", "text"), default="drop",
                   help="code listings and verbatim blocks are dropped, or kept verbatim as text (default: "
                        "%(default)s)")
    g.add_argument("--bibliography", choices=("drop", "text"), default="drop",
                   help="the reference list is dropped, or kept as text, one line per reference (default: "
                        "%(default)s)")
    g.add_argument("--ref-text", default="<ref>",
                   help="what a LaTeX \\ref becomes in the text; empty drops it (default: %(default)s)")
    g.add_argument("--cite-text", default="<cit.>",
                   help="what a LaTeX \\cite becomes in the text; empty drops it (default: %(default)s)")
    g.add_argument("--docs-per-shard", type=positive_int, default=1000,
                   help="documents per output shard (default: %(default)s)")
    g.add_argument("--formats", default="parquet,tar",
                   help="output formats, comma-separated (default: %(default)s)")
    g.add_argument("--min-words", type=int, default=0,
                   help="skip documents with fewer words (default: %(default)s)")
    g.add_argument("--min-images", type=int, default=0,
                   help="skip documents with fewer images (default: %(default)s)")


def doc_options(args):
    from sciclip.sources.options import DocOptions

    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    try:
        return DocOptions(extract=extract_options(args), figure_placement=args.figure_placement, tables=args.tables,
                          algorithms=args.algorithms, listings=args.listings, bibliography=args.bibliography,
                          ref_text=args.ref_text, cite_text=args.cite_text, docs_per_shard=args.docs_per_shard,
                          formats=formats, min_words=args.min_words, min_images=args.min_images)
    except ValueError as e:
        raise SciclipError(str(e)) from None


def done(label: str, stats, outdir) -> None:
    say(f"{label}: {stats.items_seen} {stats.nouns['item']}, {stats.documents} documents, {stats.words} words, "
        f"{stats.images} images -> {outdir}")


def cmd_arxiv(args) -> int:
    from sciclip.sources.arxiv.documents import documents_from_tarballs

    stats = documents_from_tarballs(args.tarball, args.outdir, doc_options(args), args.workers, args.scratch_dir)
    done(" ".join(args.tarball), stats, args.outdir)
    return 0


def cmd_pmc(args) -> int:
    from sciclip.sources.pmc.documents import documents_from_articles

    stats = documents_from_articles(args.input, args.outdir, doc_options(args), args.workers, args.scratch_dir)
    done(" ".join(args.input), stats, args.outdir)
    return 0


def _pmc_spec(args):
    from sciclip.storage.remote import SourceSpec

    if not args.remote:
        raise SciclipError("--source pmc needs --remote (the PMC bucket or mirror) and --index")
    return SourceSpec(args.remote, requester_pays=False, unsigned=args.remote.startswith("s3://"),
                      endpoint_url=args.endpoint_url, timeout_s=args.timeout_s)


def cmd_unit(args) -> int:
    """One workflow job: the documents of one unit of a source, from the same units as the pairs."""
    from sciclip.sources.units import unit_members

    members = unit_members(args.units, args.unit)
    opts = doc_options(args)
    if args.source == "arxiv":
        from sciclip.sources.arxiv.documents import documents_from_tarballs

        if not args.inputs:
            raise SciclipError("--source arxiv needs --inputs (the folder holding the unit's tarballs)")
        tarballs = [Path(args.inputs) / f"{m.rsplit('/', 1)[-1].removesuffix('.tar')}.tar" for m in members]
        stats = documents_from_tarballs(tarballs, args.outdir, opts, args.workers, args.scratch_dir, args.unit)
    elif args.source == "pmc":
        from sciclip.sources.pmc.documents import documents_from_articles
        from sciclip.sources.pmc.download import download_batch
        from sciclip.sources.pmc.index import read_index

        if not (args.index and args.downloads):
            raise SciclipError("--source pmc needs --index and --downloads")
        records = [r for b in members for r in read_index(args.index, b)]
        download_batch(_pmc_spec(args), records, args.downloads, args.retries, args.backoff_s, args.threads)
        stats = documents_from_articles([args.downloads], args.outdir, opts, args.workers, args.scratch_dir,
                                        args.unit)
        if not args.keep_downloads:
            shutil.rmtree(args.downloads, ignore_errors=True)
    else:
        raise SciclipError(f"docs unit: no unit jobs for source {args.source!r} (web: sciclip docs web)")
    done(args.unit, stats, args.outdir)
    return 0


def cmd_stats(args) -> int:
    from sciclip.docs.stats import docs_stats, summary_line
    from sciclip.storage.atomic import atomic_write_bytes

    s = docs_stats(args.dirs, args.source)
    atomic_write_bytes(Path(args.out), (json.dumps(s, indent=2, sort_keys=True) + "\n").encode())
    say(summary_line(s))
    return 0


def register(sub) -> None:
    docs = sub.add_parser("docs", help="interleaved image-text documents (OBELICS layout)").add_subparsers(
        dest="docs_command", metavar="SOURCE", required=True)
    p = docs.add_parser("arxiv", help="documents of arXiv bulk tarballs: one per main file of each paper")
    p.add_argument("tarball", nargs="+", help="bulk tarballs (processed in this order)")
    p.add_argument("outdir", help="the document folder to write (parquet and/or tar shards, stats.json)")
    add_doc_args(p)
    add_extract_args(p)
    p.set_defaults(func=cmd_arxiv)

    p = docs.add_parser("pmc", help="documents of PMC articles: one per article")
    p.add_argument("input", nargs="+", help="folders of PMC<n>.<v>/ article folders and/or PMC<n>.tar.gz packages")
    p.add_argument("outdir", help="the document folder to write (parquet and/or tar shards, stats.json)")
    add_doc_args(p)
    add_extract_args(p)
    p.set_defaults(func=cmd_pmc)

    p = docs.add_parser("unit", help="documents of one work unit (the workflow's per-unit job)")
    p.add_argument("--source", choices=("arxiv", "pmc"), required=True, help="which source's units")
    add_units_args(p, required=True)
    p.add_argument("--inputs", default=None, help="arxiv: folder holding the unit's <tarball>.tar files")
    p.add_argument("--index", default=None, help="pmc: the article index (results/pmc/index.tsv)")
    p.add_argument("--downloads", default=None, help="pmc: where the unit's articles are downloaded")
    p.add_argument("--keep-downloads", action="store_true", help="pmc: keep the downloads afterwards")
    p.add_argument("--remote", default=None, help="pmc: the bucket or mirror (the pmc section's source)")
    p.add_argument("--endpoint-url", default=None,
                   help="pmc: S3 endpoint override (default: AWS, or $AWS_ENDPOINT_URL)")
    p.add_argument("--retries", type=int, default=4,
                   help="pmc: retries on transient errors and md5 mismatches per file (default: %(default)s)")
    p.add_argument("--backoff-s", type=float, default=2.0,
                   help="pmc: first retry delay in seconds, doubling (default: %(default)s)")
    p.add_argument("--timeout-s", type=float, default=60.0,
                   help="pmc: connect/read timeout in seconds (default: %(default)s)")
    p.add_argument("--threads", type=int, default=8,
                   help="pmc: parallel downloads within the job (default: %(default)s)")
    p.add_argument("outdir",
                   help="the unit's document folder to write (parquet and/or tar shards, stats.json)")
    add_doc_args(p)
    add_extract_args(p)
    p.set_defaults(func=cmd_unit)

    docs_web.register(docs)
    docs_images.register(docs)

    p = docs.add_parser("stats", help="sum the unit folders' statistics of one source")
    p.add_argument("dirs", nargs="+", help="document unit folders (each with stats.json)")
    p.add_argument("--source", default=None, help="the source's name in the summary")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.set_defaults(func=cmd_stats)
