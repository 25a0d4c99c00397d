"""DataComp subset files: sorted ``np.dtype("u8,u8")`` arrays of uids, read, checked and written in chunks so
that memory never grows with the number of samples (a full run's subset is tens of millions of uids)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sciclip.errors import SciclipError
from sciclip.storage.atomic import temporary_name

U16 = np.dtype("u8,u8")
CHUNK = 1 << 17  # uids per chunk: 2 MiB (the working memory of merges and checks is a few of these)


def uid_pairs(uids: list[str]) -> np.ndarray:
    """(high, low) uint64 pairs of 32-hex-character uids, as DataComp stores them."""
    return np.array([(int(u[:16], 16), int(u[16:32], 16)) for u in uids], dtype=U16)


def hex_to_pairs(uids: np.ndarray) -> np.ndarray:
    """Vectorised ``uid_pairs`` for an array of 32-byte ASCII hex uids (dtype S32)."""
    out = np.empty(len(uids), dtype=U16)
    if len(uids):
        raw = np.frombuffer(np.ascontiguousarray(uids, dtype="S32").tobytes(), dtype=np.uint8).reshape(-1, 32)
        nib = np.where(raw >= ord("a"), raw - ord("a") + 10, np.where(raw >= ord("A"), raw - ord("A") + 10,
                                                                       raw - ord("0"))).astype(np.uint64)
        weights = np.uint64(1) << (np.arange(15, -1, -1, dtype=np.uint64) * np.uint64(4))
        out["f0"] = (nib[:, :16] * weights).sum(axis=1, dtype=np.uint64)
        out["f1"] = (nib[:, 16:] * weights).sum(axis=1, dtype=np.uint64)
    return out


def _is_sorted(a: np.ndarray) -> bool:
    hi, lo = a["f0"], a["f1"]
    return bool(np.all((hi[1:] > hi[:-1]) | ((hi[1:] == hi[:-1]) & (lo[1:] >= lo[:-1]))))


def check_sorted(subset: np.ndarray, path: str | os.PathLike = "subset") -> None:
    """Binary search needs sorted input (DataComp's tools assume it): checked at any size, chunk by chunk."""
    last = None
    start = 0
    for chunk in _chunks(subset):
        joined = chunk if last is None else np.concatenate([last, chunk])  # one element joins the chunks
        if len(joined) > 1 and not _is_sorted(joined):
            raise SciclipError(f"{path}: subset is not sorted (near uid #{start})")
        last = chunk[-1:] if len(chunk) else last
        start += len(chunk)


def load_subset(path: str | os.PathLike, check: bool = True) -> np.ndarray:
    """A DataComp subset (.npy, or a raw memmap as resharder.py also accepts), memory-mapped."""
    path = Path(path)
    if not path.is_file():
        raise SciclipError(f"{path}: no such subset file")
    with open(path, "rb") as f:
        magic = f.read(6)
    try:
        if magic == b"\x93NUMPY":
            subset = np.load(path, mmap_mode="r")
        else:
            if path.stat().st_size % U16.itemsize:
                raise ValueError(f"size {path.stat().st_size} is not a multiple of 16 bytes")
            subset = np.memmap(path, U16, mode="r")
    except ValueError as e:
        raise SciclipError(f"{path}: not a subset file ({e})") from None
    if subset.dtype != U16:
        raise SciclipError(f"{path}: subset dtype is {subset.dtype}, expected {U16}")
    if check:
        check_sorted(subset, path)
    return subset


def multiplicity(subset: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """How often each uid occurs in the (sorted) subset."""
    if len(pairs) == 0 or len(subset) == 0:
        return np.zeros(len(pairs), dtype=np.int64)
    return (np.searchsorted(subset, pairs, "right") - np.searchsorted(subset, pairs, "left")).astype(np.int64)


class SubsetWriter:
    """Writes a subset of known length chunk by chunk into a ``.npy`` (atomically: temp name, then rename).

    Plain file writes, not a memory map: written pages of a map count as the process's memory."""

    def __init__(self, path: str | os.PathLike, length: int) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = temporary_name(self.path)  # fixed: a rerun overwrites what a killed one left
        self.length = length
        self.file = open(self.tmp, "wb")
        np.lib.format.write_array_header_1_0(
            self.file, {"descr": np.lib.format.dtype_to_descr(U16), "fortran_order": False, "shape": (length,)})
        self.n = 0

    def write(self, chunk: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(chunk, dtype=U16).tobytes())
        self.n += len(chunk)

    def close(self) -> None:
        self.file.close()
        if self.n != self.length:
            self.tmp.unlink(missing_ok=True)
            raise ValueError(f"{self.path}: wrote {self.n} of {self.length} uids")
        os.replace(self.tmp, self.path)


def save_subset(path: str | os.PathLike, subset: np.ndarray) -> None:
    w = SubsetWriter(path, len(subset))
    w.write(subset)
    w.close()


def _chunks(a: np.ndarray) -> Iterator[np.ndarray]:
    """Chunks of a subset; a memory-mapped one is read with plain reads (its mapped pages would add up)."""
    filename = getattr(a, "filename", None)
    if filename is None:
        for start in range(0, len(a), CHUNK):
            yield np.asarray(a[start:start + CHUNK])
        return
    with open(filename, "rb") as f:
        f.seek(a.offset)
        for start in range(0, len(a), CHUNK):
            yield np.fromfile(f, dtype=U16, count=min(CHUNK, len(a) - start))


def merge_sorted(arrays: list[np.ndarray]) -> Iterator[np.ndarray]:
    """Chunks of the sorted union (with multiplicity) of sorted arrays, holding O(chunk x inputs) in memory.

    Each round takes, from every input, the elements up to the smallest of the inputs' current chunk maxima
    (everything below it is final), sorts that small batch and emits it.
    """
    streams = [_chunks(a) for a in arrays]
    heads = [next(s, None) for s in streams]
    while True:
        live = [i for i, h in enumerate(heads) if h is not None and len(h)]
        if not live:
            return
        bound = min((heads[i][-1] for i in live), key=lambda v: (int(v[0]), int(v[1])))
        bound_arr = np.array([bound], dtype=U16)
        batch = []
        for i in live:
            cut = int(np.searchsorted(heads[i], bound_arr, "right")[0])
            batch.append(heads[i][:cut])
            rest = heads[i][cut:]
            heads[i] = rest if len(rest) else next(streams[i], None)
        out = np.concatenate(batch)
        out.sort()
        yield out


class UidPartitions:
    """A subset too large for memory, written sorted: uids are appended to files by their top bits (``add``),
    then each file is sorted and written in turn (``write``), optionally intersected with a sorted base subset
    (the base's multiplicity kept). Memory: one partition. The files live in a work folder beside ``near``."""

    def __init__(self, near: str | os.PathLike, partitions: int = 256) -> None:
        import shutil

        near = Path(near)
        self.work = near.with_name(f".{near.name}.parts-{os.getpid()}")
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        self.partitions = partitions
        self.shift = np.uint64(64 - max(1, (partitions - 1).bit_length()))
        self.files = [open(self.work / f"{q:04d}", "wb") for q in range(partitions)]

    def __enter__(self) -> UidPartitions:
        return self

    def __exit__(self, *exc) -> None:
        import shutil

        self._close()
        shutil.rmtree(self.work, ignore_errors=True)

    def _close(self) -> None:
        for f in self.files:
            f.close()

    def add(self, pairs: np.ndarray) -> None:
        q = (pairs["f0"] >> self.shift).astype(np.int64) if self.partitions > 1 else np.zeros(len(pairs), np.int64)
        for part in np.unique(q):
            self.files[part].write(np.ascontiguousarray(pairs[q == part], dtype=U16).tobytes())

    def _bounds(self, base: np.ndarray) -> np.ndarray:
        """Where each partition's uids start in the sorted base (and where the last ends)."""
        starts = np.zeros(self.partitions + 1, np.int64)
        for q in range(1, self.partitions):
            probe = np.array([(int(q) << int(self.shift), 0)], dtype=U16)
            starts[q] = int(np.searchsorted(base, probe, "left")[0])
        starts[self.partitions] = len(base)
        return starts

    def _part(self, q: int, base: np.ndarray | None, bounds: np.ndarray | None) -> np.ndarray:
        sel = np.fromfile(self.work / f"{q:04d}", dtype=U16)
        sel.sort()
        if base is None:
            return sel
        chunk = np.asarray(base[bounds[q]:bounds[q + 1]])
        if not len(sel) or not len(chunk):
            return chunk[:0]
        pos = np.minimum(np.searchsorted(sel, chunk), len(sel) - 1)
        return chunk[sel[pos] == chunk]

    def write(self, out: str | os.PathLike, base: np.ndarray | None = None) -> int:
        """Two passes over the partitions (the .npy header needs the length first): count, then write."""
        self._close()
        bounds = self._bounds(base) if base is not None else None
        total = sum(len(self._part(q, base, bounds)) for q in range(self.partitions))
        writer = SubsetWriter(out, total)
        for q in range(self.partitions):
            writer.write(self._part(q, base, bounds))
        writer.close()
        return total
