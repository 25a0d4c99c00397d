# Helpers for the rules: targets, input functions and flag builders (named get_*); no logic in the rules.
# Config keys become command-line flags by name (sciclip.cli.config_flags); unit planning is the package's.
import functools
import json
import os
import shlex
import sys
from pathlib import Path

SRC = str(Path(workflow.basedir) / "src")
sys.path.insert(0, SRC)

from sciclip.cli.config_flags import config_flags  # noqa: E402
from sciclip.sources.registry import sources as registered_sources  # noqa: E402
from sciclip.sources.units import UNIT_PATTERN, read_units  # noqa: E402
from sciclip.train.experiments import extra_flags, runs as configured_runs  # noqa: E402
from sciclip.train.mix import upsampling_flag  # noqa: E402
from sciclip.train.openclip import PRESETS  # noqa: E402

# Rules run the interpreter that runs Snakemake (a venv need not be activated); under --use-conda, the rule
# env's own python.
_CONDA = any(m.name == "CONDA" for m in workflow.deployment_settings.deployment_method)
PY = "python" if _CONDA else shlex.quote(sys.executable)
shell.prefix(
    f"set -euo pipefail; export PYTHONPATH={shlex.quote(SRC)}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
    f"sciclip() {{{{ {PY} -m sciclip \"$@\"; }}}}; "
)

RESULTS = "results"
SAMPLE_DIR = config["sample"]["outdir"]
SAMPLE_MARKER = f"{SAMPLE_DIR}/sample.json"
EXTRACT = config["extract"]
DECON = config["decontamination"]
RESHARD = config["reshard"]
TRAIN = config["train"]
EVALUATE = config["evaluate"]
HELDOUT = EVALUATE["heldout"]
RUNS = {r.name: r for r in configured_runs(config)}  # experiments, or the train section as one run
METADATA = config["metadata"]
CURATE = config["curate"]
NEAR_DUP = CURATE["near_dup"]
VARIANTS = {f["name"]: f for f in CURATE["filters"]}  # filtered variants of final outputs (curate.filters)
SOURCES = [name for name in registered_sources() if config.get(name, {}).get("enabled")]

# What each source's .smk file declares (arxiv.smk, pmc.smk) - the member list its selection writes
# (first column: tarball, batch, ...), the files a unit job reads (a pattern, or a list of them: one flag with
# several paths) and the folders it writes besides its shards; each entry becomes the unit command's flag of the
# same name.
MEMBERS = {}
UNIT_INPUTS = {}
UNIT_PATHS = {}
UNIT_DOWNLOADS = set()  # sources whose unit jobs download (resource "downloads")


wildcard_constraints:
    source="|".join(registered_sources()),
    unit=UNIT_PATTERN,
    tunit=r"t\d+",
    name=r"[A-Za-z0-9_\-]+",
    run=r"[A-Za-z0-9_.\-]+",


def get_final_targets():
    targets = [f"{RESULTS}/stats/{s}.json" for s in SOURCES]
    targets += [f"{RESULTS}/final/{name}" for name in get_final_outputs()]
    if SOURCES:
        targets.append(f"{RESULTS}/report/samples.html")
        if get_runs():
            targets.append(f"{RESULTS}/report/training.html")
        if METADATA["enabled"] or NEAR_DUP["enabled"]:
            targets.append(f"{RESULTS}/report/corpus.html")
    targets += [f"{RESULTS}/train/{run}/summary.json" for run in get_runs()]
    if get_runs() and EVALUATE["enabled"]:
        targets += [f"{RESULTS}/experiments/table.csv", f"{RESULTS}/report/experiments.html"]
    return targets


def _is_under(path, root):
    try:
        Path(path).resolve().relative_to(Path(root).resolve())
        return True
    except ValueError:
        return False


def sample_marker_for(path):
    """The sample's marker when ``path`` lies in the sample mirror, which the workflow builds itself (the demo)."""
    path = str(path)
    return [SAMPLE_MARKER] if "://" not in path and _is_under(path, SAMPLE_DIR) else []


def get_sample_input(section):
    """The sample mirror is built by the workflow itself when a source points into it (the demo)."""
    return sample_marker_for(section["source"])


