"""Atomic outputs: a folder or file appears whole or not at all, also when its writer is SIGKILLed, and the
next write removes what a killed one left (issue 20, part 4)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from sciclip.errors import SciclipError
from sciclip.storage.atomic import atomic_dir, atomic_write_bytes, temporary_name
from tests.conftest import ROOT


def test_a_folder_appears_whole_and_replaces_the_old_one(tmp_path):
    out = tmp_path / "unit"
    with atomic_dir(out) as tmp:
        (tmp / "00000.tar").write_bytes(b"a")
        assert not out.exists()  # nothing at the output's name while it is written
    assert sorted(p.name for p in out.iterdir()) == ["00000.tar"]
    with atomic_dir(out, owns=("*.tar",)) as tmp:
        (tmp / "stats.json").write_text("{}")
    assert sorted(p.name for p in out.iterdir()) == ["stats.json"]  # replaced, not mixed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unit"]


def test_a_folder_holding_what_the_writer_does_not_write_is_refused_not_deleted(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "00000.tar").write_bytes(b"old output")
    (out / "thesis.tex").write_text("someone's work")
    with pytest.raises(SciclipError, match=f"{out}: holds 'thesis.tex', which this command does not write"):
        with atomic_dir(out, owns=("*.tar", "stats.json")):
            raise AssertionError("no work may start")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"] and (out / "thesis.tex").is_file()


def test_an_error_keeps_the_old_output_and_removes_the_temporary(tmp_path):
    out = tmp_path / "unit"
    out.mkdir()
    (out / "old").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(out, owns=("old",)) as tmp:
        (tmp / "new").write_text("half")
        raise RuntimeError("the job failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unit"] and (out / "old").read_text() == "old"


def _killed_inside(tmp_path, resume: bool):
    """A writer SIGKILLed in the middle of filling ``tmp_path/unit``."""
    code = ("import os, signal, sys; from sciclip.storage.atomic import atomic_dir\n"
            f"with atomic_dir(sys.argv[1], resume={resume}) as tmp:\n"
            "    (tmp / 'done.part').write_text('kept for a resume')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path / "unit")],
                       env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert r.returncode == -signal.SIGKILL


@pytest.mark.parametrize("resume", [False, True])
def test_a_killed_writer_leaves_no_output_and_the_next_one_cleans_up(tmp_path, resume):
    _killed_inside(tmp_path, resume)
    out = tmp_path / "unit"
    assert not out.exists() and (temporary_name(out) / "done.part").is_file()
    with atomic_dir(out, resume=resume) as tmp:
        assert [p.name for p in tmp.iterdir()] == (["done.part"] if resume else [])
        (tmp / "00000.tar").write_bytes(b"a")
        (tmp / "done.part").unlink(missing_ok=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unit"]


def test_a_file_write_overwrites_the_temporary_a_killed_writer_left(tmp_path):
    out = tmp_path / "stats.json"
    temporary_name(out).write_bytes(b"half of an old wri")  # what a write killed midway leaves
    atomic_write_bytes(out, b"{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.json"] and out.read_bytes() == b"{}"
