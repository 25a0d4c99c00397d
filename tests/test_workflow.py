"""The Snakemake workflow end to end on the sample corpus, in a scratch copy of the repository."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, expected_pairs

pytestmark = pytest.mark.slow

COPY = ["Snakefile", "workflow", "config", "profiles", "src", ".test"]
FEATURES = sorted(p.parent.name for p in (ROOT / ".test").glob("*/config.yaml"))


def make_checkout(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def snakemake(cwd: Path, *args: str, check: bool = True, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(extra_env or {})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    r = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}")
    return r


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    wd = make_checkout(tmp_path_factory.mktemp("wf1"))
    snakemake(wd, "--cores", "2", extra_env={"SCICLIP_TRACE_IMPORTS": str(wd / "trace")})
    return wd


def test_demo_run_produces_expected_shards_readable_by_webdataset(first_run):
    import webdataset as wds

    shards = sorted((first_run / "results" / "arxiv" / "shards").glob("*/*.tar"))
    assert [f"{p.parent.name}/{p.name}" for p in shards] == [
        "arXiv_src_2001_001/00000.tar", "arXiv_src_2001_002/00000.tar", "arXiv_src_2002_001/00000.tar",
        "arXiv_src_9901_001/00000.tar"]
    ds = wds.WebDataset([str(p) for p in shards], shardshuffle=False).decode("pil").to_tuple("jpg", "txt", "json")
    got = {}
    for image, caption, meta in ds:
        assert image.mode == "RGB" and max(image.size) <= 512
        got[(meta["paper_id"], meta["source_path"])] = caption
    assert got == expected_pairs()
    stats = json.loads((first_run / "results" / "stats" / "arxiv.json").read_text())
    assert stats["samples"] == len(got) and stats["papers_seen"] == 12
    assert stats["caption_chars"]["count"] == len(got)
    for log in ("arxiv/extract/arXiv_src_2001_002.log", "arxiv/download/arXiv_src_2001_002.log"):
        assert (first_run / "results" / "logs" / log).is_file()
    assert "corrupt_gzip" in (first_run / "results" / "logs" / "arxiv/extract/arXiv_src_2001_002.log").read_text()


def test_pmc_shards_land_beside_arxiv_one_job_per_batch(first_run):
    import webdataset as wds

    from tests.test_pmc import expected_pmc

    shards = sorted((first_run / "results" / "pmc" / "shards").glob("*/*.tar"))
    assert [p.parent.name for p in shards] == ["b00000", "b00001", "b00002"]  # 7 articles, batch_size 3
    ds = wds.WebDataset([str(p) for p in shards], shardshuffle=False).to_tuple("txt", "json")
    got = {(json.loads(m)["pmcid"], json.loads(m)["source_path"]): t.decode() for t, m in ds}
    assert got == {k: v for k, v in expected_pmc().items() if k[0].startswith("PMC1")}
    stats = json.loads((first_run / "results" / "stats" / "pmc.json").read_text())
    assert stats["papers_seen"] == 7 and stats["skipped_papers"] == {"malformed_xml": 2}
    downloads = first_run / "results" / "pmc" / "downloads"
    assert not downloads.exists() or not any(downloads.iterdir())  # keep_downloads: false
    r = snakemake(first_run, "-n", "--forcerun", "extract", "--cores", "2")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", r.stdout + r.stderr, re.M))
    assert counts["extract"] == "9"  # one job per unit: 4 tarballs + 3 batches + 2 crawl files


PLANTED = {("2002.00001", f"planted_{k}") for k in ("resized.png", "q70.jpg", "crop.png", "gray.png")} | {
    ("PMC1000010", "planted.jpg")}


def _final(root: Path, name: str) -> list[tuple[str, str]]:
    import webdataset as wds
    shards = sorted(str(p) for p in (root / "results" / "final" / name).glob("*.tar"))
    out = []
    for meta in wds.WebDataset(shards, shardshuffle=False).to_tuple("json"):
        m = json.loads(meta[0])
        out.append((m.get("paper_id") or m.get("pmcid"), m["source_path"]))
    return out


def _excluded_pairs(root: Path) -> set[tuple[str, str]]:
    """(paper, figure) of the samples kept out of training for the science split (held out, or near-duplicates)."""
    from sciclip.curate.heldout import hex_uid
    from sciclip.shards.subset_file import load_subset
    from tests.conftest import read_dir

    gone = {hex_uid(p) for p in load_subset(root / "results" / "heldout" / "excluded.npy")}
    return {(s["meta"].get("paper_id") or s["meta"].get("pmcid"), s["meta"]["source_path"])
            for src in ("arxiv", "pmc") for s in read_dir(root / "results" / src / "img2dataset")
            if s["meta"]["uid"] in gone}


def test_planted_contamination_is_gone_and_everything_else_stays(first_run):
    from tests.test_pmc import expected_pmc

    expected = set(expected_pairs()) | {k for k in expected_pmc() if k[0].startswith("PMC1")}
    everything = _final(first_run, "mixed")
    mixed = [m for m in everything if m[0]]  # the papers' samples (the web's carry no paper id)
    assert len(everything) - len(mixed) == len(_final(first_run, "cc")) > 0
    assert len(mixed) == len(set(mixed))  # no sample twice
    # every planted near-duplicate removed; of the two identical logo figures, the first is kept; the science
    # split (clean pairs) is held out
    held = _excluded_pairs(first_run)
    assert held and held <= expected - PLANTED
    assert set(mixed) == expected - PLANTED - {("2002.00003", "logo.png")} - held
    assert set(_final(first_run, "arxiv")) | set(_final(first_run, "pmc")) == set(mixed)
    arxiv = json.loads((first_run / "results" / "arxiv" / "decontamination.json").read_text())
    assert (arxiv["contaminated"], arxiv["exact_duplicates"]) == (4, 1)
    pmc = json.loads((first_run / "results" / "pmc" / "decontamination.json").read_text())
    assert (pmc["contaminated"], pmc["exact_duplicates"]) == (1, 0)
    meta = json.loads((first_run / "results" / "final" / "mixed" / "meta.json").read_text())
    assert meta["output_count"] == len(everything) and meta["output_shard_count"] == 1
    scores = sorted((first_run / "results" / "arxiv" / "scores").glob("*.parquet"))
    assert scores and {"uid", "score"} <= set(pq_columns(scores[0]))


def pq_columns(path: Path) -> list[str]:
    import pyarrow.parquet as pq
    return pq.read_schema(path).names


def test_demo_outputs_match_the_golden_file(first_run):
    """Every artefact users consume is byte-identical to the committed golden digests (run fields removed).

    A change that alters output bytes on purpose rewrites tests/fixtures/golden_demo.json in the same commit
    (``python -m tests.golden results > tests/fixtures/golden_demo.json``) and says why; a refactor never does.
    """
    from tests.golden import artefact_digests

    golden = json.loads((FIXTURES / "golden_demo.json").read_text())
    got = artefact_digests(first_run / "results")
    assert sorted(got) == sorted(golden), "artefacts added or missing"
    changed = sorted(k for k in golden if got[k] != golden[k])
    assert not changed, f"{len(changed)} of {len(golden)} artefacts changed: {changed}"


def test_job_logs_hold_lines_not_progress_bar_frames(first_run):
    logs = sorted((first_run / "results" / "logs").rglob("*.log"))
    assert len(logs) > 10 and [str(p) for p in logs if "\r" in p.read_text(errors="replace")] == []
    assert "done in" in next((first_run / "results" / "logs" / "arxiv").rglob("extract/*.log")).read_text()


def test_second_run_has_nothing_to_do(first_run):
    r = snakemake(first_run, "--cores", "2", "-n")
    assert "Nothing to be done" in r.stdout + r.stderr
    r = snakemake(first_run, "--cores", "2")
    assert "Nothing to be done" in r.stdout + r.stderr


def test_dry_run_rulegraph_and_lint(tmp_path):
    wd = make_checkout(tmp_path / "wf3")
    r = snakemake(wd, "-n", "--cores", "2")
    assert "sample_corpus" in r.stdout and "arxiv_select" in r.stdout and "pmc_index" in r.stdout
    r = snakemake(wd, "--rulegraph", "--cores", "1")
    assert "digraph" in r.stdout and "arxiv_manifest" in r.stdout and "pmc_index" in r.stdout
    for rule in ("convert_plan", "merge_subsets", "reshard"):  # the tail's per-unit rules (and embed_eval) follow
        # the convert_plan checkpoint: they enter the graph once extraction is done
        assert f'label = "{rule}"' in r.stdout, rule
    r = snakemake(wd, "--lint", "--cores", "1")
    assert "Congratulations" in r.stdout + r.stderr


def test_bad_config_names_the_key(tmp_path):
    wd = make_checkout(tmp_path / "wf4")
    r = snakemake(wd, "-n", "--cores", "1", "--config", "extract={'subfigure_caption': 'both'}", check=False)
    assert r.returncode != 0 and "subfigure_caption" in r.stdout + r.stderr
    r = snakemake(wd, "-n", "--cores", "1", "--config", "arxiv={'max_size_gb': -1}", check=False)
    assert r.returncode != 0 and "max_size_gb" in r.stdout + r.stderr
    cfg = (wd / "config" / "config.yaml").read_text().replace("jpeg_quality: 95", "jpeg_quality: 500")
    (wd / "config" / "config.yaml").write_text(cfg)
    r = snakemake(wd, "-n", "--cores", "1", check=False)
    assert r.returncode != 0
    assert "jpeg_quality" in r.stdout + r.stderr


def test_selection_from_config(tmp_path):
    wd = make_checkout(tmp_path / "wf5")
    (wd / "extra.yaml").write_text("arxiv:\n  tarballs: [arXiv_src_9901_001]\npmc:\n  enabled: false\n")
    snakemake(wd, "results/stats/arxiv.json", "--cores", "2", "--configfile", "config/config.yaml", "extra.yaml")
    dirs = sorted(p.name for p in (wd / "results" / "arxiv" / "shards").iterdir())
    assert dirs == ["arXiv_src_9901_001"]
    stats = json.loads((wd / "results" / "stats" / "arxiv.json").read_text())
    assert stats["papers_seen"] == 3


def test_workflow_against_s3(tmp_path, sample_dir, monkeypatch):
    """The same DAG with the source on a loopback S3 API that enforces requester pays."""
    from tests.servers import RequesterPaysS3

    server = RequesterPaysS3()
    try:
        client = server.client()
        client.create_bucket(Bucket="arxiv")
        for f in sorted((sample_dir / "arxiv" / "src").iterdir()):
            client.put_object(Bucket="arxiv", Key=f"src/{f.name}", Body=f.read_bytes())
        wd = make_checkout(tmp_path / "wf6")
        cfg = (wd / "config" / "config.yaml").read_text()
        cfg = cfg.replace("source: resources/sample/arxiv", "source: s3://arxiv")
        cfg = cfg.replace("endpoint_url: null", f"endpoint_url: {server.endpoint}", 1)
        cfg = cfg.replace("pmc:\n  enabled: true", "pmc:\n  enabled: false")
        cfg = cfg.replace("cc:\n  enabled: true", "cc:\n  enabled: false")
        cfg = cfg.replace("decontamination:\n  enabled: true", "decontamination:\n  enabled: false")
        cfg = cfg.replace("train:\n  enabled: true", "train:\n  enabled: false")
        (wd / "config" / "config.yaml").write_text(cfg)
        for k, v in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                     ("AWS_DEFAULT_REGION", "us-east-1")):
            monkeypatch.setenv(k, v)
        snakemake(wd, "--cores", "2", "results/final/arxiv", "results/stats/arxiv.json")
        assert not (wd / "resources" / "sample").exists()  # nothing generated locally: all came over S3
        stats = json.loads((wd / "results" / "stats" / "arxiv.json").read_text())
        assert stats["samples"] == len(expected_pairs())
        held = json.loads((wd / "results" / "arxiv" / "heldout.json").read_text())["heldout"]
        assert len(_final(wd, "arxiv")) == len(expected_pairs()) - 1 - held  # the duplicate logo and the science split
        gets = [r for r in server.state.requests if r[0] == "GET" and ".tar" in r[1]]
        assert len(gets) >= 3 and all(p == "requester" for _, _, p in gets)
    finally:
        server.stop()


def test_heal_rule_on_foreign_shards(tmp_path):
    """The heal rule takes any directory of shards named in config and writes healed ones."""
    import io
    import tarfile
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("k1.jpg", b"img"), ("k1.txt", b"caption one"), ("k2.jpg", b"img"),
                           ("k3.jpg", b"x" * 4000), ("k3.txt", b"cut")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    (foreign / "part-a.tar").write_bytes(data[: data.index(b"x" * 4000) + 100])
    wd = make_checkout(tmp_path / "wf7")
    snakemake(wd, "--cores", "1", "results/healed/mine", "--config", f"heal={{'inputs': {{'mine': '{foreign}'}}}}")
    healed = wd / "results" / "healed" / "mine"
    report = json.loads((healed / "heal_report.json").read_text())
    assert sorted(p.name for p in healed.glob("*.tar")) == ["00000.tar"]
    assert report["totals"]["samples_kept"] == 1 and report["totals"]["incomplete"] == 1
    assert (wd / "results" / "logs" / "heal" / "mine.log").is_file()


def test_tiny_training_runs(first_run):
    """The demo's two experiments: web alone, and web + arXiv x2 + PMC x2 (upsampled)."""
    import math

    res = first_run / "results"
    count = {n: json.loads((res / "final" / n / "meta.json").read_text())["output_count"] for n in ("cc", "arxiv", "pmc")}
    for run, samples in (("web", count["cc"]), ("web-papers", count["cc"] + 2 * count["arxiv"] + 2 * count["pmc"])):
        summary = json.loads((res / "train" / run / "summary.json").read_text())
        assert (res / "train" / run / "checkpoints" / "epoch_latest.pt").stat().st_size > 0
        assert summary["steps_logged"] >= 1 and math.isfinite(summary["last_loss"])
        assert summary["train_num_samples"] == samples
        assert "--dataset-type" in summary["command"] and "webdataset" in summary["command"]
    assert "1::2::2" in json.loads((res / "train" / "web-papers" / "summary.json").read_text())["command"]
    assert not (res / "train" / "tiny-demo").exists()  # with experiments, the train section is no run


