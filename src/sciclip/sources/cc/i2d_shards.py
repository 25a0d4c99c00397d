"""Reading a download job's img2dataset output back: every attempted image, in input order.

img2dataset writes each shard's successes into ``{shard}.tar`` in completion order (its threads race) and
every attempt, failed ones included, into ``{shard}.parquet``. Keys come from the input position, so
sorting by key restores the input order whatever the timing: what follows is deterministic. Image bytes
are located (tar offsets) rather than loaded, so a unit never holds its images in memory.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from sciclip.errors import SciclipError
from sciclip.sources.cc.public_address import REASON

_HTTP = re.compile(r"HTTP Error (\d{3})")
_REFUSED = f"<urlopen error {REASON}: "  # urllib's URLError around guarded_urllib's refusal (no server sends it)


@dataclass(frozen=True)
class Download:
    key: str
    url: str
    record: dict  # {"url", "texts": [{"text", "attr", "entry_ids", "page_url", "crawl", "warc_*"}]}
    failure: str | None  # a skip reason, None when the image arrived
    tar: str = ""
    offset: int = 0
    size: int = 0

    def read(self) -> bytes:
        with open(self.tar, "rb") as f:
            f.seek(self.offset)
            return f.read(self.size)


# urllib's messages for links that lead nowhere (a third or more of an old pool's), most specific first
_NETWORK = (("name or service not known", "name_not_resolved"), ("nodename nor servname", "name_not_resolved"),
            ("temporary failure in name resolution", "name_not_resolved"), ("getaddrinfo", "name_not_resolved"),
            ("connection refused", "connection_refused"), ("connection reset", "connection_reset"),
            ("remote end closed connection", "connection_reset"), ("certificate", "ssl_error"),
            ("ssl", "ssl_error"), ("no route to host", "unreachable"), ("network is unreachable", "unreachable"))


def failure_reason(status: str | None, error: str | None) -> str | None:
    """A stats counter for img2dataset's outcome of one url."""
    if status == "success":
        return None
    error = error or ""
    if error.startswith(_REFUSED):
        return REASON
    if "X-Robots-Tag" in error:
        return "opted_out"
    m = _HTTP.search(error)
    if m:
        return f"http_{m.group(1)}"
    if "timed out" in error.lower():
        return "timeout"
    return "download_failed"


def detailed_reason(status: str | None, error: str | None) -> str | None:
    """``failure_reason``, with what lies behind its ``download_failed`` named: an image that arrived but did not
    decode in img2dataset's resizer (re-encoding on: CommonPool's download), a name that does not resolve, a
    refused or reset connection, a TLS failure. Dead links are most of a years-old pool's losses: their mix says
    whether a retry can help."""
    reason = failure_reason(status, error)
    if reason != "download_failed":
        return reason
    low = (error or "").lower()
    if status == "failed_to_resize":
        return "image_decode_error" if "decod" in low else "failed_to_resize"
    return next((r for needle, r in _NETWORK if needle in low), reason)


def image_members(tar: Path) -> dict[str, tuple[int, int]]:
    """key -> (offset, size) of each image member (tarfile: img2dataset's writer emits PAX headers)."""
    out = {}
    try:
        with tarfile.open(tar) as tf:
            for m in tf:
                if m.isfile() and not m.name.endswith((".json", ".txt")):
                    out[m.name.split(".", 1)[0]] = (m.offset_data, m.size)
    except (tarfile.TarError, OSError, EOFError) as e:
        raise SciclipError(f"{tar}: unreadable img2dataset shard ({e})") from None
    return out


def iter_downloads(out_dir: str | Path) -> Iterator[Download]:
    """Every url img2dataset attempted under ``out_dir``, by key."""
    out_dir = Path(out_dir)
    for table_path in sorted(out_dir.glob("[0-9]*.parquet")):
        table = pq.read_table(table_path, columns=["key", "url", "status", "error_message", "record"])
        tar = table_path.with_suffix(".tar")
        members = image_members(tar) if tar.is_file() else {}
        rows = sorted(zip(*(table.column(c).to_pylist() for c in table.column_names)), key=lambda r: r[0])
        for key, url, status, error, record in rows:
            failure = failure_reason(status, error)
            where = members.get(key)
            if failure is None and where is None:
                failure = "download_failed"  # a success the shard lacks: a writer that died mid-shard
            yield Download(key, url, json.loads(record), failure, str(tar) if where else "",
                           *(where or (0, 0)))
