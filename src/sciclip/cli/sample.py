"""``sciclip sample``: the embedded, deterministic sample corpus."""

from __future__ import annotations

import sys


def cmd_sample(args) -> int:
    from sciclip.sample import write_sample
    from sciclip.storage.atomic import check_dir_target

    check_dir_target(args.outdir)
    written = write_sample(args.outdir)
    print(f"wrote {len(written)} files of the sample mirror under {args.outdir}", file=sys.stderr)
    return 0


def register(sub) -> None:
    p = sub.add_parser("sample", help="write the embedded sample corpus (arXiv, PMC and Common Crawl mirrors, "
                       "evaluation sets)")
    p.add_argument("outdir", help="where the sample mirror is written (the config's sample.outdir)")
    p.set_defaults(func=cmd_sample)
