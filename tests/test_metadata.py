"""DataComp metadata per tail unit: DataComp's columns and arrays, values equal to a direct OpenCLIP computation,
figure kinds, undecodable images, the loading code (OpenCLIP names and local folders) and the command."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pyarrow.parquet as pq
import pytest

from sciclip.curate.clip_models import ClipModel, ModelSpec, write_tiny_model
from sciclip.curate.kinds import KINDS, PROMPTS, classify, kind_embeddings
from sciclip.curate.metadata import metadata_unit
from sciclip.errors import SciclipError
from sciclip.shards.tail_plan import folder_plan, write_plan
from tests.conftest import call_cli

DATACOMP = ["uid", "url", "text", "original_width", "original_height", "sha256", "clip_b32_similarity_score",
            "clip_l14_similarity_score"]
OURS = ["source", "key", "width", "height", "kind", "kind_score"]
# float16 keeps 11 significant bits: a unit vector's components are within 2^-11 relative of float32's
F16 = 2e-3


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    write_tiny_model(root / "b32", seed=1)
    write_tiny_model(root / "l14", seed=2)
    return [ModelSpec("b32", f"local-dir:{root / 'b32'}"), ModelSpec("l14", f"local-dir:{root / 'l14'}")]


@pytest.fixture(scope="module")
def meta(i2d, models, tmp_path_factory):
    plan = folder_plan(i2d, shards_per_unit=1 << 30)
    out = tmp_path_factory.mktemp("meta") / "metadata"
    report = metadata_unit(i2d, plan, plan.units[0].name, out, models, kind_model="l14", prompts=PROMPTS,
                           device="cpu", workers=0, batch_size=4)
    return out, report


def _rows(i2d):
    return [r for p in sorted(i2d.glob("*.parquet")) for r in pq.read_table(p).to_pylist() if r["status"] == "success"]


def test_datacomp_columns_and_arrays_beside_every_shard(i2d, meta):
    out, report = meta
    shards = sorted(p.stem for p in i2d.glob("*.tar"))
    assert sorted(p.stem for p in out.glob("*.parquet")) == shards == sorted(p.stem for p in out.glob("*.npz"))
    got = []
    for stem in shards:
        table = pq.read_table(out / f"{stem}.parquet")
        assert table.column_names == DATACOMP + OURS
        assert str(table.schema.field("clip_b32_similarity_score").type) == "float"
        with np.load(out / f"{stem}.npz") as z:
            assert sorted(z.files) == ["b32_img", "b32_txt", "l14_img", "l14_txt"]
            arrays = {k: z[k] for k in z.files}
        for k, a in arrays.items():
            assert a.dtype == np.float16 and a.shape == (table.num_rows, 32), k
            assert np.allclose(np.linalg.norm(a.astype(np.float32), axis=1), 1, atol=F16)
        for m in ("b32", "l14"):
            dots = np.einsum("ij,ij->i", arrays[f"{m}_img"].astype(np.float32), arrays[f"{m}_txt"].astype(np.float32))
            assert np.allclose(table.column(f"clip_{m}_similarity_score").to_numpy(), dots, atol=2 * F16)
        got += table.to_pylist()
    want = _rows(i2d)
    assert [(r["uid"], r["url"], r["text"], r["original_width"], r["original_height"], r["sha256"], r["source"], r["key"])
            for r in got] == [(r["uid"], r["url"], r["caption"], r["original_width"], r["original_height"],
                               r["sha256"], r["source"], r["key"]) for r in want]
    assert report["samples"] == len(want) and sum(report["kinds"].values()) == len(want)
    assert set(r["kind"] for r in got) <= set(KINDS) and all(0 < r["kind_score"] <= 1 for r in got)


def test_values_equal_a_direct_openclip_computation(i2d, meta, models):
    """Image and text features straight from open_clip (its own preprocess and tokenizer) match the npz."""
    import open_clip
    import torch
    from PIL import Image

    out, _ = meta
    model, _, preprocess = open_clip.create_model_and_transforms(models[1].model)
    tokenizer = open_clip.get_tokenizer(models[1].model)
    model.eval()
    shard = sorted(i2d.glob("*.tar"))[0]
    with tarfile.open(shard) as tar:
        images = {m.name.split(".")[0]: tar.extractfile(m).read() for m in tar if m.name.endswith(".jpg")}
    table = pq.read_table(out / f"{shard.stem}.parquet").to_pylist()
    with np.load(out / f"{shard.stem}.npz") as z:
        img16, txt16 = z["l14_img"].astype(np.float32), z["l14_txt"].astype(np.float32)
    with torch.no_grad():
        x = torch.stack([preprocess(Image.open(io.BytesIO(images[r["key"]])).convert("RGB")) for r in table])
        img = torch.nn.functional.normalize(model.encode_image(x), dim=-1).numpy()
        txt = torch.nn.functional.normalize(model.encode_text(tokenizer([r["text"] for r in table])), dim=-1).numpy()
    # float16 storage bounds the difference; different CPU kernels add ~1e-6, far below it
    assert np.allclose(img16, img, atol=F16) and np.allclose(txt16, txt, atol=F16)
    assert np.allclose([r["clip_l14_similarity_score"] for r in table], np.einsum("ij,ij->i", img, txt), atol=1e-4)


def test_kinds_are_the_nearest_prompt_set():
    """Zero-shot classification: a kind's embedding is the normalised mean of its prompts'; the nearest wins."""
    rng = np.random.default_rng(0)
    vocab = {t: rng.normal(size=16).astype(np.float32) for ts in PROMPTS.values() for t in ts}

    def encode(texts):
        e = np.stack([vocab[t] for t in texts])
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    kinds = kind_embeddings(encode, PROMPTS)
    assert kinds.shape == (len(PROMPTS), 16) and np.allclose(np.linalg.norm(kinds, axis=1), 1, atol=1e-6)
    names, scores = classify(kinds[[3, 0, 7]], kinds, list(PROMPTS))
    assert names == [KINDS[3], KINDS[0], KINDS[7]] and all(0 < s <= 1 for s in scores)
    probs = np.exp(100 * (kinds[3] @ kinds.T - 1))
    assert scores[0] == pytest.approx(1 / probs.sum(), rel=1e-4)


def test_workers_split_shards_and_give_the_same_metadata(i2d, meta, models, tmp_path):
    out, _ = meta
    plan = folder_plan(i2d, shards_per_unit=1 << 30)
    metadata_unit(i2d, plan, plan.units[0].name, tmp_path / "m", models, kind_model="l14", prompts=PROMPTS,
                  device="cpu", workers=2, batch_size=3)
    for p in sorted(out.glob("*.parquet")):
        a, b = pq.read_table(p), pq.read_table(tmp_path / "m" / p.name)
        assert a.select(DATACOMP[:6] + OURS[:4]).equals(b.select(DATACOMP[:6] + OURS[:4]))
        for c in ("clip_b32_similarity_score", "clip_l14_similarity_score"):
            assert np.allclose(a.column(c).to_numpy(), b.column(c).to_numpy(), atol=1e-4)


def test_an_undecodable_image_has_no_row_and_is_counted(i2d, models, tmp_path):
    """One broken jpg in a shard: that sample has no metadata row, the report counts it, the rest land."""
    import shutil
    bad = tmp_path / "i2d"
    shutil.copytree(i2d, bad)
    shard = sorted(bad.glob("*.tar"))[0]
    with tarfile.open(shard) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar]
    broken = next(m.name for m, _ in members if m.name.endswith(".jpg"))
    with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as tar:
        for m, data in members:
            data = b"not a jpeg" if m.name == broken else data
            m.size = len(data)
            tar.addfile(m, io.BytesIO(data))
    plan = folder_plan(bad, shards_per_unit=1 << 30)
    rep = metadata_unit(bad, plan, plan.units[0].name, tmp_path / "m", models[:1], device="cpu", workers=0)
    assert rep["skipped"] == {"image_decode_error": 1} and rep["samples"] == len(_rows(i2d)) - 1
    table = pq.read_table(tmp_path / "m" / f"{shard.stem}.parquet")
    assert broken.split(".")[0] not in table.column("key").to_pylist()
    assert "kind" not in table.column_names and "clip_l14_similarity_score" not in table.column_names
    with np.load(tmp_path / "m" / f"{shard.stem}.npz") as z:
        assert sorted(z.files) == ["b32_img", "b32_txt"] and len(z["b32_img"]) == table.num_rows


def test_openclip_names_go_to_openclip_and_failures_are_one_line(monkeypatch, models):
    """A built-in name and pretrained tag reach OpenCLIP's loader as given (what users' runs download with);
    a model that cannot be loaded is one error naming it."""
    import open_clip

    seen = {}
    real = open_clip.create_model_and_transforms

    def fake(name, pretrained=None, **kw):
        seen["args"] = (name, pretrained, kw.get("device"), kw.get("precision"))
        return real(models[0].model, **kw)

    monkeypatch.setattr(open_clip, "create_model_and_transforms", fake)
    monkeypatch.setattr(open_clip, "get_tokenizer", lambda name: open_clip.tokenizer.SimpleTokenizer(context_length=32))
    model = ClipModel(ModelSpec("b32", "ViT-B-32", "openai"), device="cpu")
    assert seen["args"] == ("ViT-B-32", "openai", "cpu", "fp32") and model.dim == 32
    monkeypatch.undo()
    with pytest.raises(SciclipError, match=r"CLIP model l14 \(local-dir:/nonexistent"):
        ClipModel(ModelSpec("l14", "local-dir:/nonexistent/folder"), device="cpu")


def test_the_tiny_model_is_the_same_on_every_run(tmp_path):
    write_tiny_model(tmp_path / "a", seed=7)
    write_tiny_model(tmp_path / "b", seed=7)
    write_tiny_model(tmp_path / "c", seed=8)
    a, b, c = ((tmp_path / x / "open_clip_model.safetensors").read_bytes() for x in "abc")
    assert a == b != c


def test_metadata_command_per_tail_unit(i2d, models, tmp_path):
    plan = folder_plan(i2d, shards_per_unit=2)
    write_plan(plan, tmp_path / "plan.json")
    unit = plan.units[1]
    code, _, err = call_cli("metadata", str(i2d), "--plan", str(tmp_path / "plan.json"), "--unit", unit.name,
                            "--clip-model", "b32", models[0].model, "none", "--kind-model", "b32", "--device", "cpu",
                            "--workers", "0", "--out", str(tmp_path / "m"), "--report", str(tmp_path / "r.json"))
    assert code == 0, err
    assert sorted(p.stem for p in (tmp_path / "m").glob("*.parquet")) == [
        f"{i:0{plan.oom_shards}d}" for i in range(unit.first_shard, unit.first_shard + unit.shards)]
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["unit"] == unit.name and rep["samples"] == unit.samples and rep["models"]["b32"]["pretrained"] is None
    code, _, err = call_cli("metadata", str(i2d), "--out", str(tmp_path / "x"), "--kind-model", "b32")
    assert code == 1 and "no CLIP model configured" in err
