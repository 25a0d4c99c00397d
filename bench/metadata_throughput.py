#!/usr/bin/env python3
"""DataComp metadata throughput: ``sciclip metadata`` over one tail unit, per model, as a fresh process.

Models are OpenCLIP's ViT-B-32 and ViT-L-14 architectures (the metadata's b32 and l14) with random weights,
saved as local-dir models: nothing is downloaded, and a forward pass costs what the pretrained one costs.
Images are 512-px JPEGs (what our shards hold); one line per model:

    model=<name> samples=<N> seconds=<s> samples_per_s=<r> peak_rss_mib=<m> device=<cpu|cuda>

    .venv/bin/python bench/metadata_throughput.py [--samples 256] [--models b32 l14 tiny] [--device cpu]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
from measure import run_measured  # noqa: E402
from PIL import Image  # noqa: E402

ARCH = {"b32": "ViT-B-32", "l14": "ViT-L-14"}


def write_model(name: str, out: Path) -> str:
    """A local-dir model: OpenCLIP's config for the architecture and random weights."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    from sciclip.curate.clip_models import write_tiny_model

    if name == "tiny":
        write_tiny_model(out)
        return f"local-dir:{out}"
    out.mkdir(parents=True, exist_ok=True)
    cfg = open_clip.get_model_config(ARCH[name])
    (out / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": {}}))
    torch.manual_seed(0)
    model = open_clip.create_model(ARCH[name])
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "open_clip_model.safetensors"))
    return f"local-dir:{out}"


def write_shards(folder: Path, n: int) -> Path:
    """One extraction unit of n 512-px JPEG samples, converted to img2dataset's layout with its tail plan."""
    from sciclip.shards.img2dataset import convert
    from sciclip.shards.tail_plan import folder_plan, write_plan
    from sciclip.shards.writer import ShardWriter

    rng = np.random.default_rng(0)
    unit = folder / "unit"
    with ShardWriter(unit, 10_000) as w:
        for i in range(n):
            im = Image.fromarray((rng.random((8, 8, 3)) * 255).astype(np.uint8)).resize((512, 384), Image.BICUBIC)
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=90)
            uid = f"{i:032x}"
            caption = f"figure {i}: a plot of quantity {i % 97} against time for the model"
            meta = {"uid": uid, "key": uid, "source": "arxiv", "caption": caption, "sha256": f"{i:064x}",
                    "width": 512, "height": 384, "original_width": 512, "original_height": 384}
            w.write(uid, {"jpg": buf.getvalue(), "txt": caption.encode(), "json": json.dumps(meta).encode()})
        shards = [{"name": p.name, "samples": c} for p, c in zip(w.shards, w.counts)]
    (unit / "stats.json").write_text(json.dumps({"shards": shards}))
    i2d = folder / "i2d"
    convert([unit], i2d)
    write_plan(folder_plan(i2d, shards_per_unit=1 << 30), folder / "plan.json")
    return i2d


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--models", nargs="+", default=["tiny", "b32", "l14"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    env = {"PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory(prefix="metadata-bench-") as tmp:
        tmp = Path(tmp)
        i2d = write_shards(tmp, args.samples)
        plan = json.loads((tmp / "plan.json").read_text())
        for name in args.models:
            model = write_model(name, tmp / "models" / name)
            cmd = [sys.executable, "-m", "sciclip", "-q", "metadata", str(i2d), "--plan", str(tmp / "plan.json"),
                   "--unit", plan["units"][0]["name"], "--clip-model", "b32", model, "none", "--kind-model", "b32",
                   "--device", args.device, "--batch-size", str(args.batch_size), "--workers", str(args.workers),
                   "--out", str(tmp / "meta" / name), "--report", str(tmp / f"{name}.json")]
            run_measured(cmd, env)  # warms the file cache
            secs, rss = run_measured(cmd, env)
            loop = json.loads((tmp / f"{name}.json").read_text())["duration_s"]
            print(f"model={name} samples={args.samples} job_seconds={secs:.1f} embed_seconds={loop:.1f} "
                  f"samples_per_s={args.samples / loop:.1f} peak_rss_mib={rss} device={args.device}", flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
