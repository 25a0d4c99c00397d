"""PMC: enumeration and selection, secure JATS parsing, media matching, downloads (HTTP, S3), extraction."""

from __future__ import annotations

import csv
import hashlib
import resource
import time

import pytest

from sciclip.errors import Skip
from sciclip.sources.options import ExtractOptions
from sciclip.sources.pmc.download import download_batch, needed_media
from sciclip.sources.pmc.extract import JatsOptions, extract_articles
from sciclip.sources.pmc.index import batch_names, build_index, read_index, write_index
from sciclip.sources.pmc.jats_figures import match_media, parse_jats
from sciclip.storage.remote import SourceSpec
from tests.conftest import FIXTURES, REALDATA, read_dir, run_cli

NS = 'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:mml="http://www.w3.org/1998/Math/MathML"'


def jats(body: str, doctype: str = "", lang: str = "") -> bytes:
    lang_attr = f' xml:lang="{lang}"' if lang else ""
    return f'<?xml version="1.0"?>{doctype}<article {NS}{lang_attr}><body>{body}</body></article>'.encode()


def expected_pmc() -> dict[tuple[str, str], str]:
    rows = {}
    for line in open(FIXTURES / "pmc_expected.tsv", encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        pmcid, path, caption = line.rstrip("\n").split("\t")
        rows[(pmcid, path)] = caption
    return rows


# --- selection -------------------------------------------------------------------------------------------

def names(records):
    return [r.name for r in records]


@pytest.mark.parametrize("method", ["inventory", "listing"])
def test_cloud_index_latest_versions_and_filters(sample_dir, method):
    spec = SourceSpec(str(sample_dir / "pmc" / "cloud"))
    recs, report = build_index(spec, "cloud", "commercial", batch_size=2, method=method)
    assert names(recs) == ["PMC1000001.2", "PMC1000003.1", "PMC1000004.1", "PMC1000005.1", "PMC1000006.1",
                           "PMC1000009.1", "PMC1000010.1"]
    assert report["excluded"] == {"licence": 1, "retracted": 1, "not_open_access": 1}
    assert [r.batch for r in recs] == [0, 0, 1, 1, 2, 2, 3]
    r = recs[0]
    assert (r.license, r.pmid, r.xml_key) == ("CC BY", "31000001", "PMC1000001.2/PMC1000001.2.xml")
    assert r.xml_md5 and len(r.media) == 5


def test_cloud_index_licence_range_count(sample_dir):
    spec = SourceSpec(str(sample_dir / "pmc" / "cloud"))
    assert "PMC1000002.1" in names(build_index(spec, "cloud", "noncommercial")[0])
    assert names(build_index(spec, "cloud", ["CC0", "CC BY-SA"])[0]) == ["PMC1000003.1", "PMC1000009.1"]
    assert names(build_index(spec, "cloud", "commercial", start="PMC1000003", end=1000005)[0]) == [
        "PMC1000003.1", "PMC1000004.1", "PMC1000005.1"]
    assert names(build_index(spec, "cloud", "commercial", max_count=2)[0]) == ["PMC1000001.2", "PMC1000003.1"]


def test_legacy_index_and_roundtrip(sample_dir, tmp_path):
    spec = SourceSpec(str(sample_dir / "pmc" / "legacy"))
    recs, report = build_index(spec, "legacy", "commercial", batch_size=1000)
    assert names(recs) == ["PMC2000001", "PMC2000003"] and report["excluded"] == {"licence": 1}
    assert recs[0].package == "oa_package/0a/1b/PMC2000001.tar.gz" and recs[0].pmid == "32000001"
    write_index(recs, tmp_path / "i.tsv")
    assert read_index(tmp_path / "i.tsv") == recs
    assert batch_names(tmp_path / "i.tsv") == ["b00000"]


# --- JATS --------------------------------------------------------------------------------------------------

def test_caption_is_label_title_paragraphs_with_markup_flattened():
    a = parse_jats(jats("""<fig id="f1" fig-type="Figure"><label>Figure 1.</label><caption>
<title>Title with <italic>italics</italic>.</title><p>First <bold>bold</bold> para with
<inline-formula><mml:math><mml:msup><mml:mi>x</mml:mi><mml:mn>2</mml:mn></mml:msup></mml:math></inline-formula>.</p>
<p>Second para <xref ref-type="bibr" rid="b">[3]</xref>
with <inline-formula><alternatives><tex-math>$\\alpha$</tex-math><mml:math><mml:mi>α</mml:mi></mml:math></alternatives></inline-formula>
and <inline-formula><tex-math>\\beta \\leq 1</tex-math></inline-formula>.</p></caption>
<graphic xlink:href="f1.jpg"/></fig>"""))
    f = a.figures[0]
    assert f.caption_text == ("Figure 1. Title with italics. First bold para with x2. Second para [3] with α and "
                              "β ≤ 1.")
    assert (f.figure_id, f.label, f.fig_type, f.graphics) == ("f1", "Figure 1.", "Figure", [["f1.jpg"]])
    assert f.caption_xml.startswith("<caption")


def test_fig_group_alternatives_and_sub_articles():
    a = parse_jats(jats("""<fig-group id="g"><caption><title>Group caption.</title></caption>
<fig id="a"><label>A</label><caption><p>Sub A.</p></caption><graphic xlink:href="a"/></fig>
<fig id="b"><caption><p>Sub B.</p></caption><alternatives><graphic xlink:href="b-small.gif"/>
<graphic xlink:href="b.tif"/></alternatives><graphic xlink:href="b-second.jpg"/></fig></fig-group>
<sub-article><body><fig id="s"><caption><p>In a sub-article.</p></caption><graphic xlink:href="s.png"/></fig></body></sub-article>
<supplementary-material><caption><p>not a fig</p></caption></supplementary-material><p><inline-graphic xlink:href="i.gif"/></p>"""))
    assert [f.figure_id for f in a.figures] == ["a", "b", "s"]
    assert a.figures[0].group_caption_text == "Group caption." and a.figures[0].caption_text == "A Sub A."
    assert a.figures[1].graphics == [["b-small.gif", "b.tif"], ["b-second.jpg"]]
    assert a.figures[2].in_sub_article and a.figures[2].group_caption_text is None


def test_languages_and_metadata():
    xml = b"""<?xml version="1.0"?><article xmlns:xlink="http://www.w3.org/1999/xlink" xml:lang="en">
<front><article-meta><article-id pub-id-type="pmc">123</article-id><article-id pub-id-type="pmid">456</article-id>
<article-id pub-id-type="doi">10.1/x</article-id><permissions><license license-type="open-access"
xlink:href="http://creativecommons.org/licenses/by-nc/4.0/"/></permissions></article-meta></front>
<body><fig id="de"><caption xml:lang="de"><p>Deutsch.</p></caption></fig><fig id="en"><caption><p>English.</p></caption></fig></body></article>"""
    a = parse_jats(xml)
    assert (a.pmcid, a.pmid, a.doi, a.license) == ("PMC123", "456", "10.1/x", "CC BY-NC")
    assert [f.lang for f in a.figures] == ["de", "en"]


def test_malformed_xml_is_a_skip():
    with pytest.raises(Skip) as e:
        parse_jats(b"<article><body><fig>")
    assert e.value.reason == "malformed_xml"


def test_xxe_is_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-XXE")
    doctype = f'<!DOCTYPE article [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    a = parse_jats(jats('<fig id="f"><caption><p>before &xxe; after</p></caption></fig>', doctype=doctype))
    assert "TOPSECRET" not in a.figures[0].caption_text and "TOPSECRET" not in a.figures[0].caption_xml
    assert a.figures[0].caption_text == "before after"
    doctype = f'<!DOCTYPE article SYSTEM "file://{secret}">'  # an external DTD is not loaded either
    parse_jats(jats('<fig id="f"><caption><p>ok</p></caption></fig>', doctype=doctype))


def test_billion_laughs_is_cheap():
    ents = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 12))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    try:
        parse_jats(jats('<fig id="f"><caption><p>&a11;</p></caption></fig>', doctype=f"<!DOCTYPE article [{ents}]>"))
    except Skip as e:
        assert e.reason == "malformed_xml"
    assert time.perf_counter() - t < 2.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB


@pytest.mark.parametrize("href,files,expected", [
    ("gr1", ["gr1.gif", "gr1.jpg", "gr1.tif"], "gr1.jpg"),  # no extension: jpg, png, gif, tif
    ("gr1", ["gr1.gif", "gr1.png"], "gr1.png"),
    ("Fig2A.JPG", ["fig2a.jpg"], "fig2a.jpg"),  # any case
    ("f1.tif", ["F1.TIF", "f1.jpg"], "F1.TIF"),  # the named file, not a preferred extension
    ("f1.tif", ["f1.jpg"], "f1.jpg"),  # the named file missing: the same stem
    ("info:doi/10.1371/journal.pone.0000009.g001", ["pone.0000009.g001.png"], "pone.0000009.g001.png"),
    ("media/sub/x.jpg", ["x.jpg"], "x.jpg"),
    ("nothing", ["gr1.jpg"], None),
])
def test_match_media(href, files, expected):
    assert match_media(href, files) == expected


def test_only_figure_media_are_needed(sample_dir):
    from sciclip.sample.pmc import cloud_articles
    art = next(a for a in cloud_articles() if a["pmcid"] == "PMC1000001" and a["version"] == 2)
    keys = [f"PMC1000001.2/{n}" for n in sorted(art["media"])]
    assert needed_media(art["xml"], keys) == ["PMC1000001.2/pmc1000001-g001.jpg", "PMC1000001.2/Fig2A.JPG",
                                              "PMC1000001.2/fig2b.png"]