def get_sample_outdir(wildcards, output):
    """The sample root: the folder of its marker file."""
    return str(Path(output.marker).parent)


# --- work units -------------------------------------------------------------------------------------------


def get_members_file(wildcards):
    return MEMBERS[wildcards.source]


def get_members_per_unit(wildcards):
    return config[wildcards.source].get("members_per_unit", "auto")


def _file_key(path):
    st = os.stat(path)
    return path, st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=16)
def _read_units(path, mtime_ns, size):
    # cached per file version: Snakemake asks once per job
    return read_units(path)


def get_units(source):
    """unit -> members of ``source``, from its unit checkpoint."""
    return _read_units(*_file_key(checkpoints.units.get(source=source).output[0]))


def get_unit_shard_dirs(wildcards):
    return [f"{RESULTS}/{wildcards.source}/shards/{unit}" for unit in get_units(wildcards.source)]


def _unit_paths(pattern, unit):
    return [p.format(unit=unit) for p in pattern] if isinstance(pattern, list) else pattern.format(unit=unit)


def get_unit_inputs(wildcards):
    paths = {k: _unit_paths(v, wildcards.unit) for k, v in UNIT_INPUTS.get(wildcards.source, {}).items()}
    return {"units": f"{RESULTS}/{wildcards.source}/units.tsv", **paths}


def _quoted(value):
    return " ".join(shlex.quote(str(v)) for v in value) if isinstance(value, list) else shlex.quote(str(value))


def get_unit_flags(wildcards, input):
    """The source's config and the extraction config as flags, plus the unit's own paths."""
    flags = [_source_unit_flags(wildcards.source)]
    flags += [f"--{k} {_quoted(list(input[k]) if isinstance(UNIT_INPUTS[wildcards.source][k], list) else input[k])}"
              for k in UNIT_INPUTS.get(wildcards.source, {})]
    flags += [f"--{k} {shlex.quote(v.format(unit=wildcards.unit))}"
              for k, v in UNIT_PATHS.get(wildcards.source, {}).items()]
    return " ".join(flags)


@functools.cache
def _source_unit_flags(source):
    return config_flags(f"{source} unit", config[source], EXTRACT, exclude=("workers", "tail"))


def get_unit_downloads(wildcards):
    return 1 if wildcards.source in UNIT_DOWNLOADS else 0


def get_flags(command, *sections, exclude=()):
    """Flags of a ``sciclip`` command from config sections, by key name."""
    return config_flags(command, *sections, exclude=exclude)


# --- decontamination and final outputs ---------------------------------------------------------------------


def get_base_outputs():
    """Reshard outputs whose sources are enabled: name -> sources."""
    outs = {}
    for name, sources in RESHARD["outputs"].items():
        live = [s for s in sources if s in SOURCES]
        if live:
            outs[name] = live
    return outs


def get_final_outputs():
    """Every final output: the reshard outputs, then the filtered variants of those that are built."""
    outs = get_base_outputs()
    for name, spec in VARIANTS.items():
        if spec["output"] in outs and METADATA["enabled"]:
            outs[name] = outs[spec["output"]]
    return outs


def _alternatives(names):
    """A wildcard constraint matching exactly these names (none: nothing)."""
    import re

    return "|".join(re.escape(n) for n in names) or "(?!x)x"


def get_base_pattern():
    return _alternatives(get_base_outputs())


def get_variant_pattern():
    return _alternatives(n for n in get_final_outputs() if n in VARIANTS)


def get_eval_input(wildcards):
    images = DECON.get("eval_images")
    if images and not DECON.get("eval_embeddings") and _is_under(images, SAMPLE_DIR):
        return [SAMPLE_MARKER]
    return []


def get_eval_set_flags():
    keys = ("eval_images", "eval_embeddings")
    return get_flags("eval-set", {k: DECON.get(k) for k in keys},
                     exclude=("eval_images",) if DECON.get("eval_embeddings") else ())


@functools.cache
def _eval_fingerprint():
    from sciclip.curate.eval_set import fingerprint

    images = None if DECON.get("eval_embeddings") else DECON.get("eval_images")
    if images and _is_under(images, SAMPLE_DIR):
        return "sample"  # built by the workflow: its marker file is the input that tracks it
    return fingerprint(images, DECON.get("eval_embeddings"))


