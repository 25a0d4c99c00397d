"""Evaluation sets in clip_benchmark's WebDataset layout, written deterministically.

``folder/test/nshards.txt``, ``folder/test/0.tar`` ..., ``classnames.txt`` and
``zeroshot_classification_templates.txt`` (classification), ``dataset_type.txt`` (``retrieval``;
classification sets carry none, as DataComp's). A classification sample is an image and ``cls`` (the label as
decimal text); a retrieval sample an image and ``txt`` with its captions one per line. Tars are written with
``fast_tar`` (mode 0444, mtime 0), so the same samples give the same bytes on every machine.

The science split (``sciclip heldout``), the sample's tiny sets (``sciclip sample``) and ``sciclip evalsets``
(Flickr, MSCOCO from Hugging Face) all write through ``SetWriter``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.shards import fast_tar

KEY = re.compile(r"[^.\s/]+")  # WebDataset's key runs to the first dot


def one_line(caption: str) -> str:
    """A caption as one line: clip_benchmark splits a retrieval sample's ``txt`` into captions at line ends."""
    return " ".join(caption.split())


class SetWriter:
    """Writes samples into ``folder/test/{i}.tar`` (``shard_size`` each), then the metadata files; the folder
    appears complete or not at all (written under a temporary name, then renamed)."""

    def __init__(self, folder: str | os.PathLike, dataset_type: str = "classification", shard_size: int = 10_000,
                 classnames: list[str] | None = None, templates: list[str] | None = None) -> None:
        if dataset_type not in ("classification", "retrieval", "multilabel", "winogavil"):
            raise ValueError(f"unknown dataset type {dataset_type!r}")
        self.folder = Path(folder)
        self.tmp = self.folder.with_name(f".{self.folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        (self.tmp / "test").mkdir(parents=True)
        self.dataset_type, self.shard_size = dataset_type, shard_size
        self.classnames, self.templates = classnames, templates
        self.shards = 0
        self.samples = 0
        self._file = None
        self._tar: fast_tar.TarWriter | None = None
        self._in_shard = 0

    def add(self, key: str, members: dict[str, bytes]) -> None:
        """One sample: ``members`` maps extensions (``jpg``, ``cls``, ``txt``, ...) to bytes, written in order."""
        if not KEY.fullmatch(key):
            raise SciclipError(f"sample key {key!r}: no dots, spaces or slashes (WebDataset splits keys at dots)")
        if self._tar is None or self._in_shard == self.shard_size:
            self._close_shard()
            self._file = open(self.tmp / "test" / f"{self.shards}.tar", "wb")
            self._tar = fast_tar.TarWriter(self._file)
            self.shards += 1
            self._in_shard = 0
        for ext, data in members.items():
            self._tar.add(f"{key}.{ext}", data)
        self._in_shard += 1
        self.samples += 1

    def _close_shard(self) -> None:
        if self._tar is not None:
            self._tar.close()
            self._file.close()
            self._tar = self._file = None

    def close(self, allow_empty: bool = False) -> int:
        """Finish the set; returns its sample count. A set with no sample is refused (clip_benchmark reads
        ``nshards - 1`` as the last shard), unless ``allow_empty``: then ``nshards.txt`` says 0 and
        ``sciclip evaluate`` skips it (a source that gave no sample has an empty science split)."""
        self._close_shard()
        if self.samples == 0 and not allow_empty:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise SciclipError(f"{self.folder}: no samples to write")
        (self.tmp / "test").mkdir(parents=True, exist_ok=True)
        (self.tmp / "test" / "nshards.txt").write_text(f"{self.shards}\n")
        if self.dataset_type != "classification":
            (self.tmp / "dataset_type.txt").write_text(f"{self.dataset_type}\n")
        if self.classnames is not None:
            (self.tmp / "classnames.txt").write_text("".join(f"{c}\n" for c in self.classnames))
        if self.templates is not None:
            (self.tmp / "zeroshot_classification_templates.txt").write_text("".join(f"{t}\n" for t in self.templates))
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.tmp, self.folder)
        return self.samples

    def abort(self) -> None:
        self._close_shard()
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_set(folder: str | os.PathLike, samples: Iterable[tuple[str, dict[str, bytes]]], **kw) -> int:
    """``SetWriter`` over an iterable of (key, members)."""
    w = SetWriter(folder, **kw)
    try:
        for key, members in samples:
            w.add(key, members)
    except BaseException:
        w.abort()
        raise
    return w.close()


def shard_paths(folder: str | os.PathLike) -> list[Path]:
    """``test/0.tar`` ... ``test/<nshards-1>.tar`` of a set (one error when nshards.txt or a shard is missing)."""
    folder = Path(folder)
    f = folder / "test" / "nshards.txt"
    try:
        n = int(f.read_text().strip())
    except (OSError, ValueError) as e:
        raise SciclipError(f"{f}: not a shard count ({e})") from None
    if n < 1:
        raise SciclipError(f"{f}: {n} shards")
    paths = [folder / "test" / f"{i}.tar" for i in range(n)]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise SciclipError(f"{missing[0]}: missing ({f} says {n} shards)")
    return paths


def count_samples(folder: str | os.PathLike) -> int:
    """Samples in a set (keys counted from the tar headers; the data is skipped, not read)."""
    n = 0
    for path in shard_paths(folder):
        last = None
        with open(path, "rb") as f:
            try:
                for name, size in fast_tar.iter_members(f):
                    key = name.split(".", 1)[0]
                    if key != last:
                        n += 1
                        last = key
                    fast_tar.skip(f, size)
            except (fast_tar.Damaged, fast_tar.Unsupported) as e:
                raise SciclipError(f"{path}: {e}") from None
    return n
