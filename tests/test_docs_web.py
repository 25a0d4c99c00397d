"""Web documents: OBELICS' node extraction and filters, image fetching (a server on 127.0.0.1), dedup, and the
real WARC files of ../shared/realdata/warc (pages in page order)."""

from __future__ import annotations

import csv
import gzip
import io
import json

import pytest
from PIL import Image
from selectolax.lexbor import LexborHTMLParser

import sciclip.sources.cc.page_images as fetch_mod
from sciclip.docs.dedup import DedupOptions, dedup_documents
from sciclip.docs.reader import read_dir
from sciclip.docs.web_filters import (
    TextLimits,
    WebFilters,
    char_repetition_ratio,
    punctuation_ratio,
    special_char_ratio,
    text_reason,
    word_repetition_ratio,
    words,
)
from sciclip.sources.cc.html_nodes import PageImage, PageText, page_nodes
from sciclip.sources.cc.page_images import DownloadedImages, FetchOptions, Img2datasetFetcher
from sciclip.sources.cc.warc_pages import decode_html, iter_pages
from sciclip.sources.cc.web_documents import WebOptions, documents_from_warcs
from tests.conftest import REALDATA
from tests.docs_web_fixture import BOILERPLATE, PROSE, image, remote_images, write_pages, write_warc
from tests.servers import StaticHTTP

WARCS = REALDATA / "warc"


def test_nodes_follow_obelics_simplification():
    html = """<html><head><title>T</title><base href="http://b.test/dir/"><script>no</script></head><body>
    <div id="nav">menu items here</div><nav>more menu</nav><header>site header</header>
    <div class="main content"><h1>Heading <b>bold</b></h1><p>First <a href="x">link</a> text.<br>Second line</p>
    <img srcset="a.png 1x, b.png 2x" data-src="lazy.png" alt=" Lazy "><ul><li>dropped item</li></ul>
    <p>After image.</p><div class="date">May 1</div><table><tr><td>cell</td></tr></table>
    <div class="site-footer footer">foot</div><img src="/abs.jpg" width="300px" height="200"></div></body></html>"""
    p = page_nodes(html, "http://page.test/x.html")
    assert p.base_url == "http://b.test/dir/" and p.title == "T"
    kinds = [(type(n).__name__, n.text if isinstance(n, PageText) else n.src) for n in p.nodes]
    assert kinds == [("PageText", "Heading bold\n\nFirst link text.\nSecond line"),
                     ("PageImage", "http://b.test/dir/lazy.png"),
                     ("PageText", "After image."),
                     ("PageImage", "http://b.test/abs.jpg")]
    img = p.nodes[1]
    assert isinstance(img, PageImage) and img.alt_text == "Lazy" and img.unformatted_src == "lazy.png"
    assert (p.nodes[3].rendered_width, p.nodes[3].rendered_height) == (300, 200)


def test_filter_definitions():
    assert words("  Hello, WORLD!! 42 ...  ") == ["hello", "world"]  # digits are special characters
    assert char_repetition_ratio("abcdefghijk" * 20) > 0.1 and char_repetition_ratio(PROSE[0]) == 0
    assert word_repetition_ratio(words("a b c d e " * 4)) == 1.0 and word_repetition_ratio(words(PROSE[1])) == 0
    assert special_char_ratio("a1!") == pytest.approx(2 / 3)
    assert punctuation_ratio("one two three.", min_tokens=12) == 1.0 and punctuation_ratio("a, b.") == 0.5
    para = WebFilters().paragraph
    assert text_reason(PROSE[0], para, frozenset(), "paragraph") is None
    assert text_reason("Gallery.", para, frozenset(), "paragraph") == "paragraph_too_few_words"
    assert text_reason("Cheap flights hotels cars deals tickets", para, frozenset(), "paragraph") \
        == "paragraph_few_stopwords"
    assert text_reason(f"{PROSE[0]} spam", para, frozenset({"spam"}), "paragraph") == "paragraph_flagged_words"
    assert text_reason("x " * 5000, TextLimits(10, 2000, 1, 1, 1, 0, 1, 0), frozenset(), "document") \
        == "document_too_many_words"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    for path, data in remote_images().items():
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / path.lstrip("/")).write_bytes(data)
    server = StaticHTTP(str(root))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def web_run(served, tmp_path_factory):
    d = tmp_path_factory.mktemp("webdocs")
    write_warc(d / "pages.warc.gz", remote=served.url)
    fetch = FetchOptions(timeout_s=5, retries=0, allow_private_addresses=True)  # the test's server: 127.0.0.1
    stats = documents_from_warcs([d / "pages.warc.gz"], d / "unit", web=WebOptions(fetch=fetch))
    return d, stats


