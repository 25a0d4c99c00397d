"""The commonpool source: the sample pool's metadata as DataComp publishes it, the member list, a unit downloaded
with img2dataset as DataComp's download_upstream.py downloads (sizes, face blurring), dead links counted by
reason (never an error), retry rounds that fetch only what failed, the pool's uid kept through the shards and
the tail, and the metadata taken from the pool instead of computed."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from sciclip.sample import commonpool as sample_pool
from sciclip.sources.commonpool.download import (
    DATACOMP,
    PoolDownloadOptions,
    download_unit,
    img2dataset_kwargs,
    retry_unit,
)
from sciclip.sources.commonpool.members import fetch_members, hf_repo, list_members, pool_location
from sciclip.sources.commonpool.outcomes import merged_outcomes

DATACOMP_COLUMNS = ["uid", "url", "text", "original_width", "original_height", "clip_b32_similarity_score",
                    "clip_l14_similarity_score", "face_bboxes", "sha256"]


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cp")
    sample_pool.write_commonpool_sample(out)
    return out / "commonpool"


@pytest.fixture(scope="module")
def downloaded(pool, tmp_path_factory) -> tuple[Path, Path, dict]:
    """The sample pool's two parquets as one unit: fetched, downloaded from the sample web (loopback)."""
    root = tmp_path_factory.mktemp("cpdl")
    members = list_members(str(pool / "metadata"))
    parquets = fetch_members(str(pool / "metadata"), members, root / "pool")
    report = download_unit(parquets, root / "dl", PoolDownloadOptions(serve=str(pool / "web"), threads=4))
    return root / "pool", root / "dl", report


def test_the_sample_pool_has_datacomp_columns_and_embeddings(pool):
    for name in sample_pool.FILES:
        table = pq.read_table(pool / "metadata" / f"{name}.parquet")
        assert table.column_names == DATACOMP_COLUMNS
        assert table.schema.field("face_bboxes").type == pa.list_(pa.list_(pa.float64()))
        uids = table.column("uid").to_pylist()
        assert all(len(u) == 32 and int(u, 16) >= 0 and u == u.lower() for u in uids) and len(set(uids)) == len(uids)
        with np.load(pool / "metadata" / f"{name}.npz") as z:
            assert sorted(z.files) == ["b32_img", "b32_txt", "l14_img", "l14_txt"]
            for m in ("b32", "l14"):
                img, txt = z[f"{m}_img"].astype(np.float32), z[f"{m}_txt"].astype(np.float32)
                assert img.dtype == np.float32 and z[f"{m}_img"].dtype == np.float16 and len(img) == table.num_rows
                np.testing.assert_allclose(np.linalg.norm(img, axis=1), 1, atol=2e-3)
                np.testing.assert_allclose(table.column(f"clip_{m}_similarity_score").to_numpy(),
                                           np.einsum("ij,ij->i", img, txt), atol=1e-5)


def test_scales_name_datacomps_hugging_face_datasets_and_a_listing_finds_the_npz():
    assert hf_repo("small") == "mlfoundations/datacomp_small" and hf_repo("datacomp_1b") == "mlfoundations/datacomp_1b"
    assert pool_location(None, "medium") == "hf://datasets/mlfoundations/datacomp_medium"
    assert pool_location("/data/pool/metadata", "small") == "/data/pool/metadata"

    class Entry:
        def __init__(self, path, size):
            self.path, self.size = path, size

    class FakeApi:  # xlarge's layout: parquets one folder deep, an npz beside each
        def list_repo_tree(self, repo, repo_type, recursive, revision):
            assert (repo, repo_type, recursive) == ("mlfoundations/datacomp_xlarge", "dataset", True)
            return [Entry("README.md", 10), Entry("part_00/a1.parquet", 100), Entry("part_00/a1.npz", 900),
                    Entry("part_01/b2.parquet", 120)]

    members = list_members(pool_location(None, "xlarge"), api=FakeApi())
    assert [(m.name, m.path, m.size, m.npz) for m in members] == [
        ("a1", "part_00/a1.parquet", 100, "part_00/a1.npz"), ("b2", "part_01/b2.parquet", 120, "")]


