"""``sciclip commonpool …``: DataComp's CommonPool as a source (one command per stage).

list (the pool's metadata parquets -> the member list) · download (a unit: its metadata files, then its images
with img2dataset as DataComp downloads them) · retry (a unit's failed urls, once more, into a folder of their
own) · unit (the per-unit job of the shared rules: the downloads -> shards + stats.json, uids kept).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sciclip.cli.common import (
    add_extract_args,
    add_units_args,
    check_outputs,
    done_line,
    extract_options,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    say,
)
from sciclip.errors import SciclipError


def _csv(value: str | None) -> list[str]:
    return [x.strip() for x in (value or "").split(",") if x.strip()]


def _location(args) -> str:
    from sciclip.sources.commonpool.members import pool_location

    return pool_location(args.source, args.scale)


def cmd_list(args) -> int:
    from sciclip.sources.commonpool.members import list_members, write_members

    check_outputs(args.out)
    location = _location(args)
    members = list_members(location, _csv(args.files), args.revision)
    write_members(members, args.out)
    size = sum(m.size for m in members)
    say(f"{len(members)} metadata parquets of {location} ({sum(1 for m in members if m.npz)} with npz"
        + (f", {size / 2**30:.2f} GiB with them" if size else "") + f") -> {args.out}")
    return 0


def _download_options(args):
    from sciclip.sources.commonpool.download import PoolDownloadOptions

    return PoolDownloadOptions(processes=args.image_processes, threads=args.image_threads,
                               timeout_s=args.image_timeout_s, retries=args.image_retries, blur_faces=args.blur_faces,
                               user_agent_token=args.user_agent_token or None,
                               disallowed_header_directives=tuple(_csv(args.disallowed_header_directives)),
                               serve=args.serve, allow_private_addresses=args.allow_private_addresses)


def _say_report(unit: str, rep: dict, out: str) -> None:
    failed = ", ".join(f"{k} {v}" for k, v in rep["failed"].items()) or "none"
    say(f"{unit}: {rep['downloaded']} of {rep['urls']} urls downloaded; failed: {failed} -> {out}")


def cmd_download(args) -> int:
    from sciclip.sources.commonpool.download import download_unit
    from sciclip.sources.commonpool.members import fetch_members, read_members
    from sciclip.sources.units import unit_members

    known = read_members(args.members)
    members = []
    for name in unit_members(args.units, args.unit):
        if name not in known:
            raise SciclipError(f"{args.members}: no metadata file {name!r}")
        members.append(known[name])
    parquets = fetch_members(_location(args), members, args.pool_dir, npz=args.npz, revision=args.revision,
                             retries=args.retries, backoff_s=args.backoff_s, timeout_s=args.timeout_s)
    rep = download_unit(parquets, args.out_dir, _download_options(args))
    _say_report(args.unit, rep, args.out_dir)
    return 0


def cmd_retry(args) -> int:
    from sciclip.sources.commonpool.download import retry_unit

    rep = retry_unit(args.attempts, args.out_dir, _download_options(args), tuple(_csv(args.retry_reasons)))
    say(f"retrying {rep['retried']} failed urls")
    _say_report(Path(args.out_dir).name, rep, args.out_dir)
    return 0


def cmd_unit(args) -> int:
    from sciclip.sources.commonpool.source import CommonPoolSource
    from sciclip.sources.job import extract_unit

    source = CommonPoolSource(extract_options(args))
    stats = extract_unit(source, args.downloads, args.outdir, args.workers, args.scratch_dir, label=args.unit)
    say(done_line(args.unit, stats, args.outdir))
    return 0


def _add_pool_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", default="small",
                   help="DataComp scale: small, medium, large, xlarge, datacomp_1b (Hugging Face "
                        "mlfoundations/datacomp_<scale>; default: %(default)s)")
    p.add_argument("--source", default=None, help="instead: a metadata folder, file://, http(s):// folder (with "
                                                  "--files) or hf://datasets/<owner>/<name>")
    p.add_argument("--revision", default=None, help="the Hugging Face dataset's revision (default: main)")


def _add_image_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("images (img2dataset, as DataComp's download_upstream.py)")
    g.add_argument("--image-processes", type=positive_int, default=1,
                   help="img2dataset processes; 1 runs it in this one, spawning none (default: %(default)s)")
    g.add_argument("--image-threads", type=positive_int, default=64,
                   help="download threads per process (DataComp uses 128; default: %(default)s)")
    g.add_argument("--image-timeout-s", type=positive_float, default=10.0,
                   help="seconds per image (img2dataset's default; default: %(default)s)")
    g.add_argument("--image-retries", type=non_negative_int, default=2,
                   help="retries per image (DataComp's 2; default: %(default)s)")
    g.add_argument("--no-blur-faces", dest="blur_faces", action="store_false",
                   help="leave faces unblurred (DataComp's --skip_bbox_blurring); default: blur face_bboxes")
    g.add_argument("--user-agent-token", default="sciclip",
                   help="our token in X-Robots-Tag opt-outs ('' for none; default: %(default)s)")
    g.add_argument("--disallowed-header-directives", default="noai,noimageai,noindex,noimageindex",
                   help="X-Robots-Tag directives that opt an image out, comma-separated (img2dataset's; "
                        "default: %(default)s)")
    g.add_argument("--serve", default=None, help="serve this folder on 127.0.0.1 as the web (demo, tests)")
    g.add_argument("--allow-private-addresses", action="store_true",
                   help="let image URLs reach loopback and private networks (tests, a private mirror; default: "
                        "public addresses only, others skipped as private_address)")


def register(sub) -> None:
    cp = sub.add_parser("commonpool", help="DataComp's CommonPool as a source").add_subparsers(
        dest="commonpool_command", metavar="STAGE", required=True)

    p = cp.add_parser("list", help="list the pool's metadata parquets (the member list)")
    _add_pool_args(p)
    p.add_argument("--files", default="",
                   help="only these metadata parquets (names or paths, comma-separated); the file list of an "
                        "http(s) folder (default: all)")
    p.add_argument("--out", required=True, help="the member list TSV to write")
    p.set_defaults(func=cmd_list)

    p = cp.add_parser("download", help="one unit: its metadata files, then its images (img2dataset, DataComp's way)")
    _add_pool_args(p)
    p.add_argument("--members", required=True, help="the member list (commonpool list)")
    add_units_args(p, required=True)
    p.add_argument("--no-npz", dest="npz", action="store_false", help="leave the embeddings (npz) out")
    p.add_argument("--retries", type=non_negative_int, default=4,
                   help="retries of a metadata fetch on transient errors (default: %(default)s)")
    p.add_argument("--backoff-s", type=non_negative_float, default=2.0,
                   help="first retry delay in seconds, doubling (default: %(default)s)")
    p.add_argument("--timeout-s", type=positive_float, default=60.0,
                   help="connect/read timeout of a metadata fetch in seconds (default: %(default)s)")
    _add_image_args(p)
    p.add_argument("--pool-dir", required=True, help="where the unit's metadata files go (kept: the metadata step "
                                                     "reuses their scores and embeddings)")
    p.add_argument("--out-dir", required=True, help="the unit's img2dataset folder")
    p.set_defaults(func=cmd_download)

    p = cp.add_parser("retry", help="download a unit's failed urls again, into a folder of their own")
    p.add_argument("attempts", nargs="+", help="the unit's download folder and earlier retry folders, in order")
    p.add_argument("--retry-reasons", default="",
                   help="retry only these failure reasons (default: all but opted_out and private_address)")
    _add_image_args(p)
    p.add_argument("--out-dir", required=True, help="the retry round's own download folder")
    p.set_defaults(func=cmd_retry)

    p = cp.add_parser("unit", help="one unit's downloads -> shards + stats.json (the per-unit job)")
    add_units_args(p, required=True)
    p.add_argument("--downloads", nargs="+", required=True, help="the unit's download folder, then its retry folders")
    p.add_argument("outdir", help="folder to write the unit's shards and stats.json to")
    add_extract_args(p, caption_limit=False)
    p.set_defaults(func=cmd_unit)
