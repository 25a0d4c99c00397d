"""Document shards: parquet in OBELICS' layout and tar-in-tar, loaded with the tools people train with."""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter

import pytest
from PIL import Image

from sciclip.docs.assemble import assemble
from sciclip.docs.model import DocRecord, ImageBlock, RawDocument, TextBlock
from sciclip.docs.reader import read_dir, read_parquet, read_tar
from sciclip.docs.writer import DocWriter
from sciclip.images.pipeline import ImageOptions


def png(w: int, h: int, color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, "PNG")
    return buf.getvalue()


def raw_doc(n: int) -> RawDocument:
    return RawDocument(f"doc{n}", "arxiv", [
        TextBlock(f"Title {n}", "title"), TextBlock("First paragraph of the text."),
        ImageBlock("fig/a.png", data=png(300, 200), url=f"https://arxiv.org/abs/x{n}#fig/a.png",
                   meta={"source_path": "fig/a.png"}),
        TextBlock("Caption of the figure.", "caption"),
        ImageBlock("fig/a-again.png", data=png(300, 200), meta={"source_path": "fig/a-again.png"}),  # repeated
        ImageBlock("fig/missing.png", missing="graphic_not_found"),
        ImageBlock("fig/b.png", data=png(120, 90, (0, 0, 255)), meta={"source_path": "fig/b.png"}),
        TextBlock("Closing words."),
    ], {"paper_id": f"x{n}"})


def test_assemble_merges_texts_drops_bad_images_and_counts_them():
    skipped: Counter = Counter()
    r = assemble(raw_doc(1), ImageOptions(max_size=128), skipped)
    assert r.texts == ["Title 1\n\nFirst paragraph of the text.", None, "Caption of the figure.", None,
                       "Closing words."]
    assert r.images[1] == "https://arxiv.org/abs/x1#fig/a.png" and r.images[3] == "fig/b.png"
    assert skipped == {"repeated_image": 1, "graphic_not_found": 1}
    m = r.metadata[1]
    assert (m["original_width"], m["original_height"], m["width"], m["height"]) == (300, 200, 128, 85)
    assert m["format"] == "png" and len(m["uid"]) == 32 and m["source_path"] == "fig/a.png"
    assert r.words == 2 + 5 + 4 + 2 and r.n_images == 2


def test_a_record_with_both_or_neither_at_a_position_is_refused():
    with pytest.raises(ValueError):
        DocRecord("x", "web", ["a", None], [None, None], [None, None], [None, None], {}).check()


@pytest.fixture
def written(tmp_path):
    records = [assemble(raw_doc(n), ImageOptions(max_size=64), Counter()) for n in range(5)]
    with DocWriter(tmp_path, docs_per_shard=2) as w:
        for r in records:
            w.write(r)
    return tmp_path, records


def test_both_formats_shard_alike_and_read_back(written):
    out, records = written
    assert sorted(p.name for p in out.iterdir()) == ["00000.parquet", "00000.tar", "00001.parquet", "00001.tar",
                                                      "00002.parquet", "00002.tar"]
    from_parquet = [r for p in sorted(out.glob("*.parquet")) for r in read_parquet(p)]
    from_tar = [r for p in sorted(out.glob("*.tar")) for r in read_tar(p)]
    assert [r.id for r in from_parquet] == [r.id for r in from_tar] == [r.id for r in records]
    for a, b in zip(from_parquet, from_tar):
        assert a == b
    assert list(read_dir(out, with_images=False))[0].image_bytes == [None, b"", None, b"", None]


def test_parquet_loads_with_datasets_in_obelics_layout(written):
    datasets = pytest.importorskip("datasets")
    out, records = written
    ds = datasets.load_dataset("parquet", data_files=sorted(str(p) for p in out.glob("*.parquet")), split="train")
    assert ds.num_rows == 5
    row = ds[0]
    assert row["texts"] == records[0].texts and row["images"] == records[0].images
    meta = json.loads(row["metadata"])
    assert meta[0] is None and meta[1]["sha256"] == records[0].metadata[1]["sha256"]
    assert json.loads(row["general_metadata"]) == {"paper_id": "x0"}
    assert Image.open(io.BytesIO(row["image_bytes"][1])).format == "JPEG"


def test_tar_in_tar_loads_with_webdataset(written):
    wds = pytest.importorskip("webdataset")
    out, records = written
    ds = wds.WebDataset(sorted(str(p) for p in out.glob("*.tar")), shardshuffle=False)
    samples = list(ds)
    assert [s["__key__"] for s in samples] == [r.id for r in records]
    with tarfile.open(fileobj=io.BytesIO(samples[0]["tar"])) as inner:
        names = inner.getnames()
        doc = json.loads(inner.extractfile("document.json").read())
        first = Image.open(io.BytesIO(inner.extractfile("0.jpg").read()))
    assert names == ["0.jpg", "1.jpg", "document.json"]
    assert doc["image_files"] == [None, "0.jpg", None, "1.jpg", None] and doc["texts"] == records[0].texts
    assert first.size == (64, 43)


def test_a_failed_job_leaves_no_shard_that_looks_finished(tmp_path):
    r = assemble(raw_doc(0), ImageOptions(max_size=64), Counter())
    with pytest.raises(RuntimeError):
        with DocWriter(tmp_path, docs_per_shard=10) as w:
            w.write(r)
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
