# Helpers for the rules: targets and input functions (named get_*), no logic in the rules themselves.
import functools
import os
import shlex
from pathlib import Path

# Rules run the package from this checkout, in the venv or in a rule's conda env alike.
SRC = str(Path(workflow.basedir) / "src")
shell.prefix(f"set -euo pipefail; export PYTHONPATH={shlex.quote(SRC)}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; ")

RESULTS = "results"
SAMPLE_DIR = config["sample"]["outdir"]
ARXIV = config["arxiv"]
PMC = config["pmc"]
SAMPLE_MARKER = f"{SAMPLE_DIR}/sample.json"
DECON = config["decontamination"]
RESHARD = config["reshard"]
TRAIN = config["train"]
SOURCES = [name for name, section in (("arxiv", ARXIV), ("pmc", PMC)) if section["enabled"]]
EXTRACT = config["extract"]


wildcard_constraints:
    # a work unit: one tarball / batch, or (at scale) a run of them named after the first: <first>_x<count>
    tarball=r"arXiv_src_\d{4}_\d{3}(?:_x\d+)?",
    batch=r"b\d{5}(?:_x\d+)?",
    source=r"arxiv|pmc",
    name=r"[A-Za-z0-9_\-]+",


def get_final_targets():
    targets = []
    if ARXIV["enabled"]:
        targets.append(f"{RESULTS}/stats/arxiv.json")
    if PMC["enabled"]:
        targets.append(f"{RESULTS}/stats/pmc.json")
    targets += [f"{RESULTS}/final/{name}" for name in get_final_outputs()]
    if SOURCES:
        targets.append(f"{RESULTS}/report/samples.html")
    if TRAIN["enabled"] and get_train_data(None):
        targets.append(f"{RESULTS}/train/{TRAIN['run']}/summary.json")
    return targets


def get_train_data(wildcards):
    return [f"{RESULTS}/final/{name}" for name in TRAIN["data"] if name in get_final_outputs()]


def get_train_flags():
    flags = ["--preset", TRAIN["preset"], "--gpus", str(TRAIN["gpus"]), "--workers", str(TRAIN["workers"])]
    if TRAIN.get("device"):
        flags += ["--device", TRAIN["device"]]
    if TRAIN.get("precision"):
        flags += ["--precision", TRAIN["precision"]]
    for extra in TRAIN.get("extra_data") or []:
        flags += ["--extra", f"{extra['pattern']},{extra['samples']},{extra.get('upsampling', 1.0)}"]
    return " ".join(shlex.quote(f) for f in flags)


def get_train_logs(wildcards, output):
    """OpenCLIP's --logs folder: the parent of results/train/{run}."""
    return str(Path(output.summary).parents[1])


def get_train_gpus():
    return 0 if TRAIN.get("device") == "cpu" else TRAIN["gpus"]


def get_final_outputs():
    """Reshard outputs whose sources are enabled: name -> sources."""
    outs = {}
    for name, sources in RESHARD["outputs"].items():
        live = [s for s in sources if s in SOURCES]
        if live:
            outs[name] = live
    return outs


def get_source_shard_dirs(wildcards):
    return get_arxiv_shard_dirs(wildcards) if wildcards.source == "arxiv" else get_pmc_shard_dirs(wildcards)


def get_eval_input(wildcards):
    images = DECON.get("eval_images")
    if images and not DECON.get("eval_embeddings") and _is_under(images, SAMPLE_DIR):
        return [SAMPLE_MARKER]
    return []


def get_eval_flags():
    flags = []
    if DECON.get("eval_embeddings"):
        flags += ["--embeddings", str(DECON["eval_embeddings"])]
    elif DECON.get("eval_images"):
        flags += ["--images", str(DECON["eval_images"])]
    return " ".join(shlex.quote(f) for f in flags)


def get_embed_flags():
    flags = ["--descriptor", DECON["descriptor"], "--batch-size", str(DECON["batch_size"]),
             "--workers", str(DECON["workers"])]
    if DECON["descriptor"] == "yokoo" and DECON.get("weights"):
        flags += ["--weights", str(DECON["weights"]), "--weights-cache", str(DECON.get("weights_cache") or "resources/weights")]
    if DECON.get("device"):
        flags += ["--device", str(DECON["device"])]
    if DECON["half"]:
        flags.append("--half")
    return " ".join(shlex.quote(f) for f in flags)


def get_subset_scores(wildcards):
    return [f"{RESULTS}/{wildcards.source}/scores"] if DECON["enabled"] else []


