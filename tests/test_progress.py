"""Progress bars on a terminal only; in a log, a line now and then and one at the end; nothing under -q
(issue 11, item 10)."""

from __future__ import annotations

import logging
import sys

import pytest
from tqdm import tqdm

from sciclip import progress as prog
from tests.conftest import run_cli


@pytest.fixture
def tarball(sample_tarballs):
    return next(t for t in sample_tarballs if t.stem == "arXiv_src_2001_002")


def test_a_log_gets_lines_not_carriage_return_frames(tarball, tmp_path):
    r = run_cli("arxiv", "extract", str(tarball), str(tmp_path / "o"))  # stderr is a pipe, as in a job's log
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr
    done = [line for line in r.stderr.splitlines() if "sciclip.progress" in line]
    assert len(done) == 1 and "arXiv_src_2001_002.tar: " in done[0] and "(100%) done" in done[0]


def test_quiet_leaves_only_the_summary_line(tarball, tmp_path):
    r = run_cli("-q", "arxiv", "extract", str(tarball), str(tmp_path / "o"))
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [
        f"{tarball}: 3 papers, 8 figures, 5 samples -> {tmp_path / 'o'} (skipped papers: corrupt_gzip 1)"]


def test_bar_on_a_terminal_unless_quiet(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bar = prog.progress(total=3, desc="x")
    assert isinstance(bar, tqdm)
    bar.close()
    prog.set_quiet(True)
    try:
        quiet = prog.progress(total=3, desc="x")
        assert isinstance(quiet, prog.LogProgress) and not quiet.emit
    finally:
        prog.set_quiet(False)


def test_log_progress_lines_per_interval_and_at_the_end(caplog):
    caplog.set_level(logging.INFO, logger="sciclip.progress")
    with prog.LogProgress(total=4000, desc="job", unit="B", unit_scale=True, interval_s=0) as bar:
        for _ in range(4):
            bar.update(1000)
    lines = [r.getMessage().split(" in ")[0] for r in caplog.records]
    assert lines == ["job: 1.00kB of 4.00kB (25%)", "job: 2.00kB of 4.00kB (50%)", "job: 3.00kB of 4.00kB (75%)",
                     "job: 4.00kB of 4.00kB (100%)", "job: 4.00kB of 4.00kB (100%) done"]
    caplog.clear()
    assert list(prog.LogProgress(range(3), desc="it", interval_s=3600)) == [0, 1, 2]
    assert [r.getMessage().split(" in ")[0] for r in caplog.records] == ["it: 3 it of 3 it (100%) done"]


def test_a_failed_run_does_not_claim_done(caplog):
    caplog.set_level(logging.INFO, logger="sciclip.progress")
    with pytest.raises(RuntimeError), prog.LogProgress(total=10, desc="job", interval_s=3600) as bar:
        bar.update(1)
        raise RuntimeError("boom")
    assert not caplog.records
