# sciclip: scientific papers -> clean image-text shards for CLIP training.
# Run: `snakemake --cores N` (demo config), `snakemake -n` to inspect, `snakemake --rulegraph | dot -Tsvg`.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml", set_default=True)


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
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        get_final_targets(),
