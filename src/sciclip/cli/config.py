"""``sciclip config-check``: the workflow's start-up checks of a configuration, before Snakemake reads it.

Snakemake reports a YAML mistake in a config file without naming the file; this names the file, line and
column, then runs what the workflow runs when it starts: the schema (defaults filled in, a wrong key named)
and every configured local path.
"""

from __future__ import annotations

from pathlib import Path

from sciclip.cli.common import say
from sciclip.errors import SciclipError

SCHEMA = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"


def cmd_config_check(args) -> int:
    from sciclip.config_check import load_config_files, load_schema, missing_paths, validate_config

    schema = Path(args.schema)
    if not schema.is_file():
        raise SciclipError(f"{schema}: no such file (give the workflow's schema with --schema)")
    config = load_config_files(args.configfile)
    validate_config(config, schema)
    missing = missing_paths(config, load_schema(schema), built_under=[config["sample"]["outdir"]])
    if missing:
        raise SciclipError("configured paths are missing\n" + "\n".join(missing))
    say(f"config OK: {' + '.join(args.configfile)} (schema, defaults, local paths)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("config-check", help="check config files as the workflow does when it starts (YAML mistakes "
                                            "named by file and line, the schema, local paths)")
    p.add_argument("configfile", nargs="+", help="config files, merged in this order (as snakemake --configfile)")
    p.add_argument("--schema", default=str(SCHEMA),
                   help="the workflow's config schema (default: %(default)s)")
    p.set_defaults(func=cmd_config_check)
