"""DataComp's task list, results file and aggregates: a hand-made 38-line file aggregated as DataComp's
``aggregate_scores.py`` groups it (its groups written out here by hand, not taken from sciclip), the DataComp-only
twin of a mixed file, and task lookup in data roots."""

from __future__ import annotations

import json
import math

import pytest

from sciclip.errors import SciclipError
from sciclip.evaluate import tasks as T
from sciclip.evaluate.results import (
    aggregates,
    datacomp_path,
    read_results,
    result_line,
    summary_path,
    write_results,
)

# aggregate_scores.py's DATASET_GROUPS, copied by hand
DIST_SHIFTS = ["ImageNet Sketch", "ImageNet v2", "ImageNet-A", "ImageNet-O", "ImageNet-R", "ObjectNet"]
VTAB = ["Caltech-101", "CIFAR-100", "CLEVR Counts", "CLEVR Distance", "Describable Textures", "EuroSAT",
        "KITTI Vehicle Distance", "Oxford Flowers-102", "Oxford-IIIT Pet", "PatchCamelyon", "RESISC45", "SVHN", "SUN397"]
RETRIEVAL = ["Flickr", "MSCOCO", "WinoGAViL"]
NOT_AVERAGED = ["FairFace", "UTKFace"]


def handmade_file(path, extra: list[dict] = ()):
    """40 DataComp lines (FairFace and UTKFace without a main metric) with distinct main metrics."""
    lines = []
    for i, t in enumerate(T.DATACOMP_TASKS):
        value = None if t.name in NOT_AVERAGED else round(0.011 * (i + 1) + 0.0003 * i * i, 6)
        lines.append({"key": t.key, "dataset": t.name, "metrics": {"acc1": value, "main_metric": value}})
    lines += list(extra)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return {line["dataset"]: line["metrics"]["main_metric"] for line in lines}


def test_task_list_is_datacomps():
    assert len(T.DATACOMP_TASKS) == 40 and len({t.key for t in T.DATACOMP_TASKS}) == 40
    assert sum(t.main_metric is not None for t in T.DATACOMP_TASKS) == 38 == T.AVERAGED
    assert {t.name for t in T.DATACOMP_TASKS if t.main_metric is None} == set(NOT_AVERAGED)
    assert T.BY_KEY["wilds/fmow"].main_metric == "acc_worst_region" and T.BY_KEY["misc/winogavil"].chance == 0.205
    assert T.BY_KEY["fairness/dollar_street"].kind == "dollar_street" and T.BY_KEY["vtab/pcam"].chance == 0.5
    assert T.task_info("sciclip/arxiv").kind == "classification"  # outside the list: its folder decides
    assert T.expand(["datacomp", "sciclip/arxiv", "cifar10"])[-1] == "sciclip/arxiv"


def test_aggregates_equal_datacomps_grouping_on_a_handmade_38_line_file(tmp_path):
    values = handmade_file(tmp_path / "r.jsonl")
    got = aggregates(read_results(tmp_path / "r.jsonl"))
    scored = {k: v for k, v in values.items() if v is not None}
    assert len(scored) == 38
    mean = lambda names: sum(scored[n] for n in names) / len(names)  # noqa: E731
    assert list(got) == ["ImageNet", "ImageNet dist. shifts", "VTAB", "Retrieval", "Average"]
    assert got["ImageNet"] == scored["ImageNet 1k"]
    assert got["ImageNet dist. shifts"] == pytest.approx(mean(DIST_SHIFTS))
    assert got["VTAB"] == pytest.approx(mean(VTAB))
    assert got["Retrieval"] == pytest.approx(mean(RETRIEVAL))
    assert got["Average"] == pytest.approx(sum(scored.values()) / 38)


