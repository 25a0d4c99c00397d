"""Damage costs the damaged record, not the file: WARC/ARC readers (``cc parse``, the docs' WARC pages) resync
at the next gzip member or record header and count each resync with its byte offset. The files are written
here in the damaged shapes found in the wild: an Internet Archive ARC v1 file whose records lack the newline
that separates them, a Content-Length larger than its gzip member, plain WARC files with lying lengths, a
corrupt member; every good record before and after the damage is read."""

from __future__ import annotations

import io
import json
import re

import pytest
from warcio.archiveiterator import ArchiveIterator

from sciclip.sample.crawl_files import Image, Page, http_response, member, warc_record
from sciclip.sources.cc.archive import parse_file
from sciclip.sources.cc.warc_pages import captured_images, iter_pages
from sciclip.sources.cc.warc_records import WarcRecords
from tests.conftest import call_cli

PAGES = [Page(f"http://site{i % 3}.test/p{i}.html",
              [Image(f"/img/{i}-{j}.jpg", alt=f"Photo {j} of page {i}" if j else None, title=f"T{i}.{j}")
               for j in range(4)], title=f"Page {i}") for i in range(8)]


def _response(page: Page, lie: int = 0) -> bytes:
    """A WARC response record for ``page``; ``lie`` added to its Content-Length (the block is unchanged)."""
    http = http_response(page, page.html())
    rec = warc_record("response", [("WARC-Target-URI", page.url), ("WARC-Date", "2024-05-01T00:00:00Z"),
                                   ("Content-Type", "application/http; msgtype=response")], http)
    return rec.replace(b"Content-Length: %d\r\n" % len(http), b"Content-Length: %d\r\n" % (len(http) + lie), 1)


def _info() -> bytes:
    return warc_record("warcinfo", [("WARC-Filename", "x.warc"), ("Content-Type", "application/warc-fields")],
                       b"software: test\r\n")


def _arc(pages: list[Page], separator: bool) -> list[bytes]:
    """An Internet Archive ARC v1 file's records: the filedesc header (as IA writes it, IP ``0``), then one
    response per page; ``separator``: the newline that ends each record (IA's own files leave it out)."""
    desc = b"1 0 Alexa Internet\nURL IP-address Archive-date Content-type Archive-length\n"
    end = b"\n" if separator else b""
    out = [b"filedesc://IA-001102.arc 0 19960923142103 text/plain %d\n" % len(desc) + desc + end]
    for n, page in enumerate(pages):
        http = http_response(page, page.html())
        out.append(b"%s 192.0.2.%d 19961104142103 text/html %d\n" % (page.url.encode(), n + 1, len(http)) + http + end)
    return out


def _keys(rows) -> list[tuple]:
    return [(r.url, r.text, r.attr, r.page_url) for r in rows]


def _good_rows(tmp_path, pages: list[Page]) -> list[tuple]:
    (tmp_path / "good.warc.gz").write_bytes(b"".join(member(r) for r in [_info()] + [_response(p) for p in pages]))
    rows, stats = parse_file(tmp_path / "good.warc.gz")
    assert stats.damages == 0 and stats.damaged is None and len(rows) == 8 * 7
    return _keys(rows)


def _offsets(parts: list[bytes]) -> list[int]:
    out, pos = [], 0
    for p in parts:
        out.append(pos)
        pos += len(p)
    return out


def _check_offsets(path, rows) -> None:
    """Each row's record offset is where its page's record starts in the damaged file."""
    data = path.read_bytes()
    for r in rows:
        record = next(iter(ArchiveIterator(io.BytesIO(data[r.warc_record_offset:]), arc2warc=True)))
        assert record.rec_headers.get_header("WARC-Target-URI") == r.page_url


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("separator", [False, True], ids=["no-separator", "separator"])
def test_internet_archive_arc_v1_files_give_every_record(tmp_path, gz, separator):
    parts = _arc(PAGES, separator)
    path = tmp_path / ("ia.arc.gz" if gz else "ia.arc")
    path.write_bytes(b"".join(member(p) for p in parts) if gz else b"".join(parts))
    rows, stats = parse_file(path)
    assert _keys(rows) == _good_rows(tmp_path, PAGES)
    assert stats.record_types == {"warcinfo": 1, "response": 8} and stats.img_tags == 32 and stats.img_with_alt == 24
    _check_offsets(path, rows)
    if gz or separator:  # a gzip member ends each record: warcio needs no separator there
        assert stats.damages == 0 and stats.damaged is None
    else:  # each record but the last ends where the next header starts: one resync each, at that byte
        ends = _offsets(parts)[1:]
        assert stats.damages == len(ends)
        assert [int(b) for b in re.findall(r"at byte (\d+): no separator", stats.damaged)] == ends[:5]
        assert f"and {len(ends) - 5} more" in stats.damaged
    pages = list(iter_pages(path, lambda msg: None))
    assert [p.url for p in pages] == [p.url for p in PAGES]


def test_cc_parse_reads_the_whole_arc_file_and_counts_the_resyncs(tmp_path):
    """``sciclip cc parse`` on the ARC file that lost every page after its first record before."""
    (tmp_path / "ia.arc").write_bytes(b"".join(_arc(PAGES, separator=False)))
    code, _, err = call_cli("cc", "parse", str(tmp_path / "ia.arc"), "--out", str(tmp_path / "rows.parquet"),
                            "--stats", str(tmp_path / "s.json"))
    assert code == 0, err
    [stats] = json.loads((tmp_path / "s.json").read_text())
    assert stats["rows"] == 8 * 7 and stats["html_pages"] == 8 and stats["damages"] == 8
    assert "8 HTML pages, 32 images (24 with alt), 56 rows; damaged: ia.arc: 8 damaged place(s)" in err


