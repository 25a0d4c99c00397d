"""The science split: which pairs are held out (deterministic by uid, fraction and cap), the retrieval set
written from them, the near-duplicates of their images kept out of training, and the merge that leaves them
out of a final output's subset."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sciclip.curate.heldout import exclusion, heldout_count, hex_uid, rank, select, write_heldout
from sciclip.errors import SciclipError
from sciclip.shards.subset_file import U16, load_subset, save_subset, uid_pairs
from tests.conftest import call_cli, read_dir


def _uids(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pairs = np.zeros(n, U16)
    pairs["f0"] = rng.integers(0, 2**63, n, dtype=np.uint64)
    pairs["f1"] = rng.integers(0, 2**63, n, dtype=np.uint64)
    return np.sort(pairs)


def test_count_is_the_fraction_up_to_the_cap():
    assert [heldout_count(n, 0.01, 5000) for n in (0, 1, 99, 100, 101, 10**6)] == [0, 1, 1, 1, 2, 5000]
    assert heldout_count(20, 0.25, 5) == 5 and heldout_count(10, 0.25, 5) == 3 and heldout_count(5, 1.0, 9) == 5


def _set(a: np.ndarray) -> set[tuple[int, int]]:
    return {tuple(x) for x in a.tolist()}


def test_selection_is_deterministic_by_uid():
    pool = _uids(5000)
    held = select(pool, 0.01, 100)
    assert len(held) == 50 and held.tolist() == sorted(held.tolist())  # a sorted subset file
    assert np.array_equal(held, select(pool[::-1].copy(), 0.01, 100))  # order of the input does not matter
    # the smallest ranks: every held-out uid ranks below every other
    rest = np.array([x for x in pool.tolist() if x not in _set(held)], dtype=U16)
    assert rank(held).max() < rank(rest).min()
    # a uid's rank does not depend on the others: a bigger pool keeps the smaller pool's held-out uids that
    # still rank among its first
    bigger = np.sort(np.concatenate([pool, _uids(5000, seed=1)]))
    held_big = select(bigger, 0.005, 100)
    assert len(held_big) == 50
    kept = held[rank(held) <= rank(held_big).max()]
    assert len(kept) > 10 and _set(kept) <= _set(held_big)
    # a listed-twice uid (upsampling) counts once
    assert np.array_equal(select(np.sort(np.concatenate([pool, pool])), 0.01, 100), held)


@pytest.fixture(scope="module")
def corpus(sample_extracted, tmp_path_factory):
    """The arXiv sample as img2dataset shards, its pHash descriptors and exact-dedup subset (no scores: the planted
    near-duplicates of evaluation images are all still in it)."""
    from sciclip.curate.decontaminate import embed_source
    from sciclip.curate.dedup import build_subset
    from sciclip.shards.img2dataset import convert

    root, _ = sample_extracted
    work = tmp_path_factory.mktemp("heldout")
    i2d = work / "arxiv"
    convert(sorted(p for p in root.iterdir() if p.is_dir()), i2d, samples_per_shard=8)
    embed_source(i2d, work / "emb", "phash", batch_size=16, workers=0)
    build_subset(i2d, None, 2.0, work / "subset.npy")
    samples = {s["meta"]["uid"]: s for s in read_dir(i2d)}
    return work, i2d, samples


def test_the_split_is_a_clip_benchmark_retrieval_set(corpus, tmp_path):
    from clip_benchmark.datasets.builder import build_dataset

    work, i2d, samples = corpus
    rc, _, err = call_cli("heldout", "--subset", str(work / "subset.npy"), "--img2dataset", str(i2d), "--source",
                          "arxiv", "--fraction", "0.3", "--cap", "6", "--out", str(tmp_path / "held.npy"),
                          "--set", str(tmp_path / "wds_sciclip-arxiv_test"), "--report", str(tmp_path / "h.json"))
    assert rc == 0, err
    held = {hex_uid(p) for p in load_subset(tmp_path / "held.npy")}
    pool = load_subset(work / "subset.npy")
    assert len(held) == min(6, int(np.ceil(0.3 * len(pool))))
    report = json.loads((tmp_path / "h.json").read_text())
    assert report["heldout"] == len(held) and report["pool"] == len(pool)
    ds = build_dataset("wds/sciclip/arxiv", root=str(tmp_path / "wds_sciclip-arxiv_test"), split="test",
                       download=False, task="zeroshot_retrieval")
    rows = list(ds)
    assert len(rows) == len(held)
    written = read_dir(tmp_path / "wds_sciclip-arxiv_test")
    assert {s["key"] for s in written} == held
    for s in written:  # the pair itself: its image bytes and caption (one line)
        src = samples[s["key"]]
        assert s["jpg"] == src["jpg"] and s["caption"] == " ".join(src["caption"].split())
        assert s["meta"]["source"] == "arxiv" and s["meta"]["uid"] == s["key"]
    assert all(len(texts) == 1 for _, texts in rows)


def _descriptors(folder, uids: list[str], emb: np.ndarray, descriptor: str = "phash") -> str:
    """A tail unit's descriptor folder as ``sciclip embed`` writes it (ids.npy, emb.npy, descriptor.txt)."""
    folder.mkdir(parents=True)
    np.save(folder / "ids.npy", np.array(uids, dtype="S32"))
    np.save(folder / "emb.npy", emb)
    (folder / "descriptor.txt").write_text(descriptor)
    return str(folder)


