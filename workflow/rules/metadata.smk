# DataComp metadata per tail unit (CLIP scores, embeddings, figure kinds; results/{source}/metadata/), in-corpus
# near-duplicates across every source (one gather job over the decontamination descriptors), and the filtered
# variants of final outputs (curate.filters: a subset per variant, resharded by the reshard rule).


rule sample_model:
    output:
        f"{SAMPLE_DIR}/models/{{model}}/open_clip_model.safetensors",
    log:
        f"{RESULTS}/logs/sample_model/{{model}}.log",
    conda:
        "../envs/metadata.yaml"
    params:
        seed=get_sample_model_seed,
        out=get_sample_model_dir,
    shell:
        "sciclip tiny-clip {params.out:q} --seed {params.seed} 2> {log:q}"


rule metadata:
    input:
        plan=f"{RESULTS}/{{source}}/img2dataset.plan.json",
        converted=f"{RESULTS}/{{source}}/img2dataset.units/{{tunit}}.json",
        models=get_metadata_model_files,
        pool=get_metadata_pool_inputs,
    output:
        f"{RESULTS}/{{source}}/metadata.units/{{tunit}}.json",
    log:
        f"{RESULTS}/logs/{{source}}/metadata/{{tunit}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{source}}/metadata/{{tunit}}.tsv"
    conda:
        "../envs/metadata.yaml"
    params:
        shards=get_img2dataset_dir,
        out=get_metadata_dir,
        flags=get_metadata_flags(),
        pool=get_metadata_pool_flags,
    threads: METADATA["workers"] + 1
    resources:
        gpu=get_metadata_gpus(),
    shell:
        "sciclip metadata {params.shards:q} --plan {input.plan:q} --unit {wildcards.tunit} {params.flags} "
        "{params.pool} --out {params.out:q} --report {output:q} 2> {log:q}"


rule near_dup:
    input:
        get_near_dup_inputs,
    output:
        removed=f"{RESULTS}/near_dup/removed.npy",
        report=f"{RESULTS}/near_dup/report.json",
        pairs=f"{RESULTS}/near_dup/pairs.parquet",
    log:
        f"{RESULTS}/logs/near_dup.log",
    benchmark:
        f"{RESULTS}/benchmarks/near_dup.tsv"
    conda:
        "../envs/metadata.yaml"
    params:
        sources=get_near_dup_flags,
        threshold=get_near_dup_threshold(),
        probes=NEAR_DUP["probes"],
    shell:
        "sciclip near-dup {params.sources} --threshold {params.threshold} --probes {params.probes} "
        "--out {output.removed:q} --report {output.report:q} --pairs {output.pairs:q} 2> {log:q}"


rule variant_subset:
    input:
        base=get_variant_base,
        metadata=get_variant_metadata,
        near_dup=get_variant_near_dup,
    output:
        subset=f"{RESULTS}/final/{{name}}.subset.npy",
        report=f"{RESULTS}/final/{{name}}.filters.json",
    log:
        f"{RESULTS}/logs/reshard/{{name}}.select.log",
    wildcard_constraints:
        name=get_variant_pattern(),
    conda:
        "../envs/metadata.yaml"
    params:
        flags=get_variant_flags,
    shell:
        "sciclip select {params.flags} --out {output.subset:q} --report {output.report:q} "
        "2> {log:q}"