def get_subset_flags(wildcards, input):
    """Scores and the configured descriptor's threshold; without decontamination only duplicates go."""
    if not DECON["enabled"]:
        return ""
    defaults = {"yokoo": 0.604169, "phash": 0.75}
    threshold = DECON.get("thresholds", {}).get(DECON["descriptor"], defaults[DECON["descriptor"]])
    return f"--scores {shlex.quote(input.scores[0])} --threshold {threshold}"


def get_embed_resources():
    return 1 if DECON["descriptor"] == "yokoo" else 0


def get_output_sources(wildcards):
    return get_final_outputs()[wildcards.name]


def get_reshard_inputs(wildcards):
    return [f"{RESULTS}/{s}/img2dataset" for s in get_output_sources(wildcards)]


def get_reshard_subsets(wildcards):
    return [f"{RESULTS}/{s}/decontaminated.npy" for s in get_output_sources(wildcards)]


def get_reshard_input_flags(wildcards, input):
    return " ".join(f"-i {shlex.quote(d)}" for d in input.shards)


def _is_under(path, root):
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False


def _sample_input(section):
    """The sample mirror is built by the workflow itself when a source points into it (the demo)."""
    source = str(section["source"])
    if "://" not in source and _is_under(source, SAMPLE_DIR):
        return [SAMPLE_MARKER]
    return []


def get_arxiv_manifest_input(wildcards):
    return _sample_input(ARXIV)


def get_pmc_index_input(wildcards):
    return _sample_input(PMC)


def get_sample_outdir(wildcards, output):
    """The sample root: the folder of its marker file."""
    return str(Path(output.marker).parent)


def get_source_flags(section):
    """Command-line flags that say where a source lives and how to reach it."""
    flags = ["--source", str(section["source"])]
    flags.append("--requester-pays" if section.get("requester_pays") else "--no-requester-pays")
    if section.get("endpoint_url"):
        flags += ["--endpoint-url", str(section["endpoint_url"])]
    dl = section["download"]
    flags += ["--retries", str(dl["retries"]), "--backoff", str(dl["backoff_s"]), "--timeout", str(dl["timeout_s"])]
    return " ".join(shlex.quote(f) for f in flags)


def get_pmc_source_flags():
    flags = ["--source", str(PMC["source"]), "--layout", PMC["layout"]]
    if PMC.get("endpoint_url"):
        flags += ["--endpoint-url", str(PMC["endpoint_url"])]
    dl = PMC["download"]
    flags += ["--retries", str(dl["retries"]), "--backoff", str(dl["backoff_s"]), "--timeout", str(dl["timeout_s"]),
              "--threads", str(dl["threads"])]
    return " ".join(shlex.quote(f) for f in flags)


def get_pmc_list_flags():
    lic = PMC["license"]
    flags = ["--license", lic if isinstance(lic, str) else ",".join(lic), "--batch-size", str(PMC["batch_size"]),
             "--enumerate", PMC["enumerate"]]
    for key in ("start", "end", "max_count"):
        if PMC.get(key) is not None:
            flags += [f"--{key.replace('_', '-')}", str(PMC[key])]
    return " ".join(shlex.quote(f) for f in flags)


def get_jats_flags():
    flags = ["--fig-types", ",".join(PMC["fig_types"]), "--languages", ",".join(PMC["languages"])]
    if PMC["keep_downloads"]:
        flags.append("--keep-downloads")
    return " ".join(shlex.quote(f) for f in flags)


@functools.lru_cache(maxsize=8)
def _read_batches(path, mtime_ns, size):
    with open(path) as f:
        f.readline()
        return tuple(line.split("\t", 1)[0] for line in f if line.strip())


def _pmc_units():
    return _pmc_units_of(*_file_key(checkpoints.pmc_index.get().output.batches))


@functools.lru_cache(maxsize=8)
def _pmc_units_of(path, mtime_ns, size):
    return _units(list(_read_batches(path, mtime_ns, size)), PMC.get("batches_per_job", "auto"))


def get_unit_batch_flags(wildcards):
    return " ".join(f"--batch {b}" for b in _pmc_units()[wildcards.batch])


def get_pmc_shard_dirs(wildcards):
    return [f"{RESULTS}/pmc/shards/{unit}" for unit in _pmc_units()]


