"""One crawl file (WAT, WARC or ARC v1; gzip members or plain) into rows, record by record.

WAT files go through a lean reader of their JSON records (``watfile``); warcio reads all three (ARC records
come back as WARC responses; ``warc_records`` drives it) and reads HTTP headers that end lines with a bare LF
correctly, where a reader waiting for CRLF would cut ~10 KB off each body. Damage (a lying Content-Length, a
corrupt or cut gzip member, ARC records without their separating newline) costs the damaged record, not the
file: both readers resync at the next gzip member or record header, and every resync is counted with its
byte offset (``ParseStats.damages``, ``damaged``) and logged. One bad file must not cost the unit.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from sciclip.sources.cc.html import html_rows, is_html
from sciclip.sources.cc.rows import ParseStats, Row
from sciclip.sources.cc.warc_records import Damage, WarcRecords, summary
from sciclip.sources.cc.wat import wat_rows
from sciclip.sources.cc.watfile import iter_records

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


def _wat_rows(path: Path, stats: ParseStats, user_agent_token: str | None, max_body: int,
              damage: list[Damage]) -> Iterator[Row]:
    """A WAT file through the lean reader (``watfile``): the same rows, a fraction of warcio's time."""
    types = stats.record_types
    with open(path, "rb") as f:
        for rtype, ctype, block in iter_records(f, max_body, damage.append):
            types[rtype] = types.get(rtype, 0) + 1
            if rtype == "metadata" and "json" in ctype:
                rows = wat_rows(block, stats, user_agent_token)
                stats.rows += len(rows)
                yield from rows


def _warc_rows(path: Path, stats: ParseStats, user_agent_token: str | None, max_body: int,
               damage: list[Damage]) -> Iterator[Row]:
    """A WARC or ARC file (or a WAT under another name) through warcio."""
    types = stats.record_types
    with open(path, "rb") as f:
        records = WarcRecords(f, path.name, arc2warc=True)
        try:
            for record in records:
                rtype = record.rec_type
                types[rtype] = types.get(rtype, 0) + 1
                rows: list[Row] = []
                if rtype == "metadata" and "json" in (record.rec_headers.get_header("Content-Type") or ""):
                    block = records.body(record, max_body)
                    rows = wat_rows(block, stats, user_agent_token) if block is not None else []
                    stats.bad_records += block is None
                elif rtype == "response" and record.http_headers is not None:
                    ctype = record.http_headers.get_header("Content-Type") or ""
                    if is_html(ctype):
                        body = records.body(record, max_body)
                        if body is None:
                            stats.bad_records += 1
                        else:
                            offset, length = records.location(record)
                            rows = html_rows(body, record.rec_headers.get_header("WARC-Target-URI") or "", ctype,
                                             record.rec_headers.get_header("WARC-Identified-Content-Charset"),
                                             path.name, offset, length, stats, _http_header(record, "X-Robots-Tag"),
                                             user_agent_token)
                stats.rows += len(rows)
                yield from rows
        finally:
            damage += records.damage


def iter_rows(path: str | os.PathLike, stats: ParseStats, user_agent_token: str | None = None,
              max_body: int = MAX_BODY) -> Iterator[Row]:
    """Rows of every page of ``path``, in file order; ``stats`` counts records by type, pages, images and
    any damage (``stats.damages``, ``stats.damaged``). WAT files (``*.wat.gz``) take the lean reader, the
    rest warcio."""
    path = Path(path)
    damage: list[Damage] = []
    read = _wat_rows if is_wat(path) else _warc_rows
    try:
        yield from read(path, stats, user_agent_token, max_body, damage)
    except Exception as e:  # noqa: BLE001 - a failure no resync foresaw still keeps the rows before it
        damage.append(Damage(-1, f"reading stopped ({type(e).__name__}: {e})"))
    if damage:
        stats.damages += len(damage)
        stats.damaged = summary(path.name, damage)
        log.warning("%s; kept every readable record (%d rows)", stats.damaged, stats.rows)


def parse_file(path: str | os.PathLike, user_agent_token: str | None = None) -> tuple[list[Row], ParseStats]:
    stats = ParseStats(Path(path).name)
    rows = list(iter_rows(path, stats, user_agent_token))
    return rows, stats