def test_pages_become_filtered_documents_in_page_order(web_run, served):
    d, stats = web_run
    docs = list(read_dir(d / "unit"))
    assert [r.general_metadata["url"] for r in docs] == [
        "http://valley.test/a.html", "http://valley.test/b.html", "http://other.test/c.html",
        "http://other.test/d.html", "http://valley.test/a.html"]
    a = docs[0]
    assert a.images == [None, "http://valley.test/img/mill.png", None, f"{served.url}/img/river.jpg", None]
    assert a.texts[0] == f"{PROSE[0]} {PROSE[1]}"  # the menu, nav, header, footer and script are gone
    assert a.texts[2] == f"{PROSE[2]}\n{PROSE[3]}"
    assert a.texts[4] == f"{BOILERPLATE}\n\n{PROSE[4]}"
    assert a.metadata[1]["alt_text"] == "The mill in spring" and a.metadata[1]["rendered_width"] == 320
    assert a.metadata[3]["original_width"] == 400 and a.metadata[3]["format"] == "jpeg"
    g = a.general_metadata
    assert (g["warc_filename"], g["warc_record_offset"], g["domain"]) == ("pages.warc.gz", 0, "valley.test")
    assert g["warc_record_length"] > 0 and g["title"] == "The old mill"
    assert stats.skipped_images == {"repeated_image": 1, "image_rendered_size": 1, "image_original_size": 2}
    assert stats.skipped_documents == {"document_too_few_words": 1}  # e: one word of text
    assert stats.removed["paragraph_too_few_words"] >= 1


def test_dedup_urls_image_sets_paragraphs_and_frequent_images(web_run, tmp_path):
    d, _ = web_run
    s = dedup_documents([d / "unit"], tmp_path / "dedup", DedupOptions())
    docs = list(read_dir(tmp_path / "dedup"))
    assert [r.general_metadata["url"] for r in docs] == [
        "http://valley.test/b.html", "http://other.test/d.html", "http://valley.test/a.html"]
    assert docs[2].general_metadata["title"] == "The old mill (updated)"  # the newest capture is kept
    assert all(BOILERPLATE not in (t or "") for r in docs for t in r.texts)  # boilerplate of valley.test
    assert s.skipped_documents["duplicate_url"] == 1 and s.skipped_documents["duplicate_image_set"] == 1
    assert s.removed["repeated_domain_paragraph"] == 2
    assert s.documents == 3 and s.items_seen == 6  # pages of the unit, counted through
    strict = dedup_documents([d / "unit"], tmp_path / "strict", DedupOptions(max_image_documents=1))
    assert strict.skipped_images["image_in_too_many_documents"] == 1  # church.png in c and d
    assert strict.skipped_documents["no_image_after_dedup"] == 1


def test_captured_images_only_without_network(tmp_path):
    write_warc(tmp_path / "p.warc.gz", remote="http://127.0.0.1:9")  # nothing listens there
    stats = documents_from_warcs([tmp_path / "p.warc.gz"], tmp_path / "out",
                                 web=WebOptions(fetch=FetchOptions(enabled=False)))
    assert stats.skipped_images["image_not_captured"] == 2 and stats.documents == 5
    assert stats.skipped_documents == {"document_too_few_images": 1}  # e: its only image is remote


