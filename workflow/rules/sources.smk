# The per-unit rules every source shares: cut the member list into units (one checkpoint per source), extract
# each unit (one job), sum the units' statistics. What differs per source is declared in its rule file.


checkpoint units:
    input:
        get_members_file,
    output:
        f"{RESULTS}/{{source}}/units.tsv",
    log:
        f"{RESULTS}/logs/{{source}}/units.log",
    conda:
        "../envs/core.yaml"
    params:
        per_unit=get_members_per_unit,
    shell:
        "sciclip units --members {input:q} --members-per-unit {params.per_unit} --out {output:q} 2> {log:q}"


rule extract:
    input:
        unpack(get_unit_inputs),
    output:
        directory(f"{RESULTS}/{{source}}/shards/{{unit}}"),
    log:
        f"{RESULTS}/logs/{{source}}/extract/{{unit}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{source}}/extract/{{unit}}.tsv"
    conda:
        "../envs/extract.yaml"
    threads: EXTRACT["workers"]
    params:
        flags=get_unit_flags,
    resources:
        downloads=get_unit_downloads,
    shell:
        "sciclip {wildcards.source} unit --units {input.units:q} --unit {wildcards.unit} {params.flags} "
        "--workers {threads} {output:q} 2> {log:q}"


rule stats:
    input:
        get_unit_shard_dirs,
    output:
        f"{RESULTS}/stats/{{source}}.json",
    log:
        f"{RESULTS}/logs/stats/{{source}}.log",
    conda:
        "../envs/core.yaml"
    shell:
        "sciclip stats {input:q} --source {wildcards.source} --out {output:q} > {log:q} 2>&1"