def test_aggregates_need_all_38_and_ignore_other_tasks(tmp_path):
    extra = [{"key": "sciclip/arxiv", "dataset": "sciclip/arxiv", "metrics": {"main_metric": 0.9}}]
    handmade_file(tmp_path / "a.jsonl", extra)
    with_extra = aggregates(read_results(tmp_path / "a.jsonl"))
    handmade_file(tmp_path / "b.jsonl")
    assert with_extra == aggregates(read_results(tmp_path / "b.jsonl"))
    lines = read_results(tmp_path / "b.jsonl")
    assert aggregates([line for line in lines if line["dataset"] != "SVHN"]) is None
    nulled = [dict(line, metrics={"main_metric": None}) if line["dataset"] == "GTSRB" else line for line in lines]
    assert aggregates(nulled) is None


def test_a_mixed_file_gets_a_datacomp_only_twin_and_the_summary(tmp_path):
    handmade_file(tmp_path / "src.jsonl")
    lines = read_results(tmp_path / "src.jsonl") + [result_line("sciclip/pmc", "sciclip/pmc",
                                                                 {"mean_recall@1": 0.5}, "mean_recall@1")]
    out = tmp_path / "eval_results.jsonl"
    written = write_results(out, lines)
    assert written == [out, datacomp_path(out), summary_path(out)]
    assert len(read_results(out)) == 41 and len(read_results(datacomp_path(out))) == 40
    assert json.loads(summary_path(out).read_text()) == pytest.approx(aggregates(lines))
    write_results(out, lines[-1:])  # a rerun with only the science split: the stale twin and summary go
    assert not datacomp_path(out).exists() and not summary_path(out).exists()


def test_result_lines_are_strict_json():
    line = result_line("wilds/fmow", "FMoW", {"acc_worst_region": 0.25, "acc_region:5": math.nan, "acc5": None,
                                              "count": 3}, "acc_worst_region")
    assert line["metrics"] == {"acc_worst_region": 0.25, "acc_region:5": None, "acc5": None, "count": 3,
                               "main_metric": 0.25}
    json.loads(json.dumps(line), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert result_line("fairness/utkface", "UTKFace", {"acc_race_avg": 0.5}, None)["metrics"]["main_metric"] is None


def test_bad_results_files_name_the_line(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"key": "x", "dataset": "x", "metrics": {}}\nnot json\n')
    with pytest.raises(SciclipError, match="a.jsonl:2"):
        read_results(tmp_path / "a.jsonl")
    (tmp_path / "b.jsonl").write_text('{"key": "x"}\n')
    with pytest.raises(SciclipError, match="b.jsonl:1: not a results line"):
        read_results(tmp_path / "b.jsonl")


def test_tasks_are_found_where_datacomps_download_puts_them(tmp_path):
    for name in ("wds_vtab-cifar100_test", "wds_dollar_street_test", "wds_fairness-geode_test", "wds_my-set_test"):
        (tmp_path / "a" / name / "test").mkdir(parents=True)
        (tmp_path / "a" / name / "test" / "nshards.txt").write_text("1\n")
    (tmp_path / "a" / "wds_my-set_test" / "dataset_type.txt").write_text("retrieval\n")
    (tmp_path / "b" / "hf_cache").mkdir(parents=True)
    roots = [tmp_path / "a", tmp_path / "b"]
    assert T.locate("vtab/cifar100", roots).folder.name == "wds_vtab-cifar100_test"
    assert T.locate("fairness/dollar_street", roots).folder.name == "wds_dollar_street_test"  # prefix dropped
    assert T.locate("fairness/geode", roots).folder.name == "wds_fairness-geode_test"  # or kept
    mine = T.locate("my/set", roots)
    assert mine.task.main_metric == "mean_recall@1" and mine.dataset_type == "retrieval"
    flickr = T.locate("retrieval/flickr_1k_test_image_text_retrieval", roots)
    assert flickr.folder is None and flickr.hf_cache == tmp_path / "b" / "hf_cache"  # DataComp's HF download
    assert T.locate("imagenet1k", roots) is None
    with pytest.raises(SciclipError, match="imagenet1k, cars"):
        T.locate_all(["vtab/cifar100", "imagenet1k", "cars"], roots)
