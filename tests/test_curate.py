"""img2dataset layout, descriptors (Yokoo checkpoint loading, pHash), faiss scoring, subsets, DataComp reshard."""

from __future__ import annotations

import argparse
import json
import tarfile

import numpy as np
import pyarrow.parquet as pq
import pytest

from sciclip.curate.decontaminate import embed_eval, embed_source, max_similarity, score_source
from sciclip.curate.dedup import build_subset
from sciclip.errors import SciclipError
from sciclip.shards.img2dataset import columns, convert, img2dataset_json
from sciclip.shards.reshard import reshard
from sciclip.shards.subset_file import U16, uid_pairs
from tests.conftest import read_shard, run_cli

PLANTED_ARXIV = {("2002.00001", f"planted_{k}") for k in ("resized.png", "q70.jpg", "crop.png", "gray.png")}


def test_img2dataset_layout(i2d, sample_extracted):
    root, stats = sample_extracted
    total = sum(s.samples_written for s in stats.values())
    tars = sorted(p.name for p in i2d.glob("*.tar"))
    assert tars == [f"{i:05d}.tar" for i in range((total + 9) // 10)]
    keys = []
    for t in tars:
        samples = read_shard(i2d / t)
        shard = int(t[:5])
        assert [s["key"] for s in samples] == [f"{shard * 10 + i:06d}" for i in range(len(samples))]  # 1+5 digits
        assert all(set(s) >= {"jpg", "txt", "json"} for s in samples)
        table = pq.read_table(i2d / t.replace(".tar", ".parquet"))
        assert table.column_names == list(columns())
        rows = table.to_pylist()  # typed columns; the json holds them as text (img2dataset_json)
        assert [img2dataset_json(r) for r in rows] == [s["meta"] for s in samples]
        st = json.loads((i2d / t.replace(".tar", "_stats.json")).read_text())
        assert st["count"] == st["successes"] == len(samples) and st["failed_to_download"] == 0
        assert st["status_dict"] == {"success": len(samples)}
        for s in samples:
            m = s["meta"]
            assert m["key"] == s["key"] and m["status"] == "success" and m["caption"] == s["caption"]
            assert m["url"].startswith("https://arxiv.org/abs/") and len(m["uid"]) == 32
        keys += [s["key"] for s in samples]
    assert len(keys) == total
    old = next(s["meta"] for t in tars for s in read_shard(i2d / t) if s["meta"]["paper_id"] == "hep-th9901001")
    assert old["url"] == "https://arxiv.org/abs/hep-th/9901001#fig1.eps"


def test_img2dataset_default_keys_have_nine_digits(sample_extracted, tmp_path):
    root, _ = sample_extracted
    convert([root / "arXiv_src_2001_001"], tmp_path / "o")
    assert [s["key"] for s in read_shard(tmp_path / "o" / "00000.tar")][:2] == ["000000000", "000000001"]


def test_img2dataset_loads_with_webdataset_pyarrow_and_hf_datasets(i2d):
    import webdataset as wds
    from datasets import load_dataset

    n = sum(json.loads(p.read_text())["successes"] for p in i2d.glob("*_stats.json"))
    last = len(list(i2d.glob("*.tar"))) - 1
    ds = wds.WebDataset(str(i2d) + "/{00000..%05d}.tar" % last, shardshuffle=False)
    assert sum(1 for _ in ds.decode("pil")) == n
    assert sum(pq.read_table(p).num_rows for p in i2d.glob("*.parquet")) == n
    hf = load_dataset("webdataset", data_files={"train": sorted(str(p) for p in i2d.glob("*.tar"))}, split="train",
                      cache_dir=str(i2d.parent / "hf-cache"))
    assert len(hf) == n and {"jpg", "txt", "json"} <= set(hf.column_names)
    assert hf[0]["jpg"].mode == "RGB"


def _released_checkpoint(path, input_size=64):
    """A random-init ISC21 network saved the way the released isc_ft_v107.pth.tar is (DataParallel keys).

    The last BatchNorm of every residual branch starts at zero scale (the "zero-init residual" of Goyal et al.
    2017): each block starts as the identity, and the network is as well-conditioned as trained weights keep it.
    Plain random init is chaotic (its squeeze-excite gates see inputs in the hundreds and act as switches): a
    relative change of 1e-7 in the input, or another CPU's convolution kernel, moves its descriptors by a
    cosine of 0.05 to 0.4, so no float32 comparison of them would mean anything.
    """
    import torch

    from sciclip.curate.descriptors import build_yokoo
    torch.manual_seed(0)
    model = build_yokoo()
    for block in model.modules():
        if getattr(block, "has_skip", False):  # timm's residual blocks
            torch.nn.init.zeros_([m for name, m in block.named_children() if name.startswith("bn")][-1].weight)
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    args = argparse.Namespace(arch="tf_efficientnetv2_m_in21ft1k", input_size=input_size, fc_dim=256)
    torch.save({"epoch": 7, "arch": "tf_efficientnetv2_m_in21ft1k", "args": args, "state_dict": state}, path)
    return state


@pytest.fixture(scope="module")
def yokoo_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp("w") / "isc_ft_v107.pth.tar"
    state = _released_checkpoint(path)
    return path, state


def test_yokoo_checkpoint_in_released_format(yokoo_ckpt):
    import torch

    from sciclip.curate.descriptors import load_yokoo
    path, state = yokoo_ckpt
    assert {"module.fc.weight", "module.bn.weight", "module.bn.bias", "module.bn.running_mean",
            "module.bn.running_var", "module.bn.num_batches_tracked"} <= set(state)
    assert any(k.startswith("module.backbone.conv_stem") for k in state)
    model, size = load_yokoo(path)
    assert size == 64 and not model.training
    assert torch.equal(model.fc.weight, state["module.fc.weight"])


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity, computed in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


F32_EPS = float(np.finfo(np.float32).eps)  # 2^-23: twice float32's unit round-off
# Descriptors are float32 unit vectors from a well-conditioned network. Another CPU (Intel or AMD, AVX2 or
# AVX-512), thread count or batch size picks other convolution and matmul kernels, i.e. another summation
# order: each component then moves by some float32 ulps of the activations (measured: 1.2e-7 at most against a
# float64 run of the same network; 2.5e-7 at most, 1 - cosine 7e-13, between batch sizes 1-3, 1 or 2 threads
# and ATen/oneDNN/MKL/OpenBLAS/numpy held to older instruction sets). Equal descriptors are therefore compared
# by cosine, with 1 - 1e-6 as the bound: a drift of ~9e-5 in each of the 256 components, over 300 times the
# largest measured. A real defect (batch statistics in eval, samples mixed in a batch) costs 0.2 to 1.
SAME_DESCRIPTOR_COS = 1 - 1e-6


def test_yokoo_embeddings_shape_and_norm(yokoo_ckpt, tmp_path):
    import torch

    from sciclip.curate.descriptors import embed, load_yokoo, yokoo_transform
    from sciclip.sample import media
    path, _ = yokoo_ckpt
    imgs = [(f"i{i}", media.natural_image(f"t{i}", (120, 90))) for i in range(3)]
    ids, emb = embed(imgs, "yokoo", weights=str(path), device="cpu", batch_size=2)
    assert ids == ["i0", "i1", "i2"] and emb.shape == (3, 256) and emb.dtype == np.float32
    # the norm of a float32 256-vector carries at most ~256 * 2^-24 relative error (sum of squares), once in
    # the model's normalisation and once here
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=256 * F32_EPS)
    # the same network in float64: the fixture is well-conditioned, so float32 is only rounding away from it
    model, size = load_yokoo(path)
    with torch.inference_mode():
        exact = model.double()(torch.stack([yokoo_transform(size)(img) for _, img in imgs]).double()).numpy()
    assert _cosines(emb, exact).min() >= SAME_DESCRIPTOR_COS
    ids2, emb2 = embed(imgs, "yokoo", weights=str(path), device="cpu", batch_size=3)
    assert ids2 == ids and _cosines(emb, emb2).min() >= SAME_DESCRIPTOR_COS  # batching does not change them
    others = _cosines(emb[[0, 0, 1]], emb[[1, 2, 2]])
    assert others.max() < 0.95, others  # ...while different images get different descriptors


def test_yokoo_over_shards_with_a_dataloader(yokoo_ckpt, i2d, tmp_path):
    path, _ = yokoo_ckpt
    n = embed_source(i2d, tmp_path / "emb", "yokoo", weights=str(path), device="cpu", batch_size=8, workers=2)
    emb, ids = np.load(tmp_path / "emb" / "emb.npy"), np.load(tmp_path / "emb" / "ids.npy")
    assert emb.shape == (n, 256) and ids.dtype == np.dtype("S32") and len(set(ids.tolist())) == n


def test_yokoo_loader_refuses_bad_checkpoints(tmp_path):
    import torch

    from sciclip.curate.descriptors import load_yokoo
    torch.save({"state_dict": {"module.fc.weight": torch.zeros(256, 512)}}, tmp_path / "bad.pth")
    with pytest.raises(SciclipError, match="does not fit"):
        load_yokoo(tmp_path / "bad.pth")
    with pytest.raises(SciclipError, match="no such"):
        load_yokoo(tmp_path / "none.pth")


def test_faiss_max_similarity():
    rng = np.random.default_rng(0)
    ev = rng.normal(size=(50, 16)).astype(np.float32)
    ev /= np.linalg.norm(ev, axis=1, keepdims=True)
    q = rng.normal(size=(20, 16)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    # faiss (its own BLAS) and numpy (OpenBLAS) sum the 16 products in different orders: for unit vectors each
    # result is within 16 * 2^-24 of the exact one (Higham's dot-product bound), so the two differ by < 2e-6
    assert np.allclose(max_similarity(q, ev, "yokoo"), (q @ ev.T).max(axis=1), atol=1e-5)
    a = np.packbits(np.zeros(64, np.uint8))[None]
    b = np.packbits(np.r_[np.ones(16, np.uint8), np.zeros(48, np.uint8)])[None]
    assert max_similarity(b, a, "phash").tolist() == [0.75]


def test_phash_separates_planted_from_the_rest(i2d, sample_dir, tmp_path):
    embed_source(i2d, tmp_path / "emb", "phash")
    embed_eval(tmp_path / "ev.npz", "phash", images=str(sample_dir / "eval"))
    score_source(i2d, tmp_path / "emb", tmp_path / "ev.npz", tmp_path / "scores")
    rows = []
    for p in sorted(i2d.glob("*.parquet")):
        meta = pq.read_table(p, columns=["uid", "paper_id", "source_path"]).to_pylist()
        sc = pq.read_table(tmp_path / "scores" / p.name).to_pylist()
        assert [r["uid"] for r in sc] == [m["uid"] for m in meta]
        rows += [(m["paper_id"], m["source_path"], r["score"]) for m, r in zip(meta, sc)]
    planted = [s for pid, sp, s in rows if (pid, sp) in PLANTED_ARXIV]
    others = [s for pid, sp, s in rows if (pid, sp) not in PLANTED_ARXIV]
    assert len(planted) == 4 and min(planted) >= 0.75 > max(others)
    rep = build_subset(i2d, tmp_path / "scores", 0.75, tmp_path / "s.npy", tmp_path / "r.json")
    assert (rep["contaminated"], rep["exact_duplicates"], rep["kept"]) == (4, 1, len(rows) - 5)
    subset = np.load(tmp_path / "s.npy")
    assert subset.dtype == U16
    assert [tuple(x) for x in subset] == sorted(tuple(x) for x in subset)


def test_precomputed_eval_embeddings(tmp_path):
    import torch
    torch.save(torch.nn.functional.normalize(torch.randn(5, 256), dim=1), tmp_path / "eval.pt")
    assert embed_eval(tmp_path / "e.npz", "yokoo", embeddings=str(tmp_path / "eval.pt")) == 5
    with pytest.raises(SciclipError):
        embed_eval(tmp_path / "e2.npz", "phash", embeddings=str(tmp_path / "eval.pt"))


# --- reshard -------------------------------------------------------------------------------------------------

def _uids(folder):
    return [r["uid"] for p in sorted(folder.glob("*.parquet")) for r in pq.read_table(p, columns=["uid"]).to_pylist()]


def _subset(path, uids):
    arr = np.sort(uid_pairs(uids))
    np.save(path, arr)
    return arr


def test_reshard_datacomp_format_and_upsampling(i2d, tmp_path):
    uids = _uids(i2d)
    chosen = uids[::2] + [uids[0]]  # uids[0] listed twice: upsampled
    _subset(tmp_path / "s.npy", chosen)
    state = reshard([i2d], tmp_path / "out", tmp_path / "s.npy", shard_size=4, num_workers=2,
                    shard_format="{:05d}.tar", shard_stats_format="{:05d}_stats.json")
    out = tmp_path / "out"
    shards = sorted(out.glob("*.tar"))
    assert [p.name for p in shards] == [f"{i:08d}.tar" for i in range(state["output_shard_count"])]
    samples = [s for p in shards for s in read_shard(p)]
    assert len(samples) == len(chosen) == state["output_count"]
    keys = [s["key"] for s in samples]
    assert keys[:2] == [f"{uids[0]}-0", f"{uids[0]}-1"]
    assert {k.rsplit("-", 1)[0] for k in keys} == set(chosen)
    for s in samples:
        assert s["meta"]["uid"] == s["key"].rsplit("-", 1)[0] and {"jpg", "txt", "json"} <= set(s)
    for p in shards:
        assert json.loads(p.with_name(p.name.replace(".tar", "_stats.json")).read_text()) == {
            "successes": len(read_shard(p))}
    assert (out / "sample_ids.npy").read_bytes() == (tmp_path / "s.npy").read_bytes()
    meta = json.loads((out / "meta.json").read_text())
    assert meta["output_shard_count"] == len(shards) and meta["shard_size"] == "4" and "cwd" in meta
    assert meta["processed_count"] == len(uids)


def test_reshard_is_deterministic_across_workers(i2d, tmp_path):
    _subset(tmp_path / "s.npy", _uids(i2d)[1::3])
    kw = dict(shard_size=3, shard_format="{:05d}.tar", shard_stats_format="{:05d}_stats.json")
    reshard([i2d], tmp_path / "a", tmp_path / "s.npy", num_workers=1, **kw)
    reshard([i2d], tmp_path / "b", tmp_path / "s.npy", num_workers=3, **kw)
    a = {p.name: p.read_bytes() for p in (tmp_path / "a").glob("*.tar")}
    assert a and a == {p.name: p.read_bytes() for p in (tmp_path / "b").glob("*.tar")}


def test_reshard_foreign_shards_without_parquet(i2d, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for p in sorted(i2d.glob("*.tar"))[:2]:
        (foreign / f"{int(p.stem):08d}.tar").write_bytes(p.read_bytes())  # DataComp names, no parquet
    uids = [s["meta"]["uid"] for p in sorted(foreign.glob("*.tar")) for s in read_shard(p)]
    _subset(tmp_path / "s.npy", uids[:5])
    state = reshard([foreign], tmp_path / "o", tmp_path / "s.npy", num_workers=2, first_shard=1, num_shards=1)
    assert state["processed_count"] == len(read_shard(foreign / "00000001.tar"))
    got = {s["key"].rsplit("-", 1)[0] for p in (tmp_path / "o").glob("*.tar") for s in read_shard(p)}
    assert got == set(uids[:5]) & {s["meta"]["uid"] for s in read_shard(foreign / "00000001.tar")}


def test_reshard_refusals(i2d, tmp_path):
    bad = np.array([(2, 0), (1, 0)], dtype=U16)
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(SciclipError, match="not sorted"):
        reshard([i2d], tmp_path / "o", tmp_path / "bad.npy", shard_format="{:05d}.tar")
    _subset(tmp_path / "s.npy", _uids(i2d)[:1])
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(SciclipError, match="--overwrite"):
        reshard([i2d], tmp_path / "full", tmp_path / "s.npy", shard_format="{:05d}.tar")
    r = run_cli("reshard", "-i", str(i2d), "-o", str(tmp_path / "c"), "-s", str(tmp_path / "s.npy"),
                "--shard-format", "{:05d}.tar", "--shard-stats-format", "{:05d}_stats.json", "-j", "1")
    assert r.returncode == 0, r.stderr
    with tarfile.open(tmp_path / "c" / "00000000.tar") as t:
        assert [m.name for m in t][0].startswith(_uids(i2d)[0] + "-0.")
