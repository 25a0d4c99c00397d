# PubMed Central: one index of selected articles and their batches; the shared unit rules (sources.smk) then
# download and extract each unit (a run of batches) in one job.
PMC = config["pmc"]
MEMBERS["pmc"] = f"{RESULTS}/pmc/batches.tsv"
UNIT_INPUTS["pmc"] = {"index": f"{RESULTS}/pmc/index.tsv"}
UNIT_PATHS["pmc"] = {"downloads": f"{RESULTS}/pmc/downloads/{{unit}}"}
UNIT_DOWNLOADS.add("pmc")


rule pmc_index:
    input:
        get_sample_input(PMC),
    output:
        index=f"{RESULTS}/pmc/index.tsv",
        batches=f"{RESULTS}/pmc/batches.tsv",
    log:
        f"{RESULTS}/logs/pmc/index.log",
    conda:
        "../envs/download.yaml"
    params:
        flags=get_flags("pmc list", PMC),
    shell:
        "sciclip pmc list {params.flags} --out {output.index:q} --batches {output.batches:q} 2> {log:q}"
