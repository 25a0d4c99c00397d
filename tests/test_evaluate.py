"""``sciclip evaluate`` against independent computations on a tiny CLIP: zero-shot accuracy (argmax over class
embeddings), retrieval recall (brute force), the results file's shape, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sciclip.evaluate.layout import count_samples
from tests.conftest import call_cli
from tests.eval_fixtures import (
    Reference,
    ambiguous,
    brute_recall,
    image,
    tiny_checkpoint,
    write_classification,
    write_retrieval,
)

CLASSES = ["red square", "blue circle", "green line", "dotted plot", "bar chart", "scatter plot"]
TEMPLATES = ["a photo of a {c}.", "a figure showing a {c}."]
LABELS = [i % len(CLASSES) for i in range(23)]  # 23 samples over 4 shards of 7
CAPTIONS = [[f"picture {i}", f"an image numbered {i}"] if i % 3 else [f"lonely caption {i}"] for i in range(12)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from sciclip.curate.clip_models import write_tiny_model

    root = tmp_path_factory.mktemp("eval")
    write_tiny_model(root / "model", seed=5)
    ckpt = tiny_checkpoint(root / "epoch_latest.pt", seed=11)
    data = root / "data"
    write_classification(data, "toy/classes", LABELS, CLASSES, TEMPLATES, seed=1)
    write_retrieval(data, "toy/captions", CAPTIONS, seed=2)
    write_retrieval(data, "toy/few", [["one"], ["two"], ["three"]], seed=3)
    out = root / "eval_results.jsonl"
    rc, _, err = call_cli("evaluate", "--model", f"local-dir:{root / 'model'}", "--checkpoint", str(ckpt),
                          "--data-root", str(data), "--tasks", "toy/classes", "toy/captions", "toy/few",
                          "--out", str(out), "--batch-size", "5", "--workers", "0", "--device", "cpu")
    assert rc == 0, err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    return root, ckpt, {line["key"]: line for line in lines}, [line["key"] for line in lines]


def test_results_file_is_datacomps_shape(setup):
    _, _, by_key, order = setup
    assert order == ["toy/classes", "toy/captions", "toy/few"]
    for key, line in by_key.items():
        assert set(line) == {"key", "dataset", "metrics"} and line["dataset"] == key  # outside DataComp's list
        assert "main_metric" in line["metrics"]
    assert by_key["toy/classes"]["metrics"]["main_metric"] == by_key["toy/classes"]["metrics"]["acc1"]
    assert by_key["toy/captions"]["metrics"]["main_metric"] == by_key["toy/captions"]["metrics"]["mean_recall@1"]


def test_accuracy_equals_argmax_over_class_embeddings(setup):
    root, ckpt, by_key, _ = setup
    ref = Reference(root / "model", ckpt)
    logits = ref.logits([image(1000 + i) for i in range(len(LABELS))], CLASSES, TEMPLATES)
    labels = np.array(LABELS)
    n = len(labels)
    m = by_key["toy/classes"]["metrics"]
    top1 = logits.argmax(axis=1)
    top5 = np.argsort(-logits, axis=1)[:, :5]
    assert abs(m["acc1"] - (top1 == labels).mean()) <= ambiguous(logits, 1) / n + 1e-9
    assert abs(m["acc5"] - np.mean([labels[i] in top5[i] for i in range(n)])) <= ambiguous(logits, 5) / n + 1e-9
    recalls = [np.mean(top1[labels == c] == c) for c in range(len(CLASSES))]  # balanced accuracy, by hand
    assert abs(m["mean_per_class_recall"] - np.mean(recalls)) <= 2 * ambiguous(logits, 1) / n + 1e-9
    assert 0 <= m["acc1"] <= m["acc5"] <= 1


def test_recall_equals_brute_force(setup):
    root, ckpt, by_key, _ = setup
    ref = Reference(root / "model", ckpt)
    imgs = ref.images([image(2000 + i) for i in range(len(CAPTIONS))])
    texts, owner = [], []
    for i, caps in enumerate(CAPTIONS):
        texts += caps
        owner += [i] * len(caps)
    txt = ref.texts(texts)
    sim = txt @ imgs.T  # texts x images
    m = by_key["toy/captions"]["metrics"]
    for k in (1, 5, 10):
        # text -> image: the caption's own image among the k nearest images
        assert m[f"image_retrieval_recall@{k}"] == pytest.approx(brute_recall(sim, [{o} for o in owner], k), abs=1e-6)
        # image -> text: any of the image's captions among its k nearest captions
        own = [{j for j, o in enumerate(owner) if o == i} for i in range(len(CAPTIONS))]
        assert m[f"text_retrieval_recall@{k}"] == pytest.approx(brute_recall(sim.T, own, k), abs=1e-6)
    assert m["mean_recall@1"] == pytest.approx((m["image_retrieval_recall@1"] + m["text_retrieval_recall@1"]) / 2)


def test_a_set_smaller_than_k_has_no_recall_at_k(setup):
    _, _, by_key, _ = setup
    m = by_key["toy/few"]["metrics"]
    assert "image_retrieval_recall@1" in m and "text_retrieval_recall@1" in m
    assert not any(k.endswith(("@5", "@10")) for k in m)  # 3 images: recall@5 would be invented


def test_the_checkpoint_is_what_is_scored(setup, tmp_path):
    """The same folder model without the checkpoint scores differently (its own weights): the checkpoint is
    loaded into a local-dir model, which OpenCLIP alone would ignore."""
    root, _, by_key, _ = setup
    out = tmp_path / "r.jsonl"
    rc, _, err = call_cli("evaluate", "--model", f"local-dir:{root / 'model'}", "--data-root", str(root / "data"),
                          "--tasks", "toy/captions", "--out", str(out), "--workers", "0", "--device", "cpu")
    assert rc == 0, err
    own = json.loads(out.read_text())["metrics"]
    ref = Reference(root / "model", None)
    sim = ref.texts([c for caps in CAPTIONS for c in caps]) @ ref.images(
        [image(2000 + i) for i in range(len(CAPTIONS))]).T
    owner = [i for i, caps in enumerate(CAPTIONS) for _ in caps]
    assert own["image_retrieval_recall@5"] == pytest.approx(brute_recall(sim, [{o} for o in owner], 5), abs=1e-6)
    assert own != by_key["toy/captions"]["metrics"]


def test_sample_sets_are_valid_clip_benchmark_sets(tmp_path):
    """The demo's two sets, read by clip_benchmark itself."""
    from clip_benchmark.datasets.builder import build_dataset

    from sciclip.sample.evalsets import (
        CAPTION_TASK,
        CAPTIONED,
        CHART_TASK,
        CLASSES,
        PER_CLASS,
        write_evalsets,
    )

    files = write_evalsets(tmp_path)
    assert files == sorted(files) and all(p.is_file() for p in files)
    root = tmp_path / "evalsets"
    charts = build_dataset(f"wds/{CHART_TASK}", root=str(root / "wds_sample-chart-types_test"), split="test",
                           download=False)
    assert charts.classes == CLASSES and len(charts.templates) >= 2
    assert sorted(label for _, label in charts) == sorted(list(range(len(CLASSES))) * PER_CLASS)
    caps = build_dataset(f"wds/{CAPTION_TASK}", root=str(root / "wds_sample-figure-captions_test"), split="test",
                         download=False, task="zeroshot_retrieval")
    rows = list(caps)
    assert len(rows) == CAPTIONED == count_samples(root / "wds_sample-figure-captions_test")
    assert all(len(texts) == 2 for _, texts in rows)
    again = write_evalsets(tmp_path / "again")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in files]  # deterministic


