"""A crawl's file index (``crawl-data/<crawl>/<kind>.paths.gz``) and the selection of files to process.

Each selected file becomes a member of the workflow's unit list. Members are named ``<crawl>_<index>``
(the file's 0-based line in the crawl's index, 5 digits or more): the index never changes for a published
crawl, the name matches the unit-name pattern (paths hold slashes) and name order is index order, so
units (runs of consecutive members) and every output ordered by unit name follow the crawl's own order.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.storage.atomic import atomic_write_bytes

KINDS = ("wat", "warc")
CRAWL_ID = re.compile(r"^CC-MAIN-\d{4}-\d{2}$")
HEADER = ["member", "crawl", "index", "path"]


@dataclass(frozen=True)
class CrawlFile:
    member: str
    crawl: str
    index: int
    path: str  # relative to the source root, as the index lists it


def index_key(crawl: str, kind: str) -> str:
    if not CRAWL_ID.match(crawl):
        raise SciclipError(f"{crawl!r} is not a crawl id (CC-MAIN-YYYY-WW)")
    if kind not in KINDS:
        raise SciclipError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return f"crawl-data/{crawl}/{kind}.paths.gz"


def parse_index(data: bytes, where: str) -> list[str]:
    try:
        text = gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise SciclipError(f"{where}: not a gzipped path list ({e})") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def member_name(crawl: str, index: int, total: int) -> str:
    return f"{crawl}_{index:0{max(5, len(str(total - 1)))}d}"


def select(crawl: str, paths: list[str], max_files: int | None = None, start: int | None = None,
           end: int | None = None, files: list[str] | tuple = ()) -> list[CrawlFile]:
    """The chosen files of one crawl: an explicit list (paths or file names) wins; else the index range
    ``start``..``end`` (inclusive, 0-based), of which the first ``max_files``."""
    if files:
        by_path = {p: i for i, p in enumerate(paths)}
        by_name = {p.rsplit("/", 1)[-1]: i for i, p in enumerate(paths)}
        chosen = []
        for f in files:
            i = by_path.get(f, by_name.get(f))
            if i is None:
                raise SciclipError(f"{crawl}: {f!r} is not in the crawl's file index")
            chosen.append(i)
        indices = sorted(set(chosen))
    else:
        lo = 0 if start is None else int(start)
        hi = len(paths) - 1 if end is None else min(int(end), len(paths) - 1)
        if lo < 0 or lo > hi:
            raise SciclipError(f"{crawl}: empty range {lo}..{hi} of {len(paths)} files")
        indices = list(range(lo, hi + 1))
        if max_files is not None:
            indices = indices[:max_files]
    return [CrawlFile(member_name(crawl, i, len(paths)), crawl, i, paths[i]) for i in indices]


def write_selection(files: list[CrawlFile], out: str | os.PathLike) -> None:
    lines = ["\t".join(HEADER)] + [f"{f.member}\t{f.crawl}\t{f.index}\t{f.path}" for f in files]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(Path(out), ("\n".join(lines) + "\n").encode())


def read_selection(path: str | os.PathLike) -> dict[str, CrawlFile]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f, delimiter="\t"))
    except OSError as e:
        raise SciclipError(f"{path}: cannot read the file selection ({e.strerror})") from None
    if not rows or rows[0] != HEADER:
        raise SciclipError(f"{path}: not a crawl file selection (header {' '.join(HEADER)})")
    return {r[0]: CrawlFile(r[0], r[1], int(r[2]), r[3]) for r in rows[1:] if r}
