"""Fetching one file from where the corpus lives: S3 (requester pays or unsigned), HTTP(S), or a local mirror.

Every fetch lands under a temporary name, is checked against the expected md5 when one is known, and
only then is renamed into place: a failed or interrupted download leaves no output behind. Transient
failures are retried with exponential backoff; access errors fail at once with the reason.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from sciclip.errors import SciclipError
from sciclip.progress import progress
from sciclip.storage.atomic import temporary_name

log = logging.getLogger(__name__)

CHUNK = 1 << 20


@dataclass(frozen=True)
class SourceSpec:
    """Where the files are: ``s3://bucket[/prefix]``, ``http(s)://host/path``, ``file:///dir`` or a path."""

    uri: str
    requester_pays: bool = False
    unsigned: bool = False
    endpoint_url: str | None = None
    timeout_s: float = 60.0

    @property
    def scheme(self) -> str:
        p = urlparse(self.uri)
        return p.scheme if p.scheme in ("s3", "http", "https", "file") else "local"


class TransientError(Exception):
    """Worth retrying (network trouble, throttling, server errors, a corrupt transfer)."""


def s3_client(spec: SourceSpec):
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    cfg = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=spec.timeout_s,
                 read_timeout=spec.timeout_s, signature_version=UNSIGNED if spec.unsigned else None)
    return boto3.client("s3", endpoint_url=spec.endpoint_url or None, config=cfg)


def _s3_location(spec: SourceSpec, key: str) -> tuple[str, str]:
    p = urlparse(spec.uri)
    prefix = p.path.strip("/")
    return p.netloc, f"{prefix}/{key}" if prefix else key


def local_root(spec: SourceSpec) -> Path:
    p = urlparse(spec.uri)
    return Path(p.path) if spec.scheme == "file" else Path(spec.uri)


def s3_problem(e: Exception, where: str, spec: SourceSpec) -> Exception:
    """What a boto error means for a request on ``where``: a ``SciclipError`` when retrying cannot help (access
    denied, no such key or bucket, no credentials), else a ``TransientError`` (the network, throttling, 5xx)."""
    from botocore.exceptions import ClientError

    if isinstance(e, ClientError):
        err = e.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in ("403", "AccessDenied", "404", "NoSuchKey", "NoSuchBucket", "InvalidAccessKeyId",
                    "SignatureDoesNotMatch") or status in (403, 404):
            hint = (" (the bucket is requester-pays: configure AWS credentials; requests carry "
                    "RequestPayer=requester)" if spec.requester_pays and status == 403 else "")
            return SciclipError(f"{where}: {code or status} {err.get('Message', '')}{hint}")
        return TransientError(f"{where}: {code or status}")
    if "credentials" in str(e).lower():
        return SciclipError(f"{where}: {e}")
    return TransientError(f"{where}: {type(e).__name__}: {e}")


def _fetch_once(spec: SourceSpec, key: str, tmp: Path) -> None:
    scheme = spec.scheme
    if scheme == "s3":
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, s3key = _s3_location(spec, key)
        extra = {"RequestPayer": "requester"} if spec.requester_pays else {}
        try:
            with progress(unit="B", unit_scale=True, desc=key.rsplit("/", 1)[-1]) as bar:
                s3_client(spec).download_file(bucket, s3key, str(tmp), ExtraArgs=extra or None, Callback=bar.update)
        except (ClientError, BotoCoreError) as e:
            raise s3_problem(e, f"s3://{bucket}/{s3key}", spec) from None
    elif scheme in ("http", "https"):
        url = spec.uri.rstrip("/") + "/" + key.lstrip("/")
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "sciclip"})
            with urllib.request.urlopen(req, timeout=spec.timeout_s) as resp, open(tmp, "wb") as out, \
                    progress(total=int(resp.headers.get("Content-Length") or 0) or None, unit="B", unit_scale=True,
                             desc=key.rsplit("/", 1)[-1]) as bar:
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
        except urllib.error.HTTPError as e:
            if e.code in (401, 403, 404, 410):
                raise SciclipError(f"{url}: HTTP {e.code} {e.reason}") from None
            raise TransientError(f"{url}: HTTP {e.code}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
            raise TransientError(f"{url}: {e}") from None
    else:
        src = local_root(spec) / key
        if not src.is_file():
            raise SciclipError(f"{src}: no such file in the local mirror")
        try:
            os.link(src, tmp)  # a mirror on the same disk: no copy of a 500 MB tarball
        except OSError:
            shutil.copyfile(src, tmp)


def md5_of(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def with_retries(call, retries: int = 4, backoff_s: float = 2.0, max_backoff_s: float = 120.0,
                 written: str = "no output written"):
    """``call()``, again after each ``TransientError`` with a doubling wait (a warning line each time), up to
    ``retries`` more times; then one ``SciclipError`` line naming the last problem. Every S3/HTTP read goes
    through this, so a dropped connection reads the same wherever it happens."""
    last = ""
    for attempt in range(retries + 1):
        try:
            return call()
        except TransientError as e:
            last = str(e)
            if attempt < retries:
                wait = min(max_backoff_s, backoff_s * 2 ** attempt)
                log.warning("%s (attempt %d of %d); retrying in %.1fs", e, attempt + 1, retries + 1, wait)
                time.sleep(wait)
    raise SciclipError(f"{last} (after {retries + 1} attempts; {written})")


def fetch(spec: SourceSpec, key: str, dest: str | os.PathLike, md5: str | None = None, retries: int = 4,
          backoff_s: float = 2.0, max_backoff_s: float = 120.0) -> Path:
    """Fetch ``key`` from ``spec`` to ``dest`` atomically, verifying ``md5`` when given."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(dest, "part")  # fixed: a rerun overwrites what a killed one left

    def once() -> Path:
        tmp.unlink(missing_ok=True)
        try:
            _fetch_once(spec, key, tmp)
            if md5:
                got = md5_of(tmp)
                if got != md5.lower():
                    raise TransientError(f"md5 mismatch for {key}: the manifest says {md5}, the download has {got}")
            os.replace(tmp, dest)
            return dest
        finally:
            tmp.unlink(missing_ok=True)

    return with_retries(once, retries, backoff_s, max_backoff_s)


def list_s3(spec: SourceSpec, prefix: str, delimiter: str | None = None, retries: int = 4,
            backoff_s: float = 2.0) -> list[str]:
    """Keys below ``prefix`` of an s3:// source (relative to its root), or with ``delimiter`` the common
    prefixes; the whole listing is retried as one request (a page cannot be resumed once the connection drops)."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, root = urlparse(spec.uri).netloc, urlparse(spec.uri).path.strip("/")
    full = f"{root}/{prefix}" if root else prefix
    where = f"s3://{bucket}/{full}"

    def once() -> list[str]:
        extra = {"Delimiter": delimiter} if delimiter else {}
        try:
            pages = s3_client(spec).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=full, **extra)
            if delimiter:
                return [cp["Prefix"] for page in pages for cp in page.get("CommonPrefixes", [])]
            return [o["Key"] for page in pages for o in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as e:
            raise s3_problem(e, where, spec) from None

    keys = with_retries(once, retries, backoff_s, written="nothing listed")
    return [k[len(root) + 1:] if root else k for k in keys]


def read_bytes(spec: SourceSpec, key: str, retries: int = 4, backoff_s: float = 2.0) -> bytes:
    """A small file (a manifest, a file list) fetched into memory, with the same retries."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = fetch(spec, key, Path(d) / "file", retries=retries, backoff_s=backoff_s)
        return path.read_bytes()
