"""The img2dataset conversion writes every parquet column with the type its source declares
(``Source.columns``): numbers as int64, id lists as list<int64>, strings as strings; a missing string is "",
a missing number or list null (as img2dataset itself writes). The json member holds them as text, so that
Hugging Face's webdataset loader, which infers the schema from the first five samples, reads a mix."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sciclip.errors import SciclipError
from sciclip.shards.img2dataset import column_types, typed
from sciclip.sources.base import Candidate
from sciclip.sources.registry import register, unregister
from tests.conftest import read_dir
from tests.test_sources import ToySource, _toy_unit


@pytest.mark.parametrize(("value", "kind", "expected"), [
    (None, "string", ""), (7, "string", "7"), ("x", "string", "x"),
    (None, "int64", None), ("", "int64", None), ("12", "int64", 12), (12, "int64", 12), ("twelve", "int64", None),
    (True, "int64", None), (1 << 70, "int64", None), ("2.5", "float64", 2.5), (None, "bool", None),
    (False, "bool", False), ("3,17", "list<int64>", [3, 17]), ([3, "17"], "list<int64>", [3, 17]),
    ([], "list<int64>", []), (None, "list<int64>", None), ([1, "x"], "list<int64>", None), (5, "list<int64>", None),
    (["a", None], "list<string>", ["a", ""]),
])
def test_a_value_as_its_column_holds_it(value, kind, expected):
    assert typed(value, kind) == expected


class TypedToy(ToySource):
    name = "typedtoy"
    columns = {"page_url": "string", "rank": "int64", "tags": "list<int64>", "note": "string"}

    def candidates(self, item, scratch, result):
        for c in super().candidates(item, scratch, result):
            if isinstance(c, Candidate) and item.id == "p1":  # p2's samples lack them
                c.meta.update({"rank": 3, "tags": [5, 1], "note": "first"})
            yield c


@pytest.fixture
def typed_toy():
    register(TypedToy)
    yield TypedToy
    unregister("typedtoy")


def test_convert_writes_declared_types(typed_toy, tmp_path):
    from sciclip.shards.img2dataset import convert
    from sciclip.sources.job import extract_unit

    extract_unit(TypedToy(), [_toy_unit(tmp_path / "in")], tmp_path / "shards" / "u1")
    convert([tmp_path / "shards" / "u1"], tmp_path / "i2d")
    schema = pq.read_schema(tmp_path / "i2d" / "00000.parquet")
    assert schema.field("rank").type == pa.int64() and schema.field("tags").type == pa.list_(pa.int64())
    assert schema.field("note").type == pa.string() and schema.field("width").type == pa.int64()
    rows = pq.read_table(tmp_path / "i2d" / "00000.parquet").to_pylist()
    assert [(r["rank"], r["tags"], r["note"]) for r in rows] == [(3, [5, 1], "first"), (None, None, "")]
    metas = [s["meta"] for s in read_dir(tmp_path / "i2d")]  # text in the json: HF infers it from 5 samples
    assert [(m["rank"], m["tags"], m["note"]) for m in metas] == [("3", "5,1", "first"), ("", "", "")]
    types = column_types()
    text = [c for c, t in types.items() if t != "string" and c not in ("width", "height", "original_width",
                                                                     "original_height")]
    assert "warc_record_offset" in text and "entry_ids" in text and "paper_id" not in text
    assert [{k: v for k, v in m.items() if k not in text} for m in metas] == [
        {k: v for k, v in r.items() if k not in text} for r in rows]  # strings and sizes agree
    assert isinstance(metas[0]["width"], int)  # img2dataset's own sizes stay numbers


@pytest.mark.parametrize("name, columns, error", [
    ("clash", {"rank": "string"}, "column 'rank'"),  # sources must agree on a shared column
    ("odd", {"when": "timestamp"}, "unknown type 'timestamp'"),  # an unknown type is refused
])
def test_bad_column_declarations_are_refused(typed_toy, name, columns, error):
    register(type(name.capitalize(), (ToySource,), {"name": name, "columns": columns}))
    try:
        with pytest.raises(SciclipError, match=error):
            column_types()
    finally:
        unregister(name)
