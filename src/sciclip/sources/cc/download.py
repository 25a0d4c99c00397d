"""One unit's download job: its deduped, balanced rows, grouped per image, fetched with img2dataset.

Rows first lose later copies of a (url, text) (the gather step's mask), then pass the balancing before
download (``t_download``, larger than the target, against the pool's counts). Consecutive rows of one
image (its alt and title) become one record (MetaCLIP's shape: a url with its texts), fetched once.
img2dataset (the library) downloads with its retries, timeouts, user agent token and ``X-Robots-Tag``
opt-outs, from public addresses only (``guarded_urllib``: a crawled page may name this machine or its network),
into its own shard layout (driven in this process when the job has one process: no worker spawns);
re-encoding is off, so the image pipeline every source shares resizes the originals later, the same way for all. Last, the downloaded images are probed (format and size from the header, no decoding)
and their texts' entries counted: the per-unit counts of the downloaded pool the final balancing sums.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.errors import SciclipError
from sciclip.sources.cc.balance import keep_mask, probabilities
from sciclip.sources.cc.gather import COUNTS, save_npy
from sciclip.sources.cc.public_address import AddressPolicy
from sciclip.storage.atomic import atomic_dir, atomic_write_bytes

log = logging.getLogger(__name__)

STAGE = "download"  # the balancing draw's salt before download ("final" after)
OPT_OUT_DIRECTIVES = ("noai", "noimageai", "noindex", "noimageindex")
TEXT_FIELDS = ("text", "attr", "page_url", "crawl", "warc_filename", "warc_record_offset", "warc_record_length")


@dataclass(frozen=True)
class DownloadOptions:
    t_download: float = 100_000
    seed: int = 0
    processes: int = 1
    threads: int = 16
    timeout_s: float = 10.0
    retries: int = 1
    user_agent_token: str = "sciclip"
    disallowed_header_directives: tuple[str, ...] = OPT_OUT_DIRECTIVES
    samples_per_shard: int = 10_000
    min_size: int = 32
    max_pixels: int = 100_000_000
    serve: str | None = None  # a folder served on 127.0.0.1 as the web (demo, tests)
    allow_private_addresses: bool = False  # URLs may reach loopback and private networks (tests, private mirrors)
    address_policy: AddressPolicy | None = None  # tests: their own (else public addresses, or all when allowed)


def select_records(matched: Path, mask: np.ndarray, counts: np.ndarray, opts: DownloadOptions) -> tuple[list, dict]:
    """Records (url, texts) to download, in row order, and what was dropped. Only consecutive rows of one
    url (an image's alt and title) share a record: grouping further would reorder samples by unit, and the
    output must not depend on how files are cut into units (an image on several pages with different texts
    is fetched once per page)."""
    table = pq.read_table(matched)
    if table.num_rows != len(mask):
        raise SciclipError(f"{matched}: {table.num_rows} rows but the dedup mask has {len(mask)} (stale gather?)")
    cols = {n: table.column(n).to_pylist() for n in table.column_names}
    idx = np.nonzero(mask)[0]
    urls = [cols["url"][i] for i in idx]
    texts = [cols["text"][i] for i in idx]
    ids = [cols["entry_ids"][i] for i in idx]
    kept = keep_mask(opts.seed, STAGE, urls, texts, ids, probabilities(counts, opts.t_download))
    records: list[dict] = []
    for j in np.nonzero(kept)[0]:
        i = idx[j]
        entry = {f: cols[f][i] for f in TEXT_FIELDS}
        entry["entry_ids"] = ids[j]
        if records and records[-1]["url"] == urls[j]:
            records[-1]["texts"].append(entry)
        else:
            records.append({"url": urls[j], "texts": [entry]})
    report = {"rows": table.num_rows, "duplicates": int(len(mask) - len(idx)),
              "balanced_out": int(len(idx) - kept.sum()), "texts": int(kept.sum()), "images": len(records)}
    return records, report


def write_url_list(records: list[dict], path: Path) -> None:
    table = pa.table({"url": [r["url"] for r in records], "caption": [r["texts"][0]["text"] for r in records],
                      "record": [json.dumps(r, ensure_ascii=False, sort_keys=True) for r in records]})
    pq.write_table(table, path)


def img2dataset_kwargs(url_list: Path, out_dir: Path, opts: DownloadOptions) -> dict:
    return {
        "url_list": str(url_list), "input_format": "parquet", "url_col": "url", "caption_col": "caption",
        "save_additional_columns": ["record"], "output_format": "webdataset", "output_folder": str(out_dir),
        "processes_count": opts.processes, "thread_count": opts.threads, "timeout": int(max(1, opts.timeout_s)),
        "retries": opts.retries, "user_agent_token": opts.user_agent_token,
        "disallowed_header_directives": list(opts.disallowed_header_directives),
        "number_sample_per_shard": opts.samples_per_shard, "disable_all_reencoding": True,
        "extract_exif": False, "compute_hash": "sha256", "enable_wandb": False, "distributor": "multiprocessing",
        "incremental_mode": "incremental",  # "overwrite" deletes its own _tmp (1.47.0); a rerun resumes
    }


def connection_policy(opts: DownloadOptions, web=None) -> AddressPolicy:
    """Where the job's connections may go: public addresses (or any, with ``allow_private_addresses``), and
    the loopback web ``serve`` starts, which stands in for the web (it answers as a forward proxy and
    reaches nothing itself)."""
    policy = opts.address_policy or AddressPolicy(allow_private=opts.allow_private_addresses)
    return policy.allowing(*web.endpoint) if web is not None else policy


def run_img2dataset(url_list: Path, out_dir: Path, opts: DownloadOptions, kwargs: dict | None = None) -> None:
    """img2dataset over ``url_list`` into ``out_dir``: in this process with one process (no spawned children:
    each would re-import img2dataset), else ``img2dataset.download`` in its own interpreter. Either way
    its urllib connects only where ``connection_policy`` allows (``guarded_urllib``): the URLs come from
    crawled pages, which may name this machine or its network; a refused URL fails as ``private_address``.
    ``kwargs`` are ``img2dataset.download``'s (default: cc's, ``img2dataset_kwargs``); of ``opts`` only the
    process count, ``serve`` and the address policy apply then (CommonPool downloads as DataComp does)."""
    from sciclip.sources.cc.guarded_urllib import POLICY_ENV, guarded_urllib, policy_env
    from sciclip.sources.cc.serve import LocalWeb

    kwargs = kwargs or img2dataset_kwargs(url_list, out_dir, opts)
    if opts.processes == 1:
        from sciclip.sources.cc.i2d_job import download_in_process

        with LocalWeb(opts.serve) if opts.serve else nullcontext() as web, \
                guarded_urllib(connection_policy(opts, web), web and web.proxy):
            try:
                download_in_process(kwargs)
            except Exception as e:  # noqa: BLE001 - img2dataset's reader raises many types; shards catch their own
                raise SciclipError(f"{out_dir}: img2dataset failed ({type(e).__name__}: {e})") from e
        return
    spec = out_dir.parent / f".{out_dir.name}.img2dataset.json"
    spec.write_text(json.dumps(kwargs))
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "WANDB_MODE": "disabled"}
    src = str(Path(__file__).resolve().parents[3])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with LocalWeb(opts.serve) if opts.serve else nullcontext() as web:
        env[POLICY_ENV] = policy_env(connection_policy(opts, web), web and web.proxy)
        r = subprocess.run([sys.executable, "-m", "sciclip.sources.cc.i2d_job", str(spec)], env=env,
                           stdout=sys.stderr, stderr=sys.stderr)
    spec.unlink(missing_ok=True)
    if r.returncode != 0:
        raise SciclipError(f"{out_dir}: img2dataset failed (exit {r.returncode}; see the log above)")


def probe(data: bytes, min_size: int, max_pixels: int) -> str | None:
    """Why a downloaded file will not become a sample (None: it will, as far as its header tells)."""
    from PIL import Image

    from sciclip.images.pipeline import VECTOR_FORMATS, sniff_format

    fmt = sniff_format(data)
    if fmt is None or fmt in VECTOR_FORMATS:
        return "not_a_raster_image"
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except Exception:  # noqa: BLE001 - Pillow raises many types on garbage
        return "image_decode_error"
    if min(w, h) < min_size:
        return "image_too_small"
    if w * h > max_pixels:
        return "image_too_large"
    return None


def downloaded_counts(out_dir: Path, size: int, opts: DownloadOptions) -> tuple[np.ndarray, dict]:
    """Entry counts over the texts of the images that downloaded and look usable."""
    from sciclip.sources.cc.i2d_shards import iter_downloads

    counts = np.zeros(size, dtype=np.uint64)
    status: dict[str, int] = {}
    for rec in iter_downloads(out_dir):
        reason = rec.failure or probe(rec.read(), opts.min_size, opts.max_pixels)
        status[reason or "usable"] = status.get(reason or "usable", 0) + 1
        if reason is None:
            flat = np.fromiter((i for t in rec.record["texts"] for i in t["entry_ids"]), dtype=np.int64)
            counts += np.bincount(flat, minlength=size).astype(np.uint64)
    return counts, dict(sorted(status.items()))


def download_unit(matched: Path, mask_file: Path, counts_file: Path, out_dir: Path, opts: DownloadOptions) -> dict:
    """The whole job: select, download into ``out_dir`` (img2dataset layout), count; returns its report."""
    from sciclip.sources.cc.gather import load_counts

    started = time.monotonic()
    counts = load_counts(counts_file)
    try:
        mask = np.load(mask_file)
    except (OSError, ValueError) as e:
        raise SciclipError(f"{mask_file}: not a dedup mask ({e})") from None
    records, report = select_records(Path(matched), mask, counts, opts)
    # img2dataset fills a temporary folder that becomes out_dir when all is counted. A job killed midway
    # starts over: resuming img2dataset's finished shards would be right only for the very same records, and a
    # rerun after a crash may follow a change of t_download, seed or units
    with atomic_dir(out_dir, owns=("[0-9]*", "_tmp", COUNTS, "download.json")) as tmp:
        url_list = out_dir.parent / f".{out_dir.name}.urls.parquet"
        write_url_list(records, url_list)
        try:
            if records:
                run_img2dataset(url_list, tmp, opts)
        finally:
            url_list.unlink(missing_ok=True)
        got, status = downloaded_counts(tmp, len(counts), opts)
        save_npy(tmp / COUNTS, got)
        report.update({"status": status, "duration_s": round(time.monotonic() - started, 3)})
        atomic_write_bytes(tmp / "download.json", (json.dumps(report, indent=2, sort_keys=True) + "\n").encode())
    return report