def test_missing_task_is_one_error_before_any_work(setup, tmp_path):
    root, ckpt, _, _ = setup
    out = tmp_path / "r.jsonl"
    rc, _, err = call_cli("evaluate", "--model", f"local-dir:{root / 'model'}", "--checkpoint", str(ckpt),
                          "--data-root", str(root / "data"), "--tasks", "toy/classes", "vtab/cifar100",
                          "--out", str(out), "--device", "cpu")
    assert rc == 1 and "vtab/cifar100" in err and "wds_vtab-cifar100_test" in err and not out.exists()
    rc, _, err = call_cli("evaluate", "--model", f"local-dir:{root / 'model'}", "--checkpoint", str(tmp_path / "no.pt"),
                          "--data-root", str(root / "data"), "--tasks", "toy/classes", "--out", str(out))
    assert rc == 1 and "no.pt" in err and not out.exists()


def test_an_unreadable_set_fails_by_name_and_the_others_land(setup, tmp_path):
    import shutil

    root, ckpt, by_key, _ = setup
    data = tmp_path / "data"
    shutil.copytree(root / "data", data)
    shard = data / "wds_toy-classes_test" / "test" / "1.tar"
    shard.write_bytes(shard.read_bytes()[:700])  # cut inside a member
    out = tmp_path / "r.jsonl"
    rc, _, err = call_cli("evaluate", "--model", f"local-dir:{root / 'model'}", "--checkpoint", str(ckpt),
                          "--data-root", str(data), "--tasks", "toy/classes", "toy/captions", "--out", str(out),
                          "--workers", "0", "--device", "cpu")
    assert rc == 1 and "toy/classes" in err and "could not be scored" in err
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["key"] for line in lines] == ["toy/captions"]
    assert lines[0]["metrics"] == pytest.approx(by_key["toy/captions"]["metrics"], abs=1e-6)