def get_eval_fingerprint(wildcards):
    """Names, sizes and times of the evaluation set's files (stat only, once per run): a change reruns eval_set."""
    return _eval_fingerprint()


def get_eval_flags():
    """Precomputed evaluation descriptors win over evaluation images."""
    return get_flags("embed-eval", DECON, exclude=("eval_images",) if DECON.get("eval_embeddings") else ())


def get_embed_resources():
    return 1 if DECON["descriptor"] == "yokoo" else 0


def get_threshold():
    return DECON["thresholds"][DECON["descriptor"]]


# --- the tail: one job per tail unit (a run of img2dataset shards, planned by convert_plan) -------------------


@functools.lru_cache(maxsize=16)
def _read_tail_plan(path, mtime_ns, size):
    """tail unit -> the extraction folders it reads, in plan order (cached per file version)."""
    with open(path) as f:
        units = json.load(f)["units"]
    return {u["name"]: sorted({str(Path(shard).parent) for shard, _, _ in u["inputs"]}) for u in units}


def _tail_plan(source):
    return _read_tail_plan(*_file_key(checkpoints.convert_plan.get(source=source).output[0]))


def get_tail_units(source):
    """Tail units of ``source``, from its conversion plan (a checkpoint: known once extraction is done)."""
    return list(_tail_plan(source))


def get_convert_inputs(wildcards):
    """The extraction folders one tail unit reads (declared, so that remote jobs have them)."""
    return _tail_plan(wildcards.source)[wildcards.tunit]


def _tail_markers(source, kind):
    return [f"{RESULTS}/{source}/{kind}/{u}.json" for u in get_tail_units(source)]


def get_img2dataset_dir(wildcards):
    return f"{RESULTS}/{wildcards.source}/img2dataset"


def get_scores_dir(wildcards):
    return f"{RESULTS}/{wildcards.source}/scores"


def get_tail_step(source, step):
    """Whether the tail does ``step`` (decontaminate, dedup, near_dup) to ``source``'s samples (its ``tail``
    section; CommonPool's are off by default)."""
    return bool(config[source].get("tail", {}).get(step, True))


def _decontaminated(source):
    return DECON["enabled"] and get_tail_step(source, "decontaminate")


def get_unit_scored(wildcards):
    if not _decontaminated(wildcards.source):
        return []
    return [f"{RESULTS}/{wildcards.source}/scores.units/{wildcards.tunit}.json"]


def get_filter_scores_flags(wildcards):
    """Scores and the descriptor's threshold; without decontamination nothing is contaminated."""
    if not _decontaminated(wildcards.source):
        return ""
    return f"--scores {shlex.quote(get_scores_dir(wildcards))} --threshold {get_threshold()}"


def get_filtered_dirs(wildcards):
    return [f"{RESULTS}/{wildcards.source}/filtered/{u}" for u in get_tail_units(wildcards.source)]


def get_subset_threshold(wildcards):
    return get_threshold() if _decontaminated(wildcards.source) else 2.0  # above any score: only duplicates go


def get_subset_dedup_flag(wildcards):
    return "" if get_tail_step(wildcards.source, "dedup") else "--keep-duplicates"


def get_report_threshold_flag():
    return f"--threshold {get_threshold()}" if DECON["enabled"] else ""


def get_output_sources(wildcards):
    return get_final_outputs()[wildcards.name]


def get_output_source_names(wildcards):
    return " ".join(get_output_sources(wildcards))


def get_configured_source_names(wildcards):
    """The sources reshard.outputs names for this output, enabled or not (the record says which are left out)."""
    return " ".join(RESHARD["outputs"][wildcards.name])


def get_reshard_converted(wildcards):
    return [m for s in get_output_sources(wildcards) for m in _tail_markers(s, "img2dataset.units")]


def get_reshard_subsets(wildcards):
    return [f"{RESULTS}/{s}/decontaminated.npy" for s in get_output_sources(wildcards)]


