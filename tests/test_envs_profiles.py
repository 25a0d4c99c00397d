"""Static checks of the workflow's declarations: every rule logs and names a pinned conda env, profiles are
well-formed, and the SLURM profile turns the training job into a GPU sbatch request."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.conftest import ROOT

RULE_RE = re.compile(r"^(?:rule|checkpoint) (\w+):\n(.*?)(?=^(?:rule|checkpoint) |\Z)", re.M | re.S)


def rules() -> dict[str, dict]:
    """rule -> {conda, log, shell} parsed from workflow/rules/*.smk."""
    out = {}
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        for name, body in RULE_RE.findall(text):
            conda = re.search(r"conda:\s*\n\s*\"([^\"]+)\"", body)
            shell = re.search(r"shell:\s*\n((?:\s+\".*\"\n?)+)", body)
            out[name] = {
                "file": smk.name,
                "conda": (smk.parent / conda.group(1)).resolve() if conda else None,
                "log": "log:" in body,
                "shell": "".join(re.findall(r"\"(.*)\"", shell.group(1))) if shell else "",
            }
    return out


def env_packages(path: Path) -> set[str]:
    spec = yaml.safe_load(path.read_text())
    names = set()
    for dep in spec["dependencies"]:
        if isinstance(dep, dict):
            for p in dep.get("pip", []):
                names.add(re.split(r"[=<>\[ ]", p)[0].lower().replace("_", "-"))
        else:
            names.add(re.split(r"[=<> ]", dep)[0].lower())
    return names


def test_every_rule_has_a_log_and_an_env():
    rs = rules()
    assert {"units", "extract", "stats", "convert", "embed", "score", "subset", "reshard", "train", "heldout",
            "heldout_exclude", "evaluate", "experiments_table", "report_experiments"} <= set(rs)
    for name, r in rs.items():
        assert r["log"], f"rule {name} has no log:"
        assert r["conda"] and r["conda"].is_file(), f"rule {name} names no existing conda env"


def test_envs_are_pinned():
    for env in sorted((ROOT / "workflow" / "envs").glob("*.yaml")):
        spec = yaml.safe_load(env.read_text())
        assert spec["channels"][0] == "conda-forge", env.name
        for dep in spec["dependencies"]:
            if isinstance(dep, dict):
                assert all("==" in p for p in dep["pip"]), env.name
            elif dep != "pip":
                assert re.search(r"=\s*\d", dep), f"{env.name}: {dep} is not pinned"


def test_extraction_envs_carry_the_rasterisers():
    pkgs = env_packages(rules()["extract"]["conda"])
    assert {"poppler", "ghostscript", "pillow", "pylatexenc"} <= pkgs


def test_profiles_are_valid_yaml_with_the_expected_keys():
    default = yaml.safe_load((ROOT / "profiles" / "default" / "config.yaml").read_text())
    assert {"cores", "rerun-incomplete", "keep-going", "printshellcmds"} <= set(default)
    slurm = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    # Snakemake loads profiles/default beside --profile profiles/slurm and lets it win key by key: it must not set
    # a key the SLURM profile needs (its default-resources replaced the account, partition, runtime and memory)
    assert not set(default) & {"resources", "default-resources", "set-resources", "set-threads", "executor", "jobs",
                                "groups", "group-components"}
    assert slurm["executor"] == "slurm" and slurm["jobs"] >= 1
    assert {"slurm_partition", "slurm_account", "runtime", "mem_mb", "disk_mb", "cpus_per_task"} <= set(
        slurm["default-resources"])
    # the training and evaluation jobs' GPUs, memory and time are the config's (train/evaluate: gpus or device,
    # mem_mb, runtime): the demo's tiny CPU runs must not ask for a GPU, 64 GB and 24 h
    for gpu_rule in ("train", "evaluate"):
        assert not {"gpu", "mem_mb", "runtime"} & set(slurm["set-resources"][gpu_rule])
        assert slurm["set-resources"][gpu_rule]["cpus_per_gpu"] >= 1
    assert set(slurm["groups"].values()) <= set(slurm["group-components"])
    for rule in list(slurm["set-resources"]) + list(slurm["groups"]):
        assert rule in rules(), f"profile names unknown rule {rule}"
    # every key is commented
    for line in (ROOT / "profiles" / "slurm" / "config.yaml").read_text().splitlines():
        if re.match(r"^[a-z][\w-]*:\s*\S", line):
            assert "#" in line, f"uncommented profile key: {line}"
