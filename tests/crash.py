"""A machine crash in the middle of a Snakemake run, and what must hold after ``--unlock`` and a rerun.

The crash is SIGKILL to Snakemake's whole process group, started as a session of its own: Snakemake and every
job it runs (its local jobs stay in its group) die at once, with no handler, no cleanup and no ``finally``, as
they would if the machine lost power. It is sent as soon as a condition on the files holds (a job's log and
its first partial output), not after a fixed sleep, so it lands inside the job whatever the machine's speed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tests.golden import digest

# Names writers give their temporaries (``.{name}.tmp-{pid}``, ``.{name}.part-{pid}``, ``x.tmp``): after a
# recovered run none may be left in the results tree.
TEMPORARY_MARKS = (".tmp", ".part")
SNAKEMAKE_MARKERS = frozenset({".snakemake_timestamp"})  # Snakemake's own, in every directory output
# What differs between any two runs: logs and benchmarks (times); JSON time fields are dropped by ``digest``.
RUN_RECORDS = ("logs", "benchmarks")


def run_killed(cwd: Path, args: Iterable[str], env: dict, crash_when: Callable[[], bool],
               timeout_s: float = 600) -> float:
    """Run ``snakemake ARGS`` in ``cwd`` and SIGKILL it with all its jobs once ``crash_when()`` holds;
    returns the seconds it ran. Fails when Snakemake ends first or ``timeout_s`` passes."""
    log = cwd / "killed-run.log"
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "snakemake", *args], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not _holds(crash_when):
            if proc.poll() is not None:
                raise AssertionError(f"snakemake ended (exit {proc.returncode}) before the moment to kill it "
                                     f"came:\n{log.read_text()[-3000:]}")
            if time.monotonic() - started > timeout_s:
                raise AssertionError(f"the moment to kill snakemake did not come in {timeout_s} s")
            time.sleep(0.002)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    _wait_until_gone(proc.pid)
    return time.monotonic() - started


def _holds(condition: Callable[[], bool]) -> bool:
    try:
        return condition()
    except FileNotFoundError:  # a folder removed while looked at (Snakemake clears a job's outputs first)
        return False


def _wait_until_gone(pgid: int, timeout_s: float = 30) -> None:
    """Wait until no process of the group is left (orphaned jobs are reaped by init)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes of group {pgid} survived SIGKILL")


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def leftover_temporaries(results: Path) -> list[str]:
    """Files and folders of ``results`` named like a writer's temporary (``.tmp``, ``.part``, a leading dot)."""
    return sorted(str(p.relative_to(results)) for p in results.rglob("*") if p.name not in SNAKEMAKE_MARKERS
                  and (p.name.startswith(".") or any(mark in p.name for mark in TEMPORARY_MARKS)))


def output_digests(results: Path) -> dict[str, str]:
    """sha256 of every output file of ``results`` (logs and benchmarks left out; JSON without its time fields,
    as the golden test compares them)."""
    return {str(p.relative_to(results)): digest(p) for p in files_in(results)
            if p.relative_to(results).parts[0] not in RUN_RECORDS}


def differences(got: dict[str, str], expected: dict[str, str]) -> dict[str, list[str]]:
    """What keeps two runs' outputs from being identical (empty: nothing)."""
    out = {"missing": sorted(set(expected) - set(got)), "extra": sorted(set(got) - set(expected)),
           "changed": sorted(k for k in set(got) & set(expected) if got[k] != expected[k])}
    return {k: v for k, v in out.items() if v}


def crash_and_recover(cwd: Path, args: tuple[str, ...], env: dict, crash_when: Callable[[], bool]) -> None:
    """Kill the run of ``args`` once ``crash_when()`` holds, then what docs/running.md says to do after a crash:
    ``snakemake --unlock`` (it must be needed: the killed run left its lock), the same command again, and
    ``--delete-temp-output`` (Snakemake removes a temp() output only when a job reading it finishes in the same
    run: those the killed run had not removed yet stay otherwise)."""
    run_killed(cwd, args, env, crash_when)
    again = [sys.executable, "-m", "snakemake", *args]
    locked = subprocess.run(again, cwd=cwd, env=env, capture_output=True, text=True)
    assert locked.returncode != 0 and "LockException" in locked.stdout + locked.stderr, locked.stderr[-3000:]
    unlock = subprocess.run([*again, "--unlock"], cwd=cwd, env=env, capture_output=True, text=True)
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    rerun = subprocess.run(again, cwd=cwd, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, f"the rerun after the crash failed:\n{rerun.stdout[-3000:]}\n{rerun.stderr[-5000:]}"
    cleanup = subprocess.run([*again, "--delete-temp-output"], cwd=cwd, env=env, capture_output=True, text=True)
    assert cleanup.returncode == 0, cleanup.stderr[-3000:]
