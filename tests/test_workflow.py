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


def snakemake_env(extra_env: dict | None = None) -> dict:
    """The environment Snakemake runs in: this venv's tools first, the checkout's own ``src`` (no PYTHONPATH)."""
    env = dict(os.environ)
    env.update(extra_env or {})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    return env


def snakemake(cwd: Path, *args: str, check: bool = True, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=snakemake_env(extra_env),
                       capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}")
    return r


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
    assert stats["samples"] == len(got) and stats["items_seen"] == 12
    assert stats["caption_chars"]["count"] == len(got)
    for log in ("arxiv/extract/arXiv_src_2001_002.log", "arxiv/download/arXiv_src_2001_002.log"):
        assert (first_run / "results" / "logs" / log).is_file()
    assert "corrupt_gzip" in (first_run / "results" / "logs" / "arxiv/extract/arXiv_src_2001_002.log").read_text()


def test_metadata_near_duplicates_and_a_filtered_variant(first_run):
    """DataComp metadata beside every img2dataset shard of every source; near-duplicates across sources; the
    demo's variant is the mixed output minus what its filters drop, recomputed here from the metadata."""
    import numpy as np
    import pyarrow.parquet as pq

    res = first_run / "results"
    pool = []
    for source in ("arxiv", "pmc", "cc"):
        shards = sorted(p.stem for p in (res / source / "img2dataset").glob("*.tar"))
        assert sorted(p.stem for p in (res / source / "metadata").glob("*.parquet")) == shards
        assert sorted(p.stem for p in (res / source / "metadata").glob("*.npz")) == shards
        rows = [r for p in sorted((res / source / "metadata").glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
        assert len(rows) == json.loads((res / "stats" / f"{source}.json").read_text())["samples"]
        pool += rows
    near = json.loads((res / "near_dup" / "report.json").read_text())
    assert near["descriptor"] == "phash" and near["removed"] >= 1 and near["across_sources"] >= 1
    removed = {r["uid"] for r in near["removed_samples"]}
    basic = {r["uid"] for r in pool if len(r["text"].split()) > 2 and len(r["text"]) > 5
             and min(r["original_width"], r["original_height"]) >= 200
             and max(r["original_width"], r["original_height"]) / min(r["original_width"], r["original_height"]) <= 3}

    def uids(name):
        return {f"{int(a):016x}{int(b):016x}" for a, b in np.load(res / "final" / name / "sample_ids.npy")}

    assert uids("mixed-basic") == (uids("mixed") & basic) - removed and 0 < len(uids("mixed-basic")) < len(uids("mixed"))
    rep = json.loads((res / "final" / "mixed-basic.filters.json").read_text())
    assert rep["pool"] == len(pool) and rep["kept"] == len(uids("mixed-basic"))
    assert rep["filters"]["near_dup"]["kept"] == len(pool) - len(removed)
    r = subprocess.run([sys.executable, "-m", "sciclip", "demo-summary", str(res)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert f"variant mixed-basic: of {len(pool)} samples, basic" in r.stdout and "near-duplicates inside" in r.stdout
    assert "arxiv kinds:" in r.stdout


def test_the_demo_writes_documents_and_says_how_to_open_them(first_run):
    """Interleaved documents are part of the demo (issue 23): one folder per unit of each paper source and the
    crawl's WARCs, readable by HF datasets, counted per source in the summary, with the way to open them."""
    import datasets

    res = first_run / "results"
    stats = {s: json.loads((res / "docs" / "stats" / f"{s}.json").read_text()) for s in ("arxiv", "pmc", "web")}
    assert all(s["documents"] > 0 and s["images"] > 0 for s in stats.values()), stats
    units = [line.split("\t")[0] for line in (res / "arxiv" / "units.tsv").read_text().splitlines()[1:]]
    assert sorted(p.name for p in (res / "docs" / "arxiv" / "clean").iterdir()) == sorted(units)
    r = subprocess.run([sys.executable, "-m", "sciclip", "demo-summary", str(res)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert r.returncode == 0, r.stderr
    for s, st in stats.items():
        assert f"  {s}: {st['documents']} documents, {st['words']} words, {st['images']} images" in r.stdout
    line = next(x for x in r.stdout.splitlines() if "datasets.load_dataset(" in x)
    files = re.search(r'data_files="([^"]+)"', line).group(1)
    ds = datasets.load_dataset("parquet", data_files=str(first_run / files), split="train")
    assert len(ds) == stats[line.split("/docs/")[1].split("/")[0]]["documents"]
    assert {"texts", "images", "metadata", "general_metadata"} <= set(ds.column_names)
    assert f"{res}/report/documents.html" in r.stdout or "results/report/documents.html" in r.stdout


def test_commonpool_output_is_the_sample_pool_minus_dead_links(first_run):
    """The demo downloads the sample pool through img2dataset (DataComp's way): results/final/commonpool holds
    exactly the pool's uids minus its dead links (decontamination is off for the pool by default), each dead link
    counted under its reason; the mix holds them beside the papers; the metadata is the pool's own."""
    import numpy as np
    import pyarrow.parquet as pq

    from sciclip.sample.commonpool import FILES, expected_uids
    from sciclip.shards.subset_file import load_subset

    res = first_run / "results"
    fate = expected_uids()
    alive = sorted(u for u, f in fate.items() if f == "sample")
    pool = sorted(u for f in FILES for u in pq.read_table(
        first_run / "resources" / "sample" / "commonpool" / "metadata" / f"{f}.parquet").column("uid").to_pylist())
    assert pool == sorted(fate) and len(alive) == 6

    def uids(folder):
        return sorted(f"{int(h):016x}{int(lo):016x}" for h, lo in load_subset(folder / "sample_ids.npy").tolist())

    assert uids(res / "final" / "commonpool") == alive
    mixed = uids(res / "final" / "commonpool-papers")
    assert set(alive) <= set(mixed) and set(mixed) - set(alive) == set(uids(res / "final" / "arxiv")) | set(
        uids(res / "final" / "pmc"))
    stats = json.loads((res / "stats" / "commonpool.json").read_text())
    dead: dict[str, int] = {}
    for f in fate.values():
        if f != "sample":
            dead[f] = dead.get(f, 0) + 1
    assert stats["skipped_items"] == dead and stats["samples"] == 6 and stats["items_seen"] == 10
    report = json.loads((res / "commonpool" / "decontamination.json").read_text())
    assert (report["contaminated"], report["exact_duplicates"], report.get("dedup")) == (0, 0, False)
    assert not (res / "commonpool" / "scores").exists()  # the pool is DataComp's, decontaminated already
    unit = json.loads(next((res / "commonpool" / "metadata.units").glob("*.json")).read_text())
    assert unit["reused"] and unit["samples"] == 6
    meta = pq.read_table(res / "commonpool" / "metadata" / "00000.parquet").to_pylist()
    src = {r["uid"]: r for f in FILES for r in pq.read_table(
        first_run / "resources" / "sample" / "commonpool" / "metadata" / f"{f}.parquet").to_pylist()}
    for row in meta:
        assert np.float32(row["clip_b32_similarity_score"]) == np.float32(src[row["uid"]]["clip_b32_similarity_score"])
    near = json.loads((res / "near_dup" / "report.json").read_text())  # the pool stays out of it (tail.near_dup)
    assert near["samples"] == sum(json.loads((res / "stats" / f"{s}.json").read_text())["samples"]
                                  for s in ("arxiv", "pmc", "cc"))


def test_the_papers_config_plans_the_three_conditions(tmp_path):
    """config/paper.yaml (real sources: arXiv's and PMC's buckets, CommonPool small from Hugging Face) plans the
    paper's three conditions as final outputs; nothing is fetched by a dry run."""
    wd = make_checkout(tmp_path / "paper")
    r = snakemake(wd, "-n", "--cores", "2", "--configfile", "config/config.yaml", "config/paper.yaml", check=False)
    assert r.returncode != 0 and "decontamination.eval_embeddings: /data/" in r.stdout + r.stderr  # checked
    (tmp_path / "eval.pt").write_bytes(b"embeddings")  # where this machine has the file paper.yaml names
    (wd / "here.yaml").write_text(f"decontamination:\n  eval_embeddings: {tmp_path / 'eval.pt'}\n")
    r = snakemake(wd, "-n", "--cores", "2", "--configfile", "config/config.yaml", "config/paper.yaml", "here.yaml")
    finals = set(re.findall(r"output: results/final/([\w-]+)\n", r.stdout))
    assert finals == {"commonpool", "arxiv-pmc", "commonpool-arxiv-pmc", "commonpool-clip30"}, finals
    assert "commonpool_list" in r.stdout and "cc_list" not in r.stdout and "sample_corpus" not in r.stdout


def test_pmc_shards_land_beside_arxiv_one_job_per_batch(first_run):
    import webdataset as wds

    from tests.test_pmc import expected_pmc

    shards = sorted((first_run / "results" / "pmc" / "shards").glob("*/*.tar"))
    assert [p.parent.name for p in shards] == ["b00000", "b00001", "b00002"]  # 7 articles, batch_size 3
    ds = wds.WebDataset([str(p) for p in shards], shardshuffle=False).to_tuple("txt", "json")
    got = {(json.loads(m)["pmcid"], json.loads(m)["source_path"]): t.decode() for t, m in ds}
    assert got == {k: v for k, v in expected_pmc().items() if k[0].startswith("PMC1")}
    stats = json.loads((first_run / "results" / "stats" / "pmc.json").read_text())
    assert stats["items_seen"] == 7 and stats["skipped_items"] == {"malformed_xml": 2}
    downloads = first_run / "results" / "pmc" / "downloads"
    assert not downloads.exists() or not any(downloads.iterdir())  # keep_downloads: false
    r = snakemake(first_run, "-n", "--forcerun", "extract", "--cores", "2")
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", r.stdout + r.stderr, re.M))
    assert counts["extract"] == "10"  # one job per unit: 4 tarballs + 3 batches + 2 crawl files + 1 pool unit


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
    # the tail's per-unit rules (embed, score, metadata) and embed_eval follow the convert_plan checkpoint: they
    # enter the graph once extraction is done
    for rule in ("convert_plan", "merge_subsets", "reshard", "near_dup", "variant_subset", "report_corpus"):
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
    assert stats["items_seen"] == 3


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
        for section in ("commonpool", "docs"):  # their sample inputs would be generated locally
            cfg, n = re.subn(rf"^({section}:[^\n]*\n  enabled: )true", r"\1false", cfg, flags=re.M)
            assert n == 1, section
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
             "safetensors": "safetensors", "nltk": "nltk", "huggingface_hub": "huggingface_hub",
             "clip_benchmark": "clip-benchmark", "sklearn": "scikit-learn", "datasets": "datasets"}


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
        # commands with subcommands are matched by both words (sciclip docs unit and docs embed run in other envs)
        m = re.match(r"sciclip ((?:arxiv|pmc|cc|commonpool|docs) \w+|\{wildcards.source\} \w+|[\w-]+)", rule["shell"])
        if m:
            for command in ([m.group(1).replace("{wildcards.source}", s) for s in ("arxiv", "pmc")]
                            if "{wildcards.source}" in m.group(1) else [m.group(1)]):
                by_command.setdefault(command, []).append(name)
    checked = set()
    for trace in sorted((first_run / "trace").glob("*.json")):
        rec = json.loads(trace.read_text())
        argv = [a for a in rec["argv"] if not a.startswith("-")]
        command = " ".join(argv[:2]) if argv[0] in ("arxiv", "pmc", "cc", "commonpool", "docs") else argv[0]
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


def filled_slurm_profile(wd: Path, account: str = "proj", partition: str = "cpu") -> str:
    """profiles/slurm with its placeholders filled, beside it in the checkout (the path to pass to --profile)."""
    text = (wd / "profiles" / "slurm" / "config.yaml").read_text()
    assert '"<account>"' in text and '"<partition>"' in text
    dest = wd / "profiles" / "slurm-filled"
    dest.mkdir(exist_ok=True)
    (dest / "config.yaml").write_text(text.replace('"<account>"', account).replace('"<partition>"', partition))
    return "profiles/slurm-filled"


def job_resources(output: str) -> list[tuple[str, dict]]:
    """(rule, resources) of every job a dry run lists."""
    jobs = []
    for rule, line in re.findall(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    resources: ([^\n]+)", output, re.M):
        res = {}
        for item in line.split(", "):
            k, _, v = item.partition("=")
            res[k] = int(v) if v.lstrip("-").isdigit() else v
        jobs.append((rule, res))
    return jobs


def test_slurm_dry_run_refuses_unfilled_placeholders(tmp_path):
    wd = make_checkout(tmp_path / "wf-slurm")
    r = snakemake(wd, "-n", "--profile", "profiles/slurm", check=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "unfilled placeholders" in out and "slurm_account=<account>" in out
    line = next(x for x in out.splitlines() if "unfilled placeholders" in x)
    assert "slurm_partition=<partition>" in line and "--default-resources" in line  # one line says it all
    assert not (wd / "results").exists()


def test_slurm_dry_run_gives_every_job_account_partition_and_runtime(tmp_path):
    """Snakemake loads profiles/default beside --profile profiles/slurm; its keys must not replace the SLURM
    profile's resources (they did: every job lost account, partition and runtime)."""
    wd = make_checkout(tmp_path / "wf-slurm2")
    r = snakemake(wd, "-n", "--profile", filled_slurm_profile(wd))
    jobs = job_resources(r.stdout + r.stderr)
    assert len(jobs) > 5, r.stdout[-3000:]
    for rule, res in jobs:
        if rule == "all":
            continue
        assert (res.get("slurm_account"), res.get("slurm_partition")) == ("proj", "cpu"), (rule, res)
        assert res.get("runtime", 0) >= 30 and res.get("mem_mb", 0) >= 2000 and res.get("disk_mb") == 1000, (rule, res)
    by_rule = dict(jobs)
    assert by_rule["sample_corpus"]["mem_mb"] == 4000 and by_rule["sample_corpus"]["cpus_per_task"] == 2
    # the demo's tiny CPU training: the config's memory and time, no GPU (was: --gpus=1, 64 GB, 24 h)
    assert (by_rule["train"]["gpu"], by_rule["train"]["mem_mb"], by_rule["train"]["runtime"]) == (0, 8000, 60)
    # filled on the command line instead: the whole list, as the profile's comment says
    r = snakemake(wd, "-n", "--profile", "profiles/slurm", "--default-resources", "slurm_partition=p",
                  "slurm_account=a", "runtime=60", "mem_mb=4000", "disk_mb=1000", "cpus_per_task=2")
    assert dict(job_resources(r.stdout + r.stderr))["sample_corpus"]["slurm_account"] == "a"


def test_slurm_profile_gives_train_and_evaluate_a_gpu(first_run):
    """The sbatch calls the SLURM plugin builds for the training and evaluation jobs (no GPU or SLURM needed)."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    (first_run / "gpu.yaml").write_text("train:\n  device: null\n  mem_mb: 64000\n  runtime: 1440\n"
                                        "evaluate:\n  device: null\n  gpus: 1\n  mem_mb: 32000\n  runtime: 720\n")
    r = snakemake(first_run, "-n", "--profile", filled_slurm_profile(first_run), "--configfile", "config/config.yaml",
                  "gpu.yaml", "--forcerun", "train")

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


def test_coarser_work_units_and_one_core_give_the_same_data(tmp_path):
    """Jobs taking runs of tarballs / batches (the full-scale fan-out), run from scratch on one core instead of
    two, produce byte-identical data downstream of extraction: the golden digests, which come from the demo's
    one-job-per-tarball run on two cores (compared with the golden file, not with the first_run fixture, so that
    this run goes on beside that one on another worker)."""
    from tests.golden import artefact_digests

    wd = make_checkout(tmp_path / "wf8")
    snakemake(wd, "--cores", "1", "--configfile", "config/config.yaml", ".test/coarse-units/config.yaml")
    a, b = json.loads((FIXTURES / "golden_demo.json").read_text()), artefact_digests(wd / "results")
    per_unit = ("/shards/", "stats/")  # unit folders are named after their runs of tarballs / batches
    # coarse-units leaves the metadata, variants, CommonPool and documents out
    not_here = ("/metadata/", "near_dup/", "mixed-basic", "commonpool", "docs/", "heldout/report.json")
    same = sorted(k for k in a if not any(p in k for p in per_unit + not_here))
    assert len(same) > 20 and {k: a[k] for k in same} == {k: b.get(k) for k in same}
    assert sorted(p.name for p in (wd / "results" / "arxiv" / "shards").iterdir()) == [
        "arXiv_src_2001_001_x3", "arXiv_src_9901_001"]
    assert sorted(p.name for p in (wd / "results" / "pmc" / "shards").iterdir()) == ["b00000_x2", "b00002"]
    for sub in ("arxiv/img2dataset", "pmc/img2dataset", "final/mixed", "final/arxiv", "final/pmc"):
        assert any(k.startswith(f"{sub}/") and k.endswith(".tar") for k in same), sub
    stats = json.loads((wd / "results" / "stats" / "arxiv.json").read_text())
    assert stats["items_seen"] == 12 and stats["skipped_items"] == {"corrupt_gzip": 1, "pdf_only": 1}


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
    assert "showResultInfo" in desc and "documents.html" in desc  # the documents' page, one click from the front
    captions = item("caption_lengths.svg")
    assert "<svg" in captions and "arxiv: caption length" in captions and "pmc: caption length" in captions
    per_unit = item("samples_per_unit.svg")
    assert "samples extracted per month" in per_unit and "samples extracted per batch" in per_unit
    skips = item("skip_reasons.svg")
    assert "corrupt_gzip" in skips and "malformed_xml" in skips
    scores = item("decontamination_scores.svg")
    assert "threshold 0.75" in scores
    corpus = item("corpus.html")
    assert "Figure kinds" in corpus and "Near-duplicates inside the corpus" in corpus and "mixed-basic" in corpus
    assert "figure kinds per source" in item("kinds.svg")
    grid = item("samples.html")
    assert grid.count("<figure>") == 24 and "data:image/jpeg;base64," in grid
    mixed = json.loads((first_run / "results" / "final" / "mixed" / "meta.json").read_text())["output_count"]
    assert f"results/final/mixed: {mixed}" in grid and grid.count("<figure class='removed'>") == 6
    known = set(expected_pairs().values())
    assert any(caption in grid for caption in known)
    assert r.returncode == 0


def _feature_args(feature: str, wd: Path | None = None) -> list[str]:
    args = ["--configfile", "config/config.yaml", f".test/{feature}/config.yaml"]
    if feature == "slurm":
        assert wd is not None
        return ["--profile", filled_slurm_profile(wd)] + args
    return ["--cores", "2"] + args


@pytest.mark.parametrize("feature", FEATURES)
def test_feature_config_dry_runs_and_lints(feature, tmp_path):
    assert {"arxiv-only", "pmc-only", "no-decontamination", "coarse-units", "slurm"} <= set(FEATURES)
    wd = make_checkout(tmp_path / feature)
    r = snakemake(wd, "-n", *_feature_args(feature, wd))
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
        # commonpool-papers holds the papers without the pool (its sources.json says so)
        assert not (res / "pmc").exists() and finals == ["arxiv", "commonpool-papers", "mixed"]
        assert (res / "train" / "web-papers" / "summary.json").is_file()  # the web run has no data here
        assert not (res / "train" / "web").exists()
        header = (res / "experiments" / "table.csv").read_text().splitlines()
        assert header[0].startswith("run,sample/chart-types") and "sciclip/arxiv" in header[0]
        assert "sciclip/pmc" not in header[0] and len(header) == 2
    elif feature == "pmc-only":
        assert not (res / "arxiv").exists() and finals == ["commonpool-papers", "mixed", "pmc"]
        assert not (res / "train").exists()
    else:
        assert finals == ["arxiv", "cc", "commonpool-papers", "mixed", "pmc"]
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


# --- issue 27: what a new user on a cluster hit ------------------------------------------------------------------


def _readme_commands(*, containing: str) -> list[list[str]]:
    """Every `snakemake ...` command of the READMEs' and docs/ pages' code blocks that holds ``containing``, as the shell splits it
    (continuation lines joined, comments cut)."""
    import shlex

    commands = []
    for doc in (ROOT / "README.md", ROOT / "config" / "README.md", *sorted((ROOT / "docs").glob("*.md"))):
        text = doc.read_text()
        blocks, inside, prose = [], False, []
        for line in text.splitlines():
            if line.startswith("```"):
                inside = not inside
                if inside:
                    blocks.append([])
            elif inside:
                blocks[-1].append(line)
            else:
                prose.append(line)
        for block in blocks:
            for line in "\n".join(block).replace("\\\n", " ").splitlines():
                if line.strip().startswith("snakemake ") and containing in line:
                    commands.append(shlex.split(line, comments=True)[1:])
        for inline in re.findall(r"`(snakemake [^`]+)`", " ".join(prose)):
            if containing in inline:
                commands.append(shlex.split(inline)[1:])
    return commands


def test_every_readme_config_override_runs_as_written(tmp_path):
    """Each README command with --config / --configfile, run as written with -n added: values inside {...} are
    YAML (numbers, booleans, null), as in a config file (was: '8' is not of type 'integer')."""
    wd = make_checkout(tmp_path / "wf-readme")
    # paper.yaml names files under /data: test_the_papers_config_plans_the_three_conditions runs it with them
    commands = [c for c in _readme_commands(containing="--config")
                if "profiles/slurm" not in c and "config/paper.yaml" not in c]
    assert any("decontamination={descriptor: yokoo, half: true}" in c for c in commands)  # the GPU node's command
    assert any(c[:2] == ["--config", "arxiv={tarballs: [arXiv_src_9901_001]}"] for c in commands)
    for args in commands:
        r = snakemake(wd, "-n", *args, check=False)
        assert r.returncode == 0, f"snakemake {' '.join(args)}:\n{(r.stdout + r.stderr)[-3000:]}"
    r = snakemake(wd, "-n", "--config", "train={preset: small, device: null, gpus: 1, workers: 8}",
                  "decontamination={descriptor: yokoo, half: true, device: null}", "--forcerun", "train", check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    train = r.stdout[r.stdout.index("rule train:"):].split("\n\n")[0]
    assert "--workers 8" in train and "--device" not in train  # 8 an integer, null no device (was: --device null)


def test_missing_local_paths_fail_before_anything_runs(tmp_path):
    wd = make_checkout(tmp_path / "wf-paths")
    r = snakemake(wd, "--cores", "1", "--config", "decontamination={eval_images: /nonexistent-sciclip/eval}",
                  "cc={metadata: /nonexistent-sciclip/metadata.json}", check=False)
    out = r.stdout + r.stderr
    assert r.returncode != 0 and "configured paths are missing" in out
    assert "config: cc.metadata: /nonexistent-sciclip/metadata.json: no such file" in out
    assert "config: decontamination.eval_images: /nonexistent-sciclip/eval: no such directory" in out
    assert not (wd / "results").exists() and not (wd / "resources").exists()  # nothing ran


def test_own_papers_become_shards_through_the_mirror_command_and_the_workflow(tmp_path):
    from tests.conftest import run_cli
    from tests.test_arxiv_mirror import _papers

    wd = make_checkout(tmp_path / "wf-own")
    papers = _papers(tmp_path)
    r = run_cli("arxiv", "mirror", str(papers), "--out", str(wd / "mine"))
    assert r.returncode == 0, r.stderr
    (wd / "own.yaml").write_text("arxiv:\n  source: mine\n  requester_pays: false\n"
                                 "pmc:\n  enabled: false\ncc:\n  enabled: false\n")
    snakemake(wd, "--cores", "2", "results/stats/arxiv.json", "--configfile", "config/config.yaml", "own.yaml")
    stats = json.loads((wd / "results" / "stats" / "arxiv.json").read_text())
    assert (stats["items_seen"], stats["samples"]) == (6, 4)
    assert sorted(p.name for p in (wd / "results" / "arxiv" / "shards").iterdir()) == [
        "arXiv_src_2312_001", "arXiv_src_2401_001", "arXiv_src_9901_001"]
    assert "a local mirror, nothing to download" in (wd / "results" / "logs" / "arxiv" / "select.log").read_text()


def test_a_source_of_no_samples_runs_to_the_end_and_says_why(tmp_path):
    """A mirror whose only paper is a PDF: every rule of the tail runs, the subset and the outputs are empty, the
    summary and report say why (was: `sciclip subset: error: argument --filtered`); training, which has nothing to
    train on, stops in one line."""
    import numpy as np

    from tests.conftest import run_cli

    wd = make_checkout(tmp_path / "wf-empty")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "2001.00001.pdf").write_bytes(b"%PDF-1.4 only a PDF")
    assert run_cli("arxiv", "mirror", str(tmp_path / "p"), "--out", str(wd / "mine")).returncode == 0
    (wd / "empty.yaml").write_text("arxiv:\n  source: mine\n  requester_pays: false\n"
                                   "pmc:\n  enabled: false\ncc:\n  enabled: false\ncommonpool:\n  enabled: false\n"
                                   "docs:\n  enabled: false\n")
    r = snakemake(wd, "--cores", "2", "--configfile", "config/config.yaml", "empty.yaml", check=False)
    res = wd / "results"
    failed = re.findall(r"Error in rule (\w+):", r.stdout + r.stderr)
    assert failed == ["train"], (r.stdout + r.stderr)[-3000:]  # keep-going: everything else ran
    # the experiments' web run has no data without cc; web-papers has arXiv's empty output only
    assert "results/final/arxiv: no samples to train on" in (res / "logs" / "train" / "web-papers.log").read_text()
    assert len(np.load(res / "arxiv" / "decontaminated.npy")) == 0
    assert json.loads((res / "final" / "mixed" / "meta.json").read_text())["output_count"] == 0
    assert (res / "report" / "samples.html").is_file() and (res / "report" / "corpus.html").is_file()
    assert json.loads((res / "final" / "mixed.sources.json").read_text())["left_out"] == {
        "pmc": "not enabled (its branch is off in the config)", "cc": "not enabled (its branch is off in the config)"}
    r = run_cli("demo-summary", "results", cwd=wd)
    assert r.returncode == 0, r.stderr
    assert "no samples: none of the 1 papers seen gave one" in r.stdout and "pdf_only 1" in r.stdout
    assert "from arxiv only; configured also pmc, cc (not enabled)" in r.stdout


def test_a_changed_evaluation_set_reruns_decontamination(tmp_path):
    """Replacing an evaluation image reruns the evaluation descriptors and everything after them (was: "Nothing to
    be done" and the old removals)."""
    from sciclip.sample import media, write_sample

    wd = make_checkout(tmp_path / "wf-eval")
    write_sample(tmp_path / "sample")
    shutil.copytree(tmp_path / "sample" / "eval", wd / "my-eval")
    (wd / "eval.yaml").write_text(
        "pmc:\n  enabled: false\ncc:\n  enabled: false\ntrain:\n  enabled: false\nmetadata:\n  enabled: false\n"
        "curate:\n  filters: []\n  near_dup:\n    enabled: false\ndecontamination:\n  eval_images: my-eval\n")
    args = ["--configfile", "config/config.yaml", "eval.yaml", "--cores", "2"]
    target = "results/arxiv/decontamination.json"
    snakemake(wd, target, *args)
    assert json.loads((wd / target).read_text())["contaminated"] == 4
    assert "eval_images: my-eval" in (wd / "results" / "decontamination" / "eval_set.tsv").read_text()
    assert "Nothing to be done" in (r := snakemake(wd, target, *args, "-n")).stdout + r.stderr
    (wd / "my-eval" / "eval_0.png").write_bytes(media.png_rgb("something else", (200, 150)))
    r = snakemake(wd, target, *args, "-n")
    for rule in ("eval_set", "embed_eval", "score", "subset"):
        assert f"rule {rule}:" in r.stdout, rule
    snakemake(wd, target, *args)
    assert json.loads((wd / target).read_text())["contaminated"] == 3
