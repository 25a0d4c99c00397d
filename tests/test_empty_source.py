"""A source that gives no samples is a result, not a crash: every stage of the tail takes it, by the commands the
workflow runs (issue 27, item 4). The whole workflow on such a source: tests/test_workflow.py."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import call_cli


@pytest.fixture
def empty_extraction(tmp_path) -> Path:
    """An arXiv unit whose only paper is a PDF: stats.json, no shard."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("2001/2001.00001.pdf")
        data = b"%PDF-1.4 nothing to see"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (tmp_path / "arXiv_src_2001_001.tar").write_bytes(buf.getvalue())
    rc, _, err = call_cli("arxiv", "extract", str(tmp_path / "arXiv_src_2001_001.tar"), str(tmp_path / "shards" / "u"))
    assert rc == 0, err
    return tmp_path


def test_the_tail_of_a_source_with_no_samples(empty_extraction):
    w = empty_extraction
    assert call_cli("stats", str(w / "shards" / "u"), "--source", "arxiv", "--out", str(w / "stats" / "arxiv.json"))[0] == 0
    rc, _, err = call_cli("convert-plan", str(w / "shards" / "u"), "--out", str(w / "plan.json"))
    assert rc == 0, err
    assert json.loads((w / "plan.json").read_text())["units"] == []
    # no tail unit: the subset job gets no filter outputs (was: argparse's usage and "expected one argument")
    rc, _, err = call_cli("subset", "--filtered", "--plan", str(w / "plan.json"), "--threshold", "0.75",
                          "--report", str(w / "arxiv" / "decontamination.json"), "--out", str(w / "arxiv" / "sub.npy"))
    assert rc == 0, err
    assert len(np.load(w / "arxiv" / "sub.npy")) == 0
    report = json.loads((w / "arxiv" / "decontamination.json").read_text())
    assert (report["samples"], report["kept"], report["contaminated_samples"]) == (0, 0, [])
    rc, _, err = call_cli("subset", "--merge", str(w / "arxiv" / "sub.npy"), "--out", str(w / "final" / "mixed.npy"),
                          "--sources", "arxiv", "--configured", "arxiv", "pmc", "--sources-out",
                          str(w / "final" / "mixed.sources.json"))
    assert rc == 0, err
    assert json.loads((w / "final" / "mixed.sources.json").read_text())["left_out"] == {
        "pmc": "not enabled (its branch is off in the config)"}
    # reshard without input folders: an empty output in DataComp's layout
    rc, _, err = call_cli("reshard", "-o", str(w / "final" / "mixed"), "-s", str(w / "final" / "mixed.npy"), "-j", "1")
    assert rc == 0, err
    meta = json.loads((w / "final" / "mixed" / "meta.json").read_text())
    assert (meta["output_count"], meta["output_shard_count"]) == (0, 0)
    assert len(np.load(w / "final" / "mixed" / "sample_ids.npy")) == 0
    # training on nothing: one line (not "no numbered shards"), nothing written
    rc, _, err = call_cli("train", str(w / "final" / "mixed"), "--run", "r", "--logs", str(w / "train"),
                          "--device", "cpu")
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert "mixed: no samples to train on (every sample was skipped or removed" in err
    assert not (w / "train").exists()
    # the report's figures and the summary say what happened
    rc, _, err = call_cli("report-figures", "--results", str(w), "--out", str(w / "report"), "--sources", "arxiv",
                          "--finals", "mixed")
    assert rc == 0, err
    rc, out, err = call_cli("demo-summary", str(w))
    assert rc == 0, err
    assert "no samples: none of the 1 papers seen gave one" in out and "skipped papers: pdf_only 1" in out
    assert "from arxiv only; configured also pmc (not enabled)" in out  # a mix that lost a source says so
    counts = (w / "report" / "counts.html").read_text()
    assert "from arxiv only; configured also pmc (not enabled)" in counts
    assert "import webdataset" not in out  # nothing to load


def test_a_reshard_of_samples_from_no_input_is_still_an_error(tmp_path):
    subset = np.array([(1, 2)], dtype="u8,u8")
    np.save(tmp_path / "s.npy", subset)
    rc, _, err = call_cli("reshard", "-o", str(tmp_path / "out"), "-s", str(tmp_path / "s.npy"))
    assert rc == 1 and "no input shards" in err
