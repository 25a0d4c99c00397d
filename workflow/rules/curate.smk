# Curation: descriptors, scores against the evaluation set, and the decontaminated, de-duplicated subset.


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
        flags=get_eval_flags(),
    resources:
        gpu=get_embed_resources(),
    shell:
        "sciclip embed-eval {params.flags} --out {output:q} 2> {log:q}"


rule embed:
    input:
        f"{RESULTS}/{{source}}/img2dataset",
    output:
        get_kept(f"{RESULTS}/{{source}}/embeddings_{DECON['descriptor']}.npz", DECON["keep_embeddings"]),
    log:
        f"{RESULTS}/logs/decontamination/embed_{{source}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/decontamination/embed_{{source}}.tsv"
    conda:
        "../envs/decontaminate.yaml"
    params:
        flags=get_flags("embed", DECON),
    threads: DECON["workers"] + 1
    resources:
        gpu=get_embed_resources(),
    shell:
        "sciclip embed {input:q} {params.flags} --out {output:q} 2> {log:q}"


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
        "sciclip score {input.shards:q} --embeddings {input.embeddings:q} --eval {input.eval:q} "
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
        "sciclip subset --input {input.shards:q} {params.flags} --report {output.report:q} "
        "--out {output.subset:q} 2> {log:q}"
