"""Reading untrusted archives without trusting them.

tarfile's ``filter="data"`` would still create symlinks inside the destination, and gzip will happily
inflate a few KiB into many GiB. Archive members here are only ever written as regular files, through
paths we build and check ourselves, below a scratch directory; every inflation is capped.
"""

from __future__ import annotations

import io
import logging
import os
import tarfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from sciclip.errors import Skip

log = logging.getLogger(__name__)

CHUNK = 1 << 20


def gunzip_capped(data: bytes, cap: int) -> bytes:
    """Inflate a (possibly multi-member) gzip stream, refusing to produce more than ``cap`` bytes."""
    out = bytearray()
    rest = data
    members = 0
    while rest:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            while rest:
                out += d.decompress(rest, cap + 1 - len(out))
                if len(out) > cap:
                    raise Skip("inflate_cap", f"inflates past {cap} bytes")
                rest = d.unconsumed_tail
        except zlib.error as e:
            if members:
                break  # junk after a complete member: keep what we have, as gzip(1) does
            raise Skip("corrupt_gzip", str(e)) from None
        if not d.eof:
            raise Skip("corrupt_gzip", "truncated gzip stream")
        members += 1
        rest = d.unused_data.lstrip(b"\x00")
    return bytes(out)


def safe_member_path(name: str) -> PurePosixPath | None:
    """The member's relative path, or None when it is absolute, climbs out with '..' or is empty."""
    if not name or "\x00" in name:
        return None
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return PurePosixPath(*parts)


@dataclass
class ExtractReport:
    files: list[PurePosixPath] = field(default_factory=list)
    refused: Counter = field(default_factory=Counter)
    bytes_written: int = 0
    damaged: str = ""  # non-empty: the archive broke off here, earlier members were kept


def extract_tar_bytes(data: bytes, dest: Path, max_bytes: int, max_members: int = 20_000) -> ExtractReport:
    """Write the regular files of a tar held in memory below ``dest``.

    Absolute names, '..', symlinks, hard links, devices and FIFOs are refused and counted; a member whose
    size would take the total past ``max_bytes`` stops the extraction (Skip "inflate_cap").
    """
    report = ExtractReport()
    dest = dest.resolve()
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")
    except tarfile.TarError as e:
        raise Skip("corrupt_paper_tar", str(e)) from None
    count = 0
    checked: set[Path] = set()
    try:
        for member in tar:
            count += 1
            if count > max_members:
                report.refused["too_many_members"] += 1
                break
            kind = _refusal(member)
            if kind == "dir":
                continue
            if kind:
                report.refused[kind] += 1
                log.debug("refused tar member %r (%s)", member.name, kind)
                continue
            rel = safe_member_path(member.name)
            if rel is None:
                report.refused["unsafe_path"] += 1
                log.debug("refused tar member %r (unsafe path)", member.name)
                continue
            if report.bytes_written + member.size > max_bytes:
                raise Skip("inflate_cap", f"paper inflates past {max_bytes} bytes")
            src = tar.extractfile(member)
            if src is None:
                report.refused["unreadable"] += 1
                continue
            _write_below(dest, rel, src, checked)
            report.files.append(rel)
            report.bytes_written += member.size
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        report.damaged = f"{type(e).__name__}: {e}"
    finally:
        tar.close()
    return report


def _refusal(member: tarfile.TarInfo) -> str:
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    if member.isfifo():
        return "fifo"
    if member.isdev():
        return "device"
    if not member.isreg():
        return "special"
    return ""


def _write_below(dest: Path, rel: PurePosixPath, src: io.BufferedReader, checked: set[Path]) -> None:
    """Create ``dest/rel`` as a new regular file, never following a link on the way. ``checked``: parents
    already verified in this extraction (we never create links, so a verified directory stays inside)."""
    target = dest.joinpath(*rel.parts)
    parent = target.parent
    if parent not in checked:
        parent.mkdir(parents=True, exist_ok=True)
        # Belt and braces: we never create links, but refuse to write if the resolved parent left dest.
        if not str(parent.resolve()).startswith(str(dest)):
            raise Skip("unsafe_path", f"{rel} resolves outside the scratch directory")
        checked.add(parent)
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise Skip("unsafe_path", f"{rel} collides with a non-file")
    target.unlink(missing_ok=True)  # tar semantics: a later member of the same name wins
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, 0o644)
    with os.fdopen(fd, "wb") as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)


@dataclass
class OuterMember:
    """A member's bytes and where they lie: ``offset`` is the first data byte in the tar stream (the file
    offset for an uncompressed tarball such as arXiv's bulk ones), so a reader can seek straight to it."""

    name: str
    data: bytes
    offset: int = 0


class ArchiveDamaged(Exception):
    """Raised after the last good member of a truncated or corrupt archive was yielded."""


def tar_open_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a tar archive at all (no readable first header), or None when it starts like one.

    Compressed tars are looked into (``r|*``); an archive of no members is a tar. Only the first header is
    read, so this is cheap on a 500 MB tarball.
    """
    try:
        with tarfile.open(path, mode="r|*"):
            return None
    except (tarfile.TarError, EOFError, zlib.error) as e:
        return str(e) or type(e).__name__
    except OSError as e:
        return e.strerror or str(e)


def iter_tar_members(path: str | os.PathLike, max_member_bytes: int,
                     on_refused=None) -> Iterator[OuterMember]:
    """Stream the regular-file members of a (possibly huge) tarball without seeking.

    A truncated or corrupt archive yields every whole member before the damage and then raises
    ``ArchiveDamaged`` naming the place, so callers keep the good part and log the break.
    """
    try:
        tar = tarfile.open(path, mode="r|*")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise ArchiveDamaged(f"{path}: not a readable tar archive ({e})") from None
    last = "<start>"
    try:
        for member in tar:
            if not member.isreg():
                if not member.isdir() and on_refused:
                    on_refused(member.name, _refusal(member) or "special")
                continue
            if member.size > max_member_bytes:
                if on_refused:
                    on_refused(member.name, "member_too_large")
                continue
            f = tar.extractfile(member)
            assert f is not None
            data = f.read()
            if len(data) != member.size:
                raise EOFError(f"member {member.name} is cut short")
            last = member.name
            yield OuterMember(member.name, data, member.offset_data)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        where = "in its first member" if last == "<start>" else f"after member {last!r}"
        raise ArchiveDamaged(f"{path}: archive damaged {where} ({type(e).__name__}: {e})") from None
    finally:
        tar.close()
