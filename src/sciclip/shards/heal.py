"""Repairing WebDataset shards written by tools less careful than ours.

A shard cut off mid-write still holds whole samples before the break; a sample missing its image or
caption, or repeating a key already seen, breaks training loaders. Healing keeps exactly the whole,
complete, first-seen samples, writes them atomically under deterministic names ``{00000..NNNNN}.tar``
(input shards in name order) and reports what it did.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.progress import progress
from sciclip.shards.reader import CAPTION_EXTS, IMAGE_EXTS, ShardReport, check_shards, read_samples
from sciclip.shards.writer import SHARD_NAME, ShardWriter
from sciclip.storage.atomic import atomic_write_bytes, check_dir_target

log = logging.getLogger(__name__)

REPORT_NAME = "heal_report.json"


@dataclass
class HealReport:
    shards: list[ShardReport] = field(default_factory=list)

    def totals(self) -> dict[str, int]:
        keys = ("samples_kept", "incomplete", "duplicate_keys", "dropped_partial")
        t = {k: sum(getattr(s, k) for s in self.shards) for k in keys}
        t["truncated_shards"] = sum(1 for s in self.shards if s.truncated)
        t["shards_in"] = len(self.shards)
        t["shards_out"] = sum(1 for s in self.shards if s.output)
        return t


def heal_directory(indir: str | os.PathLike, outdir: str | os.PathLike | None = None,
                   pattern: str = "*.tar") -> HealReport:
    """Heal every shard matching ``pattern`` in ``indir`` into ``outdir`` (default: in place)."""
    indir = Path(indir)
    if not indir.exists():
        raise SciclipError(f"{indir}: no such directory")
    if not indir.is_dir():
        raise SciclipError(f"{indir}: not a directory")
    inputs = sorted(p for p in indir.glob(pattern) if p.is_file() and not p.name.startswith("."))
    if not inputs:
        raise SciclipError(f"{indir}: no shards matching {pattern}")
    check_shards(inputs)  # before anything is written: healing in place must never delete a non-shard
    if outdir is not None:
        check_dir_target(outdir)
    in_place = outdir is None or Path(outdir).resolve() == indir.resolve()
    final = indir if in_place else Path(outdir)  # type: ignore[arg-type]
    work = indir / ".heal-tmp" if in_place else final
    if in_place:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    report = HealReport()
    seen: set[str] = set()
    index = 0
    for path in progress(iterable=inputs, desc="heal", unit="shard"):
        sr = ShardReport(path.name)
        writer = ShardWriter(work, samples_per_shard=1 << 62, first_shard=index)
        for key, members in read_samples(path, sr):
            if key in seen:
                sr.duplicate_keys += 1
                continue
            if not any(e in members for e in IMAGE_EXTS) or not any(e in members for e in CAPTION_EXTS):
                sr.incomplete += 1
                continue
            seen.add(key)
            writer.write(key.replace("/", "_"), members)
            sr.samples_kept += 1
        shards = writer.close()
        if shards:
            sr.output = shards[0].name
            index += 1
        if sr.truncated:
            log.warning("%s: truncated (%s); kept %d whole samples before the break", path, sr.truncated,
                        sr.samples_kept)
        report.shards.append(sr)
    if in_place:
        for path in inputs:
            path.unlink()
        for produced in sorted(work.glob("*.tar")):
            os.replace(produced, indir / produced.name)
        shutil.rmtree(work, ignore_errors=True)
    payload = {"totals": report.totals(), "shards": [asdict(s) for s in report.shards]}
    atomic_write_bytes(final / REPORT_NAME, (json.dumps(payload, indent=2) + "\n").encode())
    return report


def output_names(n: int) -> list[str]:
    return [SHARD_NAME.format(i) for i in range(n)]
