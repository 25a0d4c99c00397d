"""Getting a web page's images: one small interface, so the Common Crawl source's downloader can serve it.

``ImageFetcher.fetch(urls)`` returns, per URL, the image bytes or the reason it could not be had. Here:
``CapturedImages`` (image responses the WARC itself holds, read by offset), ``HttpFetcher`` (plain
HTTP(S) downloads: a thread pool, timeouts, retries on transient errors, a size cap) and ``FirstOf`` (try
fetchers in order). When ``sciclip.sources.cc`` lands its image downloader, an adapter implementing
``fetch`` is all that is needed to use it here (``make_fetcher`` is the one place that picks).
"""

from __future__ import annotations

import logging
import sqlite3
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sciclip.docs.warc_pages import read_payload

log = logging.getLogger(__name__)

Fetched = dict[str, "bytes | str"]  # url -> image bytes, or the reason it is missing


class ImageFetcher(Protocol):
    def fetch(self, urls: list[str]) -> Fetched: ...


@dataclass(frozen=True)
class FetchOptions:
    enabled: bool = True
    timeout_s: float = 10.0
    retries: int = 1
    threads: int = 16
    max_bytes: int = 20 << 20
    user_agent: str = "sciclip-docs/0.1"


class HttpFetcher:
    """Plain HTTP(S) GETs; anything else (data:, ftp:, file:) is refused."""

    def __init__(self, opts: FetchOptions) -> None:
        self.opts = opts

    def _one(self, url: str) -> bytes | str:
        if not url.startswith(("http://", "https://")):
            return "image_unsupported_url"
        for attempt in range(self.opts.retries + 1):
            try:
                req = urllib.request.Request(url, headers={"User-Agent": self.opts.user_agent})
                with urllib.request.urlopen(req, timeout=self.opts.timeout_s) as resp:  # noqa: S310 - http(s) only
                    length = resp.headers.get("Content-Length")
                    if length and length.isdigit() and int(length) > self.opts.max_bytes:
                        return "image_too_large"
                    data = resp.read(self.opts.max_bytes + 1)
                    return data if len(data) <= self.opts.max_bytes else "image_too_large"
            except urllib.error.HTTPError as e:
                if e.code < 500 and e.code != 429:
                    return "image_http_error"
            except (urllib.error.URLError, OSError, ValueError) as e:
                log.debug("%s: %s", url, e)
            if attempt < self.opts.retries:
                time.sleep(min(0.5 * 2 ** attempt, 5))
        return "image_download_error"

    def fetch(self, urls: list[str]) -> Fetched:
        if not urls:
            return {}
        with ThreadPoolExecutor(max_workers=min(self.opts.threads, len(urls))) as pool:
            return dict(zip(urls, pool.map(self._one, urls)))


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


def make_fetcher(warc: str, index: str, opts: FetchOptions) -> ImageFetcher:
    """Captured images first; then the network when enabled (the cc source's downloader will plug in here)."""
    captured = CapturedImages(warc, index, opts.max_bytes)
    return FirstOf(captured, HttpFetcher(opts)) if opts.enabled else captured
