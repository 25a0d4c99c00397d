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
    import copy

    from jsonschema import validators

    check_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        for name, subschema in properties.items():
            if "default" in subschema and isinstance(instance, dict) and name not in instance:
                # a copy: the schema's own default object (shared by every source through a YAML anchor) must
                # neither be filled in place nor become one dict seen under two sections
                instance[name] = copy.deepcopy(subschema["default"])
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
    validator = _with_defaults(Draft202012Validator)(schema)
    # a first pass fills the defaults: jsonschema checks "required" before "properties" sets them, so a section
    # left out would be refused for keys its defaults supply
    for _ in validator.iter_errors(config):
        pass
    errors = list(validator.iter_errors(config))
    if errors:
        raise ConfigError(describe(best_match(errors), schema, schema_path))
    cross_check(config)
    return config


def load_config_files(paths: list[str | os.PathLike]) -> dict:
    """The config files merged in order as ``snakemake --configfile A B`` merges them; a YAML mistake is one
    line naming the file, line and column (Snakemake's own message names none of them)."""
    import yaml

    config: dict = {}
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: {'is a directory' if path.is_dir() else 'no such file'} (a config file?)")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            raise ConfigError(f"{path}: {where}{e.problem or e}") from None
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: not YAML ({e})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: a config file holds keys (a mapping), not {type(data).__name__}")
        _merge(config, data)
    return config


def _merge(base: dict, new: dict) -> None:
    """Snakemake's update_config: nested mappings merge, everything else replaces."""
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v


def typed_overrides(config: dict, config_args) -> dict:
    """Give ``--config`` values the types ``--configfile`` gives them, in place.

    Snakemake parses a ``--config key=VALUE`` whose value is not a plain number or boolean with YAML's
    BaseLoader, so every scalar inside ``{...}`` or ``[...]`` stays a string: ``extract="{max_size: 256}"`` is
    ``'256'``, ``{half: true}`` is ``'true'``, ``{device: null}`` is ``'null'``. Each entry is read again with
    ``yaml.safe_load``, and a value is replaced where the config still holds exactly what BaseLoader made of
    it (so a value that arrived typed, through Snakemake's API, stays as it is)."""
    import yaml

    for entry in config_args or ():
        key, sep, raw = str(entry).partition("=")
        if not sep or key not in config or not raw:
            continue
        try:
            base = yaml.load(raw, Loader=yaml.BaseLoader)
            typed = yaml.safe_load(raw)
        except yaml.YAMLError:
            continue  # Snakemake kept it as a string; the schema names the key if that is wrong
        config[key] = _retype(config[key], base, typed)
    return config


def _retype(current, base, typed):
    if isinstance(current, dict) and isinstance(base, dict) and isinstance(typed, dict):
        for k, v in base.items():
            if k in current and k in typed:
                current[k] = _retype(current[k], v, typed[k])
        return current
    return typed if current == base else current


def unfilled_placeholders(resources: dict[str, dict]) -> str | None:
    """One line naming every resource still set to a profile's ``<...>`` placeholder (``<account>``,
    ``<partition>``), or None. ``resources`` maps where a setting comes from (``default-resources``,
    ``set-resources train``) to its raw values: a job submitted with them would be refused by SLURM, or land
    in a partition nobody chose."""
    left = [f"{name}={value} ({where})" for where, values in resources.items() for name, value in values.items()
            if isinstance(value, str) and value.strip().startswith("<") and value.strip().endswith(">")]
    if not left:
        return None
    return (f"profile: unfilled placeholders {', '.join(left)}: put your cluster's values into the profile "
            "(profiles/slurm/config.yaml), or pass them all: --default-resources slurm_partition=P "
            "slurm_account=A runtime=60 mem_mb=4000 disk_mb=1000 cpus_per_task=2")


