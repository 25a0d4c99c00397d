"""Balancing (deterministic draws, MetaCLIP's probabilities, partition-independence) and the gather step
(cross-file dedup in bounded memory, pool counts, summed per-unit counts)."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sciclip.errors import SciclipError
from sciclip.sources.cc import dedup
from sciclip.sources.cc.balance import draws, entry_counts, keep, keep_mask, probabilities, record_id
from sciclip.sources.cc.gather import COUNTS, gather_pool, load_counts, mask_path, sum_counts
from sciclip.sources.cc.pool import MATCHED_SCHEMA


def test_probabilities_and_record_ids_are_metaclips():
    assert probabilities(np.array([0, 5, 10, 40], dtype=np.uint64), 10).tolist() == [1.0, 1.0, 1.0, 0.25]
    assert record_id("http://x.test/a.jpg") == __import__("hashlib").sha224(b"http://x.test/a.jpg").hexdigest()[:24]


def test_draws_are_a_pure_function_and_order_never_matters():
    rng = random.Random(3)
    rows = [(f"http://x.test/{rng.randint(0, 300)}.jpg", f"text {rng.randint(0, 50)}", sorted(rng.sample(range(6), 2)))
            for _ in range(3000)]
    probs = probabilities(np.array([10, 100, 1000, 5, 50, 500], dtype=np.uint64), 40)
    whole = keep_mask(7, "s", *zip(*rows), probs)
    assert whole.tolist() == [keep(7, "s", u, t, e, probs) for u, t, e in rows]
    order = list(range(len(rows)))
    rng.shuffle(order)
    shuffled = keep_mask(7, "s", *zip(*[rows[i] for i in order]), probs)
    assert shuffled.tolist() == [bool(whole[i]) for i in order]
    parts = np.concatenate([keep_mask(7, "s", *zip(*rows[a:a + 700]), probs) for a in range(0, len(rows), 700)])
    assert parts.tolist() == whole.tolist()
    assert keep_mask(8, "s", *zip(*rows), probs).tolist() != whole.tolist()  # the seed matters
    assert keep_mask(7, "other", *zip(*rows), probs).tolist() != whole.tolist()  # so does the stage


def test_kept_fractions_follow_the_probabilities():
    n = 20_000
    counts = np.array([n, 4 * n, 100], dtype=np.uint64)
    probs = probabilities(counts, n / 4)  # 0.25, 0.0625, 1
    urls = [f"http://x.test/{i}.jpg" for i in range(n)]
    texts = ["t"] * n
    single = keep_mask(0, "s", urls, texts, [[0]] * n, probs).mean()
    pair = keep_mask(0, "s", urls, texts, [[0, 1]] * n, probs).mean()
    assert abs(single - 0.25) < 0.015
    assert abs(pair - (1 - 0.75 * 0.9375)) < 0.015  # any of the entries' draws
    assert keep_mask(0, "s", urls[:100], texts[:100], [[2]] * 100, probs).all()
    assert not keep(0, "s", urls[0], "t", [], probs)
    d = draws(0, "s", "rid", "t", list(range(5000)))
    assert 0 <= d.min() and d.max() < 1 and abs(d.mean() - 0.5) < 0.02


def test_entry_counts_add_one_per_text_per_entry():
    ids = [[0, 2], [2], [1, 2], []]
    assert entry_counts(ids, 4).tolist() == [1, 1, 3, 0]
    assert entry_counts(ids, 4, np.array([True, False, True, True])).tolist() == [1, 1, 2, 0]
    assert entry_counts(ids, 4).dtype == np.uint64


def _units(seed: int, n_units: int = 6) -> list[list[tuple[str, str]]]:
    rng = random.Random(seed)
    return [[(f"http://x.test/{rng.randint(0, 60)}.jpg", f"t{rng.randint(0, 4)}") for _ in range(rng.randint(0, 400))]
            for _ in range(n_units)]


def _first_occurrence(units) -> list[list[bool]]:
    seen, out = set(), []
    for rows in units:
        out.append([r not in seen and not seen.add(r) for r in rows])
    return out


@pytest.mark.parametrize("max_rows", [10**9, 97, 5])
def test_dedup_keeps_first_occurrences_in_bounded_buckets(max_rows, monkeypatch):
    units = _units(max_rows)
    sizes = []
    real_fromfile = np.fromfile

    def spy(path, dtype):
        arr = real_fromfile(path, dtype=dtype)
        if dtype == dedup.KEY:
            sizes.append(len(arr))
        return arr

    monkeypatch.setattr(dedup.np, "fromfile", spy)

    def batches(rows):
        return lambda: ((list(u), list(t)) for u, t in [zip(*rows[i:i + 50]) for i in range(0, len(rows), 50)])

    got = dict(dedup.dedup_masks([(len(r), batches(r)) for r in units], max_rows=max_rows))
    assert [got[u].tolist() for u in range(len(units))] == _first_occurrence(units)
    total = sum(map(len, units))
    assert len(sizes) == 1 << dedup._bits(total, max_rows)
    if max_rows < total:
        assert len(sizes) > 1 and max(sizes) < 4 * max_rows + 50  # keys spread over buckets by hash


def _matched(path, rows, size: int = 5) -> None:
    rng = random.Random(len(rows))
    cols = {n: [] for n in MATCHED_SCHEMA.names}
    for url, text in rows:
        for k, v in (("url", url), ("text", text), ("attr", "alt"), ("page_url", "http://p.test/"),
                     ("warc_filename", "f.warc.gz"), ("warc_record_offset", 0), ("warc_record_length", 1),
                     ("crawl", "CC-MAIN-2024-22"), ("language", None)):
            cols[k].append(v)
        cols["entry_ids"].append(sorted(rng.sample(range(size), 1 + rng.randint(0, 1))) if text != "t0" else [0])
    pq.write_table(pa.table(cols, schema=MATCHED_SCHEMA), path)


def test_gather_gives_the_same_pool_however_the_files_are_cut_into_units(tmp_path):
    units = _units(1, 4)
    for i, rows in enumerate(units):
        _matched(tmp_path / f"u{i}.parquet", rows)
    fine = gather_pool([(f"u{i}", tmp_path / f"u{i}.parquet") for i in range(4)], 5, tmp_path / "fine", max_rows=50)
    # the same rows as one unit
    table = pa.concat_tables([pq.read_table(tmp_path / f"u{i}.parquet") for i in range(4)])
    pq.write_table(table, tmp_path / "all.parquet")
    coarse = gather_pool([("all", tmp_path / "all.parquet")], 5, tmp_path / "coarse")
    masks = np.concatenate([np.load(mask_path(tmp_path / "fine", f"u{i}")) for i in range(4)])
    assert masks.tolist() == np.load(mask_path(tmp_path / "coarse", "all")).tolist()
    assert masks.tolist() == sum(_first_occurrence(units), [])
    counts = np.load(tmp_path / "fine" / COUNTS)
    assert counts.tolist() == np.load(tmp_path / "coarse" / COUNTS).tolist()
    ids = table.column("entry_ids").to_pylist()
    assert counts.tolist() == entry_counts(ids, 5, masks).tolist()
    assert fine["unique_pairs"] == coarse["unique_pairs"] == int(masks.sum())
    with pytest.raises(SciclipError, match="beyond the metadata"):
        gather_pool([("all", tmp_path / "all.parquet")], 2, tmp_path / "small")


def test_counts_sum_and_are_checked(tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, np.array([1, 2, 3], dtype=np.uint64))
    np.save(b, np.array([0, 5, 1], dtype=np.uint64))
    assert sum_counts([a, b], tmp_path / "s.npy").tolist() == [1, 7, 4]
    assert load_counts(tmp_path / "s.npy", 3).dtype == np.uint64
    np.save(tmp_path / "f.npy", np.array([1.0]))
    with pytest.raises(SciclipError, match="uint64"):
        load_counts(tmp_path / "f.npy")
    np.save(tmp_path / "c.npy", np.array([1, 2], dtype=np.uint64))
    with pytest.raises(SciclipError):
        sum_counts([a, tmp_path / "c.npy"], tmp_path / "x.npy")
