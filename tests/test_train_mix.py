"""``train.data`` with an upsampling factor per output (the paper's web + arXiv + PMC mix): the config form,
its check against ``reshard.outputs``, the ``sciclip train`` flag, OpenCLIP's command, and the workflow's
dry run with such a config."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
import yaml

from sciclip.config_check import ConfigError, validate_config
from sciclip.errors import SciclipError
from sciclip.train.mix import TrainData, check_train_data, parse_factors, train_data, upsampling_flag
from tests.conftest import ROOT

MIX = ["cc", {"output": "arxiv", "upsampling": 2}, {"output": "pmc", "upsampling": 2.0}]
OUTPUTS = {"arxiv": ["arxiv"], "pmc": ["pmc"], "cc": ["cc"], "mixed": ["arxiv", "pmc", "cc"]}


def test_items_are_names_or_output_and_factor():
    assert train_data(["mixed"]) == [TrainData("mixed", 1.0)]
    data = check_train_data(MIX, OUTPUTS)
    assert data == [TrainData("cc", 1.0), TrainData("arxiv", 2.0), TrainData("pmc", 2.0)]
    assert upsampling_flag(data) == "--data-upsampling 1,2,2"
    assert upsampling_flag(train_data(["mixed", {"output": "cc"}])) == ""  # natural ratio: no flag


@pytest.mark.parametrize(("items", "message"), [
    (["mixed", "web"], "unknown output 'web' (reshard.outputs: arxiv, pmc, cc, mixed)"),
    (["cc", {"output": "cc", "upsampling": 3}], "output 'cc' listed twice"),
])
def test_bad_items_are_one_line_errors(items, message):
    with pytest.raises(SciclipError) as e:
        check_train_data(items, OUTPUTS)
    assert message in str(e.value) and "\n" not in str(e.value)


def _config(data, enabled=True) -> dict:
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["train"].update({"data": data, "enabled": enabled})
    cfg["experiments"] = []  # the train section is the run
    return cfg


def test_config_check_accepts_the_mix_and_names_an_unknown_output():
    schema = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    cfg = validate_config(_config(MIX), schema)
    assert cfg["train"]["data"][1] == {"output": "arxiv", "upsampling": 2}
    with pytest.raises(ConfigError) as e:
        validate_config(_config(["cc", {"output": "arxvi", "upsampling": 2}]), schema)
    assert str(e.value).startswith("config: train.data: unknown output 'arxvi'") and "\n" not in str(e.value)
    validate_config(_config(["nothing"], enabled=False), schema)  # a config that never trains names nothing
    with pytest.raises(ConfigError, match="train.data"):  # the schema: a factor must be positive, keys known
        validate_config(_config([{"output": "cc", "upsampling": 0}]), schema)
    with pytest.raises(ConfigError, match="train.data"):
        validate_config(_config([{"output": "cc", "factor": 2}]), schema)


def _final(folder: Path, samples: list[int]) -> Path:
    folder.mkdir(parents=True)
    for i, n in enumerate(samples):
        (folder / f"{i:08d}.tar").write_bytes(b"")
        (folder / f"{i:08d}_stats.json").write_text(json.dumps({"successes": n}))
    return folder


def test_train_command_mixes_with_openclip_upsampling_factors(tmp_path, capsys):
    from sciclip.cli import main

    cc, arxiv, pmc = _final(tmp_path / "cc", [600, 400]), _final(tmp_path / "arxiv", [50]), _final(tmp_path / "pmc", [30])
    assert main(["train", str(cc), str(arxiv), str(pmc), "--data-upsampling", "1,2,2", "--preset", "small",
                 "--run", "mix", "--logs", str(tmp_path / "logs"), "--print-command"]) == 0
    cmd = shlex.split(capsys.readouterr().out)  # quoted: braces and '' paste into a shell as they are
    arg = {cmd[i]: cmd[i + 1] for i in range(len(cmd) - 1) if cmd[i].startswith("--")}
    assert arg["--train-data"] == f"{cc}/{{00000000..00000001}}.tar::{arxiv}/00000000.tar::{pmc}/00000000.tar"
    assert arg["--train-data-upsampling-factors"] == "1::2::2" and "--dataset-resampled" in cmd
    assert arg["--train-num-samples"] == str(1000 + 2 * 50 + 2 * 30)  # one epoch of the upsampled mix


@pytest.mark.parametrize(("text", "message"), [("1,2", "2 factors for 3 data folders"), ("1,x,2", "numbers"),
                                               ("1,0,2", "more than 0")])
def test_bad_factors_are_refused(text, message):
    with pytest.raises(SciclipError, match=message):
        parse_factors(text, 3)
    assert parse_factors(None, 2) == [1.0, 1.0]


@pytest.mark.slow
def test_dry_run_trains_on_the_mix(tmp_path):
    from tests.test_workflow import make_checkout, snakemake

    wd = make_checkout(tmp_path / "wf")
    (wd / "mix.yaml").write_text(yaml.safe_dump({"train": {"data": MIX}, "experiments": []}))
    r = snakemake(wd, "-n", "-p", "--cores", "1", "--configfile", "config/config.yaml", "mix.yaml")
    line = next(x for x in r.stdout.splitlines() if "sciclip train" in x)
    assert "sciclip train results/final/cc results/final/arxiv results/final/pmc " in line
    assert "--data-upsampling 1,2,2" in line
    (wd / "bad.yaml").write_text(yaml.safe_dump({"train": {"data": ["cc", "arxvi"]}, "experiments": []}))
    r = snakemake(wd, "-n", "--cores", "1", "--configfile", "config/config.yaml", "bad.yaml", check=False)
    assert r.returncode != 0 and "config: train.data: unknown output 'arxvi'" in r.stdout + r.stderr
