"""Reading WebDataset shards as whole samples, tolerant of truncation: what every stage that reads
shards (heal, conversion, descriptors, the report) shares."""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.shards import fast_tar

IMAGE_EXTS = ("jpg", "jpeg", "png", "webp")
CAPTION_EXTS = ("txt",)


def check_shards(paths: list[Path]) -> None:
    """Refuse files that are not tar archives at all (a whole first header that is no tar header: text,
    random bytes). A shard cut off anywhere, even inside its first header, is a damaged shard instead: the
    readers keep its whole samples and report the break."""
    from sciclip.storage.safe_archive import tar_open_problem

    for p in paths:
        if p.stat().st_size >= 512:
            problem = tar_open_problem(p)
            if problem:
                raise SciclipError(f"{p}: not a tar archive ({problem})")


def cut_in_a_header(path: Path, offset: int) -> str | None:
    """Damage tarfile does not report: a stream that breaks off inside a header block just ends, as if the
    archive were complete. Bytes after the last member (``offset``) that are neither a whole block nor zeros
    are such a cut. (A cut exactly between members looks like a tar without its end blocks: undetectable.)"""
    size = path.stat().st_size
    if size <= offset or size - offset >= 512:
        return None
    with open(path, "rb") as f:
        head = f.read(6)
        if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head == b"\xfd7zXZ\x00":
            return None  # compressed: offsets are not file positions
        f.seek(offset)
        rest = f.read()
    return f"ReadError: cut inside the header at byte {offset}" if rest.strip(b"\0") else None


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
    """Whole samples of one tar, in order; a truncated tar ends the stream after the last whole one.

    Plain USTAR shards (ours, img2dataset's) go through ``fast_tar`` (tarfile's header objects cost two thirds
    of a conversion in a profile); compressed tars and PAX/GNU headers through tarfile, with the same result.
    """
    try:
        with open(path, "rb") as f:
            compressed = f.read(6).startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ"))
    except OSError as e:
        report.truncated = f"{type(e).__name__}: {e}"
        return
    done = 0
    if not compressed:
        try:
            for sample in _read_fast(path, report):
                done += 1
                yield sample
            return
        except fast_tar.Unsupported:
            pass  # tarfile takes over where the fast reader stopped
    for i, sample in enumerate(_read_tarfile(path, report)):
        if i >= done:
            yield sample


def _read_fast(path: Path, report: ShardReport) -> Iterator[tuple[str, dict[str, bytes]]]:
    current_key: str | None = None
    current: dict[str, bytes] = {}
    try:
        with open(path, "rb", buffering=1 << 20) as f:
            for name, size in fast_tar.iter_members(f):
                key, ext = split_key(name)
                if key != current_key:
                    if current_key is not None:
                        yield current_key, current
                    current_key, current = key, {}
                current[ext] = fast_tar.read_data(f, size)
    except (fast_tar.Damaged, OSError) as e:
        report.truncated = f"{type(e).__name__}: {e}"
        if current_key is not None:
            report.dropped_partial += 1
        return
    if current_key is not None:
        yield current_key, current


def _read_tarfile(path: Path, report: ShardReport) -> Iterator[tuple[str, dict[str, bytes]]]:
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
            cut = cut_in_a_header(path, tar.offset)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        cut = f"{type(e).__name__}: {e}"
    if cut:
        report.truncated = cut
        if current_key is not None:
            report.dropped_partial += 1  # the sample the break ran through may have lost members
        return
    if current_key is not None:
        yield current_key, current
