"""Reading WARC files for documents: HTML responses as pages, image responses as captured images.

A small reader of our own (warcio), until the Common Crawl source's WARC/WAT parser lands in
``sciclip.sources.cc``; it reads what that source's files hold: WARC/1.0 and 1.1 and ClueWeb's WARC/0.18,
gzipped per record or not, chunked or gzip transfer encodings (warcio undoes them, and keeps the body when
a ``Content-Encoding`` header lies). Damage (a lying Content-Length, a corrupt or cut gzip member, ARC
records without their separator) costs the damaged record only: ``warc_records`` resyncs at the next gzip
member or record header, and the file's damage is reported once, each place with its byte offset. HTML is decoded with the charset the response declares (HTTP header, or
WARC-Identified-Content-Charset, or a ``<meta>`` in the first 4 KiB), else UTF-8 when valid, else cp1252.
"""

from __future__ import annotations

import codecs
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from sciclip.sources.cc.warc_records import Damage, WarcRecords, summary

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")
_CHARSET_RE = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
MAX_PAGE_BYTES = 8 << 20


@dataclass(frozen=True)
class WarcPage:
    url: str
    body: bytes
    charset: str | None
    warc: str  # the file's name
    offset: int
    length: int
    date: str


def _header_charset(value: str | None) -> str | None:
    m = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_\-:.]+)", value or "", re.I)
    return m.group(1) if m else None


def _known(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def decode_html(body: bytes, charset: str | None) -> str:
    """The page as text: its declared charset, else a <meta> charset, else UTF-8 if valid, else cp1252."""
    for cs in (_known(charset), _known(_meta_charset(body))):
        if cs:
            return body.decode(cs, errors="replace")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def _meta_charset(body: bytes) -> str | None:
    m = _CHARSET_RE.search(body[:4096])
    return m.group(1).decode("ascii", "ignore") if m else None


def _content_type(record) -> str:
    h = record.http_headers
    return ((h.get_header("Content-Type") if h else None) or "").split(";")[0].strip().lower()


def iter_records(path: str | os.PathLike, on_damage: Callable[[str], None]) -> Iterator[tuple]:
    """(record, reader) of every 2xx response, the reader a ``WarcRecords`` (read bodies and places
    through it); a damaged file's damage goes to ``on_damage`` once, at its end."""
    name = os.path.basename(path)
    with open(path, "rb") as fh:
        records = WarcRecords(fh, name, arc2warc=True, check_digests=False)  # ARC records as WARC responses
        try:
            for record in records:
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                status = record.http_headers.get_statuscode()
                if status and not status.startswith("2"):
                    continue
                yield record, records
        except (OSError, EOFError, ValueError) as e:  # the file itself unreadable past here
            records.damage.append(Damage(-1, f"reading stopped ({type(e).__name__}: {e})"))
    if records.damage:
        on_damage(summary(name, records.damage))


def iter_pages(path: str | os.PathLike, on_damage: Callable[[str], None]) -> Iterator[WarcPage]:
    """The HTML pages of a WARC file, in file order."""
    name = os.path.basename(path)
    for record, records in iter_records(path, on_damage):
        if _content_type(record) not in HTML_TYPES:
            continue
        body = records.body(record, MAX_PAGE_BYTES + 1)
        if body is None:  # a broken body (bad chunking, bad gzip) costs this page only
            log.info("%s: a page unreadable", name)
            continue
        offset, length = records.location(record)
        if len(body) > MAX_PAGE_BYTES:
            continue
        h = record.rec_headers
        charset = (_header_charset(record.http_headers.get_header("Content-Type"))
                   or h.get_header("WARC-Identified-Content-Charset"))
        yield WarcPage(h.get_header("WARC-Target-URI") or "", body, charset, name, offset, length,
                       h.get_header("WARC-Date") or "")


def captured_images(path: str | os.PathLike, on_damage: Callable[[str], None]) -> dict[str, int]:
    """URL -> record offset of every image response (images the crawl captured itself)."""
    out: dict[str, int] = {}
    for record, records in iter_records(path, on_damage):
        if _content_type(record).startswith("image/"):
            out[record.rec_headers.get_header("WARC-Target-URI") or ""] = records.location(record)[0]
    return out


def read_payload(path: str | os.PathLike, offset: int, max_bytes: int) -> bytes | None:
    """The HTTP body of the record at ``offset`` (None when it is larger than ``max_bytes`` or unreadable)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            for record in ArchiveIterator(fh, check_digests=False):
                data = record.content_stream().read(max_bytes + 1)
                return data if len(data) <= max_bytes else None
    except (ArchiveLoadFailed, OSError, EOFError, ValueError):
        return None
    return None
