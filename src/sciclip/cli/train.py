"""``sciclip train``: CLIP training with OpenCLIP on final shards."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

from sciclip.cli.common import non_negative_int, positive_int
from sciclip.errors import SciclipError
from sciclip.train.openclip import PRESETS  # stdlib only: cheap to import

log = logging.getLogger(__name__)


def cmd_train(args) -> int:
    from sciclip.train.mix import parse_factors
    from sciclip.train.openclip import DataSource, run_training, shard_dir_source, training_command

    factors = parse_factors(args.data_upsampling, len(args.data))
    sources = [shard_dir_source(d, f) for d, f in zip(args.data, factors)]
    empty = [d for d, s in zip(args.data, sources) if s.samples == 0]
    if empty and len(empty) < len(sources):
        log.warning("%s: no samples; training on the other data", ", ".join(empty))
    sources = [s for s in sources if s.samples > 0]
    if not sources and not args.extra:
        raise SciclipError(f"{', '.join(args.data)}: no samples to train on (every sample was skipped or removed: "
                           "see results/stats and the decontamination reports)")
    for spec in args.extra or []:
        # PATTERN,SAMPLES[,UPSAMPLING] for shards outside this workflow (e.g. CommonPool)
        parts = spec.rsplit(",", 2) if spec.count(",") >= 2 else spec.rsplit(",", 1)
        try:
            if len(parts) < 2:
                raise ValueError("too few fields")
            extra = DataSource(parts[0], int(parts[1]), float(parts[2]) if len(parts) > 2 else 1.0)
        except ValueError:
            raise SciclipError(f"--extra {spec!r}: expected PATTERN,SAMPLES[,UPSAMPLING] (a count and a "
                               "factor)") from None
        if extra.samples < 1 or not extra.upsampling > 0:
            raise SciclipError(f"--extra {spec!r}: SAMPLES must be at least 1 and UPSAMPLING more than 0")
        sources.append(extra)
    cmd, info = training_command(sources, args.preset, args.run, args.logs, gpus=args.gpus, device=args.device,
                                 precision=args.precision, workers=args.workers, strict=not args.print_command)
    if args.print_command:
        print(shlex.join(cmd))  # every argument quoted: the line pastes into a shell (--report-to '')
        return 0
    # the tiny preset is a smoke test: show that it learned, on its own training pairs
    pairs = sorted(p for d in args.data for p in Path(d).glob("*.tar")) if args.preset == "tiny" else None
    summary = run_training(cmd, info, args.logs, args.run, pairs=pairs)
    print(f"trained {args.run}: {summary['steps_logged']} steps logged, loss {summary['first_loss']:.4f} -> "
          f"{summary['last_loss']:.4f}; checkpoint {summary['checkpoint']}", file=sys.stderr)
    if "training_pairs" in summary:
        print(pairs_line(summary["training_pairs"]), file=sys.stderr)
    return 0


def pairs_line(t: dict) -> str:
    """``on its 30 training pairs: loss 3.94 -> 0.75, recall@1 image->text 0% -> 77%, text->image 0% -> 73%``."""
    b, a = t["before"], t["after"]
    return (f"on its {t['pairs']} training pairs: loss {b['loss']:.2f} -> {a['loss']:.2f}, recall@1 image->text "
            f"{b['image_to_text_r1']:.0%} -> {a['image_to_text_r1']:.0%}, text->image {b['text_to_image_r1']:.0%} -> "
            f"{a['text_to_image_r1']:.0%}")


def register(sub) -> None:
    p = sub.add_parser("train", help="train CLIP with OpenCLIP on final shards (DataComp presets or tiny)")
    p.add_argument("data", nargs="+", help="folders of final {:08d}.tar shards with _stats.json")
    p.add_argument("--data-upsampling", default=None,
                   help="one upsampling factor per data folder, comma-separated (e.g. 1,2,2; default: all 1)")
    p.add_argument("--extra", action="append", help="external shards: PATTERN,SAMPLES[,UPSAMPLING] (repeatable)")
    p.add_argument("--preset", default="tiny", choices=tuple(PRESETS),
                   help="DataComp's scales, or tiny: a 2-layer model that trains a few steps on the CPU "
                        "(default: %(default)s)")
    p.add_argument("--run", required=True, help="run name (results under LOGS/RUN)")
    p.add_argument("--logs", default="results/train",
                   help="folder the run's checkpoints and logs go under, as LOGS/RUN (default: %(default)s)")
    p.add_argument("--gpus", type=positive_int, default=1,
                   help="GPUs on the node; the global batch is split across them (default: %(default)s)")
    p.add_argument("--device", default=None, help="e.g. cpu or cuda (default: OpenCLIP's choice)")
    p.add_argument("--precision", default=None, help="override the preset's precision (e.g. fp32, amp, bf16)")
    p.add_argument("--workers", type=non_negative_int, default=None, help="data loader workers per GPU")
    p.add_argument("--print-command", action="store_true", help="print the OpenCLIP command and exit")
    p.set_defaults(func=cmd_train)
