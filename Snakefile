# sciclip: scientific papers -> clean image-text shards for CLIP training.
# Run: `snakemake --cores N` (demo config), `snakemake -n` to inspect, `snakemake --rulegraph | dot -Tsvg`.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")
sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from sciclip.config_check import ConfigError, validate_config  # noqa: E402


configfile: "config/config.yaml"


# the schema fills in every default; an error is a few lines naming the key (not Snakemake's whole schema)
try:
    validate_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
except ConfigError as e:
    raise WorkflowError(f"invalid configuration\n{e}") from None


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/cc_common.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/arxiv.smk"
include: "workflow/rules/pmc.smk"
include: "workflow/rules/cc.smk"
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
