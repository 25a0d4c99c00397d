"""DataComp's filters over metadata, against independent computations of apply_filter.py's definitions; filter
sets with a base subset; the config checks of curate.filters."""

from __future__ import annotations

import json
import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sciclip.curate.filters import (
    Basic,
    English,
    ImageBased,
    Kinds,
    NearDup,
    Resources,
    TextBased,
    build_filters,
    fraction_threshold,
    load_array,
)
from sciclip.curate.metadata import save_npz
from sciclip.curate.select import select
from sciclip.curate.variants import check_filter_sets
from sciclip.errors import SciclipError
from sciclip.shards.subset_file import U16, save_subset, uid_pairs
from tests.conftest import DE, EN, call_cli


def _uid(rng) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(32))


def write_pool(folder, rng: random.Random, files: int = 4, rows: int = 60, dim: int = 8, ties: bool = True):
    """Metadata parquets (+ npz) with DataComp's columns: scores with ties, texts, sizes, kinds."""
    folder.mkdir(parents=True, exist_ok=True)
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "runs", "graph", "of", "results"]
    nrng = np.random.default_rng(rng.randrange(1 << 30))
    for f in range(files):
        n = rows + f
        scores = nrng.normal(0.25, 0.05, n).astype(np.float32)
        if ties:
            scores[::7] = np.float32(0.25)
        texts = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 6))) for _ in range(n)]
        emb = nrng.normal(size=(n, dim)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        pq.write_table(pa.table({
            "uid": [_uid(rng) for _ in range(n)], "url": [""] * n, "text": texts,
            "original_width": [rng.choice([50, 150, 200, 640, 2000]) for _ in range(n)],
            "original_height": [rng.choice([50, 200, 480, 700]) for _ in range(n)], "sha256": [""] * n,
            "clip_b32_similarity_score": pa.array(scores, pa.float32()),
            "clip_l14_similarity_score": pa.array(scores[::-1].copy(), pa.float32()),
            "kind": [rng.choice(["chart", "photograph", "diagram"]) for _ in range(n)],
        }), folder / f"{f:05d}.parquet")
        save_npz(folder / f"{f:05d}.npz", {"l14_img": emb.astype(np.float16), "b32_img": emb.astype(np.float16)})
    return sorted(folder.glob("*.parquet"))


def _all(folder, column):
    import pandas as pd
    return pd.concat([pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))])


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.3, 0.5, 0.77, 0.99])
def test_clip_score_fraction_is_datacomps_threshold(tmp_path, fraction):
    """apply_filter.py: ``threshold = -np.sort(-scores)[int(n * fraction)]``, keep ``score >= threshold``."""
    write_pool(tmp_path / "m", random.Random(int(fraction * 100)))
    df = _all(tmp_path / "m", "clip_l14_similarity_score")
    values = df["clip_l14_similarity_score"].values
    threshold = -np.sort(-values)[int(len(df) * fraction)]
    files = sorted((tmp_path / "m").glob("*.parquet"))
    assert fraction_threshold(files, "clip_l14_similarity_score", fraction) == threshold
    rep = select([tmp_path / "m"], build_filters({"clip_score": {"model": "l14", "fraction": fraction}}, Resources()),
                 tmp_path / "s.npy")
    want = np.sort(uid_pairs(list(df[df["clip_l14_similarity_score"] >= threshold]["uid"].values)))
    got = np.load(tmp_path / "s.npy")
    assert got.dtype == U16 and np.array_equal(got, want) and rep["selected"] == len(want) == rep["kept"]


def test_fraction_threshold_over_negative_and_float64_scores(tmp_path):
    for dtype in (np.float32, np.float64):
        v = np.random.default_rng(3).normal(0, 1, 5000).astype(dtype)
        pq.write_table(pa.table({"s": v[:2000]}), tmp_path / "a.parquet")
        pq.write_table(pa.table({"s": v[2000:]}), tmp_path / "b.parquet")
        for f in (0.0, 0.2, 0.5, 0.9, 0.9999):
            assert fraction_threshold([tmp_path / "a.parquet", tmp_path / "b.parquet"], "s", f) == -np.sort(-v)[int(5000 * f)]


