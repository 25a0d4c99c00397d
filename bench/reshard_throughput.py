#!/usr/bin/env python3
"""Reshard throughput: `sciclip reshard` against DataComp's resharder.py on the same img2dataset shards and
subset, with the same flags, one command each. Prints samples/s (input samples processed per second).

    .venv/bin/python bench/reshard_throughput.py [--shards 20] [--per-shard 2500] [--workers 2]
        [--resharder /path/to/resharder.py --resharder-python /path/to/its/venv/bin/python]

resharder.py is not part of this repository: fetch mlfoundations/datacomp yourself and give its path and a
Python that has its requirements (webdataset 0.2.31, pysimdjson, opencv, cloudpathlib, img2dataset).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from sciclip.sample import media  # noqa: E402
from sciclip.shards.subset_file import uid_pairs  # noqa: E402
from sciclip.shards.writer import ShardWriter  # noqa: E402
from sciclip.sources.uids import sample_uid  # noqa: E402


def make_input(folder: Path, shards: int, per_shard: int) -> list[str]:
    """img2dataset-layout shards: real JPEGs (a few, reused), captions, json with uid; parquet and stats."""
    jpegs = []
    for i in range(8):
        buf = io.BytesIO()
        media.draw_plot(f"bench/{i}", (384, 288)).save(buf, "JPEG", quality=90)
        jpegs.append(buf.getvalue())
    uids = []
    writer = ShardWriter(folder, per_shard)
    for s in range(shards):
        rows = []
        for i in range(per_shard):
            key = f"{s * 10_000 + i:09d}"
            uid = sample_uid("bench", key)
            meta = {"key": key, "uid": uid, "caption": f"Figure {key}: a benchmark caption of modest length.",
                    "status": "success", "url": f"bench://{key}", "width": 384, "height": 288}
            writer.write(key, {"jpg": jpegs[(s + i) % len(jpegs)], "txt": meta["caption"].encode(),
                               "json": json.dumps(meta).encode()})
            rows.append(meta)
            uids.append(uid)
        pq.write_table(pa.Table.from_pylist(rows), folder / f"{s:05d}.parquet")
        (folder / f"{s:05d}_stats.json").write_text(json.dumps({"count": per_shard, "successes": per_shard}))
    writer.close()
    return uids


def run(cmd: list[str], env: dict | None = None) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed:\n{r.stderr[-2000:]}")
    return time.perf_counter() - t


def output_keys(folder: Path) -> list[str]:
    import tarfile
    keys = set()
    for p in folder.glob("*.tar"):
        with tarfile.open(p) as t:
            keys.update(m.name.split(".", 1)[0] for m in t)
    return sorted(keys)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", type=int, default=20)
    ap.add_argument("--per-shard", type=int, default=2500)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--fraction", type=float, default=0.5, help="share of uids in the subset")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--resharder", default=os.environ.get("DATACOMP_RESHARDER"))
    ap.add_argument("--resharder-python", default=os.environ.get("DATACOMP_PYTHON", sys.executable))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        uids = make_input(tmp / "in", args.shards, args.per_shard)
        rng = np.random.default_rng(0)
        chosen = [u for u in uids if rng.random() < args.fraction]
        chosen += chosen[:100]  # some upsampling
        np.save(tmp / "subset.npy", np.sort(uid_pairs(chosen)))
        total = len(uids)
        flags = ["-i", str(tmp / "in"), "-s", str(tmp / "subset.npy"), "--shard-format", "{:05d}.tar",
                 "--shard-stats-format", "{:05d}_stats.json", "-j", str(args.workers), "--shard-size", "10000"]
        tools = [("sciclip reshard", [sys.executable, "-m", "sciclip", "-q", "reshard", *flags, "--overwrite"],
                  {**os.environ, "PYTHONPATH": str(ROOT / "src")})]
        if args.resharder:
            tools.append(("DataComp resharder.py", [args.resharder_python, args.resharder, *flags, "--overwrite"],
                          {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1"}))
        results = {}
        for _ in range(args.repeat):
            for name, cmd, env in tools:  # alternate so the page cache favours neither
                out = tmp / name.split()[0]
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                secs = run(cmd + ["-o", str(out)], env)
                results[name] = min(results.get(name, secs), secs)
        keys = {name: output_keys(tmp / name.split()[0]) for name, _, _ in tools}
    print(f"reshard: {args.shards} shards x {args.per_shard} = {total} samples in, subset {len(chosen)} uids "
          f"({args.fraction:.0%} + 100 repeats), {args.workers} workers, best of {args.repeat}")
    print(f"{'tool':24} {'seconds':>8} {'samples/s':>10} {'output samples':>14}")
    for name, secs in results.items():
        print(f"{name:24} {secs:8.2f} {total / secs:10.0f} {len(keys[name]):14d}")
    if len(results) == 2:
        ours, theirs = results["sciclip reshard"], results["DataComp resharder.py"]
        same = keys["sciclip reshard"] == keys["DataComp resharder.py"]
        print(f"speed-up {theirs / ours:.2f}x; identical sets of output keys: {same}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
