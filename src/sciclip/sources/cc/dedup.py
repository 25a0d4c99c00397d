"""Cross-file dedup of (url, text) pairs in bounded memory: the first occurrence in crawl-file order wins.

MetaCLIP drops a text already seen for a record only within one file; across a crawl the same logo and alt
text recur on thousands of pages in many files, and each copy would count towards balancing and be
downloaded again. A set of every pair does not fit in memory at crawl scale (billions of rows), so this is
an external hash partition: each pair's 128-bit key goes to one of B bucket files by its top bits (pass 1);
each bucket, alone in memory, is sorted to find the later copies (pass 2), which are regrouped by unit
(pass 3) into one keep-mask per unit. B is chosen so a bucket holds at most ``max_rows`` keys; memory is
about 24 bytes times ``max_rows`` plus one unit's mask, whatever the pool's size.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

KEY = np.dtype([("hi", "<u8"), ("lo", "<u8"), ("unit", "<u4"), ("row", "<u8")])
DUP = np.dtype([("unit", "<u4"), ("row", "<u8")])


def pair_keys(urls: Sequence[str], texts: Sequence[str]) -> np.ndarray:
    """128-bit keys of (url, text) pairs as (hi, lo) uint64 columns (collisions: ~1e-19 at 1e10 pairs)."""
    out = np.empty(len(urls), dtype=[("hi", "<u8"), ("lo", "<u8")])
    raw = bytearray()
    for url, text in zip(urls, texts):
        raw += hashlib.blake2b(f"{url}\0{text}".encode("utf-8", "surrogatepass"), digest_size=16).digest()
    words = np.frombuffer(bytes(raw), dtype=">u8").reshape(-1, 2) if raw else np.zeros((0, 2), dtype=">u8")
    out["hi"], out["lo"] = words[:, 0], words[:, 1]
    return out


def _bits(total: int, max_rows: int) -> int:
    buckets = max(1, -(-total // max(1, max_rows)))
    return max(0, (buckets - 1).bit_length())


def dedup_masks(units: Sequence[tuple[int, Callable[[], Iterable[tuple[Sequence[str], Sequence[str]]]]]],
                max_rows: int = 20_000_000, scratch: str | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """For each unit, in order, a bool mask over its rows: True for the first occurrence of its (url, text)
    in (unit, row) order. ``units`` gives each unit's row count and a callable streaming its rows as
    (urls, texts) batches."""
    total = sum(n for n, _ in units)
    bits = _bits(total, max_rows)
    nb = 1 << bits
    groups = max(1, min(nb, len(units)))
    tmp = Path(tempfile.mkdtemp(prefix="sciclip-cc-dedup-", dir=scratch))
    try:
        bucket_files = [open(tmp / f"b{b:05d}", "wb") for b in range(nb)]
        try:
            for u, (_, batches) in enumerate(units):
                row0 = 0
                for urls, texts in batches():
                    keys = pair_keys(urls, texts)
                    rec = np.empty(len(keys), dtype=KEY)
                    rec["hi"], rec["lo"], rec["unit"] = keys["hi"], keys["lo"], u
                    rec["row"] = np.arange(row0, row0 + len(keys), dtype=np.uint64)
                    row0 += len(keys)
                    which = (rec["hi"] >> np.uint64(64 - bits)).astype(np.int64) if bits else np.zeros(len(rec), int)
                    order = np.argsort(which, kind="stable")
                    rec, which = rec[order], which[order]
                    cuts = np.searchsorted(which, np.arange(nb + 1))
                    for b in np.nonzero(np.diff(cuts))[0]:
                        bucket_files[b].write(rec[cuts[b]:cuts[b + 1]].tobytes())
        finally:
            for f in bucket_files:
                f.close()
        group_of = (np.arange(len(units)) * groups) // max(1, len(units))
        group_files = [open(tmp / f"g{g:05d}", "wb") for g in range(groups)]
        try:
            for b in range(nb):
                rec = np.fromfile(tmp / f"b{b:05d}", dtype=KEY)
                os.unlink(tmp / f"b{b:05d}")
                if len(rec) < 2:
                    continue
                rec = rec[np.lexsort((rec["row"], rec["unit"], rec["lo"], rec["hi"]))]
                later = np.zeros(len(rec), dtype=bool)
                later[1:] = (rec["hi"][1:] == rec["hi"][:-1]) & (rec["lo"][1:] == rec["lo"][:-1])
                dups = rec[later]
                g = group_of[dups["unit"].astype(np.int64)]
                for gi in np.unique(g):
                    sel = dups[g == gi]
                    out = np.empty(len(sel), dtype=DUP)
                    out["unit"], out["row"] = sel["unit"], sel["row"]
                    group_files[gi].write(out.tobytes())
        finally:
            for f in group_files:
                f.close()
        for g in range(groups):
            dups = np.fromfile(tmp / f"g{g:05d}", dtype=DUP)
            for u in np.nonzero(group_of == g)[0]:
                mask = np.ones(units[u][0], dtype=bool)
                mask[dups["row"][dups["unit"] == u].astype(np.int64)] = False
                yield int(u), mask
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
