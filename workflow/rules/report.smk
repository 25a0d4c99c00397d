# Figures for `snakemake --report results/report.html`: one category, so every result is one click from the
# menu, in reading order (the labels sort); the counts table is also on the landing page (workflow.rst).


rule report_figures:
    input:
        stats=get_stats_files,
        shards=get_all_converted,
        scores=get_all_scored,
        decontamination=get_decontamination_reports,
        final=get_final_dirs,
        sources=get_final_sources_records,
        eval_set=get_eval_set_listing,
    output:
        report(f"{RESULTS}/report/counts.html", category="Results", caption="../report/counts.rst",
               labels={"result": "1. counts: seen, skipped, removed, kept"}),
        report(f"{RESULTS}/report/samples.html", category="Results", caption="../report/samples.rst",
               labels={"result": "2. samples: final, and removed ones marked"}),
        report(f"{RESULTS}/report/caption_lengths.svg", category="Results", caption="../report/caption_lengths.rst",
               labels={"result": "3. caption lengths"}),
        report(f"{RESULTS}/report/samples_per_unit.svg", category="Results", caption="../report/samples_per_unit.rst",
               labels={"result": "4. samples per month / batch"}),
        report(f"{RESULTS}/report/skip_reasons.svg", category="Results", caption="../report/skip_reasons.rst",
               labels={"result": "5. skip reasons"}),
        report(f"{RESULTS}/report/decontamination_scores.svg", category="Results",
               caption="../report/decontamination_scores.rst", labels={"result": "6. decontamination scores"}),
    log:
        f"{RESULTS}/logs/report_figures.log",
    conda:
        "../envs/report.yaml"
    params:
        sources=" ".join(SOURCES),
        finals=" ".join(get_final_outputs()),
        threshold=get_report_threshold_flag(),
        eval_set=get_report_eval_flags,
        out=get_report_dir,
        results=get_results_dir,
    shell:
        "sciclip report-figures --results {params.results:q} --out {params.out:q} --sources {params.sources} "
        "--finals {params.finals} {params.threshold} {params.eval_set} 2> {log:q}"


rule report_training:
    input:
        get_train_records,
    output:
        report(f"{RESULTS}/report/training.html", category="Results", caption="../report/training.rst",
               labels={"result": "9. training: loss and recall"}),
    log:
        f"{RESULTS}/logs/report_training.log",
    conda:
        "../envs/report.yaml"
    params:
        records=get_train_record_flags,
    shell:
        "sciclip report-training {params.records} --out {output:q} 2> {log:q}"


rule report_corpus:
    input:
        stats=get_stats_files,
        metadata=get_all_metadata,
        near_dup=get_near_dup_report,
        variants=get_variant_reports,
        final=get_final_dirs,
    output:
        report(f"{RESULTS}/report/corpus.html", category="Results", caption="../report/corpus.rst",
               labels={"result": "7. corpus: figure kinds, near-duplicates, filtered variants"}),
        report(f"{RESULTS}/report/kinds.svg", category="Results", caption="../report/kinds.rst",
               labels={"result": "8. figure kinds per source"}),
    log:
        f"{RESULTS}/logs/report_corpus.log",
    conda:
        "../envs/report.yaml"
    params:
        sources=" ".join(SOURCES),
        variants=" ".join(n for n in get_final_outputs() if n in VARIANTS),
        out=get_report_dir,
        results=get_results_dir,
    shell:
        "sciclip report-corpus --results {params.results:q} --out {params.out:q} --sources {params.sources} "
        "--variants {params.variants} 2> {log:q}"


rule report_experiments:
    input:
        results=get_eval_results,
        table=f"{RESULTS}/experiments/table.csv",
    output:
        report(f"{RESULTS}/report/experiments.html", category="Results", caption="../report/experiments.rst",
               labels={"result": "9. experiments: each run on each task"}),
        report(f"{RESULTS}/report/experiments.svg", category="Results", caption="../report/experiments_diff.rst",
               labels={"result": "10. experiments: per-task difference to the first run"}),
    log:
        f"{RESULTS}/logs/report_experiments.log",
    conda:
        "../envs/report.yaml"
    params:
        runs=get_run_flags,
        roots=get_eval_roots(),
        out=get_report_dir,
    shell:
        "sciclip report-experiments {params.runs} --out {params.out:q} --data-root {params.roots} 2> {log:q}"
