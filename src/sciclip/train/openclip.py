"""Training CLIP with OpenCLIP on the final shards: presets, the data spec, the command, and its verdict.

Presets follow DataComp's scales (global batch, learning rate, warmup, samples seen); ``tiny`` is a very
small custom model shipped with the workflow that trains a few steps on the CPU (tests and the demo).
``--train-num-samples`` is the number of samples in the training data, read from the shards' stats; the
number of epochs is what it takes to see the preset's samples. Several data sources (the final shards plus
external ones, e.g. CommonPool) are joined with ``::`` and mixed with upsampling factors.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.storage.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

TINY_MODEL_DIR = Path(__file__).resolve().parent / "tiny_clip"  # package data: works installed too


@dataclass(frozen=True)
class Preset:
    model: str
    global_batch: int
    lr: float
    warmup: int
    samples_seen: int | None  # None: one pass over the data
    wd: float = 0.2
    beta2: float = 0.98
    precision: str = "amp"
    workers: int = 4


PRESETS: dict[str, Preset] = {
    # DataComp's four scales (ViT size, global batch, lr, warmup, samples seen)
    "small": Preset("ViT-B-32", 4096, 5e-4, 500, 12_800_000),
    "medium": Preset("ViT-B-32", 4096, 5e-4, 500, 128_000_000),
    "large": Preset("ViT-B-16", 8192, 5e-4, 500, 1_280_000_000),
    "xlarge": Preset("ViT-L-14", 90_112, 1e-3, 10_000, 12_800_000_000),
    # a few CPU steps: a 2-layer ViT on 32 px images (train/tiny_clip in this package)
    "tiny": Preset(f"local-dir:{TINY_MODEL_DIR}", 16, 1e-3, 1, None, precision="fp32", workers=1),
}


@dataclass(frozen=True)
class DataSource:
    pattern: str  # brace pattern of shards, e.g. /data/cp/{00000000..00001023}.tar
    samples: int
    upsampling: float = 1.0


def shard_dir_source(folder: str | os.PathLike, upsampling: float = 1.0) -> DataSource:
    """A folder of ``{:08d}.tar`` shards with ``_stats.json`` (our final output, or any DataComp reshard)."""
    folder = Path(folder)
    shards = sorted(p for p in folder.glob("*.tar") if re.fullmatch(r"\d+\.tar", p.name))
    if not shards:
        raise SciclipError(f"{folder}: no numbered shards to train on")
    ids = [int(p.stem) for p in shards]
    if ids != list(range(ids[0], ids[0] + len(ids))):
        raise SciclipError(f"{folder}: shard numbers are not contiguous (brace expansion needs them)")
    width = len(shards[0].stem)
    samples = 0
    for p in shards:
        stats = p.with_name(f"{p.stem}_stats.json")
        if not stats.is_file():
            raise SciclipError(f"{stats}: missing (training needs the shard sizes)")
        samples += int(json.loads(stats.read_text())["successes"])
    pattern = f"{folder}/{{{ids[0]:0{width}d}..{ids[-1]:0{width}d}}}.tar" if len(ids) > 1 else str(shards[0])
    return DataSource(pattern, samples, upsampling)


def training_command(sources: list[DataSource], preset: str, run: str, logs: str | os.PathLike, *, gpus: int = 1,
                     device: str | None = None, precision: str | None = None, workers: int | None = None,
                     seed: int = 0, python: str = sys.executable) -> tuple[list[str], dict]:
    """The open_clip_train command line and the numbers behind it."""
    if preset not in PRESETS:
        raise SciclipError(f"unknown preset {preset!r} (one of {', '.join(PRESETS)})")
    p = PRESETS[preset]
    if not sources:
        raise SciclipError("no training data")
    effective = sum(round(s.samples * s.upsampling) for s in sources)
    if effective < 1:
        raise SciclipError("the training data has no samples")
    epochs = max(1, math.ceil(p.samples_seen / effective)) if p.samples_seen else 1
    per_device = max(1, p.global_batch // max(1, gpus))
    if effective < per_device * max(1, gpus):
        # OpenCLIP's loader never ends an epoch holding less than one batch: it spins instead of failing
        if preset != "tiny":
            raise SciclipError(f"only {effective} training samples, fewer than one global batch "
                               f"({per_device * max(1, gpus)}) of preset {preset}")
        per_device = max(1, effective // max(1, gpus))
    resampled = len(sources) > 1 or any(s.upsampling != 1.0 for s in sources)
    args = ["-m", "open_clip_train.main", "--dataset-type", "webdataset",
            "--train-data", "::".join(s.pattern for s in sources), "--train-num-samples", str(effective),
            "--model", p.model, "--batch-size", str(per_device), "--lr", str(p.lr), "--wd", str(p.wd),
            "--beta2", str(p.beta2), "--warmup", str(p.warmup), "--epochs", str(epochs),
            "--workers", str(workers if workers is not None else p.workers),
            "--precision", precision or p.precision, "--save-frequency", "1", "--save-most-recent",
            "--logs", str(logs), "--name", run, "--seed", str(seed), "--log-every-n-steps", "1", "--report-to", ""]
    if resampled:
        args += ["--dataset-resampled", "--train-data-upsampling-factors",
                 "::".join(f"{s.upsampling:g}" for s in sources)]
    if device:
        args += ["--device", device]
    if gpus > 1:
        cmd = [python, "-m", "torch.distributed.run", f"--nproc_per_node={gpus}", *args[1:]]
    else:
        cmd = [python, *args]
    info = {"preset": preset, "model": p.model, "train_num_samples": effective, "epochs": epochs,
            "global_batch": per_device * max(1, gpus), "samples_seen": p.samples_seen or effective,
            "sources": [s.__dict__ for s in sources]}
    return cmd, info


_LOSS = re.compile(r"\bLoss: (\S+)")


def losses(log_file: Path) -> list[float]:
    out = []
    for m in _LOSS.finditer(log_file.read_text(errors="replace")):
        try:
            out.append(float(m.group(1)))
        except ValueError:
            out.append(float("nan"))
    return out


def run_training(cmd: list[str], info: dict, logs: str | os.PathLike, run: str) -> dict:
    """Run OpenCLIP; then insist on a checkpoint and finite losses, and write ``summary.json``."""
    run_dir = Path(logs) / run
    if run_dir.exists():  # open_clip refuses an existing experiment: a rerun starts afresh
        shutil.rmtree(run_dir)
    log.info("training: %s", " ".join(cmd))
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "WANDB_DISABLED": "true"}
    proc = subprocess.run(cmd, env=env)
    if proc.returncode != 0:
        raise SciclipError(f"OpenCLIP training exited with {proc.returncode} (see {run_dir}/out.log)")
    ckpt = run_dir / "checkpoints" / "epoch_latest.pt"
    if not ckpt.is_file():
        raise SciclipError(f"{ckpt}: no checkpoint was written")
    out_log = run_dir / "out.log"
    seen = losses(out_log) if out_log.is_file() else []
    if not seen:
        raise SciclipError(f"{out_log}: no loss was logged")
    if not all(math.isfinite(x) for x in seen):
        raise SciclipError(f"{out_log}: non-finite loss {seen[-1]}")
    summary = {**info, "command": cmd, "steps_logged": len(seen), "first_loss": seen[0], "last_loss": seen[-1],
               "checkpoint": str(ckpt)}
    atomic_write_bytes(run_dir / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    return summary
