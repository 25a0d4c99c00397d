"""A minimal USTAR reader and writer for the shard hot paths.

Python's tarfile spends most of a reshard building and parsing header objects (about 70% of the time in a
profile). Shards are plain USTAR archives of small regular files, so here headers are sliced and formatted
directly. The writer emits exactly the bytes tarfile writes for ``shard_writer.tar_member`` entries (a test
holds it to that); the reader handles regular USTAR/V7 members and raises ``Unsupported`` on PAX or GNU
extension headers, for which callers fall back to tarfile.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

BLOCK = 512
RECORD = 20 * BLOCK


class Unsupported(Exception):
    """A header this reader does not interpret (PAX, GNU long names, base-256 sizes): use tarfile."""


class Damaged(Exception):
    """A bad checksum or a cut-off member."""


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


_MODE, _ID, _MTIME = _octal(0o444, 8), _octal(0, 8), _octal(0, 12)
_TAIL = (b"0" + b"\0" * 100 + b"ustar\x0000" + b"\0" * 32 + b"\0" * 32 + b"\0" * 8 + b"\0" * 8
         + b"\0" * 155 + b"\0" * 12)


def header(name: str, size: int) -> bytes:
    """The USTAR header tarfile writes for ``shard_writer.tar_member(name, data)`` (mode 0444, owner 0,
    mtime 0, empty user/group names)."""
    raw = name.encode("utf-8")
    if len(raw) > 100:
        raise ValueError(f"member name longer than 100 bytes: {name!r}")
    head = raw.ljust(100, b"\0") + _MODE + _ID + _ID + _octal(size, 12) + _MTIME
    block = head + b" " * 8 + _TAIL
    chksum = sum(block)
    return block[:148] + b"%06o\0" % chksum + b" " + block[156:]


class TarWriter:
    """Append-only writer of (name, bytes) members; ``close`` writes the end-of-archive like tarfile."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.offset = 0

    def add(self, name: str, data: bytes) -> None:
        pad = -len(data) % BLOCK
        self.f.write(header(name, len(data)))
        self.f.write(data)
        if pad:
            self.f.write(b"\0" * pad)
        self.offset += BLOCK + len(data) + pad

    def close(self) -> None:
        self.f.write(b"\0" * (2 * BLOCK))
        self.offset += 2 * BLOCK
        rest = -self.offset % RECORD
        if rest:
            self.f.write(b"\0" * rest)
            self.offset += rest


def iter_members(f: BinaryIO) -> Iterator[tuple[str, int]]:
    """(name, size) of each regular member; the caller then reads ``size`` bytes or calls ``skip``.

    Directories and other non-file entries are skipped. Raises Unsupported / Damaged as documented.
    """
    while True:
        hdr = f.read(BLOCK)
        if len(hdr) < BLOCK:
            if not hdr:
                return
            raise Damaged("truncated header")
        if hdr == b"\0" * BLOCK:
            return
        stored = hdr[148:156].strip(b"\0 ")
        try:
            if int(stored or b"0", 8) != sum(hdr[:148]) + 256 + sum(hdr[156:]):
                raise Damaged("bad header checksum")
        except ValueError:
            raise Damaged("bad header checksum") from None
        kind = hdr[156:157]
        if kind in (b"x", b"g", b"L", b"K") or hdr[124] & 0x80:
            raise Unsupported(kind.decode("latin-1") or "size")
        try:
            size = int(hdr[124:136].strip(b"\0 ") or b"0", 8)
        except ValueError:
            raise Damaged("bad size field") from None
        name = hdr[:100].split(b"\0", 1)[0]
        if hdr[257:262] == b"ustar":
            prefix = hdr[345:500].split(b"\0", 1)[0]
            if prefix:
                name = prefix + b"/" + name
        if kind in (b"0", b"\0", b"7"):
            yield name.decode("utf-8", "surrogateescape"), size
        else:
            skip(f, size)


def read_data(f: BinaryIO, size: int) -> bytes:
    data = f.read(size)
    if len(data) != size:
        raise Damaged("member cut short")
    pad = -size % BLOCK
    if pad:
        f.seek(pad, os.SEEK_CUR)
    return data


def skip(f: BinaryIO, size: int) -> None:
    f.seek(size + (-size % BLOCK), os.SEEK_CUR)
