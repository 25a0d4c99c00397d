"""``sciclip units``: cut a source's member list (tarballs, batches, crawl files) into work units, in name order."""

from __future__ import annotations

from pathlib import Path

from sciclip.cli.common import check_outputs, positive_int, say
from sciclip.errors import SciclipError


def cmd_units(args) -> int:
    from sciclip.sources.units import plan_units, read_members, write_units

    check_outputs(args.out)
    path = Path(args.members)
    # name order: the order in which every later stage reads the units' shards (conversion sorts by name),
    # so coarse and fine units give byte-identical output
    members = sorted(read_members(path))
    try:
        units = plan_units(members, args.members_per_unit, args.max_units)
    except ValueError as e:
        raise SciclipError(f"--members-per-unit: {e}") from None
    write_units(units, args.out)
    say(f"{len(members)} members in {len(units)} units -> {args.out}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("units", help="cut a member list (first column of a TSV) into work units")
    p.add_argument("--members", required=True, help="TSV with a header whose first column names the members")
    p.add_argument("--members-per-unit", default="auto",
                   help="members per unit, or auto: one each, until there are more than --max-units members; "
                        "then as many as keep it at --max-units units (default: %(default)s)")
    p.add_argument("--max-units", type=positive_int, default=1500,
                   help="with auto: at most this many units (default: %(default)s)")
    p.add_argument("--out", required=True, help="the unit list TSV to write (unit, members)")
    p.set_defaults(func=cmd_units)
