"""MetaCLIP matching (the word-trie matcher against the naive definition, on thousands of texts, one at a
time and in batches; the array hashing under it) and the metadata list (loading a user's copy, building one by MetaCLIP's rules, WordNet from Debian's files)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sciclip.errors import SciclipError
from sciclip.sources.cc import matching
from sciclip.sources.cc.arrayhash import BinaryHasher, IntMap
from sciclip.sources.cc.matching import Matcher, _spaced, _utf8, naive_match, spacing
from sciclip.sources.cc.metadata import build_metadata, load_metadata, scored_list, wordnet_lemmas
from tests.conftest import REALDATA, ROOT

WORDS = ["dog", "dogs", "dog's", "cat", "a", "A", "the", "New", "York", "New York", "U.S.", "U.S", "US", "rock",
         "'n'", "roll", "C++", "naïve", "café", "猫", "富士山", "Собака", "траве", "Ελλάδα", "über", "ß", "0", "1",
         "99", "100", "e.g.", "half-time", "(1)", "x", "hot dog", "dog house", "house"]
SEPARATORS = [" ", "  ", ", ", ". ", "; ", ": ", "? ", "! ", "`", "\t", "\n", "\r\n", "-", "'", '"', "/", "(", ")",
              "", "..."]


def _metadata() -> list[str]:
    # words and phrases, entries holding the wrapped punctuation (never match), duplicates, an empty entry
    entries = list(WORDS) + ["a dog", "New York City", "rock 'n' roll", "dog.", ".", ",", "a,b", "a\tb", "dog ",
                             " dog", "dog", "", "\ud800"]
    return entries + [f"{a} {b}" for a, b in zip(WORDS, WORDS[1:])]


def _texts(n: int, seed: int = 13) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(0, 9)
        parts = []
        for _ in range(k):
            parts += [rng.choice(WORDS), rng.choice(SEPARATORS)]
        out.append("".join(parts)[: rng.randint(0, 120)])
    return out


def test_the_matcher_equals_the_naive_definition_on_thousands_of_texts():
    metadata = _metadata()
    matcher = Matcher(metadata)
    texts = _texts(5000) + ["", " ", "\ud800 dog,", "U.S. dog", "dog's bone", "猫 と 犬", "\tdog\n", "New York.", "a a a"]
    expected = [naive_match(text, metadata) for text in texts]
    assert [matcher.match(text) for text in texts] == expected
    batch = pa.array([_utf8(t) for t in texts], pa.binary())
    assert matcher.match_array(batch).to_pylist() == expected  # one batch: walks never run into the next text
    assert matcher.match_array(pa.chunked_array([batch.slice(0, 7), batch.slice(7)])).to_pylist() == expected
    assert _spaced(batch).to_pylist() == [spacing(t)[1:-1].encode("utf-8", "surrogatepass") for t in texts]
    assert sum(map(bool, expected)) > 3000
    assert all(not any(metadata.index(e) in ids for ids in expected) for e in ("U.S.", "dog.", "a,b", "a\tb"))


def test_string_batches_and_null_texts():
    m = Matcher(["dog", "hot dog", "dog"])
    texts = pa.array(["a hot dog.", None, "", "Dog", "dog dog"], pa.string())
    assert m.match_array(texts).to_pylist() == [[0, 1, 2], [], [], [], [0, 2]]
    assert m.match_array(texts.slice(3)).to_pylist() == [[], [0, 2]]
    assert m.match_array(pa.array([], pa.string())).to_pylist() == []
    assert Matcher([]).match_array(texts).to_pylist() == [[]] * 5
    assert m.match_array(texts).type == pa.list_(pa.int32())


class _LengthHash(BinaryHasher):
    """Salt 0 hashes a word by its length alone: collisions everywhere."""

    def __call__(self, values):
        if self.salt_ == 0:
            return np.diff(matching.offsets(values)).astype(np.int64)
        return super().__call__(values)

    def __init__(self, max_len, salt=0):
        super().__init__(max_len, salt)
        self.salt_ = salt


def test_hash_collisions_never_make_a_match(monkeypatch):
    monkeypatch.setattr(matching, "BinaryHasher", _LengthHash)
    m = Matcher(["dog", "a", "the cat"])  # word lengths 3, 1, 3: "dog" and "the" collide, so salt 1 is taken
    assert m._hash.salt_ == 1
    m = Matcher(["dog", "a"])  # no collision among the entries' words: salt 0, every 3-byte word hashes as "dog"
    assert m._hash.salt_ == 0
    assert m.match("cat and dog") == [0] and m.match("cat") == [] and m.match("b a") == [1]
    metadata = _metadata()
    m = Matcher(metadata)
    assert all(m.match(t) == naive_match(t, metadata) for t in _texts(500, seed=3))


def test_int_map_and_binary_hashes():
    rng = np.random.default_rng(1)
    keys = np.unique(rng.integers(0, 2**62, 20_000))
    values = rng.integers(0, 10**9, len(keys))
    table = IntMap(keys, values)
    queries = np.concatenate([keys, rng.integers(0, 2**62, 1000), [-1, -5]])
    expected = dict(zip(keys.tolist(), values.tolist()))
    assert table.get(queries).tolist() == [expected.get(q, -1) for q in queries.tolist()]
    assert IntMap(np.array([], np.int64), np.array([], np.int64)).get(np.array([0, 3, -1])).tolist() == [-1] * 3
    with pytest.raises(ValueError):
        IntMap(np.array([1, 1]), np.array([2, 3]))
    words = pa.array([b"", b"a", b"dog", b"dog", b"x" * 40, b"caf\xc3\xa9", b"dog"], pa.large_binary())
    h = BinaryHasher(max_len=8)(words)
    assert h[2] == h[3] == h[6] >= 0 and h[4] == -1 and len({h[0], h[1], h[2], h[5]}) == 4 and h.min() >= -1
    assert BinaryHasher(8)(words.slice(2, 3)).tolist() == h[2:5].tolist()
    assert BinaryHasher(8)(words.cast(pa.binary())).tolist() == h.tolist()
    assert BinaryHasher(8, salt=1)(words)[2] != h[2]
    for t in (pa.list_(pa.int8()), pa.large_list(pa.int8())):
        assert matching.offsets(pa.array([[1], [], [2, 3]], t).slice(1)).tolist() == [1, 1, 3]
    assert matching.offsets(pa.array(["ab", "c"], pa.large_string())).tolist() == [0, 2, 3]


def test_the_definition_details():
    md = ["dog", "U.S.", "dog's", "New York", "猫", "dog", "a  b"]
    m = Matcher(md)
    assert spacing("A dog,\tcat") == " A dog ,  cat "
    assert m.match("Dog") == [] and m.match("dog") == [0, 5]  # case-sensitive; duplicate entries both match
    assert m.match("the U.S. flag") == [] and m.match("my dog's toy") == [2]
    assert m.match("New York, USA") == [3] and m.match("猫") == [4] and m.match("黒猫") == []
    assert m.match("a, b") == [] and m.match("a  b") == [6]
    assert Matcher([]).match("anything") == []


def test_real_alt_texts_match_alike():
    from sciclip.sources.cc.archive import parse_file

    rows, _ = parse_file(REALDATA / "warc" / "resiliparse-clueweb-quirk.warc.gz")
    metadata = sorted({w for r in rows for w in r.text.split()})[:3000] + ["new", "e-brand"]
    matcher = Matcher(metadata)
    expected = [naive_match(r.text, metadata) for r in rows]
    assert [matcher.match(r.text) for r in rows] == expected
    assert matcher.match_array(pa.array([r.text for r in rows])).to_pylist() == expected
    assert sum(map(bool, expected)) > 500


def _wordnet(tmp_path: Path) -> Path:
    d = tmp_path / "wordnet"
    d.mkdir()
    header = "  1 This software and database is being provided to you, the LICENSEE, by\n"
    (d / "data.noun").write_text(header + "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is\n"
                                 "02084071 05 n 02 dog 0 domestic_dog 0 042 @ 02083346 n 0000 | a member\n"
                                 "09044862 15 n 02 United_States 0 US 0 001 | North American republic\n")
    (d / "data.adj").write_text(header + "00001740 00 a 01 able(a) 0 002 | having the necessary means\n"
                                "00005205 00 s 02 absolute 0 downright 0 001 | complete\n")
    (d / "data.verb").write_text(header + "00001740 29 v 04 breathe 0 take_a_breath 0 001 | draw air\n")
    return d


def test_build_follows_metaclip_order_and_thresholds(tmp_path):
    uni, bi, ti = tmp_path / "u.tsv", tmp_path / "b.tsv", tmp_path / "t.tsv"
    uni.write_text("dog\t500\nrare\t5\nPython\t100\n\nentity\t300\n")
    bi.write_text("hot dog\t31.5\nof the\t2\n")
    ti.write_text("Mount Fuji\t70\nObscure Page\t3\nplain title line\n")
    entries, added = build_metadata(str(_wordnet(tmp_path)), str(uni), str(bi), str(ti))
    assert entries[:100] == [str(i) for i in range(100)]
    assert entries[100:] == ["entity", "dog", "united states", "breathe", "able", "absolute", "Python", "hot dog",
                             "Mount Fuji", "plain title line"]
    assert added == {"numbers": 100, "wordnet": 6, "unigrams": 1, "bigrams": 1, "titles": 2}
    assert list(scored_list(uni, None)) == ["dog", "rare", "Python", "entity"]
    (tmp_path / "bad.tsv").write_text("dog\tmany\n")
    with pytest.raises(SciclipError, match="bad.tsv:1"):
        list(scored_list(tmp_path / "bad.tsv", 1))
    with pytest.raises(SciclipError, match="no WordNet data files"):
        list(wordnet_lemmas(tmp_path))


@pytest.mark.skipif(not Path("/usr/share/wordnet/data.noun").is_file(), reason="Debian wordnet-base not installed")
def test_debian_wordnet_gives_its_86571_first_lemma_names():
    entries, added = build_metadata("/usr/share/wordnet")
    assert added["wordnet"] == 86_571 and "dog" in entries and "physical entity" in entries


def test_metadata_from_a_path_or_a_url(tmp_path):
    from tests.servers import StaticHTTP

    (tmp_path / "md.json").write_text(json.dumps(["dog", "cat"]))
    assert load_metadata(tmp_path / "md.json") == ["dog", "cat"]
    server = StaticHTTP(str(tmp_path))
    try:
        cache = tmp_path / "cache"
        assert load_metadata(f"{server.url}/md.json", cache) == ["dog", "cat"]
        assert (cache / "md.json").is_file()
    finally:
        server.stop()
    (tmp_path / "bad.json").write_text(json.dumps({"dog": 1}))
    with pytest.raises(SciclipError, match="JSON list of strings"):
        load_metadata(tmp_path / "bad.json")
    with pytest.raises(SciclipError, match="not a readable metadata list"):
        load_metadata(tmp_path / "missing.json")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sciclip", *args], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})


def test_cli_metadata_parse_and_match(tmp_path, sample_dir):
    cc = sample_dir / "cc"
    md = tmp_path / "metadata.json"
    r = _cli("cc", "metadata", "--unigrams", str(cc / "unigrams.tsv"), "--bigrams", str(cc / "bigrams.tsv"),
             "--titles", str(cc / "titles.tsv"), "--out", str(md))
    assert r.returncode == 0, r.stderr
    entries = json.loads(md.read_text())
    assert "Собака" in entries and "small bird" in entries and "Mount Fuji" in entries
    assert "the" not in entries and "red flower" not in entries and "Example Shop" not in entries
    wats = sorted(cc.glob("crawl-data/*/segments/*/wat/*.wat.gz"))
    assert _cli("cc", "parse", *map(str, wats), "--out", str(tmp_path / "rows.parquet")).returncode == 0
    r = _cli("cc", "match", str(tmp_path / "rows.parquet"), "--metadata", str(md), "--out", str(tmp_path / "m.parquet"))
    assert r.returncode == 0, r.stderr
    table = pq.read_table(tmp_path / "m.parquet").to_pylist()
    by_text = {row["text"]: [entries[i] for i in row["entry_ids"]] for row in table}
    assert by_text["A brown dog running on the beach"] == ["dog", "beach"]
    assert by_text["Собака на траве"] == ["Собака"] and by_text["Mount Fuji at dawn"] == ["Mount Fuji"]
    assert "A small bird on a branch" not in by_text  # the WAT holds the lazy image's placeholder src
    assert "富士山の写真" not in by_text and "Example Shop logo" in by_text
    assert all(row["entry_ids"] == sorted(row["entry_ids"]) for row in table)
    r = _cli("cc", "match", str(md), "--metadata", str(md), "--out", str(tmp_path / "x.parquet"))
    assert r.returncode != 0 and "metadata.json: not a readable parquet file" in r.stderr
    assert not (tmp_path / "x.parquet").exists()
