"""Which images leave the documents, decided once over every document folder of a run, in bounded memory.

Definitions (one place):
- corpus order: folders in the order given (the workflow: arXiv units, PMC units, then the web's dedup
  output), documents in their shard order; an image's place is its folder, document and position;
- contaminated: the image's score (``image_descriptors``: max similarity to an evaluation image) reaches the
  decontamination threshold, exactly as a pair's does; an image that could not be decoded goes too;
- too frequent: an image leaves a document when at least ``max_documents`` earlier documents already hold a copy
  of it, i.e. an image with the same bytes (sha256) or one within the near-duplicate threshold (pHash: 1 -
  Hamming/64; Yokoo: inner product; ``curate.near_dup``'s definition). So an image, or a family of
  near-copies, stays in its first ``max_documents`` documents and leaves every later one (OBELICS removes
  images found in too many documents: logos, banners, icons; it counts URLs, this counts pictures).
  Contaminated images take no part in the count (they go anyway).

Bounded memory (as the pairs' exact dedup and near-dup search): nothing holds the corpus.
1. One streamed pass over the folders joins each image with its descriptor row (the unit descriptor files are
   in the same order; a web dedup output is an ordered subset of its units) and writes contamination decisions
   to range-bucketed files, every other image into partition files by its sha256 (``mix64`` of its first 64
   bits).
2. Per sha256 partition: the first ``max_documents`` distinct documents of each distinct image (a "key"),
   written, with the key's descriptor, to the near-duplicate search's partitions: pHash by multi-index
   hashing (exact: every pair within the threshold shares a chunk value), Yokoo by k-means partitions
   (``near_dup.kmeans_partitions``; approximate as the pairs' search).
3. Per search partition: for each key, the ``max_documents`` earliest documents over its near-duplicates'
   lists (the earliest N of a union are among each part's earliest N), written back by sha256 partition.
4. Per sha256 partition again: each image's count of earlier documents among its key's list decides.
Decisions are sorted by image into one ``{folder name}.npy`` per folder (``REMOVAL`` records, by image index
within the folder), which ``clean`` applies; ``report.json`` counts them.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sciclip.curate.near_dup import block_rows, chunk_bounds, kmeans_partitions, max_bits, mix64, phash_codes
from sciclip.docs.image_descriptors import EMB, load_descriptors
from sciclip.docs.reader import read_dir
from sciclip.errors import SciclipError
from sciclip.progress import progress
from sciclip.shards.subset_file import hex_to_pairs
from sciclip.storage.atomic import atomic_write_bytes

REMOVAL = np.dtype([("image", "u8"), ("uh", "u8"), ("ul", "u8"), ("reason", "u1"), ("value", "f4")])
CONTAMINATED, TOO_FREQUENT, UNDECODABLE = 1, 2, 3
REASONS = {CONTAMINATED: "near_duplicate_of_evaluation_image", TOO_FREQUENT: "repeated_in_too_many_documents",
           UNDECODABLE: "image_undecodable"}
NO_DOC = np.iinfo(np.uint64).max
PARTITION_BYTES = 1 << 28  # records per partition file: ~256 MiB whatever the descriptor
BUCKET_SHIFT = 22  # decisions are bucketed by image index, 4M images a file
FLUSH = 1 << 16  # images buffered before they go to the partition files
REPORT = "report.json"


@dataclass
class Folder:
    """A document folder, the descriptor folders of the units it was made from (in order), and the name its
    decisions are written under (``out/{name}.npy``; may hold a slash)."""

    name: str
    docs: Path
    descriptors: list[Path]


def smallest_distinct(owner: np.ndarray, docs: np.ndarray, n: int, owners: int) -> np.ndarray:
    """For each owner (0..owners-1), its ``n`` smallest distinct documents, padded with NO_DOC."""
    out = np.full((owners, n), NO_DOC, np.uint64)
    keep = docs != NO_DOC
    owner, docs = owner[keep], docs[keep]
    if not len(docs):
        return out
    order = np.lexsort((docs, owner))
    o, d = owner[order], docs[order]
    new = np.r_[True, (o[1:] != o[:-1]) | (d[1:] != d[:-1])]
    o, d = o[new], d[new]
    first = np.flatnonzero(np.r_[True, o[1:] != o[:-1]])
    rank = np.arange(len(o)) - np.repeat(first, np.diff(np.r_[first, len(o)]))
    sel = rank < n
    out[o[sel], rank[sel]] = d[sel]
    return out


def _expand(owner: np.ndarray, lists: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, doc) pairs of per-row document lists (rows x n)."""
    return np.repeat(owner, lists.shape[1]), lists.ravel()


