"""Atomic file writes: readers see the old file or the whole new one, never a partial file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sciclip.errors import SciclipError


def check_file_target(path: str | os.PathLike) -> Path:
    """Refuse, before any work, an output path that is a folder or lies below a file (one-line error)."""
    path = Path(path)
    if path.is_dir():
        raise SciclipError(f"{path}: is a directory (give a file name)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise SciclipError(f"{parent}: not a directory")
            break
    return path


def check_dir_target(path: str | os.PathLike) -> Path:
    """Refuse an output folder that exists as a file, or lies below one."""
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                raise SciclipError(f"{p}: not a directory")
            break
    return path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to; it becomes ``path`` when the block ends without an
    error, and is removed when it raises."""
    path = check_file_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write a small file so that readers see either the old file or the whole new one."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
