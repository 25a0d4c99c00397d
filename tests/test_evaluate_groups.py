"""DataComp's WILDS and fairness scoring (worst-group, per-subgroup) and WinoGAViL, against independent
computations: pandas group-bys, loops, and hand-worked cases of wilds' group numbering and names."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from sciclip.errors import SciclipError
from sciclip.evaluate import groups
from sciclip.evaluate.layout import SetWriter
from sciclip.evaluate.tasks import folder_name
from tests.conftest import call_cli
from tests.eval_fixtures import Reference, ambiguous, image, tiny_checkpoint, write_classification


def test_group_numbering_and_names_follow_wilds():
    # wilds' CombinatorialGrouper: the first grouping field varies fastest; names list the last field first
    fields = ["age", "gender", "race", "race_binary"]
    meta = np.array([[0, 0, 0, 1], [3, 1, 0, 1], [2, 0, 2, 0], [1, 1, 2, 0]])
    g = groups.Grouper(fields, ["gender", "race"], meta)
    assert g.n_groups == 2 * 3
    assert g.metadata_to_group(meta).tolist() == [0, 1, 4, 5]  # gender + 2 * race
    assert [g.group_field_str(i) for i in range(6)] == [
        "race:0_gender:0", "race:0_gender:1", "race:1_gender:0", "race:1_gender:1", "race:2_gender:0",
        "race:2_gender:1"]
    assert groups.Grouper(fields, ["race_binary"], meta).group_field_str(1) == "race_binary:1"
    with pytest.raises(SciclipError, match="below 0"):
        groups.Grouper(fields, ["age"], np.array([[-1, 0, 0, 0]]))


def test_group_eval_equals_a_pandas_groupby():
    rng = np.random.default_rng(0)
    meta = np.stack([rng.integers(0, 5, 200), rng.integers(0, 3, 200)], axis=1)
    meta[meta[:, 0] == 2, 0] = 4  # value 2 never occurs: an empty group, as wilds numbers groups
    hits = rng.random(200) < 0.6
    r = groups.group_eval("acc", hits, groups.Grouper(["region", "year"], ["region"], meta), meta)
    df = pd.DataFrame({"region": meta[:, 0], "hit": hits.astype(float)})
    means = df.groupby("region")["hit"].mean()
    counts = df.groupby("region")["hit"].size()
    assert r["acc_avg"] == pytest.approx(hits.mean())
    for region in range(5):
        if region in means.index:
            assert r[f"acc_region:{region}"] == pytest.approx(means[region])
            assert r[f"count_region:{region}"] == counts[region]
        else:
            assert np.isnan(r[f"acc_region:{region}"]) and r[f"count_region:{region}"] == 0
    assert r["acc_wg"] == pytest.approx(means.min())  # the worst non-empty group


def test_fmow_worst_year_and_region():
    rng = np.random.default_rng(1)
    n = 120
    meta = np.stack([rng.integers(0, 6, n), rng.integers(0, 4, n), rng.integers(0, 3, n)], axis=1)
    y_true = meta[:, 2]
    y_pred = np.where(rng.random(n) < 0.7, y_true, (y_true + 1) % 3)
    r = groups.wilds_metrics("wilds/fmow", y_pred, y_true, meta)
    df = pd.DataFrame({"region": meta[:, 0], "year": meta[:, 1], "hit": (y_pred == y_true).astype(float)})
    assert r["acc_avg"] == pytest.approx(df.hit.mean())
    assert r["acc_worst_year"] == pytest.approx(df.groupby("year").hit.mean().min())
    assert r["acc_worst_region"] == pytest.approx(df.groupby("region").hit.mean().min())
    assert "acc_wg" not in r and r["count_region:5"] == (meta[:, 0] == 5).sum()


def test_iwildcam_macro_scores_over_the_labels_present():
    y_true = np.array([0, 0, 1, 1, 1, 3, 3, 5])
    y_pred = np.array([0, 1, 1, 1, 2, 3, 0, 5])
    r = groups.wilds_metrics("wilds/iwildcam", y_pred, y_true, np.zeros((8, 9), int))
    f1s, recalls = [], []
    for c in (0, 1, 3, 5):  # the labels present; prediction 2 is nobody's class
        tp = np.sum((y_pred == c) & (y_true == c))
        p = tp / max(1, np.sum(y_pred == c))
        rec = tp / np.sum(y_true == c)
        recalls.append(rec)
        f1s.append(0 if p + rec == 0 else 2 * p * rec / (p + rec))
    assert r["F1-macro_all"] == pytest.approx(np.mean(f1s))
    assert r["recall-macro_all"] == pytest.approx(np.mean(recalls))
    assert r["acc_avg"] == pytest.approx(np.mean(y_pred == y_true))


def test_dollar_street_top5_by_income():
    y_true = np.array([3, 1, 4, 0])
    top5 = np.array([[3, 0, 1, 2, 5], [0, 2, 3, 4, 5], [4, 0, 1, 2, 3], [1, 2, 3, 4, 5]])
    meta = np.array([[0, 7, 1], [0, 7, 1], [1, 2, 0], [1, 3, 0]])
    r = groups.dollar_street_metrics(top5, y_true, meta)
    assert r["acc_top5_avg"] == 0.5 and r["acc_top5_income_ds:0"] == 0.5 and r["acc_top5_income_ds:1"] == 0.5
    assert r["acc_top5_wg"] == 0.5 and r["count_income_ds:1"] == 2


def test_fairface_keys_are_what_datacomps_tables_read():
    rng = np.random.default_rng(2)
    n = 60
    meta = np.stack([rng.integers(0, 9, n), rng.integers(0, 2, n), rng.integers(0, 7, n)], axis=1)
    meta = np.concatenate([meta, (meta[:, 2:3] != 1).astype(int)], axis=1)  # race_binary: not white
    pred = np.stack([rng.integers(0, 7, n), rng.integers(0, 2, n), rng.integers(0, 9, n), rng.integers(0, 20, n)], 1)
    r = groups.fairface_metrics(pred, meta)
    for objective in ("race", "gender", "age"):  # fairness_tables.py, table 3+4
        for label in ("race_binary:0", "race_binary:1", "avg"):
            assert f"acc_{objective}_{label}" in r
    for race in range(7):  # table 5
        for gender in range(2):
            mask = (meta[:, 2] == race) & (meta[:, 1] == gender)
            want = np.mean(pred[mask, 1] == gender) if mask.any() else None
            got = r[f"acc_gender_x_race:{race}_gender:{gender}"]
            assert (np.isnan(got) if want is None else got == pytest.approx(want))
    crime = pd.DataFrame({"race": meta[:, 2], "c": (pred[:, 3] >= 18).astype(float)}).groupby("race").c.mean()
    assert r["toxicity_crime_wg"] == pytest.approx(crime.min())
    assert r["acc_race_avg"] == pytest.approx(np.mean((pred[:, 0] != 1).astype(int) == meta[:, 3]))


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from sciclip.curate.clip_models import write_tiny_model

    root = tmp_path_factory.mktemp("gmodel")
    write_tiny_model(root / "model", seed=2)
    return root / "model", tiny_checkpoint(root / "ckpt.pt", seed=9)


def _evaluate(model, data, tasks, out):
    rc, _, err = call_cli("evaluate", "--model", f"local-dir:{model[0]}", "--checkpoint", str(model[1]),
                          "--data-root", str(data), "--tasks", *tasks, "--out", str(out), "--workers", "0",
                          "--batch-size", "8", "--device", "cpu")
    assert rc == 0, err
    return {json.loads(line)["key"]: json.loads(line) for line in out.read_text().splitlines()}


def test_geode_and_dollar_street_end_to_end(model, tmp_path):
    """The metadata read from each sample's npy lines up with its prediction (same pass), across shards."""
    classes = ["tree", "house", "car", "dog", "cup", "lamp"]
    templates = ["a photo of a {c}."]
    rng = np.random.default_rng(3)
    labels = [int(x) for x in rng.integers(0, 6, 30)]
    geode_meta = np.stack([rng.integers(0, 3, 30), rng.integers(0, 9, 30)], axis=1)
    ds_meta = np.stack([rng.integers(0, 4, 30), rng.integers(0, 99, 30), rng.integers(0, 5, 30)], axis=1)
    data = tmp_path / "data"
    # DataComp's download puts fairness sets without the prefix: wds_geode_test
    write_classification(data, "geode", labels, classes, templates, npy=geode_meta, seed=4)
    write_classification(data, "fairness/dollar_street", labels, classes, templates, npy=ds_meta, seed=4)
    got = _evaluate(model, data, ["fairness/geode", "fairness/dollar_street"], tmp_path / "r.jsonl")
    ref = Reference(*model)
    logits = ref.logits([image(4000 + i) for i in range(30)], classes, templates)
    pred, y = logits.argmax(1), np.array(labels)
    tol = ambiguous(logits) + 1e-9  # exact unless two class scores are within float32 noise
    g = got["fairness/geode"]["metrics"]
    assert got["fairness/geode"]["dataset"] == "GeoDE" and g["main_metric"] == g["acc_wg"]
    worst = pd.DataFrame({"r": geode_meta[:, 0], "h": pred == y}).groupby("r").h.mean().min()
    assert abs(g["acc_wg"] - worst) <= tol and abs(g["acc1"] - np.mean(pred == y)) <= tol
    d = got["fairness/dollar_street"]["metrics"]
    top5 = np.argsort(-logits, axis=1)[:, :5]
    hit5 = np.array([y[i] in top5[i] for i in range(30)])
    worst5 = pd.DataFrame({"i": ds_meta[:, 0], "h": hit5}).groupby("i").h.mean().min()
    assert d["main_metric"] == d["acc_top5_wg"] and abs(d["acc_top5_wg"] - worst5) <= ambiguous(logits, 5) + 1e-9
    assert d["count_income_ds:0"] == (ds_meta[:, 0] == 0).sum()


