# sciclip: scientific papers -> clean image-text shards for CLIP training.
# Run: `snakemake --cores N` (demo config), `snakemake -n` to inspect, `snakemake --rulegraph | dot -Tsvg`.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from sciclip.config_check import (  # noqa: E402
    ConfigError,
    load_schema,
    missing_paths,
    typed_overrides,
    unfilled_placeholders,
    validate_config,
)


configfile: "config/config.yaml"


# --config values typed as --configfile types them; the schema fills in every default; an error is a few lines
# naming the key (not Snakemake's whole schema); then every configured local path, before anything runs
SCHEMA = Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
typed_overrides(config, workflow.config_settings.config_args)
try:
    validate_config(config, SCHEMA)
except ConfigError as e:
    raise WorkflowError(f"invalid configuration\n{e}") from None
_missing = missing_paths(config, load_schema(SCHEMA), built_under=[config["sample"]["outdir"]])
if _missing:
    raise WorkflowError("configured paths are missing\n" + "\n".join(_missing))
# a profile's <account>/<partition> left as they are would reach sbatch
_res = workflow.resource_settings
_placeholders = unfilled_placeholders({
    "default-resources": {k: r.raw for k, r in (_res.default_resources or {}).items()},
    **{f"set-resources {rule}": {k: r.raw for k, r in res.items()}
       for rule, res in (_res.overwrite_resources or {}).items()},
})
if _placeholders:
    raise WorkflowError(_placeholders)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/cc_common.smk"
include: "workflow/rules/commonpool_common.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/arxiv.smk"
include: "workflow/rules/pmc.smk"
include: "workflow/rules/cc.smk"
include: "workflow/rules/commonpool.smk"
include: "workflow/rules/sources.smk"
include: "workflow/rules/shards.smk"
include: "workflow/rules/curate.smk"
include: "workflow/rules/metadata.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/docs_common.smk"
include: "workflow/rules/docs.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        get_final_targets(),
        get_docs_targets(),
