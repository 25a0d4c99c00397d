# Interleaved image-text documents (OBELICS layout): one job per unit of a paper source (the same units as the
# pair extraction), one per WARC file for web pages followed by the cross-document dedup; per-source stats and
# a page of three documents for the report. Off unless docs.enabled.
import re

DOCS = config["docs"]
DOCS_PAPER_SOURCES = [s for s in ("arxiv", "pmc") if DOCS["enabled"] and DOCS[s]["enabled"] and s in SOURCES]
DOCS_WEB = DOCS["enabled"] and DOCS["web"]["enabled"]
# per source: the unit job's inputs (besides units.tsv) and its own download folder
DOCS_UNIT_INPUTS = {"arxiv": {"inputs": f"{RESULTS}/arxiv/tarballs/{{unit}}"},
                    "pmc": {"index": f"{RESULTS}/pmc/index.tsv"}}
DOCS_UNIT_PATHS = {"pmc": {"downloads": f"{RESULTS}/docs/pmc/downloads/{{unit}}"}}


def get_docs_targets():
    targets = [f"{RESULTS}/docs/stats/{s}.json" for s in DOCS_PAPER_SOURCES]
    if DOCS_WEB:
        targets.append(f"{RESULTS}/docs/stats/web.json")
    if targets:
        targets.append(f"{RESULTS}/report/documents.html")
    return targets


def get_docs_unit_inputs(wildcards):
    paths = {k: v.format(unit=wildcards.unit) for k, v in DOCS_UNIT_INPUTS[wildcards.source].items()}
    return {"units": f"{RESULTS}/{wildcards.source}/units.tsv", **paths}


def _docs_common():
    """The docs section's own options (the per-source sections hold switches and web settings)."""
    return {k: v for k, v in DOCS.items() if not isinstance(v, dict)}


def get_docs_unit_flags(wildcards, input):
    source = wildcards.source
    flags = [get_flags("docs unit", _docs_common(), config[source], EXTRACT, exclude=("workers", "source"))]
    if source == "pmc":
        flags.append(f"--remote {shlex.quote(str(config['pmc']['source']))}")
    flags += [f"--{k} {shlex.quote(str(input[k]))}" for k in DOCS_UNIT_INPUTS[source]]
    flags += [f"--{k} {shlex.quote(v.format(unit=wildcards.unit))}"
              for k, v in DOCS_UNIT_PATHS.get(source, {}).items()]
    return " ".join(flags)


def get_docs_unit_downloads(wildcards):
    return 1 if wildcards.source == "pmc" else 0


def get_docs_unit_dirs(wildcards):
    if wildcards.docsource == "web":
        return [f"{RESULTS}/docs/web/dedup"]
    return [f"{RESULTS}/docs/{wildcards.docsource}/units/{u}" for u in get_units(wildcards.docsource)]


# --- web pages --------------------------------------------------------------------------------------------


def _warc_units():
    """unit name -> WARC path, one unit per configured file (its name without the WARC suffixes)."""
    units = {}
    for path in DOCS["web"]["warcs"]:
        name = re.sub(r"(\.warc)?(\.gz)?$", "", Path(path).name)
        name = re.sub(r"[^A-Za-z0-9_.\-]", "_", name)
        units[name if name not in units else f"{name}_{len(units)}"] = path
    return units


def get_docs_web_warc(wildcards):
    return _warc_units()[wildcards.warc]


def get_docs_web_unit_dirs(wildcards):
    return [f"{RESULTS}/docs/web/units/{u}" for u in _warc_units()]


def get_docs_web_flags():
    return get_flags("docs web", _docs_common(), DOCS["web"], EXTRACT, exclude=("workers", "warcs", "enabled"))


def get_docs_dedup_flags():
    return get_flags("docs dedup", _docs_common(), DOCS["web"], exclude=("warcs", "enabled"))


def get_docs_report_inputs(wildcards):
    return [f"{RESULTS}/docs/stats/{s}.json" for s in DOCS_PAPER_SOURCES + (["web"] if DOCS_WEB else [])]


def get_docs_report_dirs(wildcards):
    dirs = [f"{RESULTS}/docs/{s}/units/{u}" for s in DOCS_PAPER_SOURCES for u in get_units(s)]
    return dirs + ([f"{RESULTS}/docs/web/dedup"] if DOCS_WEB else [])


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
        get_docs_web_warc,
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
        flags=get_docs_web_flags(),
    resources:
        downloads=1,
    shell:
        "sciclip docs web {input:q} {output:q} {params.flags} --workers {threads} 2> {log:q}"


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
