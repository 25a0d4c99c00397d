"""Where a CommonPool's metadata lives, its member list, and fetching a unit's metadata files.

DataComp publishes each scale's metadata as the Hugging Face dataset ``mlfoundations/datacomp_<scale>``
(``datacomp_1b`` for DataComp-1B): one ``<name>.parquet`` per metadata shard and, beside it, ``<name>.npz`` with
the CLIP embeddings (xlarge nests them one folder deep; ``download_upstream.py`` flattens them, and so do we:
a member is named by its file's stem). A pool can also be a folder (a copy made by ``download_upstream.py
--skip_shards``, or the sample's) or an HTTP(S) folder with its files listed in the config. Listing and
fetching from the Hub go through ``huggingface_hub`` (authentication, retries, resumed transfers); the rest
through ``sciclip.storage.remote`` (atomic, retried).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.sources.units import UNIT_PATTERN
from sciclip.storage.atomic import atomic_write_bytes
from sciclip.storage.tables import read_text

SCALES = ("small", "medium", "large", "xlarge", "datacomp_1b")
HF_PREFIX = "hf://datasets/"
HEADER = "member\tpath\tsize\tnpz"
_MEMBER = re.compile(UNIT_PATTERN)


def hf_repo(scale: str) -> str:
    """The Hugging Face dataset of a DataComp scale (``download_upstream.py``'s rule)."""
    if scale not in SCALES:
        raise SciclipError(f"unknown CommonPool scale {scale!r} (known: {', '.join(SCALES)})")
    return "mlfoundations/datacomp_1b" if scale == "datacomp_1b" else f"mlfoundations/datacomp_{scale}"


def pool_location(source: str | None, scale: str | None) -> str:
    """An explicit ``source`` (folder, ``file://``, ``http(s)://``, ``hf://datasets/<owner>/<name>``) wins over
    ``scale``."""
    if source:
        return str(source)
    if not scale:
        raise SciclipError("commonpool: give a scale (small, medium, large, xlarge, datacomp_1b) or a source")
    return HF_PREFIX + hf_repo(scale)


def _kind(location: str) -> str:
    if location.startswith(HF_PREFIX):
        return "hf"
    if location.startswith(("http://", "https://")):
        return "http"
    return "local"


def _local_root(location: str) -> Path:
    return Path(location.removeprefix("file://"))


@dataclass(frozen=True)
class Member:
    """One metadata shard: ``name`` (the file's stem, a unit name), ``path`` below the pool's root, its size in
    bytes (0 when unknown) and the path of its npz ("" when it has none)."""

    name: str
    path: str
    size: int = 0
    npz: str = ""


def _members_from_paths(paths: dict[str, int], where: str) -> list[Member]:
    """Members of the ``*.parquet`` among ``paths`` (path -> size), with their npz where one lies beside."""
    out: dict[str, Member] = {}
    for path, size in sorted(paths.items()):
        if not path.endswith(".parquet"):
            continue
        name = path.rsplit("/", 1)[-1].removesuffix(".parquet")
        if not _MEMBER.fullmatch(name):
            raise SciclipError(f"{where}: {path}: a metadata file name must be letters, digits, '_', '.', '-'")
        if name in out:
            raise SciclipError(f"{where}: two metadata files are named {name}.parquet ({out[name].path}, {path})")
        npz = path.removesuffix(".parquet") + ".npz"
        out[name] = Member(name, path, size, npz if npz in paths else "")
    return list(out.values())


def _hf_api():
    from huggingface_hub import HfApi

    return HfApi()


def list_members(location: str, files: list[str] | None = None, revision: str | None = None,
                 api=None) -> list[Member]:
    """Every metadata parquet of the pool, by path. ``files`` (paths below the root) chooses some (and is the
    list for an HTTP(S) folder, which cannot be listed; an npz is then assumed beside each)."""
    kind = _kind(location)
    if kind == "http":
        if not files:
            raise SciclipError(f"{location}: an HTTP(S) folder cannot be listed: give its files (commonpool.files)")
        paths = {f: 0 for f in files}
        paths.update({f.removesuffix(".parquet") + ".npz": 0 for f in files})
        return _members_from_paths(paths, location)
    if kind == "hf":
        repo = location.removeprefix(HF_PREFIX).strip("/")
        try:
            tree = (api or _hf_api()).list_repo_tree(repo, repo_type="dataset", recursive=True, revision=revision)
            paths = {e.path: int(getattr(e, "size", 0) or 0) for e in tree if hasattr(e, "size")}
        except Exception as e:  # noqa: BLE001 - the Hub client raises its own types (HTTP, auth, not found)
            raise SciclipError(f"{location}: cannot list the dataset ({type(e).__name__}: {e})") from None
    else:
        root = _local_root(location)
        if not root.is_dir():
            raise SciclipError(f"{root}: no such metadata folder")
        paths = {p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob("*")
                 if p.is_file() and p.suffix in (".parquet", ".npz") and not p.name.startswith(".")}
    members = _members_from_paths(paths, location)
    if files:
        wanted = set(files)
        members = [m for m in members if m.path in wanted or m.name in wanted or f"{m.name}.parquet" in wanted]
    if not members:
        raise SciclipError(f"{location}: no metadata parquet" + (" among the files asked for" if files else ""))
    return members


def write_members(members: list[Member], path: str | os.PathLike) -> None:
    lines = [HEADER] + [f"{m.name}\t{m.path}\t{m.size}\t{m.npz}" for m in members]
    atomic_write_bytes(Path(path), ("\n".join(lines) + "\n").encode())


def read_members(path: str | os.PathLike) -> dict[str, Member]:
    lines = read_text(path, "a CommonPool member list").splitlines()
    if not lines or lines[0] != HEADER:
        raise SciclipError(f"{path}: not a CommonPool member list (expected the header {HEADER!r})")
    out = {}
    for line in lines[1:]:
        if line.strip():
            name, p, size, npz = (line.split("\t") + ["", "", ""])[:4]
            out[name] = Member(name, p, int(size or 0), npz)
    return out


def _fetch_file(location: str, path: str, dest: Path, revision: str | None, retries: int, backoff_s: float,
                timeout_s: float) -> None:
    kind = _kind(location)
    if kind == "hf":
        from huggingface_hub import hf_hub_download

        tmp = dest.parent / f".{dest.name}.hf"
        try:
            got = hf_hub_download(location.removeprefix(HF_PREFIX).strip("/"), path, repo_type="dataset",
                                  revision=revision, local_dir=tmp)
        except Exception as e:  # noqa: BLE001 - the Hub client's errors (HTTP, auth, missing file)
            raise SciclipError(f"{location}/{path}: cannot download ({type(e).__name__}: {e})") from None
        os.replace(got, dest)  # flat, as download_upstream.py leaves xlarge's files
        shutil.rmtree(tmp, ignore_errors=True)
        return
    from sciclip.storage.remote import SourceSpec, fetch

    fetch(SourceSpec(location, timeout_s=timeout_s), path, dest, retries=retries, backoff_s=backoff_s)


def fetch_members(location: str, members: list[Member], out_dir: str | os.PathLike, npz: bool = True,
                  revision: str | None = None, retries: int = 4, backoff_s: float = 2.0,
                  timeout_s: float = 60.0) -> list[Path]:
    """A unit's metadata files into ``out_dir`` as ``<name>.parquet`` (and ``<name>.npz`` with ``npz``, where the
    pool has one), each atomically; files already there are kept. Returns the parquets in member order."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parquets = []
    for m in members:
        dest = out / f"{m.name}.parquet"
        if not dest.is_file():
            _fetch_file(location, m.path, dest, revision, retries, backoff_s, timeout_s)
        if npz and m.npz and not (out / f"{m.name}.npz").is_file():
            try:
                _fetch_file(location, m.npz, out / f"{m.name}.npz", revision, retries, backoff_s, timeout_s)
            except SciclipError as e:  # the embeddings are optional: without them the metadata step computes them
                if _kind(location) != "http":
                    raise
                import logging

                logging.getLogger(__name__).warning("%s: no npz (%s); its embeddings will be computed", m.name, e)
        parquets.append(dest)
    return parquets