# --- download + extraction ---------------------------------------------------------------------------------

def _run(spec, layout, tmp_path, **index_kw):
    recs, _ = build_index(spec, layout, "commercial", batch_size=3, **index_kw)
    write_index(recs, tmp_path / "i.tsv")
    stats = []
    for b in batch_names(tmp_path / "i.tsv"):
        download_batch(spec, read_index(tmp_path / "i.tsv", b), tmp_path / "dl" / b, retries=1, backoff=0.01)
        stats.append(extract_articles(tmp_path / "dl" / b, tmp_path / "out" / b, workers=2))
    return stats


def test_cloud_mirror_end_to_end(sample_dir, tmp_path):
    stats = _run(SourceSpec(str(sample_dir / "pmc" / "cloud")), "cloud", tmp_path)
    samples = read_dir(tmp_path / "out")
    got = {(s["meta"]["pmcid"], s["meta"]["source_path"]): s["caption"] for s in samples}
    want = {k: v for k, v in expected_pmc().items() if k[0].startswith("PMC1")}
    assert got == want
    skipped = {}
    for st in stats:
        for k, v in st.skipped_items.items():
            skipped[k] = skipped.get(k, 0) + v
    assert skipped == {"malformed_xml": 2}  # the truncated article and the billion laughs
    assert sum(st.skipped_candidates.get("non_english", 0) for st in stats) == 1
    assert sum(st.skipped_candidates.get("empty_caption", 0) for st in stats) == 1
    fetched = sorted(p.name for p in (tmp_path / "dl").rglob("*") if p.is_file())
    assert "mmc1.pdf" not in fetched and "inl1.gif" not in fetched and "f1-thumb.gif" in fetched
    meta = next(s["meta"] for s in samples if s["meta"]["source_path"] == "Fig2A.JPG")
    assert (meta["license"], meta["pmid"], meta["doi"], meta["version"], meta["figure_id"]) == (
        "CC BY", "31000001", "10.9999/sample.1000001", 2, "f2a")
    assert meta["group_caption_xml"].startswith("<caption")
    for s in samples:
        assert b"root:" not in s["json"] and b"root:" not in s["txt"]


def test_legacy_over_http(sample_dir, tmp_path):
    from tests.servers import StaticHTTP
    server = StaticHTTP(str(sample_dir / "pmc" / "legacy"))
    try:
        _run(SourceSpec(server.url), "legacy", tmp_path)
    finally:
        server.stop()
    got = {(s["meta"]["pmcid"], s["meta"]["source_path"]): s["caption"] for s in read_dir(tmp_path / "out")}
    assert got == {k: v for k, v in expected_pmc().items() if k[0].startswith("PMC2")}


@pytest.mark.slow
def test_cloud_over_s3_unsigned_with_md5_checks(sample_dir, tmp_path):
    from tests.servers import RequesterPaysS3
    server = RequesterPaysS3()
    server.state.require_requester_pays = False
    try:
        client = server.client()
        client.create_bucket(Bucket="pmc-oa-opendata", ACL="public-read")  # world-readable, like the real one
        root = sample_dir / "pmc" / "cloud"
        for f in sorted(p for p in root.rglob("*") if p.is_file()):
            body = f.read_bytes()
            if f.name == "fig2b.png":
                body = body[:-10] + b"corrupted!"  # md5 in the metadata no longer matches
            client.put_object(Bucket="pmc-oa-opendata", Key=str(f.relative_to(root)), Body=body, ACL="public-read")
        spec = SourceSpec("s3://pmc-oa-opendata", unsigned=True, endpoint_url=server.endpoint)
        _run(spec, "cloud", tmp_path, method="inventory")
        got = {(s["meta"]["pmcid"], s["meta"]["source_path"]) for s in read_dir(tmp_path / "out")}
        want = {k for k in expected_pmc() if k[0].startswith("PMC1")} - {("PMC1000001", "fig2b.png")}
        assert got == want  # the corrupt file is refused, its neighbours land
        assert server.state.requests  # everything went through the loopback server
        # resumable: a second download of a batch fetches nothing new
        rep = download_batch(spec, read_index(tmp_path / "i.tsv", "b00000"), tmp_path / "dl" / "b00000",
                             retries=0, backoff=0.01)
        assert rep.fetched_files == 0 and rep.reused_files > 0
    finally:
        server.stop()


