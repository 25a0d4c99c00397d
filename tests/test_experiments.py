"""``experiments:`` in the config (named runs; the train section as the one run without them), their checks,
the comparison table and its text form, and the report page's figure."""

from __future__ import annotations

import json

import pytest
import yaml

from sciclip.config_check import ConfigError, validate_config
from sciclip.evaluate.tasks import DATACOMP_TASKS
from sciclip.report.experiments import make_experiments_report, read_table, table_lines, write_table
from sciclip.train.experiments import Run, extra_flags, runs
from sciclip.train.mix import TrainData
from tests.conftest import ROOT, call_cli

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CP = {"pattern": "/data/cp/{00000000..00001287}.tar", "samples": 12800000}


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_runs_are_the_experiments_or_the_train_section(config):
    validate_config(config, SCHEMA)
    assert [r.name for r in runs(config)] == ["web", "web-papers"]
    assert runs(config)[1] == Run("web-papers", "tiny", [TrainData("cc"), TrainData("arxiv", 2.0),
                                                         TrainData("pmc", 2.0)], [])
    config["experiments"] = []
    assert runs(config) == [Run("tiny-demo", "tiny", [TrainData("mixed")], [])]  # as before experiments
    config["train"]["enabled"] = False
    assert runs(config) == []


def test_the_papers_three_conditions_validate(config):
    config["experiments"] = [
        {"name": "commonpool", "preset": "small", "extra_data": [CP]},
        {"name": "arxiv-pmc", "preset": "small", "data": ["arxiv", "pmc"]},
        {"name": "commonpool-arxiv-pmc", "preset": "small", "data": ["arxiv", "pmc"], "extra_data": [CP]}]
    validate_config(config, SCHEMA)
    got = runs(config)
    assert [r.preset for r in got] == ["small"] * 3 and got[0].data == [] and got[2].extra_data[0]["samples"] == CP[
        "samples"]
    assert extra_flags(got[0].extra_data) == ["/data/cp/{00000000..00001287}.tar,12800000,1.0"]


@pytest.mark.parametrize(("experiments", "message"), [
    ([{"name": "a", "data": ["cc"]}, {"name": "a", "data": ["pmc"]}], "run 'a' named twice"),
    ([{"name": "a", "data": ["web"]}], "experiments[a].data: unknown output 'web'"),
    ([{"name": "a"}], "run 'a' has neither data nor extra_data"),
    ([{"name": "a b", "data": ["cc"]}], "experiments.0.name"),
    ([{"name": "a", "data": ["cc"], "presets": "small"}], "unknown key 'experiments.0.presets'"),
])
def test_bad_experiments_are_short_errors(config, experiments, message):
    config["experiments"] = experiments
    with pytest.raises(ConfigError) as e:
        validate_config(config, SCHEMA)
    assert message in str(e.value)


def test_datacomp_tasks_need_a_data_root(config):
    config["evaluate"] = {"tasks": ["datacomp"]}
    with pytest.raises(ConfigError, match="needs evaluate.data_root"):
        validate_config(config, SCHEMA)
    config["evaluate"] = {"tasks": ["datacomp"], "data_root": "/data/eval"}
    assert validate_config(config, SCHEMA)["evaluate"]["heldout"] == {"enabled": True, "sources": ["arxiv", "pmc"],
                                                                      "fraction": 0.01, "cap": 5000}


def _results(path, values: dict[str, float | None]):
    lines = []
    for t in DATACOMP_TASKS:
        if t.key in values or t.name in values:
            v = values.get(t.key, values.get(t.name))
            lines.append({"key": t.key, "dataset": t.name, "metrics": {"main_metric": v}})
    for key, v in values.items():
        if not any(key in (t.key, t.name) for t in DATACOMP_TASKS):
            lines.append({"key": key, "dataset": key, "metrics": {"main_metric": v}})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_table_and_its_text_form(tmp_path):
    a = _results(tmp_path / "a.jsonl", {"sciclip/arxiv": 0.5, "vtab/pcam": 0.6, "imagenet1k": 0.2})
    b = _results(tmp_path / "b.jsonl", {"vtab/pcam": 0.65, "sciclip/arxiv": 0.55, "my/set": 0.1})
    rc, _, err = call_cli("experiments-table", f"base={a}", f"mix={b}", "--out", str(tmp_path / "t.csv"))
    assert rc == 0, err
    header, rows = read_table(tmp_path / "t.csv")
    # DataComp's tasks in its list's order, then the others as they first appear, then the aggregates
    assert header == ["run", "ImageNet 1k", "PatchCamelyon", "sciclip/arxiv", "my/set", "ImageNet",
                      "ImageNet dist. shifts", "VTAB", "Retrieval", "Average"]
    assert rows[0]["ImageNet 1k"] == "0.2" and rows[1]["ImageNet 1k"] == "" and rows[1]["my/set"] == "0.1"
    lines = table_lines(tmp_path / "t.csv")
    assert lines[0].split() == ["task", "base", "mix", "d", "mix"]
    pcam = next(line for line in lines if "PatchCamelyon" in line)
    assert pcam.split()[-4:] == ["60.0%", "65.0%", "+5.0", "pt"]
    assert next(line for line in lines if "ImageNet 1k" in line).split()[-2:] == ["-", "-"]
    assert not any(line.split()[0] == "Average" for line in lines)  # no run has DataComp's 38
    rc, _, err = call_cli("experiments-table", "nameless", "--out", str(tmp_path / "x.csv"))
    assert rc == 1 and "RUN=eval_results.jsonl" in err


def test_report_page_and_difference_chart(tmp_path):
    from sciclip.sample.evalsets import write_evalsets

    write_evalsets(tmp_path)
    a = _results(tmp_path / "a.jsonl", {"vtab/pcam": 0.6, "sample/chart-types": 0.3})
    b = _results(tmp_path / "b.jsonl", {"vtab/pcam": 0.7, "sample/chart-types": 0.2})
    made = make_experiments_report([("base", a), ("mix", b)], tmp_path / "rep", [tmp_path / "evalsets"])
    page = made[0].read_text()
    assert "PatchCamelyon" in page and "<i>50.0%</i>" in page and "<i>25.0%</i>" in page  # chance: DataComp, 1/4
    svg = made[1].read_text()
    assert "<svg" in svg and "mix - base" in svg and "chance level - base" in svg
    only = make_experiments_report([("base", a)], tmp_path / "one")
    assert "nothing to compare" in only[1].read_text()
    write_table([("base", a), ("mix", b)], tmp_path / "t.csv")
    assert read_table(tmp_path / "t.csv")[1][1]["PatchCamelyon"] == "0.7"
