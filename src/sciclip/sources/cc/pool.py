"""One unit's crawl files into its matched pool: parse, filter texts, match, write one parquet.

A row is kept when its text has at least ``min_text_chars`` characters, passes the optional language ID
(py3langid, whose model ships inside the wheel; off by default, as in MetaCLIP's WAT path) and matches at
least one metadata entry. No dedup and no balancing here: both need the whole pool (the gather step).
Files are independent, so several run in worker processes that inherit the matcher (built once).
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from sciclip.sources.cc.archive import iter_rows
from sciclip.sources.cc.matching import Matcher
from sciclip.sources.cc.rows import ROW_SCHEMA, ParseStats, Row, rows_table
from sciclip.sources.pool import ordered_map
from sciclip.storage.atomic import atomic_path, atomic_write_bytes

MATCHED_SCHEMA = ROW_SCHEMA.append(pa.field("crawl", pa.string())).append(
    pa.field("entry_ids", pa.list_(pa.int32()))).append(pa.field("language", pa.string()))


@dataclass(frozen=True)
class PoolOptions:
    min_text_chars: int = 1
    languages: tuple[str, ...] = ()  # empty: no language ID
    user_agent_token: str | None = None


@dataclass
class FileResult:
    stats: ParseStats
    table: pa.Table = field(default_factory=MATCHED_SCHEMA.empty_table)
    too_short: int = 0
    other_language: int = 0
    unmatched: int = 0
    seconds: float = 0.0


BATCH_ROWS = 4096  # rows parsed, then filtered and matched as columns, at a time
_MATCHER: Matcher | None = None  # set before the worker pool starts, inherited by fork


def _language(text: str) -> str:
    import py3langid

    return py3langid.classify(text)[0]


def _batches(rows: Iterator[Row], size: int) -> Iterator[list[Row]]:
    it = iter(rows)
    while batch := list(islice(it, size)):
        yield batch


def match_file(path: str, crawl: str, opts: PoolOptions, matcher: Matcher | None = None) -> FileResult:
    """The matched rows of one crawl file, as an Arrow table.

    Rows come in batches and go into Arrow at once: the length filter, the matching and the choice of
    rows then run over whole columns, and no row is visited again in Python once it has gone cold.

    The cyclic garbage collector is paused for the file: the loop makes no reference cycles (its rows,
    lists and decoded JSON are freed by reference counting), yet the rows set off a collection every few
    hundred allocations, and its full passes walk every object the job holds: ~2.2 core-s on a
    45,000-page WAT (timed with gc.callbacks), for nothing found."""
    with _collector_paused():
        return _match_file(path, crawl, opts, matcher or _MATCHER)


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _match_file(path: str, crawl: str, opts: PoolOptions, matcher: Matcher) -> FileResult:
    started = time.process_time()
    stats = ParseStats(Path(path).name)
    res = FileResult(stats)
    tables: list[pa.Table] = []
    for batch in _batches(iter_rows(path, stats, opts.user_agent_token), BATCH_ROWS):
        table = rows_table(batch)
        table = table.filter(pc.greater_equal(pc.utf8_length(table["text"]), opts.min_text_chars))
        res.too_short += len(batch) - table.num_rows
        langs = pa.nulls(table.num_rows, pa.string())
        if opts.languages:
            found = pa.array([_language(text) for text in table["text"].to_pylist()], pa.string())
            keep = pc.is_in(found, pa.array(opts.languages, pa.string()))
            table, langs = table.filter(keep), found.filter(keep)
            res.other_language += len(found) - table.num_rows
        kept = matcher.matching_rows(table.append_column("language", langs))
        res.unmatched += table.num_rows - kept.num_rows
        if kept.num_rows:
            kept = kept.append_column("crawl", pa.array([crawl] * kept.num_rows, pa.string()))
            tables.append(pa.Table.from_arrays(kept.select(MATCHED_SCHEMA.names).columns, schema=MATCHED_SCHEMA))
    # one chunk: the parquet file's pages then do not depend on where batches happened to end
    res.table = pa.concat_tables(tables or [MATCHED_SCHEMA.empty_table()]).combine_chunks()
    res.seconds = time.process_time() - started
    return res


def _work(args: tuple) -> FileResult:
    return match_file(*args)


def build_pool(files: list[tuple[str, str]], matcher: Matcher, out: str | os.PathLike, opts: PoolOptions,
               workers: int = 1, summary: str | os.PathLike | None = None) -> dict:
    """Match every (path, crawl) of a unit into ``out`` (parquet, file order); returns the unit's summary."""
    import pyarrow.parquet as pq

    global _MATCHER
    _MATCHER = matcher
    report: dict = {"files": [], "rows_parsed": 0, "rows_matched": 0, "too_short": 0, "other_language": 0,
                    "unmatched": 0, "core_seconds": 0.0}
    try:
        with atomic_path(out) as tmp, pq.ParquetWriter(tmp, MATCHED_SCHEMA) as writer:
            for res in ordered_map(_work, ((p, c, opts) for p, c in files), workers):
                writer.write_table(res.table)
                report["files"].append(res.stats.as_dict())
                report["rows_parsed"] += res.stats.rows
                report["rows_matched"] += res.table.num_rows
                for k in ("too_short", "other_language", "unmatched"):
                    report[k] += getattr(res, k)
                report["core_seconds"] = round(report["core_seconds"] + res.seconds, 3)
    finally:
        _MATCHER = None
    if summary:
        atomic_write_bytes(Path(summary), (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
    return report