def test_an_empty_science_split_is_skipped_and_the_others_land(setup, tmp_path, caplog):
    """A source that gave no sample has a split of none (nshards.txt 0): evaluate skips it by name."""
    import shutil

    root, ckpt, by_key, _ = setup
    data = tmp_path / "data"
    shutil.copytree(root / "data", data)
    (data / "wds_sciclip-arxiv_test" / "test").mkdir(parents=True)
    (data / "wds_sciclip-arxiv_test" / "test" / "nshards.txt").write_text("0\n")
    (data / "wds_sciclip-arxiv_test" / "dataset_type.txt").write_text("retrieval\n")
    out = tmp_path / "r.jsonl"
    rc, _, err = call_cli("evaluate", "--model", f"local-dir:{root / 'model'}", "--checkpoint", str(ckpt),
                          "--data-root", str(data), "--tasks", "sciclip/arxiv", "toy/few", "--out", str(out),
                          "--workers", "0", "--device", "cpu")
    assert rc == 0, err
    assert any("sciclip/arxiv" in r.getMessage() and "holds no sample" in r.getMessage() for r in caplog.records)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["key"] for line in lines] == ["toy/few"]


def test_a_multilabel_set_outside_datacomps_list_is_scored_by_average_precision(setup, tmp_path):
    import io

    from sklearn.metrics import average_precision_score

    from sciclip.evaluate.layout import SetWriter

    root, ckpt, _, _ = setup
    rng = np.random.default_rng(8)
    labels = (rng.random((14, 4)) < 0.4).astype(np.int64)
    labels[:4] = np.eye(4, dtype=np.int64)  # every class has a positive
    w = SetWriter(tmp_path / "wds_toy-multi_test", "multilabel", classnames=CLASSES[:4], templates=TEMPLATES,
                  shard_size=5)
    for i, row in enumerate(labels):
        buf = io.BytesIO()
        np.save(buf, row)
        w.add(f"m{i:03d}", {"png": image(7000 + i), "npy": buf.getvalue()})
    w.close()
    out = tmp_path / "r.jsonl"
    rc, _, err = call_cli("evaluate", "--model", f"local-dir:{root / 'model'}", "--checkpoint", str(ckpt),
                          "--data-root", str(tmp_path), "--tasks", "toy/multi", "--out", str(out), "--workers", "0",
                          "--device", "cpu")
    assert rc == 0, err
    m = json.loads(out.read_text())["metrics"]
    logits = Reference(root / "model", ckpt).logits([image(7000 + i) for i in range(14)], CLASSES[:4], TEMPLATES)
    want = np.mean([average_precision_score(labels[:, c], logits[:, c]) for c in range(4)])
    assert m["main_metric"] == m["mean_average_precision"] == pytest.approx(want, abs=1e-4)
