"""Small papers written for issues 11 and 26 (tests/fixtures/latex_papers), scored like the real papers: \\xspace
macros, \\ifpdf around \\graphicspath in a thesis, stale copies and 00README directives, tikz legends; which
of several formats TeX takes, and Inkscape figures read through the import package."""

from __future__ import annotations

import pytest

from sciclip.sources.arxiv.extract import extract_tarball
from sciclip.sources.options import ExtractOptions
from tests.conftest import FIXTURES, read_dir
from tests.realdata_eval import pack_papers, read_expected, score

PAPERS = FIXTURES / "latex_papers"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    d = tmp_path_factory.mktemp("fixture_papers")
    ids = pack_papers(sorted(p for p in PAPERS.iterdir() if p.is_dir()), d / "arXiv_src_2101_001.tar")
    samples = {}
    for mode in ("main", "sub"):
        extract_tarball(d / "arXiv_src_2101_001.tar", d / mode, ExtractOptions(subfigure_caption=mode))
        samples[mode] = [((ids[s["meta"]["paper_id"]], s["meta"]["source_path"]), s["caption"])
                         for s in read_dir(d / mode)]
    return samples


def test_every_figure_once_with_the_caption_arxiv_shows(extracted):
    main = extracted["main"]
    assert len(main) == len(dict(main))  # no image twice (stale copies, draft main files)
    s = score(read_expected(PAPERS / "expected_latex.tsv"), dict(main), dict(extracted["sub"]))
    assert s.missing_images == [] and s.extra_images == []
    assert s.caption_mismatches == []
    assert (s.found_images, s.captions_exact, s.subcaptions_exact) == (29, 29, 2)


def test_papers_from_before_arxivs_tex_live_2020_take_png_first(tmp_path, monkeypatch):
    """arXiv compiled with TeX Live 2016 (pdftex.def lists .png before .pdf) until 2020-10: the same paper
    from 2019 shows the PNGs; the paper's own \\DeclareGraphicsExtensions still wins."""
    import tests.realdata_eval as realdata_eval

    monkeypatch.setattr(realdata_eval, "FAKE_YYMM", "1905")
    ids = pack_papers([PAPERS / "extension-order"], tmp_path / "arXiv_src_1905_001.tar")
    extract_tarball(tmp_path / "arXiv_src_1905_001.tar", tmp_path / "out", ExtractOptions())
    got = {s["meta"]["source_path"]: s["meta"]["yymm"] for s in read_dir(tmp_path / "out")}
    assert list(ids) == ["1905.00001"]
    assert got == {"figures/spectrum.png": "1905", "sketch.png": "1905", "figures/photo.jpg": "1905"}