def test_the_download_is_datacomps(tmp_path):
    kw = img2dataset_kwargs(tmp_path / "u.parquet", tmp_path / "out", ["uid", "row"], True, PoolDownloadOptions())
    # download_upstream.py: img2dataset.download(image_size=512, resize_mode="keep_ratio_largest",
    # resize_only_if_bigger=True, encode_format="jpg", input_format="parquet", url_col="url", caption_col="text",
    # bbox_col="face_bboxes", save_additional_columns=["uid"], number_sample_per_shard=10000, oom_shard_count=8,
    # retries=2)
    assert {k: kw[k] for k in ("image_size", "resize_mode", "resize_only_if_bigger", "encode_format", "input_format",
                               "url_col", "caption_col", "bbox_col", "number_sample_per_shard", "oom_shard_count",
                               "retries")} == {
        "image_size": 512, "resize_mode": "keep_ratio_largest", "resize_only_if_bigger": True, "encode_format": "jpg",
        "input_format": "parquet", "url_col": "url", "caption_col": "text", "bbox_col": "face_bboxes",
        "number_sample_per_shard": 10_000, "oom_shard_count": 8, "retries": 2}
    assert "uid" in kw["save_additional_columns"] and DATACOMP["image_size"] == 512
    assert img2dataset_kwargs(tmp_path / "u", tmp_path / "o", [], False, PoolDownloadOptions())["bbox_col"] is None


def test_dead_links_are_counted_by_reason_and_the_rest_arrives_resized(downloaded, pool):
    _, dl, report = downloaded
    fate = sample_pool.expected_uids()
    want_failed: dict[str, int] = {}
    for reason in fate.values():
        if reason != "sample":
            want_failed[reason] = want_failed.get(reason, 0) + 1
    assert report["failed"] == want_failed == {"http_404": 2, "image_decode_error": 1, "opted_out": 1}
    assert report["urls"] == 10 and report["downloaded"] == 6
    assert sorted(p.name for p in dl.glob("*.tar")) == ["00000000.tar"]  # DataComp's 8-digit shard names
    got = {o.url.rsplit("/", 1)[1]: o for o in merged_outcomes([dl])}
    sizes = {n: (o.image["width"], o.image["height"]) for n, o in got.items() if o.failure is None}
    assert sizes == {"dog-large.jpg": (512, 384), "panorama.jpg": (512, 128), "cat.jpg": (300, 200),
                     "people.png": (400, 300), "eval-copy.jpg": (256, 256), "short.jpg": (200, 150)}
    for o in got.values():
        assert fate[o.uid] == (o.failure or "sample")
        if o.failure is None:
            assert Image.open(io.BytesIO(o.read())).format == "JPEG"
    assert got["people.png"].columns["face_bboxes"] == [[0.1, 0.15, 0.3, 0.45], [0.6, 0.1, 0.85, 0.5]]
    assert got["cat.jpg"].columns["clip_b32_similarity_score"] is not None
    assert got["cat.jpg"].columns["pool_sha256"] == pq.read_table(pool / "metadata" / "00000000.parquet").column(
        "sha256")[1].as_py()


def _noise_web(root: Path, boxes) -> Path:
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, (50, 75, 1), dtype=np.uint8)  # grey texture in 4 px blocks: JPEG q95 keeps it
    img = Image.fromarray(np.repeat(np.kron(blocks, np.ones((4, 4, 1), np.uint8)), 3, axis=2))
    (root / "web" / "f.test").mkdir(parents=True)
    img.save(root / "web" / "f.test" / "noise.png")
    table = pa.table({"uid": ["0" * 31 + "1"], "url": ["http://f.test/noise.png"], "text": ["noise"],
                      "face_bboxes": pa.array([boxes], pa.list_(pa.list_(pa.float64())))})
    (root / "meta").mkdir()
    pq.write_table(table, root / "meta" / "m.parquet")
    return root / "meta" / "m.parquet"


@pytest.mark.parametrize("blur", [True, False])
def test_face_boxes_are_blurred_and_nothing_else(tmp_path, blur):
    box = [0.2, 0.3, 0.5, 0.7]  # x_min, y_min, x_max, y_max relative to the image (DataComp's face_bboxes)
    meta = _noise_web(tmp_path, [box])
    download_unit([meta], tmp_path / "dl", PoolDownloadOptions(serve=str(tmp_path / "web"), blur_faces=blur))
    (o,) = merged_outcomes([tmp_path / "dl"])
    got = np.asarray(Image.open(io.BytesIO(o.read())).convert("RGB"), np.float32)
    orig = np.asarray(Image.open(tmp_path / "web" / "f.test" / "noise.png"), np.float32)
    h, w = orig.shape[:2]
    x0, y0, x1, y1 = int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)
    inner = (slice(y0 + 12, y1 - 12), slice(x0 + 12, x1 - 12))  # clear of the box's feathered edge
    outer = (slice(0, y0 - 25), slice(None))  # well above the box (img2dataset widens it by 10% of its diagonal)
    off = lambda region: float(np.abs(got[region] - orig[region]).mean())  # noqa: E731 - mean error per channel
    detail = lambda a: float(np.abs(np.diff(a, axis=1)).mean())  # noqa: E731 - local measure of high frequencies
    assert off(outer) < 3  # JPEG q95 only
    if blur:
        assert off(inner) > 30 and detail(got[inner]) < 0.3 * detail(orig[inner])
    else:
        assert off(inner) < 3


