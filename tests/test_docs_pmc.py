"""PMC documents on the real JATS articles (../shared/realdata/jats): every figure, in body order, with its
caption after its image, and the article's text around them. The articles come without their image files,
so each gets a distinct generated image under the name its ``xlink:href`` points to, as PMC ships them."""

from __future__ import annotations

import csv
import io
import shutil
import tarfile

import pytest
from PIL import Image

from sciclip.docs.reader import read_dir
from sciclip.sources.options import DocOptions
from sciclip.sources.pmc.documents import documents_from_articles
from sciclip.sources.pmc.jats_figures import parse_jats
from tests.conftest import REALDATA

pytestmark = pytest.mark.skipif(not (REALDATA / "expected_jats.tsv").is_file(), reason="real data not present")
RASTER = (".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff")


def media_name(href: str) -> str:
    """The file PMC ships for an href: PLOS' ``info:doi/10.1371/journal.X`` is ``X``; no extension: .jpg."""
    name = href.rsplit("/", 1)[-1]
    name = name.removeprefix("journal.")
    return name if name.lower().endswith(RASTER) else name + ".jpg"


def distinct_image(n: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (160 + n % 97, 120 + n // 97), ((n * 53) % 256, (n * 29) % 256, 128)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def articles(tmp_path_factory):
    root = tmp_path_factory.mktemp("jats")
    n = 0
    for i, src in enumerate(sorted((REALDATA / "jats").iterdir())):
        d = root / "in" / f"PMC{100000 + i}"
        d.mkdir(parents=True)
        shutil.copy(src, d / src.name)
        for fig in parse_jats(src.read_bytes()).figures:
            for slot in fig.graphics:
                n += 1
                (d / media_name(slot[0])).write_bytes(distinct_image(n))
    return root


@pytest.fixture(scope="module")
def docs(articles):
    out = {}
    for placement in ("float", "first_ref"):
        stats = documents_from_articles([articles / "in"], articles / placement, DocOptions(figure_placement=placement))
        out[placement] = ({r.general_metadata["source_file"]: r for r in read_dir(articles / placement)}, stats)
    return out


def expected() -> list[dict]:
    with open(REALDATA / "expected_jats.tsv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_every_figure_in_body_order_with_its_caption(docs):
    records, stats = docs["float"]
    # the kitchen sink's appendix figure and an author-response image are one file: a repeated image is
    # dropped within a document, as OBELICS does
    assert stats.documents == 25 and stats.skipped_items == {} and stats.skipped_images == {"repeated_image": 1}
    for row in expected():
        r = records[row["file"]]
        figs = parse_jats((REALDATA / "jats" / row["file"]).read_bytes()).figures
        got = [m["figure_id"] for m in r.metadata if m is not None]
        first_use = {}
        for f in figs:
            for slot in f.graphics:
                first_use.setdefault(slot[0], f.figure_id)
        assert got == list(first_use.values()), row["file"]
        assert len(got) == int(row["n_graphic_in_figs"]) - (row["file"] == "elife-kitchen-sink.xml")
        if row["fig1_id"]:
            i = next(i for i, m in enumerate(r.metadata) if m is not None)
            assert r.metadata[i]["label"] == row["fig1_label"]
            assert r.texts[i + 1].startswith(f"{row['fig1_label']} {row['fig1_caption_first80'][:40]}")
    assert stats.images == sum(int(row["n_graphic_in_figs"]) for row in expected()) - 1


def test_article_text_title_sections_and_sub_articles(docs):
    records, _ = docs["float"]
    r = records["elife-00666.xml"]
    assert r.texts[0].startswith("The eLife research article")
    assert r.general_metadata["title"] == r.texts[0].split("\n\n")[0]
    body = "\n\n".join(t for t in r.texts if t)
    assert "\n\nIntroduction (Level 1 heading)\n\n" in body and r.words > 3000
    assert any(m["in_sub_article"] for m in r.metadata if m)  # a figure of the author response
    assert r.general_metadata["pmcid"] and r.general_metadata["url"].startswith("https://pmc.ncbi.nlm.nih.gov/")
    no_figs = records["1472-6831-8-11.nxml"]
    assert no_figs.n_images == 0 and no_figs.words > 1000  # an article without figures is a text document


def test_first_ref_moves_floats_group_figures_to_their_citations(docs):
    floats, _ = docs["float"]
    moved, _ = docs["first_ref"]
    r_float, r_moved = floats["ehp-116-1694.nxml"], moved["ehp-116-1694.nxml"]
    first_float = next(i for i, m in enumerate(r_float.metadata) if m)
    first_moved = next(i for i, m in enumerate(r_moved.metadata) if m)
    # ehp keeps its figures in <floats-group> after the back matter; cited in the results, they move there
    assert sum(len(t.split()) for t in r_moved.texts[:first_moved] if t) < \
        sum(len(t.split()) for t in r_float.texts[:first_float] if t)
    assert "Figure 1" in r_moved.texts[first_moved - 1].rsplit("\n\n", 1)[-1]
    assert sorted(m["figure_id"] for m in r_moved.metadata if m) == sorted(m["figure_id"] for m in r_float.metadata if m)


def test_general_metadata_locates_the_article(docs, articles, tmp_path):
    """An article folder: ``package`` is the folder, ``source_file`` the JATS file in it; a legacy package:
    the package file, and the JATS member's path inside it."""
    records, _ = docs["float"]
    folders = {p.name: sorted(f.name for f in p.iterdir()) for p in (articles / "in").iterdir()}
    for r in records.values():
        g = r.general_metadata
        assert g["source_file"] in folders[g["package"]] and g["package"] == g["article"]
    src = sorted((REALDATA / "jats").iterdir())[0]
    data = src.read_bytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"PMC200000/{src.name}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "PMC200000.tar.gz").write_bytes(buf.getvalue())
    documents_from_articles([tmp_path / "in"], tmp_path / "out", DocOptions(min_images=0))
    [r] = read_dir(tmp_path / "out")
    assert r.general_metadata["package"] == "PMC200000.tar.gz"
    assert r.general_metadata["source_file"] == f"PMC200000/{src.name}"
