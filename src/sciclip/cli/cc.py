"""``sciclip cc …``: Common Crawl, curated the MetaCLIP way (one command per stage of the cc branch).

list (crawl index -> selected files) · fetch (a unit's files) · parse (files -> rows) · metadata (build an
entry list) · match (rows -> matched rows) · pool (a unit: parse + match) · gather (dedup masks and pool
counts) · download (a unit: balance, img2dataset) · counts (sum per-unit counts) · unit (the per-unit job of
the shared rules: final balancing, shards, stats.json).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sciclip.cli.common import add_extract_args, add_units_args, done_line, extract_options, positive_int, say
from sciclip.errors import SciclipError


def _csv(value: str | None) -> list[str]:
    return [x.strip() for x in (value or "").split(",") if x.strip()]


def _spec(args):
    from sciclip.storage.remote import SourceSpec

    # data.commoncrawl.org is anonymous; s3://commoncrawl needs credentials (no unsigned access since 2022)
    return SourceSpec(args.source, endpoint_url=args.endpoint_url, timeout_s=args.timeout_s)


def add_fetch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", default="https://data.commoncrawl.org",
                   help="root holding crawl-data/: https://data.commoncrawl.org (anonymous), "
                        "s3://commoncrawl (credentials) or a local mirror (default: %(default)s)")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint override (tests; default: AWS)")
    p.add_argument("--retries", type=int, default=4,
                   help="retries on 503/5xx/429 and network errors (default: %(default)s)")
    p.add_argument("--backoff-s", type=float, default=2.0,
                   help="first retry delay in seconds, doubling; a Retry-After header wins (default: "
                        "%(default)s)")
    p.add_argument("--timeout-s", type=float, default=60.0,
                   help="connect/read timeout in seconds (default: %(default)s)")
    p.add_argument("--requests-per-s", type=float, default=1.0,
                   help="request starts per second at most (default: %(default)s)")


def _unit_members(args) -> list[str]:
    from sciclip.sources.units import unit_members

    return unit_members(args.units, args.unit)


def _local_name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def cmd_list(args) -> int:
    from sciclip.sources.cc.paths import index_key, parse_index, select, write_selection
    from sciclip.storage.remote import read_bytes

    chosen = []
    for crawl in sorted(_csv(args.crawls)):
        key = index_key(crawl, args.kind)
        paths = parse_index(read_bytes(_spec(args), key, args.retries, args.backoff_s), key)
        chosen += select(crawl, paths, args.max_files, args.start, args.end, _csv(args.files))
    if not chosen:
        raise SciclipError("no crawl files selected")
    write_selection(chosen, args.out)
    say(f"selected {len(chosen)} {args.kind} files of {args.crawls} -> {args.out}")
    return 0


def cmd_fetch(args) -> int:
    from sciclip.sources.cc.fetch import Throttle, fetch_file
    from sciclip.sources.cc.paths import read_selection
    from sciclip.storage.atomic import atomic_dir

    selection = read_selection(args.selection)
    throttle = Throttle(args.requests_per_s)
    out = Path(args.out_dir)
    total = 0
    # the files land in a temporary folder that becomes out_dir when all are there; a job killed or failed
    # midway leaves it, and its rerun reuses the whole files and resumes the cut one
    with atomic_dir(out, owns=("*.gz", "*.part"), resume=True) as tmp:
        for member in _unit_members(args):
            f = selection.get(member)
            if f is None:
                raise SciclipError(f"{args.selection}: no file {member!r}")
            rep = fetch_file(_spec(args), f.path, tmp / _local_name(f.path), args.retries, args.backoff_s, throttle)
            total += rep.bytes
    say(f"{args.unit}: {total / 2**20:.1f} MiB in {out}")
    return 0


def cmd_parse(args) -> int:
    from sciclip.sources.cc.archive import iter_rows
    from sciclip.sources.cc.rows import ParseStats, write_rows

    all_stats = []

    def rows():
        for path in args.inputs:
            if not Path(path).is_file():
                raise SciclipError(f"{path}: no such file")
            stats = ParseStats(Path(path).name)
            all_stats.append(stats)
            yield from iter_rows(path, stats, args.user_agent_token)

    n = write_rows(rows(), args.out)
    for s in all_stats:
        say(f"{s.file}: {s.html_pages} HTML pages, {s.img_tags} images ({s.img_with_alt} with alt), {s.rows} rows"
            + (f"; damaged: {s.damaged}" if s.damaged else ""))
    if args.stats:
        Path(args.stats).write_text(json.dumps([s.as_dict() for s in all_stats], indent=2) + "\n")
    say(f"{n} rows -> {args.out}")
    return 0


def cmd_metadata(args) -> int:
    from sciclip.sources.cc.metadata import build_metadata, load_metadata
    from sciclip.storage.atomic import atomic_write_bytes

    if args.metadata:  # the user's copy (e.g. MetaCLIP's), checked and copied: later jobs read one local file
        entries = load_metadata(args.metadata, args.metadata_cache)
        added = {"copied": len(entries)}
    else:
        entries, added = build_metadata(args.wordnet, args.unigrams, args.bigrams, args.titles, args.min_count,
                                        args.min_pmi, args.min_views)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(args.out), json.dumps(entries, ensure_ascii=False).encode("utf-8"))
    say(f"{len(entries)} entries ({', '.join(f'{k} {v}' for k, v in added.items())}) -> {args.out}")
    return 0


def _matcher(args):
    from sciclip.sources.cc.matching import Matcher
    from sciclip.sources.cc.metadata import load_metadata

    return Matcher(load_metadata(args.metadata, args.metadata_cache))


def cmd_match(args) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sciclip.sources.cc.rows import ROW_FIELDS
    from sciclip.storage.atomic import atomic_path

    matcher = _matcher(args)
    try:
        source = pq.ParquetFile(args.input)
    except (OSError, pa.ArrowException) as e:
        raise SciclipError(f"{args.input}: not a readable parquet file ({e})") from None
    missing = [c for c in ROW_FIELDS if c not in source.schema_arrow.names]
    if missing:
        raise SciclipError(f"{args.input}: not a parsed-rows file (missing {', '.join(missing)})")
    schema = source.schema_arrow.append(pa.field("entry_ids", pa.list_(pa.int32())))
    kept = 0
    with atomic_path(args.out) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for batch in source.iter_batches(batch_size=65_536):  # memory bounded by the batch, not the file
            table = matcher.matching_rows(pa.Table.from_batches([batch]))
            writer.write_table(table.cast(schema))
            kept += table.num_rows
    say(f"{kept} of {source.metadata.num_rows} rows match -> {args.out}")
    return 0


def cmd_pool(args) -> int:
    from sciclip.sources.cc.paths import read_selection
    from sciclip.sources.cc.pool import PoolOptions, build_pool

    selection = read_selection(args.selection)
    files = []
    for member in _unit_members(args):
        f = selection[member]
        files.append((str(Path(args.inputs) / _local_name(f.path)), f.crawl))
    opts = PoolOptions(args.min_text_chars, tuple(_csv(args.languages)), args.user_agent_token)
    report = build_pool(files, _matcher(args), args.out, opts, args.workers, args.summary)
    say(f"{args.unit}: {report['rows_parsed']} rows parsed, {report['rows_matched']} matched -> {args.out}")
    return 0


def cmd_gather(args) -> int:
    from sciclip.sources.cc.gather import gather_pool
    from sciclip.sources.cc.metadata import load_metadata

    size = len(load_metadata(args.metadata, args.metadata_cache))
    units = [(Path(p).name.removesuffix(".parquet"), p) for p in args.matched]
    summary = gather_pool(units, size, args.out_dir, args.dedup_max_rows, args.scratch_dir)
    say(f"{summary['rows']} matched rows, {summary['unique_pairs']} unique (url, text) pairs, "
        f"{summary['entries_matched']} entries matched -> {args.out_dir}")
    return 0


def cmd_download(args) -> int:
    from sciclip.sources.cc.download import DownloadOptions, download_unit
    from sciclip.sources.cc.gather import COUNTS, mask_path

    opts = DownloadOptions(args.t_download, args.seed, args.image_processes, args.image_threads,
                           args.image_timeout_s, args.image_retries, args.user_agent_token,
                           tuple(_csv(args.disallowed_header_directives)), args.samples_per_shard, args.min_size,
                           args.max_pixels, args.serve, args.allow_private_addresses)
    pool = Path(args.pool)
    rep = download_unit(Path(args.matched), mask_path(pool, args.unit), pool / COUNTS, Path(args.out_dir), opts)
    say(f"{args.unit}: {rep['images']} images with {rep['texts']} texts to fetch ({rep['duplicates']} duplicate and "
        f"{rep['balanced_out']} balanced-out rows dropped); outcome {rep['status']} -> {args.out_dir}")
    return 0


def cmd_counts(args) -> int:
    from sciclip.sources.cc.gather import COUNTS, sum_counts

    paths = [Path(p) / COUNTS if Path(p).is_dir() else Path(p) for p in args.inputs]
    total = sum_counts(paths, args.out)
    say(f"{len(paths)} count files summed: {int(total.sum())} matches over {int((total > 0).sum())} entries "
        f"-> {args.out}")
    return 0


def cmd_unit(args) -> int:
    from dataclasses import replace

    from sciclip.sources.cc.gather import load_counts
    from sciclip.sources.cc.source import CommonCrawlSource
    from sciclip.sources.job import extract_unit

    # a web text's caption limit is cc.min_text_chars (checked before matching too), not the papers' limit
    opts = replace(extract_options(args), min_caption_chars=args.min_text_chars)
    source = CommonCrawlSource(opts, load_counts(args.counts), args.t, args.seed)
    stats = extract_unit(source, [args.downloads], args.outdir, args.workers, args.scratch_dir, label=args.unit)
    say(done_line(args.unit, stats, args.outdir))
    return 0


def _add_metadata_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metadata", required=True, help="metadata JSON (a list of strings): path or URL")
    p.add_argument("--metadata-cache", default="resources/metadata",
                   help="folder a metadata URL is downloaded to (default: %(default)s)")


def _add_min_text_chars(p: argparse.ArgumentParser) -> None:
    p.add_argument("--min-text-chars", type=positive_int, default=1,
                   help="drop texts shorter than this many characters: the web texts' caption limit "
                        "(default: %(default)s)")


def _add_balance_args(p: argparse.ArgumentParser, key: str, default: float, what: str) -> None:
    p.add_argument(f"--{key.replace('_', '-')}", type=float, default=default, help=what)
    p.add_argument("--seed", type=int, default=0, help="seed of the balancing draws (default: %(default)s)")


def register(sub) -> None:
    cc = sub.add_parser("cc", help="the Common Crawl path (MetaCLIP curation)").add_subparsers(
        dest="cc_command", metavar="STAGE", required=True)

    p = cc.add_parser("list", help="read crawl indexes (<kind>.paths.gz) and write the file selection")
    add_fetch_args(p)
    p.add_argument("--crawls", default="CC-MAIN-2024-22",
                   help="crawl ids, comma-separated (default: %(default)s)")
    p.add_argument("--kind", choices=("wat", "warc"), default="wat", help="file kind (default: %(default)s)")
    p.add_argument("--max-files", type=positive_int, default=None, help="at most this many files per crawl")
    p.add_argument("--start", type=int, default=None, help="first file (0-based line of the index)")
    p.add_argument("--end", type=int, default=None, help="last file, inclusive")
    p.add_argument("--files", default="",
                   help="explicit paths or file names, comma-separated; when given, "
                        "--start/--end/--max-files are ignored")
    p.add_argument("--out", required=True,
                   help="the file selection TSV to write (member, crawl, index, path)")
    p.set_defaults(func=cmd_list)

    p = cc.add_parser("fetch", help="fetch one unit's crawl files (resumable, checked)")
    add_fetch_args(p)
    p.add_argument("--selection", required=True, help="the file selection TSV (sciclip cc list --out)")
    add_units_args(p, required=True)
    p.add_argument("--out-dir", required=True, help="folder the unit's crawl files are fetched into")
    p.set_defaults(func=cmd_fetch)

    p = cc.add_parser("parse", help="WAT/WARC/ARC files into (image url, text) rows (parquet)")
    p.add_argument("inputs", nargs="+", help="WAT, WARC or ARC files (.gz or not), read in this order")
    p.add_argument("--out", required=True, help="the rows file to write (parquet)")
    p.add_argument("--stats", default=None, help="also write per-file counts (JSON)")
    p.add_argument("--user-agent-token", default="sciclip",
                   help="our token in X-Robots-Tag: a \"<token>: noai\" value opts a page out (default: "
                        "%(default)s)")
    p.set_defaults(func=cmd_parse)

    p = cc.add_parser("metadata", help="build a metadata list by MetaCLIP's rules from open inputs (or copy one)")
    p.add_argument("--metadata", default=None, help="copy this list (path or URL) instead of building one")
    p.add_argument("--metadata-cache", default="resources/metadata",
                   help="folder a metadata URL is downloaded to (default: %(default)s)")
    p.add_argument("--wordnet", default=None, help="WordNet 3.0 dict folder (Debian wordnet-base: /usr/share/wordnet)")
    p.add_argument("--unigrams", default=None, help="word[TAB count] per line")
    p.add_argument("--bigrams", default=None, help="bigram[TAB pmi] per line")
    p.add_argument("--titles", default=None, help="title[TAB views] per line")
    p.add_argument("--min-count", type=float, default=100,
                   help="unigram count minimum (default: %(default)s)")
    p.add_argument("--min-pmi", type=float, default=30, help="bigram PMI minimum (default: %(default)s)")
    p.add_argument("--min-views", type=float, default=70, help="title views minimum (default: %(default)s)")
    p.add_argument("--out", required=True, help="the metadata list to write (JSON list of strings)")
    p.set_defaults(func=cmd_metadata)

    p = cc.add_parser("match", help="keep rows whose text matches metadata entries; add entry_ids")
    p.add_argument("input", help="a rows file (sciclip cc parse --out, parquet)")
    _add_metadata_args(p)
    p.add_argument("--out", required=True, help="the matched rows file to write (parquet, with entry_ids)")
    p.set_defaults(func=cmd_match)

    p = cc.add_parser("pool", help="one unit: parse, filter and match its files (the matched pool)")
    p.add_argument("--selection", required=True, help="the file selection TSV (sciclip cc list --out)")
    add_units_args(p, required=True)
    p.add_argument("--inputs", required=True, help="folder holding the unit's fetched files")
    _add_metadata_args(p)
    _add_min_text_chars(p)
    p.add_argument("--languages", default="",
                   help="keep texts whose top-1 language (py3langid) is one of these, comma-separated "
                        "(default: empty, no language ID)")
    p.add_argument("--user-agent-token", default="sciclip",
                   help="our token in X-Robots-Tag: a \"<token>: noai\" value opts a page out (default: "
                        "%(default)s)")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="worker processes parsing the unit's files (default: %(default)s)")
    p.add_argument("--out", required=True, help="the unit's matched rows file to write (parquet)")
    p.add_argument("--summary", default=None, help="also write the unit's counts here (JSON)")
    p.set_defaults(func=cmd_pool)

    p = cc.add_parser("gather", help="cross-file (url, text) dedup masks and pool entry counts")
    p.add_argument("matched", nargs="+", help="the units' matched parquet files, in unit order")
    _add_metadata_args(p)
    p.add_argument("--dedup-max-rows", type=positive_int, default=20_000_000,
                   help="(url, text) keys the dedup holds in memory at once; more spill into bucket files "
                        "(default: %(default)s)")
    p.add_argument("--scratch-dir", default=None, help="where the spilled buckets go (default: $TMPDIR)")
    p.add_argument("--out-dir", required=True,
                   help="folder for the units' dedup masks, counts.npy and summary.json")
    p.set_defaults(func=cmd_gather)

    p = cc.add_parser("download", help="one unit: dedup, balance (t_download), fetch images with img2dataset")
    add_units_args(p, required=True)
    p.add_argument("--matched", required=True,
                   help="the unit's matched rows (sciclip cc pool --out, parquet)")
    p.add_argument("--pool", required=True, help="the gather folder (masks, counts.npy)")
    _add_balance_args(p, "t_download", 100_000, "balancing threshold before download (default: %(default)s)")
    p.add_argument("--image-processes", type=positive_int, default=1,
                   help="img2dataset processes (default: %(default)s)")
    p.add_argument("--image-threads", type=positive_int, default=16,
                   help="img2dataset threads per process (default: %(default)s)")
    p.add_argument("--image-timeout-s", type=float, default=10.0,
                   help="timeout of one image request in seconds (default: %(default)s)")
    p.add_argument("--image-retries", type=int, default=1,
                   help="retries of a failed image request (default: %(default)s)")
    p.add_argument("--user-agent-token", default="sciclip",
                   help="our token in the User-Agent and in X-Robots-Tag opt-outs (default: %(default)s)")
    p.add_argument("--disallowed-header-directives", default="noai,noimageai,noindex,noimageindex",
                   help="X-Robots-Tag directives that opt an image out, comma-separated (default: "
                        "%(default)s)")
    p.add_argument("--samples-per-shard", type=positive_int, default=10_000,
                   help="samples per img2dataset shard (default: %(default)s)")
    p.add_argument("--min-size", type=int, default=32,
                   help="drop images whose shorter side is below this many px (default: %(default)s)")
    p.add_argument("--max-pixels", type=int, default=100_000_000,
                   help="drop images above this many pixels (decompression-bomb guard; default: %(default)s)")
    p.add_argument("--serve", default=None, help="serve this folder on 127.0.0.1 as the web (demo, tests)")
    p.add_argument("--allow-private-addresses", action="store_true",
                   help="let image URLs reach loopback and private networks (tests, a private mirror; default: "
                        "public addresses only, others skipped as private_address)")
    p.add_argument("--out-dir", required=True, help="the unit's img2dataset download folder")
    p.set_defaults(func=cmd_download)

    p = cc.add_parser("counts", help="sum per-unit entry counts (counts.npy files or folders holding one)")
    p.add_argument("inputs", nargs="+", help="counts.npy files, or folders holding one")
    p.add_argument("--out", required=True, help="the summed counts to write (.npy)")
    p.set_defaults(func=cmd_counts)

    p = cc.add_parser("unit", help="one unit's downloads -> balanced shards + stats.json (the per-unit job)")
    add_units_args(p, required=True)
    p.add_argument("--downloads", required=True, help="the unit's download folder")
    p.add_argument("--counts", required=True, help="summed counts of the downloaded pool")
    _add_balance_args(p, "t", 20_000, "the target balancing threshold (default: %(default)s)")
    _add_min_text_chars(p)
    p.add_argument("outdir", help="folder to write the unit's shards and stats.json to")
    add_extract_args(p, caption_limit=False)
    p.set_defaults(func=cmd_unit)
