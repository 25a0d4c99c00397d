"""Getting a web page's images: captured in the WARC first, else downloaded the Common Crawl source's way.

``ImageFetcher.fetch(urls)`` returns, per URL, the image bytes or the reason it could not be had.
``CapturedImages`` reads image responses the WARC itself holds (by offset); downloads go through the cc
branch's downloader, img2dataset (``sources.cc.download.run_img2dataset``: its user agent token,
``X-Robots-Tag`` opt-outs, timeouts and retries, its refusal of URLs that reach no public address, and its
own results read back by ``iter_downloads``).
Each img2dataset run has a fixed start-up cost (its reader, resizer and writer), so a unit's images are
downloaded in one run (``download_images``, before its pages are assembled) into the job's scratch, and each
page then reads its own back by offset (``DownloadedImages``): the unit's images are on disk, never all in
memory. ``Img2datasetFetcher`` does both
for any list of URLs. ``make_fetcher`` is the one place that picks.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.images.pipeline import VECTOR_FORMATS, sniff_format
from sciclip.sources.cc.download import OPT_OUT_DIRECTIVES, DownloadOptions, run_img2dataset
from sciclip.sources.cc.i2d_shards import iter_downloads
from sciclip.sources.cc.public_address import AddressPolicy
from sciclip.sources.cc.warc_pages import read_payload

log = logging.getLogger(__name__)

Fetched = dict[str, "bytes | str"]  # url -> image bytes, or the reason it is missing
URL_BATCH = 10_000  # rows per parquet row group of the URL list


class ImageFetcher(Protocol):
    def fetch(self, urls: list[str]) -> Fetched: ...


@dataclass(frozen=True)
class FetchOptions:
    """The download settings, named as the cc download's (``cc.images``) where they mean the same."""

    enabled: bool = True
    processes: int = 1
    threads: int = 16
    timeout_s: float = 10.0
    retries: int = 1
    max_bytes: int = 20 << 20
    user_agent_token: str = "sciclip"
    disallowed_header_directives: tuple[str, ...] = OPT_OUT_DIRECTIVES
    serve: str | None = None  # a folder served on 127.0.0.1 as the web (demo, tests)
    allow_private_addresses: bool = False  # image URLs may reach loopback and private networks (tests, mirrors)
    address_policy: AddressPolicy | None = None  # tests: their own (as DownloadOptions')

    def download_options(self) -> DownloadOptions:
        return DownloadOptions(processes=self.processes, threads=self.threads, timeout_s=self.timeout_s,
                               retries=self.retries, user_agent_token=self.user_agent_token,
                               disallowed_header_directives=self.disallowed_header_directives, serve=self.serve,
                               allow_private_addresses=self.allow_private_addresses,
                               address_policy=self.address_policy)


