#!/usr/bin/env python3
"""The near-duplicate gather job at corpus scale: ``sciclip near-dup`` as a fresh process over synthetic tail
units (img2dataset parquets with keys and uids, and the descriptor files the embed jobs write), without images,
so that large N is quick to set up. One line per descriptor and size:

    descriptor=<d> samples=<N> seconds=<s> peak_rss_mib=<m> removed=<r> partitions=<p>

Descriptors are random (distinct pictures) plus 2% planted copies of earlier samples (pHash: 0-3 bits flipped;
Yokoo: a little noise), spread over the corpus; units of 100,000 samples.

    .venv/bin/python bench/near_dup_scale.py --samples 200000 2000000 [--descriptors phash yokoo]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from measure import run_measured  # noqa: E402

from sciclip.shards.tail_plan import TailPlan, TailUnit, write_plan  # noqa: E402

PER_SHARD = 10_000
SHARDS_PER_UNIT = 10


def make_units(root: Path, n: int, descriptor: str, seed: int = 0) -> Path:
    """img2dataset parquets (key, uid, status) and per-unit descriptor folders (ids.npy, emb.npy), and a plan."""
    rng = np.random.default_rng(seed)
    i2d, emb_root = root / "i2d", root / "emb"
    i2d.mkdir(parents=True)
    shards = -(-n // PER_SHARD)
    units = []
    for u, first in enumerate(range(0, shards, SHARDS_PER_UNIT)):
        count = min(SHARDS_PER_UNIT, shards - first)
        lo, hi = first * PER_SHARD, min(n, (first + count) * PER_SHARD)
        m = hi - lo
        uids = np.array([f"{i:032x}".encode() for i in range(lo, hi)], dtype="S32")
        if descriptor == "phash":
            codes = rng.integers(0, 2**63, m, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, m).astype(np.uint64)
            dup = rng.random(m) < 0.02
            src = np.minimum(rng.integers(0, m, m), np.arange(m))
            flips = np.zeros(m, np.uint64)
            for _ in range(3):
                flips ^= np.where(rng.random(m) < 0.5, np.uint64(1) << rng.integers(0, 64, m).astype(np.uint64), 0)
            codes = np.where(dup, codes[src] ^ flips, codes)
            emb = codes.astype(">u8").view(np.uint8).reshape(-1, 8)
        else:
            emb = rng.normal(size=(m, 256)).astype(np.float32)
            dup = rng.random(m) < 0.02
            src = np.minimum(rng.integers(0, m, m), np.arange(m))
            emb = np.where(dup[:, None], emb[src] + 0.1 * rng.normal(size=(m, 256)).astype(np.float32), emb)
            emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        d = emb_root / f"t{u:05d}"
        d.mkdir(parents=True)
        np.save(d / "ids.npy", uids)
        np.save(d / "emb.npy", emb)
        (d / "descriptor.txt").write_text(descriptor)
        for s in range(first, first + count):
            a, b = s * PER_SHARD, min(n, (s + 1) * PER_SHARD)
            keys = [f"{s * PER_SHARD + i:09d}" for i in range(b - a)]
            pq.write_table(pa.table({"key": keys, "uid": [f"{i:032x}" for i in range(a, b)],
                                     "status": ["success"] * (b - a)}), i2d / f"{s:05d}.parquet")
            (i2d / f"{s:05d}.tar").touch()
        units.append(TailUnit(f"t{u:05d}", first, count, m))
    write_plan(TailPlan(PER_SHARD, shards, n, 5, units), root / "plan.json")
    return root


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, nargs="+", default=[200_000, 2_000_000])
    ap.add_argument("--descriptors", nargs="+", default=["phash", "yokoo"])
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    base = Path(args.workdir or tempfile.mkdtemp(prefix="near-dup-scale-"))
    env = {"PYTHONPATH": str(ROOT / "src")}
    try:
        for descriptor in args.descriptors:
            for n in args.samples:
                root = base / f"{descriptor}-{n}"
                shutil.rmtree(root, ignore_errors=True)
                make_units(root, n, descriptor)
                threshold = "0.95" if descriptor == "phash" else "0.9"
                cmd = [sys.executable, "-m", "sciclip", "-q", "near-dup", "--source", "arxiv", str(root / "i2d"),
                       str(root / "plan.json"), str(root / "emb"), "--threshold", threshold,
                       "--out", str(root / "removed.npy"), "--report", str(root / "report.json")]
                secs, rss = run_measured(cmd, env)
                rep = json.loads((root / "report.json").read_text())
                print(f"descriptor={descriptor} samples={n} seconds={secs:.1f} peak_rss_mib={rss} "
                      f"removed={rep['removed']} partitions={rep['partitions']}", flush=True)
                shutil.rmtree(root, ignore_errors=True)
    finally:
        if not args.workdir:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
