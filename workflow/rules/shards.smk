# Shard-level rules: img2dataset conversion (a small plan per source, then one job per tail unit writing its
# range of shards into results/{source}/img2dataset/), final shards in DataComp's format (one output per
# source and mixed ones, config reshard.outputs; the science split held out of all of them), healing foreign
# shards.


checkpoint convert_plan:
    input:
        get_unit_shard_dirs,
    output:
        f"{RESULTS}/{{source}}/img2dataset.plan.json",
    log:
        f"{RESULTS}/logs/{{source}}/convert_plan.log",
    conda:
        "../envs/core.yaml"
    params:
        flags=get_flags("convert-plan", config["img2dataset"]),
    shell:
        "sciclip convert-plan {input:q} {params.flags} --out {output:q} 2> {log:q}"


rule convert:
    input:
        plan=f"{RESULTS}/{{source}}/img2dataset.plan.json",
        shards=get_convert_inputs,
    output:
        f"{RESULTS}/{{source}}/img2dataset.units/{{tunit}}.json",
    log:
        f"{RESULTS}/logs/{{source}}/convert/{{tunit}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{source}}/convert/{{tunit}}.tsv"
    conda:
        "../envs/core.yaml"
    params:
        out=get_img2dataset_dir,
    shell:
        "sciclip convert --plan {input.plan:q} --unit {wildcards.tunit} --out {params.out:q} --report {output:q} "
        "2> {log:q}"


rule merge_subsets:
    input:
        subsets=get_reshard_subsets,
        exclude=get_heldout_exclusion,
    output:
        subset=f"{RESULTS}/final/{{name}}.subset.npy",
        sources=f"{RESULTS}/final/{{name}}.sources.json",
    log:
        f"{RESULTS}/logs/reshard/{{name}}.merge.log",
    wildcard_constraints:
        name=get_base_pattern(),
    conda:
        "../envs/core.yaml"
    params:
        sources=get_output_source_names,
        configured=get_configured_source_names,
        exclude=get_exclude_flag,
    shell:
        "sciclip subset --merge {input.subsets:q} {params.exclude} --out {output.subset:q} --sources {params.sources} "
        "--configured {params.configured} --sources-out {output.sources:q} 2> {log:q}"


rule reshard:
    input:
        converted=get_reshard_converted,
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
        "-j {threads} --overwrite 2> {log:q}"


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
