"""``sciclip convert|reshard|heal|stats``: shard-level commands that work on any WebDataset folder."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from sciclip.cli.common import positive_int, say
from sciclip.errors import SciclipError

log = logging.getLogger(__name__)


def _write_report(path: str | None, report) -> None:
    if path:
        from dataclasses import asdict

        from sciclip.storage.atomic import atomic_write_bytes

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, (json.dumps(asdict(report), indent=1) + "\n").encode())


def cmd_convert(args) -> int:
    from sciclip.shards.img2dataset import convert, convert_unit
    from sciclip.shards.tail_plan import read_plan

    if args.plan:
        if not args.unit or args.inputs:
            raise SciclipError("with --plan give --unit NAME and no input folders (the plan names them)")
        rep = convert_unit(read_plan(args.plan), args.unit, args.out)
        where = f"tail unit {args.unit}"
    else:
        if not args.inputs:
            raise SciclipError("give input folders of shards, or --plan PLAN --unit NAME")
        rep = convert(args.inputs, args.out, args.samples_per_shard, args.shards_per_unit)
        where = f"{len(args.inputs)} folders"
    _write_report(args.report, rep)
    damage = f"; {rep.failed} samples unreadable ({len(rep.damaged_inputs)} damaged inputs)" if rep.failed else ""
    for line in rep.damaged_inputs:
        log.warning("damaged input: %s", line)
    say(f"img2dataset: {rep.samples} samples from {where} -> {rep.shards} shards in {args.out}{damage}")
    return 0


def cmd_convert_plan(args) -> int:
    from sciclip.shards.tail_plan import plan_tail, write_plan

    plan = plan_tail(args.inputs, args.samples_per_shard, args.shards_per_unit)
    write_plan(plan, args.out)
    say(f"img2dataset plan: {plan.samples} samples in {plan.shards} shards, {len(plan.units)} tail units -> "
        f"{args.out}")
    return 0


def _shard_format(dirs: list[str], given: str | None) -> str:
    """resharder.py's --shard-format, or (default) the format of the shards found: img2dataset writes as many
    digits as its shard count needs (5 at least), DataComp's pool uses 8."""
    if given:
        return given
    import re

    widths = set()
    for d in dirs:
        if not Path(d).is_dir():
            raise SciclipError(f"{d}: no such input directory")
        widths |= {len(p.stem) for p in Path(d).iterdir() if re.fullmatch(r"\d+\.tar", p.name)}
    if len(widths) != 1:
        raise SciclipError(f"{', '.join(dirs)}: " + ("no shards named like 00000.tar" if not widths else
                           f"shard names of several widths {sorted(widths)}; give --shard-format"))
    width = widths.pop()
    return f"{{:0{width}d}}.tar"


def cmd_reshard(args) -> int:
    from sciclip.shards.reshard import reshard

    shard_format = _shard_format(args.input_dir, args.shard_format) if args.input_dir else args.shard_format or "{:08d}.tar"
    stats_format = args.shard_stats_format or shard_format.replace(".tar", "_stats.json")
    state = reshard(args.input_dir, args.output_dir, args.subset_file, shard_size=args.shard_size,
                    num_workers=args.num_workers, first_shard=args.first_shard, num_shards=args.num_shards,
                    shard_format=shard_format, output_shard_format=args.output_shard_format,
                    shard_stats_format=stats_format,
                    output_shard_stats_format=args.output_shard_stats_format, overwrite=args.overwrite)
    print(f"processed {state['processed_count']} samples in {state['seconds']:.2f}s "
          f"({state['processed_count'] / max(state['seconds'], 1e-9):.1f} samples/s); wrote {state['output_count']} "
          f"samples in {state['output_shard_count']} shards -> {args.output_dir}", file=sys.stderr)
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