def _sources_with_samples(sources):
    """The sources whose tail plan has units: one that gave no samples has no img2dataset or metadata folder."""
    return [s for s in sources if get_tail_units(s)]


def get_heldout_exclusion(wildcards):
    """The science split and its near-duplicates leave every final output (when a split is held out)."""
    return [f"{RESULTS}/heldout/excluded.npy"] if get_heldout_sources() else []


def get_exclude_flag(wildcards, input):
    return f"--exclude {shlex.quote(input.exclude[0])}" if input.exclude else ""


def get_reshard_input_flags(wildcards, input):
    return " ".join(f"-i {shlex.quote(f'{RESULTS}/{s}/img2dataset')}"
                    for s in _sources_with_samples(get_output_sources(wildcards)))


# --- training runs (experiments), evaluation, the science split ---------------------------------------------


def _run_data(run):
    """A run's train.data-style items whose outputs are built (one whose sources are all disabled is left out)."""
    return [d for d in RUNS[run].data if d.output in get_final_outputs()]


def get_runs():
    """Runs with something to train on, in configured order (the first is the report's baseline)."""
    return [name for name, r in RUNS.items() if _run_data(name) or r.extra_data]


def get_train_data(wildcards):
    return [f"{RESULTS}/final/{d.output}" for d in _run_data(wildcards.run)]


def get_train_flags(wildcards):
    run = RUNS[wildcards.run]
    flags = [get_flags("train", TRAIN, exclude=("run", "preset")), f"--preset {run.preset}",
             upsampling_flag(_run_data(wildcards.run))]
    flags += [f"--extra {shlex.quote(spec)}" for spec in extra_flags(run.extra_data)]
    return " ".join(f for f in flags if f)


def get_train_logs(wildcards, output):
    """OpenCLIP's --logs folder: the parent of results/train/{run}."""
    return str(Path(output.summary).parents[1])


def get_train_gpus():
    return 0 if TRAIN.get("device") == "cpu" else TRAIN["gpus"]


def get_heldout_sources():
    """Paper sources a science split is held out of (enabled ones)."""
    return [s for s in HELDOUT["sources"] if s in SOURCES] if HELDOUT["enabled"] else []


def get_heldout_img2dataset(wildcards):
    return f"{RESULTS}/{wildcards.source}/img2dataset"


def get_heldout_converted(wildcards):
    return _tail_markers(wildcards.source, "img2dataset.units")


def get_heldout_subsets(wildcards):
    return [f"{RESULTS}/{s}/heldout.npy" for s in get_heldout_sources()]


def get_all_embeddings(wildcards):
    """Every tail unit's descriptors of every source (near-duplicates of held-out images may be anywhere)."""
    return [f"{RESULTS}/{s}/embeddings/{u}" for s in SOURCES for u in get_tail_units(s)]


def get_heldout_embedding_flags(wildcards, input):
    return " ".join(f"--embeddings {s} {shlex.quote(f'{RESULTS}/{s}/embeddings/{u}')}"
                    for s in SOURCES for u in get_tail_units(s))


def get_eval_tasks():
    """The configured tasks, then the science split of each held-out source (task sciclip/<source>)."""
    tasks = list(EVALUATE["tasks"]) + [f"sciclip/{s}" for s in get_heldout_sources()]
    return " ".join(shlex.quote(t) for t in tasks)


def get_eval_roots():
    roots = [f"{RESULTS}/evalsets"] + ([EVALUATE["data_root"]] if EVALUATE["data_root"] else [])
    return " ".join(shlex.quote(r) for r in roots)


def get_eval_sets(wildcards):
    """The science split's folders, and the sample mirror when the data root lies in it (the demo)."""
    sets = [f"{RESULTS}/evalsets/wds_sciclip-{s}_test" for s in get_heldout_sources()]
    root = EVALUATE["data_root"]
    if root and EVALUATE["tasks"] and "://" not in root and _is_under(root, SAMPLE_DIR):
        sets.append(SAMPLE_MARKER)
    return sets


def get_run_model(wildcards):
    """The OpenCLIP model of a run's preset (the checkpoint is loaded into it)."""
    return PRESETS[RUNS[wildcards.run].preset].model


