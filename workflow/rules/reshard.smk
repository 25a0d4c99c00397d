# Final shards in DataComp's format: one output per source and mixed ones (config reshard.outputs).


rule merge_subsets:
    input:
        get_reshard_subsets,
    output:
        f"{RESULTS}/final/{{name}}.subset.npy",
    log:
        f"{RESULTS}/logs/reshard/{{name}}.merge.log",
    conda:
        "../envs/core.yaml"
    shell:
        "python -m sciclip subset --merge {input:q} --out {output:q} 2> {log:q}"


rule reshard:
    input:
        shards=get_reshard_inputs,
        subset=f"{RESULTS}/final/{{name}}.subset.npy",
    output:
        directory(f"{RESULTS}/final/{{name}}"),
    log:
        f"{RESULTS}/logs/reshard/{{name}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/reshard/{{name}}.tsv"
    conda:
        "../envs/core.yaml"
    threads: RESHARD["workers"]
    params:
        inputs=get_reshard_input_flags,
        shard_size=RESHARD["shard_size"],
    shell:
        "python -m sciclip reshard {params.inputs} -o {output:q} -s {input.subset:q} --shard-size {params.shard_size} "
        "-j {threads} --shard-format '{{:05d}}.tar' --shard-stats-format '{{:05d}}_stats.json' --overwrite 2> {log:q}"
