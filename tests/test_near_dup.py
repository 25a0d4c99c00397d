"""In-corpus near-duplicates: the partitioned searches against brute force, planted copies found at the rates the
descriptor allows, the earliest copy kept across sources, and the job over real files."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from sciclip.curate import near_dup
from sciclip.curate.descriptors import phash_bits
from sciclip.curate.near_dup import SOURCE_SHIFT, chunk_bounds, max_bits, search
from sciclip.sample import media


def _uids(n: int, salt: int = 0) -> np.ndarray:
    return np.array([f"{salt:08x}{i:024x}".encode() for i in range(n)], dtype="S32")


def _batches(parts):
    """``search``'s input: a callable yielding (uids, descriptors, order) per unit."""
    return lambda: iter(parts)


def _brute_phash(codes: np.ndarray, order: np.ndarray, bits: int) -> dict[int, int]:
    """order -> the order of its most similar earlier code within ``bits`` (ties: the earliest), by brute force."""
    out = {}
    by_order = np.argsort(order)
    codes, order = codes[by_order], order[by_order]
    for i in range(len(codes)):
        d = np.bitwise_count(codes[:i] ^ codes[i])
        ok = np.flatnonzero(d <= bits)
        if len(ok):
            best = ok[np.lexsort((order[ok], d[ok]))][0]
            out[int(order[i])] = int(order[best])
    return out


def _packed(codes: np.ndarray) -> np.ndarray:
    """uint64 codes -> the 8-byte packed layout the pHash descriptor files hold."""
    return codes.astype(">u8").view(np.uint8).reshape(-1, 8)


@pytest.mark.parametrize("threshold", [0.95, 0.9, 1.0])
def test_phash_multi_index_search_equals_brute_force(tmp_path, threshold):
    rng = np.random.default_rng(int(threshold * 100))
    bits = max_bits(threshold)
    base = rng.integers(0, 2**63, 400, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, 400).astype(np.uint64)
    copies = []
    for k in range(300):  # copies with 0..7 flipped bits, some of copies, some identical
        src = base[rng.integers(0, len(base))] if k % 3 else (copies[-1] if copies else base[0])
        flips = rng.choice(64, rng.integers(0, 8), replace=False)
        copies.append(src ^ np.uint64(sum(1 << int(f) for f in flips)))
    codes = np.concatenate([base, np.array(copies, np.uint64)])
    perm = rng.permutation(len(codes))
    codes = codes[perm]
    order = np.arange(len(codes), dtype=np.uint64)
    ids = _uids(len(codes))
    parts = [(ids[i:i + 150], _packed(codes[i:i + 150]), order[i:i + 150]) for i in range(0, len(codes), 150)]
    removed, info = search(_batches(parts), "phash", threshold, tmp_path)
    expect = _brute_phash(codes, order, bits)
    assert info["chunks"] == bits + 1 and len(expect) > 40
    assert {int(o): int(m) for o, m in zip(removed["order"], removed["match_order"])} == expect
    sims = 1 - np.bitwise_count(codes[removed["order"].astype(int)] ^ codes[removed["match_order"].astype(int)]) / 64
    assert np.allclose(removed["sim"], sims)


def test_phash_partition_files_bound_the_work(tmp_path, monkeypatch):
    """Many partitions (a small partition size) give the same answer as one."""
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 2**63, 500, dtype=np.uint64)
    codes = np.concatenate([codes, codes[:200] ^ np.uint64(5)])
    order = np.arange(len(codes), dtype=np.uint64)
    parts = [(_uids(len(codes)), _packed(codes), order)]
    one, _ = search(_batches(parts), "phash", 0.95, tmp_path / "a")
    monkeypatch.setattr(near_dup, "PARTITION_RECORDS", 64)
    many, info = search(_batches(parts), "phash", 0.95, tmp_path / "b")
    assert info["partitions"] > 20 and np.array_equal(one, many) and len(one) == 200


