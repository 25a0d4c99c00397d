"""A bad configuration fails in a few lines naming the key, its value and the schema's description of it,
with every default filled in exactly as Snakemake's validate() fills them (issue 11, item 14)."""

from __future__ import annotations

import copy

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