def test_clip_score_threshold_and_basic_filter(tmp_path):
    write_pool(tmp_path / "m", random.Random(5))
    df = _all(tmp_path / "m", None)
    select([tmp_path / "m"], build_filters({"clip_score": {"model": "b32", "threshold": 0.25}, "basic": True},
                                           Resources()), tmp_path / "s.npy", report=tmp_path / "r.json")
    w, h = df["original_width"], df["original_height"]
    words = df["text"].apply(lambda t: len(t.split()))
    chars = df["text"].apply(len)
    basic = (words > 2) & (chars > 5) & (np.minimum(w, h) >= 200) & (np.maximum(w, h) / np.minimum(w, h) <= 3.0)
    keep = basic & (df["clip_b32_similarity_score"] >= np.float32(0.25))
    assert np.array_equal(np.load(tmp_path / "s.npy"), np.sort(uid_pairs(list(df[keep]["uid"]))))
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["filters"]["basic"]["kept"] == int(basic.sum()) and rep["filters"]["basic"]["english"] is False
    assert rep["filters"]["clip_score"]["kept"] == int((df["clip_b32_similarity_score"] >= np.float32(0.25)).sum())
    assert rep["pool"] == len(df) and rep["selected"] == int(keep.sum())


def _table(texts, **cols):
    return pa.table({"text": texts, **cols})


def test_english_is_fasttexts_top_label(lid):
    import fasttext

    model = fasttext.load_model(str(lid))
    texts = [EN[0], DE[0], EN[1] + "\n" + EN[2], "x"]
    want = [model.predict(t.replace("\n", " "))[0][0] == "__label__en" for t in texts]
    assert list(English(str(lid)).mask(texts)) == want and want[:2] == [True, False]
    basic = Basic(English(str(lid)))
    m = basic.mask(_table(texts, original_width=[300] * 4, original_height=[300] * 4), {})
    assert list(m) == [w and len(t.split()) > 2 and len(t) > 5 for w, t in zip(want, texts)]


def test_text_based_names_an_imagenet21k_synset(tmp_path):
    """A caption word whose first synset (NLTK's order: nouns first, morphy's base forms) is in the list."""
    from tests.wordnet_fixture import write_wordnet

    off = write_wordnet(tmp_path / "wn", {
        "n": [("dog", ["dog", "domestic_dog"], "a dog"), ("cat", ["cat"], "a cat"), ("run_n", ["run"], "a run")],
        "v": [("run_v", ["run", "running"], "to run")]})
    (tmp_path / "in21k.txt").write_text(f"n{off[('n', 'dog')]:08d}\nn{off[('n', 'run_n')]:08d}\n")
    f = TextBased(English(None), str(tmp_path / "wn"), str(tmp_path / "in21k.txt"))
    texts = ["Two Dogs playing", "a cat", "we run fast", "running late", "nothing here", ""]
    # dogs -> dog (noun, listed); cat not listed; run -> noun run (listed); running -> verb whose offset is not
    # the listed noun's (the data files' offsets differ per part of speech)
    want = [True, False, True, off[("v", "run_v")] in (off[("n", "dog")], off[("n", "run_n")]), False, False]
    assert list(f.mask(_table(texts), {})) == want
    with pytest.raises(SciclipError, match="not a WordNet 3.0 dict folder"):
        TextBased(English(None), str(tmp_path), str(tmp_path / "in21k.txt"))


def test_image_based_keeps_samples_nearest_a_target_centroid(tmp_path):
    rng = np.random.default_rng(2)
    centroids = rng.normal(size=(10, 8)).astype(np.float32)
    targets = centroids[[1, 4]] + 0.01 * rng.normal(size=(2, 8)).astype(np.float32)
    np.save(tmp_path / "c.npy", centroids)
    import torch
    torch.save({"image_features": torch.from_numpy(targets)}, tmp_path / "t.pt")
    f = ImageBased(English(None), str(tmp_path / "c.npy"), str(tmp_path / "t.pt"))
    emb = rng.normal(size=(200, 8)).astype(np.float16)
    texts = ["a photo of a dog"] * 199 + ["a"]
    nearest = np.argmax(emb.astype(np.float32) @ centroids.T, axis=1)
    target_ids = np.unique(np.argmax(targets @ centroids.T, axis=1))
    want = np.isin(nearest, target_ids) & np.array([len(t) > 5 for t in texts])
    assert np.array_equal(f.mask(_table(texts), {"l14_img": emb}), want) and 0 < want.sum() < 200


def test_load_array_reads_npy_torch_tensors_dicts_and_pickled_numpy(tmp_path):
    import torch
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "a.npy", a)
    torch.save(torch.from_numpy(a), tmp_path / "t.pt")
    torch.save({"image_features": torch.from_numpy(a)}, tmp_path / "d.pt")
    torch.save(a, tmp_path / "n.pt")  # DataComp's centroids are numpy arrays saved with torch
    for name in ("a.npy", "t.pt", "d.pt", "n.pt"):
        assert np.array_equal(load_array(tmp_path / name, "centroids"), a), name
    (tmp_path / "bad.pt").write_bytes(b"nope")
    with pytest.raises(SciclipError, match="bad.pt: not a centroids file"):
        load_array(tmp_path / "bad.pt", "centroids")


