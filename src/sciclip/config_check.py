"""The workflow's configuration checked against its schema, defaults filled in, errors in a few lines.

``snakemake.utils.validate`` puts the whole schema into its error message (1,364 lines for ours), so the
line that names the bad key scrolls away. This does the same validation (JSON Schema 2020-12, defaults
filled in exactly as ``validate(..., set_default=True)`` fills them) and reports the most relevant error
as: where it is, the value, what the schema says about the key, and for a misspelt key the nearest known
one.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

from sciclip.errors import SciclipError


class ConfigError(SciclipError):
    """A configuration the schema refuses; the message is the few lines to show."""


def _with_defaults(validator_class):
    """The validator, setting each property's ``default`` before checking it (jsonschema's FAQ recipe, as
    Snakemake uses it)."""
    from jsonschema import validators

    check_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        for name, subschema in properties.items():
            if "default" in subschema and isinstance(instance, dict):
                instance.setdefault(name, subschema["default"])
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


def load_schema(path: str | os.PathLike) -> dict:
    import yaml

    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def validate_config(config: dict, schema_path: str | os.PathLike) -> dict:
    """Fill ``config``'s defaults in place and check it; raise ``ConfigError`` with a short message."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    schema = load_schema(schema_path)
    errors = list(_with_defaults(Draft202012Validator)(schema).iter_errors(config))
    if errors:
        raise ConfigError(describe(best_match(errors), schema, schema_path))
    cross_check(config)
    return config


def cross_check(config: dict) -> None:
    """What a schema cannot say: keys that name other keys' entries (one line each)."""
    from sciclip.curate.variants import check_filter_sets
    from sciclip.train.experiments import check_experiments
    from sciclip.train.mix import check_train_data

    outputs = list((config.get("reshard") or {}).get("outputs") or {})
    try:
        variants = check_filter_sets(config.get("curate") or {}, outputs, config.get("metadata") or {})
    except SciclipError as e:
        raise ConfigError(str(e)) from None
    train = config.get("train") or {}
    experiments = config.get("experiments") or []
    if train.get("enabled"):  # a config that never trains need not name outputs
        try:
            if experiments:
                check_experiments(experiments, outputs + variants)
            else:
                check_train_data(train.get("data") or [], outputs + variants)
        except SciclipError as e:
            raise ConfigError(str(e)) from None
        evaluate = config.get("evaluate") or {}
        if evaluate.get("enabled") and evaluate.get("tasks") and not evaluate.get("data_root"):
            raise ConfigError(f"config: evaluate.tasks ({', '.join(map(str, evaluate['tasks']))}) needs "
                              "evaluate.data_root, the folder holding their sets (sciclip evalsets --out DIR)")


def _node(schema: dict, path: list) -> dict:
    """The subschema that describes the value at ``path`` ({} when the schema has none)."""
    node = schema
    for key in path:
        props = node.get("properties") or {}
        if key in props:
            node = props[key]
        elif isinstance(key, int) and isinstance(node.get("items"), dict):
            node = node["items"]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return {}
    return node


def _short(value, limit: int = 160) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(error, schema: dict, schema_path: str | os.PathLike) -> str:
    """A few lines: the failing key, its value, and the schema's description of the key."""
    path = list(error.absolute_path)
    where = ".".join(str(p) for p in path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list((error.schema.get("properties") or {}))
        unknown = [k for k in error.instance if k not in known]
        lines = []
        for key in unknown[:3]:
            near = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            lines.append(f"config: unknown key {'.'.join([*map(str, path), str(key)])!r}"
                         + (f" (did you mean {'.'.join([*map(str, path), near[0]])!r}?)" if near else ""))
        lines.append(f"  known keys{' of ' + where if where else ''}: {', '.join(known)}")
    else:
        message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        lines = [f"config: {where or 'the configuration'}: {message}", f"  value: {_short(error.instance)}"]
        description = " ".join(str(_node(schema, path).get("description") or "").split())
        if description:
            lines.append(f"  {where or 'config'}: {description}")
    lines.append(f"  (every key is described in {Path(schema_path).name}; in context in config/README.md)")
    return "\n".join(lines)