# When the workflow reads a configured path (a key's dotted prefix; the first that matches decides): a path of
# a branch that is off, or one another key replaces, is not checked.
PATH_NEEDED = {
    "arxiv": lambda c: c["arxiv"]["enabled"],
    "pmc": lambda c: c["pmc"]["enabled"],
    "cc.metadata_build": lambda c: c["cc"]["enabled"] and not c["cc"]["metadata"],
    "cc": lambda c: c["cc"]["enabled"],
    "decontamination.weights": lambda c: c["decontamination"]["descriptor"] == "yokoo" and (
        c["decontamination"]["enabled"] or c["curate"]["near_dup"]["enabled"]),
    "decontamination.eval_images": lambda c: c["decontamination"]["enabled"] and not c["decontamination"][
        "eval_embeddings"],
    "decontamination": lambda c: c["decontamination"]["enabled"],
    "metadata": lambda c: c["metadata"]["enabled"],
    "curate": lambda c: c["metadata"]["enabled"],  # the filters read the metadata
    "train": lambda c: c["train"]["enabled"],
    "docs.web": lambda c: c["docs"]["enabled"] and c["docs"]["web"]["enabled"],
    "docs": lambda c: c["docs"]["enabled"],
    "commonpool": lambda c: c["commonpool"]["enabled"],
    "evaluate": lambda c: c["evaluate"]["enabled"] and bool(c["evaluate"]["tasks"]),
}
_CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".tar", ".ckpt")


def missing_paths(config: dict, schema: dict, built_under: list[str | os.PathLike] = ()) -> list[str]:
    """One line per configured local path that does not exist (or is a file where a folder belongs, or the
    reverse), for every key the schema marks with ``x-path``; checked when the workflow starts so that a
    typo fails before any download is paid for. Paths below ``built_under`` (the sample folder the workflow
    writes) and URLs are not checked; nor are the paths of branches that are off (``PATH_NEEDED``)."""
    built = [Path(b).resolve() for b in built_under]
    lines: list[str] = []
    for where, kind, value in _path_values(config, schema, []):
        if not _needed(config, where):
            continue
        path = _local_path(kind, value)
        if path is None or any(_below(path, b) for b in built):
            continue
        problem = _path_problem(path, "file" if kind in ("file", "checkpoint") else "dir")
        if problem:
            lines.append(f"config: {where}: {value}: {problem}")
    return lines


def _path_values(value, node: dict, path: list):
    """(dotted key, x-path kind, value) of every marked value in ``value``, following ``node``."""
    kind = node.get("x-path")
    if kind:
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and v:
                yield ".".join(path), kind, v
        return
    if isinstance(value, dict):
        props = node.get("properties") or {}
        extra = node.get("additionalProperties")
        for k, v in value.items():
            sub = props.get(k, extra if isinstance(extra, dict) else None)
            if sub:
                yield from _path_values(v, sub, [*path, str(k)])
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for v in value:
            yield from _path_values(v, node["items"], path)


def _needed(config: dict, where: str) -> bool:
    parts = where.split(".")
    for n in range(len(parts), 0, -1):
        rule = PATH_NEEDED.get(".".join(parts[:n]))
        if rule:
            try:
                return bool(rule(config))
            except (KeyError, TypeError):
                return True
    return True


def _local_path(kind: str, value: str) -> Path | None:
    """The local path a value names, or None (a URL, a model name, a pretrained tag)."""
    if kind == "model":
        if not value.startswith("local-dir:"):
            return None  # an OpenCLIP model name
        value = value.removeprefix("local-dir:")
    if kind == "checkpoint" and "/" not in value and not value.endswith(_CHECKPOINT_SUFFIXES):
        return None  # a pretrained tag (openai, laion2b_s34b_b79k)
    if value.startswith("file://"):
        value = value.removeprefix("file://")
    elif "://" in value:
        return None
    if kind == "pattern":  # a brace pattern of shards: its folder must be there
        value = str(Path(value.split("{", 1)[0] + "x").parent)
    return Path(value).expanduser()


def _below(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except ValueError:
        return False


def _path_problem(path: Path, want: str) -> str | None:
    if not path.exists():
        return "no such " + ("file" if want == "file" else "directory")
    if want == "file" and path.is_dir():
        return "is a directory, not a file"
    if want == "dir" and not path.is_dir():
        return "is a file, not a directory"
    return None


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