def test_kinds_and_near_dup(tmp_path):
    uids = ["%032x" % i for i in range(6)]
    t = pa.table({"uid": uids, "kind": ["chart", "photograph", "chart", "diagram", "photograph", "map"]})
    assert list(Kinds(drop=["chart", "diagram"]).mask(t, {})) == [False, True, False, False, True, True]
    assert list(Kinds(keep=["photograph"]).mask(t, {})) == [False, True, False, False, True, False]
    save_subset(tmp_path / "nd.npy", np.sort(uid_pairs([uids[1], uids[5]])))
    assert list(NearDup(str(tmp_path / "nd.npy")).mask(t, {})) == [True, False, True, True, True, False]


def test_a_variant_is_the_base_subset_intersected_with_the_selection(tmp_path):
    """Base multiplicity kept (a mixed output may list a uid twice), uids outside the base dropped, partitions
    written in order."""
    write_pool(tmp_path / "m", random.Random(9), files=3, rows=300)
    df = _all(tmp_path / "m", None)
    rng = np.random.default_rng(0)
    base_uids = list(rng.choice(df["uid"].values, 500, replace=False)) + list(df["uid"].values[:10])
    save_subset(tmp_path / "base.npy", np.sort(uid_pairs(base_uids)))
    spec = {"kinds": {"keep": ["chart", "photograph"]}}
    rep = select([tmp_path / "m"], build_filters(spec, Resources()), tmp_path / "v.npy", base=tmp_path / "base.npy",
                 partitions=16)
    chosen = set(df[df["kind"].isin(["chart", "photograph"])]["uid"])
    want = np.sort(uid_pairs([u for u in base_uids if u in chosen]))
    assert np.array_equal(np.load(tmp_path / "v.npy"), want) and rep["kept"] == len(want) and rep["base"] == 510


def test_select_command_and_its_errors(tmp_path):
    write_pool(tmp_path / "m", random.Random(1))
    code, _, err = call_cli("select", "--metadata", str(tmp_path / "m"), "--filters",
                            '{"clip_score": {"model": "b32", "fraction": 0.3}}', "--out", str(tmp_path / "s.npy"))
    assert code == 0 and "clip_score" in err and (tmp_path / "s.npy").is_file()
    for filters, message in [('{"clip_score": {"fraction": 0.3, "threshold": 0.2}}', "exactly one of"),
                             ('{"colour": true}', "unknown filter"), ("[1]", "expected a JSON object"),
                             ('{"text_based": true}', "text_based needs curate.wordnet"),
                             ('{"clip_score": {"model": "h14", "fraction": 0.3}}', "no column clip_h14"),
                             ('{"near_dup": true}', "near_dup needs")]:
        code, _, err = call_cli("select", "--metadata", str(tmp_path / "m"), "--filters", filters,
                                "--out", str(tmp_path / "x.npy"))
        assert code == 1 and message in err and err.count("\n") == 1, (filters, err)


@pytest.mark.parametrize("spec, message", [
    ({"name": "mixed", "output": "mixed", "basic": True}, "the name is taken"),
    ({"name": "v", "output": "nope", "basic": True}, "unknown output 'nope'"),
    ({"name": "v", "output": "mixed"}, "no filter"),
    ({"name": "v", "output": "mixed", "clip_score": {"model": "h14", "fraction": 0.2}}, "not in metadata.models"),
    ({"name": "v", "output": "mixed", "clip_score": {"model": "b32"}}, "exactly one of"),
    ({"name": "v", "output": "mixed", "image_based": True}, "but 'l14' is not in metadata.models"),
    ({"name": "v", "output": "mixed", "image_based": {"model": "b32"}}, "needs curate.centroids"),
    ({"name": "v", "output": "mixed", "text_based": True}, "needs curate.wordnet"),
    ({"name": "v", "output": "mixed", "kinds": {"keep": ["chart"]}}, "needs metadata.kind_model"),
])
def test_filter_sets_that_cannot_run_are_one_line_config_errors(spec, message):
    metadata = {"models": {"b32": {"model": "x"}, "l14": None}, "kind_model": None}
    with pytest.raises(SciclipError, match=message):
        check_filter_sets({"filters": [spec]}, ["mixed", "arxiv"], metadata)
    ok = {"name": "v", "output": "mixed", "clip_score": {"model": "b32", "fraction": 0.3}, "near_dup": True}
    assert check_filter_sets({"filters": [ok]}, ["mixed"], metadata) == ["v"]