class _Rows:
    """The descriptor rows of a folder's units, read in order: ``find(uid)`` moves to the next row of that uid
    (a dedup output keeps an ordered subset of its units' documents, so a merge join finds every image)."""

    def __init__(self, folder: Folder) -> None:
        self.folder = folder
        self.dirs = list(folder.descriptors)
        self.d = -1
        self.i = 0
        self.uids: list[str] = []
        self.descriptor: str | None = None

    def _next_dir(self) -> bool:
        self.d += 1
        if self.d >= len(self.dirs):
            return False
        table, self.emb, descriptor = load_descriptors(self.dirs[self.d])
        if self.descriptor is not None and descriptor != self.descriptor:
            raise SciclipError(f"{self.dirs[self.d]}: {descriptor} descriptors beside {self.descriptor}")
        self.descriptor = descriptor
        self.uids = table.column("uid").to_pylist()
        self.sha = table.column("sha256").to_pylist()
        self.described = table.column("described").to_pylist()
        self.score = table.column("score").to_pylist()
        self.i = 0
        return True

    def find(self, uid: str, doc_id: str) -> tuple[str, bool, float | None, np.ndarray]:
        while True:
            while self.i < len(self.uids):
                i = self.i
                self.i += 1
                if self.uids[i] == uid:
                    return self.sha[i], self.described[i], self.score[i], self.emb[i]
            if not self._next_dir():
                raise SciclipError(f"{self.folder.docs}: image {uid} of document {doc_id} has no descriptor in "
                                   f"{', '.join(map(str, self.dirs))} (made from other documents, or in another "
                                   "order?)")


class _Buckets:
    """Files of records by a key's range (``key >> shift``) or partition, opened as they are needed."""

    def __init__(self, work: Path, prefix: str) -> None:
        self.work, self.prefix = work, prefix
        self.files: dict[int, object] = {}

    def path(self, b: int) -> Path:
        return self.work / f"{self.prefix}.{b:06d}"

    def add(self, b: int, rec: np.ndarray) -> None:
        if not len(rec):
            return
        if b not in self.files:
            self.files[b] = open(self.path(b), "ab")
        self.files[b].write(rec.tobytes())  # type: ignore[attr-defined]

    def scatter(self, part: np.ndarray, rec: np.ndarray) -> None:
        for b in np.unique(part):
            self.add(int(b), rec[part == b])

    def close(self) -> None:
        """Close every open file (a later ``add`` appends to it again)."""
        for f in self.files.values():
            f.close()  # type: ignore[attr-defined]
        self.files.clear()

    def read(self, b: int, dtype: np.dtype, remove: bool = True) -> np.ndarray:
        p = self.path(b)
        if not p.is_file():
            return np.zeros(0, dtype)
        rec = np.fromfile(p, dtype=dtype)
        if remove:
            p.unlink()
        return rec


def _occ_dtype(descriptor: str, dim: int) -> np.dtype:
    head = [("ih", "u8"), ("il", "u8"), ("doc", "u8"), ("image", "u8"), ("uh", "u8"), ("ul", "u8")]
    return np.dtype(head + ([("code", "u8")] if descriptor == "phash" else [("emb", "f4", (dim,))]))


def _key_dtype(descriptor: str, dim: int, n: int) -> np.dtype:
    head = [("ih", "u8"), ("il", "u8"), ("docs", "u8", (n,))]
    return np.dtype(head + ([("code", "u8"), ("group", "u8")] if descriptor == "phash" else [("emb", "f4", (dim,))]))


def _list_dtype(n: int) -> np.dtype:
    return np.dtype([("ih", "u8"), ("il", "u8"), ("docs", "u8", (n,))])


