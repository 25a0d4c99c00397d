# img2dataset conversion, descriptors, scores against the evaluation set, and the decontaminated subset.


rule convert:
    input:
        get_source_shard_dirs,
    output:
        directory(f"{RESULTS}/{{source}}/img2dataset"),
    log:
        f"{RESULTS}/logs/convert/{{source}}.log",
    conda:
        "../envs/core.yaml"
    params:
        per_shard=config["img2dataset"]["samples_per_shard"],
    shell:
        "python -m sciclip convert {input:q} --out {output:q} --samples-per-shard {params.per_shard} 2> {log:q}"


rule embed_eval:
    input:
        get_eval_input,
    output:
        f"{RESULTS}/decontamination/eval_{DECON['descriptor']}.npz",
    log:
        f"{RESULTS}/logs/decontamination/embed_eval.log",
    conda:
        "../envs/decontaminate.yaml"
    params:
        source=get_eval_flags(),
        embed=get_embed_flags(),
    resources:
        gpu=get_embed_resources(),
    shell:
        "python -m sciclip embed-eval {params.source} {params.embed} --out {output:q} 2> {log:q}"


rule embed:
    input:
        f"{RESULTS}/{{source}}/img2dataset",
    output:
        f"{RESULTS}/{{source}}/embeddings_{DECON['descriptor']}.npz",
    log:
        f"{RESULTS}/logs/decontamination/embed_{{source}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/decontamination/embed_{{source}}.tsv"
    conda:
        "../envs/decontaminate.yaml"
    params:
        embed=get_embed_flags(),
    threads: DECON["workers"] + 1
    resources:
        gpu=get_embed_resources(),
    shell:
        "python -m sciclip embed {input:q} {params.embed} --out {output:q} 2> {log:q}"


rule score:
    input:
        shards=f"{RESULTS}/{{source}}/img2dataset",
        embeddings=f"{RESULTS}/{{source}}/embeddings_{DECON['descriptor']}.npz",
        eval=f"{RESULTS}/decontamination/eval_{DECON['descriptor']}.npz",
    output:
        directory(f"{RESULTS}/{{source}}/scores"),
    log:
        f"{RESULTS}/logs/decontamination/score_{{source}}.log",
    conda:
        "../envs/decontaminate.yaml"
    shell:
        "python -m sciclip score {input.shards:q} --embeddings {input.embeddings:q} --eval {input.eval:q} "
        "--out {output:q} 2> {log:q}"


rule subset:
    input:
        shards=f"{RESULTS}/{{source}}/img2dataset",
        scores=get_subset_scores,
    output:
        subset=f"{RESULTS}/{{source}}/decontaminated.npy",
        report=f"{RESULTS}/{{source}}/decontamination.json",
    log:
        f"{RESULTS}/logs/decontamination/subset_{{source}}.log",
    conda:
        "../envs/core.yaml"
    params:
        flags=get_subset_flags,
    shell:
        "python -m sciclip subset --input {input.shards:q} {params.flags} --report {output.report:q} "
        "--out {output.subset:q} 2> {log:q}"
