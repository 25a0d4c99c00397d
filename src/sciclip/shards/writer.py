"""Deterministic, atomic WebDataset shard writing.

webdataset's own TarWriter stamps members with the current time and user, so two runs never give the same
bytes; we write the tar ourselves with fixed headers. Every shard is written under a temporary name and
renamed into place only when complete, so a killed job never leaves a shard that looks finished.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from sciclip.shards.fast_tar import TarWriter

SHARD_NAME = "{:05d}.tar"


def tar_member(name: str, data: bytes) -> tarfile.TarInfo:
    """A TarInfo that depends only on the name and size (fixed mtime, owner and mode)."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o444
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class ShardWriter:
    """Writes samples into ``{00000..NNNNN}.tar`` shards of at most ``samples_per_shard`` samples.

    A sample is a key (no dots: WebDataset splits the key at the first dot) and a mapping from extension
    to bytes; members are written in the given order, adjacent, as WebDataset requires.
    """

    def __init__(self, outdir: str | os.PathLike, samples_per_shard: int = 10_000,
                 name_format: str = SHARD_NAME, first_shard: int = 0) -> None:
        if samples_per_shard < 1:
            raise ValueError("samples_per_shard must be at least 1")
        self.outdir = Path(outdir)
        self.outdir.mkdir(parents=True, exist_ok=True)
        self.samples_per_shard = samples_per_shard
        self.name_format = name_format
        self.next_shard = first_shard
        self.shards: list[Path] = []
        self.counts: list[int] = []
        self._tar: TarWriter | None = None
        self._file = None
        self._tmp: Path | None = None
        self._final: Path | None = None
        self._in_shard = 0

    def write(self, key: str, members: dict[str, bytes]) -> None:
        if "." in key or "/" in key or not key:
            raise ValueError(f"invalid WebDataset key {key!r}: keys must be non-empty, without '.' or '/'")
        if self._tar is None:
            self._open()
        assert self._tar is not None
        for ext, data in members.items():
            self._tar.add(f"{key}.{ext}", data)
        self._in_shard += 1
        if self._in_shard >= self.samples_per_shard:
            self._finish()

    def _open(self) -> None:
        self._final = self.outdir / self.name_format.format(self.next_shard)
        self._tmp = self._final.with_name(f".{self._final.name}.tmp-{os.getpid()}")
        self._file = open(self._tmp, "wb")
        self._tar = TarWriter(self._file)
        self._in_shard = 0
        self.next_shard += 1

    def _finish(self) -> None:
        assert self._tar is not None and self._tmp is not None and self._final is not None and self._file
        self._tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self._final)
        self.shards.append(self._final)
        self.counts.append(self._in_shard)
        self._tar = self._tmp = self._final = None

    def close(self) -> list[Path]:
        if self._tar is not None:
            self._finish()
        return self.shards

    def abort(self) -> None:
        """Drop the shard in progress (used when the job fails): no partial shard is left behind."""
        if self._tar is not None:
            assert self._tmp is not None and self._file is not None
            self._file.close()
            self._tmp.unlink(missing_ok=True)
            self._tar = None

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