def get_select_flags():
    flags = ["--max-size-gb", str(ARXIV["max_size_gb"] if ARXIV["max_size_gb"] is not None else 0)]
    if ARXIV.get("start") is not None:
        flags += ["--start", str(ARXIV["start"])]
    if ARXIV.get("end") is not None:
        flags += ["--end", str(ARXIV["end"])]
    if ARXIV.get("tarballs"):
        flags += ["--tarballs", ",".join(str(t) for t in ARXIV["tarballs"])]
    return " ".join(shlex.quote(f) for f in flags)


def get_extract_flags():
    e = EXTRACT
    flags = ["--max-size", e["max_size"], "--jpeg-quality", e["jpeg_quality"], "--min-size", e["min_size"],
             "--max-pixels", e["max_pixels"], "--raster-timeout", e["raster_timeout_s"],
             "--vector-dpi", e["vector_dpi"], "--subfigure-caption", e["subfigure_caption"],
             "--multi-image", e["multi_image"], "--min-caption-chars", e["min_caption_chars"],
             "--max-paper-mb", e["max_paper_mb"], "--samples-per-shard", e["samples_per_shard"]]
    if not e["resize"]:
        flags.append("--no-resize")
    if e.get("scratch_dir"):
        flags += ["--scratch-dir", e["scratch_dir"]]
    return " ".join(shlex.quote(str(f)) for f in flags)


def _file_key(path):
    st = os.stat(path)
    return path, st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=8)
def _read_selection(path, mtime_ns, size):
    """Tarballs chosen by the selection checkpoint (name -> (key, md5)); cached per file version because
    Snakemake asks for it once per job."""
    entries = {}
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(header, line.rstrip("\n").split("\t")))
            entries[row["name"]] = (row["filename"], row["md5sum"])
    return entries


# Snakemake spends ~2 ms on every job of a dry run: beyond this many tarballs (or PMC batches), a job takes a
# run of consecutive ones, so full scale (6,000 tarballs, 7,000 batches) stays a DAG of a few thousand jobs.
MAX_JOBS_PER_STAGE = 1500


def _units(names, per_job):
    """Consecutive runs of ``names``: unit name -> members (a lone member keeps its own name)."""
    if per_job in (None, "auto"):
        per_job = max(1, -(-len(names) // MAX_JOBS_PER_STAGE))
    units = {}
    for i in range(0, len(names), int(per_job)):
        chunk = names[i:i + int(per_job)]
        units[chunk[0] if len(chunk) == 1 else f"{chunk[0]}_x{len(chunk)}"] = chunk
    return units


def _arxiv_units():
    return _arxiv_units_of(*_file_key(checkpoints.arxiv_select.get().output[0]))


@functools.lru_cache(maxsize=8)
def _arxiv_units_of(path, mtime_ns, size):
    return _units(sorted(_read_selection(path, mtime_ns, size)), ARXIV.get("tarballs_per_job", "auto"))


def get_unit_tarball_flags(wildcards):
    return " ".join(f"--tarball {t}" for t in _arxiv_units()[wildcards.tarball])


def get_unit_tarball_paths(wildcards, input):
    return " ".join(shlex.quote(f"{input.tarballs}/{t}.tar") for t in _arxiv_units()[wildcards.tarball])


def get_arxiv_shard_dirs(wildcards):
    return [f"{RESULTS}/arxiv/shards/{unit}" for unit in _arxiv_units()]


def arxiv_tarball_output():
    path = directory(f"{RESULTS}/arxiv/tarballs/{{tarball}}")
    return path if ARXIV["keep_tarballs"] else temp(path)


def get_heal_input(wildcards):
    inputs = config.get("heal", {}).get("inputs", {})
    if wildcards.name not in inputs:
        raise ValueError(f"heal: no input directory configured for {wildcards.name!r} (config heal.inputs)")
    return inputs[wildcards.name]


def get_stats_files(wildcards):
    return [f"{RESULTS}/stats/{s}.json" for s in SOURCES]


def get_img2dataset_dirs(wildcards):
    return [f"{RESULTS}/{s}/img2dataset" for s in SOURCES]


def get_score_dirs(wildcards):
    return [f"{RESULTS}/{s}/scores" for s in SOURCES] if DECON["enabled"] else []


def get_report_dir(wildcards, output):
    return str(Path(output[0]).parent)


def get_report_threshold_flag():
    if not DECON["enabled"]:
        return ""
    defaults = {"yokoo": 0.604169, "phash": 0.75}
    return f"--threshold {DECON.get('thresholds', {}).get(DECON['descriptor'], defaults[DECON['descriptor']])}"


def get_results_dir(wildcards, input):
    """The results folder, from results/stats/<source>.json."""
    return str(Path(input.stats[0]).parents[1])
