"""Every command (but the curation ones: convert, reshard, subset, embed, embed-eval, score) on bad input:
missing files, folders where files belong and the reverse, garbage content, bad option values. Each ends in
one line, ``sciclip: error: <file>: <problem>`` (exit 1), or argparse's usage error for an option (exit 2);
never ``sciclip: internal error`` (issue 11, item 9)."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import call_cli

W = "{w}"  # the workspace, filled in per case
S = "{s}"  # the sample mirror


@pytest.fixture(scope="module")
def ws(tmp_path_factory, sample_dir):
    w = tmp_path_factory.mktemp("bad")
    (w / "garbage.bin").write_bytes(os.urandom(3000))
    (w / "text.txt").write_text("hello\n")
    (w / "hdr_only.tsv").write_text("name\tsize\n")
    for d in ("dir", "emptydir", "garbshards", "final", "results/stats", "results2/stats", "pmcdir/PMC1.1"):
        (w / d).mkdir(parents=True)
    (w / "garbshards" / "00000.tar").write_bytes(os.urandom(3000))
    (w / "final" / "00000000.tar").write_bytes(b"\0" * 1024)
    (w / "final" / "00000000_stats.json").write_text("{")
    (w / "results" / "stats" / "arxiv.json").write_text("garbage")
    (w / "results2" / "stats" / "arxiv.json").write_text(json.dumps({"source": "arxiv"}))
    return w, sample_dir


MANIFEST = f"{S}/arxiv/src/arXiv_src_manifest.xml"
CLOUD = f"{S}/pmc/cloud"
# (argv, the path the error must name; None: an argparse option error)
CASES = [
    (["arxiv", "manifest", "--source", f"{W}/missing", "--out", f"{W}/m.xml"], f"{W}/missing"),
    (["arxiv", "manifest", "--source", S + "/arxiv", "--out", f"{W}/dir"], f"{W}/dir"),
    (["arxiv", "manifest", "--source", W, "--manifest-key", "garbage.bin", "--out", f"{W}/m.xml"], f"{W}/m.xml"),
    (["arxiv", "select", "--manifest", f"{W}/missing.xml", "--out", f"{W}/s.tsv"], f"{W}/missing.xml"),
    (["arxiv", "select", "--manifest", f"{W}/dir", "--out", f"{W}/s.tsv"], f"{W}/dir"),
    (["arxiv", "select", "--manifest", f"{W}/garbage.bin", "--out", f"{W}/s.tsv"], f"{W}/garbage.bin"),
    (["arxiv", "select", "--manifest", MANIFEST, "--out", f"{W}/dir"], f"{W}/dir"),
    (["arxiv", "select", "--manifest", MANIFEST, "--out", f"{W}/text.txt/s.tsv"], f"{W}/text.txt"),
    (["arxiv", "select", "--manifest", MANIFEST, "--out", f"{W}/s.tsv", "--start", "2005", "--end", "2001"],
     "selection bounds"),
    (["arxiv", "select", "--manifest", MANIFEST, "--out", f"{W}/s.tsv", "--max-size-gb", "-1"], None),
    (["arxiv", "cost", f"{W}/garbage.bin"], f"{W}/garbage.bin"),
    (["arxiv", "cost", f"{W}/hdr_only.tsv"], f"{W}/hdr_only.tsv"),
    (["arxiv", "download", "--source", S + "/arxiv", "--selection", f"{W}/missing.tsv", "--tarball", "a",
      "--out", f"{W}/t.tar"], f"{W}/missing.tsv"),
    (["arxiv", "download", "--source", S + "/arxiv", "--selection", f"{W}/dir", "--tarball", "a",
      "--out", f"{W}/t.tar"], f"{W}/dir"),
    (["arxiv", "download", "--source", S + "/arxiv", "--selection", f"{W}/garbage.bin", "--tarball", "a",
      "--out", f"{W}/t.tar"], f"{W}/garbage.bin"),
    (["arxiv", "download", "--source", S + "/arxiv", "--key", "src/arXiv_src_2001_001.tar", "--out", f"{W}/dir"],
     f"{W}/dir"),
    (["arxiv", "download", "--source", S + "/arxiv", "--key", "src/arXiv_src_2001_001.tar", "--md5", "abc",
      "--out", f"{W}/t.tar"], "--md5"),
    (["arxiv", "download", "--source", S + "/arxiv", "--key", "k", "--out", f"{W}/t.tar", "--retries", "-3"], None),
    (["arxiv", "download", "--source", S + "/arxiv", "--key", "k", "--out", f"{W}/t.tar", "--timeout-s", "0"], None),
    (["arxiv", "download", "--source", S + "/arxiv", "--units", f"{W}/garbage.bin", "--unit", "u",
      "--out-dir", f"{W}/o"], f"{W}/garbage.bin"),
    (["arxiv", "extract", f"{W}/dir", f"{W}/out"], f"{W}/dir: is a directory, not a tarball"),
    (["arxiv", "extract", f"{W}/garbage.bin", f"{W}/out"], f"{W}/garbage.bin"),
    (["arxiv", "extract", f"{S}/arxiv/src/arXiv_src_2001_001.tar", f"{W}/text.txt"], f"{W}/text.txt"),
    (["arxiv", "extract", f"{S}/arxiv/src/arXiv_src_2001_001.tar", f"{W}/out", "--jpeg-quality", "500"], None),
    (["arxiv", "unit", "--units", f"{W}/garbage.bin", "--unit", "u", "--inputs", f"{W}/dir", f"{W}/out"],
     f"{W}/garbage.bin"),
    (["arxiv", "unit", "--units", f"{W}/dir", "--unit", "u", "--inputs", f"{W}/dir", f"{W}/out"], f"{W}/dir"),
    (["pmc", "list", "--source", f"{W}/missing", "--layout", "cloud", "--out", f"{W}/i.tsv"], f"{W}/missing"),
    (["pmc", "list", "--source", f"{W}/text.txt", "--layout", "cloud", "--out", f"{W}/i.tsv"], f"{W}/text.txt"),
    (["pmc", "list", "--source", CLOUD, "--layout", "cloud", "--out", f"{W}/dir"], f"{W}/dir"),
    (["pmc", "list", "--source", CLOUD, "--layout", "cloud", "--out", f"{W}/i.tsv", "--license", "XYZ"],
     "--license"),
    (["pmc", "list", "--source", CLOUD, "--layout", "cloud", "--out", f"{W}/i.tsv", "--max-count", "-1"], None),
    (["pmc", "list", "--source", CLOUD, "--layout", "cloud", "--out", f"{W}/i.tsv", "--threads", "0"], None),
    (["pmc", "download", "--source", CLOUD, "--layout", "cloud", "--index", f"{W}/missing.tsv", "--batch", "b0",
      "--out", f"{W}/dl"], f"{W}/missing.tsv"),
    (["pmc", "download", "--source", CLOUD, "--layout", "cloud", "--index", f"{W}/dir", "--batch", "b0",
      "--out", f"{W}/dl"], f"{W}/dir"),
    (["pmc", "download", "--source", CLOUD, "--layout", "cloud", "--index", f"{W}/garbage.bin", "--batch", "b0",
      "--out", f"{W}/dl"], f"{W}/garbage.bin"),
    (["pmc", "extract", f"{W}/text.txt", f"{W}/out"], f"{W}/text.txt"),
    (["pmc", "extract", f"{W}/emptydir", f"{W}/out"], f"{W}/emptydir"),
    (["pmc", "extract", f"{W}/pmcdir", f"{W}/text.txt"], f"{W}/text.txt"),
    (["pmc", "batch", "--source", CLOUD, "--layout", "cloud", "--index", f"{W}/garbage.bin", "--batch", "b0",
      "--downloads", f"{W}/dl", f"{W}/out"], f"{W}/garbage.bin"),
    (["pmc", "unit", "--source", CLOUD, "--layout", "cloud", "--index", f"{W}/text.txt", "--units",
      f"{W}/garbage.bin", "--unit", "u", "--downloads", f"{W}/dl", f"{W}/out"], f"{W}/garbage.bin"),
    (["units", "--members", f"{W}/missing.tsv", "--out", f"{W}/u.tsv"], f"{W}/missing.tsv"),
    (["units", "--members", f"{W}/dir", "--out", f"{W}/u.tsv"], f"{W}/dir"),
    (["units", "--members", f"{W}/garbage.bin", "--out", f"{W}/u.tsv"], f"{W}/garbage.bin"),
    (["units", "--members", f"{W}/text.txt", "--out", f"{W}/dir"], f"{W}/dir"),
    (["units", "--members", f"{W}/text.txt", "--out", f"{W}/u.tsv", "--max-units", "0"], None),
    (["heal", f"{W}/missing"], f"{W}/missing"),
    (["heal", f"{W}/text.txt"], f"{W}/text.txt"),
    (["heal", f"{W}/garbshards", "--out", f"{W}/healed"], f"{W}/garbshards/00000.tar"),
    (["heal", f"{W}/garbshards", "--out", f"{W}/text.txt"], f"{W}/garbshards/00000.tar"),
    (["stats", f"{W}/missing"], f"{W}/missing: no such directory"),
    (["stats", f"{W}/text.txt"], f"{W}/text.txt"),
    (["stats", f"{W}/emptydir"], f"{W}/emptydir"),
    (["stats", f"{W}/garbshards"], f"{W}/garbshards/00000.tar"),
    (["train", f"{W}/missing", "--run", "r", "--print-command"], f"{W}/missing: no such directory"),
    (["train", f"{W}/emptydir", "--run", "r", "--print-command"], f"{W}/emptydir: no numbered shards"),
    (["train", f"{W}/text.txt", "--run", "r", "--print-command"], f"{W}/text.txt"),
    (["train", f"{W}/final", "--run", "r", "--print-command"], f"{W}/final/00000000_stats.json"),
    (["train", f"{W}/final", "--run", "r", "--preset", "huge", "--print-command"], None),
    (["report-figures", "--results", f"{W}/missing", "--out", f"{W}/rep"], f"{W}/missing"),
    (["report-figures", "--results", f"{W}/emptydir", "--out", f"{W}/rep"], f"{W}/emptydir"),
    (["report-figures", "--results", f"{W}/emptydir", "--out", f"{W}/rep", "--thumbnails", "-1"], None),
    (["demo-summary", f"{W}/missing"], f"{W}/missing/stats"),
    (["demo-summary", f"{W}/results"], f"{W}/results/stats/arxiv.json"),
    (["demo-summary", f"{W}/results2"], f"{W}/results2/stats/arxiv.json"),
    (["sample", f"{W}/text.txt"], f"{W}/text.txt: not a directory"),
    (["sample", f"{W}/text.txt/sub"], f"{W}/text.txt: not a directory"),
]


@pytest.mark.parametrize("argv,names", CASES, ids=[" ".join(a[:2]) + f" #{i}" for i, (a, _) in enumerate(CASES)])
def test_bad_input_is_one_line_error(argv, names, ws):
    w, s = ws
    argv = [a.replace(W, str(w)).replace(S, str(s)) for a in argv]
    rc, _, err = call_cli(*argv)
    assert "internal error" not in err and "Traceback" not in err, err
    if names is None:
        assert rc == 2 and "error: argument" in err, err
        return
    lines = err.strip().splitlines()
    assert rc == 1 and len(lines) == 1, err
    expected = names.replace(W, str(w))
    assert lines[0].startswith(f"sciclip: error: {expected}") or (
        not expected.startswith("/") and lines[0].startswith("sciclip: error: ") and expected in lines[0]), err
