"""Every readable record of a WARC or ARC file, through warcio, resynced after damage instead of ended by it.

warcio reads a record by its ``Content-Length``; when that lies, or a gzip member is corrupt, or an ARC file
leaves out the newline between records (Internet Archive ARC v1 files do: warcio warns "Record not followed
by newline" and then fails "Unknown archive format"), it loses its place and every record after the damage.
``WarcRecords`` keeps warcio as the reader and finds the place again: in a gzip file at the next gzip
member that inflates to a record header, in a plain file at the next line that starts a record (``WARC/1.x``
or an ARC header line: ``url ip yyyymmddhhmmss mime length``). Each resync is one ``Damage`` (its byte
offset and what was wrong), logged; the records on both sides of it are read.

What is checked where: in a plain file each record's end is looked at before the record is handed out (the
separator, then a record header or the end of the file): a record whose length runs past the next
record's header is not handed out (its block holds the next record's bytes), one whose length stops short
or that lacks the separator is, and reading resumes at the next header. In a gzip file a record is finished
(warcio reads to its end) after the caller is done with it: more bytes in its member than its length says,
or a member that does not inflate, resyncs at the next member; a member that ends before its record's
length (a lie or a truncated write) is counted, and warcio goes on at the next member itself.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator

log = logging.getLogger(__name__)

_START = (rb"WARC/\d+\.\d+\r?\n"  # a WARC record's version line
          rb"|[A-Za-z][A-Za-z0-9+.\-]*:\S* \S+ \d{12,14} \S+(?: \S+){0,5} \d+\r?\n")  # an ARC v1/v2 header line
RECORD_START = re.compile(_START)
NEXT_RECORD_LINE = re.compile(rb"\n(?=" + _START + rb")")
_GZIP_MAGIC = b"\x1f\x8b\x08"
_SCAN = 1 << 20  # bytes searched at a time for the next record
_OVERLAP = 1 << 16  # longest record header line looked for across two reads
_PEEK = 1 << 13  # bytes looked at past a record's end


@dataclass(frozen=True)
class Damage:
    offset: int
    what: str

    def __str__(self) -> str:
        return f"at byte {self.offset}: {self.what}" if self.offset >= 0 else self.what


def summary(name: str, damage: list[Damage], shown: int = 5) -> str:
    """One line naming a file's damage (the first ``shown`` places, then how many more)."""
    more = f"; and {len(damage) - shown} more" if len(damage) > shown else ""
    return f"{name}: {len(damage)} damaged place(s), resynced: " + "; ".join(map(str, damage[:shown])) + more


