"""Work units: runs of consecutive members (tarballs, batches, crawl files) that one job handles.

Snakemake spends ~2 ms on every job of a dry run, so at full scale (6,000 arXiv tarballs, 7,000 PMC batches)
one job per member would make the DAG itself slow; beyond ``MAX_UNITS`` members per stage a unit takes a run
of consecutive ones. A unit of one member keeps the member's name; a longer run is named after its first
member and its length (``<first>_x<count>``), so names are stable and readable. Output is byte-identical
whatever the unit size: a unit's job processes its members in order.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.storage.atomic import atomic_write_bytes
from sciclip.storage.tables import read_text

MAX_UNITS = 1500
UNIT_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"


def members_per_unit(n_members: int, per_unit: int | str | None, max_units: int = MAX_UNITS) -> int:
    """``auto`` (or None): 1 up to ``max_units`` members, then as many as keep the units at ``max_units``."""
    if per_unit in (None, "auto"):
        return max(1, -(-n_members // max_units))
    n = int(per_unit)
    if n < 1:
        raise ValueError(f"members per unit must be at least 1, not {n}")
    return n


def plan_units(members: list[str], per_unit: int | str | None = "auto",
               max_units: int = MAX_UNITS) -> dict[str, list[str]]:
    """Consecutive runs of ``members`` (in the given order): unit name -> members."""
    size = members_per_unit(len(members), per_unit, max_units)
    units: dict[str, list[str]] = {}
    for i in range(0, len(members), size):
        chunk = members[i:i + size]
        units[chunk[0] if len(chunk) == 1 else f"{chunk[0]}_x{len(chunk)}"] = chunk
    return units


def read_members(path: str | os.PathLike) -> list[str]:
    """First column of a TSV with a header (a selection or batch list), in file order."""
    lines = read_text(path, "a member list (a TSV with a header)").splitlines()
    return [line.split("\t", 1)[0] for line in lines[1:] if line.strip()]


def write_units(units: dict[str, list[str]], path: str | os.PathLike) -> None:
    lines = ["unit\tmembers"] + [f"{u}\t{','.join(m)}" for u, m in units.items()]
    atomic_write_bytes(Path(path), ("\n".join(lines) + "\n").encode())


def read_units(path: str | os.PathLike) -> dict[str, list[str]]:
    rows = list(csv.reader(io.StringIO(read_text(path, "a unit list"), newline=""), delimiter="\t"))
    if not rows or rows[0] != ["unit", "members"]:
        raise SciclipError(f"{path}: not a unit list (expected the header 'unit<TAB>members')")
    return {r[0]: r[1].split(",") for r in rows[1:] if r}


def unit_members(path: str | os.PathLike, unit: str) -> list[str]:
    units = read_units(path)
    if unit not in units:
        raise SciclipError(f"{path}: no unit {unit!r}")
    return units[unit]
