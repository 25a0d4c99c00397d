"""The demo's summary: the report, three lines of Python that load the output, and a tiny training that
shows it learned; --print-command prints even for little data (issue 11, items 12 and 16)."""

from __future__ import annotations

import json

import pytest

from sciclip.errors import SciclipError
from sciclip.train.openclip import PRESETS, DataSource, training_command
from tests.conftest import call_cli


def test_print_command_shows_the_command_for_small_data(tmp_path, caplog):
    with pytest.raises(SciclipError, match="fewer than one global batch"):
        training_command([DataSource("d/00000000.tar", 100)], "small", "r", "logs")
    cmd, _ = training_command([DataSource("d/00000000.tar", 100)], "small", "r", "logs", strict=False)
    assert cmd[cmd.index("--batch-size") + 1] == "4096"
    assert any("fewer than one global batch" in r.getMessage() for r in caplog.records)


def test_print_command_cli_on_a_small_final_output(tmp_path):
    d = tmp_path / "final"
    d.mkdir()
    (d / "00000000.tar").write_bytes(b"\0" * 1024)
    (d / "00000000_stats.json").write_text(json.dumps({"successes": 30}))
    rc, out, err = call_cli("train", str(d), "--preset", "small", "--run", "r", "--print-command")
    assert rc == 0, err
    assert "open_clip_train.main" in out and "--train-num-samples 30" in out
    # every argument quoted: the line pastes into a shell as the same argv (--report-to '' included)
    import shlex
    argv = shlex.split(out)
    assert argv[argv.index("--report-to") + 1] == "" and "--report-to ''" in out


def test_tiny_preset_trains_enough_steps_to_learn():
    cmd, info = training_command([DataSource("d/00000000.tar", 30)], "tiny", "r", "logs")
    assert PRESETS["tiny"].steps >= 40
    assert "--dataset-resampled" in cmd and cmd[cmd.index("--epochs") + 1] == "1"
    assert cmd[cmd.index("--train-num-samples") + 1] == str(PRESETS["tiny"].steps * 16)
    assert cmd[cmd.index("--lr-scheduler") + 1] == "const"
    assert info["train_num_samples"] == 30  # the data; the command's value is what one epoch draws


def test_pairs_evaluation_before_and_after(sample_extracted, tmp_path):
    """On the tiny model: the metrics of the initial weights, and of a checkpoint (here: those same weights)."""
    import open_clip
    import torch

    from sciclip.train.pairs_eval import evaluate_pairs

    root, _ = sample_extracted
    shards = sorted(root.rglob("*.tar"))[:2]
    model_name = PRESETS["tiny"].model
    torch.manual_seed(0)
    model = open_clip.create_model_and_transforms(model_name)[0]
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "c.pt")
    t = evaluate_pairs(model_name, tmp_path / "c.pt", shards, seed=0)
    # the same weights through the same kernels twice; nothing promises bitwise-reproducible float32 kernels
    # between calls (oneDNN and MKL may take another path by memory alignment), so: the loss (4 decimals) to 1e-3
    # (another seed's weights differ by ~0.07), each recall@1 by at most one pair (a near-tie in the argmax)
    before, after = t["before"], t["after"]
    assert t["pairs"] > 3 and before["loss"] == pytest.approx(after["loss"], abs=1e-3)
    assert all(abs(before[k] - after[k]) <= 1 / t["pairs"] + 1e-4 for k in ("image_to_text_r1", "text_to_image_r1"))
    assert 0 <= t["before"]["image_to_text_r1"] <= 1 and t["before"]["loss"] > 0


def _results(tmp_path, stats: dict, train: dict | None = None):
    res = tmp_path / "results"
    (res / "stats").mkdir(parents=True)
    (res / "stats" / "arxiv.json").write_text(json.dumps(stats))
    final = res / "final" / "mixed"
    final.mkdir(parents=True)
    (final / "meta.json").write_text(json.dumps({"output_count": 3, "output_shard_count": 2}))
    for i in range(2):
        (final / f"{i:08d}.tar").write_bytes(b"\0" * 1024)
    if train:
        (res / "train" / "tiny-demo").mkdir(parents=True)
        (res / "train" / "tiny-demo" / "summary.json").write_text(json.dumps(train))
    return res


def test_demo_summary_shows_report_loading_code_and_learning(tmp_path, sample_extracted):
    from sciclip.shards.stats import dataset_stats

    root, stats = sample_extracted
    train = {"preset": "tiny", "steps_logged": 40, "first_loss": 3.2, "last_loss": 0.8, "checkpoint": "c.pt",
             "training_pairs": {"pairs": 30, "before": {"loss": 3.94, "image_to_text_r1": 0.0,
                                                        "text_to_image_r1": 0.0333},
                                "after": {"loss": 0.75, "image_to_text_r1": 0.7667, "text_to_image_r1": 0.7}}}
    res = _results(tmp_path, dataset_stats([root / n for n in sorted(stats)], source="arxiv"), train)
    (res / "report.html").write_text("<html>")
    rc, out, err = call_cli("demo-summary", str(res))
    assert rc == 0, err
    assert f"report: {res / 'report.html'}" in out
    assert ("on its 30 training pairs: loss 3.94 -> 0.75, recall@1 image->text 0% -> 77%, text->image 3% -> 70%"
            in out)
    code = out[out.index("import webdataset"):].splitlines()[:3]
    assert len(code) == 3 and f'"{res}/final/mixed/{{00000000..00000001}}.tar"' in code[1]


def test_the_printed_code_loads_a_final_output(tmp_path, sample_extracted):
    """The three lines, run as printed, on a real final output."""
    from sciclip.cli.report import loading_snippet
    from sciclip.shards.reader import ShardReport, read_samples
    from sciclip.shards.writer import ShardWriter

    root, _ = sample_extracted
    final = tmp_path / "final" / "mixed"
    with ShardWriter(final, samples_per_shard=3, name_format="{:08d}.tar") as w:
        for shard in sorted(root.rglob("*.tar"))[:2]:
            for key, members in read_samples(shard, ShardReport("")):
                w.write(f"{key}-0", members)
    scope: dict = {}
    exec("\n".join(line.strip() for line in loading_snippet(final).splitlines()), scope)
    assert scope["image"].size[0] > 0 and scope["caption"] and scope["meta"]["uid"]