def test_fairface_end_to_end(model, tmp_path):
    objectives = {"race": ["white person", "black person", "asian person"], "gender": ["man", "woman"],
                  "age": ["child", "adult", "old person"], "toxic": [f"thing {i}" for i in range(20)]}
    classnames = [f"{o}:{c}" for o, cs in objectives.items() for c in cs]
    templates = [f"{o}:a photo of a {{c}}." for o in objectives]
    rng = np.random.default_rng(5)
    n = 16
    meta = np.stack([rng.integers(0, 3, n), rng.integers(0, 2, n), rng.integers(0, 3, n)], axis=1)
    meta = np.concatenate([meta, (meta[:, 2:3] != 0).astype(int)], axis=1)
    folder = tmp_path / "data" / folder_name("fairface")
    w = SetWriter(folder, classnames=classnames, templates=templates, shard_size=6)
    for i in range(n):
        buf = io.BytesIO()
        np.save(buf, meta[i])
        w.add(f"f{i:03d}", {"png": image(5000 + i), "npy": buf.getvalue()})
    w.close()
    got = _evaluate(model, tmp_path / "data", ["fairness/fairface"], tmp_path / "r.jsonl")["fairness/fairface"]
    assert got["metrics"]["main_metric"] is None and "acc1" not in got["metrics"]  # reported, not averaged
    ref = Reference(*model)
    imgs = [image(5000 + i) for i in range(n)]
    pred = np.stack([ref.logits(imgs, cs, ["a photo of a {c}."]).argmax(1) for cs in objectives.values()], 1)
    want = groups.fairface_metrics(pred, meta)
    assert set(got["metrics"]) - {"main_metric"} == set(want)
    gender = got["metrics"]["acc_gender_avg"]
    assert abs(gender - np.mean(pred[:, 1] == meta[:, 1])) <= (ambiguous(ref.logits(imgs, objectives["gender"],
                                                                                      ["a photo of a {c}."])) + 1e-9) / n


