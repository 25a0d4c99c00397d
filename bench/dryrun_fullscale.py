#!/usr/bin/env python3
"""`snakemake -n` wall time on a synthetic full-scale input: today's arXiv (6,000 bulk tarballs) and PMC
(7,000 batches of 1,000 articles), with the selection checkpoints already written (as after the first step of a
real run), and again once extraction is done (its outputs and the tail plans written: the tail's per-unit jobs
are then in the DAG; 12M arXiv and 15M PMC samples by default). Prints the wall time and the number of jobs.

    .venv/bin/python bench/dryrun_fullscale.py [--tarballs 6000] [--batches 7000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sciclip.sample.arxiv import manifest_xml  # noqa: E402
from sciclip.sources.arxiv.manifest import TarballEntry, write_selection  # noqa: E402
from sciclip.sources.units import plan_units, read_members, write_units  # noqa: E402


def tarballs(n: int) -> list[TarballEntry]:
    out = []
    months = [(y, m) for y in range(1991, 2031) for m in range(1, 13)]
    per_month = max(1, -(-n // len(months)))
    for i in range(n):
        y, m = months[i // per_month]
        yymm = f"{y % 100:02d}{m:02d}"
        seq = i % per_month + 1
        first = f"{yymm}.{seq * 1000:05d}" if y >= 2007 else f"hep-th{yymm}{seq:03d}"
        out.append(TarballEntry(f"src/arXiv_src_{yymm}_{seq:03d}.tar", 500_000_000, f"{i:032x}", first, first, 1000,
                                seq, yymm, "2026-01-01"))
    return out


def setup(wd: Path, n_tar: int, n_batch: int) -> None:
    for name in ("Snakefile", "workflow", "config", "profiles", "src"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, wd / name)
    (wd / "fullscale.yaml").write_text(
        "arxiv:\n  source: s3://arxiv\n  max_size_gb: null\n"
        "pmc:\n  source: s3://pmc-oa-opendata\n  batch_size: 1000\n"
        "decontamination:\n  descriptor: yokoo\n  eval_images: null\n  eval_embeddings: /data/eval_dedup_embeddings.pt\n"
        "train:\n  enabled: false\n")
    entries = tarballs(n_tar)
    res = wd / "results"
    (res / "arxiv").mkdir(parents=True)
    (res / "arxiv" / "manifest.xml").write_bytes(manifest_xml([{
        "content_md5sum": e.md5sum, "filename": e.filename, "first_item": e.first_item, "last_item": e.last_item,
        "md5sum": e.md5sum, "num_items": e.num_items, "seq_num": e.seq_num, "size": e.size,
        "timestamp": e.timestamp, "yymm": e.yymm} for e in entries]))
    time.sleep(0.01)
    write_selection(entries, res / "arxiv" / "selected.tsv")
    (res / "pmc").mkdir()
    lines = ["batch\tarticles"] + [f"b{b:05d}\t1000" for b in range(n_batch)]
    (res / "pmc" / "batches.tsv").write_text("\n".join(lines) + "\n")
    (res / "pmc" / "index.tsv").write_text("batch\tpmcid\n")  # the per-article index: not read to build the DAG
    time.sleep(0.01)
    for source, members in (("arxiv", "selected.tsv"), ("pmc", "batches.tsv")):  # the unit checkpoints, done
        write_units(plan_units(read_members(res / source / members)), res / source / "units.tsv")


def finish_extraction(wd: Path, samples: dict[str, int], per_shard: int = 10_000, per_unit: int = 50) -> None:
    """What the workflow has after every extraction job: unit shard folders and each source's tail plan."""
    from sciclip.shards.tail_plan import TailPlan, TailUnit, write_plan
    from sciclip.sources.units import read_units

    time.sleep(0.01)
    for source, n in samples.items():
        res = wd / "results" / source
        for unit in read_units(res / "units.tsv"):
            d = res / "shards" / unit
            d.mkdir(parents=True)
            (d / "stats.json").write_text("{}")
        shards = -(-n // per_shard)
        plan = TailPlan(per_shard, shards, n, 5)
        for i, first in enumerate(range(0, shards, per_unit)):
            plan.units.append(TailUnit(f"t{i:05d}", first, min(per_unit, shards - first), 0))
        time.sleep(0.01)
        write_plan(plan, res / "img2dataset.plan.json")


def dry_run(wd: Path, repeat: int) -> tuple[float, int | None]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    best, jobs = None, None
    for _ in range(repeat):
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "8", "--quiet",
                            os.environ.get("DRY_QUIET", "rules"), "--configfile", "config/config.yaml",
                            "fullscale.yaml"], cwd=wd, env=env, capture_output=True, text=True)
        secs = time.perf_counter() - t
        if r.returncode != 0:
            raise SystemExit(r.stdout[-3000:] + r.stderr[-3000:])
        best = secs if best is None else min(best, secs)
        total = re.search(r"^total\s+(\d+)", r.stdout + r.stderr, re.M)
        jobs = int(total.group(1)) if total else None
    return best, jobs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tarballs", type=int, default=6000)
    ap.add_argument("--batches", type=int, default=7000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--arxiv-samples", type=int, default=12_000_000)
    ap.add_argument("--pmc-samples", type=int, default=15_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wd = Path(tmp)
        setup(wd, args.tarballs, args.batches)
        best, jobs = dry_run(wd, args.repeat)
        print(f"snakemake -n over {args.tarballs} arXiv tarballs + {args.batches} PMC batches: {best:.1f} s "
              f"(best of {args.repeat}), {jobs} jobs in the DAG")
        finish_extraction(wd, {"arxiv": args.arxiv_samples, "pmc": args.pmc_samples})
        best, jobs = dry_run(wd, args.repeat)
        print(f"snakemake -n once extraction is done ({args.arxiv_samples:,} arXiv + {args.pmc_samples:,} PMC "
              f"samples, the tail per unit): {best:.1f} s (best of {args.repeat}), {jobs} jobs in the DAG")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
