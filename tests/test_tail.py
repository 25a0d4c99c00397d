"""The tail at scale: conversion, filtering and deduplication per tail unit give the same bytes as one job over
everything, whatever the unit sizes; subsets are merged and checked chunk by chunk."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from sciclip.curate.dedup import build_subset, dedup_source, filter_unit, merge_subsets
from sciclip.errors import SciclipError
from sciclip.shards import subset_file
from sciclip.shards.img2dataset import convert, convert_unit
from sciclip.shards.subset_file import U16, check_sorted, hex_to_pairs, load_subset, merge_sorted, uid_pairs
from sciclip.shards.tail_plan import folder_plan, plan_tail, read_plan, write_plan
from sciclip.shards.writer import ShardWriter
from tests.conftest import read_dir


def _digests(folder: Path) -> dict[str, str]:
    out = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.endswith("_stats.json"):
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def units(sample_extracted):
    """The sample corpus' extraction output: one folder of shards per tarball."""
    root, _ = sample_extracted
    return sorted(p for p in root.iterdir() if p.is_dir())


def test_tail_units_give_the_same_bytes_as_one_job(units, tmp_path):
    whole = tmp_path / "whole"
    convert(units, whole, samples_per_shard=4, shards_per_unit=1000)
    for spu in (1, 2, 3):
        plan = plan_tail(units, samples_per_shard=4, shards_per_unit=spu)
        write_plan(plan, tmp_path / f"plan{spu}.json")
        plan = read_plan(tmp_path / f"plan{spu}.json")
        assert len(plan.units) == -(-plan.shards // spu) and sum(u.samples for u in plan.units) == plan.samples
        out = tmp_path / f"units{spu}"
        for unit in reversed(plan.units):  # any order: each unit writes only its own shards
            convert_unit(plan, unit.name, out)
        assert _digests(out) == _digests(whole), spu
    keys = [s["key"] for s in read_dir(whole)]
    assert keys == sorted(keys) and len(set(keys)) == len(keys) == plan.samples
    assert keys[:5] == ["000000", "000001", "000002", "000003", "000010"]  # shard * 10 + index, 1 + 5 digits


def test_a_damaged_input_keeps_every_key(units, tmp_path):
    copies = []
    for d in units:
        dest = tmp_path / "in" / d.name
        dest.mkdir(parents=True)
        for p in d.iterdir():
            dest.joinpath(p.name).write_bytes(p.read_bytes())
        copies.append(dest)
    victim = sorted(copies[0].glob("*.tar"))[0]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])  # cut mid-sample
    plan = plan_tail(copies, samples_per_shard=1000, shards_per_unit=1)
    report = convert(copies, tmp_path / "out", samples_per_shard=1000)
    assert report.failed >= 1 and report.damaged_inputs and report.samples + report.failed == plan.samples
    rows = pq.read_table(tmp_path / "out" / "00000.parquet").to_pylist()
    assert [r["key"] for r in rows] == [plan.key(0, i) for i in range(plan.samples)]
    failed = [r for r in rows if r["status"] != "success"]
    assert len(failed) == report.failed and all(r["error_message"] for r in failed)
    assert len(read_dir(tmp_path / "out")) == report.samples
    stats = json.loads((tmp_path / "out" / "00000_stats.json").read_text())
    assert stats["successes"] == report.samples and stats["failed_to_download"] == report.failed


def _naive_subset(folder: Path, scores: dict[str, float], threshold: float) -> tuple[list[str], dict]:
    """The definition, with a whole-corpus set: what the partitioned deduplication must reproduce."""
    seen, keep, contaminated, duplicates = set(), [], [], []
    for p in sorted(folder.glob("*.parquet")):
        for r in pq.read_table(p).to_pylist():
            if r["status"] != "success":
                continue
            if scores.get(r["uid"], float("-inf")) >= threshold:
                contaminated.append(r["uid"])
            elif (r["sha256"], r["caption"]) in seen:
                duplicates.append({"uid": r["uid"], "key": r["key"]})
            else:
                seen.add((r["sha256"], r["caption"]))
                keep.append(r["uid"])
    return keep, {"contaminated": contaminated, "duplicates": duplicates}