def test_a_retry_round_fetches_only_what_failed(downloaded, pool, tmp_path):
    _, dl, _ = downloaded
    web = tmp_path / "web"
    import shutil

    shutil.copytree(pool / "web", web)
    lost = web / sample_pool.HOST / "images" / "lost.jpg"
    lost.write_bytes((web / sample_pool.HOST / "images" / "cat.jpg").read_bytes())  # the site is back
    from sciclip.sources.cc import serve

    requests: list[str] = []
    real = serve.LocalWeb.__init__

    def spy(self, root):
        real(self, root)
        self.requests = requests
        self.server.RequestHandlerClass.requests = requests

    import unittest.mock

    with unittest.mock.patch.object(serve.LocalWeb, "__init__", spy):
        rep = retry_unit([dl], tmp_path / "r1", PoolDownloadOptions(serve=str(web), retries=0))
    # the two 404s and the page that did not decode; never the opt-out, never what arrived
    assert sorted(r.rsplit("/", 1)[1] for r in requests) == ["gone.jpg", "lost.jpg", "page.html"]
    assert rep["retried"] == 3 and rep["downloaded"] == 7
    assert rep["failed"] == {"http_404": 1, "image_decode_error": 1, "opted_out": 1}
    merged = {o.url.rsplit("/", 1)[1]: o for o in merged_outcomes([dl, tmp_path / "r1"])}
    assert merged["lost.jpg"].failure is None and merged["lost.jpg"].uid == sample_pool.uid_of("lost")
    assert [o.row for o in merged_outcomes([dl, tmp_path / "r1"])] == list(range(10))


def test_a_unit_of_dead_links_is_counted_not_an_error(tmp_path):
    from sciclip.sources.commonpool.source import CommonPoolSource
    from sciclip.sources.job import extract_unit

    (tmp_path / "web").mkdir()
    table = pa.table({"uid": [f"{i:032x}" for i in range(3)], "url": [f"http://nowhere.test/{i}.jpg" for i in range(3)],
                      "text": ["a", "b", "c"]})
    pq.write_table(table, tmp_path / "m.parquet")
    rep = download_unit([tmp_path / "m.parquet"], tmp_path / "dl", PoolDownloadOptions(serve=str(tmp_path / "web")))
    assert rep["downloaded"] == 0 and rep["failed"] == {"http_404": 3}
    stats = extract_unit(CommonPoolSource(), [tmp_path / "dl"], tmp_path / "shards")
    assert (stats.items_seen, stats.samples_written, stats.skipped_items) == (3, 0, {"http_404": 3})
    assert json.loads((tmp_path / "shards" / "stats.json").read_text())["skipped_items"] == {"http_404": 3}


def test_the_pool_uid_survives_the_shards_and_the_tail(downloaded, tmp_path):
    from sciclip.curate.dedup import dedup_source, filter_unit
    from sciclip.shards.img2dataset import convert
    from sciclip.shards.reshard import reshard
    from sciclip.shards.subset_file import load_subset
    from sciclip.shards.tail_plan import folder_plan
    from sciclip.sources.commonpool.source import CommonPoolSource
    from sciclip.sources.job import extract_unit

    _, dl, _ = downloaded
    fate = sample_pool.expected_uids()
    kept = sorted(u for u, f in fate.items() if f == "sample")
    stats = extract_unit(CommonPoolSource(), [dl], tmp_path / "shards" / "u0")
    assert stats.samples_written == 6 and stats.skipped_candidates == {}
    import tarfile

    with tarfile.open(tmp_path / "shards" / "u0" / "00000.tar") as tf:
        metas = [json.loads(tf.extractfile(m).read()) for m in tf if m.name.endswith(".json")]
    assert sorted(m["uid"] for m in metas) == kept and all(m["key"] == m["uid"] for m in metas)
    short = next(m for m in metas if m["uid"] == sample_pool.uid_of("short"))
    assert short["caption"] == "dog" and short["source"] == "commonpool"  # the pool's caption, no length limit
    assert "clip_l14_similarity_score" in short and "face_bboxes" in short

    convert([tmp_path / "shards" / "u0"], tmp_path / "i2d")
    table = pq.read_table(tmp_path / "i2d" / "00000.parquet")
    assert sorted(table.column("uid").to_pylist()) == kept
    assert set(table.column("source").to_pylist()) == {"commonpool"}
    plan = folder_plan(tmp_path / "i2d")
    filter_unit(tmp_path / "i2d", plan, plan.units[0].name, None, 2.0, tmp_path / "f" / plan.units[0].name)
    rep = dedup_source([tmp_path / "f" / plan.units[0].name], plan, 2.0, tmp_path / "sub.npy", dedup=False)
    assert rep["kept"] == 6
    reshard([str(tmp_path / "i2d")], str(tmp_path / "final"), str(tmp_path / "sub.npy"), shard_format="{:05d}.tar",
            shard_stats_format="{:05d}_stats.json")
    ids = load_subset(tmp_path / "final" / "sample_ids.npy")
    assert sorted(f"{int(h):016x}{int(lo):016x}" for h, lo in ids.tolist()) == kept


