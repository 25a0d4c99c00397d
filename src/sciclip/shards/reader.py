"""Reading WebDataset shards as whole samples, tolerant of truncation: what every stage that reads
shards (heal, conversion, descriptors, the report) shares."""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
CAPTION_EXTS = ("txt",)

def split_key(name: str) -> tuple[str, str]:
    """WebDataset's split: the key is everything up to the first dot of the file name."""
    dirname, _, base = name.rpartition("/")
    stem, dot, ext = base.partition(".")
    key = f"{dirname}/{stem}" if dirname else stem
    return key, ext.lower() if dot else ""


@dataclass
class ShardReport:
    input: str
    output: str | None = None
    samples_kept: int = 0
    incomplete: int = 0  # missing an image or a caption
    duplicate_keys: int = 0
    truncated: str | None = None  # where the tar broke off
    dropped_partial: int = 0  # the sample cut by the break


def read_samples(path: Path, report: ShardReport) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Whole samples of one tar, in order; a truncated tar ends the stream after the last whole one."""
    current_key: str | None = None
    current: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in tar:
                if not member.isreg():
                    continue
                key, ext = split_key(member.name)
                if key != current_key:
                    # a new key's header arrived intact: the previous sample is complete
                    if current_key is not None:
                        yield current_key, current
                    current_key, current = key, {}
                f = tar.extractfile(member)
                data = f.read() if f else b""
                if len(data) != member.size:
                    raise EOFError(f"member {member.name} is cut short")
                current[ext] = data
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        report.truncated = f"{type(e).__name__}: {e}"
        if current_key is not None:
            report.dropped_partial += 1  # the sample the break ran through may have lost members
        return
    if current_key is not None:
        yield current_key, current