def _duplicated_corpus(tmp_path: Path, n: int = 400) -> Path:
    """Unit shards where many samples repeat an earlier (image, caption), across shard and unit boundaries."""
    rng = np.random.default_rng(7)
    for u in range(4):
        with ShardWriter(tmp_path / "units" / f"u{u}", samples_per_shard=37) as w:
            for i in range(n // 4):
                uid = hashlib.md5(f"{u}-{i}".encode()).hexdigest()
                j = int(rng.integers(0, 60))  # 60 distinct (image, caption) pairs over 400 samples
                meta = {"uid": uid, "sha256": f"{j % 30:064x}", "source": "toy", "source_path": f"{u}/{i}"}
                w.write(uid, {"jpg": b"\xff\xd8" + bytes([j]), "txt": f"caption {j // 30}".encode(),
                              "json": json.dumps(meta).encode()})
    return tmp_path / "units"


def test_partitioned_dedup_matches_the_definition(tmp_path):
    root = _duplicated_corpus(tmp_path)
    i2d = tmp_path / "i2d"
    convert(sorted(root.iterdir()), i2d, samples_per_shard=50, shards_per_unit=3)
    keep, naive = _naive_subset(i2d, {}, 2.0)
    assert naive["duplicates"] and len(keep) == 60
    expected = np.sort(uid_pairs(keep))
    reports = []
    for spu, partitions in ((1, 1), (2, 3), (3, 64), (100, 7)):
        rep = build_subset(i2d, None, 2.0, tmp_path / f"s{spu}.npy", tmp_path / f"r{spu}.json",
                           shards_per_unit=spu, partitions=partitions)
        assert rep["kept"] == len(keep) and rep["exact_duplicates"] == len(naive["duplicates"])
        assert np.array_equal(np.load(tmp_path / f"s{spu}.npy"), expected)
        report = json.loads((tmp_path / f"r{spu}.json").read_text())
        assert report["duplicate_samples"] == naive["duplicates"]  # key order, first kept
        reports.append((tmp_path / f"r{spu}.json").read_bytes())
    assert len(set(reports)) == 1


def test_contaminated_samples_never_count_as_seen(tmp_path):
    root = _duplicated_corpus(tmp_path, n=120)
    i2d = tmp_path / "i2d"
    convert(sorted(root.iterdir()), i2d, samples_per_shard=50)
    rows = [r for p in sorted(i2d.glob("*.parquet")) for r in pq.read_table(p).to_pylist()]
    scores = {r["uid"]: (0.9 if k % 5 == 0 else 0.1) for k, r in enumerate(rows)}
    sdir = tmp_path / "scores"
    sdir.mkdir()
    import pyarrow as pa
    for p in sorted(i2d.glob("*.parquet")):
        uids = pq.read_table(p, columns=["uid"]).column("uid").to_pylist()
        pq.write_table(pa.table({"uid": uids, "score": pa.array([scores[u] for u in uids], pa.float32())}),
                       sdir / p.name)
    keep, naive = _naive_subset(i2d, {u: float(np.float32(s)) for u, s in scores.items()}, 0.5)
    rep = build_subset(i2d, sdir, 0.5, tmp_path / "s.npy", tmp_path / "r.json", shards_per_unit=1, partitions=5)
    assert rep["contaminated"] == len(naive["contaminated"]) and rep["kept"] == len(keep)
    assert np.array_equal(np.load(tmp_path / "s.npy"), np.sort(uid_pairs(keep)))
    report = json.loads((tmp_path / "r.json").read_text())
    assert [r["uid"] for r in report["contaminated_samples"]] == naive["contaminated"]


def test_report_is_exactly_json_dumps(tmp_path):
    root = _duplicated_corpus(tmp_path, n=80)
    i2d = tmp_path / "i2d"
    convert(sorted(root.iterdir()), i2d, samples_per_shard=30)
    plan = folder_plan(i2d, shards_per_unit=1)
    dirs = [filter_unit(i2d, plan, u.name, None, 2.0, tmp_path / "f" / u.name, 4) and tmp_path / "f" / u.name
            for u in plan.units]
    dedup_source(dirs, plan, 2.0, tmp_path / "s.npy", tmp_path / "r.json")
    text = (tmp_path / "r.json").read_text()
    assert text == json.dumps(json.loads(text), indent=2) + "\n"


def test_merge_sorted_in_small_chunks(monkeypatch, tmp_path):
    monkeypatch.setattr(subset_file, "CHUNK", 7)
    rng = np.random.default_rng(1)
    arrays = []
    for n in (0, 5, 40, 23):
        a = np.zeros(n, U16)
        a["f0"] = rng.integers(0, 4, n)  # many equal high words: the low word decides
        a["f1"] = rng.integers(0, 2**63, n, dtype=np.uint64)
        a.sort()
        arrays.append(a)
        np.save(tmp_path / f"a{n}.npy", a)
    got = np.concatenate(list(merge_sorted(arrays)))
    assert np.array_equal(got, np.sort(np.concatenate(arrays)))
    assert merge_subsets([tmp_path / f"a{n}.npy" for n in (5, 40, 23)], tmp_path / "m.npy") == 68
    assert np.array_equal(np.load(tmp_path / "m.npy"), np.sort(np.concatenate(arrays[1:])))


def test_sortedness_is_checked_at_any_size(monkeypatch, tmp_path):
    monkeypatch.setattr(subset_file, "CHUNK", 4)
    a = np.zeros(20, U16)
    a["f1"] = np.arange(20)
    check_sorted(a)
    a[8], a[7] = a[7].copy(), a[8].copy()  # unsorted exactly across a chunk boundary
    with pytest.raises(SciclipError, match="not sorted"):
        check_sorted(a)
    np.save(tmp_path / "bad.npy", a)
    with pytest.raises(SciclipError, match="bad.npy: subset is not sorted"):
        load_subset(tmp_path / "bad.npy")
    (tmp_path / "junk.npy").write_bytes(b"not a subset at all")
    with pytest.raises(SciclipError, match="junk.npy: not a subset file"):
        load_subset(tmp_path / "junk.npy")


def test_hex_uids_convert_like_datacomp():
    uids = [hashlib.md5(str(i).encode()).hexdigest() for i in range(50)] + ["F" * 32, "0" * 32]
    assert np.array_equal(hex_to_pairs(np.array([u.lower() for u in uids], dtype="S32")),
                          uid_pairs([u.lower() for u in uids]))


def test_reshard_errors_are_one_line_and_defaults_chain_from_convert(units, tmp_path):
    from tests.conftest import run_cli

    i2d = tmp_path / "i2d"
    assert run_cli("convert", *map(str, units), "--out", str(i2d)).returncode == 0
    uids = [s["meta"]["uid"] for s in read_dir(i2d)]
    np.save(tmp_path / "s.npy", np.sort(uid_pairs(uids[:3])))
    r = run_cli("reshard", "-i", str(i2d), "-o", str(tmp_path / "out"), "-s", str(tmp_path / "s.npy"))
    assert r.returncode == 0, r.stderr  # convert's 00000.tar is found without --shard-format
    assert len(read_dir(tmp_path / "out")) == 3
    (tmp_path / "junk.npy").write_text("not numpy")
    cases = [
        (["-i", str(tmp_path / "missing")], "missing: no such input directory"),
        (["-i", str(i2d), "-s", str(tmp_path / "junk.npy")], "junk.npy: not a subset file"),
        (["-i", str(i2d), "-s", str(tmp_path / "nope.npy")], "nope.npy: no such subset file"),
    ]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "00000.tar").write_bytes(b"garbage" * 100)
    cases.append((["-i", str(bad)], "00000.tar: not a readable tar shard"))
    for args, message in cases:
        full = ["reshard", "-o", str(tmp_path / "o2"), "--overwrite"] + args
        if "-s" not in args:
            full += ["-s", str(tmp_path / "s.npy")]
        r = run_cli(*full)
        lines = [x for x in r.stderr.splitlines() if x.startswith("sciclip:")]
        assert r.returncode == 1 and len(lines) == 1 and message in lines[0], (args, r.stderr[-500:])


def test_convert_refuses_shards_it_cannot_read_at_all(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "00000.tar").write_bytes(bytes(range(256)) * 20)
    with pytest.raises(SciclipError, match="00000.tar: not a readable tar shard"):
        convert([d], tmp_path / "out")
    with pytest.raises(SciclipError, match="not a directory"):
        convert([tmp_path / "nope"], tmp_path / "out")
