"""The cc branch in the workflow: its rules, schema section and config->flag translation, and the .test/cc
feature (Common Crawl only, WARC files, one coarse unit, English only) run end to end by Snakemake, once
without interruption and once killed with SIGKILL in the middle of its download job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sciclip.cli.config_flags import flag_list
from tests.conftest import ROOT, read_dir
from tests.crash import crash_and_recover, differences, leftover_temporaries, output_digests
from tests.test_workflow import make_checkout, snakemake, snakemake_env

CC_FEATURE = ("--cores", "2", "--configfile", "config/config.yaml", ".test/cc/config.yaml")


def _walk(props: dict, path: str = "cc"):
    for key, spec in props.items():
        yield f"{path}.{key}", spec
        if spec.get("type") == "object" and "properties" in spec:
            yield from _walk(spec["properties"], f"{path}.{key}")


def test_every_cc_key_has_a_default_and_a_description():
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    cc = schema["properties"]["cc"]
    keys = list(_walk(cc["properties"]))
    assert len(keys) > 30
    for key, spec in keys:
        assert "default" in spec and spec.get("description"), key
    demo = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["cc"]
    assert set(demo) == set(cc["properties"])  # the demo config shows every key


def test_config_keys_become_the_commands_flags():
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cc, extract = cfg["cc"], cfg["extract"]
    download = " ".join(flag_list("cc download", cc, extract))
    for flag in ("--t-download 8", "--seed 0", "--image-threads 16", "--image-retries 0", "--user-agent-token sciclip",
                 "--disallowed-header-directives noai,noimageai,noindex,noimageindex",
                 "--serve resources/sample/cc/web", "--min-size 32", "--samples-per-shard 10000"):
        assert flag in download, flag
    assert "--metadata" not in " ".join(flag_list("cc download", cc))
    unit = " ".join(flag_list("cc unit", cc, {**extract, "min_caption_chars": 25}))
    assert unit.startswith("--min-text-chars 1 --t 4 --seed 0")
    assert "--min-caption-chars" not in unit  # the paper captions' limit never reaches web texts
    listing = " ".join(flag_list("cc list", cc))
    assert "--crawls CC-MAIN-2024-22" in listing and "--kind wat" in listing and "--requests-per-s 1" in listing
    build = " ".join(flag_list("cc metadata", cc))
    assert "--unigrams resources/sample/cc/unigrams.tsv" in build and "--min-count 100" in build
    assert "--metadata " not in build  # null: build one
    assert "--dedup-max-rows 20000000" in " ".join(flag_list("cc gather", cc, extract))


def test_cc_rules_log_and_name_the_cc_env():
    from tests.test_envs_profiles import env_packages, rules

    cc_rules = {n: r for n, r in rules().items() if n.startswith("cc_")}
    assert set(cc_rules) == {"cc_list", "cc_metadata", "cc_fetch", "cc_pool", "cc_gather", "cc_download", "cc_counts"}
    for name, rule in cc_rules.items():
        assert rule["log"] and rule["conda"].name == "cc.yaml", name
    pkgs = env_packages(ROOT / "workflow" / "envs" / "cc.yaml")
    assert {"warcio", "selectolax", "msgspec", "py3langid", "img2dataset", "orjson", "isal", "pyarrow"} <= pkgs
    assert "pyarrow" in env_packages(rules()["extract"]["conda"])  # the cc unit job reads img2dataset's parquet


@pytest.fixture(scope="module")
def cc_workflow(tmp_path_factory) -> Path:
    """The .test/cc feature run once to its end without interruption: its results folder."""
    wd = make_checkout(tmp_path_factory.mktemp("cc"))
    snakemake(wd, *CC_FEATURE)
    return wd / "results"


@pytest.mark.slow
def test_cc_feature_runs_end_to_end(cc_workflow):
    res = cc_workflow
    assert not (res / "arxiv").exists() and not (res / "pmc").exists()
    assert sorted(p.name for p in (res / "final").iterdir() if p.is_dir()) == ["cc", "mixed"]
    assert [p.name for p in (res / "cc" / "shards").iterdir()] == ["CC-MAIN-2024-22_00000_x2"]
    assert not (res / "cc" / "crawl").exists() or not any((res / "cc" / "crawl").iterdir())  # temp()
    captions = [s["caption"] for s in read_dir(res / "cc" / "shards")]
    assert "A small bird on a branch" in captions and "A calm lake in the morning" in captions  # WARC only
    assert "A brown dog running on the beach" in captions and "Собака на траве" not in captions  # languages: [en]
    stats = json.loads((res / "stats" / "cc.json").read_text())
    assert stats["samples"] == len(captions) > 0 and stats["skipped_items"]["opted_out"] == 1
    pool = json.loads((res / "cc" / "pool" / "summary.json").read_text())
    assert pool["duplicates"] == 2
    final = read_dir(res / "final" / "cc")
    assert len(final) == stats["samples"] and all(s["meta"]["source"] == "cc" for s in final)


@pytest.mark.slow
def test_cc_branch_survives_kill_9_during_a_download(cc_workflow, tmp_path):
    """Snakemake and its jobs SIGKILLed while img2dataset's shard is written and the job's counts are not:
    after --unlock and a rerun, every output is the uninterrupted run's, and no temporary is left."""
    wd = make_checkout(tmp_path / "cc")
    downloads = wd / "results" / "cc" / "downloads"

    def downloading() -> bool:  # img2dataset has begun a shard in the unit's (temporary) folder; the job's
        return any(d.is_dir() and any(d.glob("*.tar")) and not (d / "download.json").exists()  # last write
                   for d in downloads.glob("*"))  # is download.json

    (tmp_path / "tmp").mkdir()  # the jobs' scratch (TMPDIR): a crash leaves it, as it would /tmp
    crash_and_recover(wd, CC_FEATURE, snakemake_env({"TMPDIR": str(tmp_path / "tmp")}), downloading)
    assert leftover_temporaries(wd / "results") == []
    assert differences(output_digests(wd / "results"), output_digests(cc_workflow)) == {}