def test_winogavil_jaccard_by_hand(model, tmp_path):
    instances = []
    for i in range(6):
        k = 5 if i % 2 else 10
        cands = [f"c{i}_{j}" for j in range(k)]
        instances.append((f"cue {i}", cands, cands[: 2 + i % 3]))
    folder = tmp_path / "data" / folder_name("misc/winogavil")
    w = SetWriter(folder, "winogavil", shard_size=4)
    for i, (cue, cands, assoc) in enumerate(instances):
        members = {"cue.txt": cue.encode(), "candidates.json": json.dumps(cands).encode(),
                   "associations.json": json.dumps(assoc).encode()}
        members.update({f"{j}.png": image(6000 + 100 * i + j) for j in range(len(cands))})
        w.add(f"{i:04d}", members)
    w.close()
    got = _evaluate(model, tmp_path / "data", ["misc/winogavil"], tmp_path / "r.jsonl")["misc/winogavil"]
    assert got["dataset"] == "WinoGAViL"
    got = got["metrics"]
    ref = Reference(*model)
    scores, sizes, unsure = [], [], 0
    for i, (cue, cands, assoc) in enumerate(instances):
        imgs = ref.images([image(6000 + 100 * i + j) for j in range(len(cands))])
        sims = (ref.texts([f"A {cue}"]) @ imgs.T)[0]  # DataComp's prompt: "A cue" ("An" before a vowel)
        order = np.sort(sims)[::-1]
        unsure += order[len(assoc) - 1] - order[len(assoc)] < 1e-4
        chosen = set(np.argsort(sims)[-len(assoc):])
        truth = set(range(len(assoc)))
        scores.append(len(chosen & truth) / len(chosen | truth))  # Jaccard of chosen and true candidates
        sizes.append(len(cands))
    scores, sizes = np.array(scores), np.array(sizes)
    tol = 1e-6 + unsure  # exact unless a choice sat on a float32 tie
    assert abs(got["avg_jaccard_score"] - scores.mean()) <= tol
    assert abs(got["jaccard_score_10-12"] - scores[sizes >= 10].mean()) <= tol
    assert abs(got["jaccard_score_5"] - scores[sizes == 5].mean()) <= tol
    assert got["main_metric"] == got["jaccard_score_10-12"]
    assert got["jaccard_score_6"] is None  # no instance with 6 candidates: DataComp's NaN, as null
