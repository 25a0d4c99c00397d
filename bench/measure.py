"""Seconds and peak RSS of one command run as its own process, like one workflow job.

The peak must be the command's own: a child forked from this (large) benchmark process carries the parent's
resident pages until it execs, and Linux keeps that high-water mark across exec, so ``wait4`` on a plain
``Popen`` child over-reports. GNU time forks from its own tiny process; without it, a minimal Python launcher
does the same (a few MiB of bias, said in the output).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

_LAUNCHER = ("import os,sys,subprocess;p=subprocess.Popen(sys.argv[1:]);_,s,u=os.wait4(p.pid,0);"
             "sys.stderr.write(f'\\nMAXRSS_KB={u.ru_maxrss}\\n');sys.exit(os.waitstatus_to_exitcode(s))")


def run_measured(cmd: list[str], env: dict | None = None, cwd=None) -> tuple[float, int]:
    """(seconds, peak RSS in MiB) of ``cmd``; raises SystemExit with its stderr when it fails."""
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    wrapped = ([gnu_time, "-f", "MAXRSS_KB=%M", *cmd] if gnu_time else [sys.executable, "-S", "-c", _LAUNCHER, *cmd])
    t = time.perf_counter()
    r = subprocess.run(wrapped, env={**os.environ, **(env or {})}, cwd=cwd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    secs = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    kb = [int(line.split("=", 1)[1]) for line in r.stderr.splitlines() if line.startswith("MAXRSS_KB=")]
    return secs, kb[-1] // 1024
