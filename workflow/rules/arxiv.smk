# arXiv bulk sources: manifest -> selection -> one download job per unit (a run of tarballs); the shared unit
# rules (sources.smk) extract each unit.
ARXIV = config["arxiv"]
MEMBERS["arxiv"] = f"{RESULTS}/arxiv/selected.tsv"
UNIT_INPUTS["arxiv"] = {"inputs": f"{RESULTS}/arxiv/tarballs/{{unit}}"}


rule arxiv_manifest:
    input:
        get_sample_input(ARXIV),
    output:
        f"{RESULTS}/arxiv/manifest.xml",
    log:
        f"{RESULTS}/logs/arxiv/manifest.log",
    conda:
        "../envs/download.yaml"
    params:
        flags=get_flags("arxiv manifest", ARXIV),
    shell:
        "sciclip arxiv manifest {params.flags} --out {output:q} 2> {log:q}"


rule arxiv_select:
    input:
        f"{RESULTS}/arxiv/manifest.xml",
    output:
        f"{RESULTS}/arxiv/selected.tsv",
    log:
        f"{RESULTS}/logs/arxiv/select.log",
    conda:
        "../envs/download.yaml"
    params:
        flags=get_flags("arxiv select", ARXIV),
    shell:
        "sciclip arxiv select --manifest {input:q} --out {output:q} {params.flags} 2> {log:q}"


rule arxiv_download:
    input:
        # ancient: choosing more tarballs later must not make the ones already downloaded stale
        selection=ancient(f"{RESULTS}/arxiv/selected.tsv"),
        units=ancient(f"{RESULTS}/arxiv/units.tsv"),
    output:
        get_kept(directory(f"{RESULTS}/arxiv/tarballs/{{unit}}"), ARXIV["keep_tarballs"]),
    log:
        f"{RESULTS}/logs/arxiv/download/{{unit}}.log",
    conda:
        "../envs/download.yaml"
    params:
        flags=get_flags("arxiv download", ARXIV),
    resources:
        downloads=1,
    shell:
        "sciclip arxiv download {params.flags} --selection {input.selection:q} --units {input.units:q} "
        "--unit {wildcards.unit} --out-dir {output:q} 2> {log:q}"
