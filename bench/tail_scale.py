#!/usr/bin/env python3
"""The tail at corpus scale: every tail stage as a fresh process (exec, not fork), on synthetic extraction
output of N samples, one line per stage and size:

    stage=<name> samples=<N> seconds=<s> peak_rss_mib=<m>

Per-unit stages (convert, embed, score, filter, metadata) run once per tail unit, as the workflow's jobs do:
seconds are summed over the units, peak RSS is the largest unit's. Images are small JPEGs (pHash descriptors;
1% of samples repeat an earlier image and caption, so deduplication has work to do). ``near_dup`` is the
gather job over every unit's descriptors; with ``--metadata`` (the tiny CLIP: the decoding and I/O of a metadata
job, not a real model's forward passes, which bench/metadata_throughput.py measures) the ``metadata`` jobs and a
variant's ``select`` (CLIP-score top 30% and no near-duplicate) run too.

    .venv/bin/python bench/tail_scale.py --samples 200000 2000000 [--shards-per-unit 10] [--workdir DIR] [--metadata]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from measure import run_measured  # noqa: E402
from PIL import Image  # noqa: E402

from sciclip.shards.writer import ShardWriter  # noqa: E402

SAMPLES_PER_UNIT_DIR = 50_000  # extraction units of the synthetic corpus (an arXiv tarball gives ~3,000)


def _images(n: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        im = Image.fromarray((rng.random((6, 6, 3)) * 255).astype(np.uint8)).resize((48, 48), Image.BILINEAR)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85)
        out.append(buf.getvalue())
    return out


def make_corpus(root: Path, n: int) -> list[Path]:
    """Extraction-unit folders like the extract jobs write (shards + stats.json)."""
    images = _images(4096)
    dirs = []
    for u, start in enumerate(range(0, n, SAMPLES_PER_UNIT_DIR)):
        d = root / f"u{u:05d}"
        shards = []
        with ShardWriter(d, 10_000) as w:
            for i in range(start, min(n, start + SAMPLES_PER_UNIT_DIR)):
                j = i - 1 if i % 100 == 99 else i  # every 100th sample repeats the previous one
                uid = f"{(j * 2654435761) % (1 << 64):016x}{i:016x}"
                caption = f"synthetic figure {j}: a plot of quantity {j % 997} against time"
                meta = {"uid": uid, "key": uid, "source": "arxiv", "paper_id": f"2101.{j // 8:05d}", "yymm": "2101",
                        "source_path": f"f{j % 8}.png", "sha256": f"{j:064x}", "caption": caption,
                        "width": 48, "height": 48, "original_width": 48, "original_height": 48}
                w.write(uid, {"jpg": images[j % len(images)], "txt": caption.encode(),
                              "json": json.dumps(meta, sort_keys=True).encode()})
            shards = [{"name": p.name, "samples": c} for p, c in zip(w.shards, w.counts)]
        (d / "stats.json").write_text(json.dumps({"shards": shards}))
        dirs.append(d)
    return dirs


def sciclip(*args: str) -> list[str]:
    return [sys.executable, "-m", "sciclip", "-q", *args]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, nargs="+", default=[200_000, 2_000_000])
    ap.add_argument("--shards-per-unit", type=int, default=10, help="img2dataset shards per tail unit (10)")
    ap.add_argument("--workdir", default=None, help="where the corpora go (default: a temp dir, removed)")
    ap.add_argument("--metadata", action="store_true", help="also the metadata jobs (tiny CLIP) and a variant")
    args = ap.parse_args()
    env = {"PYTHONPATH": str(ROOT / "src")}
    base = Path(args.workdir or tempfile.mkdtemp(prefix="tail-scale-"))
    try:
        for n in args.samples:
            tmp = base / f"n{n}"
            shutil.rmtree(tmp, ignore_errors=True)
            t = time.perf_counter()
            dirs = make_corpus(tmp / "units", n)
            print(f"# corpus of {n} samples in {len(dirs)} extraction units: {time.perf_counter() - t:.0f} s",
                  flush=True)

            def report(stage: str, seconds: float, rss: int) -> None:
                print(f"stage={stage} samples={n} seconds={seconds:.1f} peak_rss_mib={rss}", flush=True)

            plan_path, i2d = tmp / "plan.json", tmp / "i2d"
            s, rss = run_measured(sciclip("convert-plan", *map(str, dirs), "--out", str(plan_path),
                                          "--shards-per-unit", str(args.shards_per_unit)), env)
            report("convert_plan", s, rss)
            units = [u["name"] for u in json.loads(plan_path.read_text())["units"]]
            eval_dir = tmp / "eval"
            eval_dir.mkdir()
            for i, data in enumerate(_images(100)):
                (eval_dir / f"e{i}.jpg").write_bytes(data)
            s, rss = run_measured(sciclip("embed-eval", "--eval-images", str(eval_dir), "--descriptor", "phash",
                                          "--out", str(tmp / "eval.npz")), env)
            report("embed_eval", s, rss)
            per_unit = {
                "convert": lambda u: sciclip("convert", "--plan", str(plan_path), "--unit", u, "--out", str(i2d)),
                "embed": lambda u: sciclip("embed", str(i2d), "--plan", str(plan_path), "--unit", u,
                                           "--descriptor", "phash", "--workers", "0", "--out", str(tmp / "emb" / u)),
                "score": lambda u: sciclip("score", str(i2d), "--plan", str(plan_path), "--unit", u, "--embeddings",
                                           str(tmp / "emb" / u), "--eval", str(tmp / "eval.npz"), "--out",
                                           str(tmp / "scores")),
                "filter": lambda u: sciclip("filter", str(i2d), "--plan", str(plan_path), "--unit", u, "--scores",
                                            str(tmp / "scores"), "--threshold", "0.99", "--out",
                                            str(tmp / "filtered" / u)),
            }
            if args.metadata:
                from sciclip.curate.clip_models import write_tiny_model

                write_tiny_model(tmp / "tiny")
                per_unit["metadata"] = lambda u: sciclip(
                    "metadata", str(i2d), "--plan", str(plan_path), "--unit", u, "--clip-model", "b32",
                    f"local-dir:{tmp / 'tiny'}", "none", "--kind-model", "b32", "--device", "cpu", "--workers", "1",
                    "--out", str(tmp / "metadata"))
            for stage, cmd in per_unit.items():
                total, peak = 0.0, 0
                for u in units:
                    s, rss = run_measured(cmd(u), env)
                    total, peak = total + s, max(peak, rss)
                report(stage, total, peak)
            s, rss = run_measured(sciclip("near-dup", "--source", "arxiv", str(i2d), str(plan_path), str(tmp / "emb"),
                                          "--threshold", "0.95", "--out", str(tmp / "near_dup.npy"),
                                          "--report", str(tmp / "near_dup.json")), env)
            report("near_dup", s, rss)
            s, rss = run_measured(sciclip("subset", "--filtered", *[str(tmp / "filtered" / u) for u in units],
                                          "--plan", str(plan_path), "--threshold", "0.99", "--out",
                                          str(tmp / "subset.npy"), "--report", str(tmp / "report.json")), env)
            report("subset", s, rss)
            s, rss = run_measured(sciclip("subset", "--merge", str(tmp / "subset.npy"), str(tmp / "subset.npy"),
                                          "--out", str(tmp / "mixed.npy")), env)
            report("merge_subsets", s, rss)
            if args.metadata:
                s, rss = run_measured(sciclip("select", "--metadata", str(tmp / "metadata"), "--filters",
                                              '{"clip_score": {"model": "b32", "fraction": 0.3}, "near_dup": true}',
                                              "--near-dup", str(tmp / "near_dup.npy"), "--subset",
                                              str(tmp / "subset.npy"), "--out", str(tmp / "variant.npy")), env)
                report("select", s, rss)
            s, rss = run_measured(sciclip("reshard", "-i", str(i2d), "-o", str(tmp / "final"), "-s",
                                          str(tmp / "subset.npy"), "-j", "2"), env)
            report("reshard", s, rss)
            kept = len(np.load(tmp / "subset.npy", mmap_mode="r"))
            print(f"# {n} samples: {len(units)} tail units, {kept} kept after deduplication", flush=True)
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if not args.workdir:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
