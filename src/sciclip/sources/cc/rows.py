"""The row a parser emits (one image occurrence and one text attribute) and what it counts per file."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.storage.atomic import atomic_path


class Row(NamedTuple):
    """One (image, text) occurrence. ``warc_*`` locate the page's WARC record (from a WAT, the WARC the
    metadata describes), so a page can be fetched again with one range request. A named tuple: a WAT file
    makes hundreds of thousands, and a frozen dataclass costs five times as much to build."""

    url: str
    text: str
    attr: str
    page_url: str
    warc_filename: str
    warc_record_offset: int
    warc_record_length: int


ROW_FIELDS = Row._fields
ROW_SCHEMA = pa.schema([pa.field(n, pa.int64() if n.startswith("warc_record") else pa.string()) for n in ROW_FIELDS])


def rows_table(rows: Sequence[Row], schema: pa.Schema = ROW_SCHEMA) -> pa.Table:
    """Rows as columns: one transpose, not a getattr per row and field."""
    columns = zip(*rows) if rows else [() for _ in ROW_FIELDS]
    return pa.table(dict(zip(ROW_FIELDS, columns)), schema=schema)


@dataclass
class ParseStats:
    """Per input file: what was there and what was taken (the quality checks against ground truth read it)."""

    file: str
    record_types: dict = field(default_factory=dict)
    html_pages: int = 0
    img_tags: int = 0  # <img> elements (WARC) or IMG@/src links (WAT)
    img_with_alt: int = 0  # of those, with a non-empty alt after cleaning
    images: int = 0  # of those, with an http(s) URL
    rows: int = 0
    pages_opted_out: int = 0
    bad_records: int = 0  # undecodable JSON or HTML
    damages: int = 0  # places the reader resynced after damage (records on both sides are read)
    damaged: str | None = None  # those places (byte offsets) and what was wrong there

    def add(self, other: ParseStats) -> None:
        for k, v in other.record_types.items():
            self.record_types[k] = self.record_types.get(k, 0) + v
        for name in ("html_pages", "img_tags", "img_with_alt", "images", "rows", "pages_opted_out", "bad_records",
                     "damages"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict:
        return asdict(self)


def write_rows(rows: Iterable[Row], out: str | os.PathLike, schema: pa.Schema = ROW_SCHEMA, batch: int = 50_000) -> int:
    """Stream ``rows`` into the parquet file ``out`` atomically (readers never see half a file); returns
    the row count."""
    n = 0
    buf: list[Row] = []
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for row in rows:
            buf.append(row)
            if len(buf) >= batch:
                writer.write_table(rows_table(buf, schema))
                n += len(buf)
                buf = []
        writer.write_table(rows_table(buf, schema))
        n += len(buf)
    return n
