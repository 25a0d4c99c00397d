# Figures for `snakemake --report results/report.html`.


rule report_figures:
    input:
        stats=get_stats_files,
        shards=get_all_converted,
        scores=get_all_scored,
    output:
        report(f"{RESULTS}/report/caption_lengths.svg", category="Captions", caption="../report/caption_lengths.rst"),
        report(f"{RESULTS}/report/samples_per_unit.svg", category="Volume", caption="../report/samples_per_unit.rst"),
        report(f"{RESULTS}/report/skip_reasons.svg", category="Skips", caption="../report/skip_reasons.rst"),
        report(f"{RESULTS}/report/decontamination_scores.svg", category="Decontamination",
               caption="../report/decontamination_scores.rst"),
        report(f"{RESULTS}/report/samples.html", category="Samples", caption="../report/samples.rst"),
    log:
        f"{RESULTS}/logs/report_figures.log",
    conda:
        "../envs/report.yaml"
    params:
        sources=" ".join(SOURCES),
        threshold=get_report_threshold_flag(),
        out=get_report_dir,
        results=get_results_dir,
    shell:
        "sciclip report-figures --results {params.results:q} --out {params.out:q} --sources {params.sources} "
        "{params.threshold} 2> {log:q}"
