"""A unit's download attempts read back: per metadata row, the image that arrived or why none did.

Each attempt is an img2dataset output folder (the unit's download, then each retry round's): its
``{shard}.parquet`` lists every url tried, successes and failures, with the columns saved beside the url (the
pool's ``uid``, our ``row`` — the row's place in the unit — and the pool's metadata columns). Rows are matched
across attempts by ``row``: a success stands, a later attempt replaces a failure. The result is in row order
whatever the download's timing, so what follows is deterministic. Image bytes are located (tar offsets), never
held.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.errors import SciclipError
from sciclip.sources.cc.i2d_shards import detailed_reason, image_members

# img2dataset's own columns in its parquet; every other column is one we saved beside the url
I2D_COLUMNS = ("key", "caption", "url", "status", "error_message", "width", "height", "original_width",
               "original_height", "exif", "sha256")


@dataclass(frozen=True)
class Outcome:
    row: int
    uid: str
    url: str
    text: str
    failure: str | None  # a skip reason (``detailed_reason``), None when the image arrived
    error: str = ""
    tar: str = ""
    offset: int = 0
    size: int = 0
    image: dict = field(default_factory=dict)  # width, height, original_width, original_height, sha256
    columns: dict = field(default_factory=dict)  # the pool's metadata columns saved with the url (face_bboxes...)

    def read(self) -> bytes:
        with open(self.tar, "rb") as f:
            f.seek(self.offset)
            return f.read(self.size)


def read_attempt(folder: str | os.PathLike) -> Iterator[Outcome]:
    """Every url one attempt tried, in no particular order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SciclipError(f"{folder}: not a download folder (img2dataset output of a commonpool unit)")
    for table_path in sorted(folder.glob("[0-9]*.parquet")):
        try:
            rows = pq.read_table(table_path).to_pylist()
        except (OSError, pa.ArrowException) as e:
            raise SciclipError(f"{table_path}: unreadable img2dataset parquet ({e})") from None
        tar = table_path.with_suffix(".tar")
        members = image_members(tar) if tar.is_file() else {}
        for r in rows:
            if r.get("row") is None or not r.get("uid"):
                raise SciclipError(f"{table_path}: a row without 'row' or 'uid' (not a commonpool download)")
            failure = detailed_reason(r.get("status"), r.get("error_message"))
            where = members.get(r.get("key"))
            if failure is None and where is None:
                failure = "download_failed"  # a success the shard lacks: a writer that died mid-shard
            yield Outcome(int(r["row"]), r["uid"], r.get("url") or "", r.get("caption") or "", failure,
                          r.get("error_message") or "", str(tar) if where else "", *(where or (0, 0)),
                          image={k: r.get(k) for k in ("width", "height", "original_width", "original_height",
                                                       "sha256")},
                          columns={k: v for k, v in r.items() if k not in I2D_COLUMNS and k not in ("uid", "row")})


def merged_outcomes(attempts: list[str | os.PathLike]) -> list[Outcome]:
    """Per row, the first success over the attempts (in the order given), else the last failure; in row order."""
    best: dict[int, Outcome] = {}
    for folder in attempts:
        for o in read_attempt(folder):
            prev = best.get(o.row)
            if prev is None or prev.failure is not None:
                best[o.row] = o
    return [best[r] for r in sorted(best)]
