"""The evaluation set as a tracked input: a listing of its files with sizes and hashes.

Decontamination compares every sample with the evaluation images (a folder of images or shards) or with
their precomputed descriptors (one file). Snakemake tracks files, not a folder's contents, so replacing the
images behind ``decontamination.eval_images`` changed nothing it could see. The workflow now writes this
listing (``results/decontamination/eval_set.tsv``) in a small rule that reruns whenever the set's cheap
fingerprint (names, sizes, modification times) changes; the evaluation descriptors depend on the listing,
and everything downstream on them. The listing also names the set in the report.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.storage.atomic import atomic_write_bytes

HEADER = "path\tbytes\tsha256"


def eval_files(images: str | os.PathLike | None, embeddings: str | os.PathLike | None) -> tuple[Path, list[Path]]:
    """(root, files) of the evaluation set: the precomputed descriptors file when given (it wins, as in
    ``embed_eval``), else every file below the images folder (hidden ones aside), sorted."""
    if embeddings:
        path = Path(embeddings)
        if not path.is_file():
            raise SciclipError(f"{path}: no such file (decontamination.eval_embeddings)")
        return path.parent, [path]
    if not images:
        raise SciclipError("give decontamination.eval_images or decontamination.eval_embeddings")
    root = Path(images)
    if not root.is_dir():
        raise SciclipError(f"{root}: evaluation images folder not found")
    files = sorted(p for p in root.rglob("*") if p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    return root, files


def fingerprint(images: str | os.PathLike | None, embeddings: str | os.PathLike | None) -> str:
    """A digest of names, sizes and modification times (no file is read): what the workflow compares between
    runs to know that the set changed. A set that is not there yet has none ("")."""
    try:
        root, files = eval_files(images, embeddings)
    except SciclipError:
        return ""
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(root).as_posix()}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def write_listing(images: str | os.PathLike | None, embeddings: str | os.PathLike | None,
                  out: str | os.PathLike) -> dict:
    """``out``: a comment naming the set, then one ``path, bytes, sha256`` row per file."""
    root, files = eval_files(images, embeddings)
    if not files:
        raise SciclipError(f"{root}: no evaluation files")
    what = f"eval_embeddings: {embeddings}" if embeddings else f"eval_images: {images}"
    rows, total = [], 0
    for p in files:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        size = p.stat().st_size
        total += size
        rows.append(f"{p.relative_to(root).as_posix()}\t{size}\t{h.hexdigest()}")
    text = "\n".join([f"# {what}", HEADER, *rows]) + "\n"
    atomic_write_bytes(out, text.encode())
    return {"set": what, "files": len(files), "bytes": total,
            "sha256": hashlib.sha256("\n".join(rows).encode()).hexdigest()}


def read_listing(path: str | os.PathLike) -> dict:
    """What the report says about the set: which it is, how many files and bytes, a digest of the listing."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    what = lines[0].removeprefix("# ") if lines and lines[0].startswith("# ") else "evaluation set"
    rows = [line for line in lines if line and not line.startswith("#") and line != HEADER]
    total = sum(int(r.split("\t")[1]) for r in rows)
    return {"set": what, "files": len(rows), "bytes": total,
            "sha256": hashlib.sha256("\n".join(rows).encode()).hexdigest()}
