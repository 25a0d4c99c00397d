"""The cc branch stage by stage on the sample crawl, as the workflow runs it (list, units, fetch, pool, gather,
download with img2dataset against the sample web on 127.0.0.1, counts, unit), then the shared tail (convert,
subset, reshard) with no change: opt-outs, 404s, non-images, dedup, both balancings, provenance columns,
content-derived uids, byte-identical output whatever the unit size or the number of workers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sciclip.cli import main
from tests.conftest import read_dir

pytestmark = pytest.mark.slow  # the whole cc branch, four times


def run_cc(sample_cc: Path, work: Path, kind: str = "wat", per_unit: str = "1", workers: int = 1) -> Path:
    """Every stage of the cc branch, through the same commands the rules call; returns ``work``."""
    def sciclip(*argv) -> None:
        assert main([*map(str, argv)]) == 0, argv

    work.mkdir(parents=True, exist_ok=True)
    sciclip("cc", "list", "--source", sample_cc, "--crawls", "CC-MAIN-2024-22", "--kind", kind, "--out",
            work / "files.tsv")
    sciclip("units", "--members", work / "files.tsv", "--members-per-unit", per_unit, "--out", work / "units.tsv")
    sciclip("cc", "metadata", "--unigrams", sample_cc / "unigrams.tsv", "--bigrams", sample_cc / "bigrams.tsv",
            "--titles", sample_cc / "titles.tsv", "--out", work / "metadata.json")
    units = [line.split("\t")[0] for line in (work / "units.tsv").read_text().splitlines()[1:]]
    common = ["--units", work / "units.tsv"]
    for u in units:
        sciclip("cc", "fetch", "--source", sample_cc, "--selection", work / "files.tsv", *common, "--unit", u,
                "--out-dir", work / "crawl" / u)
        sciclip("cc", "pool", "--selection", work / "files.tsv", *common, "--unit", u, "--inputs", work / "crawl" / u,
                "--metadata", work / "metadata.json", "--out", work / "matched" / f"{u}.parquet", "--summary",
                work / "matched" / f"{u}.json")
    sciclip("cc", "gather", *[work / "matched" / f"{u}.parquet" for u in units], "--metadata", work / "metadata.json",
            "--out-dir", work / "pool", "--dedup-max-rows", "7")
    for u in units:
        sciclip("cc", "download", *common, "--unit", u, "--matched", work / "matched" / f"{u}.parquet", "--pool",
                work / "pool", "--t-download", "8", "--seed", "3", "--image-threads", "4", "--image-timeout-s", "5",
                "--image-retries", "0", "--serve", sample_cc / "web", "--out-dir", work / "downloads" / u)
    sciclip("cc", "counts", *[work / "downloads" / u for u in units], "--out", work / "downloaded_counts.npy")
    for u in units:
        sciclip("cc", "unit", *common, "--unit", u, "--downloads", work / "downloads" / u, "--counts",
                work / "downloaded_counts.npy", "--t", "4", "--seed", "3", "--workers", workers,
                work / "shards" / u)
    return work


@pytest.fixture(scope="module")
def cc_run(sample_dir, tmp_path_factory) -> Path:
    return run_cc(sample_dir / "cc", tmp_path_factory.mktemp("cc"))


def test_pool_gather_and_downloads(cc_run):
    summary = json.loads((cc_run / "pool" / "summary.json").read_text())
    assert (summary["rows"], summary["unique_pairs"]) == (28, 26)  # the logo and the dog's alt recur in file 2
    metadata = json.loads((cc_run / "metadata.json").read_text())
    counts = np.load(cc_run / "pool" / "counts.npy")
    assert counts[metadata.index("flower")] == 10 and counts[metadata.index("dog")] == 2  # "Dog" is another entry
    second = json.loads((cc_run / "downloads" / "CC-MAIN-2024-22_00001" / "download.json").read_text())
    assert second["duplicates"] == 2 and second["balanced_out"] >= 1  # 10 flowers against t_download = 8
    first = json.loads((cc_run / "downloads" / "CC-MAIN-2024-22_00000" / "download.json").read_text())
    assert first["status"] == {"http_404": 1, "not_a_raster_image": 1, "opted_out": 1, "usable": 6}


def test_unit_shards_carry_the_web_provenance(cc_run):
    samples = read_dir(cc_run / "shards")
    captions = [s["caption"] for s in samples]
    assert "A brown dog running on the beach" in captions and "Собака на траве" in captions
    assert "Café in Paris at night" in captions and "Mount Fuji at dawn" in captions
    assert "A robot arm in a factory" not in captions and "A tree in the park" not in captions  # noai, 404
    assert "A private dog photo" not in captions and "富士山の写真" not in captions  # page opt-out; no match
    assert captions.count("A brown dog running on the beach") == 1  # deduped across files
    assert captions.count("A red flower in the garden") <= 5  # balanced to t = 4 (in expectation)
    meta = next(s["meta"] for s in samples if s["caption"] == "A brown dog running on the beach")
    metadata = json.loads((cc_run / "metadata.json").read_text())
    assert meta["url"] == "http://images.sciclip.test/photos/dog.jpg" and meta["attr"] == "alt"
    assert [metadata[i] for i in meta["entry_ids"]] == ["dog", "beach"]
    assert meta["page_url"] == "http://shop.sciclip.test/dogs.html" and meta["crawl"] == "CC-MAIN-2024-22"
    assert meta["warc_filename"].endswith("00000.warc.gz") and meta["warc_record_offset"] > 0
    assert meta["source"] == "cc" and len(meta["uid"]) == 32 and max(meta["width"], meta["height"]) <= 512
    stats = json.loads((cc_run / "shards" / "CC-MAIN-2024-22_00000" / "stats.json").read_text())
    assert stats["nouns"] == {"item": "images", "candidate": "texts", "unit": "unit of crawl files"}
    assert stats["skipped_items"] == {"http_404": 1, "opted_out": 1}
    assert stats["skipped_candidates"] == {"unsupported_format": 1}
    later = json.loads((cc_run / "shards" / "CC-MAIN-2024-22_00001" / "stats.json").read_text())
    assert {"image_too_small", "balanced_out"} <= set(later["skipped_candidates"])


def test_the_shared_tail_takes_cc_unchanged(cc_run, tmp_path):
    from sciclip.curate.dedup import build_subset
    from sciclip.shards.img2dataset import convert
    from sciclip.shards.reshard import reshard
    from sciclip.shards.stats import dataset_stats, format_summary

    units = sorted((cc_run / "shards").iterdir())
    convert(units, tmp_path / "i2d")
    rows = [s["meta"] for s in read_dir(tmp_path / "i2d")]
    assert rows and all(r["source"] == "cc" and r["url"].startswith("http://images.sciclip.test/") for r in rows)
    assert {"page_url", "attr", "entry_ids", "warc_filename", "warc_record_offset", "crawl"} <= set(rows[0])
    table = pq.read_table(tmp_path / "i2d" / "00000.parquet")  # typed as cc declares: pyarrow/HF see integers
    assert table.schema.field("warc_record_offset").type == pa.int64()
    assert table.schema.field("warc_record_length").type == pa.int64()
    assert table.schema.field("entry_ids").type == pa.list_(pa.int64())
    assert table.column("warc_record_offset").to_pylist() == [int(r["warc_record_offset"]) for r in rows]
    assert table.column("entry_ids").to_pylist() == [[int(i) for i in r["entry_ids"].split(",")] for r in rows]
    build_subset(tmp_path / "i2d", None, 2.0, tmp_path / "subset.npy")
    reshard([tmp_path / "i2d"], tmp_path / "final", tmp_path / "subset.npy", shard_format="{:05d}.tar",
            shard_stats_format="{:05d}_stats.json")
    assert len(read_dir(tmp_path / "final")) == len(rows)
    summary = format_summary(dataset_stats(units, source="cc"))  # in cc's own nouns, never the papers'
    assert "images seen" in summary and "skipped images: http_404 1" in summary and "texts found" in summary
    assert "paper" not in summary and "figure" not in summary


def test_output_does_not_depend_on_unit_size_or_workers(cc_run, sample_dir, tmp_path):
    from sciclip.shards.img2dataset import convert

    coarse = run_cc(sample_dir / "cc", tmp_path / "coarse", per_unit="2", workers=2)
    convert(sorted((cc_run / "shards").iterdir()), tmp_path / "a")
    convert(sorted((coarse / "shards").iterdir()), tmp_path / "b")
    assert (tmp_path / "a" / "00000.tar").read_bytes() == (tmp_path / "b" / "00000.tar").read_bytes()


def test_the_warc_kind_reads_the_same_crawl(sample_dir, tmp_path):
    work = run_cc(sample_dir / "cc", tmp_path / "warc", kind="warc", per_unit="2")
    captions = [s["caption"] for s in read_dir(work / "shards")]
    assert "A small bird on a branch" in captions  # a lazy image: only the WARC path sees its real src
    assert "A calm lake in the morning" in captions  # data-image-title
