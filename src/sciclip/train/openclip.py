"""Training CLIP with OpenCLIP on the final shards: presets, the data spec, the command, and its verdict.

Presets follow DataComp's scales (global batch, learning rate, warmup, samples seen); ``tiny`` is a very
small custom model shipped with the workflow that trains on the CPU in seconds (tests and the demo): a fixed
number of steps in one resampled epoch (one data loader, one checkpoint), enough to memorise the demo's
few dozen pairs, which ``pairs_eval`` then shows (loss and recall@1 on the training pairs, before/after).
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
from sciclip.storage.tables import read_json

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
    steps: int | None = None  # a fixed number of steps in one resampled epoch instead of samples_seen
    schedule: str = "cosine"  # OpenCLIP's --lr-scheduler


PRESETS: dict[str, Preset] = {
    # DataComp's four scales (ViT size, global batch, lr, warmup, samples seen)
    "small": Preset("ViT-B-32", 4096, 5e-4, 500, 12_800_000),
    "medium": Preset("ViT-B-32", 4096, 5e-4, 500, 128_000_000),
    "large": Preset("ViT-B-16", 8192, 5e-4, 500, 1_280_000_000),
    "xlarge": Preset("ViT-L-14", 90_112, 1e-3, 10_000, 12_800_000_000),
    # CPU seconds: a 2-layer ViT on 32 px images (train/tiny_clip in this package). 40 steps at a constant 3e-4
    # take the demo's 30 pairs from loss 3.9 / recall@1 0% to about 0.8 / 75%; a cosine decay needs 60 steps
    # for that, and 1e-3 collapses to chance (loss ln 16)
    "tiny": Preset(f"local-dir:{TINY_MODEL_DIR}", 16, 3e-4, 4, None, precision="fp32", workers=1, steps=40,
                   schedule="const"),
}


@dataclass(frozen=True)
class DataSource:
    pattern: str  # brace pattern of shards, e.g. /data/cp/{00000000..00001023}.tar
    samples: int
    upsampling: float = 1.0


def shard_dir_source(folder: str | os.PathLike, upsampling: float = 1.0) -> DataSource:
    """A folder of ``{:08d}.tar`` shards with ``_stats.json`` (our final output, or any DataComp reshard)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SciclipError(f"{folder}: {'not a directory' if folder.exists() else 'no such directory'} "
                           "(give a folder of final shards)")
    shards = sorted(p for p in folder.glob("*.tar") if re.fullmatch(r"\d+\.tar", p.name))
    if not shards:
        if (folder / "meta.json").is_file() and (folder / "sample_ids.npy").is_file():
            return DataSource("", 0, upsampling)  # a final output of no samples (its sources gave none)
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
        n = read_json(stats, "shard stats", ("successes",))["successes"]
        if not isinstance(n, int) or n < 0:
            raise SciclipError(f"{stats}: 'successes' is not a sample count ({n!r})")
        samples += n
    pattern = f"{folder}/{{{ids[0]:0{width}d}..{ids[-1]:0{width}d}}}.tar" if len(ids) > 1 else str(shards[0])
    return DataSource(pattern, samples, upsampling)


def training_command(sources: list[DataSource], preset: str, run: str, logs: str | os.PathLike, *, gpus: int = 1,
                     device: str | None = None, precision: str | None = None, workers: int | None = None,
                     seed: int = 0, python: str = sys.executable, strict: bool = True) -> tuple[list[str], dict]:
    """The open_clip_train command line and the numbers behind it.

    ``strict=False`` (``--print-command``) only warns where training would be refused (less data than one
    global batch): the command is still worth seeing, e.g. to check a preset before the data is complete.
    """
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
        problem = (f"only {effective} training samples, fewer than one global batch "
                   f"({per_device * max(1, gpus)}) of preset {preset}")
        if preset == "tiny":
            per_device = max(1, effective // max(1, gpus))
        elif strict:
            raise SciclipError(problem)
        else:
            log.warning("%s: OpenCLIP would never finish an epoch with this command", problem)
    resampled = len(sources) > 1 or any(s.upsampling != 1.0 for s in sources) or p.steps is not None
    # with steps, one "epoch" of that many batches drawn with replacement
    num_samples = p.steps * per_device * max(1, gpus) if p.steps else effective
    args = ["-m", "open_clip_train.main", "--dataset-type", "webdataset",
            "--train-data", "::".join(s.pattern for s in sources), "--train-num-samples", str(num_samples),
            "--model", p.model, "--batch-size", str(per_device), "--lr", str(p.lr), "--wd", str(p.wd),
            "--beta2", str(p.beta2), "--warmup", str(p.warmup), "--lr-scheduler", p.schedule, "--epochs", str(epochs),
            "--workers", str(workers if workers is not None else p.workers),
            "--precision", precision or p.precision, "--save-frequency", "1", "--save-most-recent",
            "--logs", str(logs), "--name", run, "--seed", str(seed), "--log-every-n-steps", "1", "--report-to", ""]
    if resampled:
        args += ["--dataset-resampled"]
        if len(sources) > 1 or any(s.upsampling != 1.0 for s in sources):
            args += ["--train-data-upsampling-factors", "::".join(f"{s.upsampling:g}" for s in sources)]
    if device:
        args += ["--device", device]
    if gpus > 1:
        cmd = [python, "-m", "torch.distributed.run", f"--nproc_per_node={gpus}", *args[1:]]
    else:
        cmd = [python, *args]
    info = {"preset": preset, "model": p.model, "seed": seed, "train_num_samples": effective, "epochs": epochs,
            "global_batch": per_device * max(1, gpus), "samples_seen": p.samples_seen or num_samples,
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


def run_training(cmd: list[str], info: dict, logs: str | os.PathLike, run: str,
                 pairs: list[Path] | None = None) -> dict:
    """Run OpenCLIP; then insist on a checkpoint and finite losses, and write ``summary.json``. With ``pairs``
    (shards), the summary also gets loss and recall@1 on those training pairs before and after training."""
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
    if pairs:
        from sciclip.train.pairs_eval import evaluate_pairs

        device = cmd[cmd.index("--device") + 1] if "--device" in cmd else None
        summary["training_pairs"] = evaluate_pairs(info["model"], ckpt, pairs, seed=info.get("seed", 0),
                                                   device=device)
    atomic_write_bytes(run_dir / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    return summary
