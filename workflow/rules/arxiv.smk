# arXiv bulk sources: manifest -> selection (one checkpoint) -> one download and one extraction job per tarball.


rule arxiv_manifest:
    input:
        get_arxiv_manifest_input,
    output:
        f"{RESULTS}/arxiv/manifest.xml",
    log:
        f"{RESULTS}/logs/arxiv/manifest.log",
    conda:
        "../envs/download.yaml"
    params:
        source=get_source_flags(ARXIV),
        key=ARXIV["manifest_key"],
    shell:
        "python -m sciclip arxiv manifest {params.source} --key {params.key:q} --out {output:q} 2> {log:q}"


checkpoint arxiv_select:
    input:
        f"{RESULTS}/arxiv/manifest.xml",
    output:
        f"{RESULTS}/arxiv/selected.tsv",
    log:
        f"{RESULTS}/logs/arxiv/select.log",
    conda:
        "../envs/download.yaml"
    params:
        flags=get_select_flags(),
    shell:
        "python -m sciclip arxiv select --manifest {input:q} --out {output:q} {params.flags} 2> {log:q}"


rule arxiv_download:
    input:
        # ancient: choosing more tarballs later must not make the ones already downloaded stale
        ancient(f"{RESULTS}/arxiv/selected.tsv"),
    output:
        arxiv_tarball_output(),
    log:
        f"{RESULTS}/logs/arxiv/download/{{tarball}}.log",
    conda:
        "../envs/download.yaml"
    params:
        source=get_source_flags(ARXIV),
        tarballs=get_unit_tarball_flags,
    resources:
        downloads=1,
    shell:
        "python -m sciclip arxiv download {params.source} --selection {input:q} {params.tarballs} "
        "--out-dir {output:q} 2> {log:q}"


rule arxiv_extract:
    input:
        tarballs=f"{RESULTS}/arxiv/tarballs/{{tarball}}",
        selection=ancient(f"{RESULTS}/arxiv/selected.tsv"),  # which tarballs the unit holds (remote jobs read it)
    output:
        directory(f"{RESULTS}/arxiv/shards/{{tarball}}"),
    log:
        f"{RESULTS}/logs/arxiv/extract/{{tarball}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/arxiv/extract/{{tarball}}.tsv"
    conda:
        "../envs/extract.yaml"
    threads: EXTRACT["threads"]
    params:
        tarballs=get_unit_tarball_paths,
        flags=get_extract_flags(),
    shell:
        "python -m sciclip arxiv extract {params.tarballs} {output:q} {params.flags} --workers {threads} 2> {log:q}"
