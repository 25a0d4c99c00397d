"""One crawl file (WAT, WARC or ARC v1; gzip members or plain) into rows, record by record.

WAT files go through a lean reader of their JSON records (``watfile``); warcio reads all three (ARC records come back as WARC responses) and reads HTTP headers that end lines with
a bare LF correctly, where a reader waiting for CRLF would cut ~10 KB off each body. A file that breaks off
(a truncated download, a damaged member) keeps every row before the damage; the damage is recorded, not
raised: one bad file must not cost the unit. A record counts as cut short when warcio stops before its
Content-Length.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from sciclip.sources.cc.html import html_rows, is_html
from sciclip.sources.cc.rows import ParseStats, Row
from sciclip.sources.cc.wat import wat_rows
from sciclip.sources.cc.watfile import WatDamage, iter_records

log = logging.getLogger(__name__)

MAX_BODY = 16 << 20  # Common Crawl truncates bodies at 1 MiB (5 MiB since 2024); anything larger is not a page


def _http_header(record, name: str) -> list[str]:
    headers = record.http_headers
    if headers is None:
        return []
    lname = name.lower()
    return [v for k, v in headers.headers if k.lower() == lname]


def is_wat(path: Path) -> bool:
    return path.name.endswith((".wat.gz", ".wat"))


def _wat_rows(path: Path, stats: ParseStats, user_agent_token: str | None, max_body: int) -> Iterator[Row]:
    """A WAT file through the lean reader (``watfile``): the same rows, a fraction of warcio's time."""
    types = stats.record_types
    try:
        with open(path, "rb") as f:
            for rtype, ctype, block in iter_records(f, max_body):
                types[rtype] = types.get(rtype, 0) + 1
                if rtype == "metadata" and "json" in ctype:
                    rows = wat_rows(block, stats, user_agent_token)
                    stats.rows += len(rows)
                    yield from rows
    except WatDamage as e:
        stats.damaged = f"{path.name}: {e}"


def iter_rows(path: str | os.PathLike, stats: ParseStats, user_agent_token: str | None = None,
              max_body: int = MAX_BODY) -> Iterator[Row]:
    """Rows of every page of ``path``, in file order; ``stats`` counts records by type, pages, images and
    any damage (``stats.damaged``). WAT files (``*.wat.gz``) take the lean reader, the rest warcio."""
    path = Path(path)
    types = stats.record_types
    if is_wat(path):
        yield from _wat_rows(path, stats, user_agent_token, max_body)
        if stats.damaged:
            log.warning("%s; kept the %d rows before the damage", stats.damaged, stats.rows)
        return
    try:
        with open(path, "rb") as f:
            it = ArchiveIterator(f, arc2warc=True)
            for record in it:
                rtype = record.rec_type
                types[rtype] = types.get(rtype, 0) + 1
                rows: list[Row] = []
                if rtype == "metadata" and "json" in (record.rec_headers.get_header("Content-Type") or ""):
                    rows = wat_rows(record.content_stream().read(max_body), stats, user_agent_token)
                elif rtype == "response" and record.http_headers is not None:
                    ctype = record.http_headers.get_header("Content-Type") or ""
                    if is_html(ctype):
                        body = record.content_stream().read(max_body)
                        it.read_to_end(record)
                        rows = html_rows(body, record.rec_headers.get_header("WARC-Target-URI") or "", ctype,
                                         record.rec_headers.get_header("WARC-Identified-Content-Charset"),
                                         path.name, it.get_record_offset(), it.get_record_length(), stats,
                                         _http_header(record, "X-Robots-Tag"), user_agent_token)
                it.read_to_end(record)
                if getattr(record.raw_stream, "limit", 0) > 0:
                    stats.damaged = (f"{path.name}: record at offset {it.get_record_offset()} cut short "
                                     f"({record.raw_stream.limit} bytes missing)")
                stats.rows += len(rows)
                yield from rows
                if stats.damaged:
                    break
    except Exception as e:  # noqa: BLE001 - warcio raises many types on damaged input; keep what came before
        stats.damaged = f"{path.name}: {type(e).__name__}: {e}"
    if stats.damaged:
        log.warning("%s; kept the %d rows before the damage", stats.damaged, stats.rows)


def parse_file(path: str | os.PathLike, user_agent_token: str | None = None) -> tuple[list[Row], ParseStats]:
    stats = ParseStats(Path(path).name)
    rows = list(iter_rows(path, stats, user_agent_token))
    return rows, stats
