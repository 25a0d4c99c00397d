"""A lean reader of WAT files: WARC records of JSON, each its own gzip member, nothing else to interpret.

warcio's generic record machinery (buffered readers, full header parsing, HTTP detection) costs more than
the JSON itself on a WAT file, where every record is a ``metadata`` record with a JSON block. Here ISA-L
(python-isal: zlib's interface at about 1.3-1.5x its speed) inflates one gzip member at a time (Common
Crawl writes one record per member, so a member's output is usually exactly one record and is cut up
without copying into a stream buffer) and records are split by their ``Content-Length``; only
``WARC-Type`` and ``Content-Type`` are read from the headers. Records spanning members, or members holding
several, take the same path through a small carry-over buffer. Damage (bad deflate data, a file cut inside
a member or a record) ends the stream with ``WatDamage`` after every complete record was yielded.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from typing import BinaryIO

from isal import isal_zlib

FEED = 1 << 13  # compressed bytes fed at a time: most members fit, and unused_data stays small to copy
_WANTED = (b"warc-type", b"content-type", b"content-length")


class WatDamage(Exception):
    """The file breaks off or is corrupt here."""


def _members(f: BinaryIO) -> Iterator[bytes]:
    """The inflated output of each gzip member (a plain file: its whole content, once). The compressed
    bytes are fed as views of the mapped file, not copies."""
    try:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except (ValueError, OSError):  # empty file, or not a real file
        data = f.read()
    view = memoryview(data)
    try:
        if data[:2] != b"\x1f\x8b":
            yield bytes(data[:])
            return
        pos, n, members = 0, len(data), 0
        while pos < n:
            d = isal_zlib.decompressobj(31)
            out = []
            fed = pos
            try:
                while not d.eof:
                    if fed >= n:
                        raise WatDamage(f"the gzip stream ends inside member {members + 1}")
                    out.append(d.decompress(view[fed:fed + FEED]))
                    fed = min(fed + FEED, n)
            except isal_zlib.error as e:
                raise WatDamage(f"corrupt gzip data in member {members + 1} ({e})") from None
            pos = fed - len(d.unused_data)
            members += 1
            yield out[0] if len(out) == 1 else b"".join(out)
    finally:
        view.release()
        if isinstance(data, mmap.mmap):
            data.close()


def _headers(block: bytes) -> dict[bytes, str]:
    """The three headers this reader needs, by lower-case name (a repeated one: its last value). A loop over
    the lines: 1.6x the speed of one pattern finding the three (measured, min of 7, on 30,000 heads)."""
    out: dict[bytes, str] = {}
    for line in block.split(b"\r\n")[1:]:
        key, sep, value = line.partition(b":")
        key = key.strip().lower()
        if sep and key in _WANTED:
            out[key] = value.strip().decode("utf-8", "replace")
    return out


def _split(data: bytes, max_block: int) -> tuple[list[tuple[str, str, bytes]], int]:
    """The complete records at the start of ``data`` and where the first incomplete one begins."""
    records = []
    pos = 0
    while True:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            return records, pos
        head = data[pos:end]
        if not head.startswith(b"WARC/"):
            raise WatDamage(f"not a WARC record at inflated offset {pos}")
        fields = _headers(head)
        try:
            length = int(fields.get(b"content-length", "x"))
        except ValueError:
            raise WatDamage("a record without a valid Content-Length") from None
        start = end + 4
        if len(data) < start + length + 4:
            return records, pos
        block = data[start:start + length] if length <= max_block else b""
        records.append((fields.get(b"warc-type", ""), fields.get(b"content-type", ""), block))
        pos = start + length + 4


def iter_records(f: BinaryIO, max_block: int) -> Iterator[tuple[str, str, bytes]]:
    """(WARC-Type, Content-Type, block) of each record; blocks above ``max_block`` bytes come back empty."""
    carry = b""
    for out in _members(f):
        data = carry + out if carry else out
        records, used = _split(data, max_block)
        yield from records
        carry = data[used:]
    if carry.strip():
        raise WatDamage(f"a record cut short ({len(carry)} bytes of it inflated)")