@dataclass
class _Scan:
    folder_starts: list[int]  # first image index (corpus-wide) of each folder
    images: int
    documents: int
    removed: dict
    occurrences: int
    descriptor: str | None
    dtype: np.dtype | None  # of the partition records


def _scan(folders: list[Folder], contamination: float | None, counting: bool, occ: _Buckets, decisions: _Buckets,
          parts: int) -> _Scan:
    """Pass 1: every image joined with its descriptor row; decisions for the contaminated and undecodable,
    partition records (by sha256) for the rest when counting."""
    image = doc = occurrences = 0
    starts: list[int] = []
    removed = {r: 0 for r in REASONS}
    descriptor = None
    dtype = None
    for folder in progress(folders, desc="image removals: scan", unit="folder"):
        starts.append(image)
        rows = _Rows(folder)
        buf: dict[str, list] = {k: [] for k in ("sha", "doc", "image", "uid", "emb")}
        dec: list[tuple] = []

        def flush() -> None:
            nonlocal dtype, occurrences
            if dec:
                rec = np.zeros(len(dec), REMOVAL)
                rec["image"], uids, rec["reason"], rec["value"] = (np.array(x) for x in zip(*dec))
                pairs = hex_to_pairs(np.array(uids, dtype="S32"))
                rec["uh"], rec["ul"] = pairs["f0"], pairs["f1"]
                decisions.scatter(rec["image"] >> np.uint64(BUCKET_SHIFT), rec)
                dec.clear()
            if buf["uid"]:
                emb = np.stack(buf["emb"])
                if dtype is None:
                    dtype = _occ_dtype(descriptor, emb.shape[1])  # type: ignore[arg-type]
                rec = np.zeros(len(buf["uid"]), dtype)
                sha = hex_to_pairs(np.array([s[:32] for s in buf["sha"]], dtype="S32"))
                uid = hex_to_pairs(np.array(buf["uid"], dtype="S32"))
                rec["ih"], rec["il"], rec["uh"], rec["ul"] = sha["f0"], sha["f1"], uid["f0"], uid["f1"]
                rec["doc"], rec["image"] = buf["doc"], buf["image"]
                if descriptor == "phash":
                    rec["code"] = phash_codes(emb)
                else:
                    rec["emb"] = emb
                occ.scatter(mix64(rec["ih"]) % np.uint64(parts), rec)
                occurrences += len(rec)
                for v in buf.values():
                    v.clear()

        for record in read_dir(folder.docs, with_images=False):
            for im, meta in zip(record.images, record.metadata):
                if im is None:
                    continue
                uid = str((meta or {}).get("uid") or "")
                sha, described, score, emb = rows.find(uid, record.id)
                descriptor = descriptor or rows.descriptor
                if rows.descriptor != descriptor:
                    raise SciclipError(f"{folder.docs}: {rows.descriptor} descriptors beside {descriptor}")
                if not described:
                    dec.append((image, uid, UNDECODABLE, 0.0))
                    removed[UNDECODABLE] += 1
                elif contamination is not None and score is not None and score >= contamination:
                    dec.append((image, uid, CONTAMINATED, score))
                    removed[CONTAMINATED] += 1
                elif counting:
                    if len(sha) < 32:
                        raise SciclipError(f"{folder.docs}: image {uid} of document {record.id} has no sha256")
                    buf["sha"].append(sha)
                    buf["doc"].append(doc)
                    buf["image"].append(image)
                    buf["uid"].append(uid)
                    buf["emb"].append(np.asarray(emb))
                image += 1
                if len(buf["uid"]) + len(dec) >= FLUSH:
                    flush()
            doc += 1
        flush()
    return _Scan(starts, image, doc, removed, occurrences, descriptor, dtype)


def _first_documents(occ: _Buckets, parts: int, dtype: np.dtype, n: int, keys_out) -> int:
    """Pass 2: per sha256 partition, one key record per distinct image with its first ``n`` documents and the
    descriptor of its first occurrence, handed to ``keys_out``; the partition files stay for pass 4."""
    keys = 0
    for p in progress(range(parts), desc="image removals: exact", unit="part"):
        rec = occ.read(p, dtype, remove=False)
        if not len(rec):
            continue
        rec = rec[np.lexsort((rec["image"], rec["doc"], rec["il"], rec["ih"]))]
        new = np.r_[True, (rec["ih"][1:] != rec["ih"][:-1]) | (rec["il"][1:] != rec["il"][:-1])]
        kidx = np.cumsum(new) - 1
        first = rec[new]
        docs = smallest_distinct(kidx, rec["doc"], n, len(first))
        keys_out(first, docs)
        keys += len(first)
    return keys