def test_chunks_cover_every_bit_once():
    for bits in range(0, 20):
        chunks = chunk_bounds(bits)
        assert len(chunks) == bits + 1
        mask = 0
        for shift, width in chunks:
            assert width >= 1 and mask & (((1 << width) - 1) << shift) == 0
            mask |= ((1 << width) - 1) << shift
        assert mask == (1 << 64) - 1
    assert (max_bits(0.95), max_bits(0.9), max_bits(0.75), max_bits(1.0)) == (3, 6, 16, 0)


def _code(img: Image.Image) -> int:
    return int.from_bytes(phash_bits(img).tobytes(), "big")


def test_planted_copies_are_found_at_the_rates_phash_allows(tmp_path):
    """Re-encoded, resized and grayscale copies are within 3 bits of their originals: all found at the default
    threshold (0.95). Cropped copies move pHash by 4-20 bits: pHash finds few of them, exactly those within the
    threshold (Yokoo's descriptor is the one for crops)."""
    originals = [media.natural_image(f"nd/{i}") for i in range(24)]
    edits = {
        "reencoded": lambda im: Image.open(io.BytesIO(media._save(im, "JPEG", quality=60))),
        "resized": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.BILINEAR),
        "grayscale": lambda im: im.convert("L"),
        "cropped": lambda im: im.crop((im.width // 20, im.height // 20, im.width, im.height)),
    }
    images = [("original", i, im) for i, im in enumerate(originals)]
    images += [(kind, i, edit(im)) for kind, edit in edits.items() for i, im in enumerate(originals)]
    codes = np.array([_code(im) for _, _, im in images], np.uint64)
    order = np.arange(len(codes), dtype=np.uint64)
    removed, _ = search(_batches([(_uids(len(codes)), _packed(codes), order)]), "phash", 0.95, tmp_path)
    found = {int(o) for o in removed["order"]}
    rate = {k: np.mean([j in found for j, (kind, _, _) in enumerate(images) if kind == k]) for k in edits}
    assert rate["reencoded"] == rate["resized"] == rate["grayscale"] == 1.0
    within = [j for j, (kind, i, _) in enumerate(images)
              if kind == "cropped" and bin(int(codes[j] ^ codes[i])).count("1") <= 3]
    assert {j for j in found if images[j][0] == "cropped"} == set(within) and rate["cropped"] < 0.5
    assert not any(images[j][0] == "original" for j in found)  # distinct pictures are never merged


def _yokoo_vectors(rng, n: int, copies: int, dim: int = 64):
    base = rng.normal(size=(n, dim)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    src = rng.integers(0, n, copies)
    noise = rng.normal(size=(copies, dim)).astype(np.float32) * rng.uniform(0.02, 0.12, (copies, 1)).astype(np.float32)
    dup = base[src] + noise
    dup /= np.linalg.norm(dup, axis=1, keepdims=True)
    emb = np.concatenate([base, dup])
    return emb[rng.permutation(len(emb))]


def test_yokoo_partitioned_search_is_exact_inside_partitions_and_misses_little(tmp_path, monkeypatch):
    """Every pair reported reaches the threshold (precision 1); with several partitions and 2 probes, recall
    against brute force is high; with one partition the search is exhaustive."""
    rng = np.random.default_rng(0)
    emb = _yokoo_vectors(rng, 1500, 500)
    order = np.arange(len(emb), dtype=np.uint64)
    parts = [(_uids(len(emb))[i:i + 700], emb[i:i + 700], order[i:i + 700]) for i in range(0, len(emb), 700)]
    threshold = 0.9
    sims = emb @ emb.T
    # float32 sums in another order may move a similarity by ~1e-7: pairs that close to the threshold may go
    # either way, the rest may not
    strict = {i for i in range(len(emb)) if (sims[i, :i] >= threshold + 1e-5).any()}
    loose = {i for i in range(len(emb)) if (sims[i, :i] >= threshold - 1e-5).any()}
    exhaustive, info = search(_batches(parts), "yokoo", threshold, tmp_path / "one")
    assert info["partitions"] == 1 and strict <= {int(o) for o in exhaustive["order"]} <= loose
    monkeypatch.setattr(near_dup, "YOKOO_PARTITION", 250)
    removed, info = search(_batches(parts), "yokoo", threshold, tmp_path / "many", probes=2)
    got = {int(o) for o in removed["order"]}
    assert info["partitions"] == 8 and info["probes"] == 2
    assert got <= loose and len(got & strict) >= 0.95 * len(strict) and len(strict) > 150
    for r in removed:  # float32 inner products: the reported similarity is the pair's, to float32 precision
        assert r["match_order"] < r["order"] and abs(r["sim"] - sims[int(r["order"]), int(r["match_order"])]) < 1e-4


def test_the_earlier_source_keeps_its_copy(tmp_path):
    """Order is (source rank, key order): a web copy of a paper figure goes, the paper's stays, whatever the uids."""
    codes = np.array([0x1234_5678_9ABC_DEF0, 0x0F0F_0F0F_0F0F_0F0F], np.uint64)
    arxiv = (_uids(2, 9), _packed(codes), np.array([5, 6], np.uint64))
    cc_order = (np.uint64(2) << np.uint64(SOURCE_SHIFT)) | np.array([0, 1], np.uint64)
    cc = (_uids(2, 1), _packed(codes[::-1] ^ np.uint64(1)), cc_order)  # same pictures, one bit off
    removed, _ = search(_batches([cc, arxiv]), "phash", 0.95, tmp_path)
    assert sorted(int(o) for o in removed["order"]) == sorted(int(o) for o in cc_order)
    assert sorted(int(m) for m in removed["match_order"]) == [5, 6]


def test_near_dup_job_over_files(tmp_path, i2d):
    """The job over img2dataset folders and unit descriptor folders: the subset file, the report (keys, shards,
    sources, the match) and the CLI."""
    from sciclip.curate.decontaminate import embed_unit
    from sciclip.shards.subset_file import load_subset
    from sciclip.shards.tail_plan import folder_plan, write_plan
    from tests.conftest import call_cli

    plan = folder_plan(i2d, shards_per_unit=2)
    write_plan(plan, tmp_path / "plan.json")
    for u in plan.units:
        embed_unit(i2d, plan, u.name, tmp_path / "emb" / u.name, "phash")
    code, _, err = call_cli("near-dup", "--source", "arxiv", str(i2d), str(tmp_path / "plan.json"),
                            str(tmp_path / "emb"), "--threshold", "0.95", "--out", str(tmp_path / "nd.npy"),
                            "--report", str(tmp_path / "nd.json"), "--pairs", str(tmp_path / "pairs.parquet"))
    assert code == 0, err
    rep = json.loads((tmp_path / "nd.json").read_text())
    removed = load_subset(tmp_path / "nd.npy")
    assert rep["removed"] == len(removed) == len(rep["removed_samples"]) == rep["listed"] >= 1
    import pyarrow.parquet as pq
    pairs = pq.read_table(tmp_path / "pairs.parquet").to_pylist()
    assert sorted(p["uid"] for p in pairs) == sorted(r["uid"] for r in rep["removed_samples"])
    assert {(p["uid"], p["match_uid"], p["key"], p["match_key"]) for p in pairs} == {
        (r["uid"], r["match_uid"], r["key"], r["match"]["key"]) for r in rep["removed_samples"]}
    by_key = {r["key"]: r for p in sorted(i2d.glob("*.parquet")) for r in pq.read_table(p).to_pylist()}
    for r in rep["removed_samples"]:
        assert by_key[r["key"]]["uid"] == r["uid"] and by_key[r["match"]["key"]]["uid"] == r["match_uid"]
        assert r["match"]["key"] < r["key"] and int(r["key"]) // 10 == r["shard"]  # 10 samples a shard
        gone, kept = (by_key[k] for k in (r["key"], r["match"]["key"]))
        assert gone["sha256"] == kept["sha256"] or r["similarity"] >= 0.95
