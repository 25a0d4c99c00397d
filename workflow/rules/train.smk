# CLIP training with OpenCLIP on the final shards, one job per run (experiments, or the train section's one run;
# GPU job; the tiny preset runs on the CPU).


rule train:
    input:
        get_train_data,
    output:
        checkpoint=f"{RESULTS}/train/{{run}}/checkpoints/epoch_latest.pt",
        summary=f"{RESULTS}/train/{{run}}/summary.json",
    log:
        f"{RESULTS}/logs/train/{{run}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train/{{run}}.tsv"
    wildcard_constraints:
        run=get_run_pattern(),
    conda:
        "../envs/train.yaml"
    threads: TRAIN["workers"] + 1
    params:
        flags=get_train_flags,
        logs=get_train_logs,
    resources:
        gpu=get_train_gpus(),
        mem_mb=TRAIN["mem_mb"],
        runtime=TRAIN["runtime"],
    shell:
        "sciclip train {input:q} --run {wildcards.run} --logs {params.logs:q} {params.flags} > {log:q} 2>&1"