def test_options_fig_types_languages_subfigure(sample_dir, tmp_path):
    _run(SourceSpec(str(sample_dir / "pmc" / "cloud")), "cloud", tmp_path)
    out = tmp_path / "o"
    extract_articles(tmp_path / "dl" / "b00000", out, ExtractOptions(subfigure_caption="sub"),
                     JatsOptions(fig_types=("CHART",), languages=()))
    assert {s["meta"]["source_path"]: s["caption"] for s in read_dir(out)} == {
        "f2.tif": "A sixteen-bit grayscale TIFF."}
    assert [s["meta"]["label"] for s in read_dir(out)] == ["Figure 2."]  # the label stays in the json
    extract_articles(tmp_path / "dl" / "b00000", out, ExtractOptions(caption_label=True),
                     JatsOptions(fig_types=("CHART",), languages=()))
    assert [s["caption"] for s in read_dir(out)] == ["Figure 2. A sixteen-bit grayscale TIFF."]
    extract_articles(tmp_path / "dl" / "b00000", out, ExtractOptions(subfigure_caption="sub"), JatsOptions(languages=()))
    got = {s["meta"]["source_path"]: s["caption"] for s in read_dir(out)}
    assert got["Fig2A.JPG"] == "(A) Wild type." and got["f5.jpg"] == "Eine deutsche Bildunterschrift."


def test_cli_pmc_list_download_extract(sample_dir, tmp_path):
    src = str(sample_dir / "pmc" / "legacy")
    r = run_cli("pmc", "list", "--source", src, "--layout", "legacy", "--out", str(tmp_path / "i.tsv"),
                "--license", "noncommercial")
    assert r.returncode == 0, r.stderr
    r = run_cli("pmc", "download", "--source", src, "--layout", "legacy", "--index", str(tmp_path / "i.tsv"),
                "--batch", "b00000", "--out", str(tmp_path / "dl"))
    assert r.returncode == 0, r.stderr
    r = run_cli("pmc", "extract", str(tmp_path / "dl"), str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert "3 articles, 4 figures, 4 samples" in r.stderr
    r = run_cli("pmc", "download", "--source", src, "--layout", "legacy", "--index", str(tmp_path / "i.tsv"),
                "--batch", "b00009", "--out", str(tmp_path / "x"))
    assert r.returncode == 1 and "no articles in batch b00009" in r.stderr


# --- real articles -----------------------------------------------------------------------------------------

@pytest.mark.skipif(not (REALDATA / "expected_jats.tsv").is_file(), reason="real data not present")
def test_real_articles_against_ground_truth():
    rows = list(csv.DictReader(open(REALDATA / "expected_jats.tsv", encoding="utf-8"), delimiter="\t"))
    assert len(rows) == 25
    for row in rows:
        a = parse_jats((REALDATA / "jats" / row["file"]).read_bytes(), row["file"])
        figs = a.figures
        assert len(figs) == int(row["n_fig"]), row["file"]
        assert sum(f.in_sub_article for f in figs) == int(row["n_fig_in_sub_articles"]), row["file"]
        assert len({f.group_id for f in figs if f.group_id}) == int(row["n_fig_group"]), row["file"]
        assert sum(len(f.graphics) for f in figs) == int(row["n_graphic_in_figs"]), row["file"]
        assert sum(not f.caption_text for f in figs) == int(row["n_fig_without_caption"]), row["file"]
        for k, fig in zip((1, 2), figs[:2]):
            assert fig.figure_id == row[f"fig{k}_id"], row["file"]
            assert fig.label == row[f"fig{k}_label"], row["file"]
            body = fig.caption_text[len(fig.label):].strip()
            assert body[:80] == row[f"fig{k}_caption_first80"], (row["file"], body[:80])
            assert fig.graphics[0][0] == row[f"fig{k}_graphic_href"], row["file"]


def test_sample_pmc_is_deterministic(sample_dir, tmp_path):
    from sciclip.sample import write_sample
    write_sample(tmp_path)
    for f in sorted(p for p in sample_dir.rglob("*") if p.is_file()):
        rel = f.relative_to(sample_dir)
        assert hashlib.sha256((tmp_path / rel).read_bytes()).digest() == hashlib.sha256(f.read_bytes()).digest(), rel
