"""Progress bars that help on a terminal and stay quiet in Snakemake log files."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress(**kwargs) -> tqdm:
    """A tqdm bar on stderr; without a terminal it updates rarely so logs stay readable."""
    tty = sys.stderr.isatty()
    kwargs.setdefault("mininterval", 0.5 if tty else 60.0)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("disable", None if tty else False)
    return tqdm(file=sys.stderr, **kwargs)
