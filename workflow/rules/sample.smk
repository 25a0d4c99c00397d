# The embedded sample corpus: a small arXiv bucket mirror written by `sciclip sample` (deterministic).


rule sample_corpus:
    output:
        manifest=f"{SAMPLE_DIR}/arxiv/src/arXiv_src_manifest.xml",
    log:
        f"{RESULTS}/logs/sample_corpus.log",
    conda:
        "../envs/core.yaml"
    params:
        outdir=get_sample_outdir,
    shell:
        "python -m sciclip sample {params.outdir:q} 2> {log:q}"
