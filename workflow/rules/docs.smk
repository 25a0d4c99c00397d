# Interleaved image-text documents (OBELICS layout): one job per unit of a paper source (the same units as the
# pair extraction), one per WARC file for web pages followed by the cross-document dedup; then every document
# image is described (one job per unit, as the pairs' embed), one gather job decides which images leave (near
# duplicates of evaluation images, images repeated in too many documents) and one job per folder removes them
# (results/docs/{source}/clean/): per-source stats and a page of documents and removed images for the report.
# Off unless docs.enabled. Helpers: docs_common.smk.


rule docs_unit:
    input:
        unpack(get_docs_unit_inputs),
    output:
        directory(f"{RESULTS}/docs/{{source}}/units/{{unit}}"),
    log:
        f"{RESULTS}/logs/docs/{{source}}/{{unit}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/docs/{{source}}/{{unit}}.tsv"
    conda:
        "../envs/docs.yaml"
    threads: EXTRACT["workers"]
    params:
        flags=get_docs_unit_flags,
    resources:
        downloads=get_docs_unit_downloads,
    shell:
        "sciclip docs unit --source {wildcards.source} --units {input.units:q} --unit {wildcards.unit} "
        "{params.flags} --workers {threads} {output:q} 2> {log:q}"


rule docs_web_unit:
    input:
        get_docs_web_warc_input,
    output:
        directory(f"{RESULTS}/docs/web/units/{{warc}}"),
    log:
        f"{RESULTS}/logs/docs/web/{{warc}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/docs/web/{{warc}}.tsv"
    wildcard_constraints:
        warc=r"[A-Za-z0-9_.\-]+",
    conda:
        "../envs/docs.yaml"
    threads: EXTRACT["workers"]
    params:
        warc=get_docs_web_warc,
        flags=get_docs_web_flags(),
    resources:
        downloads=1,
    shell:
        "sciclip docs web {params.warc:q} {output:q} {params.flags} --workers {threads} 2> {log:q}"


rule docs_web_dedup:
    input:
        get_docs_web_unit_dirs,
    output:
        directory(f"{RESULTS}/docs/web/dedup"),
    log:
        f"{RESULTS}/logs/docs/web/dedup.log",
    conda:
        "../envs/docs.yaml"
    params:
        flags=get_docs_dedup_flags(),
    shell:
        "sciclip docs dedup {input:q} --out {output:q} {params.flags} 2> {log:q}"


rule docs_embed:
    input:
        docs=get_docs_embed_input,
        eval=get_docs_eval,
    output:
        get_kept(directory(f"{RESULTS}/docs/{{source}}/descriptors/{{unit}}"), DECON["keep_embeddings"]),
    log:
        f"{RESULTS}/logs/docs/{{source}}/embed/{{unit}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/docs/{{source}}/embed/{{unit}}.tsv"
    wildcard_constraints:
        source="arxiv|pmc|web",
    conda:
        "../envs/decontaminate.yaml"
    threads: DECON["workers"] + 1
    params:
        eval=get_docs_eval_flag,
        flags=get_flags("docs embed", DECON),
    resources:
        gpu=get_embed_resources(),
    shell:
        "sciclip docs embed {input.docs:q} {params.eval} {params.flags} --out {output:q} 2> {log:q}"


rule docs_removals:
    input:
        unpack(get_docs_removals_inputs),
    output:
        directory(f"{RESULTS}/docs/removals"),
    log:
        f"{RESULTS}/logs/docs/removals.log",
    benchmark:
        f"{RESULTS}/benchmarks/docs/removals.tsv"
    conda:
        "../envs/decontaminate.yaml"
    params:
        flags=get_docs_removals_flags,
    shell:
        "sciclip docs removals {params.flags} --out {output:q} 2> {log:q}"


rule docs_clean:
    input:
        docs=get_docs_clean_input,
        removals=f"{RESULTS}/docs/removals",
    output:
        directory(f"{RESULTS}/docs/{{source}}/clean/{{unit}}"),
    log:
        f"{RESULTS}/logs/docs/{{source}}/clean/{{unit}}.log",
    wildcard_constraints:
        source="arxiv|pmc|web",
    conda:
        "../envs/docs.yaml"
    params:
        flags=get_docs_clean_flags,
    shell:
        "sciclip docs clean {input.docs:q} {params.flags} --out {output:q} 2> {log:q}"


rule docs_stats:
    input:
        get_docs_unit_dirs,
    output:
        f"{RESULTS}/docs/stats/{{docsource}}.json",
    log:
        f"{RESULTS}/logs/docs/stats/{{docsource}}.log",
    wildcard_constraints:
        docsource="arxiv|pmc|web",
    conda:
        "../envs/docs.yaml"
    shell:
        "sciclip docs stats {input:q} --source {wildcards.docsource} --out {output:q} 2> {log:q}"


rule docs_report:
    input:
        stats=get_docs_report_inputs,
        docs=get_docs_report_dirs,
    output:
        report(f"{RESULTS}/report/documents.html", category="Documents", caption="../report/documents.rst"),
    log:
        f"{RESULTS}/logs/docs/report.log",
    conda:
        "../envs/docs.yaml"
    params:
        n=DOCS["report_documents"],
        seed=DOCS["report_seed"],
    shell:
        "sciclip docs render {input.docs:q} --n {params.n} --seed {params.seed} --out {output:q} 2> {log:q}"