def test_near_duplicates_of_held_out_images_are_excluded_in_every_source(tmp_path):
    """pHash similarity = 1 - Hamming/64: copies of held-out descriptors with a few bits flipped, in another
    source, leave training with them; descriptors far from all held-out ones stay."""
    rng = np.random.default_rng(4)
    uid = lambda i: f"{i:032x}"  # noqa: E731
    a_emb = rng.integers(0, 256, (40, 8), dtype=np.uint8)
    b_emb = rng.integers(0, 256, (30, 8), dtype=np.uint8)
    b_emb[:3] = a_emb[[2, 5, 7]]
    b_emb[0, 0] ^= 0b111  # 3 bits off: similarity 61/64
    b_emb[1, :3] ^= 0xFF  # 24 bits off: 40/64 = 0.625, below 0.75: stays
    a = _descriptors(tmp_path / "a", [uid(i) for i in range(40)], a_emb)
    b = _descriptors(tmp_path / "b", [uid(1000 + i) for i in range(29)] + [""], b_emb)  # one undecodable row
    save_subset(tmp_path / "held.npy", uid_pairs(sorted(uid(i) for i in (2, 5, 7))))
    sim = 1 - np.unpackbits(b_emb[:, None, :] ^ a_emb[None, [2, 5, 7], :], axis=2).sum(axis=2) / 64
    want_b = {uid(1000 + i) for i in range(29) if sim[i].max() >= 0.75}
    assert uid(1000) in want_b and uid(1001) not in want_b and uid(1002) in want_b
    sim_a = 1 - np.unpackbits(a_emb[:, None, :] ^ a_emb[None, [2, 5, 7], :], axis=2).sum(axis=2) / 64
    want_a = {uid(i) for i in range(40) if sim_a[i].max() >= 0.75}
    rep = exclusion([tmp_path / "held.npy"], {"arxiv": [a], "cc": [b]}, 0.75, tmp_path / "x.npy",
                    report=tmp_path / "x.json")
    got = {hex_uid(p) for p in load_subset(tmp_path / "x.npy")}
    assert got == want_a | want_b and {uid(2), uid(5), uid(7)} <= got
    assert rep == {**json.loads((tmp_path / "x.json").read_text()), "descriptor": "phash"}
    assert rep["heldout"] == 3 and rep["near_duplicates"] == {"arxiv": len(want_a) - 3, "cc": len(want_b)}


def test_exclusion_on_real_descriptors_holds_the_sample_itself(corpus, tmp_path):
    work, _, samples = corpus
    one = next(uid for uid, s in samples.items() if s["meta"].get("source_path") == "planted_resized.png")
    save_subset(tmp_path / "held.npy", uid_pairs([one]))
    rep = exclusion([tmp_path / "held.npy"], {"arxiv": [str(work / "emb")]}, 0.75, tmp_path / "x.npy")
    excluded = {hex_uid(p) for p in load_subset(tmp_path / "x.npy")}
    assert one in excluded and len(excluded) < len(samples) / 2 and rep["descriptor"] == "phash"


def test_merge_leaves_the_excluded_out(tmp_path):
    a, b = _uids(300, 1), _uids(200, 2)
    save_subset(tmp_path / "a.npy", a)
    save_subset(tmp_path / "b.npy", np.sort(np.concatenate([b, b[:10]])))  # ten listed twice (upsampled)
    gone = np.sort(np.concatenate([a[::7], b[:5], _uids(3, 9)]))  # some of a, some repeated b, some unknown
    save_subset(tmp_path / "gone.npy", gone)
    rc, _, err = call_cli("subset", "--merge", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--exclude",
                          str(tmp_path / "gone.npy"), "--out", str(tmp_path / "m.npy"))
    assert rc == 0, err
    merged = load_subset(tmp_path / "m.npy")
    out = _set(gone)
    want = sorted(x for x in np.concatenate([a, b, b[:10]]).tolist() if tuple(x) not in out)
    assert merged.tolist() == want and len(want) == 300 - len(a[::7]) + 210 - 2 * 5  # both copies of b[:5] go
    rc, _, err = call_cli("subset", "--input", "x", "--exclude", str(tmp_path / "gone.npy"), "--out", "y")
    assert rc == 1 and "--exclude goes with --merge" in err


def test_a_source_of_no_samples_has_an_empty_split(corpus, tmp_path):
    """Zero samples is a result: an empty subset and a set whose nshards.txt says 0 (evaluate skips it)."""
    work, i2d, _ = corpus
    save_subset(tmp_path / "empty.npy", np.zeros(0, U16))
    rep = write_heldout(tmp_path / "empty.npy", i2d, "arxiv", 0.1, 5, tmp_path / "h.npy", tmp_path / "set",
                        report=tmp_path / "h.json")
    assert rep["pool"] == rep["heldout"] == 0 and json.loads((tmp_path / "h.json").read_text()) == rep
    assert len(load_subset(tmp_path / "h.npy")) == 0
    assert (tmp_path / "set" / "test" / "nshards.txt").read_text() == "0\n"
    assert (tmp_path / "set" / "dataset_type.txt").read_text() == "retrieval\n"


def test_nothing_to_hold_out_or_uids_missing_from_the_shards_is_an_error(corpus, tmp_path):
    work, i2d, _ = corpus
    save_subset(tmp_path / "some.npy", _uids(10))
    with pytest.raises(SciclipError, match="no sample to hold out"):
        write_heldout(tmp_path / "some.npy", i2d, "arxiv", 0.0, 5, tmp_path / "h.npy", tmp_path / "set")
    save_subset(tmp_path / "foreign.npy", _uids(10))
    with pytest.raises(SciclipError, match="not in its shards"):
        write_heldout(tmp_path / "foreign.npy", i2d, "arxiv", 0.5, 5, tmp_path / "h.npy", tmp_path / "set")
    assert not (tmp_path / "set").exists() and not (tmp_path / "h.npy").exists()