def test_keep_duplicates_keeps_exact_duplicates(tmp_path):
    """dedup off: a second copy (same image, same caption) stays; on: it goes."""
    from sciclip.curate.dedup import dedup_source, filter_unit
    from sciclip.shards.img2dataset import convert
    from sciclip.shards.tail_plan import folder_plan
    from sciclip.shards.writer import ShardWriter

    jpg = io.BytesIO()
    Image.new("RGB", (40, 40), (9, 9, 9)).save(jpg, "JPEG")
    w = ShardWriter(tmp_path / "s" / "u", 100)
    for i in range(2):
        uid = f"{i + 1:032x}"
        meta = {"uid": uid, "key": uid, "source": "commonpool", "sha256": "ab" * 32, "width": 40, "height": 40}
        w.write(uid, {"jpg": jpg.getvalue(), "txt": b"same", "json": json.dumps(meta).encode()})
    w.close()
    convert([tmp_path / "s" / "u"], tmp_path / "i2d")
    plan = folder_plan(tmp_path / "i2d")
    unit = plan.units[0].name
    filter_unit(tmp_path / "i2d", plan, unit, None, 2.0, tmp_path / "f" / unit)
    assert dedup_source([tmp_path / "f" / unit], plan, 2.0, tmp_path / "a.npy", dedup=False)["kept"] == 2
    assert dedup_source([tmp_path / "f" / unit], plan, 2.0, tmp_path / "b.npy")["kept"] == 1


def test_metadata_is_taken_from_the_pool_not_computed(downloaded, tmp_path):
    from sciclip.curate.clip_models import ModelSpec, write_tiny_model
    from sciclip.curate.kinds import load_prompts
    from sciclip.curate.metadata import metadata_unit
    from sciclip.shards.img2dataset import convert
    from sciclip.shards.tail_plan import folder_plan
    from sciclip.sources.commonpool.source import CommonPoolSource
    from sciclip.sources.job import extract_unit

    pool_dir, dl, _ = downloaded
    extract_unit(CommonPoolSource(), [dl], tmp_path / "shards" / "u0")
    convert([tmp_path / "shards" / "u0"], tmp_path / "i2d")
    plan = folder_plan(tmp_path / "i2d")
    write_tiny_model(tmp_path / "m", seed=1)
    specs = [ModelSpec(n, f"local-dir:{tmp_path / 'm'}") for n in ("b32", "l14")]
    kw = {"kind_model": "l14", "prompts": load_prompts(None), "device": "cpu", "workers": 0}
    rep = metadata_unit(tmp_path / "i2d", plan, plan.units[0].name, tmp_path / "meta", specs, pool=[pool_dir], **kw)
    assert rep["reused"] and rep["samples"] == 6 and sum(rep["kinds"].values()) == 6
    ours = pq.read_table(tmp_path / "meta" / "00000.parquet")
    pool_rows = {r["uid"]: (f, i, r) for f in sample_pool.FILES
                 for i, r in enumerate(pq.read_table(pool_dir / f"{f}.parquet").to_pylist())}
    with np.load(tmp_path / "meta" / "00000.npz") as z:
        got = {n: z[n] for n in z.files}
    for j, row in enumerate(ours.to_pylist()):
        f, i, pr = pool_rows[row["uid"]]
        assert row["clip_l14_similarity_score"] == np.float32(pr["clip_l14_similarity_score"])
        assert (row["text"], row["face_bboxes"], row["source"]) == (pr["text"], pr["face_bboxes"], "commonpool")
        with np.load(pool_dir / f"{f}.npz") as z:
            for n in ("b32_img", "b32_txt", "l14_img", "l14_txt"):
                assert np.array_equal(got[n][j], z[n][i])
    # the same unit without the pool: the tiny models compute other scores
    rep = metadata_unit(tmp_path / "i2d", plan, plan.units[0].name, tmp_path / "meta2", specs, **kw)
    assert not rep.get("reused")
    computed = pq.read_table(tmp_path / "meta2" / "00000.parquet").column("clip_l14_similarity_score").to_numpy()
    assert not np.allclose(computed, ours.column("clip_l14_similarity_score").to_numpy(), atol=1e-3)
