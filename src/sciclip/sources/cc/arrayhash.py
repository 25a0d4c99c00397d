"""Hashing and hash lookups over whole arrays, for the matcher's word trie.

Why written here: numpy has no hash map, pyarrow's ``index_in`` rebuilds its table on every call, and a
Python dict is the wrong tool at this size: a lookup among 300,000 words costs about 1 us on a busy machine
(slot, entry and key are three cache misses, one after the other), and a WAT file has millions of words. A
numpy gather issues the misses of a whole array at once, so ``IntMap.get`` over a batch costs tens of ns a
key. ``binary_hashes`` hashes variable-length byte strings the same way, a whole array at a time.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_MULT = 0x100000001B3  # FNV's 64-bit prime: the polynomial's base (odd, so no byte is ever shifted out)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)  # splitmix64's finaliser


def offsets(values: pa.Array) -> np.ndarray:
    """The value offsets of a (large) binary, string or list array, as int64, ``len(values) + 1`` of them."""
    t = values.type
    width = np.int64 if pa.types.is_large_binary(t) or pa.types.is_large_string(t) or pa.types.is_large_list(t) else np.int32
    raw = np.frombuffer(values.buffers()[1], width)
    return raw[values.offset:values.offset + len(values) + 1].astype(np.int64, copy=False)


class BinaryHasher:
    """A 63-bit hash (>= 0) of each value of a binary array up to ``max_len`` bytes; longer ones get -1.

    The hash is a polynomial in the bytes (base odd, mod 2^64) plus the length, mixed by splitmix64's
    finaliser; ``salt`` picks another base. Not cryptographic: callers compare the bytes of what a hash
    found. Values longer than ``max_len`` are never hashed, so one huge text cannot make the per-byte
    arrays grow beyond the batch's own size."""

    def __init__(self, max_len: int, salt: int = 0) -> None:
        self.max_len = max_len
        base = np.uint64((_MULT + 2 * salt) & (2**64 - 1))
        self._powers = np.cumprod(np.concatenate([np.ones(1, np.uint64), np.full(max(0, max_len - 1), base)]),
                                  dtype=np.uint64)

    def __call__(self, values: pa.Array) -> np.ndarray:
        bounds = offsets(values)
        lengths = np.diff(bounds)
        out = np.full(len(lengths), -1, np.int64)
        kept = np.flatnonzero(lengths <= self.max_len)
        lens = lengths[kept]
        h = np.zeros(len(kept), np.uint64)
        full = np.flatnonzero(lens)
        if len(full):
            n = lens[full]
            firsts = np.cumsum(n) - n  # where each value starts among the gathered bytes
            within = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(firsts, n)
            data = np.frombuffer(values.buffers()[2], np.uint8)
            gathered = data[np.repeat(bounds[kept[full]], n) + within].astype(np.uint64)
            h[full] = np.add.reduceat(self._powers[within] * gathered, firsts)
        h = (h + lens.astype(np.uint64)) * _MIX1
        h = (h ^ (h >> np.uint64(31))) * _MIX2
        h ^= h >> np.uint64(29)
        out[kept] = (h >> np.uint64(1)).astype(np.int64)
        return out


class IntMap:
    """A fixed map from int64 keys (>= 0, distinct) to int64 values: open addressing, linear probing, half
    full, built and queried a whole array at a time."""

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        keys = np.asarray(keys, np.int64)
        if len(keys) and (keys.min() < 0 or len(np.unique(keys)) != len(keys)):
            raise ValueError("IntMap keys must be distinct and >= 0")
        bits = max(3, (2 * len(keys)).bit_length())
        self._shift = np.uint64(64 - bits)
        self._mask = (1 << bits) - 1
        self._keys = np.full(1 << bits, -1, np.int64)
        self._values = np.zeros(1 << bits, np.int64)
        slots = self._home(keys)
        pending = np.arange(len(keys))
        while len(pending):  # each round, every free slot takes the first key wanting it; the rest move on
            s = slots[pending]
            claim = np.zeros(len(pending), bool)
            claim[np.unique(s, return_index=True)[1]] = True
            claim &= self._keys[s] == -1
            self._keys[s[claim]] = keys[pending[claim]]
            self._values[s[claim]] = values[pending[claim]]
            pending = pending[~claim]
            slots[pending] = (slots[pending] + 1) & self._mask

    def _home(self, keys: np.ndarray) -> np.ndarray:
        return ((keys.astype(np.uint64) * _MIX1) >> self._shift).astype(np.int64)

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The value of each key; -1 for keys not in the map (negative ones included)."""
        out = np.full(len(keys), -1, np.int64)
        pending = np.flatnonzero(keys >= 0)
        slots = self._home(keys[pending])
        while len(pending):
            found = self._keys[slots]
            hit = found == keys[pending]
            out[pending[hit]] = self._values[slots[hit]]
            go_on = ~hit & (found != -1)
            pending, slots = pending[go_on], (slots[go_on] + 1) & self._mask
        return out