class WarcRecords:
    """``for record in WarcRecords(f, name):`` every record warcio can read, in file order; ``damage`` lists
    where it was resynced. Read a record's body with ``body`` (archive damage found there resyncs; a body
    that only fails to decode is None) and its place with ``location``."""

    def __init__(self, fh: BinaryIO, name: str = "", *, arc2warc: bool = False, check_digests: bool = False) -> None:
        self.fh = fh
        self.name = name
        self.kwargs = {"arc2warc": arc2warc, "check_digests": check_digests}
        self.damage: list[Damage] = []
        self.start = fh.tell()
        self.size = fh.seek(0, 2)
        fh.seek(self.start)
        self.gzip = fh.read(2) == b"\x1f\x8b"
        fh.seek(self.start)
        self._it: ArchiveIterator | None = None
        self._state: _Current | None = None

    def __iter__(self) -> Iterator:
        pos: int | None = self.start
        while pos is not None:
            pos = yield from self._from(pos)

    def body(self, record, limit: int) -> bytes | None:
        """The record's content (transfer and content encodings undone), at most ``limit`` bytes."""
        try:
            return record.content_stream().read(limit)
        except Exception:  # noqa: BLE001 - decoders and warcio raise many types
            self._finish()  # the archive's own bytes unreadable too: damage, resynced after the record
            return None

    def location(self, record) -> tuple[int, int]:
        """(offset, length) of the record in the file (its gzip member, or its bytes up to the next record)."""
        self._finish()
        assert self._state is not None and self._state.where is not None
        return self._state.where

    # --- the reading loop -----------------------------------------------------------------------------------

    def _from(self, pos: int):
        """Records from ``pos`` until the end or damage; returns where to go on (None: the end)."""
        self.fh.seek(pos)
        it = self._it = ArchiveIterator(self.fh, **self.kwargs)
        records = iter(it)
        while True:
            start = it.offset  # the next record's place (warcio sets it when it finishes a record)
            try:
                record = next(records)
            except StopIteration:  # warcio also stops, silently, at a gzip member cut off before its first line
                if start < self.size and self._peek(start, _PEEK).strip(b"\r\n"):
                    return self._resync(start, "bytes that hold no whole record (a file cut off?)")
                return None
            except Exception as e:  # noqa: BLE001 - warcio raises many types on damaged input
                return self._resync(start, f"no readable record here ({type(e).__name__}: {_short(e)})")
            state = self._state = _Current(record, start)
            if not self.gzip:
                skip_to = self._check_plain(state)
                if skip_to != -1:
                    return skip_to
            yield record
            self._finish()
            if state.broken:
                return self._resync(start, state.broken)
            if state.restart != -1:
                return state.restart

    def _finish(self) -> None:
        """Read the current record to its end once, noting what that shows."""
        state, it = self._state, self._it
        if state is None or it is None or state.finished:
            return
        state.finished = True
        if state.where is not None:  # a plain record whose end was decided before it was handed out
            return
        errors = it.err_count
        try:
            it.read_to_end(state.record)
        except Exception as e:  # noqa: BLE001 - a corrupt gzip member, a file cut off
            state.broken = f"record unreadable ({type(e).__name__}: {_short(e)})"
            state.where = (state.start, 0)
            return
        state.where = (it.get_record_offset(), it.get_record_length())
        missing = getattr(state.record.raw_stream, "limit", 0)
        if it.err_count > errors:  # warcio read a line past the length that was not blank
            state.broken = "more bytes in the record's gzip member than its Content-Length says"
        elif missing > 0:
            self._note(state.start, f"record cut short ({missing} bytes of its Content-Length missing)")

    def _check_plain(self, state: _Current) -> int:
        """A plain file's record, before it is handed out: -1 to hand it out (``state.restart``: where to go
        on after it, -1 where warcio goes on itself), else where to go on without it."""
        it, record = self._it, state.record
        limit = getattr(record.raw_stream, "limit", None)
        if limit is None:  # no Content-Length: the block's end is unknown
            nxt = self._next_start(state.start + 1)
            self._note(state.start, "a record without a Content-Length; record skipped")
            return nxt
        end = self.fh.tell() - it.reader.rem_length() + limit
        tail = self._peek(end, _PEEK)
        rest = tail.lstrip(b"\r\n")
        starts = RECORD_START.match(rest) is not None
        if (starts and len(rest) < len(tail)) or (not rest and end <= self.size):
            return -1  # the separator, then the next record or the end: as it should be
        nxt = self._next_start(state.start + 1)
        if nxt is not None and nxt < end:
            self._note(state.start, f"the record's Content-Length runs past the next record (at byte {nxt}); "
                                    "record skipped")
            return nxt
        if not rest:
            return -1  # the file ends inside the record: warcio reads what there is (cut short)
        state.where = (state.start, end - state.start)
        if starts:
            self._note(end, "no separator between two records")
            state.restart = end
        else:
            self._note(end, "bytes that start no record after the record's Content-Length")
            state.restart = nxt if nxt is not None else self.size
        return -1

    def _resync(self, start: int, what: str) -> int | None:
        nxt = self._next_member(start + 1) if self.gzip else self._next_start(start + 1)
        self._note(start, what + (f"; resynced at byte {nxt}" if nxt is not None else "; nothing readable after it"))
        return nxt

    def _note(self, offset: int, what: str) -> None:
        self.damage.append(Damage(offset, what))
        log.warning("%s: damage at byte %d: %s", self.name or "archive", offset, what)

    # --- finding the next record ------------------------------------------------------------------------------

    def _peek(self, pos: int, n: int) -> bytes:
        here = self.fh.tell()
        try:
            self.fh.seek(pos)
            return self.fh.read(n)
        finally:
            self.fh.seek(here)

    def _scan(self, pos: int, find) -> int | None:
        """The first place at or after ``pos`` that ``find(data, base)`` reports, reading in chunks."""
        while pos < self.size:
            data = self._peek(pos, _SCAN + _OVERLAP)
            hit = find(data, pos)
            if hit is not None:
                return hit
            if len(data) <= _SCAN:
                return None
            pos += _SCAN
        return None

    def _next_start(self, pos: int) -> int | None:
        """The next line at or after ``pos`` that starts a record (plain files)."""
        def find(data: bytes, base: int) -> int | None:
            m = NEXT_RECORD_LINE.search(data)
            return base + m.start() + 1 if m and m.start() < _SCAN else None
        return self._scan(pos - 1, find)

    def _next_member(self, pos: int) -> int | None:
        """The next gzip member at or after ``pos`` whose first bytes inflate to a record header."""
        def find(data: bytes, base: int) -> int | None:
            i = data.find(_GZIP_MAGIC)
            while 0 <= i < _SCAN:
                if starts_record(self._peek(base + i, _OVERLAP)):
                    return base + i
                i = data.find(_GZIP_MAGIC, i + 1)
            return None
        return self._scan(pos, find)


def starts_record(member: bytes) -> bool:
    """Whether the gzip member that starts ``member`` inflates to a record header."""
    try:
        head = zlib.decompressobj(31).decompress(member, 512)
    except zlib.error:
        return False
    return RECORD_START.match(head) is not None


def _short(e: Exception) -> str:
    """An error's message for a log line: one line, ASCII (warcio quotes the bytes it could not read), short."""
    return " ".join(str(e).split()).encode("ascii", "backslashreplace").decode()[:160]


class _Current:
    """What is known about the record being read."""

    __slots__ = ("record", "start", "where", "broken", "restart", "finished")

    def __init__(self, record, start: int) -> None:
        self.record = record
        self.start = start
        self.where: tuple[int, int] | None = None
        self.broken = ""  # damage found while reading it: resync after it
        self.restart = -1  # where to go on after it (-1: warcio goes on)
        self.finished = False