def get_eval_gpus():
    return 0 if EVALUATE.get("device") == "cpu" else EVALUATE["gpus"]


def get_eval_results(wildcards):
    return [f"{RESULTS}/experiments/{run}/eval_results.jsonl" for run in get_runs()]


def get_run_flags(wildcards, input):
    """RUN=eval_results.jsonl of every run, the first (the baseline) first."""
    return " ".join(shlex.quote(f"{run}={path}") for run, path in zip(get_runs(), input.results))


def get_run_pattern():
    return _alternatives(get_runs())


# --- report, heal ------------------------------------------------------------------------------------------


def get_heal_input(wildcards):
    inputs = config.get("heal", {}).get("inputs", {})
    if wildcards.name not in inputs:
        raise ValueError(f"heal: no input directory configured for {wildcards.name!r} (config heal.inputs)")
    return inputs[wildcards.name]


def get_stats_files(wildcards):
    return [f"{RESULTS}/stats/{s}.json" for s in SOURCES]


def get_all_converted(wildcards):
    return [m for s in SOURCES for m in _tail_markers(s, "img2dataset.units")]


def get_all_scored(wildcards):
    return [m for s in SOURCES if _decontaminated(s) for m in _tail_markers(s, "scores.units")]


def get_decontamination_reports(wildcards):
    return [f"{RESULTS}/{s}/decontamination.json" for s in SOURCES]


def get_final_sources_records(wildcards):
    """Which sources each mix holds and which it was configured to hold (merge_subsets writes them)."""
    return [f"{RESULTS}/final/{name}.sources.json" for name in get_base_outputs()]


def get_eval_set_listing(wildcards):
    """The evaluation set's listing, when the run decontaminates anything (the report names the set)."""
    return [f"{RESULTS}/decontamination/eval_set.tsv"] if DECON["enabled"] and get_all_scored(wildcards) else []


def get_train_records(wildcards):
    """Every training run's summary: the report shows their loss and recall."""
    return [f"{RESULTS}/train/{run}/summary.json" for run in get_runs()]


def get_train_record_flags(wildcards, input):
    return " ".join(shlex.quote(str(p)) for p in input)


def get_report_eval_flags(wildcards, input):
    """The descriptor and the evaluation set that decontaminated (the counts page names them)."""
    if not input.eval_set:
        return ""
    return f"--descriptor {DECON['descriptor']} --eval-set {shlex.quote(str(input.eval_set))}"


def get_final_dirs(wildcards):
    return [f"{RESULTS}/final/{name}" for name in get_final_outputs()]


def get_report_dir(wildcards, output):
    return str(Path(output[0]).parent)


def get_results_dir(wildcards, input):
    """The results folder, from results/stats/<source>.json."""
    return str(Path(input.stats[0]).parents[1])


def get_kept(path, keep):
    """``path`` as an output that stays, or temp() (deleted once every job that needs it is done)."""
    return path if keep else temp(path)


# --- DataComp metadata, in-corpus near-duplicates, filtered variants ----------------------------------------


def get_metadata_specs():
    """(name, model, pretrained) of every model metadata.models switches on."""
    return [(n, m["model"], m.get("pretrained")) for n, m in (METADATA["models"] or {}).items() if m]


def get_metadata_flags():
    flags = [f"--clip-model {n} {shlex.quote(m)} {shlex.quote(p or 'none')}" for n, m, p in get_metadata_specs()]
    if METADATA.get("kind_model"):
        flags.append(f"--kind-model {shlex.quote(METADATA['kind_model'])}")
    flags.append(get_flags("metadata", METADATA, exclude=("kind_model", "models")))
    return " ".join(flags)


def _sample_model_dir(model):
    """A local-dir model inside the sample folder (the demo's tiny CLIPs, written by the workflow)."""
    if model.startswith("local-dir:") and _is_under(model.removeprefix("local-dir:"), SAMPLE_DIR):
        return model.removeprefix("local-dir:").rstrip("/")
    return None


def get_metadata_model_files(wildcards):
    files = [f"{d}/open_clip_model.safetensors" for _, m, _ in get_metadata_specs() if (d := _sample_model_dir(m))]
    if METADATA.get("kind_prompts"):
        files.append(METADATA["kind_prompts"])
    return files


