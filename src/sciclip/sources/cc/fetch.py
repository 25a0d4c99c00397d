"""Fetching one crawl file: resumable, atomic, retried with backoff, polite, its gzip stream checked.

Common Crawl publishes no checksums: a file is whole when every gzip member inflates with a good CRC and
the last one ends. The check runs on the bytes as they arrive (a resumed download re-reads its partial
file first), so a damaged transfer is caught before anything reads it. Bytes land in ``<dest>.part`` and
are renamed when complete and checked; an interrupted job resumes from the partial file with a Range
request. The service answers 503 "Slow Down" under load: such answers (and 429, 5xx, network errors) are
retried after an exponential backoff (or the server's Retry-After), and requests start at most
``requests_per_s`` per second per process.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.storage.remote import SourceSpec, TransientError, local_root, s3_client

log = logging.getLogger(__name__)

CHUNK = 1 << 20
USER_AGENT = "sciclip (+https://github.com/sciclip; research crawl-file reader)"


class GzipCheck:
    """Feeds on a multi-member gzip stream; raises ``TransientError`` on corrupt data (bad CRC, bad
    deflate); ``finish`` fails when the stream ends inside a member."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.d = zlib.decompressobj(31)
        self.members = 0
        self.in_member = False
        self.gzip = True

    def feed(self, data: bytes) -> None:
        if not self.gzip:
            return
        if self.members == 0 and not self.in_member and data and not data.startswith(b"\x1f\x8b"):
            self.gzip = False  # a plain WARC/ARC (local mirrors): nothing to check
            return
        while data:
            self.in_member = True
            try:
                self.d.decompress(data, 0)
            except zlib.error as e:
                raise TransientError(f"{self.name}: corrupt gzip data in member {self.members + 1} ({e})") from None
            if not self.d.eof:
                return
            self.members += 1
            self.in_member = False
            data = self.d.unused_data
            self.d = zlib.decompressobj(31)

    def finish(self) -> None:
        if self.gzip and self.in_member:
            raise TransientError(f"{self.name}: the gzip stream ends inside member {self.members + 1}")


class Throttle:
    """At most ``rate`` request starts per second (one process; threads share it)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate and rate > 0 else 0.0
        self.next = 0.0
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            if now < self.next:
                time.sleep(self.next - now)
            self.next = max(now, self.next) + self.interval


@dataclass
class FetchReport:
    key: str
    bytes: int = 0
    attempts: int = 0
    resumed_from: int = 0
    reused: bool = False


class _Retry(TransientError):
    def __init__(self, message: str, after: float | None = None) -> None:
        super().__init__(message)
        self.after = after


def _http(spec: SourceSpec, key: str, part: Path, check: GzipCheck, throttle: Throttle, report: FetchReport) -> None:
    url = spec.uri.rstrip("/") + "/" + key.lstrip("/")
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    throttle.wait()
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=spec.timeout_s)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to send: the partial file is the whole file
            _replay(part, check)
            return
        if e.code in (429, 500, 502, 503, 504):
            after = e.headers.get("Retry-After") if e.headers else None
            raise _Retry(f"{url}: HTTP {e.code} {e.reason}", float(after) if after and after.isdigit() else None)
        raise SciclipError(f"{url}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
        raise TransientError(f"{url}: {e}") from None
    with resp:
        if have and resp.status == 206:
            report.resumed_from = have
            _replay(part, check)
            mode = "ab"
        else:
            mode = "wb"
        try:
            with open(part, mode) as out:
                while chunk := resp.read(CHUNK):
                    check.feed(chunk)
                    out.write(chunk)
        except (TimeoutError, ConnectionError, OSError) as e:
            raise TransientError(f"{url}: {e}") from None


def _replay(part: Path, check: GzipCheck) -> None:
    with open(part, "rb") as f:
        while chunk := f.read(CHUNK):
            check.feed(chunk)


def _s3(spec: SourceSpec, key: str, part: Path, check: GzipCheck, throttle: Throttle, report: FetchReport) -> None:
    from urllib.parse import urlparse

    from botocore.exceptions import BotoCoreError, ClientError

    p = urlparse(spec.uri)
    s3key = f"{p.path.strip('/')}/{key}" if p.path.strip("/") else key
    have = part.stat().st_size if part.exists() else 0
    throttle.wait()
    try:
        obj = s3_client(spec).get_object(Bucket=p.netloc, Key=s3key, **({"Range": f"bytes={have}-"} if have else {}))
        if have:
            report.resumed_from = have
            _replay(part, check)
        with open(part, "ab" if have else "wb") as out:
            for chunk in obj["Body"].iter_chunks(CHUNK):
                check.feed(chunk)
                out.write(chunk)
    except ClientError as e:
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if status in (429, 500, 502, 503, 504) or e.response.get("Error", {}).get("Code") == "SlowDown":
            raise _Retry(f"s3://{p.netloc}/{s3key}: {status} slow down") from None
        raise SciclipError(f"s3://{p.netloc}/{s3key}: {e}") from None
    except BotoCoreError as e:
        raise TransientError(f"s3://{p.netloc}/{s3key}: {e}") from None


def _local(spec: SourceSpec, key: str, part: Path, check: GzipCheck) -> None:
    src = local_root(spec) / key
    if not src.is_file():
        raise SciclipError(f"{src}: no such file in the local mirror")
    with open(src, "rb") as f, open(part, "wb") as out:
        while chunk := f.read(CHUNK):
            check.feed(chunk)
            out.write(chunk)


def fetch_file(spec: SourceSpec, key: str, dest: str | os.PathLike, retries: int = 4, backoff_s: float = 2.0,
               throttle: Throttle | None = None, max_backoff_s: float = 300.0) -> FetchReport:
    """``key`` below ``spec`` into ``dest``, checked; a complete ``dest`` is reused, a partial resumed."""
    dest = Path(dest)
    report = FetchReport(key)
    if dest.is_file():
        report.reused, report.bytes = True, dest.stat().st_size
        return report
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    throttle = throttle or Throttle(1.0)
    for attempt in range(retries + 1):
        report.attempts += 1
        check = GzipCheck(key)
        try:
            if spec.scheme in ("http", "https"):
                _http(spec, key, part, check, throttle, report)
            elif spec.scheme == "s3":
                _s3(spec, key, part, check, throttle, report)
            else:
                _local(spec, key, part, check)
            check.finish()
            os.replace(part, dest)
            report.bytes = dest.stat().st_size
            return report
        except TransientError as e:
            if "corrupt" in str(e) or ("ends inside" in str(e) and spec.scheme not in ("http", "https", "s3")):
                part.unlink(missing_ok=True)  # bad bytes cannot be resumed from; a cut-off transfer can
            if attempt == retries:
                raise SciclipError(f"{e} (after {attempt + 1} attempts; {dest.name}.part kept for a resume)") from None
            wait = getattr(e, "after", None) or min(max_backoff_s, backoff_s * 2 ** attempt)
            log.warning("%s (attempt %d of %d); retrying in %.1fs", e, attempt + 1, retries + 1, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")

