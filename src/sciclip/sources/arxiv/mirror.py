"""Your own papers as a local arXiv mirror: the layout ``arxiv.source`` reads, written from a folder of sources.

The workflow reads arXiv the way arXiv publishes it: ``src/arXiv_src_manifest.xml`` (one ``<file>`` per bulk
tarball: ``filename``, ``size``, ``md5sum``, ``seq_num``, ``yymm``, ``first_item``/``last_item``, ``num_items``)
and ``src/arXiv_src_YYMM_NNN.tar`` bulk tarballs whose members are ``YYMM/<arXiv id>.gz`` (a gzipped tar of the
paper's files, or one gzipped .tex) or ``YYMM/<arXiv id>.pdf``. A plain tar of paper folders is not that, so
this writes it: each paper - a folder, a ``.tar.gz``/``.tgz``/``.tar``/``.gz`` file, a single ``.tex`` or a
``.pdf`` - becomes one member named by its arXiv id (the entry's name without every archive suffix:
``2401.00002.tar.gz`` is paper ``2401.00002``). Papers not named by an arXiv id get one with ``yymm``
(``YYMM.00001``, ... in name order; ``ids.tsv`` beside the mirror maps them back). Members and tarballs are
written deterministically (sorted, fixed times and owners), so the same folder gives the same mirror.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.sources.arxiv.ids import YYMM, id_sort_key, is_arxiv_id, strip_archive_suffixes, yymm_of
from sciclip.sources.arxiv.manifest import manifest_xml
from sciclip.storage.atomic import atomic_path, atomic_write_bytes

log = logging.getLogger(__name__)

MANIFEST = "src/arXiv_src_manifest.xml"
IDS_FILE = "ids.tsv"
MTIME = 0  # member times are not the papers' data: fixed, so that a mirror is a function of its sources


@dataclass(frozen=True)
class PaperSource:
    path: Path
    name: str  # the entry's name without archive suffixes
    kind: str  # dir, gz (a gzipped tar or file, as is), tar (gzipped here), tex (gzipped here), pdf


def paper_sources(inputs: list[str | os.PathLike]) -> tuple[list[PaperSource], list[str]]:
    """The papers in ``inputs`` (folders of papers, or paper files), and the entries that are none."""
    papers: list[PaperSource] = []
    others: list[str] = []
    for given in inputs:
        root = Path(given)
        if not root.exists():
            raise SciclipError(f"{root}: no such file or directory")
        for p in sorted(root.iterdir()) if root.is_dir() else [root]:
            kind = _kind(p)
            if kind is None:
                others.append(str(p))
            else:
                papers.append(PaperSource(p, strip_archive_suffixes(p.name), kind))
    return papers, others


def _kind(p: Path) -> str | None:
    name = p.name.lower()
    if p.name.startswith("."):
        return None
    if p.is_dir():
        return "dir"
    if name.endswith((".tar.gz", ".tgz", ".gz")):
        return "gz"
    if name.endswith(".tar"):
        return "tar"
    if name.endswith(".tex"):
        return "tex"
    if name.endswith(".pdf"):
        return "pdf"
    return None


def assign_ids(papers: list[PaperSource], yymm: str | None) -> dict[str, PaperSource]:
    """arXiv id -> paper. Names that are arXiv ids keep them; the others are numbered in ``yymm`` when given."""
    if yymm is not None and not YYMM.match(yymm):
        raise SciclipError(f"--yymm {yymm!r}: not a month YYMM (e.g. 2401)")
    dups = _duplicates(papers)
    if dups:
        raise SciclipError(f"paper {dups[0]} is given more than once: "
                           + ", ".join(str(p.path) for p in papers if p.name == dups[0]))
    named = {p.name: p for p in papers if is_arxiv_id(p.name)}
    unnamed = sorted((p for p in papers if not is_arxiv_id(p.name)), key=lambda p: p.name)
    if unnamed and yymm is None:
        shown = ", ".join(p.path.name for p in unnamed[:3]) + (", ..." if len(unnamed) > 3 else "")
        raise SciclipError(f"{len(unnamed)} papers are not named by an arXiv id ({shown}): give the folder that "
                           "holds the papers, name each by its id (2401.00001/, 2401.00001.tar.gz), or pass "
                           "--yymm YYMM to number them")
    ids = dict(named)
    taken = {int(i.split(".")[1]) for i in named if i.startswith(f"{yymm}.")} if yymm else set()
    number = 0
    for p in unnamed:
        number += 1
        while number in taken:
            number += 1
        ids[f"{yymm}.{number:05d}"] = p
    return ids


def _duplicates(papers: list[PaperSource]) -> list[str]:
    seen: set[str] = set()
    out = []
    for p in papers:
        if p.name in seen:
            out.append(p.name)
        seen.add(p.name)
    return sorted(out)


def member_bytes(paper: PaperSource) -> tuple[str, bytes]:
    """(member suffix, bytes) of one paper as arXiv stores it."""
    data = b"" if paper.kind == "dir" else paper.path.read_bytes()
    if paper.kind == "dir":
        return ".gz", _gzip(_tar_folder(paper.path))
    if paper.kind == "gz":
        if data[:2] != b"\x1f\x8b":
            raise SciclipError(f"{paper.path}: not gzip data (named .gz)")
        return ".gz", data
    if paper.kind == "tar":
        if len(data) < 512 or not (data[257:262] == b"ustar" or _v7_header(data)):
            raise SciclipError(f"{paper.path}: not a tar archive (named .tar)")
        return ".gz", _gzip(data)
    if paper.kind == "tex":
        return ".gz", _gzip(data)
    if data[:5] != b"%PDF-":
        raise SciclipError(f"{paper.path}: not a PDF (named .pdf)")
    return ".pdf", data


def _v7_header(data: bytes) -> bool:
    try:
        tarfile.TarInfo.frombuf(data[:512], "utf-8", "surrogateescape")
        return True
    except tarfile.TarError:
        return False


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=MTIME, filename="", compresslevel=9) as f:
        f.write(data)
    return buf.getvalue()


def _tar_folder(folder: Path) -> bytes:
    """The folder's regular files (symlinks and special files are left out: arXiv refuses them too)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for f in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
            info = tarfile.TarInfo(f.relative_to(folder).as_posix())
            info.size, info.mtime, info.mode = f.stat().st_size, MTIME, 0o644
            with open(f, "rb") as fh:
                tar.addfile(info, fh)
    return buf.getvalue()


