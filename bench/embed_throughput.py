#!/usr/bin/env python3
"""Descriptor throughput (images/s): Yokoo's ISC21 network at its 512 px input (random weights saved in the
released checkpoint format: the cost is the same as with the real ones) and pHash, over shards streamed by the
same DataLoader the workflow uses.

    .venv/bin/python bench/embed_throughput.py                      # CPU
    .venv/bin/python bench/embed_throughput.py --device cuda --half --images 4096 --batch-size 256 --workers 8
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sciclip.curate.descriptors import embed  # noqa: E402
from sciclip.sample import media  # noqa: E402
from sciclip.shards.writer import ShardWriter  # noqa: E402
from sciclip.sources.uids import sample_uid  # noqa: E402


def make_shards(folder: Path, n: int, per_shard: int = 256) -> list[Path]:
    jpegs = []
    for i in range(16):
        buf = io.BytesIO()
        media.natural_image(f"bench/{i}", (512, 384)).save(buf, "JPEG", quality=90)
        jpegs.append(buf.getvalue())
    with ShardWriter(folder, per_shard) as w:
        for i in range(n):
            uid = sample_uid("embed-bench", str(i))
            w.write(uid, {"jpg": jpegs[i % len(jpegs)], "json": json.dumps({"uid": uid}).encode()})
    return sorted(folder.glob("*.tar"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--phash-images", type=int, default=1000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--half", action="store_true")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    import logging

    import torch
    logging.disable(logging.WARNING)
    sys.path.insert(0, str(ROOT))
    from tests.test_curate import _released_checkpoint
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = tmp / "isc_ft_v107.pth.tar"
        _released_checkpoint(ckpt, input_size=512)
        shards = make_shards(tmp / "y", args.images)
        embed(None, "yokoo", weights=str(ckpt), device=args.device, batch_size=args.batch_size, workers=0,
              half=args.half, shards=shards[:1])  # warm-up (model build, first batch)
        t = time.perf_counter()
        ids, emb = embed(None, "yokoo", weights=str(ckpt), device=args.device, batch_size=args.batch_size,
                         workers=args.workers, half=args.half, shards=shards)
        secs = time.perf_counter() - t
        rows.append((f"yokoo 512px ({args.device}{', fp16' if args.half else ''}, batch {args.batch_size})",
                     len(ids), secs))
        pshards = make_shards(tmp / "p", args.phash_images)
        t = time.perf_counter()
        ids, _ = embed(None, "phash", shards=pshards)
        rows.append(("phash (1 process)", len(ids), time.perf_counter() - t))
    print(f"descriptor throughput; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"DataLoader workers {args.workers}")
    print(f"{'descriptor':44} {'images':>7} {'seconds':>8} {'images/s':>9}")
    for name, n, secs in rows:
        print(f"{name:44} {n:7d} {secs:8.2f} {n / secs:9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
