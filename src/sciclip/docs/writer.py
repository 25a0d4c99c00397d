"""Writing documents: parquet in OBELICS' layout and WebDataset tar-in-tar, from the same records.

Both formats shard at the same document counts, so ``00003.parquet`` and ``00003.tar`` hold the same
documents in the same order. Parquet columns: ``id``, ``source``, ``texts`` (list<string>), ``images``
(list<string>: what each image is), ``image_bytes`` (list<binary>: the JPEG), ``metadata`` and
``general_metadata`` (JSON strings, as OBELICS). A tar shard's sample is ``<id>.tar``: an inner tar with
``0.jpg, 1.jpg, ...`` (images in sequence order) and ``document.json`` (the sequence: texts, image file
names, metadata, general metadata). Files appear under their final names only when complete.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.docs.model import DocRecord
from sciclip.shards.fast_tar import TarWriter
from sciclip.shards.writer import ShardWriter

SHARD_STEM = "{:05d}"
DOCUMENT_JSON = "document.json"
SCHEMA = pa.schema([
    ("id", pa.string()),
    ("source", pa.string()),
    ("texts", pa.list_(pa.string())),
    ("images", pa.list_(pa.string())),
    ("image_bytes", pa.list_(pa.binary())),
    ("metadata", pa.string()),
    ("general_metadata", pa.string()),
])
ROW_GROUP_DOCS = 64  # rows carry their images: small row groups keep readers' memory low


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def inner_tar(record: DocRecord) -> bytes:
    """One document as a tar: its images as ``<n>.jpg`` in sequence order, then ``document.json``."""
    buf = io.BytesIO()
    tar = TarWriter(buf)
    files: list[str | None] = []
    n = 0
    for data in record.image_bytes:
        if data is None:
            files.append(None)
            continue
        name = f"{n}.jpg"
        tar.add(name, data)
        files.append(name)
        n += 1
    doc = {"id": record.id, "source": record.source, "texts": record.texts, "images": record.images,
           "image_files": files, "metadata": record.metadata, "general_metadata": record.general_metadata}
    tar.add(DOCUMENT_JSON, _json(doc).encode("utf-8"))
    tar.close()
    return buf.getvalue()


class _ParquetShards:
    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.rows: list[DocRecord] = []
        self.writer: pq.ParquetWriter | None = None
        self.tmp: Path | None = None
        self.final: Path | None = None

    def open(self, index: int) -> None:
        self.final = self.outdir / f"{SHARD_STEM.format(index)}.parquet"
        self.tmp = self.final.with_name(f".{self.final.name}.tmp-{os.getpid()}")
        self.writer = pq.ParquetWriter(self.tmp, SCHEMA, compression="zstd")

    def add(self, record: DocRecord) -> None:
        self.rows.append(record)
        if len(self.rows) >= ROW_GROUP_DOCS:
            self._flush()

    def _flush(self) -> None:
        if not self.rows:
            return
        assert self.writer is not None
        cols = {
            "id": [r.id for r in self.rows], "source": [r.source for r in self.rows],
            "texts": [r.texts for r in self.rows], "images": [r.images for r in self.rows],
            "image_bytes": [r.image_bytes for r in self.rows],
            "metadata": [_json(r.metadata) for r in self.rows],
            "general_metadata": [_json(r.general_metadata) for r in self.rows],
        }
        self.writer.write_table(pa.table(cols, schema=SCHEMA))
        self.rows = []

    def close(self) -> Path:
        self._flush()
        assert self.writer is not None and self.tmp is not None and self.final is not None
        self.writer.close()
        os.replace(self.tmp, self.final)
        self.writer = None
        return self.final

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
            assert self.tmp is not None
            self.tmp.unlink(missing_ok=True)
            self.writer = None


class DocWriter:
    """Writes records into ``outdir/{00000..}.parquet`` and/or ``.tar`` of ``docs_per_shard`` documents."""

    def __init__(self, outdir: str | os.PathLike, docs_per_shard: int = 1000,
                 formats: tuple[str, ...] = ("parquet", "tar")) -> None:
        self.outdir = Path(outdir)
        self.outdir.mkdir(parents=True, exist_ok=True)
        self.docs_per_shard = docs_per_shard
        self.tars = ShardWriter(self.outdir, docs_per_shard, name_format=SHARD_STEM + ".tar") \
            if "tar" in formats else None
        self.parquet = _ParquetShards(self.outdir) if "parquet" in formats else None
        self.counts: list[int] = []
        self._in_shard = 0

    def write(self, record: DocRecord) -> None:
        record.check()
        if self.parquet is not None:
            if self._in_shard == 0:
                self.parquet.open(len(self.counts))
            self.parquet.add(record)
        if self.tars is not None:
            self.tars.write(record.id, {"tar": inner_tar(record)})
        self._in_shard += 1
        if self._in_shard >= self.docs_per_shard:
            self._finish()

    def _finish(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        self.counts.append(self._in_shard)
        self._in_shard = 0

    def close(self) -> list[dict]:
        """Finish the open shard; the shards written as ``[{name, documents}]``."""
        if self._in_shard:
            self._finish()
        if self.tars is not None:
            self.tars.close()
        return [{"name": SHARD_STEM.format(i), "documents": n} for i, n in enumerate(self.counts)]

    def abort(self) -> None:
        if self.parquet is not None:
            self.parquet.abort()
        if self.tars is not None:
            self.tars.abort()

    def __enter__(self) -> "DocWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