def get_sample_model_seed(wildcards):
    """A fixed seed per sample model name: each tiny CLIP differs from the others, and is the same on every run."""
    import zlib

    return zlib.crc32(wildcards.model.encode()) % 10_000


def get_sample_model_dir(wildcards, output):
    return str(Path(output[0]).parent)


def get_metadata_dir(wildcards):
    return f"{RESULTS}/{wildcards.source}/metadata"


def _reuses_pool_metadata(source):
    return source == "commonpool" and CP["reuse_metadata"]


def get_metadata_pool_inputs(wildcards):
    """CommonPool: the pool's own metadata folders of the tail unit's rows (scores and embeddings reused)."""
    return get_commonpool_pool_dirs(wildcards) if _reuses_pool_metadata(wildcards.source) else []


def get_metadata_pool_flags(wildcards, input):
    return f"--pool {_quoted(list(input.pool))}" if input.pool else ""


def get_metadata_gpus():
    return 0 if METADATA.get("device") == "cpu" else METADATA["gpu"]


def get_metadata_markers(sources):
    return [m for s in sources for m in _tail_markers(s, "metadata.units")]


def get_all_metadata(wildcards):
    return get_metadata_markers(SOURCES) if METADATA["enabled"] else []


def get_near_dup_sources():
    """The sources the in-corpus near-duplicate search covers (tail.near_dup), in corpus order."""
    return [s for s in SOURCES if get_tail_step(s, "near_dup")]


def get_near_dup_inputs(wildcards):
    """Every covered source's tail plan and every tail unit's descriptors."""
    inputs = []
    for s in get_near_dup_sources():
        inputs.append(f"{RESULTS}/{s}/img2dataset.plan.json")
        inputs += _tail_markers(s, "img2dataset.units")
        inputs += [f"{RESULTS}/{s}/embeddings/{u}" for u in get_tail_units(s)]
    return inputs


def get_near_dup_flags(wildcards, input):
    return " ".join(
        f"--source {s} {shlex.quote(f'{RESULTS}/{s}/img2dataset')} "
        f"{shlex.quote(f'{RESULTS}/{s}/img2dataset.plan.json')} {shlex.quote(f'{RESULTS}/{s}/embeddings')}"
        for s in get_near_dup_sources())


def get_near_dup_threshold():
    return NEAR_DUP["thresholds"][DECON["descriptor"]]


def get_near_dup_report(wildcards):
    return [f"{RESULTS}/near_dup/report.json"] if NEAR_DUP["enabled"] and get_near_dup_sources() else []


def _variant(wildcards):
    return VARIANTS[wildcards.name]


# named inputs, one function each (not unpack()): in a dry run, before the metadata checkpoint, the shell
# command is still formatted and needs its names
def get_variant_base(wildcards):
    return f"{RESULTS}/final/{_variant(wildcards)['output']}.subset.npy"


def get_variant_metadata(wildcards):
    return get_metadata_markers(get_output_sources(wildcards))


def get_variant_near_dup(wildcards):
    return [f"{RESULTS}/near_dup/removed.npy"] if _variant(wildcards).get("near_dup") else []


def get_variant_flags(wildcards, input):
    """The base subset, the metadata folders of the output's sources, the filter set as JSON, and the files it
    needs (named here rather than in the rule's shell, which a dry run formats before the checkpoint has given
    the inputs)."""
    spec = {k: v for k, v in _variant(wildcards).items() if k not in ("name", "output")}
    flags = ["--subset", shlex.quote(get_variant_base(wildcards)), "--metadata",
             *(shlex.quote(f"{RESULTS}/{s}/metadata") for s in _sources_with_samples(get_output_sources(wildcards))),
             "--filters", shlex.quote(json.dumps(spec, sort_keys=True))]
    if input.near_dup:
        flags += ["--near-dup", shlex.quote(str(input.near_dup))]
    flags.append(get_flags("select", CURATE, exclude=("filters", "near_dup")))
    return " ".join(flags)


def get_variant_reports(wildcards):
    return [f"{RESULTS}/final/{n}.filters.json" for n in get_final_outputs() if n in VARIANTS]