def _phash_lists(occ_parts: int, keys: _Buckets, kparts: int, kdtype: np.dtype, bits: int, n: int,
                 lists: _Buckets) -> None:
    """Pass 3 (pHash): per chunk-value group, the union of the near-duplicates' document lists of each key."""
    ldtype = _list_dtype(n)
    for p in progress(range(kparts), desc="image removals: near", unit="part"):
        rec = keys.read(p, kdtype)
        if len(rec) < 2:
            continue
        rec = rec[np.lexsort((rec["code"], rec["group"]))]
        starts = np.flatnonzero(np.r_[True, rec["group"][1:] != rec["group"][:-1]])
        ends = np.r_[starts[1:], len(rec)]
        for s, e in zip(starts.tolist(), ends.tolist()):
            if e - s < 2:
                continue  # alone in its group: its own list is all it has (pass 4 reads it from the occurrences)
            g = rec[s:e]
            new_code = np.r_[True, g["code"][1:] != g["code"][:-1]]
            ci = np.cumsum(new_code) - 1
            codes = g["code"][new_code]
            own = smallest_distinct(*_expand(ci, g["docs"]), n, len(codes))  # identical codes: one list
            if len(codes) == 1:
                union = own
            else:
                union = np.full((len(codes), n), NO_DOC, np.uint64)
                step = block_rows(len(codes) * n)
                for b in range(0, len(codes), step):
                    q = codes[b:b + step]
                    rows, cols = np.nonzero(np.bitwise_count(q[:, None] ^ codes[None, :]) <= bits)
                    union[b:b + len(q)] = smallest_distinct(*_expand(rows, own[cols]), n, len(q))
            out = np.zeros(len(g), ldtype)
            out["ih"], out["il"], out["docs"] = g["ih"], g["il"], union[ci]
            lists.scatter(mix64(out["ih"]) % np.uint64(occ_parts), out)


def _yokoo_lists(occ_parts: int, keys_file: Path, kdtype: np.dtype, threshold: float, n: int, work: Path,
                 probes: int, seed: int, lists: _Buckets) -> dict:
    """Pass 3 (Yokoo): per k-means partition, the union of the near-duplicates' document lists of each key."""
    def batches():
        with open(keys_file, "rb") as f:
            while True:
                rec = np.fromfile(f, dtype=kdtype, count=FLUSH)
                if not len(rec):
                    return
                yield rec

    kparts, probes, _, _ = kmeans_partitions(batches, work, probes, seed)
    ldtype = _list_dtype(n)
    for p in progress(range(kparts), desc="image removals: near", unit="part"):
        path = work / f"p{p:05d}"
        rec = np.fromfile(path, dtype=kdtype)
        path.unlink()
        if len(rec) < 2:
            continue
        emb = np.ascontiguousarray(rec["emb"])  # a record field is strided: packed once, not per block
        step = block_rows(len(rec) * n)
        for b in range(0, len(rec), step):
            q = rec[b:b + step]
            hit = (emb[b:b + step] @ emb.T) >= np.float32(threshold)
            many = hit.sum(axis=1) > 1  # a key only near itself has nothing to add
            if not many.any():
                continue
            rows, cols = np.nonzero(hit[many])
            out = np.zeros(int(many.sum()), ldtype)
            out["ih"], out["il"] = q["ih"][many], q["il"][many]
            out["docs"] = smallest_distinct(*_expand(rows, rec["docs"][cols]), n, len(out))
            lists.scatter(mix64(out["ih"]) % np.uint64(occ_parts), out)
    return {"partitions": kparts, "probes": probes}


