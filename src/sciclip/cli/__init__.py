"""The ``sciclip`` command: one subcommand per workflow stage, usable on its own on one input.

Snakemake rules call these same commands, so what a rule does can always be reproduced by hand.
Failures print one line (``sciclip: error: <file>: <problem>``) and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from pathlib import Path

from sciclip import __version__
from sciclip.errors import SciclipError

log = logging.getLogger("sciclip")


def _positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def add_source_args(p: argparse.ArgumentParser, default_requester_pays: bool) -> None:
    p.add_argument("--source", required=True,
                   help="s3://bucket[/prefix], http(s)://..., file:///dir or a local directory (a mirror)")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (default: AWS, or $AWS_ENDPOINT_URL)")
    rp = p.add_mutually_exclusive_group()
    rp.add_argument("--requester-pays", dest="requester_pays", action="store_true", default=default_requester_pays,
                    help="send RequestPayer=requester (the arxiv bucket needs it)%s" %
                    (" [default]" if default_requester_pays else ""))
    rp.add_argument("--no-requester-pays", dest="requester_pays", action="store_false")
    p.add_argument("--retries", type=int, default=4, help="retries on transient errors (default 4)")
    p.add_argument("--backoff", type=float, default=2.0, help="first retry delay in seconds, doubling (default 2)")
    p.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds (default 60)")


def _spec(args):
    from sciclip.storage.remote import SourceSpec

    return SourceSpec(args.source, requester_pays=args.requester_pays, endpoint_url=args.endpoint_url,
                      timeout_s=args.timeout)


def add_extract_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("images")
    g.add_argument("--max-size", type=_positive_int, default=512, help="longer side in px, never upscaled (512)")
    g.add_argument("--no-resize", dest="resize", action="store_false", help="keep raster sizes as they are")
    g.add_argument("--jpeg-quality", type=int, default=95, help="JPEG quality of the output (95)")
    g.add_argument("--min-size", type=int, default=32, help="drop images whose shorter side is below this (32)")
    g.add_argument("--max-pixels", type=int, default=100_000_000, help="refuse images above this many pixels")
    g.add_argument("--raster-timeout", type=float, default=60.0, help="seconds per PDF/EPS rasterisation (60)")
    g.add_argument("--vector-dpi", type=float, default=150.0, help="PDF/EPS resolution with --no-resize (150)")
    g = p.add_argument_group("captions")
    g.add_argument("--subfigure-caption", choices=("combine", "sub", "main"), default="combine",
                   help="caption of a subfigure: its subcaption + the figure's caption (combine), or one of them")
    g.add_argument("--multi-image", choices=("main", "skip"), default="main",
                   help="several images sharing one caption: each gets it (main) or they are skipped")
    g.add_argument("--min-caption-chars", type=int, default=10, help="drop captions shorter than this (10)")
    g = p.add_argument_group("limits and output")
    g.add_argument("--max-paper-mb", type=int, default=512, help="cap on a paper's inflated size (512 MiB)")
    g.add_argument("--samples-per-shard", type=_positive_int, default=10_000, help="samples per output shard")
    g.add_argument("--workers", type=_positive_int, default=1, help="worker processes (default 1)")
    g.add_argument("--scratch-dir", default=None, help="where papers are unpacked (default: $TMPDIR)")


def _extract_options(args):
    from sciclip.images.pipeline import ImageOptions
    from sciclip.sources.options import ExtractOptions

    image = ImageOptions(max_size=args.max_size, resize=args.resize, jpeg_quality=args.jpeg_quality,
                         min_size=args.min_size, max_pixels=args.max_pixels, timeout_s=args.raster_timeout,
                         vector_dpi=args.vector_dpi)
    return ExtractOptions(image=image, subfigure_caption=args.subfigure_caption, multi_image=args.multi_image,
                          min_caption_chars=args.min_caption_chars, max_paper_bytes=args.max_paper_mb << 20,
                          samples_per_shard=args.samples_per_shard)


def cmd_arxiv_manifest(args) -> int:
    from sciclip.sources.arxiv.manifest import parse_manifest
    from sciclip.storage.remote import fetch

    spec = _spec(args)
    out = Path(args.out)
    fetch(spec, args.key, out, retries=args.retries, backoff_s=args.backoff)
    entries = parse_manifest(out.read_bytes(), str(out))
    log.info("manifest %s: %d tarballs, %.1f GiB", out, len(entries), sum(e.size for e in entries) / 2**30)
    return 0


def cmd_arxiv_select(args) -> int:
    from sciclip.sources.arxiv.manifest import parse_manifest, select_tarballs, write_selection

    entries = parse_manifest(Path(args.manifest).read_bytes(), args.manifest)
    tarballs = [t for t in (args.tarballs or "").split(",") if t.strip()] or None
    budget = None if args.max_size_gb is not None and args.max_size_gb <= 0 else args.max_size_gb
    chosen = select_tarballs(entries, max_size_gb=budget, start=args.start, end=args.end, tarballs=tarballs)
    write_selection(chosen, args.out)
    size = sum(e.size for e in chosen)
    print(f"selected {len(chosen)} of {len(entries)} tarballs ({size / 2**30:.2f} GiB) -> {args.out}",
          file=sys.stderr)
    return 0


def cmd_arxiv_download(args) -> int:
    from sciclip.sources.arxiv.manifest import read_selection
    from sciclip.storage.remote import fetch

    if args.selection:
        if not args.tarball:
            raise SciclipError("--selection needs --tarball NAME (repeatable)")
        entries = {e.name: e for e in read_selection(args.selection)}
        names = [t.rsplit("/", 1)[-1].removesuffix(".tar") for t in args.tarball]
        missing = [n for n in names if n not in entries]
        if missing:
            raise SciclipError(f"{args.selection}: tarball {missing[0]} is not selected")
        if len(names) > 1 and not args.out_dir:
            raise SciclipError("several --tarball need --out-dir")
        todo = [(entries[n].filename, entries[n].md5sum,
                 Path(args.out_dir) / f"{n}.tar" if args.out_dir else Path(args.out)) for n in names]
    elif args.key:
        todo = [(args.key, args.md5, Path(args.out))]
    else:
        raise SciclipError("give --key KEY (and --md5), or --selection TSV --tarball NAME")
    if any(dest is None or str(dest) == "None" for _, _, dest in todo):
        raise SciclipError("give --out FILE (or --out-dir DIR)")
    for key, md5, dest in todo:
        fetch(_spec(args), key, dest, md5=md5, retries=args.retries, backoff_s=args.backoff)
        log.info("%s -> %s (md5 %s)", key, dest, "verified" if md5 else "not checked")
    return 0


def cmd_arxiv_extract(args) -> int:
    from sciclip.sources.arxiv.extract import extract_tarballs

    stats = extract_tarballs(args.tarball, args.outdir, _extract_options(args), workers=args.workers,
                             scratch_root=args.scratch_dir)
    print(f"{' '.join(args.tarball)}: {stats.papers_seen} papers, {stats.figures_found} figures, "
          f"{stats.samples_written} samples -> {args.outdir}", file=sys.stderr)
    return 0


def _pmc_spec(args):
    from sciclip.storage.remote import SourceSpec

    # the PMC bucket is world-readable: unsigned requests, no credentials needed
    return SourceSpec(args.source, requester_pays=False, unsigned=args.source.startswith("s3://"),
                      endpoint_url=args.endpoint_url, timeout_s=args.timeout)


def add_pmc_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", required=True,
                   help="s3://pmc-oa-opendata (cloud), http(s):// or a local directory (either layout)")
    p.add_argument("--layout", choices=("cloud", "legacy"), required=True,
                   help="cloud: PMC<n>.<v>/ prefixes + metadata/; legacy: oa_file_list.csv + oa_package/")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (default: AWS)")
    p.add_argument("--retries", type=int, default=4, help="retries on transient errors (default 4)")
    p.add_argument("--backoff", type=float, default=2.0, help="first retry delay in seconds, doubling (default 2)")
    p.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds (default 60)")
    p.add_argument("--threads", type=int, default=8, help="parallel downloads (default 8)")


def add_jats_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("JATS figures")
    g.add_argument("--fig-types", default="", help="comma-separated fig-type values to keep (default: all)")
    g.add_argument("--languages", default="en",
                   help="caption languages to keep, comma-separated; untagged captions are kept (default en; "
                        "empty: all)")


def _jats_options(args):
    from sciclip.sources.pmc.extract import JatsOptions

    return JatsOptions(fig_types=tuple(t.strip() for t in args.fig_types.split(",") if t.strip()),
                       languages=tuple(x.strip().lower() for x in args.languages.split(",") if x.strip()))


def cmd_pmc_list(args) -> int:
    from sciclip.sources.pmc.index import build_index, write_batches, write_index

    licence = args.license
    if licence not in ("commercial", "noncommercial"):
        licence = [x.strip() for x in licence.split(",") if x.strip()]
    records, report = build_index(_pmc_spec(args), args.layout, licence, args.start, args.end, args.max_count,
                                  args.batch_size, args.enumerate, args.threads)
    write_index(records, args.out)
    if args.batches:
        write_batches(records, args.batches)
    print(f"selected {report['selected']} of {report['candidates']} articles in {report['batches']} batches "
          f"(excluded: {report['excluded']}) -> {args.out}", file=sys.stderr)
    return 0


def _batch_records(args):
    from sciclip.sources.pmc.index import read_index

    batches = args.batch if isinstance(args.batch, list) else [args.batch]
    records = []
    for b in batches:
        found = read_index(args.index, b)
        if not found:
            raise SciclipError(f"{args.index}: no articles in batch {b}")
        records += found
    return records


def cmd_pmc_download(args) -> int:
    from sciclip.sources.pmc.download import download_batch

    rep = download_batch(_pmc_spec(args), _batch_records(args), args.out, args.retries, args.backoff, args.threads)
    print(f"{'+'.join(args.batch)}: {rep.articles} articles, {rep.fetched_files} files fetched, {rep.reused_files} reused, "
          f"{len(rep.failed_articles)} failed -> {args.out}", file=sys.stderr)
    return 0


def cmd_pmc_extract(args) -> int:
    from sciclip.sources.pmc.extract import extract_articles

    stats = extract_articles(args.input, args.outdir, _extract_options(args), _jats_options(args),
                             workers=args.workers, scratch_root=args.scratch_dir)
    print(f"{args.input}: {stats.papers_seen} articles, {stats.figures_found} figures, "
          f"{stats.samples_written} samples -> {args.outdir}", file=sys.stderr)
    return 0


def cmd_pmc_batch(args) -> int:
    """One workflow job: download a batch (resumable) and extract it."""
    import shutil

    from sciclip.sources.pmc.download import download_batch
    from sciclip.sources.pmc.extract import extract_articles

    download_batch(_pmc_spec(args), _batch_records(args), args.downloads, args.retries, args.backoff, args.threads)
    stats = extract_articles(args.downloads, args.outdir, _extract_options(args), _jats_options(args),
                             workers=args.workers, scratch_root=args.scratch_dir,
                             label=args.label or "+".join(args.batch))
    if not args.keep_downloads:
        shutil.rmtree(args.downloads, ignore_errors=True)
    print(f"{'+'.join(args.batch)}: {stats.papers_seen} articles, {stats.figures_found} figures, "
          f"{stats.samples_written} samples -> {args.outdir}", file=sys.stderr)
    return 0


def cmd_convert(args) -> int:
    from sciclip.shards.img2dataset import convert

    rep = convert(args.inputs, args.out, args.samples_per_shard)
    print(f"img2dataset: {rep.samples} samples from {rep.inputs} shards -> {rep.shards} shards in {args.out}"
          + (f" ({rep.skipped_incomplete} incomplete samples skipped)" if rep.skipped_incomplete else ""),
          file=sys.stderr)
    return 0


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
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers streaming the shards")
    p.add_argument("--half", action="store_true", help="half precision on the GPU")


def cmd_embed(args) -> int:
    from sciclip.curate.decontaminate import embed_source

    n = embed_source(args.input, args.out, args.descriptor, **_embed_kwargs(args))
    print(f"embedded {n} images ({args.descriptor}) -> {args.out}", file=sys.stderr)
    return 0


def cmd_embed_eval(args) -> int:
    from sciclip.curate.decontaminate import embed_eval

    n = embed_eval(args.out, args.descriptor, images=args.images, embeddings=args.embeddings, **_embed_kwargs(args))
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


def cmd_reshard(args) -> int:
    from sciclip.shards.reshard import reshard

    state = reshard(args.input_dir, args.output_dir, args.subset_file, shard_size=args.shard_size,
                    num_workers=args.num_workers, first_shard=args.first_shard, num_shards=args.num_shards,
                    shard_format=args.shard_format, output_shard_format=args.output_shard_format,
                    shard_stats_format=args.shard_stats_format,
                    output_shard_stats_format=args.output_shard_stats_format, overwrite=args.overwrite)
    print(f"processed {state['processed_count']} samples in {state['seconds']:.2f}s "
          f"({state['processed_count'] / max(state['seconds'], 1e-9):.1f} samples/s); wrote {state['output_count']} "
          f"samples in {state['output_shard_count']} shards -> {args.output_dir}", file=sys.stderr)
    return 0


def cmd_train(args) -> int:
    from sciclip.train.openclip import DataSource, run_training, shard_dir_source, training_command

    sources = [shard_dir_source(d) for d in args.data]
    for spec in args.extra or []:
        # PATTERN,SAMPLES[,UPSAMPLING] for shards outside this workflow (e.g. CommonPool)
        parts = spec.rsplit(",", 2) if spec.count(",") >= 2 else spec.rsplit(",", 1)
        if len(parts) < 2:
            raise SciclipError(f"--extra {spec!r}: expected PATTERN,SAMPLES[,UPSAMPLING]")
        sources.append(DataSource(parts[0], int(parts[1]), float(parts[2]) if len(parts) > 2 else 1.0))
    cmd, info = training_command(sources, args.preset, args.run, args.logs, gpus=args.gpus, device=args.device,
                                 precision=args.precision, workers=args.workers)
    if args.print_command:
        print(" ".join(cmd))
        return 0
    summary = run_training(cmd, info, args.logs, args.run)
    print(f"trained {args.run}: {summary['steps_logged']} steps logged, loss {summary['first_loss']:.4f} -> "
          f"{summary['last_loss']:.4f}; checkpoint {summary['checkpoint']}", file=sys.stderr)
    return 0


def cmd_report_figures(args) -> int:
    from sciclip.report.figures import make_report_figures

    made = make_report_figures(args.results, args.out, args.sources, args.threshold, args.thumbnails, args.seed)
    print(f"wrote {len(made)} report figures -> {args.out}", file=sys.stderr)
    return 0


def cmd_heal(args) -> int:
    from sciclip.shards.heal import heal_directory

    report = heal_directory(args.dir, args.out, pattern=args.pattern)
    t = report.totals()
    print(f"healed {t['shards_in']} shards -> {t['shards_out']}: kept {t['samples_kept']} samples; dropped "
          f"{t['incomplete']} incomplete, {t['duplicate_keys']} duplicate keys, {t['dropped_partial']} cut by "
          f"truncation ({t['truncated_shards']} truncated shards)", file=sys.stderr)
    return 0


def cmd_stats(args) -> int:
    from sciclip.shards.stats import dataset_stats, format_summary
    from sciclip.storage.atomic import atomic_write_bytes

    stats = dataset_stats(args.dir, source=args.source)
    text = json.dumps(stats, indent=2, sort_keys=True) + "\n"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(args.out, text.encode())
    if args.json:
        sys.stdout.write(text)
    else:
        print(format_summary(stats))
    return 0


def cmd_sample(args) -> int:
    from sciclip.sample import write_sample

    written = write_sample(args.outdir)
    print(f"wrote {len(written)} files of the sample mirror under {args.outdir}", file=sys.stderr)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sciclip", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"sciclip {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    arxiv = sub.add_parser("arxiv", help="the arXiv bulk-source path").add_subparsers(
        dest="arxiv_command", metavar="STAGE", required=True)
    p = arxiv.add_parser("manifest", help="fetch the bucket manifest (src/arXiv_src_manifest.xml)")
    add_source_args(p, True)
    p.add_argument("--key", default="src/arXiv_src_manifest.xml", help="manifest key in the source")
    p.add_argument("--out", required=True, help="where to write the manifest")
    p.set_defaults(func=cmd_arxiv_manifest)

    p = arxiv.add_parser("select", help="choose tarballs from a manifest (range, list, size budget)")
    p.add_argument("--manifest", required=True)
    p.add_argument("--out", required=True, help="selection TSV to write")
    p.add_argument("--max-size-gb", type=float, default=100.0, help="budget in GiB over the selection (100; 0: none)")
    p.add_argument("--start", default=None, help="first month (YYMM) or arXiv id, inclusive")
    p.add_argument("--end", default=None, help="last month (YYMM) or arXiv id, inclusive")
    p.add_argument("--tarballs", default=None, help="comma-separated tarball names instead of a range")
    p.set_defaults(func=cmd_arxiv_select)

    p = arxiv.add_parser("download", help="download one tarball, md5-verified, atomically")
    add_source_args(p, True)
    p.add_argument("--selection", help="selection TSV (gives the key and md5 of --tarball)")
    p.add_argument("--tarball", action="append", help="tarball name, e.g. arXiv_src_2001_001 (repeatable)")
    p.add_argument("--key", help="object key, e.g. src/arXiv_src_2001_001.tar (instead of --selection)")
    p.add_argument("--md5", help="expected md5 (instead of --selection)")
    p.add_argument("--out", default=None, help="the file to write (one tarball)")
    p.add_argument("--out-dir", default=None, help="folder for <name>.tar of each --tarball")
    p.set_defaults(func=cmd_arxiv_download)

    p = arxiv.add_parser("extract", help="extract figures and captions of tarballs into one set of shards")
    p.add_argument("tarball", nargs="+", help="one or more bulk tarballs (processed in this order)")
    p.add_argument("outdir")
    add_extract_args(p)
    p.set_defaults(func=cmd_arxiv_extract)

    pmc = sub.add_parser("pmc", help="the PubMed Central Open Access path").add_subparsers(
        dest="pmc_command", metavar="STAGE", required=True)
    p = pmc.add_parser("list", help="enumerate and select articles, write the batch index")
    add_pmc_source_args(p)
    p.add_argument("--out", required=True, help="index TSV to write")
    p.add_argument("--batches", default=None, help="also write the batch list (batch, articles) here")
    p.add_argument("--license", default="commercial",
                   help="commercial (CC0, CC BY, CC BY-SA, CC BY-ND), noncommercial (adds -NC) or codes, comma-separated")
    p.add_argument("--start", default=None, help="first PMCID, inclusive (e.g. PMC1000000)")
    p.add_argument("--end", default=None, help="last PMCID, inclusive")
    p.add_argument("--max-count", type=int, default=None, help="at most this many articles")
    p.add_argument("--batch-size", type=_positive_int, default=1000, help="articles per batch (1000)")
    p.add_argument("--enumerate", choices=("inventory", "listing"), default="inventory",
                   help="cloud: read the daily S3 inventory (falls back to listing metadata/)")
    p.set_defaults(func=cmd_pmc_list)

    p = pmc.add_parser("download", help="download one batch into article folders (resumable)")
    add_pmc_source_args(p)
    p.add_argument("--index", required=True)
    p.add_argument("--batch", required=True, action="append", help="batch name, e.g. b00000 (repeatable)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_pmc_download)

    p = pmc.add_parser("extract", help="extract figures of article folders and/or .tar.gz packages into shards")
    p.add_argument("input", help="directory with PMC<n>.<v>/ folders and/or PMC<n>.tar.gz packages")
    p.add_argument("outdir")
    add_extract_args(p)
    add_jats_args(p)
    p.set_defaults(func=cmd_pmc_extract)

    p = pmc.add_parser("batch", help="download and extract one batch (the workflow's per-batch job)")
    add_pmc_source_args(p)
    p.add_argument("--index", required=True)
    p.add_argument("--batch", required=True, action="append", help="batch name (repeatable: a work unit of batches)")
    p.add_argument("--label", default=None, help="name of the work unit in the stats (default: the batches)")
    p.add_argument("--downloads", required=True, help="where the batch's articles are downloaded")
    p.add_argument("--keep-downloads", action="store_true", help="keep the downloads after extraction")
    p.add_argument("outdir")
    add_extract_args(p)
    add_jats_args(p)
    p.set_defaults(func=cmd_pmc_batch)

    p = sub.add_parser("convert", help="rewrite shards into img2dataset's layout (fixed shard size, parquet, stats)")
    p.add_argument("inputs", nargs="+", help="directories of shards (e.g. one per tarball or batch), in any order")
    p.add_argument("--out", required=True)
    p.add_argument("--samples-per-shard", type=_positive_int, default=10_000)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("embed", help="descriptors of every image of an img2dataset folder")
    p.add_argument("input")
    p.add_argument("--out", required=True, help=".npz with ids and descriptors")
    add_embed_args(p)
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("embed-eval", help="descriptors of the evaluation images (or load precomputed ones)")
    p.add_argument("--images", default=None, help="folder of images or of shards")
    p.add_argument("--embeddings", default=None, help="precomputed Yokoo descriptors (.pt/.npy)")
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

    p = sub.add_parser("reshard", help="reshard to a uid subset in DataComp's format (resharder.py's flags)")
    p.add_argument("-i", "--input-dir", action="append", required=True,
                   help="input directory containing a webdataset (repeat for several)")
    p.add_argument("-o", "--output-dir", required=True)
    p.add_argument("-s", "--subset-file", required=True, help="sorted np.dtype('u8,u8') array of uids")
    p.add_argument("-n", "--num-shards", type=int, default=None, help="number of shards to process")
    p.add_argument("--first-shard", type=int, default=0)
    p.add_argument("-j", "--num-workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--shard-size", type=_positive_int, default=10_000, help="maximum samples per output shard")
    p.add_argument("--shard-format", default="{:08d}.tar")
    p.add_argument("--output-shard-format", default="{:08d}.tar")
    p.add_argument("--shard-stats-format", default="{:08d}_stats.json")
    p.add_argument("--output-shard-stats-format", default="{:08d}_stats.json")
    p.add_argument("--overwrite", action="store_true", help="replace the contents of a non-empty output directory")
    p.set_defaults(func=cmd_reshard)

    p = sub.add_parser("train", help="train CLIP with OpenCLIP on final shards (DataComp presets or tiny)")
    p.add_argument("data", nargs="+", help="folders of final {:08d}.tar shards with _stats.json")
    p.add_argument("--extra", action="append", help="external shards: PATTERN,SAMPLES[,UPSAMPLING] (repeatable)")
    p.add_argument("--preset", default="tiny", help="tiny, small, medium, large or xlarge")
    p.add_argument("--run", required=True, help="run name (results under LOGS/RUN)")
    p.add_argument("--logs", default="results/train")
    p.add_argument("--gpus", type=_positive_int, default=1, help="GPUs on the node (global batch is split)")
    p.add_argument("--device", default=None, help="e.g. cpu or cuda (default: OpenCLIP's choice)")
    p.add_argument("--precision", default=None, help="override the preset's precision (e.g. fp32, amp, bf16)")
    p.add_argument("--workers", type=int, default=None, help="data loader workers per GPU")
    p.add_argument("--print-command", action="store_true", help="print the OpenCLIP command and exit")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("report-figures", help="figures for snakemake --report (histograms, skips, thumbnails)")
    p.add_argument("--results", default="results")
    p.add_argument("--out", required=True)
    p.add_argument("--sources", nargs="+", default=["arxiv", "pmc"])
    p.add_argument("--threshold", type=float, default=None, help="decontamination threshold line")
    p.add_argument("--thumbnails", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_report_figures)

    p = sub.add_parser("heal", help="repair WebDataset shards: keep whole samples, drop incomplete/duplicates")
    p.add_argument("dir")
    p.add_argument("--out", default=None, help="output directory (default: heal in place)")
    p.add_argument("--pattern", default="*.tar", help="which files are shards (default *.tar)")
    p.set_defaults(func=cmd_heal)

    p = sub.add_parser("stats", help="statistics of WebDataset directories (and our job stats in them)")
    p.add_argument("dir", nargs="+", help="one or more directories holding *.tar shards")
    p.add_argument("--source", default=None, help="name to report (default: the directory name)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    p.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("sample", help="write the embedded sample corpus (arXiv and PMC bucket mirrors)")
    p.add_argument("outdir")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("demo-summary", help="print where the demo's shards are and their stats")
    p.add_argument("results", nargs="?", default="results")
    p.set_defaults(func=cmd_demo_summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.INFO if args.verbose < 2 else logging.DEBUG)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except SciclipError as e:
        print(f"sciclip: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sciclip: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a bug: still one line, the traceback only when asked for
        print(f"sciclip: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        if args.verbose:
            traceback.print_exc()
        return 2
