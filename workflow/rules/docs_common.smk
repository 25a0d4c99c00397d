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
    """The folders a source's statistics sum: its cleaned documents."""
    return [clean for name, _, _, clean in _docs_folders() if name.split("/")[0] == wildcards.docsource]


# --- the documents' images: descriptors per unit, one decision over every folder, a clean job per folder -----


def _docs_folders():
    """(name, document folder, descriptor folders of its units, cleaned folder) in corpus order: the paper
    units, then the web's dedup output (made from every WARC unit, in order)."""
    out = [(f"{s}/{u}", f"{RESULTS}/docs/{s}/units/{u}", [f"{RESULTS}/docs/{s}/descriptors/{u}"],
            f"{RESULTS}/docs/{s}/clean/{u}") for s in DOCS_PAPER_SOURCES for u in get_units(s)]
    if DOCS_WEB:
        out.append(("web/dedup", f"{RESULTS}/docs/web/dedup",
                    [f"{RESULTS}/docs/web/descriptors/{u}" for u in _warc_units()], f"{RESULTS}/docs/web/clean/dedup"))
    return out


def get_docs_embed_input(wildcards):
    return f"{RESULTS}/docs/{wildcards.source}/units/{wildcards.unit}"


def get_docs_eval(wildcards):
    """The pairs' evaluation descriptors, when decontamination is on."""
    return [f"{RESULTS}/decontamination/eval_{DECON['descriptor']}.npz"] if DECON["enabled"] else []


def get_docs_eval_flag(wildcards, input):
    return f"--eval {shlex.quote(str(input.eval))}" if input.eval else ""


def get_docs_removals_inputs(wildcards):
    folders = _docs_folders()
    return {"docs": [f[1] for f in folders], "descriptors": [d for f in folders for d in f[2]]}


def get_docs_removals_flags(wildcards):
    """Every folder with its units' descriptors; the pairs' decontamination threshold (when on) and the corpus'
    near-duplicate threshold for the descriptor in use; max_image_documents."""
    flags = [" ".join(["--folder", *(shlex.quote(x) for x in (name, docs, *descriptors))])
             for name, docs, descriptors, _ in _docs_folders()]
    flags.append(get_flags("docs removals", _docs_common()))
    if DECON["enabled"]:
        flags.append(f"--contamination-threshold {get_threshold()}")
    flags.append(f"--near-threshold {get_near_dup_threshold()}")
    return " ".join(flags)


def get_docs_clean_input(wildcards):
    return next(docs for _, docs, _, clean in _docs_folders()
                if clean == f"{RESULTS}/docs/{wildcards.source}/clean/{wildcards.unit}")


def get_docs_clean_flags(wildcards):
    """This folder's decisions; the document rules (web documents: at least web.doc_min_images images)."""
    rules = _docs_common()
    if wildcards.source == "web":
        rules = {**rules, "min_images": max(rules["min_images"], DOCS["web"]["doc_min_images"])}
    removals = f"{RESULTS}/docs/removals/{wildcards.source}/{wildcards.unit}.npy"
    return f"--removals {shlex.quote(removals)} {get_flags('docs clean', rules)}"


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


def get_docs_web_warc_input(wildcards):
    """The WARC, or the sample's marker when the WARC is one the workflow writes (the demo's crawl)."""
    return sample_marker_for(get_docs_web_warc(wildcards)) or [get_docs_web_warc(wildcards)]


def get_docs_web_unit_dirs(wildcards):
    return [f"{RESULTS}/docs/web/units/{u}" for u in _warc_units()]


def get_docs_web_flags():
    return get_flags("docs web", _docs_common(), DOCS["web"], EXTRACT, exclude=("workers", "warcs", "enabled"))


def get_docs_dedup_flags():
    return get_flags("docs dedup", _docs_common(), DOCS["web"], exclude=("warcs", "enabled"))


def get_docs_report_inputs(wildcards):
    return [f"{RESULTS}/docs/stats/{s}.json" for s in DOCS_PAPER_SOURCES + (["web"] if DOCS_WEB else [])]


def get_docs_report_dirs(wildcards):
    return [clean for _, _, _, clean in _docs_folders()]