def register(sub) -> None:
    p = sub.add_parser("convert", help="rewrite shards into img2dataset's layout (fixed shard size, parquet, stats)")
    p.add_argument("inputs", nargs="*", help="directories of shards (e.g. one per work unit), in any order")
    p.add_argument("--out", required=True, help="the img2dataset folder to write")
    p.add_argument("--samples-per-shard", type=positive_int, default=10_000,
                   help="samples per img2dataset shard; the last holds the rest (default: %(default)s)")
    p.add_argument("--shards-per-unit", type=positive_int, default=50,
                   help="img2dataset shards per tail unit (default: %(default)s)")
    p.add_argument("--plan", default=None, help="instead of input folders: a plan from convert-plan ...")
    p.add_argument("--unit", default=None, help="... and the tail unit of it to write")
    p.add_argument("--report", default=None, help="also write what was done as JSON here")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("convert-plan", help="lay out the img2dataset shards and cut them into tail units")
    p.add_argument("inputs", nargs="+", help="directories of shards (e.g. one per work unit), in any order")
    p.add_argument("--out", required=True, help="plan JSON to write")
    p.add_argument("--samples-per-shard", type=positive_int, default=10_000,
                   help="samples per img2dataset shard; the last holds the rest (default: %(default)s)")
    p.add_argument("--shards-per-unit", type=positive_int, default=50,
                   help="img2dataset shards per tail unit (default: %(default)s)")
    p.set_defaults(func=cmd_convert_plan)

    p = sub.add_parser("reshard", help="reshard to a uid subset in DataComp's format (resharder.py's flags)")
    p.add_argument("-i", "--input-dir", action="append", default=[],
                   help="input directory containing a webdataset (repeat for several; none: an empty subset, "
                        "a source that gave no samples, makes an empty output)")
    p.add_argument("-o", "--output-dir", required=True, help="output directory of the resharded webdataset")
    p.add_argument("-s", "--subset-file", required=True, help="sorted np.dtype('u8,u8') array of uids")
    p.add_argument("-n", "--num-shards", type=int, default=None, help="number of shards to process")
    p.add_argument("--first-shard", type=int, default=0,
                   help="index of the first input shard to process (default: %(default)s)")
    p.add_argument("-j", "--num-workers", type=int, default=os.cpu_count() or 1,
                   help="worker processes (default: %(default)s, the CPU count)")
    p.add_argument("--shard-size", type=positive_int, default=10_000,
                   help="maximum samples per output shard (default: %(default)s)")
    p.add_argument("--shard-format", default=None,
                   help="input shard names (default: as found, e.g. {:05d}.tar from convert, {:08d}.tar)")
    p.add_argument("--output-shard-format", default="{:08d}.tar",
                   help="output shard names, a str.format pattern of the shard number (default: %(default)s)")
    p.add_argument("--shard-stats-format", default=None,
                   help="input shard stats names (default: follows --shard-format)")
    p.add_argument("--output-shard-stats-format", default="{:08d}_stats.json",
                   help="output shard stats names, as --output-shard-format (default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace the contents of a non-empty output directory")
    p.set_defaults(func=cmd_reshard)

    p = sub.add_parser("heal", help="repair WebDataset shards: keep whole samples, drop incomplete/duplicates")
    p.add_argument("dir", help="directory of WebDataset shards")
    p.add_argument("--out", default=None, help="output directory (default: heal in place)")
    p.add_argument("--pattern", default="*.tar", help="glob of the shard files (default: %(default)s)")
    p.set_defaults(func=cmd_heal)

    p = sub.add_parser("stats", help="statistics of WebDataset directories (and our job stats in them)")
    p.add_argument("dir", nargs="+", help="one or more directories holding *.tar shards")
    p.add_argument("--source", default=None, help="name to report (default: the directory name)")
    p.add_argument("--out", default=None, help="also write the JSON here")
    p.add_argument("--json", action="store_true", help="print JSON instead of a summary")
    p.set_defaults(func=cmd_stats)
