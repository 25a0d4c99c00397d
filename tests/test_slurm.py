"""The workflow on a real single-node SLURM (.ci/slurm_check.sh): installs and starts slurm-wlm + munge, runs
the demo with profiles/slurm, compares the shards with a local run, holds every sbatch call to its rule's
resources (account, partition, runtime, memory; the training job's GPU request or none), stops the daemons.
It needs root and changes the machine, so it runs in CI (CI=true) or when asked for (SCICLIP_SLURM_TEST=1)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

WANTED = os.environ.get("CI") == "true" or os.environ.get("SCICLIP_SLURM_TEST") == "1"


@pytest.mark.skipif(not WANTED, reason="real SLURM runs in CI (CI=true) or with SCICLIP_SLURM_TEST=1")
@pytest.mark.skipif(os.geteuid() != 0, reason="starting SLURM daemons needs root")
@pytest.mark.skipif(shutil.which("apt-get") is None and shutil.which("slurmctld") is None,
                    reason="no apt-get to install slurm-wlm")
def test_demo_through_a_real_slurm():
    r = subprocess.run(["bash", str(ROOT / ".ci" / "slurm_check.sh"), sys.executable], cwd=ROOT,
                       capture_output=True, text=True, timeout=2400)
    report = [line for line in r.stdout.splitlines() if line.startswith("[slurm_check]")]
    print("\n".join(report))
    assert r.returncode == 0, "\n".join(report) + "\n" + r.stdout[-3000:] + r.stderr[-3000:]
    assert any("byte-identical" in line for line in report)
    assert any("--gpus=1" in line for line in report)
    # what sbatch received, per rule: the profile's account, partition, runtime and memory (three runs: the demo,
    # its CPU training, a GPU training config)
    assert sum("sbatch calls of" in line and "each with the account, partition, runtime and memory" in line
               for line in report) == 3
    assert not any("WRONG" in line for line in report)
    assert report[-1].endswith("files restored; daemons stopped; OK")
    assert not os.path.exists("/etc/slurm/slurm.conf")  # no machine-wide SLURM config left behind