def downloadable(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def _write_url_list(urls: Iterable[str], path: Path) -> int:
    """img2dataset's input, as the cc download writes it (url, caption, record), streamed in row groups."""
    schema = pa.schema([("url", pa.string()), ("caption", pa.string()), ("record", pa.string())])
    n = 0
    with pq.ParquetWriter(path, schema) as writer:
        batch: list[str] = []
        for url in urls:
            batch.append(url)
            if len(batch) >= URL_BATCH:
                n += _write_batch(writer, schema, batch)
        n += _write_batch(writer, schema, batch)
    return n


def _write_batch(writer: pq.ParquetWriter, schema: pa.Schema, batch: list[str]) -> int:
    n = len(batch)
    if n:
        writer.write_table(pa.table({"url": batch, "caption": [""] * n, "record": ["{}"] * n}, schema=schema))
        batch.clear()
    return n


def download_images(urls: Iterable[str], folder: Path, opts: FetchOptions) -> tuple[Path, Counter]:
    """Download ``urls`` (http(s), each once) in one img2dataset run into ``folder``; returns the index
    (url -> shard, offset, size or failure) that ``DownloadedImages`` reads, and the outcomes by reason."""
    folder.mkdir(parents=True, exist_ok=True)
    url_list, out_dir, index = folder / "urls.parquet", folder / "images", folder / "downloads.sqlite"
    n = _write_url_list((u for u in urls if downloadable(u)), url_list)
    outcomes: Counter = Counter()
    with sqlite3.connect(index) as db:
        db.execute("CREATE TABLE IF NOT EXISTS images (url TEXT PRIMARY KEY, failure TEXT, tar TEXT, "
                   "offset INTEGER, size INTEGER)")
        if n:
            t = time.perf_counter()
            run_img2dataset(url_list, out_dir, opts.download_options())
            for d in iter_downloads(out_dir):
                outcomes[d.failure or "downloaded"] += 1
                db.execute("INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?)",
                           (d.url, d.failure, d.tar, d.offset, d.size))
            log.info("downloaded %d image URLs in %.1f s: %s", n, time.perf_counter() - t,
                     json.dumps(dict(sorted(outcomes.items()))))
    url_list.unlink(missing_ok=True)
    return index, outcomes


def _image_or_reason(data: bytes) -> bytes | str:
    fmt = sniff_format(data)
    return "image_not_an_image" if fmt is None or fmt in VECTOR_FORMATS else data


class DownloadedImages:
    """Images of a ``download_images`` run, read by offset from its shards. img2dataset's failures become
    reasons: ``image_opted_out`` (``X-Robots-Tag``), ``image_http_<code>``, ``image_timeout``,
    ``image_private_address`` (the URL, or a redirect, leads to no public address), ``image_download_failed``; then ``image_too_large`` and ``image_not_an_image`` (not a raster)."""

    def __init__(self, index: str | Path, max_bytes: int) -> None:
        self.index = str(index)
        self.max_bytes = max_bytes

    def fetch(self, urls: list[str]) -> Fetched:
        out: Fetched = {}
        with sqlite3.connect(f"file:{self.index}?mode=ro", uri=True) as db:
            for url in urls:
                if not downloadable(url):
                    out[url] = "image_unsupported_url"
                    continue
                row = db.execute("SELECT failure, tar, offset, size FROM images WHERE url = ?", (url,)).fetchone()
                if row is None:
                    out[url] = "image_not_fetched"
                elif row[0]:
                    out[url] = f"image_{row[0]}"
                elif row[3] > self.max_bytes:
                    out[url] = "image_too_large"
                else:
                    with open(row[1], "rb") as f:
                        f.seek(row[2])
                        out[url] = _image_or_reason(f.read(row[3]))
        return out


class Img2datasetFetcher:
    """``fetch(urls)`` as one img2dataset run into ``folder`` (a fresh sub-folder per call)."""

    def __init__(self, folder: str | Path, opts: FetchOptions = FetchOptions()) -> None:
        self.folder = Path(folder)
        self.opts = opts
        self.runs = 0

    def fetch(self, urls: list[str]) -> Fetched:
        self.runs += 1
        index, _ = download_images(dict.fromkeys(urls), self.folder / f"run-{self.runs}", self.opts)
        return DownloadedImages(index, self.opts.max_bytes).fetch(urls)


class CapturedImages:
    """Images captured in the WARC itself, through the URL -> offset index written when the unit started."""

    def __init__(self, warc: str, index: str, max_bytes: int) -> None:
        self.warc = warc
        self.index = index
        self.max_bytes = max_bytes

    def fetch(self, urls: list[str]) -> Fetched:
        out: Fetched = {}
        if not urls or not Path(self.index).is_file():
            return {u: "image_not_captured" for u in urls}
        with sqlite3.connect(f"file:{self.index}?mode=ro", uri=True) as db:
            for url in urls:
                row = db.execute("SELECT offset FROM images WHERE url = ?", (url,)).fetchone()
                data = read_payload(self.warc, row[0], self.max_bytes) if row else None
                out[url] = data if data is not None else "image_not_captured"
        return out


class FirstOf:
    """Each URL from the first fetcher that has it; the last fetcher's reason otherwise."""

    def __init__(self, *fetchers: ImageFetcher) -> None:
        self.fetchers = fetchers

    def fetch(self, urls: list[str]) -> Fetched:
        out: Fetched = {}
        todo = list(urls)
        for f in self.fetchers:
            if not todo:
                break
            got = f.fetch(todo)
            out.update(got)
            todo = [u for u in todo if not isinstance(got.get(u), bytes)]
        return out


def write_capture_index(captured: dict[str, int], path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE IF NOT EXISTS images (url TEXT PRIMARY KEY, offset INTEGER)")
        db.executemany("INSERT OR REPLACE INTO images VALUES (?, ?)", captured.items())


def make_fetcher(warc: str, index: str, downloads: str | None, opts: FetchOptions) -> ImageFetcher:
    """Captured images first; then the unit's downloads (``download_images``' index) when enabled."""
    captured = CapturedImages(warc, index, opts.max_bytes)
    return FirstOf(captured, DownloadedImages(downloads, opts.max_bytes)) if opts.enabled and downloads else captured