def test_a_truncated_warc_keeps_the_pages_before_the_damage(tmp_path):
    write_warc(tmp_path / "p.warc.gz", images=False)
    data = (tmp_path / "p.warc.gz").read_bytes()
    (tmp_path / "cut.warc.gz").write_bytes(data[: len(data) * 2 // 3])
    pages = list(iter_pages(tmp_path / "cut.warc.gz", lambda msg: None))
    assert 2 <= len(pages) < 6 and pages[0].url == "http://valley.test/a.html"


def test_img2dataset_fetcher_maps_each_url_to_bytes_or_a_reason(served, tmp_path):
    """The adapter over the cc branch's downloader: one img2dataset run for the URLs, each read back."""
    good, missing, data = f"{served.url}/img/museum.png", f"{served.url}/nope.png", "data:image/png;base64,AA=="
    fetcher = Img2datasetFetcher(tmp_path, FetchOptions(timeout_s=5, retries=0, allow_private_addresses=True))
    got = fetcher.fetch([good, missing, data])
    assert Image.open(io.BytesIO(got[good])).size == (240, 300) and got[good] == remote_images()["/img/museum.png"]
    assert got[missing] == "image_http_404" and got[data] == "image_unsupported_url"
    small = DownloadedImages(tmp_path / "run-1" / "downloads.sqlite", max_bytes=1000)
    assert small.fetch([good, f"{served.url}/never-asked.png"]) == {
        good: "image_too_large", f"{served.url}/never-asked.png": "image_not_fetched"}


def _gallery(title: str, images: list[str]) -> bytes:
    body = "".join(f'<img src="{u}" alt="{u.rsplit("/", 1)[-1]}">' for u in images)
    return (f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{PROSE[0]} {PROSE[1]}</p>"
            f"{body}<p>{PROSE[2]} {PROSE[3]}</p></body></html>").encode()


def test_a_units_images_come_from_one_img2dataset_run_with_opt_outs_and_errors_counted(tmp_path, monkeypatch):
    """Two WARCs, one unit: every image URL not captured is downloaded once, in one run, through a web on
    127.0.0.1 (``serve``); an image opted out by ``X-Robots-Tag: noai``, a 404 and a file that is no image
    stay out of the documents, counted by reason; the good images land, an opt-out for another agent too."""
    web = tmp_path / "web" / "img.test" / "img"
    web.mkdir(parents=True)
    for n, name in enumerate(["good.png", "private.png", "bot.png", "two.png"]):
        (web / name).write_bytes(image(300, 240, 20 + n))
    (web / "text.png").write_bytes(b"<html>this is not an image</html>")
    (tmp_path / "web" / "headers.json").write_text(json.dumps({
        "img.test/img/private.png": {"X-Robots-Tag": "noai"},
        "img.test/img/bot.png": {"X-Robots-Tag": "otherbot: noai"}}))
    u = "http://img.test/img/"
    write_pages(tmp_path / "1.warc.gz", [("http://img.test/one.html", _gallery("One", [
        u + "good.png", u + "private.png", u + "gone.png", u + "text.png", u + "bot.png"]))], {})
    write_pages(tmp_path / "2.warc.gz", [("http://img.test/two.html", _gallery("Two", [
        u + "good.png", u + "two.png"]))], {"http://img.test/img/two.png": image(300, 240, 23)})
    runs: list[list[str]] = []

    def run_img2dataset(url_list, out_dir, opts):  # the real downloader, its input recorded
        import pyarrow.parquet as pq

        runs.append(pq.read_table(url_list).column("url").to_pylist())
        assert opts.user_agent_token == "sciclip" and "noai" in opts.disallowed_header_directives
        return real(url_list, out_dir, opts)

    real = fetch_mod.run_img2dataset
    monkeypatch.setattr(fetch_mod, "run_img2dataset", run_img2dataset)
    fetch = FetchOptions(timeout_s=5, retries=0, threads=4, serve=str(tmp_path / "web"))
    stats = documents_from_warcs([tmp_path / "1.warc.gz", tmp_path / "2.warc.gz"], tmp_path / "out",
                                 web=WebOptions(fetch=fetch))
    assert runs == [[u + "good.png", u + "private.png", u + "gone.png", u + "text.png", u + "bot.png"]]
    one, two = read_dir(tmp_path / "out")
    assert [m["src"] for m in one.metadata if m] == [u + "good.png", u + "bot.png"]
    assert [m["src"] for m in two.metadata if m] == [u + "good.png", u + "two.png"]  # two.png: captured
    assert one.image_bytes[one.images.index(u + "good.png")] == two.image_bytes[two.images.index(u + "good.png")]
    assert stats.skipped_images == {"image_opted_out": 1, "image_http_404": 1, "image_not_an_image": 1}
    assert stats.documents == 2 and stats.images == 4 and stats.timings_s["download"] > 0


# --- the real WARC files ------------------------------------------------------------------------------------

real = pytest.mark.skipif(not (WARCS / "../expected_warc.tsv").is_file(), reason="real data not present")


def _expected() -> dict[str, dict]:
    with open(REALDATA / "expected_warc.tsv", encoding="utf-8", newline="") as f:
        return {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}


def _squash(text: str) -> str:
    return "".join(text.split())


@real
def test_real_warcs_give_every_html_page_with_nodes_in_page_order():
    for name, row in _expected().items():
        damage: list[str] = []
        pages = list(iter_pages(WARCS / name, damage.append))
        assert len(pages) == int(row["html_responses"]), name
        for page in pages:
            html = decode_html(page.body, page.charset)
            nodes = page_nodes(html, page.url).nodes
            tree = LexborHTMLParser(html)
            full = _squash(tree.body.text(separator=" ")) if tree.body is not None else ""
            at_text = at_src = 0
            for n in nodes:
                if isinstance(n, PageImage):
                    at_src = html.index(n.unformatted_src, at_src)
                    continue
                for line in n.text.split("\n"):
                    # a line starts at a DOM text node; its first characters lie in that node (the next ones
                    # may follow text of a removed element, which the page's full text still holds)
                    snippet = _squash(line)[:6]
                    if snippet:
                        found = full.find(snippet, at_text)
                        assert found >= 0, (name, page.url, line[:60])
                        at_text = found
            assert sum(isinstance(n, PageImage) for n in nodes) <= int(row["img_tags"])


@real
def test_real_pages_become_documents_with_images_in_page_order(tmp_path):
    class AnyImage:
        """Every URL gets a distinct 200x200 PNG (no network in tests)."""

        def fetch(self, urls):
            out = {}
            for i, u in enumerate(urls):
                buf = io.BytesIO()
                Image.new("RGB", (200, 200), (i * 40 % 256, len(u) % 256, 90)).save(buf, "PNG")
                out[u] = buf.getvalue()
            return out

    loose = TextLimits(1, 10**6, 1, 1, 1, 0, 1, 0)
    web = WebOptions(WebFilters(paragraph=loose, document=loose, image_min_side=1))
    files = sorted(p for p in WARCS.iterdir() if ".wat" not in p.name and ".wet" not in p.name)
    stats = documents_from_warcs(files, tmp_path / "out", web=web, fetcher=AnyImage())
    docs = list(read_dir(tmp_path / "out"))
    assert stats.items_seen == sum(int(r["html_responses"]) for r in _expected().values()) == 49
    assert len(docs) >= 30 and stats.images > 100
    by_offset = {(p.warc, p.offset): p for f in files for p in iter_pages(f, lambda m: None)}
    for r in docs:
        page = by_offset[(r.general_metadata["warc_filename"], r.general_metadata["warc_record_offset"])]
        html = decode_html(page.body, page.charset)
        at = 0
        for m in r.metadata:
            if m is not None:
                at = html.index(m["unformatted_src"], at)  # images in the page's order
        assert r.texts.count(None) == r.n_images


def test_gzip_member_damage_is_reported(tmp_path):
    write_warc(tmp_path / "p.warc.gz", images=False)
    raw = gzip.decompress((tmp_path / "p.warc.gz").read_bytes())
    (tmp_path / "bad.warc.gz").write_bytes(gzip.compress(raw[:500]) + b"\x1f\x8b\x08garbage")
    damage: list[str] = []
    pages = list(iter_pages(tmp_path / "bad.warc.gz", damage.append))
    assert pages == [] or pages[0].url == "http://valley.test/a.html"
    assert damage or not pages
