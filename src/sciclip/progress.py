"""Progress: a bar on a terminal, a few plain log lines anywhere else, nothing under ``sciclip -q``.

Snakemake sends every job's stderr to a log file, and tqdm writes a carriage-return frame per refresh, so
a bar in a log is a wall of ``\\r`` frames. A bar is therefore drawn only when stderr is a terminal;
otherwise the same calls log one line every ``LOG_INTERVAL_S`` seconds and one when the work is done
(through logging, so a log keeps its timestamps and ``-q`` drops them with the other info lines).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator

log = logging.getLogger("sciclip.progress")

LOG_INTERVAL_S = 30.0  # at most one progress line per this many seconds in a log (plus one at the end)
_quiet = False


def set_quiet(quiet: bool) -> None:
    """``sciclip -q``: no bars and no progress lines, only warnings, errors and the summary line."""
    global _quiet
    _quiet = quiet


def progress(iterable: Iterable | None = None, **kwargs):
    """A tqdm bar on a terminal, else a ``LogProgress`` with the same calls (``update``, ``n``, iteration,
    ``with``); silent under ``-q``."""
    if _quiet or not sys.stderr.isatty():
        return LogProgress(iterable, emit=not _quiet, **kwargs)
    from tqdm import tqdm  # only for a terminal: a command's import cost and its env stay small otherwise

    kwargs.setdefault("mininterval", 0.5)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, file=sys.stderr, **kwargs)


class LogProgress:
    """tqdm's interface as occasional log lines: ``desc: 1.2 MB of 5.0 MB (24%) in 31 s``."""

    def __init__(self, iterable: Iterable | None = None, *, total: int | float | None = None, desc: str = "",
                 unit: str = "it", unit_scale: bool = False, interval_s: float | None = None, emit: bool = True,
                 **_ignored) -> None:
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except (TypeError, AttributeError):  # a stream (an IterableDataset's loader has __len__ but fails)
                total = None
        self.iterable, self.total, self.desc, self.unit, self.unit_scale = iterable, total, desc, unit, unit_scale
        self.interval_s = LOG_INTERVAL_S if interval_s is None else interval_s
        self.emit = emit
        self.n: int | float = 0
        self._started = self._last = time.monotonic()
        self._lock = threading.Lock()  # boto3 calls update() from its transfer threads
        self._closed = False

    def __iter__(self) -> Iterator:
        try:
            for x in (self.iterable if self.iterable is not None else ()):
                yield x
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None:
            self._closed = True  # failed: the error says so, a "done" line would not be true
        self.close()

    def update(self, n: int | float = 1) -> None:
        with self._lock:
            self.n += n
            now = time.monotonic()
            if now - self._last >= self.interval_s:
                self._last = now
                self._log(now)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._log(time.monotonic(), done=True)

    def _amount(self, x: int | float) -> str:
        if not self.unit_scale:
            return f"{x:g} {self.unit}"
        for prefix in ("", "k", "M", "G", "T"):  # tqdm's unit_scale: powers of 1000
            if abs(x) < 999.5 or prefix == "T":
                break
            x /= 1000
        return f"{x:.2f}{prefix}{self.unit}" if prefix else f"{x:.0f}{self.unit}"

    def _log(self, now: float, done: bool = False) -> None:
        if not self.emit:
            return
        text = self._amount(self.n)
        if self.total:
            text += f" of {self._amount(self.total)} ({100 * self.n / self.total:.0f}%)"
        log.info("%s: %s%s in %.1f s", self.desc or "progress", text, " done" if done else "", now - self._started)
