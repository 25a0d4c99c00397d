"""The tail's work units: which img2dataset shards each conversion job writes and which samples it reads.

img2dataset's layout is one stream of fixed-size shards (``samples_per_shard`` each, the last holds the rest)
with keys ``shard * 10**k + index``. To write it in parallel, a small gather step counts the samples of every
extraction shard (from the jobs' ``stats.json``, or the tar headers for foreign shards), lays the whole stream
out in input order, and cuts it into tail units of ``shards_per_unit`` output shards. A unit then knows its
first shard number and the exact (input shard, skip, take) ranges it reads: keys are globally unique and
consecutive, and the output is byte-identical to one job converting everything, whatever the unit sizes.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.shards import fast_tar
from sciclip.shards.reader import split_key
from sciclip.storage.atomic import atomic_write_bytes


@dataclass
class TailUnit:
    name: str
    first_shard: int
    shards: int
    samples: int
    inputs: list = field(default_factory=list)  # [input shard path, samples to skip, samples to take]


@dataclass
class TailPlan:
    samples_per_shard: int
    shards: int  # total output shards
    samples: int
    oom_shards: int  # digits of the shard part of a key
    units: list[TailUnit] = field(default_factory=list)

    def unit(self, name: str) -> TailUnit:
        for u in self.units:
            if u.name == name:
                return u
        raise SciclipError(f"no tail unit {name!r} in the plan")

    def key(self, shard: int, index: int) -> str:
        oom_samples = len(str(self.samples_per_shard - 1))
        return f"{shard * 10 ** oom_samples + index:0{oom_samples + self.oom_shards}d}"


def count_samples(shard: Path) -> int:
    """Samples in a tar by its headers alone (consecutive members sharing a key are one sample). A tar damaged
    part way counts up to the damage (the conversion job marks what it cannot read); one that cannot be read
    at all is an error, not "0 samples"."""
    from sciclip.shards.reader import ShardReport, read_samples

    n, last = 0, None
    try:
        with open(shard, "rb") as f:
            for name, size in fast_tar.iter_members(f):
                key, _ = split_key(name)
                if key != last:
                    n, last = n + 1, key
                fast_tar.skip(f, size)
    except fast_tar.Unsupported:  # PAX/GNU headers or compression: tarfile reads it
        report = ShardReport(shard.name)
        n = sum(1 for _ in read_samples(shard, report)) + report.dropped_partial
    except (fast_tar.Damaged, OSError) as e:
        if n == 0:
            raise SciclipError(f"{shard}: not a readable tar shard ({e})") from None
    return n


def input_shards(dirs: list[Path]) -> list[tuple[Path, int]]:
    """(shard, samples) in stream order: folders by name, shards by name; counts from the job's stats.json."""
    out = []
    for d in sorted(dirs, key=lambda p: p.name):
        if not d.is_dir():
            raise SciclipError(f"{d}: not a directory")
        counts: dict[str, int] = {}
        stats = d / "stats.json"
        if stats.is_file():
            try:
                counts = {s["name"]: int(s["samples"]) for s in json.loads(stats.read_text()).get("shards", [])}
            except (ValueError, KeyError, TypeError) as e:
                raise SciclipError(f"{stats}: unreadable job stats ({e})") from None
        for shard in sorted(p for p in d.glob("*.tar") if not p.name.startswith(".")):
            out.append((shard, counts[shard.name] if shard.name in counts else count_samples(shard)))
    return out


def plan_tail(dirs: list[str | os.PathLike], samples_per_shard: int = 10_000, shards_per_unit: int = 50) -> TailPlan:
    if samples_per_shard < 1 or shards_per_unit < 1:
        raise SciclipError("samples_per_shard and shards_per_unit must be at least 1")
    shards = input_shards([Path(d) for d in dirs])
    total = sum(n for _, n in shards)
    n_out = -(-total // samples_per_shard)
    plan = TailPlan(samples_per_shard, n_out, total, max(5, len(str(n_out))))
    per_unit = samples_per_shard * shards_per_unit
    position = 0  # global sample index where the current input shard starts
    for shard, n in shards:
        taken = 0
        while taken < n:
            g = position + taken
            unit_index = g // per_unit
            if len(plan.units) <= unit_index:
                first = unit_index * shards_per_unit
                plan.units.append(TailUnit(f"t{unit_index:05d}", first, min(shards_per_unit, n_out - first), 0))
            unit = plan.units[unit_index]
            take = min(n - taken, (unit_index + 1) * per_unit - g)
            unit.inputs.append([str(shard), taken, take])
            unit.samples += take
            taken += take
        position += n
    return plan


def write_plan(plan: TailPlan, path: str | os.PathLike) -> None:
    atomic_write_bytes(Path(path), (json.dumps(asdict(plan), indent=1) + "\n").encode())


def read_plan(path: str | os.PathLike) -> TailPlan:
    try:
        data = json.loads(Path(path).read_text())
        units = [TailUnit(**u) for u in data.pop("units")]
        return TailPlan(**data, units=units)
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise SciclipError(f"{path}: not a tail plan ({e})") from None


def folder_plan(folder: str | os.PathLike, shards_per_unit: int = 50) -> TailPlan:
    """A plan over an existing img2dataset folder (ours or img2dataset's own), for running the per-unit stages
    on it by hand: shards in name order, counted from their parquet files."""
    import pyarrow.parquet as pq

    folder = Path(folder)
    if not folder.is_dir():
        raise SciclipError(f"{folder}: not a directory")
    shards = sorted(p for p in folder.glob("*.tar") if not p.name.startswith(".") and p.stem.isdigit())
    if not shards:
        raise SciclipError(f"{folder}: no img2dataset shards ({{n}}.tar)")
    numbers = [int(p.stem) for p in shards]
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        raise SciclipError(f"{folder}: shard numbers are not consecutive")
    counts, key_len = [], None
    for p in shards:
        try:
            table = pq.read_table(p.with_suffix(".parquet"), columns=["key"])
        except (OSError, ValueError) as e:
            raise SciclipError(f"{p.with_suffix('.parquet')}: unreadable ({e})") from None
        keys = table.column("key").to_pylist()
        counts.append(len(keys))
        key_len = key_len or (len(keys[0]) if keys else None)
    oom_shards = len(shards[0].stem)
    per_shard = 10 ** max(1, (key_len or oom_shards + 4) - oom_shards)  # keys are shard * 10**k + index
    plan = TailPlan(per_shard, numbers[-1] + 1, sum(counts), oom_shards)
    for i in range(0, len(shards), shards_per_unit):
        part = counts[i:i + shards_per_unit]
        plan.units.append(TailUnit(f"t{i // shards_per_unit:05d}", numbers[i], len(part), sum(part)))
    return plan
