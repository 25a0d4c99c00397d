"""Parsing crawl files into (image url, text) rows: the real WARC/WAT files of ../shared/realdata/warc against
their ground truth, truncated files, WAT specifics (base, header lists, opt-outs), WARC specifics (charsets,
LF-only headers, lazy images, base), ARC v1, and ``sciclip cc parse``."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sciclip.sample.crawl_files import Image, Page, arc_file, crawl_files
from sciclip.sources.cc.archive import parse_file
from sciclip.sources.cc.links import opted_out, resolve
from sciclip.sources.cc.wat import wat_rows
from tests.conftest import REALDATA, ROOT

WARC_DIR = REALDATA / "warc"


def _expected() -> list[dict]:
    with open(REALDATA / "expected_warc.tsv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.mark.parametrize("row", _expected(), ids=lambda r: r["file"])
def test_real_files_match_the_ground_truth(row):
    rows, stats = parse_file(WARC_DIR / row["file"])
    types = dict(kv.split("=") for kv in row["warc_record_types"].split(";"))
    assert stats.record_types == {k: int(v) for k, v in types.items()}
    assert stats.html_pages == int(row["html_responses"])
    assert (stats.img_tags, stats.img_with_alt) == (int(row["img_tags"]), int(row["img_with_nonempty_alt"]))
    alts = {(r.url, r.text) for r in rows if r.attr == "alt"}
    for example in filter(None, row["examples(src => alt)"].split(" | ")):
        src, alt = example.split(" => ")
        if "\ufffd" in alt:  # the ground truth shows EUC-JP bytes as replacement characters; we decode them
            assert any(src in u for u, _ in alts), src
        else:
            assert any(src in u and t.startswith(alt) for u, t in alts), example  # both cut at ~50 chars
    assert all(r.url.startswith(("http://", "https://")) for r in rows)
    assert (stats.damaged is not None) == ("truncated" in row["notes"])


def test_clueweb_euc_jp_pages_decode_and_keep_every_body_byte():
    rows, stats = parse_file(WARC_DIR / "resiliparse-clueweb-quirk.warc.gz")
    assert stats.img_tags == 1252 and stats.img_with_alt == 556  # a CRLF-only reader sees 962 / 295
    texts = [r.text for r in rows if r.attr == "alt"]
    assert "ヘッドポーター" in texts[0] and not any("\ufffd" in t for t in texts)


def test_rows_point_at_their_warc_record():
    from warcio.archiveiterator import ArchiveIterator

    path = WARC_DIR / "commoncrawl-whirlwind.warc.gz"
    rows, _ = parse_file(path)
    r = rows[0]
    with open(path, "rb") as f:
        f.seek(r.warc_record_offset)
        member = f.read(r.warc_record_length)
    record = next(iter(ArchiveIterator(__import__("io").BytesIO(member))))
    assert record.rec_type == "response" and record.rec_headers.get_header("WARC-Target-URI") == r.page_url


@pytest.mark.parametrize("name", ["resiliparse-warcfile.warc.gz", "resiliparse-clueweb-quirk.warc.gz"])
def test_truncated_files_keep_the_rows_before_the_damage(name, tmp_path):
    data = (WARC_DIR / name).read_bytes()
    full, _ = parse_file(WARC_DIR / name)
    for cut in (len(data) // 5, len(data) // 2, len(data) - 300):
        p = tmp_path / f"cut{cut}.warc.gz"
        p.write_bytes(data[:cut])
        rows, stats = parse_file(p)
        assert stats.damaged, cut
        key = [(r.url, r.text, r.attr, r.warc_record_offset) for r in rows]
        assert key == [(r.url, r.text, r.attr, r.warc_record_offset) for r in full[:len(rows)]]
        whole = [r for r in rows if r.warc_record_offset < rows[-1].warc_record_offset] if rows else []
        assert whole == [r._replace(warc_filename=p.name) for r in full[:len(whole)]]
        assert len(rows) <= len(full)


def _page(**kw) -> Page:
    return Page("http://site.test/dir/page.html", kw.pop("images", [Image("a.jpg", alt="A dog")]), **kw)


def _write(tmp_path: Path, pages: list[Page], header_lists: bool = False) -> tuple[Path, Path]:
    w = crawl_files(pages, "x.warc.gz", "x.warc.wat.gz", header_lists)
    (tmp_path / "x.warc.gz").write_bytes(w.warc)
    (tmp_path / "x.warc.wat.gz").write_bytes(w.wat)
    return tmp_path / "x.warc.gz", tmp_path / "x.warc.wat.gz"


def test_wat_links_resolve_against_base_then_target_and_keep_alt_and_title(tmp_path):
    pages = [_page(images=[Image("img/a.jpg", alt="A dog\non grass", title="Dog"), Image("//cdn.test/b.png", alt=" "),
                           Image("data:image/gif;base64,AA", alt="pixel"), Image("javascript:void(0)", alt="js")]),
             _page(images=[Image("c.jpg", alt="A cat")], base="http://img.test/base/")]
    warc, wat = _write(tmp_path, pages)
    rows, stats = parse_file(wat)
    assert [(r.url, r.text, r.attr) for r in rows] == [
        ("http://site.test/dir/img/a.jpg", "A dog on grass", "alt"), ("http://site.test/dir/img/a.jpg", "Dog", "title"),
        ("http://img.test/base/c.jpg", "A cat", "alt")]
    assert (stats.html_pages, stats.img_tags, stats.img_with_alt, stats.images) == (2, 5, 4, 3)
    assert rows[0].warc_filename == "x.warc.gz" and rows[0].page_url == pages[0].url
    # the WARC path reads the same pages: same urls, texts cleaned its way (line breaks deleted)
    wrows, _ = parse_file(warc)
    assert [(r.url, r.attr) for r in wrows] == [(r.url, r.attr) for r in rows]
    assert wrows[0].text == "A dogon grass"
    assert [(r.warc_record_offset, r.warc_record_length) for r in wrows] == [
        (r.warc_record_offset, r.warc_record_length) for r in rows]


@pytest.mark.parametrize("header_lists", [False, True])
def test_page_opt_outs_in_wat_headers_whether_strings_or_lists(tmp_path, header_lists):
    pages = [_page(robots=["noindex", "noai"]), _page(robots=["googlebot: noai"]), _page(robots=["sciclip: noimageai"])]
    _, wat = _write(tmp_path, pages, header_lists)
    rows, stats = parse_file(wat, user_agent_token="sciclip")
    assert stats.pages_opted_out == 2 and len(rows) == 1
    raw = gzip.decompress(wat.read_bytes())
    assert (b'"X-Robots-Tag":["noindex","noai"]' in raw) == header_lists


def test_opt_out_parsing_follows_img2dataset():
    assert opted_out(["noai"]) and opted_out(["noindex, noimageai"]) and not opted_out(["noindex"])
    assert not opted_out(["googlebot: noai"]) and opted_out(["sciclip: noai"], "sciclip")
    assert resolve("a b.jpg", "http://x.test/") == "http://x.test/a b.jpg" and resolve("ftp://x/a", "") is None
    assert resolve("http://[::1", "http://x.test/") is None


@pytest.mark.parametrize("charset,declare", [("iso-8859-1", "header"), ("windows-1251", "meta"),
                                             ("shift_jis", "warc"), ("utf-8", "none"), ("gb2312", "meta")])
def test_warc_pages_decode_by_header_meta_or_warc_field(tmp_path, charset, declare):
    alt = {"iso-8859-1": "Café crème", "windows-1251": "Собака на траве", "shift_jis": "富士山の写真",
           "utf-8": "Ελληνικά κείμενα", "gb2312": "中国新闻网"}[charset]
    warc, _ = _write(tmp_path, [_page(images=[Image("a.jpg", alt=alt)], charset=charset, declare=declare)])
    rows, _ = parse_file(warc)
    assert [r.text for r in rows] == [alt]


def test_warc_lf_headers_lazy_images_base_and_image_titles(tmp_path):
    page = _page(images=[Image("data:image/gif;base64,AA", lazy="/real.jpg", alt="A bird"),
                         Image("b.jpg", alt="x", image_title="A lake at dawn", title="lake")],
                 base="../up/", lf_headers=True)
    warc, _ = _write(tmp_path, [page])
    raw = gzip.decompress(warc.read_bytes())
    assert b"HTTP/1.1 200 OK\nContent-Type" in raw
    rows, stats = parse_file(warc)
    assert [(r.url, r.text, r.attr) for r in rows] == [
        ("http://site.test/real.jpg", "A bird", "alt"), ("http://site.test/up/b.jpg", "x", "alt"),
        ("http://site.test/up/b.jpg", "lake", "title"), ("http://site.test/up/b.jpg", "A lake at dawn", "data-image-title")]
    assert stats.damaged is None


def test_arc_v1_files(tmp_path):
    p = tmp_path / "old.arc.gz"
    p.write_bytes(arc_file([_page(images=[Image("a.jpg", alt="A dog"), Image("b.jpg", title="Two cats")],
                                  charset="iso-8859-1")], "old.arc.gz"))
    rows, stats = parse_file(p)
    assert [(r.url, r.text, r.attr) for r in rows] == [("http://site.test/dir/a.jpg", "A dog", "alt"),
                                                      ("http://site.test/dir/b.jpg", "Two cats", "title")]
    assert stats.record_types == {"warcinfo": 1, "response": 1} and rows[0].warc_filename == "old.arc.gz"


def test_cli_parse_writes_one_row_per_image_and_attribute(tmp_path):
    out = tmp_path / "rows.parquet"
    env_path = {"PYTHONPATH": str(ROOT / "src")}
    r = subprocess.run([sys.executable, "-m", "sciclip", "cc", "parse", str(WARC_DIR / "resiliparse-warcfile.warc.gz"),
                        str(WARC_DIR / "commoncrawl-whirlwind.warc.gz"), "--out", str(out), "--stats",
                        str(tmp_path / "s.json")], capture_output=True, text=True, env={**env_path, "PATH": ""})
    assert r.returncode == 0, r.stderr
    table = pq.read_table(out)
    assert {"url", "text", "attr", "page_url", "warc_filename", "warc_record_offset",
            "warc_record_length"} <= set(table.column_names)
    stats = json.loads((tmp_path / "s.json").read_text())
    assert table.num_rows == sum(s["rows"] for s in stats) == 41 + 7
    assert "153 images (32 with alt)" in r.stderr


def test_the_lean_wat_reader_gives_warcios_rows_and_survives_damage(tmp_path, sample_dir):
    from sciclip.sample.cc import pages
    from sciclip.sources.cc.archive import _wat_rows
    from sciclip.sources.cc.rows import ParseStats

    first, second = pages()
    w = crawl_files(first + second, "s.warc.gz", "s.warc.wat.gz", header_lists=True)
    wat = tmp_path / "s.warc.wat.gz"
    wat.write_bytes(w.wat)
    rows, stats = parse_file(wat)
    generic = tmp_path / "s.metadata.warc.gz"  # the same bytes under a name that takes warcio
    generic.write_bytes(w.wat)
    assert parse_file(generic)[0] == rows and len(rows) == 29 and stats.damaged is None
    # several records in one member, and a plain file
    members = gzip.decompress(w.wat)
    (tmp_path / "one.warc.wat.gz").write_bytes(gzip.compress(members))
    (tmp_path / "plain.warc.wat").write_bytes(members)
    assert parse_file(tmp_path / "one.warc.wat.gz")[0] == rows
    assert parse_file(tmp_path / "plain.warc.wat")[0] == rows
    for cut in (len(w.wat) // 3, len(w.wat) - 40):
        (tmp_path / "cut.warc.wat.gz").write_bytes(w.wat[:cut])
        part, st = parse_file(tmp_path / "cut.warc.wat.gz")
        assert st.damaged and "ends inside member" in st.damaged and part == rows[:len(part)]
    bad = bytearray(w.wat)
    bad[len(bad) // 2] ^= 0xFF
    (tmp_path / "bad.warc.wat.gz").write_bytes(bytes(bad))
    part, st = parse_file(tmp_path / "bad.warc.wat.gz")
    assert st.damaged and part == rows[:len(part)]
    stats = ParseStats("x")
    assert list(_wat_rows(tmp_path / "plain.warc.wat", stats, None, 100, [])) == []  # oversized blocks skipped


@pytest.mark.parametrize("damage", ["cut", "flip", "garbage", "lie", "short"])
def test_a_damaged_stream_yields_each_readable_record_once(tmp_path, monkeypatch, damage):
    """The gzip stream is read in chunks; where it breaks, the member-by-member reader takes over from the
    start, yields only the records the stream had not, names the damaged member with its byte offset and
    resyncs at the next member: every record but the damaged one is found, each once."""
    from sciclip.sources.cc import watfile

    monkeypatch.setattr(watfile, "CHUNK", 4096)  # several chunks' records yielded before the damage
    blocks = [json.dumps({"n": i, "pad": "x" * (i % 300)}).encode() for i in range(200)]
    head = b"WARC/1.0\r\nWARC-Type: metadata\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    members = [gzip.compress(head % len(b) + b + b"\r\n\r\n") for b in blocks]
    good = b"".join(members[:150])
    rest = b"".join(members[151:])
    lying = {"lie": len(blocks[150]) + 900, "short": len(blocks[150]) - 9}.get(damage, 0)
    data = {"cut": good + members[150][:30], "flip": good + members[150][:20] + bytes([members[150][20] ^ 0xFF])
            + members[150][21:] + rest, "garbage": good + b"not gzip at all", "lie": None, "short": None}[damage]
    if data is None:  # a Content-Length larger / smaller than its gzip member holds
        data = good + gzip.compress(head % lying + blocks[150] + b"\r\n\r\n") + rest
    with open(tmp_path / "d.warc.wat.gz", "wb") as f:
        f.write(data)
    seen, damage_seen = [], []
    with open(tmp_path / "d.warc.wat.gz", "rb") as f:
        for _, _, block in watfile.iter_records(f, 1 << 20, damage_seen.append):
            seen.append(block)
    after = [] if damage in ("cut", "garbage") else blocks[151:]
    assert seen == blocks[:150] + after
    assert len(damage_seen) == 1 and damage_seen[0].offset == len(good)
    assert ("member 151" in damage_seen[0].what) and ("resynced at byte" in damage_seen[0].what) == bool(after)
    with open(tmp_path / "d.warc.wat.gz", "wb") as f:
        f.write(b"".join(members))
    with open(tmp_path / "d.warc.wat.gz", "rb") as f:
        assert [block for _, _, block in watfile.iter_records(f, 1 << 20, damage_seen.append)] == blocks
    assert len(damage_seen) == 1


def test_wat_json_that_orjson_refuses_is_still_read():
    from sciclip.sources.cc.rows import ParseStats
    from sciclip.sources.cc.wat import wat_rows

    doc = ('{"Container":{"Filename":"f.warc.gz","Offset":"7"},"Envelope":{"WARC-Header-Metadata":{"WARC-Type":'
           '"response","WARC-Target-URI":"http://a.test/p"},"Payload-Metadata":{"HTTP-Response-Metadata":{"Headers":'
           '{},"HTML-Metadata":{"Head":{"Title":"\\ud800 broken"},"Links":[{"path":"IMG@/src","url":"x.jpg",'
           '"alt":"A dog"}]}}}}}')
    rows = wat_rows(doc.encode(), ParseStats("x"))
    assert [(r.url, r.text, r.warc_record_offset) for r in rows] == [("http://a.test/x.jpg", "A dog", 7)]


def test_lone_surrogate_escapes_become_replacement_characters_and_the_rows_are_written(tmp_path):
    """Only the lenient decoder accepts a lone ``\\ud800``; a row holding one could not go into Arrow or
    parquet, so one broken page would have failed the whole pool job."""
    import gzip

    from sciclip.sources.cc.matching import Matcher
    from sciclip.sources.cc.pool import PoolOptions, match_file
    from sciclip.sources.cc.rows import write_rows

    payload = _wat_record((*_HTML, "Links", "1", "alt"), b'"\\ud800 lone dog \\udc00"').replace(
        b'"img/a.jpg"', b'"img/\\udbff.jpg"')
    head = b"WARC/1.0\r\nWARC-Type: metadata\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    wat = tmp_path / "s.warc.wat.gz"
    wat.write_bytes(gzip.compress(head % len(payload) + payload + b"\r\n\r\n"))
    rows, stats = parse_file(wat)
    assert [r.text for r in rows] == ["\ufffd lone dog \ufffd", "Dogs", "Ünïcode cat"] and stats.bad_records == 0
    assert rows[0].url == "http://b.test/x/img/\ufffd.jpg"
    assert write_rows(rows, tmp_path / "rows.parquet") == 3
    res = match_file(str(wat), "CC-MAIN-2024-22", PoolOptions(), Matcher(["dog", "cat"]))
    assert res.table.column("text").to_pylist() == ["\ufffd lone dog \ufffd", "Ünïcode cat"]


def _wat_record(at: tuple[str, ...] | None = None, value: bytes = b"") -> bytes:
    """A WAT response record's JSON as Common Crawl writes it, with the value at path ``at`` replaced by the
    raw bytes ``value`` (which may be JSON no encoder writes: invalid UTF-8, NaN, 1e400)."""
    links = [{"path": "A@/href", "url": "/about", "text": "About"},
             {"path": "IMG@/src", "url": "img/a.jpg", "alt": "A dog", "title": "Dogs"},
             {"path": "IMG@/src", "url": "https://cdn.test/b.png", "alt": "Ünïcode cat"}]
    doc = {"Container": {"Filename": "f.warc.gz", "Compressed": True, "Offset": "7", "Gzip-Metadata": {
               "Header-Length": "10", "Deflate-Length": "90", "Footer-Length": "8"}},
           "Envelope": {"Format": "WARC", "WARC-Header-Metadata": {
               "WARC-Type": "response", "WARC-Target-URI": "http://a.test/dir/p.html"},
               "Payload-Metadata": {"HTTP-Response-Metadata": {
                   "Headers": {"Content-Type": "text/html", "X-Robots-Tag": ["noindex", "otherbot: noai"]},
                   "HTML-Metadata": {"Head": {"Title": "T", "Base": "http://b.test/x/", "Metas": [{"name": "k"}]},
                                     "Links": links}}}}}
    if at is None:
        return json.dumps(doc, ensure_ascii=False).encode()
    node = doc
    for key in at[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if isinstance(node, list):
        node[int(at[-1])] = "@@V@@"
    else:
        node[at[-1]] = "@@V@@"
    return json.dumps(doc, ensure_ascii=False).encode().replace(b'"@@V@@"', value)


_HTML = ("Envelope", "Payload-Metadata", "HTTP-Response-Metadata", "HTML-Metadata")
_WAT_PATHS = [("Container",), ("Container", "Offset"), ("Container", "Gzip-Metadata"),
              ("Container", "Gzip-Metadata", "Header-Length"), ("Envelope",), ("Envelope", "WARC-Header-Metadata"),
              ("Envelope", "WARC-Header-Metadata", "WARC-Target-URI"), ("Envelope", "Format"), _HTML[:2], _HTML[:3],
              _HTML, (*_HTML[:3], "Headers"), (*_HTML[:3], "Headers", "X-Robots-Tag"),
              (*_HTML[:3], "Headers", "X-Robots-Tag", "1"), (*_HTML, "Head"), (*_HTML, "Head", "Base"),
              (*_HTML, "Head", "Title"), (*_HTML, "Head", "Metas"), (*_HTML, "Links"), (*_HTML, "Links", "0"),
              (*_HTML, "Links", "1"), (*_HTML, "Links", "1", "path"), (*_HTML, "Links", "1", "url"),
              (*_HTML, "Links", "1", "alt"), (*_HTML, "Links", "2", "title"), (*_HTML, "Links", "0", "url")]
_WAT_VALUES = [b"null", b"true", b"0", b"7", b"-1.5", b"123456789012345678901234567890", b"1e400", b"NaN", b'""',
               b'"noai"', b'"IMG@/src"', b'"http://c.test/y"', b"[]", b'["noai", 3]', b"{}", b'{"url": "z.jpg"}',
               b'"\\ud800 lone"', b'"\xff\xfe bad utf-8"', b'"\xed\xa0\x80 encoded surrogate"', b'"caf\xc3\xa9"']


@pytest.mark.parametrize("at", _WAT_PATHS, ids=["/".join(p) for p in _WAT_PATHS])
def test_the_typed_wat_decoder_gives_the_generic_decoders_pages(at):
    """msgspec's typed decoding of the fields read is a shortcut: for every value at every place the page
    (or None: a bad record) is what decoding the whole record gives, and the rows never raise."""
    from sciclip.sources.cc import wat
    from sciclip.sources.cc.rows import ParseStats

    assert wat._page(_wat_record()) == wat._page_generic(_wat_record()) != None  # noqa: E711
    wat._RECORD.decode(_wat_record())  # the usual record takes the shortcut
    for value in _WAT_VALUES:
        payload = _wat_record(at, value)
        assert wat._page(payload) == wat._page_generic(payload), (at, value)
        wat_rows(payload, ParseStats("x"), "otherbot")


def test_the_resolver_shortcuts_give_urljoins_answers():
    import random

    from sciclip.sources.cc.links import _FAST_REF, Resolver

    pieces = ["a", "b", "/", "//", ".", "..", "?", "#", ";", ":", "http://", "https://", "HTTP://", "x.jpg", "%20",
              " ", "\t", "[", "]", "@", "=", "&", "~", "é", "\\", "data:", "javascript:", "?x=1", "#f"]
    bases = ["http://a/b/c", "http://a/b/c?q", "http://a", "https://h.test/dir/page.html#x", "http://a/b//c/d",
             "http://a/b/c;p", "ftp://x/y", "http://a/b/./c/../d", "http://user@h:80/p/q", "http://[::1]/x", "x"]
    rng = random.Random(5)
    kinds: dict[str, int] = {}
    for _ in range(60_000):
        ref = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        base = rng.choice(bases)
        resolver = Resolver(base)
        assert resolver(ref) == resolve(ref, base) == resolver._general(ref), (base, ref)
        m = _FAST_REF.fullmatch(ref)
        if m and resolver.scheme:
            kinds[m.lastgroup] = kinds.get(m.lastgroup, 0) + 1
    assert min(kinds.get(k, 0) for k in ("abs", "root", "rel")) > 500  # each shape of the one-pattern shortcut


def test_the_resolvers_base_shortcut_gives_urljoins_directory():
    import random

    from sciclip.sources.cc.links import _SIMPLE_BASE, Resolver

    pieces = ["http://", "https://", "HTTP://", "ftp://", "a", "B.c", "-", ":80", ":", "@", "[::1]", "/", "//", ".",
              "..", "./", "../", "x.html", ";p", "?", "?q=1", "#", "#f", "%2e", " ", "\t", "é", "\\", "~"]
    rng = random.Random(11)
    shortcut = 0
    for _ in range(30_000):
        base = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        if rng.random() < 0.5:
            base = rng.choice(["http://", "https://"]) + base
        fast = Resolver(base)
        slow = Resolver.__new__(Resolver)
        slow.base, slow.scheme = base, ""
        slow._init_slow(base)
        assert fast.scheme == slow.scheme, base
        if slow.scheme:
            assert (fast.origin, fast.dir) == (slow.origin, slow.dir), base
        shortcut += _SIMPLE_BASE.fullmatch(base) is not None
    assert shortcut > 1000  # bases the shortcut took


def test_the_wat_readers_headers_are_read_line_by_line_whatever_their_case_and_spacing():
    from sciclip.sources.cc.watfile import _headers

    head = (b"WARC/1.0\r\nwarc-TYPE :  metadata \r\nX-Content-Type: no\r\nContent-Length-X: 9\r\n"
            b"\tContent-Type:application/json\r\nContent-Length: 12\r\nContent-Length: 13\r\nbad\xff: \xff\r\n"
            b"Content-Type\rx: lone CR\r\nno colon")
    assert _headers(head) == {b"warc-type": "metadata", b"content-type": "application/json", b"content-length": "13"}
    assert _headers(b"WARC/1.0\r\nContent-Type: caf\xc3\xa9 \xff") == {b"content-type": "caf\u00e9 \ufffd"}
    assert _headers(b"WARC/1.0") == {}
