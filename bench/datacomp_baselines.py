#!/usr/bin/env python3
"""DataComp's own ``baselines.py`` against ``sciclip select`` on a metadata folder sciclip wrote.

Builds a synthetic corpus (as bench/tail_scale.py), converts it to img2dataset's layout, computes its metadata
with two small local CLIPs (the b32 and l14 columns), then runs DataComp's ``clip_score`` baseline (fractions and
thresholds, both models) and sciclip's ``clip_score`` filter on the same folder and compares the subsets
byte for byte. DataComp is not part of sciclip: point at a checkout and a Python that can import its
baselines (pandas, fsspec, torch, fasttext, nltk, gcld3):

    .venv/bin/python bench/datacomp_baselines.py --datacomp ~/datacomp --python ~/dc-env/bin/python [--samples 30000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from tail_scale import make_corpus  # noqa: E402

CASES = [("b32", "--fraction", "0.1"), ("b32", "--fraction", "0.3"), ("l14", "--fraction", "0.3"),
         ("l14", "--fraction", "0.5"), ("l14", "--fraction", "0.9"), ("b32", "--threshold", "0.0"),
         ("l14", "--threshold", "-0.05")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datacomp", required=True, help="a checkout of mlfoundations/datacomp")
    ap.add_argument("--python", required=True, help="a Python that imports DataComp's baselines")
    ap.add_argument("--samples", type=int, default=30_000)
    args = ap.parse_args()
    from sciclip.curate.clip_models import write_tiny_model
    from sciclip.shards.img2dataset import convert
    from sciclip.shards.tail_plan import folder_plan, write_plan

    env = {"PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory(prefix="dc-baselines-") as tmp:
        tmp = Path(tmp)
        dirs = make_corpus(tmp / "units", args.samples)
        i2d = tmp / "i2d"
        convert(dirs, i2d)
        plan = folder_plan(i2d, shards_per_unit=1 << 30)
        write_plan(plan, tmp / "plan.json")
        for name, seed in (("b32", 1), ("l14", 2)):
            write_tiny_model(tmp / name, seed=seed)
        meta = tmp / "metadata"
        subprocess.run([sys.executable, "-m", "sciclip", "-q", "metadata", str(i2d), "--plan", str(tmp / "plan.json"),
                        "--unit", plan.units[0].name, "--clip-model", "b32", f"local-dir:{tmp / 'b32'}", "none",
                        "--clip-model", "l14", f"local-dir:{tmp / 'l14'}", "none", "--device", "cpu",
                        "--out", str(meta)], check=True, env={**os.environ, **env})
        files = sorted(meta.glob("*.parquet"))
        print(f"# metadata: {args.samples} samples in {len(files)} parquet files", flush=True)
        same = 0
        for arch, mode, value in CASES:
            ours, theirs = tmp / "ours.npy", tmp / "theirs.npy"
            key = "fraction" if mode == "--fraction" else "threshold"
            spec = json.dumps({"clip_score": {"model": arch, key: float(value)}})
            subprocess.run([sys.executable, "-m", "sciclip", "-q", "select", "--metadata", str(meta), "--filters", spec,
                            "--out", str(ours)], check=True, env={**os.environ, **env})
            subprocess.run([args.python, "baselines.py", "--name", "clip_score", "--metadata_dir", str(meta),
                            "--save_path", str(theirs), "--arch", arch, mode, value, "--num_workers", "2"],
                           check=True, cwd=args.datacomp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            a, b = np.load(ours), np.load(theirs)
            equal = a.dtype == b.dtype and np.array_equal(a, b)
            same += equal
            print(f"case=clip_score arch={arch} {key}={value} sciclip={len(a)} datacomp={len(b)} identical={equal}",
                  flush=True)
        print(f"# {same} of {len(CASES)} subsets identical", flush=True)
        return 0 if same == len(CASES) else 1


if __name__ == "__main__":
    raise SystemExit(main())