def _decide(occ: _Buckets, parts: int, dtype: np.dtype, lists: _Buckets, n: int, decisions: _Buckets) -> int:
    """Pass 4: an image goes when its key's list holds ``n`` documents earlier than its own."""
    removed = 0
    ldtype = _list_dtype(n)
    for p in progress(range(parts), desc="image removals: decide", unit="part"):
        rec = occ.read(p, dtype)
        if not len(rec):
            continue
        extra = lists.read(p, ldtype)
        ih = np.concatenate([rec["ih"], extra["ih"]])
        il = np.concatenate([rec["il"], extra["il"]])
        key = np.zeros(len(ih), np.dtype([("h", "u8"), ("l", "u8")]))
        key["h"], key["l"] = ih, il
        uniq, inv = np.unique(key, return_inverse=True)
        inv = inv.ravel()
        k_occ, k_extra = inv[:len(rec)], inv[len(rec):]
        extra_owner, extra_docs = _expand(k_extra, extra["docs"])
        owner = np.concatenate([k_occ, extra_owner])
        docs = np.concatenate([rec["doc"], extra_docs])
        lists_of = smallest_distinct(owner, docs, n, len(uniq))
        earlier = (lists_of[k_occ] < rec["doc"][:, None]).sum(axis=1)
        gone = earlier >= n
        if gone.any():
            out = np.zeros(int(gone.sum()), REMOVAL)
            out["image"], out["uh"], out["ul"] = rec["image"][gone], rec["uh"][gone], rec["ul"][gone]
            out["reason"], out["value"] = TOO_FREQUENT, earlier[gone]
            decisions.scatter(out["image"] >> np.uint64(BUCKET_SHIFT), out)
            removed += len(out)
    return removed


def _write_folders(folders: list[Folder], scan: _Scan, decisions: _Buckets, out: Path) -> dict[str, dict]:
    """One sorted ``{name}.npy`` per folder from the range buckets (a folder may span several)."""
    starts = np.array(scan.folder_starts + [scan.images], np.uint64)
    buckets = (scan.images >> BUCKET_SHIFT) + 1
    counts = np.zeros(len(folders), np.int64)
    for b in range(buckets):  # count first: each folder's file is preallocated
        rec = decisions.read(b, REMOVAL, remove=False)
        f = np.searchsorted(starts, rec["image"], "right") - 1
        counts += np.bincount(f, minlength=len(folders))[:len(folders)]
    arrays = []
    for folder, c in zip(folders, counts):
        path = out / f"{folder.name}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        if c:
            arrays.append(np.lib.format.open_memmap(path, mode="w+", dtype=REMOVAL, shape=(int(c),)))
        else:  # an empty file cannot be mapped
            np.save(path, np.zeros(0, REMOVAL))
            arrays.append(np.zeros(0, REMOVAL))
    filled = np.zeros(len(folders), np.int64)
    per_folder: dict[str, dict] = {}
    for b in range(buckets):
        rec = decisions.read(b, REMOVAL)
        rec = rec[np.argsort(rec["image"], kind="stable")]
        f = np.searchsorted(starts, rec["image"], "right") - 1
        for i in np.unique(f):
            sel = rec[f == i]
            sel["image"] -= starts[i]  # the image's index within its folder
            arrays[i][filled[i]:filled[i] + len(sel)] = sel
            filled[i] += len(sel)
    for folder, a in zip(folders, arrays):
        reasons, n = np.unique(a["reason"], return_counts=True)
        per_folder[folder.name] = {REASONS[int(r)]: int(k) for r, k in zip(reasons, n)}
        if isinstance(a, np.memmap):
            a.flush()
    del arrays
    return per_folder


def _partition_bytes(folders: list[Folder]) -> int:
    """An upper bound on the partition records' size: every image with its descriptor."""
    total = 0
    for f in folders:
        for d in f.descriptors:
            try:
                emb = np.load(Path(d) / EMB, mmap_mode="r")
            except (OSError, ValueError) as e:
                raise SciclipError(f"{d}: not a document unit's descriptors ({e})") from None
            total += len(emb) * (48 + (8 if emb.dtype == np.uint8 else 4 * emb.shape[1]))
    return total


