# Helpers of the document rules (docs.smk): which sources build documents, input functions and flags (get_docs_*).
# Kept apart from the rules (snakemake --lint) and from common.smk (the shared tail's).
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
