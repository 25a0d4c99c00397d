# Per-source statistics: job counters summed, caption lengths read back from the shards.


rule arxiv_stats:
    input:
        get_arxiv_shard_dirs,
    output:
        f"{RESULTS}/stats/arxiv.json",
    log:
        f"{RESULTS}/logs/stats/arxiv.log",
    conda:
        "../envs/core.yaml"
    shell:
        "python -m sciclip stats {input:q} --source arxiv --out {output:q} > {log:q} 2>&1"


rule pmc_stats:
    input:
        get_pmc_shard_dirs,
    output:
        f"{RESULTS}/stats/pmc.json",
    log:
        f"{RESULTS}/logs/stats/pmc.log",
    conda:
        "../envs/core.yaml"
    shell:
        "python -m sciclip stats {input:q} --source pmc --out {output:q} > {log:q} 2>&1"
