"""``sciclip train``: CLIP training with OpenCLIP on final shards."""

from __future__ import annotations

import sys

from sciclip.cli.common import positive_int
from sciclip.errors import SciclipError


def cmd_train(args) -> int:
    from sciclip.train.openclip import DataSource, run_training, shard_dir_source, training_command

    sources = [shard_dir_source(d) for d in args.data]
    for spec in args.extra or []:
        # PATTERN,SAMPLES[,UPSAMPLING] for shards outside this workflow (e.g. CommonPool)
        parts = spec.rsplit(",", 2) if spec.count(",") >= 2 else spec.rsplit(",", 1)
        if len(parts) < 2:
            raise SciclipError(f"--extra {spec!r}: expected PATTERN,SAMPLES[,UPSAMPLING]")
        sources.append(DataSource(parts[0], int(parts[1]), float(parts[2]) if len(parts) > 2 else 1.0))
    cmd, info = training_command(sources, args.preset, args.run, args.logs, gpus=args.gpus, device=args.device,
                                 precision=args.precision, workers=args.workers)
    if args.print_command:
        print(" ".join(cmd))
        return 0
    summary = run_training(cmd, info, args.logs, args.run)
    print(f"trained {args.run}: {summary['steps_logged']} steps logged, loss {summary['first_loss']:.4f} -> "
          f"{summary['last_loss']:.4f}; checkpoint {summary['checkpoint']}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("train", help="train CLIP with OpenCLIP on final shards (DataComp presets or tiny)")
    p.add_argument("data", nargs="+", help="folders of final {:08d}.tar shards with _stats.json")
    p.add_argument("--extra", action="append", help="external shards: PATTERN,SAMPLES[,UPSAMPLING] (repeatable)")
    p.add_argument("--preset", default="tiny", help="tiny, small, medium, large or xlarge")
    p.add_argument("--run", required=True, help="run name (results under LOGS/RUN)")
    p.add_argument("--logs", default="results/train")
    p.add_argument("--gpus", type=positive_int, default=1, help="GPUs on the node (global batch is split)")
    p.add_argument("--device", default=None, help="e.g. cpu or cuda (default: OpenCLIP's choice)")
    p.add_argument("--precision", default=None, help="override the preset's precision (e.g. fp32, amp, bf16)")
    p.add_argument("--workers", type=int, default=None, help="data loader workers per GPU")
    p.add_argument("--print-command", action="store_true", help="print the OpenCLIP command and exit")
    p.set_defaults(func=cmd_train)