def find_removals(folders: list[Folder], out: str | os.PathLike, contamination: float | None = None,
                  near_threshold: float | None = None, max_documents: int | None = None, probes: int = 2,
                  seed: int = 0) -> dict:
    """Decisions for every image of ``folders`` (corpus order) into ``out/{name}.npy`` and ``out/report.json``.
    ``contamination`` None: no decontamination; ``max_documents`` None: no limit on repeats; ``near_threshold``
    None: repeats are exact copies only."""
    if max_documents is not None and max_documents < 1:
        raise SciclipError("max_documents must be at least 1")
    names = [f.name for f in folders]
    if len(set(names)) != len(names):
        raise SciclipError("folder names must differ")
    out = Path(out)
    work = out.with_name(f".{out.name}.work-{os.getpid()}")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    for d in (work, tmp):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    try:
        counting = max_documents is not None
        parts = max(1, math.ceil(_partition_bytes(folders) / PARTITION_BYTES)) if counting else 1
        occ, decisions = _Buckets(work, "occ"), _Buckets(work, "dec")
        try:
            scan = _scan(folders, contamination, counting, occ, decisions, parts)
        finally:
            occ.close()
            decisions.close()
        search: dict = {}
        too_frequent = 0
        if counting and scan.occurrences and scan.dtype is not None:
            n = int(max_documents)  # type: ignore[arg-type]
            descriptor = scan.descriptor or "phash"
            odtype = scan.dtype
            kdtype = _key_dtype(descriptor, 0 if descriptor == "phash" else odtype["emb"].shape[0], n)
            lists = _Buckets(work, "list")
            if near_threshold is None:  # exact copies only: pass 4 reads each image's own list
                search = {"near_duplicates": False}
            elif descriptor == "phash":
                bits = max_bits(near_threshold)
                chunks = chunk_bounds(bits)
                kparts = max(1, math.ceil(scan.occurrences * len(chunks) * kdtype.itemsize / PARTITION_BYTES))
                keys = _Buckets(work, "key")

                def to_groups(first: np.ndarray, docs: np.ndarray) -> None:
                    for c, (shift, width) in enumerate(chunks):
                        rec = np.zeros(len(first), kdtype)
                        rec["ih"], rec["il"], rec["docs"], rec["code"] = first["ih"], first["il"], docs, first["code"]
                        value = (first["code"] >> np.uint64(shift)) & np.uint64((1 << width) - 1)
                        rec["group"] = (np.uint64(c) << np.uint64(58)) | value
                        keys.scatter(mix64(rec["group"]) % np.uint64(kparts), rec)

                try:
                    n_keys = _first_documents(occ, parts, odtype, n, to_groups)
                finally:
                    keys.close()
                try:
                    _phash_lists(parts, keys, kparts, kdtype, bits, n, lists)
                finally:
                    lists.close()
                search = {"keys": n_keys, "max_bits": bits, "chunks": len(chunks), "partitions": kparts}
            else:
                keys_file = work / "keys"
                with open(keys_file, "wb") as kf:
                    def to_file(first: np.ndarray, docs: np.ndarray) -> None:
                        rec = np.zeros(len(first), kdtype)
                        rec["ih"], rec["il"], rec["docs"], rec["emb"] = first["ih"], first["il"], docs, first["emb"]
                        kf.write(rec.tobytes())

                    n_keys = _first_documents(occ, parts, odtype, n, to_file)
                try:
                    search = {"keys": n_keys, **_yokoo_lists(parts, keys_file, kdtype, near_threshold, n, work,
                                                             probes, seed, lists)}
                finally:
                    lists.close()
            try:
                too_frequent = _decide(occ, parts, odtype, lists, n, decisions)
            finally:
                decisions.close()
        scan.removed[TOO_FREQUENT] = too_frequent
        per_folder = _write_folders(folders, scan, decisions, tmp)
        per_source: dict[str, dict] = {}
        for name, counts in per_folder.items():
            src = per_source.setdefault(name.split("/")[0], {})
            for k, v in counts.items():
                src[k] = src.get(k, 0) + v
        report = {"descriptor": scan.descriptor, "contamination_threshold": contamination,
                  "near_duplicate_threshold": near_threshold, "max_documents": max_documents,
                  "documents": scan.documents, "images": scan.images,
                  "removed": {REASONS[r]: v for r, v in sorted(scan.removed.items())},
                  "removed_per_source": dict(sorted(per_source.items())), "search": search}
        atomic_write_bytes(tmp / REPORT, (json.dumps(report, indent=1) + "\n").encode())
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return report
