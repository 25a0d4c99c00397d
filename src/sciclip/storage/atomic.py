"""Atomic writes of files and folders: readers see the old output or the whole new one, never a partial one.

Why folders too: a job killed midway (a crash, SIGKILL) must leave no output that looks complete.
Snakemake's own guard (a marker per running job's output, ``--rerun-incomplete``) misses every job whose
inputs come from a checkpoint (Snakemake 9.27 checks the markers before it adds those jobs to the DAG), i.e.
every unit job here: it would take a half-written folder for done. Temporaries have fixed names beside their
output, so the next write of that output removes what a killed one left.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from fnmatch import fnmatch
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


def temporary_name(path: Path, kind: str = "tmp") -> Path:
    """The fixed name ``path`` is written under before it is complete (one writer per output)."""
    return path.with_name(f".{path.name}.{kind}")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to; it becomes ``path`` when the block ends without an
    error, and is removed when it raises."""
    path = check_file_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
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


@contextmanager
def atomic_dir(path: str | os.PathLike, owns: tuple[str, ...] = (), resume: bool = False) -> Iterator[Path]:
    """A folder to fill that becomes ``path`` (replacing an old one) when the block ends without an error.

    An existing ``path`` is replaced only when all it holds is this writer's: ``owns`` are glob patterns of the
    names it writes (dot-names, i.e. temporaries and Snakemake's markers, count as its own too); a folder that
    holds anything else is refused with an error before any work, never deleted. What a killed or failed
    earlier write left in the temporary folder is removed first, and it is removed when the block raises;
    with ``resume``, both are kept instead, for a job that picks up its own partial work."""
    path = check_dir_target(path)
    if path.is_dir():
        foreign = sorted(p.name for p in path.iterdir()
                         if not p.name.startswith(".") and not any(fnmatch(p.name, pat) for pat in owns))
        if foreign:
            raise SciclipError(f"{path}: holds {foreign[0]!r}, which this command does not write "
                               "(give a new or empty folder)")
    tmp = temporary_name(path)
    if not resume:
        shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        yield tmp
    except BaseException:
        if not resume:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
