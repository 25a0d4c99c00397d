# Evaluation: the science split held out of each paper source (a retrieval set, and what leaves training), one
# evaluate job per training run (DataComp's tasks and the science split; GPU job), and the runs compared.


rule heldout:
    input:
        subset=f"{RESULTS}/{{source}}/decontaminated.npy",
        converted=get_heldout_converted,
    output:
        subset=f"{RESULTS}/{{source}}/heldout.npy",
        set=directory(f"{RESULTS}/evalsets/wds_sciclip-{{source}}_test"),
        report=f"{RESULTS}/{{source}}/heldout.json",
    log:
        f"{RESULTS}/logs/{{source}}/heldout.log",
    conda:
        "../envs/core.yaml"
    params:
        shards=get_heldout_img2dataset,
        fraction=HELDOUT["fraction"],
        cap=HELDOUT["cap"],
    shell:
        "sciclip heldout --subset {input.subset:q} --img2dataset {params.shards:q} --source {wildcards.source} "
        "--fraction {params.fraction} --cap {params.cap} --out {output.subset:q} --set {output.set:q} "
        "--report {output.report:q} 2> {log:q}"


rule heldout_exclude:
    input:
        heldout=get_heldout_subsets,
        embeddings=get_all_embeddings,
    output:
        excluded=f"{RESULTS}/heldout/excluded.npy",
        report=f"{RESULTS}/heldout/report.json",
    log:
        f"{RESULTS}/logs/heldout_exclude.log",
    benchmark:
        f"{RESULTS}/benchmarks/heldout_exclude.tsv"
    conda:
        "../envs/decontaminate.yaml"
    params:
        embeddings=get_heldout_embedding_flags,
        threshold=get_threshold(),
    shell:
        "sciclip heldout-exclude --heldout {input.heldout:q} {params.embeddings} --threshold {params.threshold} "
        "--out {output.excluded:q} --report {output.report:q} 2> {log:q}"


rule evaluate:
    input:
        checkpoint=f"{RESULTS}/train/{{run}}/checkpoints/epoch_latest.pt",
        sets=get_eval_sets,
    output:
        f"{RESULTS}/experiments/{{run}}/eval_results.jsonl",
    log:
        f"{RESULTS}/logs/evaluate/{{run}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{run}}.tsv"
    wildcard_constraints:
        run=get_run_pattern(),
    conda:
        "../envs/evaluate.yaml"
    threads: EVALUATE["workers"] + 1
    params:
        model=get_run_model,
        roots=get_eval_roots(),
        tasks=get_eval_tasks(),
        flags=get_flags("evaluate", EVALUATE, exclude=("tasks", "data_root")),
    resources:
        gpu=get_eval_gpus(),
        mem_mb=EVALUATE["mem_mb"],
        runtime=EVALUATE["runtime"],
    shell:
        "sciclip evaluate --model {params.model:q} --checkpoint {input.checkpoint:q} --data-root {params.roots} "
        "--tasks {params.tasks} {params.flags} --out {output:q} 2> {log:q}"


rule experiments_table:
    input:
        results=get_eval_results,
    output:
        f"{RESULTS}/experiments/table.csv",
    log:
        f"{RESULTS}/logs/experiments_table.log",
    conda:
        "../envs/core.yaml"
    params:
        runs=get_run_flags,
    shell:
        "sciclip experiments-table {params.runs} --out {output:q} 2> {log:q}"