def write_mirror(inputs: list[str | os.PathLike], out: str | os.PathLike, yymm: str | None = None,
                 tarball_mb: float = 500) -> dict:
    """Write the mirror under ``out`` (``src/`` + the manifest); returns what was written."""
    out = Path(out)
    if (out / MANIFEST).exists():
        raise SciclipError(f"{out / MANIFEST}: already a mirror (write a new one into another folder)")
    papers, others = paper_sources(inputs)
    for o in others:
        log.warning("%s: not a paper (a folder, .tar.gz, .tgz, .tar, .gz, .tex or .pdf): left out", o)
    if not papers:
        raise SciclipError(f"{', '.join(map(str, inputs))}: no paper sources (folders, .tar.gz, .tgz, .tar, .gz, "
                           ".tex or .pdf)")
    ids = assign_ids(papers, yymm)
    months: dict[str, list[str]] = {}
    for pid in sorted(ids, key=id_sort_key):
        months.setdefault(yymm_of(pid) or "", []).append(pid)
    entries = []
    cap = max(1, int(tarball_mb * 2**20))
    for month in sorted(months, key=lambda m: id_sort_key(months[m][0])):
        writer = None
        seq = 0
        try:
            for pid in months[month]:
                suffix, data = member_bytes(ids[pid])
                if writer is not None and writer.size + len(data) > cap:
                    entries.append(writer.close())
                    writer = None
                if writer is None:
                    seq += 1
                    writer = _TarballWriter(out, month, seq)
                writer.add(pid, f"{month}/{pid}{suffix}", data)
            assert writer is not None
            entries.append(writer.close())
        except BaseException as e:
            if writer is not None:
                writer.abort(e)
            raise
    if any(not is_arxiv_id(p.name) for p in papers):
        rows = "".join(f"{pid}\t{p.path.name}\n" for pid, p in sorted(ids.items()) if not is_arxiv_id(p.name))
        atomic_write_bytes(out / IDS_FILE, ("arxiv_id\tsource\n" + rows).encode())
    atomic_write_bytes(out / MANIFEST, manifest_xml(entries))
    return {"papers": len(ids), "tarballs": len(entries), "bytes": sum(e["size"] for e in entries),
            "months": sorted(months), "left_out": others, "manifest": str(out / MANIFEST)}


class _TarballWriter:
    """One bulk tarball, written member by member under a temporary name (a tarball's papers are never all in
    memory), renamed and summed up (md5, size, ids) when closed."""

    def __init__(self, out: Path, month: str, seq: int) -> None:
        self.name = f"src/arXiv_src_{month}_{seq:03d}.tar"
        self.month, self.seq, self.ids, self.size = month, seq, [], 0
        self._atomic = atomic_path(out / self.name)
        self.tmp = self._atomic.__enter__()
        self.tar = tarfile.open(self.tmp, mode="w", format=tarfile.USTAR_FORMAT)

    def add(self, pid: str, member: str, data: bytes) -> None:
        info = tarfile.TarInfo(member)
        info.size, info.mtime, info.mode = len(data), MTIME, 0o644
        self.tar.addfile(info, io.BytesIO(data))
        self.ids.append(pid)
        self.size += len(data) + 1024

    def close(self) -> dict:
        self.tar.close()
        md5 = hashlib.md5()
        with open(self.tmp, "rb") as f:
            while chunk := f.read(1 << 20):
                md5.update(chunk)
        size = self.tmp.stat().st_size
        self._atomic.__exit__(None, None, None)  # renamed into place
        return {"content_md5sum": md5.hexdigest(), "filename": self.name, "first_item": self.ids[0],
                "last_item": self.ids[-1], "md5sum": md5.hexdigest(), "num_items": len(self.ids),
                "seq_num": self.seq, "size": size, "timestamp": "", "yymm": self.month}

    def abort(self, error: BaseException) -> None:
        """Remove the half-written tarball (an unreadable paper stopped the mirror)."""
        self.tar.close()
        self._atomic.__exit__(type(error), error, None)
