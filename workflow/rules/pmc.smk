# PubMed Central: one index rule (checkpoint) -> one download+extraction job per batch of articles.


checkpoint pmc_index:
    input:
        get_pmc_index_input,
    output:
        index=f"{RESULTS}/pmc/index.tsv",
        batches=f"{RESULTS}/pmc/batches.tsv",
    log:
        f"{RESULTS}/logs/pmc/index.log",
    conda:
        "../envs/download.yaml"
    params:
        source=get_pmc_source_flags(),
        flags=get_pmc_list_flags(),
    shell:
        "python -m sciclip pmc list {params.source} {params.flags} --out {output.index:q} "
        "--batches {output.batches:q} 2> {log:q}"


rule pmc_batch:
    input:
        index=f"{RESULTS}/pmc/index.tsv",
        batches=f"{RESULTS}/pmc/batches.tsv",  # which batches the unit holds (remote jobs read it)
    output:
        directory(f"{RESULTS}/pmc/shards/{{batch}}"),
    log:
        f"{RESULTS}/logs/pmc/batch/{{batch}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pmc/batch/{{batch}}.tsv"
    conda:
        "../envs/extract.yaml"
    threads: EXTRACT["threads"]
    params:
        source=get_pmc_source_flags(),
        extract=get_extract_flags(),
        jats=get_jats_flags(),
        batches=get_unit_batch_flags,
        downloads=f"{RESULTS}/pmc/downloads/{{batch}}",
    resources:
        downloads=1,
    shell:
        "python -m sciclip pmc batch {params.source} --index {input.index:q} {params.batches} --label {wildcards.batch} "
        "--downloads {params.downloads:q} {params.extract} {params.jats} --workers {threads} {output:q} 2> {log:q}"
