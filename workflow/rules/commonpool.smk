# DataComp's CommonPool: the pool's metadata parquets (a Hugging Face dataset or a folder) -> the member list ->
# per unit of consecutive parquets: its metadata files, then its images with img2dataset as DataComp downloads
# them (retry rounds of what failed, if asked) -> the shared unit rules (sources.smk): shards with the pool's
# uid + stats.json (dead links counted by reason); then the shared tail like every source.
MEMBERS["commonpool"] = f"{RESULTS}/commonpool/parquets.tsv"
UNIT_INPUTS["commonpool"] = {"downloads": get_commonpool_attempts()}


rule commonpool_list:
    input:
        get_commonpool_sample_input(),
    output:
        MEMBERS["commonpool"],
    log:
        f"{RESULTS}/logs/commonpool/list.log",
    conda:
        "../envs/commonpool.yaml"
    params:
        flags=get_flags("commonpool list", CP),
    shell:
        "sciclip commonpool list {params.flags} --out {output:q} 2> {log:q}"


rule commonpool_download:
    input:
        # ancient: listing more parquets later must not make the units already downloaded stale
        members=ancient(MEMBERS["commonpool"]),
        units=ancient(f"{RESULTS}/commonpool/units.tsv"),
        sample=get_commonpool_sample_input(),
    output:
        pool=directory(CP_POOL),
        downloads=get_kept(directory(CP_DOWNLOADS), CP["keep_downloads"]),
    log:
        f"{RESULTS}/logs/commonpool/download/{{unit}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/commonpool/download/{{unit}}.tsv"
    conda:
        "../envs/commonpool.yaml"
    threads: CP["images"]["image_processes"]
    params:
        flags=get_flags("commonpool download", CP),
    resources:
        downloads=1,
    shell:
        "sciclip commonpool download {params.flags} --members {input.members:q} --units {input.units:q} "
        "--unit {wildcards.unit} --pool-dir {output.pool:q} --out-dir {output.downloads:q} 2> {log:q}"


rule commonpool_retry:
    input:
        attempts=get_commonpool_earlier_attempts,
        sample=get_commonpool_sample_input(),
    output:
        get_kept(directory(CP_RETRIES), CP["keep_downloads"]),
    log:
        f"{RESULTS}/logs/commonpool/retry/{{round}}/{{unit}}.log",
    conda:
        "../envs/commonpool.yaml"
    threads: CP["images"]["image_processes"]
    params:
        flags=get_flags("commonpool retry", CP),
    resources:
        downloads=1,
    shell:
        "sciclip commonpool retry {input.attempts:q} {params.flags} --out-dir {output:q} 2> {log:q}"
