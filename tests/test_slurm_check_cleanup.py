""".ci/slurm_check.sh puts the machine back as it found it, also when it fails: the daemons it started are
stopped (by pid) and slurm.conf, cgroup.conf and the munge key are restored or removed. (A slurm.conf left
behind made every later `snakemake` on the machine ~11 s slower.) Run against stub daemons below a scratch
root, failing right after the daemons start, so it takes seconds and changes nothing real."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

STUB_DAEMON = """#!/bin/bash
# a stand-in daemon: a sleeping process whose pid lands where the real one writes it
key=$1; conf="$SLURM_CHECK_ROOT/etc/slurm/slurm.conf"
pidfile=$(sed -n "s/^$key=//p" "$conf" 2>/dev/null)
[ -n "$pidfile" ] || pidfile="$SLURM_CHECK_ROOT/run/munge/munged.pid"
nohup sleep 600 >/dev/null 2>&1 &
echo $! > "$pidfile"; echo $! >> "$STUB_PIDS"
"""

STUBS = {
    "slurmctld": 'exec stub-daemon SlurmctldPidFile',
    "slurmd": 'exec stub-daemon SlurmdPidFile',
    "munged": 'exec stub-daemon MungedPidFile',
    "runuser": 'while [ "$1" != "--" ]; do shift; done; shift; exec "$@"',
    "chown": "exit 0",
    "munge": "echo credential",
    "unmunge": "cat >/dev/null",
    "sinfo": "echo idle",
    "srun": "echo 'srun: error: injected failure' >&2; exit 1",
}


@pytest.mark.skipif(os.geteuid() != 0, reason="the check refuses to run without root")
@pytest.mark.skipif(shutil.which("pgrep") is None, reason="needs pgrep (procps)")
def test_a_failing_check_restores_files_and_stops_its_daemons(tmp_path):
    root, stubs = tmp_path / "root", tmp_path / "bin"
    stubs.mkdir()
    (stubs / "stub-daemon").write_text(STUB_DAEMON)
    for name, body in STUBS.items():
        (stubs / name).write_text(f"#!/bin/bash\n{body}\n")
    for p in stubs.iterdir():
        p.chmod(0o755)
    (root / "etc" / "slurm").mkdir(parents=True)
    (root / "etc" / "slurm" / "cgroup.conf").write_text("the admin's cgroup.conf\n")
    pids = tmp_path / "pids"
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "SLURM_CHECK_ROOT": str(root),
           "STUB_PIDS": str(pids), "TMPDIR": str(tmp_path)}
    r = subprocess.run(["bash", str(ROOT / ".ci" / "slurm_check.sh"), sys.executable], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "injected failure" in r.stderr, r.stdout + r.stderr
    assert "daemons stopped, files restored" in r.stdout
    assert not (root / "etc" / "slurm" / "slurm.conf").exists()
    assert (root / "etc" / "slurm" / "cgroup.conf").read_text() == "the admin's cgroup.conf\n"
    assert not (root / "etc" / "munge").exists() and not (root / "run" / "munge").exists()
    started = [int(x) for x in pids.read_text().split()]
    assert len(started) == 3  # munged, slurmctld, slurmd
    for pid in started:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    # the scratch folder of the failed run stays (in $TMPDIR) for a look at its logs; nothing else is left
    assert len(list(tmp_path.glob("sciclip-slurm.*"))) == 1
    for leftover in (tmp_path / "root").rglob("*"):
        assert leftover.is_dir() or leftover.name == "cgroup.conf", leftover
