"""The reader of logged sbatch calls that .ci/slurm_check.sh runs after its SLURM runs (a real cluster is not
needed to check the checker)."""

from __future__ import annotations

from tests.sbatch_calls import check_calls, main, options, read_calls, rule_of

PROFILE = {"default-resources": {"slurm_account": "root", "slurm_partition": "debug", "runtime": 60, "mem_mb": 4000},
           "set-resources": {"extract": {"mem_mb": 8000, "runtime": 180}, "train": {"cpus_per_gpu": 8}}}


def _call(*args: str) -> list[str]:
    return ["--parsable", "--job-name", "u", "--output", "l", "--export=ALL", *args, "--wrap=python -m snakemake x"]


def test_every_call_is_held_to_its_rules_resources():
    good = [_call("--comment", "rule_pmc_index", "-A", "root", "-p", "debug", "-t", "60", "--mem", "4000",
                  "--ntasks=1", "--cpus-per-task=2"),
            _call("--comment", "rule_extract_wildcards_source=pmc,unit=b00000", "-A", "root", "-p", "debug", "-t",
                  "180", "--mem", "8000", "--cpus-per-task=4"),
            _call("--comment", "rule_train", "-A", "root", "-p", "debug", "-t", "60", "--mem", "8000",
                  "--cpus-per-task=2"),
            _call("--comment", "rule_unit_arxiv_download_extract", "-A", "root", "-p", "debug", "-t", "240", "--mem",
                  "12000")]
    problems, seen = check_calls(good, PROFILE, {"train": {"mem_mb": 8000, "runtime": 60, "gpu": 0}}, {"unit"})
    assert problems == [] and set(seen) == {"pmc_index", "extract", "train", "unit_arxiv_download_extract"}
    assert seen["extract"] == ["-A root", "-p debug", "-t 180", "--mem 8000", "--cpus-per-task 4"]


def test_what_the_workflow_profile_once_did_is_caught():
    """profiles/default's default-resources replaced the SLURM profile's: no -A, -p, -t, and --mem 2000."""
    lost = [_call("--comment", "rule_pmc_index", "--mem", "2000", "--ntasks=1", "--cpus-per-task=1")]
    problems, _ = check_calls(lost, PROFILE, {})
    assert "sbatch call of pmc_index: -A None, the profile says 'root'" in problems
    assert "sbatch call of pmc_index: -t None, expected 60" in problems
    assert "sbatch call of pmc_index: --mem '2000', expected 4000" in problems
    gpu = [_call("--comment", "rule_train", "-A", "root", "-p", "debug", "-t", "1440", "--mem", "64000",
                 "--cpus-per-gpu=8", "--gpus=1")]
    problems, _ = check_calls(gpu, PROFILE, {"train": {"mem_mb": 8000, "runtime": 60, "gpu": 0}})
    assert "sbatch call of train: asks for GPUs (1) but the rule needs none" in problems
    assert check_calls([], PROFILE, {})[0] == ["no sbatch call was logged"]


def test_options_and_rules_from_argv():
    o = options(["-A", "a b", "--mem", "10", "--gpus=2", "--requeue", "--comment", "rule_x_wildcards_y=1"])
    assert o == {"-A": "a b", "--mem": "10", "--gpus": "2", "--requeue": "", "--comment": "rule_x_wildcards_y=1"}
    assert rule_of(o) == "x" and rule_of({"--comment": "rule_merge_subsets"}) == "merge_subsets"


def test_the_logged_files_and_the_command(tmp_path, capsys):
    import yaml

    calls = tmp_path / "calls"
    calls.mkdir()
    argv = _call("--comment", "rule_pmc_index", "-A", "root", "-p", "debug", "-t", "60", "--mem", "4000")
    (calls / "001").write_bytes(b"".join(a.encode() + b"\0" for a in argv))  # as the stand-in writes them
    assert read_calls(calls) == [argv]
    (tmp_path / "profile.yaml").write_text(yaml.safe_dump(PROFILE))
    assert main([str(calls), str(tmp_path / "profile.yaml"), "--rules", "pmc_index"]) == 0
    assert "1 sbatch calls of 1 rules" in capsys.readouterr().out
    assert main([str(calls), str(tmp_path / "profile.yaml"), "--rules", "extract"]) == 1
    assert "extract: never submitted" in capsys.readouterr().out
