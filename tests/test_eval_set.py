"""The evaluation set as a tracked input (issue 27, item 5): a cheap fingerprint that changes with the set, and a
listing with sizes and hashes that the decontamination depends on. The rerun through the DAG:
tests/test_workflow.py::test_a_changed_evaluation_set_reruns_decontamination."""

from __future__ import annotations

import hashlib
import os

from sciclip.curate.eval_set import fingerprint, read_listing, write_listing
from tests.conftest import call_cli


def test_the_fingerprint_follows_names_sizes_and_times(tmp_path):
    d = tmp_path / "eval"
    (d / "sub").mkdir(parents=True)
    (d / "a.png").write_bytes(b"a" * 10)
    (d / "sub" / "b.png").write_bytes(b"b" * 10)
    (d / ".DS_Store").write_bytes(b"x")
    first = fingerprint(d, None)
    assert first and fingerprint(d, None) == first
    (d / ".DS_Store").write_bytes(b"changed")  # hidden files are not the set
    assert fingerprint(d, None) == first
    st = (d / "a.png").stat()
    (d / "a.png").write_bytes(b"A" * 10)  # same size, replaced: a new time
    os.utime(d / "a.png", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    second = fingerprint(d, None)
    assert second != first
    (d / "sub" / "c.png").write_bytes(b"c")
    assert fingerprint(d, None) not in (first, second)
    assert fingerprint(tmp_path / "missing", None) == ""
    emb = tmp_path / "eval.pt"
    emb.write_bytes(b"descriptors")
    assert fingerprint(d, emb) == fingerprint(None, emb) != fingerprint(d, None)  # precomputed ones win


def test_the_listing_names_the_set_and_hashes_every_file(tmp_path):
    d = tmp_path / "eval"
    d.mkdir()
    (d / "a.png").write_bytes(b"a" * 10)
    (d / "b.png").write_bytes(b"bb")
    rc, _, err = call_cli("eval-set", "--eval-images", str(d), "--out", str(tmp_path / "set.tsv"))
    assert rc == 0, err
    lines = (tmp_path / "set.tsv").read_text().splitlines()
    assert lines[0] == f"# eval_images: {d}" and lines[1] == "path\tbytes\tsha256"
    assert lines[2] == f"a.png\t10\t{hashlib.sha256(b'a' * 10).hexdigest()}" and lines[3].startswith("b.png\t2\t")
    info = read_listing(tmp_path / "set.tsv")
    assert (info["files"], info["bytes"]) == (2, 12)
    assert write_listing(d, None, tmp_path / "again.tsv")["sha256"] == info["sha256"]
    rc, _, err = call_cli("eval-set", "--eval-images", str(tmp_path / "nope"), "--out", str(tmp_path / "x.tsv"))
    assert rc == 1 and "evaluation images folder not found" in err
