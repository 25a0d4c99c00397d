"""A bad configuration fails in a few lines naming the key, its value and the schema's description of it,
with every default filled in exactly as Snakemake's validate() fills them (issue 11, item 14)."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from sciclip.config_check import ConfigError, validate_config
from tests.conftest import ROOT

SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture
def config() -> dict:
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_defaults_are_filled_as_snakemake_fills_them(config):
    from snakemake.utils import validate

    ours, theirs = copy.deepcopy(config), copy.deepcopy(config)
    validate_config(ours, SCHEMA)
    validate(theirs, str(SCHEMA), set_default=True)
    assert ours == theirs
    # whole sections left out take their defaults (train and curate too: training on [mixed] and the demo's
    # variant of mixed need reshard.outputs' mixed)
    del config["extract"], config["reshard"], config["train"], config["curate"]
    ours, theirs = copy.deepcopy(config), copy.deepcopy(config)
    validate_config(ours, SCHEMA)
    validate(theirs, str(SCHEMA), set_default=True)
    assert ours == theirs and ours["extract"]["jpeg_quality"] == 95


def test_a_misspelt_section_names_it_and_the_right_one(config):
    config["arxvi"] = config.pop("arxiv")
    with pytest.raises(ConfigError) as e:
        validate_config(config, SCHEMA)
    lines = str(e.value).splitlines()
    assert len(lines) <= 4
    assert lines[0] == "config: unknown key 'arxvi' (did you mean 'arxiv'?)"
    assert "known keys: sample, arxiv, pmc" in lines[1]


def test_a_misspelt_key_inside_a_section(config):
    config["extract"]["jpeg_qualty"] = 90
    with pytest.raises(ConfigError) as e:
        validate_config(config, SCHEMA)
    assert str(e.value).splitlines()[0] == ("config: unknown key 'extract.jpeg_qualty' "
                                            "(did you mean 'extract.jpeg_quality'?)")


def test_a_bad_value_shows_the_key_value_and_description(config):
    config["extract"]["subfigure_caption"] = "both"
    with pytest.raises(ConfigError) as e:
        validate_config(config, SCHEMA)
    lines = str(e.value).splitlines()
    assert len(lines) <= 5
    assert lines[0].startswith("config: extract.subfigure_caption: 'both' is not one of")
    assert lines[1] == '  value: "both"'
    assert lines[2].startswith("  extract.subfigure_caption: Caption of a subfigure image")


def test_the_snakefile_uses_the_short_check():
    text = (ROOT / "Snakefile").read_text()
    assert "validate_config(" in text and "snakemake.utils import min_version, validate" not in text


# --- issue 27: --config values typed as --configfile types them -------------------------------------------------


def _snakemake_parsed(entries: list[str]) -> dict:
    """What Snakemake makes of --config entries (its own parser), merged over the demo config as it merges."""
    from snakemake.cli import parse_config
    from snakemake.utils import update_config

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    update_config(config, parse_config(entries))
    return config


def test_config_values_inside_braces_get_yaml_types():
    from sciclip.config_check import typed_overrides

    entries = ["extract={max_size: 256, resize: false}", "decontamination={descriptor: yokoo, half: true, device: null}",
               "arxiv={tarballs: [arXiv_src_9901_001], start: '2001'}", "train={workers: 8, precision: amp}"]
    config = _snakemake_parsed(entries)
    assert config["extract"]["max_size"] == "256" and config["decontamination"]["device"] == "null"  # the bug
    typed_overrides(config, entries)
    assert config["extract"]["max_size"] == 256 and config["extract"]["resize"] is False
    assert config["decontamination"]["half"] is True and config["decontamination"]["device"] is None
    assert config["arxiv"]["tarballs"] == ["arXiv_src_9901_001"] and config["arxiv"]["start"] == "2001"
    assert config["train"]["workers"] == 8 and config["train"]["precision"] == "amp"
    assert config["extract"]["jpeg_quality"] == 95  # keys the override does not name keep the config file's value
    validate_config(config, SCHEMA)


def test_typed_values_from_snakemakes_api_stay_as_they_are():
    from sciclip.config_check import typed_overrides

    # through the API, Snakemake renders typed values with repr(): None must not become the string 'None'
    config = {"decontamination": {"device": None, "half": True, "batch_size": 64}}
    typed_overrides(config, ["decontamination={'device': None, 'half': True, 'batch_size': 64}"])
    assert config == {"decontamination": {"device": None, "half": True, "batch_size": 64}}


def test_a_left_out_section_takes_its_defaults_before_required_keys_are_checked(config):
    del config["pmc"]["download"]
    validate_config(config, SCHEMA)
    assert config["pmc"]["download"]["retries"] == 4


# --- issue 27: every configured local path checked at start-up --------------------------------------------------


def test_missing_local_paths_are_named_one_line_each(config, tmp_path):
    from sciclip.config_check import load_schema, missing_paths

    validate_config(config, SCHEMA)
    schema = load_schema(SCHEMA)
    assert missing_paths(config, schema, [config["sample"]["outdir"]]) == []
    (tmp_path / "a.tsv").write_text("x\n")
    config["decontamination"]["eval_images"] = str(tmp_path / "eval")
    config["cc"]["metadata"] = str(tmp_path / "metadata.json")
    config["curate"]["language_model"] = str(tmp_path / "a.tsv")  # there: no line
    config["metadata"]["kind_prompts"] = str(tmp_path)  # a folder where a file belongs
    config["train"]["extra_data"] = [{"pattern": "/nonexistent-sciclip/cp/{00000000..00000009}.tar", "samples": 9}]
    config["metadata"]["models"]["b32"] = {"model": "local-dir:/nonexistent-sciclip/b32", "pretrained": None}
    config["metadata"]["models"]["l14"] = {"model": "ViT-L-14", "pretrained": "openai"}  # a name and a tag
    config["heal"]["inputs"] = {"mine": str(tmp_path / "shards")}
    lines = missing_paths(config, schema, [config["sample"]["outdir"]])
    assert lines == [
        f"config: cc.metadata: {tmp_path}/metadata.json: no such file",
        f"config: decontamination.eval_images: {tmp_path}/eval: no such directory",
        "config: metadata.models.b32.model: local-dir:/nonexistent-sciclip/b32: no such directory",
        f"config: metadata.kind_prompts: {tmp_path}: is a directory, not a file",
        "config: train.extra_data.pattern: /nonexistent-sciclip/cp/{00000000..00000009}.tar: no such directory",
        f"config: heal.inputs.mine: {tmp_path}/shards: no such directory",
    ]


def test_paths_of_branches_that_are_off_or_replaced_are_not_checked(config, tmp_path):
    from sciclip.config_check import load_schema, missing_paths

    validate_config(config, SCHEMA)
    config["cc"]["enabled"] = False
    config["cc"]["metadata"] = "/nonexistent-sciclip/metadata.json"
    config["decontamination"]["eval_embeddings"] = str(tmp_path / "eval.pt")
    config["decontamination"]["eval_images"] = "/nonexistent-sciclip/eval"  # precomputed embeddings win
    config["decontamination"]["weights"] = "/nonexistent-sciclip/isc.pth.tar"  # phash needs no weights
    config["arxiv"]["source"] = "s3://arxiv"
    config["pmc"]["source"] = "file:///nonexistent-sciclip/pmc"
    lines = missing_paths(config, load_schema(SCHEMA), [config["sample"]["outdir"]])
    assert lines == ["config: pmc.source: file:///nonexistent-sciclip/pmc: no such directory",
                     f"config: decontamination.eval_embeddings: {tmp_path}/eval.pt: no such file"]
    config["decontamination"]["descriptor"] = "yokoo"
    assert "decontamination.weights" in "\n".join(missing_paths(config, load_schema(SCHEMA), []))


def test_every_path_like_key_of_the_schema_is_checked():
    """A key whose description speaks of a file, folder or path is marked x-path (or listed here as written by
    the workflow, not read)."""
    from sciclip.config_check import load_schema

    written = {"sample.outdir", "cc.metadata_cache", "decontamination.weights_cache", "extract.scratch_dir",
               "curate.filters.name"}
    words = re.compile(r"\b(path|folder|directory|file|dir)\b", re.I)
    unmarked = []

    def walk(node, path):
        for key, sub in (node.get("properties") or {}).items():
            walk(sub, [*path, key])
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], [*path, "*"])
        if isinstance(node.get("items"), dict):
            walk(node["items"], path)
        types = node.get("type") if isinstance(node.get("type"), list) else [node.get("type")]
        if "string" in types and not node.get("enum") and words.search(str(node.get("description", ""))[:80]) \
                and "x-path" not in node and ".".join(path) not in written:
            unmarked.append(".".join(path))

    walk(load_schema(SCHEMA), [])
    assert unmarked == []


# --- issue 27: a SLURM profile's placeholders ------------------------------------------------------------------


def test_unfilled_profile_placeholders_are_one_line():
    from sciclip.config_check import unfilled_placeholders

    assert unfilled_placeholders({"default-resources": {"slurm_account": "proj", "mem_mb": 4000}}) is None
    line = unfilled_placeholders({"default-resources": {"slurm_partition": "<partition>", "slurm_account": "<account>",
                                                        "runtime": 60},
                                  "set-resources train": {"slurm_partition": "<gpu partition>"}})
    assert "\n" not in line
    assert "slurm_partition=<partition> (default-resources), slurm_account=<account> (default-resources)" in line
    assert "slurm_partition=<gpu partition> (set-resources train)" in line and "profiles/slurm/config.yaml" in line


def test_defaults_are_copies_never_the_schemas_own_objects():
    """pmc.tail and cc.tail share one schema block (a YAML anchor): the defaults filled in are fresh copies, so the
    two sections are two dicts (was: the schema's default object itself, filled in place)."""
    config = {}
    validate_config(config, SCHEMA)
    assert config["pmc"]["tail"] == config["cc"]["tail"] == {"decontaminate": True, "dedup": True, "near_dup": True}
    assert config["pmc"]["tail"] is not config["cc"]["tail"]
    config["pmc"]["tail"]["dedup"] = False
    assert config["cc"]["tail"]["dedup"]
    other = {}
    validate_config(other, SCHEMA)  # a second config gets the defaults, not what the first one changed
    assert other["pmc"]["tail"]["dedup"]
