# The embedded sample corpus: small arXiv and PMC mirrors written by `sciclip sample` (deterministic).


rule sample_corpus:
    output:
        marker=SAMPLE_MARKER,
    log:
        f"{RESULTS}/logs/sample_corpus.log",
    conda:
        "../envs/core.yaml"
    params:
        outdir=get_sample_outdir,
    shell:
        "sciclip sample {params.outdir:q} 2> {log:q}"
