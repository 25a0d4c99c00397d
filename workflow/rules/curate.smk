# Curation, one job per tail unit: descriptors, scores against the evaluation set, the contamination filter;
# then one gather job per source removes exact duplicates across the source with bounded memory (hash
# partitions) and writes the decontaminated subset.


# The evaluation set's files listed with sizes and sha256: reruns when the set's names, sizes or times change
# (params), so a replaced image reruns embed_eval and everything after it.
rule eval_set:
    input:
        get_eval_input,
    output:
        f"{RESULTS}/decontamination/eval_set.tsv",
    log:
        f"{RESULTS}/logs/decontamination/eval_set.log",
    conda:
        "../envs/core.yaml"
    params:
        flags=get_eval_set_flags(),
        fingerprint=get_eval_fingerprint,
    shell:
        "sciclip eval-set {params.flags} --out {output:q} 2> {log:q}"


rule embed_eval:
    input:
        f"{RESULTS}/decontamination/eval_set.tsv",
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
        plan=f"{RESULTS}/{{source}}/img2dataset.plan.json",
        converted=f"{RESULTS}/{{source}}/img2dataset.units/{{tunit}}.json",
    output:
        get_kept(directory(f"{RESULTS}/{{source}}/embeddings/{{tunit}}"), DECON["keep_embeddings"]),
    log:
        f"{RESULTS}/logs/{{source}}/embed/{{tunit}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{source}}/embed/{{tunit}}.tsv"
    conda:
        "../envs/decontaminate.yaml"
    params:
        shards=get_img2dataset_dir,
        flags=get_flags("embed", DECON),
    threads: DECON["workers"] + 1
    resources:
        gpu=get_embed_resources(),
    shell:
        "sciclip embed {params.shards:q} --plan {input.plan:q} --unit {wildcards.tunit} {params.flags} "
        "--out {output:q} 2> {log:q}"


rule score:
    input:
        plan=f"{RESULTS}/{{source}}/img2dataset.plan.json",
        converted=f"{RESULTS}/{{source}}/img2dataset.units/{{tunit}}.json",
        embeddings=f"{RESULTS}/{{source}}/embeddings/{{tunit}}",
        eval=f"{RESULTS}/decontamination/eval_{DECON['descriptor']}.npz",
    output:
        f"{RESULTS}/{{source}}/scores.units/{{tunit}}.json",
    log:
        f"{RESULTS}/logs/{{source}}/score/{{tunit}}.log",
    conda:
        "../envs/decontaminate.yaml"
    params:
        shards=get_img2dataset_dir,
        scores=get_scores_dir,
        threshold=get_threshold(),
    shell:
        "sciclip score {params.shards:q} --plan {input.plan:q} --unit {wildcards.tunit} "
        "--embeddings {input.embeddings:q} --eval {input.eval:q} --out {params.scores:q} --report {output:q} "
        "--threshold {params.threshold} 2> {log:q}"


rule filter:
    input:
        plan=f"{RESULTS}/{{source}}/img2dataset.plan.json",
        converted=f"{RESULTS}/{{source}}/img2dataset.units/{{tunit}}.json",
        scored=get_unit_scored,
    output:
        temp(directory(f"{RESULTS}/{{source}}/filtered/{{tunit}}")),
    log:
        f"{RESULTS}/logs/{{source}}/filter/{{tunit}}.log",
    conda:
        "../envs/core.yaml"
    params:
        shards=get_img2dataset_dir,
        scores=get_filter_scores_flags,
        flags=get_flags("filter", DECON),
    shell:
        "sciclip filter {params.shards:q} --plan {input.plan:q} --unit {wildcards.tunit} {params.scores} "
        "{params.flags} --out {output:q} 2> {log:q}"


rule subset:
    input:
        plan=f"{RESULTS}/{{source}}/img2dataset.plan.json",
        filtered=get_filtered_dirs,
    output:
        subset=f"{RESULTS}/{{source}}/decontaminated.npy",
        report=f"{RESULTS}/{{source}}/decontamination.json",
    log:
        f"{RESULTS}/logs/{{source}}/subset.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{source}}/subset.tsv"
    conda:
        "../envs/core.yaml"
    params:
        threshold=get_subset_threshold,
        dedup=get_subset_dedup_flag,
    shell:
        "sciclip subset --filtered {input.filtered:q} --plan {input.plan:q} --threshold {params.threshold} "
        "{params.dedup} --report {output.report:q} --out {output.subset:q} 2> {log:q}"
