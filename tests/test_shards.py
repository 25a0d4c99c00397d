"""Healing foreign shards, dataset statistics, and the command line's contract (help, errors, exit codes)."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from sciclip.cli import build_parser
from sciclip.shards.heal import heal_directory
from sciclip.shards.reader import split_key
from sciclip.shards.stats import dataset_stats, length_summary
from tests.conftest import read_shard, run_cli


def write_tar(path, members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    data = buf.getvalue()
    path.write_bytes(data)
    return data


def sample(key: str, caption: str = "a caption", image: bytes = b"\xff\xd8jpeg") -> list[tuple[str, bytes]]:
    return [(f"{key}.jpg", image), (f"{key}.txt", caption.encode()), (f"{key}.json", b"{}")]


@pytest.fixture
def foreign(tmp_path):
    d = tmp_path / "foreign"
    d.mkdir()
    # shard a: fine, plus a sample without caption and one without image
    write_tar(d / "shard-a.tar", sample("a1") + sample("a2") + [("a3.jpg", b"img")] + [("a4.txt", b"cap")])
    # shard b: a duplicate of a1, then two good ones, then cut inside the last sample's image
    data = write_tar(d / "shard-b.tar", sample("a1") + sample("b1") + sample("b2")
                     + sample("b3", image=b"\xff" * 5000))
    (d / "shard-b.tar").write_bytes(data[: data.index(b"\xff" * 5000) + 2000])
    # shard c: a key repeated non-adjacently inside one shard
    write_tar(d / "shard-c.tar", sample("c1") + sample("c2") + sample("c1", caption="again"))
    return d


def test_split_key_follows_webdataset():
    assert split_key("dir/abc.seg.jpg") == ("dir/abc", "seg.jpg")
    assert split_key("00001.TXT") == ("00001", "txt")


def test_heal_keeps_whole_complete_first_samples(foreign, tmp_path):
    out = tmp_path / "healed"
    report = heal_directory(foreign, out)
    assert sorted(p.name for p in out.glob("*.tar")) == ["00000.tar", "00001.tar", "00002.tar"]
    keys = [[s["key"] for s in read_shard(out / f"{i:05d}.tar")] for i in range(3)]
    assert keys == [["a1", "a2"], ["b1", "b2"], ["c1", "c2"]]
    assert read_shard(out / "00002.tar")[0]["caption"] == "a caption"  # the first c1 kept
    t = report.totals()
    assert (t["samples_kept"], t["incomplete"], t["duplicate_keys"], t["dropped_partial"], t["truncated_shards"]) == (
        6, 2, 2, 1, 1)
    saved = json.loads((out / "heal_report.json").read_text())
    assert saved["totals"] == t
    assert [s["input"] for s in saved["shards"]] == ["shard-a.tar", "shard-b.tar", "shard-c.tar"]


def test_heal_in_place_and_webdataset_reads_it(foreign):
    import webdataset as wds
    heal_directory(foreign)
    assert sorted(p.name for p in foreign.glob("*.tar")) == ["00000.tar", "00001.tar", "00002.tar"]
    ds = wds.WebDataset(str(foreign / "{00000..00002}.tar"), shardshuffle=False)
    assert [s["__key__"] for s in ds] == ["a1", "a2", "b1", "b2", "c1", "c2"]


def test_heal_cli_reports(foreign, tmp_path):
    r = run_cli("heal", str(foreign), "--out", str(tmp_path / "h"))
    assert r.returncode == 0, r.stderr
    assert "kept 6 samples" in r.stderr and "2 duplicate keys" in r.stderr
    r = run_cli("heal", str(tmp_path / "nothing-here"))
    assert r.returncode == 1 and r.stderr.strip() == f"sciclip: error: {tmp_path / 'nothing-here'}: no such directory"


def test_length_summary():
    s = length_summary(list(range(1, 101)))
    assert (s["mean"], s["median"], s["p95"], s["min"], s["max"]) == (50.5, 50.5, 95.05, 1, 100)
    assert length_summary([])["count"] == 0


def test_stats_on_foreign_and_our_shards(foreign, sample_extracted):
    st = dataset_stats(foreign)
    assert st["samples"] == 3 + 3 + 2  # images: a1 a2 a3 | a1 b1 b2 (b3 cut) | c1 c2
    assert st["damaged_shards"] and st["damaged_shards"][0]["shard"] == "shard-b.tar"
    root, stats = sample_extracted
    ours = dataset_stats([root / name for name in sorted(stats)], source="arxiv")
    assert ours["samples"] == ours["samples_written"] == sum(s.samples_written for s in stats.values())
    assert ours["items_seen"] == 12 and ours["skipped_items"] == {"corrupt_gzip": 1, "pdf_only": 1}
    assert ours["caption_chars"]["count"] == ours["samples"]
    assert ours["caption_words"]["mean"] > 5


def test_stats_cli_json(sample_extracted, tmp_path):
    root, _ = sample_extracted
    r = run_cli("stats", str(root), "--json", "--out", str(tmp_path / "s.json"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads((tmp_path / "s.json").read_text())


SUBCOMMANDS = [["arxiv", "manifest"], ["arxiv", "select"], ["arxiv", "download"], ["arxiv", "extract"], ["heal"],
               ["stats"], ["sample"], ["demo-summary"]]


@pytest.mark.parametrize("cmd", SUBCOMMANDS)
def test_help_on_every_subcommand(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([*cmd, "--help"])
    assert e.value.code == 0
    assert "usage: sciclip" in capsys.readouterr().out


def test_errors_are_one_line_and_nonzero(tmp_path):
    r = run_cli("arxiv", "extract", str(tmp_path / "missing.tar"), str(tmp_path / "out"))
    assert r.returncode == 1
    assert r.stderr.strip() == f"sciclip: error: {tmp_path / 'missing.tar'}: no such file"
    (tmp_path / "bad.xml").write_text("<nope")
    r = run_cli("arxiv", "select", "--manifest", str(tmp_path / "bad.xml"), "--out", str(tmp_path / "s.tsv"))
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "bad.xml" in r.stderr
    r = run_cli("arxiv", "extract", "x.tar", "o", "--max-size", "0")
    assert r.returncode == 2 and "must be at least 1" in r.stderr


def test_cli_extract_and_sample(tmp_path):
    r = run_cli("sample", str(tmp_path / "s"))
    assert r.returncode == 0, r.stderr
    tarball = tmp_path / "s" / "arxiv" / "src" / "arXiv_src_2001_002.tar"
    r = run_cli("-q", "arxiv", "extract", str(tarball), str(tmp_path / "o"), "--workers", "2", "--max-size", "256")
    assert r.returncode == 0, r.stderr
    assert "3 papers, 8 figures, 5 samples" in r.stderr
    assert all(max(s["meta"]["width"], s["meta"]["height"]) <= 256 for s in read_shard(tmp_path / "o" / "00000.tar"))