@pytest.mark.parametrize("lie", [700, 40_000, -25, -400])
def test_a_content_length_that_lies_about_its_gzip_member_costs_that_record_at_most(tmp_path, lie):
    """Larger than the member (a lie, a truncated write): warcio finds the member's end and the record keeps
    its bytes; smaller: the member's rest is skipped. Either way every other record is read."""
    parts = [_info()] + [_response(p, lie if i == 3 else 0) for i, p in enumerate(PAGES)]
    members = [member(p) for p in parts]
    path = tmp_path / "lie.warc.gz"
    path.write_bytes(b"".join(members))
    rows, stats = parse_file(path)
    good = _good_rows(tmp_path, PAGES)
    damaged_page = PAGES[3].url
    assert [k for k in _keys(rows) if k[3] != damaged_page] == [k for k in good if k[3] != damaged_page]
    if lie > 0:
        assert _keys(rows) == good  # its block was all there
    assert stats.damages == 1 and f"at byte {_offsets(members)[4]}:" in stats.damaged
    _check_offsets(path, rows)
    damage: list[str] = []
    pages = [p.url for p in iter_pages(path, damage.append)]
    assert [u for u in pages if u != damaged_page] == [p.url for p in PAGES if p.url != damaged_page]
    assert len(damage) == 1 and f"at byte {_offsets(members)[4]}:" in damage[0]


@pytest.mark.parametrize("lie", [900, 5, -30, -300, 10**6])
def test_a_plain_warc_with_a_lying_content_length_resyncs_at_the_next_record(tmp_path, lie):
    """A record whose length runs past the next record's header is dropped (its block holds that record);
    one that stops short keeps what it holds; reading resumes at the next ``WARC/1.0`` line."""
    parts = [_info()] + [_response(p, lie if i == 3 else 0) for i, p in enumerate(PAGES)]
    path = tmp_path / "lie.warc"
    path.write_bytes(b"".join(parts))
    rows, stats = parse_file(path)
    damaged_page = PAGES[3].url
    good = _good_rows(tmp_path, PAGES)
    assert [k for k in _keys(rows) if k[3] != damaged_page] == [k for k in good if k[3] != damaged_page]
    assert stats.damages == 1
    _check_offsets(path, rows)
    pages = [p.url for p in iter_pages(path, lambda msg: None)]
    assert [u for u in pages if u != damaged_page] == [p.url for p in PAGES if p.url != damaged_page]


def test_a_corrupt_gzip_member_and_garbage_between_members_cost_one_record_each(tmp_path):
    members = [member(p) for p in [_info()] + [_response(p) for p in PAGES]]
    bad = bytearray(members[2])
    bad[len(bad) // 2] ^= 0xFF
    members[2] = bytes(bad)
    members.insert(6, b"\x00 not a gzip member \x1f\x8b\x08 nor this\n")  # a false start of a member too
    path = tmp_path / "bad.warc.gz"
    path.write_bytes(b"".join(members))
    rows, stats = parse_file(path)
    lost = {PAGES[1].url}
    assert _keys(rows) == [k for k in _good_rows(tmp_path, PAGES) if k[3] not in lost]
    assert stats.damages == 2
    offsets = _offsets(members)
    assert f"at byte {offsets[2]}:" in stats.damaged and f"at byte {offsets[6]}:" in stats.damaged
    assert stats.damaged.isascii()
    _check_offsets(path, rows)


def test_a_truncated_file_keeps_every_record_before_the_cut(tmp_path):
    data = b"".join(member(p) for p in [_info()] + [_response(p) for p in PAGES])
    good = _good_rows(tmp_path, PAGES)
    for cut in range(100, len(data), 777):
        (tmp_path / "cut.warc.gz").write_bytes(data[:cut])
        rows, stats = parse_file(tmp_path / "cut.warc.gz")
        assert _keys(rows) == good[:len(rows)] and stats.damages >= 1, cut


def test_damage_goes_into_the_docs_unit_stats(tmp_path):
    from sciclip.sources.cc.page_images import FetchOptions
    from sciclip.sources.cc.web_documents import WebOptions, documents_from_warcs

    parts = [_info()] + [_response(p, 900 if i == 3 else 0) for i, p in enumerate(PAGES)]
    (tmp_path / "lie.warc").write_bytes(b"".join(parts))
    stats = documents_from_warcs([tmp_path / "lie.warc"], tmp_path / "out",
                                 web=WebOptions(fetch=FetchOptions(enabled=False)))
    assert stats.items_seen == 7 and f"lie.warc: 1 damaged place(s), resynced: at byte {_offsets(parts)[4]}:" in (
        stats.archive_damaged or "")


def test_captured_images_and_records_after_damage_are_found(tmp_path):
    """Image responses after the damage are still captured images, at their own offsets."""
    image = warc_record("response", [("WARC-Target-URI", "http://site0.test/img/cap.png"),
                                     ("Content-Type", "application/http; msgtype=response")],
                        b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n\x89PNG fake")
    parts = [_info(), _response(PAGES[0], 500), _response(PAGES[1]), image]
    (tmp_path / "c.warc").write_bytes(b"".join(parts))
    assert captured_images(tmp_path / "c.warc", lambda m: None) == {"http://site0.test/img/cap.png": _offsets(parts)[3]}
    with open(tmp_path / "c.warc", "rb") as f:
        records = WarcRecords(f, "c.warc")
        urls = [r.rec_headers.get_header("WARC-Target-URI") for r in records]
    assert urls == [None, PAGES[1].url, "http://site0.test/img/cap.png"]
    assert [d.offset for d in records.damage] == [_offsets(parts)[1]]
