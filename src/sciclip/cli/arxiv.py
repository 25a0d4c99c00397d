"""``sciclip arxiv …``: manifest, selection, download and extraction of arXiv bulk tarballs."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from sciclip.cli.common import (
    add_download_args,
    add_extract_args,
    add_units_args,
    check_outputs,
    done_line,
    extract_options,
    non_negative_float,
    positive_float,
    say,
)
from sciclip.errors import SciclipError
from sciclip.storage.atomic import atomic_dir, check_dir_target


def add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", required=True,
                   help="s3://bucket[/prefix], http(s)://..., file:///dir or a local directory (a mirror)")
    rp = p.add_mutually_exclusive_group()
    rp.add_argument("--requester-pays", dest="requester_pays", action="store_true", default=True,
                    help="send RequestPayer=requester (the arxiv bucket needs it) [default]")
    rp.add_argument("--no-requester-pays", dest="requester_pays", action="store_false",
                    help="send no RequestPayer (an anonymous or own bucket, a mirror)")
    add_download_args(p)


def _spec(args):
    from sciclip.storage.remote import SourceSpec

    return SourceSpec(args.source, requester_pays=args.requester_pays, endpoint_url=args.endpoint_url,
                      timeout_s=args.timeout_s)


def cmd_manifest(args) -> int:
    from sciclip.sources.arxiv.manifest import parse_manifest
    from sciclip.storage.remote import fetch

    check_outputs(args.out)
    out = Path(args.out)
    fetch(_spec(args), args.manifest_key, out, retries=args.retries, backoff_s=args.backoff_s)
    entries = parse_manifest(out.read_bytes(), str(out))
    say(f"manifest {out}: {len(entries)} tarballs, {sum(e.size for e in entries) / 2**30:.1f} GiB")
    return 0


def cmd_select(args) -> int:
    from sciclip.sources.arxiv.cost import TRANSFER_USD_PER_GIB, estimate_usd, payer
    from sciclip.sources.arxiv.manifest import parse_manifest, select_tarballs, write_selection

    check_outputs(args.out)
    path = Path(args.manifest)
    if path.is_dir():
        raise SciclipError(f"{path}: is a directory, not a manifest")
    if not path.is_file():
        raise SciclipError(f"{path}: no such file")
    entries = parse_manifest(path.read_bytes(), args.manifest)
    tarballs = [t for t in (args.tarballs or "").split(",") if t.strip()] or None
    budget = None if not args.max_size_gb else args.max_size_gb  # 0 and None: no budget
    chosen = select_tarballs(entries, max_size_gb=budget, start=args.start, end=args.end, tarballs=tarballs)
    write_selection(chosen, args.out)
    size = sum(e.size for e in chosen) / 2**30
    paid_by = payer(args.source, args.requester_pays)
    cost = {"local": "a local mirror, nothing to download", "owner": "not requester pays, no transfer cost to you"}
    say(f"selected {len(chosen)} of {len(entries)} tarballs ({size:.2f} GiB) -> {args.out}; "
        + cost.get(paid_by, f"about ${estimate_usd(chosen):,.2f} to download at ${TRANSFER_USD_PER_GIB}/GB "
                            "(sciclip arxiv cost: details)"))
    return 0


def cmd_cost(args) -> int:
    """What the selection will cost, before any tarball is downloaded (stdout: it is the command's data)."""
    from sciclip.sources.arxiv.cost import cost_report, payer
    from sciclip.sources.arxiv.manifest import read_selection

    print(cost_report(read_selection(args.selection), args.price_per_gb, each=args.each,
                      paid_by=payer(args.source, args.requester_pays)))
    return 0


def cmd_mirror(args) -> int:
    """Your own papers as a local mirror the workflow reads (arxiv.source: OUT, requester_pays: false)."""
    from sciclip.sources.arxiv.mirror import write_mirror

    check_dir_target(args.out)
    rep = write_mirror(args.input, args.out, yymm=args.yymm, tarball_mb=args.tarball_mb)
    left = f"; {len(rep['left_out'])} entries are no papers, left out (see the warnings)" if rep["left_out"] else ""
    say(f"mirror {args.out}: {rep['papers']} papers in {rep['tarballs']} tarballs ({rep['bytes'] / 2**20:.1f} MiB, "
        f"months {', '.join(rep['months'])}){left} -> {rep['manifest']}; config: arxiv: {{source: {Path(args.out).resolve()}, "
        "requester_pays: false}")
    return 0


def _unit_tarballs(args) -> list[str]:
    from sciclip.sources.units import unit_members

    names = list(getattr(args, "tarball", None) or [])
    if args.units or args.unit:
        if not (args.units and args.unit):
            raise SciclipError("--units and --unit go together")
        names += unit_members(args.units, args.unit)
    return [t.rsplit("/", 1)[-1].removesuffix(".tar") for t in names]


def cmd_download(args) -> int:
    from sciclip.sources.arxiv.manifest import read_selection
    from sciclip.storage.remote import fetch

    names = _unit_tarballs(args)
    if args.selection:
        if not names:
            raise SciclipError("--selection needs --tarball NAME (repeatable) or --units/--unit")
        entries = {e.name: e for e in read_selection(args.selection)}
        missing = [n for n in names if n not in entries]
        if missing:
            raise SciclipError(f"{args.selection}: tarball {missing[0]} is not selected")
        if len(names) > 1 and not args.out_dir:
            raise SciclipError("several tarballs need --out-dir")
        todo = [(entries[n].filename, entries[n].md5sum,
                 Path(args.out_dir) / f"{n}.tar" if args.out_dir else Path(args.out or "")) for n in names]
    elif args.key:
        todo = [(args.key, args.md5, Path(args.out or ""))]
    else:
        raise SciclipError("give --key KEY (and --md5), or --selection TSV --tarball NAME")
    if any(str(dest) in ("", ".") for _, _, dest in todo):
        raise SciclipError("give --out FILE (or --out-dir DIR)")
    if args.md5 and not re.fullmatch(r"[0-9a-fA-F]{32}", args.md5):
        raise SciclipError(f"--md5 {args.md5}: not an md5 checksum (32 hexadecimal digits)")
    if args.out_dir:
        check_dir_target(args.out_dir)
    check_outputs(*(str(dest) for _, _, dest in todo))

    def fetch_all(folder: Path | None) -> None:
        for key, md5, dest in todo:
            fetch(_spec(args), key, folder / dest.name if folder else dest, md5=md5, retries=args.retries,
                  backoff_s=args.backoff_s)
            say(f"{key} -> {dest} (md5 {'verified' if md5 else 'not checked'})")

    if args.out_dir:  # a unit's folder appears whole or not at all (a killed job leaves no partial unit)
        with atomic_dir(args.out_dir, owns=("*.tar",)) as tmp:
            fetch_all(tmp)
    else:
        fetch_all(None)
    return 0


def cmd_extract(args) -> int:
    from sciclip.sources.arxiv.extract import extract_tarballs

    stats = extract_tarballs(args.tarball, args.outdir, extract_options(args), workers=args.workers,
                             scratch_root=args.scratch_dir)
    say(done_line(" ".join(args.tarball), stats, args.outdir))
    return 0


def cmd_unit(args) -> int:
    """One workflow job: the tarballs of one unit, from the folder its download job filled."""
    from sciclip.sources.arxiv.extract import extract_tarballs

    tarballs = [Path(args.inputs) / f"{n}.tar" for n in _unit_tarballs(args)]
    stats = extract_tarballs(tarballs, args.outdir, extract_options(args), workers=args.workers,
                             scratch_root=args.scratch_dir)
    say(done_line(args.unit, stats, args.outdir))
    return 0


def _add_payer_args(p: argparse.ArgumentParser) -> None:
    """Where the tarballs come from decides who pays for them (the estimate): s3://arxiv unless told."""
    p.add_argument("--source", default=None, help="the arxiv.source the selection is read from (default: "
                                                  "s3://arxiv); a local mirror costs nothing")
    rp = p.add_mutually_exclusive_group()
    rp.add_argument("--requester-pays", dest="requester_pays", action="store_true", default=True,
                    help="an s3:// source bills the transfer to you [default]")
    rp.add_argument("--no-requester-pays", dest="requester_pays", action="store_false",
                    help="an s3:// --source is not requester pays: its owner pays the transfer")


def register(sub) -> None:
    arxiv = sub.add_parser("arxiv", help="the arXiv bulk-source path").add_subparsers(
        dest="arxiv_command", metavar="STAGE", required=True)
    p = arxiv.add_parser("manifest", help="fetch the bucket manifest (src/arXiv_src_manifest.xml)")
    add_source_args(p)
    p.add_argument("--manifest-key", "--key", default="src/arXiv_src_manifest.xml",
                   help="key of the manifest below the source root (default: %(default)s)")
    p.add_argument("--out", required=True, help="where to write the manifest")
    p.set_defaults(func=cmd_manifest)

    p = arxiv.add_parser("select", help="choose tarballs from a manifest (range, list, size budget)")
    p.add_argument("--manifest", required=True, help="the manifest XML (sciclip arxiv manifest --out)")
    p.add_argument("--out", required=True, help="selection TSV to write")
    p.add_argument("--max-size-gb", type=non_negative_float, default=None,
                   help="budget in GiB over the selection (default and 0: none)")
    p.add_argument("--start", default=None, help="first month (YYMM) or arXiv id, inclusive")
    p.add_argument("--end", default=None, help="last month (YYMM) or arXiv id, inclusive")
    p.add_argument("--tarballs", default=None, help="comma-separated tarball names instead of a range")
    _add_payer_args(p)
    p.set_defaults(func=cmd_select)

    p = arxiv.add_parser("cost", help="tarballs, GiB per month and the requester-pays estimate of a selection")
    p.add_argument("selection", help="selection TSV (sciclip arxiv select --out; results/arxiv/selected.tsv)")
    p.add_argument("--price-per-gb", type=non_negative_float, default=0.09,
                   help="USD per GiB transferred (default: %(default)s, S3 to the internet from us-east-1, "
                        "first 10 TB a month; 0 on EC2 in us-east-1)")
    p.add_argument("--each", action="store_true", help="one line per tarball instead of per month")
    _add_payer_args(p)
    p.set_defaults(func=cmd_cost)

    p = arxiv.add_parser("mirror", help="turn a folder of paper sources into a local mirror (bulk tarballs + "
                                        "manifest) for arxiv.source")
    p.add_argument("input", nargs="+", help="folders holding one entry per paper (a folder of its files, "
                                            "<id>.tar.gz, .tgz, .tar, .gz, .tex or .pdf), or such paper files")
    p.add_argument("--out", required=True, help="the mirror folder to write (src/arXiv_src_manifest.xml, "
                                                "src/arXiv_src_YYMM_NNN.tar)")
    p.add_argument("--yymm", default=None, help="number papers not named by an arXiv id as YYMM.00001, ... "
                                                "(ids.tsv maps them back); without it they are refused")
    p.add_argument("--tarball-mb", type=positive_float, default=500,
                   help="start a new bulk tarball beyond this size in MiB (default: %(default)s, as arXiv's)")
    p.set_defaults(func=cmd_mirror)

    p = arxiv.add_parser("download", help="download tarballs, md5-verified, atomically")
    add_source_args(p)
    p.add_argument("--selection", help="selection TSV (gives the key and md5 of each tarball)")
    p.add_argument("--tarball", action="append", help="tarball name, e.g. arXiv_src_2001_001 (repeatable)")
    add_units_args(p)
    p.add_argument("--key", help="object key, e.g. src/arXiv_src_2001_001.tar (instead of --selection)")
    p.add_argument("--md5", help="expected md5 (instead of --selection)")
    p.add_argument("--out", default=None, help="the file to write (one tarball)")
    p.add_argument("--out-dir", default=None, help="folder for <name>.tar of each tarball")
    p.set_defaults(func=cmd_download)

    p = arxiv.add_parser("extract", help="extract figures and captions of tarballs into one set of shards")
    p.add_argument("tarball", nargs="+", help="one or more bulk tarballs (processed in this order)")
    p.add_argument("outdir", help="folder to write the shards and stats.json to")
    add_extract_args(p)
    p.set_defaults(func=cmd_extract)

    p = arxiv.add_parser("unit", help="extract one work unit (the workflow's per-unit job)")
    add_units_args(p, required=True)
    p.add_argument("--inputs", required=True, help="folder holding the unit's <tarball>.tar files")
    p.add_argument("outdir", help="folder to write the unit's shards and stats.json to")
    add_extract_args(p)
    p.set_defaults(func=cmd_unit)
