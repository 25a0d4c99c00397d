# Common Crawl, curated the MetaCLIP way: the crawl index -> the selected files (members) -> per unit: fetch, pool
# (parse + match) -> gather (cross-file dedup masks, pool counts) -> per unit: download (balancing with t_download,
# img2dataset) -> counts of the downloaded pool -> the shared unit rules (sources.smk): final balancing with t into
# shards + stats.json; then the shared tail like every source.
MEMBERS["cc"] = f"{RESULTS}/cc/files.tsv"
UNIT_INPUTS["cc"] = {"downloads": f"{RESULTS}/cc/downloads/{{unit}}", "counts": f"{RESULTS}/cc/downloaded_counts.npy"}


rule cc_list:
    input:
        get_cc_sample_input(),
    output:
        MEMBERS["cc"],
    log:
        f"{RESULTS}/logs/cc/list.log",
    conda:
        "../envs/cc.yaml"
    params:
        flags=get_flags("cc list", CC),
    shell:
        "sciclip cc list {params.flags} --out {output:q} 2> {log:q}"


rule cc_metadata:
    input:
        get_cc_sample_input(),
    output:
        CC_METADATA,
    log:
        f"{RESULTS}/logs/cc/metadata.log",
    conda:
        "../envs/cc.yaml"
    params:
        flags=get_flags("cc metadata", CC),
    shell:
        "sciclip cc metadata {params.flags} --out {output:q} 2> {log:q}"


rule cc_fetch:
    input:
        # ancient: selecting more files later must not make the ones already fetched stale
        selection=ancient(MEMBERS["cc"]),
        units=ancient(f"{RESULTS}/cc/units.tsv"),
    output:
        get_kept(directory(f"{RESULTS}/cc/crawl/{{unit}}"), CC["keep_files"]),
    log:
        f"{RESULTS}/logs/cc/fetch/{{unit}}.log",
    conda:
        "../envs/cc.yaml"
    params:
        flags=get_flags("cc fetch", CC),
    resources:
        downloads=1,
    shell:
        "sciclip cc fetch {params.flags} --selection {input.selection:q} --units {input.units:q} --unit {wildcards.unit} "
        "--out-dir {output:q} 2> {log:q}"


rule cc_pool:
    input:
        files=f"{RESULTS}/cc/crawl/{{unit}}",
        selection=MEMBERS["cc"],
        units=f"{RESULTS}/cc/units.tsv",
        metadata=CC_METADATA,
    output:
        pool=f"{RESULTS}/cc/matched/{{unit}}.parquet",
        summary=f"{RESULTS}/cc/matched/{{unit}}.json",
    log:
        f"{RESULTS}/logs/cc/pool/{{unit}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/cc/pool/{{unit}}.tsv"
    conda:
        "../envs/cc.yaml"
    threads: EXTRACT["workers"]
    params:
        flags=get_flags("cc pool", CC, exclude=("metadata",)),
    shell:
        "sciclip cc pool --selection {input.selection:q} --units {input.units:q} --unit {wildcards.unit} "
        "--inputs {input.files:q} --metadata {input.metadata:q} {params.flags} --workers {threads} "
        "--out {output.pool:q} --summary {output.summary:q} 2> {log:q}"


rule cc_gather:
    input:
        matched=get_cc_matched,
        metadata=CC_METADATA,
    output:
        directory(f"{RESULTS}/cc/pool"),
    log:
        f"{RESULTS}/logs/cc/gather.log",
    benchmark:
        f"{RESULTS}/benchmarks/cc/gather.tsv"
    conda:
        "../envs/cc.yaml"
    params:
        flags=get_flags("cc gather", CC, EXTRACT, exclude=("metadata",)),
    shell:
        "sciclip cc gather {input.matched:q} --metadata {input.metadata:q} {params.flags} --out-dir {output:q} 2> {log:q}"


rule cc_download:
    input:
        matched=f"{RESULTS}/cc/matched/{{unit}}.parquet",
        pool=f"{RESULTS}/cc/pool",
        units=f"{RESULTS}/cc/units.tsv",
    output:
        get_kept(directory(f"{RESULTS}/cc/downloads/{{unit}}"), CC["keep_downloads"]),
    log:
        f"{RESULTS}/logs/cc/download/{{unit}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/cc/download/{{unit}}.tsv"
    conda:
        "../envs/cc.yaml"
    threads: CC["images"]["image_processes"]
    params:
        flags=get_flags("cc download", CC, EXTRACT, exclude=("metadata",)),
    resources:
        downloads=1,
    shell:
        "sciclip cc download --units {input.units:q} --unit {wildcards.unit} --matched {input.matched:q} "
        "--pool {input.pool:q} {params.flags} --out-dir {output:q} 2> {log:q}"


rule cc_counts:
    input:
        get_cc_downloads,
    output:
        UNIT_INPUTS["cc"]["counts"],
    log:
        f"{RESULTS}/logs/cc/counts.log",
    conda:
        "../envs/cc.yaml"
    shell:
        "sciclip cc counts {input:q} --out {output:q} 2> {log:q}"