def test_experiments_are_evaluated_and_compared(first_run):
    from sciclip.evaluate.results import read_results
    from sciclip.report.experiments import read_table

    res = first_run / "results"
    tasks = ["sample/chart-types", "sample/figure-captions", "sciclip/arxiv", "sciclip/pmc"]
    for run in ("web", "web-papers"):
        lines = read_results(res / "experiments" / run / "eval_results.jsonl")
        assert [line["key"] for line in lines] == tasks
        assert all(0 <= line["metrics"]["main_metric"] <= 1 for line in lines)
        assert "image_retrieval_recall@1" in lines[2]["metrics"] and "acc1" in lines[0]["metrics"]
        assert "\r" not in (res / "logs" / "evaluate" / f"{run}.log").read_text()
    header, rows = read_table(res / "experiments" / "table.csv")
    assert header[:5] == ["run", *tasks] and header[-1] == "Average"
    assert [r["run"] for r in rows] == ["web", "web-papers"] and rows[0]["Average"] == ""  # not DataComp's 38
    page = (res / "report" / "experiments.html").read_text()
    assert "web-papers" in page and "25.0%" in page  # the chart-types chance level (4 classes)
    assert "<svg" in (res / "report" / "experiments.svg").read_text()
    r = subprocess.run([sys.executable, "-m", "sciclip", "demo-summary", str(res)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert r.returncode == 0 and "experiments: main metric per task and run" in r.stdout
    assert re.search(r"sciclip/arxiv\s+\d+\.\d%\s+\d+\.\d%\s+[+-]\d+\.\d pt", r.stdout), r.stdout
    assert "science retrieval split, held out of every final output: arxiv 5 of" in r.stdout


def test_no_held_out_pair_reaches_a_training_shard(first_run):
    """Neither a held-out uid nor a near-duplicate of a held-out image is in any final output (the shards every
    run trains on), mixed and filtered variants included; the science sets hold exactly the held-out pairs."""
    from sciclip.curate.heldout import hex_uid
    from sciclip.shards.subset_file import load_subset
    from tests.conftest import read_dir

    res = first_run / "results"
    excluded = {hex_uid(p) for p in load_subset(res / "heldout" / "excluded.npy")}
    for source in ("arxiv", "pmc"):
        held = {hex_uid(p) for p in load_subset(res / source / "heldout.npy")}
        assert held and held <= excluded
        assert {s["key"] for s in read_dir(res / "evalsets" / f"wds_sciclip-{source}_test")} == held
    finals = [p for p in (res / "final").iterdir() if p.is_dir()]
    assert {p.name for p in finals} >= {"arxiv", "pmc", "cc", "mixed", "mixed-basic"}
    for final in finals:
        uids = {s["meta"]["uid"] for s in read_dir(final)}
        assert uids and not uids & excluded, final.name


def test_dry_run_lists_every_run_times_train_and_evaluate(first_run):
    (first_run / "three.yaml").write_text(
        "experiments:\n  - {name: web, data: [cc]}\n  - {name: papers, data: [arxiv, pmc]}\n"
        "  - {name: all, data: [mixed]}\n")
    r = snakemake(first_run, "-n", "--cores", "2", "--configfile", "config/config.yaml", "three.yaml",
                  "--forcerun", "train")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", r.stdout + r.stderr, re.M))
    assert counts["train"] == "3" and counts["evaluate"] == "3" and counts["experiments_table"] == "1"
    for run in ("web", "papers", "all"):
        assert f"results/experiments/{run}/eval_results.jsonl" in r.stdout


# import name -> conda package that provides it
PROVIDERS = {"PIL": "pillow", "yaml": "pyyaml", "boto3": "boto3", "botocore": "boto3", "lxml": "lxml",
             "numpy": "numpy", "pyarrow": "pyarrow", "pylatexenc": "pylatexenc", "tqdm": "tqdm", "torch": "pytorch",
             "torchvision": "torchvision", "timm": "timm", "faiss": "faiss-cpu", "imagehash": "imagehash",
             "open_clip": "open-clip-torch", "open_clip_train": "open-clip-torch", "webdataset": "webdataset",
             "jsonschema": "jsonschema", "matplotlib": "matplotlib", "pypdfium2": "pypdfium2",
             "selectolax": "selectolax", "warcio": "warcio", "orjson": "orjson", "msgspec": "msgspec", "isal": "isal",
             "img2dataset": "img2dataset", "py3langid": "py3langid",
             "fasttext": "fasttext-numpy2-wheel", "kenlm": "kenlm", "sentencepiece": "sentencepiece",
             "safetensors": "safetensors", "nltk": "nltk", "clip_benchmark": "clip-benchmark", "sklearn": "scikit-learn",
             "datasets": "datasets"}


def _third_party_imports_of_sciclip() -> set[str]:
    import ast
    import sys
    names = set()
    for py in (ROOT / "src" / "sciclip").rglob("*.py"):  # subpackages too: readme00 imports yaml
        for node in ast.walk(ast.parse(py.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "sciclip"}


def test_each_rule_env_provides_what_its_command_imported(first_run, tmp_path):
    """Every sciclip command the demo ran (plus a Yokoo embedding) imported only packages its rule's env has."""
    from tests.test_curate import _released_checkpoint
    from tests.test_envs_profiles import env_packages, rules

    ckpt = tmp_path / "isc.pth.tar"
    _released_checkpoint(ckpt)
    env = {**os.environ, "SCICLIP_TRACE_IMPORTS": str(first_run / "trace"), "PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run([sys.executable, "-m", "sciclip", "embed", str(first_run / "results" / "pmc" / "img2dataset"),
                        "--descriptor", "yokoo", "--weights", str(ckpt), "--device", "cpu", "--workers", "0",
                        "--out", str(tmp_path / "e.npz")], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ours = _third_party_imports_of_sciclip()
    assert set(PROVIDERS) >= ours, f"map these imports to conda packages: {ours - set(PROVIDERS)}"
    by_command = {}
    for name, rule in rules().items():
        m = re.match(r"sciclip ((?:arxiv|pmc) \w+|\{wildcards.source\} \w+|[\w-]+)", rule["shell"])
        if m:
            for command in ([m.group(1).replace("{wildcards.source}", s) for s in ("arxiv", "pmc")]
                            if "{wildcards.source}" in m.group(1) else [m.group(1)]):
                by_command.setdefault(command, []).append(name)
    checked = set()
    for trace in sorted((first_run / "trace").glob("*.json")):
        rec = json.loads(trace.read_text())
        argv = [a for a in rec["argv"] if not a.startswith("-")]
        command = " ".join(argv[:2]) if argv[0] in ("arxiv", "pmc") else argv[0]
        if command not in by_command:
            continue  # commands run by the tests themselves, outside any rule
        imported = {PROVIDERS[m] for m in set(rec["modules"]) & ours}
        for rule_name in by_command[command]:
            missing = imported - env_packages(rules()[rule_name]["conda"])
            assert not missing, f"rule {rule_name} ({command}) imports {missing} its env lacks"
            checked.add(rule_name)
    assert {"extract", "convert", "embed", "score", "subset", "reshard", "train", "report_figures", "metadata",
            "near_dup", "variant_subset", "sample_model", "report_corpus", "heldout", "heldout_exclude", "evaluate",
            "experiments_table", "report_experiments"} <= checked


def test_slurm_profile_gives_train_and_evaluate_a_gpu(first_run):
    """The sbatch calls the SLURM plugin builds for the training and evaluation jobs (no GPU or SLURM needed)."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    (first_run / "gpu.yaml").write_text("train:\n  device: null\nevaluate:\n  device: null\n  gpus: 1\n")
    r = snakemake(first_run, "-n", "--profile", "profiles/slurm", "--configfile", "config/config.yaml", "gpu.yaml",
                  "--forcerun", "train")

    class Resources(dict):
        __getattr__ = dict.__getitem__

    for rule, mem, minutes in (("train", 64000, 1440), ("evaluate", 32000, 720)):
        block = re.search(rf"rule {rule}:.*?resources: ([^\n]+)", r.stdout + r.stderr, re.S)
        assert block, r.stdout[-2000:]
        res = {}
        for item in block.group(1).split(", "):
            k, _, v = item.partition("=")
            res[k] = int(v) if v.lstrip("-").isdigit() else v

        class Job:
            resources = Resources(res)
            threads = 2

        # as the executor does: the submit command, then the GPU/GRES string
        call = get_submit_command(Job(), {"run_uuid": "x", "slurm_logfile": "l", "comment_str": rule,
                                          "account": "-A acct", "partition": "-p gpu", "workdir": "."})
        call += set_gres_string(Job())
        assert "--gpus=1" in call and "--cpus-per-gpu=8" in call and "--cpus-per-task" not in call, rule
        assert f"--mem {mem}" in call and f"-t {minutes}" in call, rule


def test_training_command_guards_small_data():
    from sciclip.errors import SciclipError
    from sciclip.train.openclip import DataSource, training_command

    cmd, info = training_command([DataSource("d/00000000.tar", 3)], "tiny", "r", "logs")
    assert cmd[cmd.index("--batch-size") + 1] == "3" and info["epochs"] == 1
    with pytest.raises(SciclipError, match="fewer than one global batch"):
        training_command([DataSource("d/00000000.tar", 100)], "small", "r", "logs")
    cmd, info = training_command([DataSource("a/{00000000..00000099}.tar", 1_000_000),
                                  DataSource("b/{00000000..00000009}.tar", 100_000, 3.0)], "small", "r", "logs", gpus=4)
    assert info["train_num_samples"] == 1_300_000 and info["epochs"] == 10  # 12.8M seen
    assert cmd[cmd.index("--batch-size") + 1] == "1024" and "torch.distributed.run" in " ".join(cmd)
    assert cmd[cmd.index("--train-data-upsampling-factors") + 1] == "1::3" and "--dataset-resampled" in cmd


def test_coarser_work_units_and_one_core_give_the_same_data(first_run, tmp_path):
    """Jobs taking runs of tarballs / batches (the full-scale fan-out), run from scratch on one core instead of
    two, produce byte-identical data downstream of extraction. (That two runs of the same configuration give the
    same bytes, unit shards included, is what the golden test checks: its digests come from another run.)"""
    from tests.golden import artefact_digests

    wd = make_checkout(tmp_path / "wf8")
    snakemake(wd, "--cores", "1", "--configfile", "config/config.yaml", ".test/coarse-units/config.yaml")
    a, b = artefact_digests(first_run / "results"), artefact_digests(wd / "results")
    per_unit = ("/shards/", "stats/")  # unit folders are named after their runs of tarballs / batches
    same = sorted(k for k in a if not any(p in k for p in per_unit))
    assert len(same) > 20 and {k: a[k] for k in same} == {k: b.get(k) for k in same}
    assert sorted(p.name for p in (wd / "results" / "arxiv" / "shards").iterdir()) == [
        "arXiv_src_2001_001_x3", "arXiv_src_9901_001"]
    assert sorted(p.name for p in (wd / "results" / "pmc" / "shards").iterdir()) == ["b00000_x2", "b00002"]
    for sub in ("arxiv/img2dataset", "pmc/img2dataset", "final/mixed", "final/arxiv", "final/pmc"):
        a = {p.name: p.read_bytes() for p in (first_run / "results" / sub).glob("*.tar")}
        b = {p.name: p.read_bytes() for p in (wd / "results" / sub).glob("*.tar")}
        assert a and a == b, sub
    stats = json.loads((wd / "results" / "stats" / "arxiv.json").read_text())
    assert stats["papers_seen"] == 12 and stats["skipped_papers"] == {"corrupt_gzip": 1, "pdf_only": 1}


def test_html_report_holds_the_figures(first_run):
    import base64
    r = snakemake(first_run, "--report", "results/report.html", "--cores", "1")
    report = (first_run / "results" / "report.html").read_text()

    def item(name: str) -> str:
        i = report.index(f'"results/report/{name}": {{')
        m = re.search(r'"data_uri": "data:[^;]+;(?:charset=[^;]+;)?filename=[^;]+;base64,([A-Za-z0-9+/=]+)"', report[i:])
        return base64.b64decode(m.group(1)).decode("utf-8")

    assert '"Results"' in report and '"Captions"' not in report  # one category: every result one click away
    desc = report[report.index("workflow_desc = "):].split("\n", 1)[0]
    assert "samples kept" in desc and "near-duplicate of an evaluation image" in desc  # counts on the landing page
    captions = item("caption_lengths.svg")
    assert "<svg" in captions and "arxiv: caption length" in captions and "pmc: caption length" in captions
    per_unit = item("samples_per_unit.svg")
    assert "samples extracted per month" in per_unit and "samples extracted per batch" in per_unit
    skips = item("skip_reasons.svg")
    assert "corrupt_gzip" in skips and "malformed_xml" in skips
    scores = item("decontamination_scores.svg")
    assert "threshold 0.75" in scores
    grid = item("samples.html")
    assert grid.count("<figure>") == 24 and "data:image/jpeg;base64," in grid
    mixed = json.loads((first_run / "results" / "final" / "mixed" / "meta.json").read_text())["output_count"]
    assert f"results/final/mixed: {mixed}" in grid and grid.count("<figure class='removed'>") == 6
    known = set(expected_pairs().values())
    assert any(caption in grid for caption in known)
    assert r.returncode == 0


def _feature_args(feature: str) -> list[str]:
    args = ["--configfile", "config/config.yaml", f".test/{feature}/config.yaml"]
    return (["--profile", "profiles/slurm"] if feature == "slurm" else ["--cores", "2"]) + args


@pytest.mark.parametrize("feature", FEATURES)
def test_feature_config_dry_runs_and_lints(feature, tmp_path):
    assert {"arxiv-only", "pmc-only", "no-decontamination", "coarse-units", "slurm"} <= set(FEATURES)
    wd = make_checkout(tmp_path / feature)
    r = snakemake(wd, "-n", *_feature_args(feature))
    assert "sample_corpus" in r.stdout
    r = snakemake(wd, "--lint", "--configfile", "config/config.yaml", f".test/{feature}/config.yaml")
    assert "Congratulations" in r.stdout + r.stderr


@pytest.mark.parametrize("feature", ["arxiv-only", "pmc-only", "no-decontamination"])
def test_feature_config_end_to_end(feature, tmp_path):
    wd = make_checkout(tmp_path / feature)
    snakemake(wd, *_feature_args(feature))
    res = wd / "results"
    finals = sorted(p.name for p in (res / "final").iterdir() if p.is_dir())
    if feature == "arxiv-only":
        assert not (res / "pmc").exists() and finals == ["arxiv", "mixed", "mixed-basic"]
        assert (res / "train" / "web-papers" / "summary.json").is_file()  # the web run has no data here
        assert not (res / "train" / "web").exists()
        header = (res / "experiments" / "table.csv").read_text().splitlines()
        assert header[0].startswith("run,sample/chart-types") and "sciclip/arxiv" in header[0]
        assert "sciclip/pmc" not in header[0] and len(header) == 2
    elif feature == "pmc-only":
        assert not (res / "arxiv").exists() and finals == ["mixed", "mixed-basic", "pmc"]
        assert not (res / "train").exists()
    else:
        assert finals == ["arxiv", "cc", "mixed", "mixed-basic", "pmc"]
        assert not list(res.glob("*/scores")) and not list(res.glob("*/embeddings_*"))
        report = json.loads((res / "arxiv" / "decontamination.json").read_text())
        assert (report["contaminated"], report["exact_duplicates"]) == (0, 1)
    for source in {"arxiv-only": ["arxiv"], "pmc-only": ["pmc"]}.get(feature, ["arxiv", "pmc"]):
        assert json.loads((res / "stats" / f"{source}.json").read_text())["samples"] > 0


def test_tail_units_through_the_dag_equal_one_job_per_stage(tmp_path):
    """Many small tail units (4 samples per img2dataset shard, 2 shards per unit) through the DAG give the bytes
    one conversion job and one subset job give on the same extraction output."""
    from sciclip.curate.dedup import build_subset
    from sciclip.shards.img2dataset import convert

    wd = make_checkout(tmp_path / "wf-tail")
    (wd / "tail.yaml").write_text("img2dataset:\n  samples_per_shard: 4\n  shards_per_unit: 2\n"
                                  "train:\n  enabled: false\ncc:\n  enabled: false\n")
    snakemake(wd, "results/arxiv/decontaminated.npy", "results/pmc/decontaminated.npy", "--cores", "2",
              "--configfile", "config/config.yaml", "tail.yaml")
    for source in ("arxiv", "pmc"):
        res = wd / "results" / source
        plan = json.loads((res / "img2dataset.plan.json").read_text())
        assert len(plan["units"]) > 1, source
        one = tmp_path / f"{source}-one"
        convert(sorted((res / "shards").iterdir()), one, samples_per_shard=4, shards_per_unit=10_000)
        names = sorted(p.name for p in one.iterdir() if not p.name.endswith("_stats.json"))
        assert names == sorted(p.name for p in (res / "img2dataset").iterdir() if not p.name.endswith("_stats.json"))
        for name in names:
            assert (one / name).read_bytes() == (res / "img2dataset" / name).read_bytes(), name
        build_subset(one, res / "scores", 0.75, tmp_path / f"{source}.npy", tmp_path / f"{source}.json")
        assert (tmp_path / f"{source}.npy").read_bytes() == (res / "decontaminated.npy").read_bytes()
        assert (tmp_path / f"{source}.json").read_bytes() == (res / "decontamination.json").read_bytes()


def test_final_mixed_loads_with_hf_datasets(first_run):
    """One json schema for every source: Hugging Face infers it from the first rows and must accept the rest."""
    from datasets import load_dataset

    files = sorted(str(p) for p in (first_run / "results" / "final" / "mixed").glob("*.tar"))
    ds = load_dataset("webdataset", data_files={"train": files}, split="train",
                      cache_dir=str(first_run / "hf-cache"))
    rows = [r["json"] for r in ds]
    count = json.loads((first_run / "results" / "final" / "mixed" / "meta.json").read_text())["output_count"]
    assert len(rows) == count > 30 and {r["source"] for r in rows} == {"arxiv", "pmc", "cc"}
    keys = {frozenset(r) for r in rows}
    assert len(keys) == 1  # the same keys for every source
    for key in next(iter(keys)):
        assert len({type(r[key]) for r in rows} - {type(None)}) <= 1, key
    assert all(r["doi"] == "" for r in rows if r["source"] == "arxiv")
