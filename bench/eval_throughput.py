#!/usr/bin/env python3
"""Evaluation throughput (images/s) of ``sciclip evaluate``'s zero-shot classification pass: a synthetic
classification set in clip_benchmark's layout (JPEG photos-like pictures, DataComp's decode -> resize ->
encode path), scored by an OpenCLIP model with random weights (the cost is the real one's; nothing is
downloaded). The class embeddings are built once before timing (1,000 classes x templates is a separate,
fixed cost, reported apart).

    .venv/bin/python bench/eval_throughput.py                                   # ViT-B-32 on the CPU
    .venv/bin/python bench/eval_throughput.py --device cuda --images 8192 --batch-size 256 --workers 8
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sciclip.evaluate.layout import write_set  # noqa: E402
from sciclip.evaluate.tasks import Task, TaskData  # noqa: E402
from sciclip.sample import media  # noqa: E402


def make_set(folder: Path, n: int, classes: int, per_shard: int = 512) -> None:
    jpegs = []
    for i in range(16):
        buf = io.BytesIO()
        media.natural_image(f"bench/{i}", (500, 375)).save(buf, "JPEG", quality=90)  # ImageNet-like size
        jpegs.append(buf.getvalue())
    write_set(folder, ((f"{i:07d}", {"jpg": jpegs[i % 16], "cls": str(i % classes).encode()}) for i in range(n)),
              classnames=[f"class {c}" for c in range(classes)], templates=["a photo of a {c}."],
              shard_size=per_shard)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="ViT-B-32", help="OpenCLIP model (random weights), or local-dir:PATH")
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    import torch

    from sciclip.curate.clip_models import ClipModel, ModelSpec
    from sciclip.evaluate.zeroshot import Scorer

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "wds_bench_test"
        make_set(folder, args.images, args.classes)
        clip = ClipModel(ModelSpec("bench", args.model), device=args.device)
        scorer = Scorer(clip, batch_size=args.batch_size, workers=args.workers)
        data = TaskData(Task("bench", "bench", "acc1", args.images), folder=folder)
        t = time.perf_counter()
        scorer.classifier([f"class {c}" for c in range(args.classes)], ["a photo of a {c}."])
        text_s = time.perf_counter() - t
        # the timed pass: classifier again (small) + every image decoded, transformed, encoded, scored
        t = time.perf_counter()
        metrics, *_ = scorer.classification(data)
        secs = time.perf_counter() - t - text_s
    print(f"evaluation throughput; {args.model}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"device {args.device}, batch {args.batch_size}, DataLoader workers {args.workers}")
    print(f"  class embeddings ({args.classes} classes x 1 template): {text_s:.2f} s")
    print(f"  images: {args.images} in {secs:.2f} s = {args.images / secs:.1f} images/s (acc1 {metrics['acc1']:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
