# Shard-level rules: img2dataset conversion, final shards in DataComp's format (one output per source and
# mixed ones, config reshard.outputs), healing foreign shards.


rule convert:
    input:
        get_unit_shard_dirs,
    output:
        directory(f"{RESULTS}/{{source}}/img2dataset"),
    log:
        f"{RESULTS}/logs/convert/{{source}}.log",
    conda:
        "../envs/core.yaml"
    params:
        flags=get_flags("convert", config["img2dataset"]),
    shell:
        "sciclip convert {input:q} --out {output:q} {params.flags} 2> {log:q}"


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
        "sciclip subset --merge {input:q} --out {output:q} 2> {log:q}"


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
        flags=get_flags("reshard", RESHARD),
    shell:
        "sciclip reshard {params.inputs} -o {output:q} -s {input.subset:q} {params.flags} "
        "-j {threads} --shard-format '{{:05d}}.tar' --shard-stats-format '{{:05d}}_stats.json' --overwrite 2> {log:q}"


# Heal foreign WebDataset shards (config heal.inputs: name -> directory); target results/healed/{name}.
rule heal:
    input:
        get_heal_input,
    output:
        directory(f"{RESULTS}/healed/{{name}}"),
    log:
        f"{RESULTS}/logs/heal/{{name}}.log",
    conda:
        "../envs/core.yaml"
    shell:
        "sciclip heal {input:q} --out {output:q} 2> {log:q}"
