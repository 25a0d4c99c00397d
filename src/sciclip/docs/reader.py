"""Reading document shards back (dedup, stats, the report, tests): parquet or tar-in-tar, one record at a time."""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from sciclip.docs.model import DocRecord
from sciclip.docs.writer import DOCUMENT_JSON


def _record(row: dict) -> DocRecord:
    return DocRecord(row["id"], row["source"], list(row["texts"]), list(row["images"]), list(row["image_bytes"]),
                     json.loads(row["metadata"]), json.loads(row["general_metadata"]))


def read_parquet(path: str | os.PathLike, with_images: bool = True) -> Iterator[DocRecord]:
    """Records of one parquet shard, a row group at a time (``with_images=False`` skips the JPEG bytes)."""
    f = pq.ParquetFile(path)
    columns = None if with_images else [c for c in f.schema_arrow.names if c != "image_bytes"]
    for i in range(f.num_row_groups):
        for row in f.read_row_group(i, columns=columns).to_pylist():
            if not with_images:
                row["image_bytes"] = [b"" if x is not None else None for x in row["images"]]
            yield _record(row)


def read_inner_tar(data: bytes) -> DocRecord:
    """One tar-in-tar sample (the inner tar's bytes) as a record."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]
    doc = json.loads(files[DOCUMENT_JSON])
    blobs = [files[name] if name is not None else None for name in doc["image_files"]]
    return DocRecord(doc["id"], doc["source"], doc["texts"], doc["images"], blobs, doc["metadata"],
                     doc["general_metadata"])


def read_tar(path: str | os.PathLike) -> Iterator[DocRecord]:
    with tarfile.open(path) as tar:
        for m in tar:
            if m.isfile() and m.name.endswith(".tar"):
                yield read_inner_tar(tar.extractfile(m).read())  # type: ignore[union-attr]


def shard_files(directory: str | os.PathLike, fmt: str = "parquet") -> list[Path]:
    return sorted(p for p in Path(directory).glob(f"*.{fmt}") if not p.name.startswith("."))


def read_dir(directory: str | os.PathLike, with_images: bool = True) -> Iterator[DocRecord]:
    """Every record of a unit's output folder, from its parquet shards (else its tar shards)."""
    parquet = shard_files(directory, "parquet")
    if parquet:
        for p in parquet:
            yield from read_parquet(p, with_images)
        return
    for p in shard_files(directory, "tar"):
        yield from read_tar(p)
