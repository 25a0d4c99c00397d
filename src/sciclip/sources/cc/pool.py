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

from sciclip.sources.cc.archive import iter_rows
from sciclip.sources.cc.matching import Matcher
from sciclip.sources.cc.rows import ROW_SCHEMA, ParseStats, Row, rows_table
from sciclip.sources.pool import ordered_map
from sciclip.storage.atomic import atomic_write_bytes

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
    matched_texts: int = 0  # texts the matcher saw (the rest came from the cache)
    seconds: float = 0.0


CACHE_TEXTS = 200_000  # distinct texts remembered per file (~30 MB), then forgotten at once
BATCH_ROWS = 4096  # rows parsed, then matched, at a time
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

    Rows come in batches: each batch's new distinct texts go through the matcher back to back (the
    automaton stays in the CPU caches, which parsing in between evicts), and each batch's kept rows go
    into Arrow at once (compact, and cheap to send back from a worker process).

    The cyclic garbage collector is paused for the file: the loop makes no reference cycles (its rows,
    lists and decoded JSON are freed by reference counting), yet the kept rows and cached texts set off a
    collection every few hundred allocations, and its full passes walk every object the job holds (the
    500,000 metadata strings included): ~2.2 core-s on a 45,000-page WAT (timed with gc.callbacks), for
    nothing found."""
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
    cache: dict[str, list[int]] = {}  # alt texts repeat ("logo", "Facebook", a site's banner): match each once
    for batch in _batches(iter_rows(path, stats, opts.user_agent_token), BATCH_ROWS):
        rows = [row for row in batch if len(row.text) >= opts.min_text_chars]
        res.too_short += len(batch) - len(rows)
        langs: list[str | None] = [None] * len(rows)
        if opts.languages:
            langs = [_language(row.text) for row in rows]
            keep = [lang in opts.languages for lang in langs]
            res.other_language += keep.count(False)
            rows = [row for row, k in zip(rows, keep) if k]
            langs = [lang for lang, k in zip(langs, keep) if k]
        if len(cache) + len(rows) > CACHE_TEXTS:
            cache.clear()
        match = matcher.match
        for text in dict.fromkeys(row.text for row in rows if row.text not in cache):
            cache[text] = match(text)
            res.matched_texts += 1
        kept = [(row, lang, ids) for row, lang in zip(rows, langs) if (ids := cache[row.text])]
        res.unmatched += len(rows) - len(kept)
        if kept:
            tables.append(_matched_table(kept, crawl))
    # one chunk: the parquet file's pages then do not depend on where batches happened to end
    res.table = pa.concat_tables(tables or [MATCHED_SCHEMA.empty_table()]).combine_chunks()
    res.seconds = time.process_time() - started
    return res


def _matched_table(kept: list[tuple[Row, str | None, list[int]]], crawl: str) -> pa.Table:
    rows, langs, ids = zip(*kept)
    columns = rows_table(rows).columns + [pa.array([crawl] * len(rows), pa.string()),
                                          pa.array(ids, pa.list_(pa.int32())), pa.array(langs, pa.string())]
    return pa.Table.from_arrays(columns, schema=MATCHED_SCHEMA)


def _work(args: tuple) -> FileResult:
    return match_file(*args)


def build_pool(files: list[tuple[str, str]], matcher: Matcher, out: str | os.PathLike, opts: PoolOptions,
               workers: int = 1, summary: str | os.PathLike | None = None) -> dict:
    """Match every (path, crawl) of a unit into ``out`` (parquet, file order); returns the unit's summary."""
    import pyarrow.parquet as pq

    global _MATCHER
    _MATCHER = matcher
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    report: dict = {"files": [], "rows_parsed": 0, "rows_matched": 0, "too_short": 0, "other_language": 0,
                    "unmatched": 0, "core_seconds": 0.0}
    try:
        with pq.ParquetWriter(tmp, MATCHED_SCHEMA) as writer:
            for res in ordered_map(_work, ((p, c, opts) for p, c in files), workers):
                writer.write_table(res.table)
                report["files"].append(res.stats.as_dict())
                report["rows_parsed"] += res.stats.rows
                report["rows_matched"] += res.table.num_rows
                for k in ("too_short", "other_language", "unmatched"):
                    report[k] += getattr(res, k)
                report["core_seconds"] = round(report["core_seconds"] + res.seconds, 3)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        _MATCHER = None
    if summary:
        atomic_write_bytes(Path(summary), (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
    return report
