"""Input that cannot be read at all is an error, not an empty success; partial damage is kept, logged and
named in the summary line (issue 11, item 8)."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from tests.conftest import call_cli, read_dir, run_cli
from tests.test_safe_archive import _paper, _tar


def _one_error_line(err: str, path) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"sciclip: error: {path}: "), err
    return lines[0]


@pytest.mark.parametrize("kind", ["readme", "renamed_text", "random", "empty"])
def test_extract_refuses_a_file_that_is_no_tarball(kind, tmp_path):
    from tests.conftest import ROOT
    data = {"readme": (ROOT / "README.md").read_bytes(), "renamed_text": b"just some notes\n" * 100,
            "random": os.urandom(5000), "empty": b""}[kind]
    path = tmp_path / ("README.md" if kind == "readme" else "arXiv_src_2001_001.tar")
    path.write_bytes(data)
    out = tmp_path / "out"
    rc, _, err = call_cli("arxiv", "extract", str(path), str(out))
    assert rc == 1
    assert "not a tar archive" in _one_error_line(err, path)
    assert not out.exists()  # refused before any output was touched


def test_extract_refuses_a_directory_and_says_so(tmp_path):
    rc, _, err = call_cli("arxiv", "extract", str(tmp_path), str(tmp_path / "out"))
    assert rc == 1 and _one_error_line(err, tmp_path).endswith("is a directory, not a tarball")


def test_tarball_damaged_inside_its_first_member_is_an_error(tmp_path):
    data = _tar(dict([_paper("2001.00001", "First paper figure."), _paper("2001.00002", "Second figure.")]))
    path = tmp_path / "arXiv_src_2001_001.tar"
    path.write_bytes(data[:700])  # the first header is whole, its data is not
    rc, _, err = call_cli("arxiv", "extract", str(path), str(tmp_path / "out"))
    assert rc == 1 and "damaged in its first member" in _one_error_line(err, path)
    assert not (tmp_path / "out" / "stats.json").exists()


def test_partial_damage_is_in_the_summary_line_and_the_log(tmp_path):
    members = dict([_paper("2001.00001", "First paper figure."), _paper("2001.00002", "Second paper figure."),
                    _paper("2001.00003", "Third paper figure.")])
    data = _tar(members)
    path = tmp_path / "arXiv_src_2001_001.tar"
    path.write_bytes(data[: data.index(members["2001/2001.00003.gz"][:64]) + 100])
    r = run_cli("arxiv", "extract", str(path), str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    summary = r.stderr.strip().splitlines()[-1]
    assert "2 papers" in summary and "damaged input:" in summary and "2001.00002" in summary
    assert "ERROR" in r.stderr and "archive damaged after member" in r.stderr
    assert len(read_dir(tmp_path / "out")) == 2


def test_pmc_extract_refuses_a_folder_without_articles(tmp_path):
    rc, _, err = call_cli("pmc", "extract", str(tmp_path), str(tmp_path / "out"))
    assert rc == 1 and "no article folders" in _one_error_line(err, tmp_path)
    rc, _, err = call_cli("pmc", "extract", str(tmp_path / "missing"), str(tmp_path / "out"))
    assert rc == 1 and _one_error_line(err, tmp_path / "missing").endswith("no such directory")


def _shard(path, n: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i in range(n):
            for ext, data in (("jpg", b"\xff\xd8" + os.urandom(3000)), ("txt", f"caption {i}".encode())):
                info = tarfile.TarInfo(f"s{i}.{ext}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def test_stats_refuses_garbage_shards(tmp_path):
    (tmp_path / "00000.tar").write_bytes(os.urandom(4000))
    rc, out, err = call_cli("stats", str(tmp_path))
    assert rc == 1 and "not a tar archive" in _one_error_line(err, tmp_path / "00000.tar")
    assert out == ""


def test_stats_reports_truncated_shards(tmp_path):
    data = _shard(tmp_path / "00000.tar", 4)
    (tmp_path / "00001.tar").write_bytes(_shard(tmp_path / "00001.tar", 4)[:3 * 1024 + 1000])
    assert len(data) > 3 * 1024 + 1000
    r = run_cli("stats", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "damaged shards (1" in r.stdout and "00001.tar" in r.stdout
    assert "WARNING" in r.stderr and "00001.tar: damaged" in r.stderr


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_stats_on_a_missing_or_empty_folder(make, tmp_path):
    target = tmp_path / "shards"
    if make == "empty":
        target.mkdir()
    rc, _, err = call_cli("stats", str(target))
    line = _one_error_line(err, target)
    assert rc == 1 and line.endswith("no such directory" if make == "missing" else "below it")
