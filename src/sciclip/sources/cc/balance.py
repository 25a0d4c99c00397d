"""MetaCLIP's balancing with draws that do not depend on how the pool is cut up.

Per entry ``p = t / max(count, t)`` (``count``: matched texts of the whole pool, summed over units by a
gather step); a (record, text) is kept when any of its entries' draws passes, i.e. with probability
``1 - prod(1 - p)``. The reference draws ``random.random()`` without a seed, so a run cannot be repeated
and the result depends on the order records are visited. Here the draw for an entry is a pure function
of (seed, stage, record id, text, entry id): units, workers and order never change what is kept, and a
duplicate (url, text) gets the same decision wherever it occurs. ``stage`` keeps the draws before and
after download independent, so balancing twice (a larger ``t`` before download, the target after) aims
at the target counts of the downloaded pool.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def record_id(url: str) -> str:
    """MetaCLIP's record uuid: the first 24 hex characters of sha224(url)."""
    return hashlib.sha224(url.encode("utf-8")).hexdigest()[:24]


def probabilities(counts: np.ndarray, t: float) -> np.ndarray:
    """Per entry, the chance a text matching it is kept: t / max(count, t)."""
    counts = np.asarray(counts, dtype=np.float64)
    return t / np.maximum(counts, t)


def _base(seed: int, stage: str, rid: str, text: str) -> int:
    h = hashlib.blake2b(digest_size=8, person=b"sciclip-cc-draw")
    h.update(f"{seed}\0{stage}\0{rid}\0{text}".encode("utf-8", "surrogatepass"))
    return int.from_bytes(h.digest(), "little")


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijective scramble of 64-bit integers, uniform in its output."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def draws(seed: int, stage: str, rid: str, text: str, entry_ids: Sequence[int]) -> np.ndarray:
    """Uniform [0, 1) draws, one per entry id, as a pure function of the arguments."""
    base = np.uint64(_base(seed, stage, rid, text))
    ids = np.asarray(entry_ids, dtype=np.uint64)
    with np.errstate(over="ignore"):
        mixed = _splitmix(base + (ids + np.uint64(1)) * _GOLDEN)
    return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def keep(seed: int, stage: str, url: str, text: str, entry_ids: Sequence[int], probs: np.ndarray) -> bool:
    """True when any of the (url, text)'s entries' draws passes its probability."""
    if len(entry_ids) == 0:
        return False
    ids = np.asarray(entry_ids, dtype=np.int64)
    return bool(np.any(draws(seed, stage, record_id(url), text, ids) < probs[ids]))


def keep_mask(seed: int, stage: str, urls: Sequence[str], texts: Sequence[str], entry_ids: Sequence[Sequence[int]],
              probs: np.ndarray) -> np.ndarray:
    """``keep`` for many rows at once (the same decisions, one numpy pass over all their entries)."""
    n = len(urls)
    if n == 0:
        return np.zeros(0, dtype=bool)
    lengths = np.fromiter((len(e) for e in entry_ids), dtype=np.int64, count=n)
    flat = np.fromiter((i for e in entry_ids for i in e), dtype=np.int64, count=int(lengths.sum()))
    rids: dict[str, str] = {}  # rows of one image come together: hash its url once

    def rid(url: str) -> str:
        if url not in rids:
            rids[url] = record_id(url)
        return rids[url]

    bases = np.fromiter((_base(seed, stage, rid(u), t) for u, t in zip(urls, texts)), dtype=np.uint64, count=n)
    with np.errstate(over="ignore"):
        mixed = _splitmix(np.repeat(bases, lengths) + (flat.astype(np.uint64) + np.uint64(1)) * _GOLDEN)
    passed = (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53) < probs[flat]
    row = np.repeat(np.arange(n), lengths)
    out = np.zeros(n, dtype=bool)
    out[row[passed]] = True
    return out


def entry_counts(entry_ids: Sequence[Sequence[int]], size: int, mask: np.ndarray | None = None) -> np.ndarray:
    """+1 per entry per matched text (MetaCLIP's count), over the rows ``mask`` keeps; uint64[size]."""
    lists = entry_ids if mask is None else [e for e, m in zip(entry_ids, mask) if m]
    flat = np.fromiter((i for e in lists for i in e), dtype=np.int64)
    return np.bincount(flat, minlength=size).astype(np.uint64)
