"""The extractor on real paper sources written by others (../shared/realdata/latex), packed as an arXiv
bulk tarball, scored against the hand-made ground truth expected_latex.tsv."""

from __future__ import annotations

import pytest

from sciclip.sources.arxiv.extract import extract_tarball
from sciclip.sources.options import ExtractOptions
from tests.conftest import REALDATA, read_dir
from tests.realdata_eval import pack_papers, read_expected, score

pytestmark = pytest.mark.skipif(not (REALDATA / "expected_latex.tsv").is_file(),
                                reason=f"real data not present at {REALDATA}")


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    d = tmp_path_factory.mktemp("real")
    papers = sorted(p for p in (REALDATA / "latex").iterdir() if p.is_dir())
    ids = pack_papers(papers, d / "arXiv_src_2101_001.tar")
    captions = {}
    stats = {}
    for mode in ("main", "sub"):
        stats[mode] = extract_tarball(d / "arXiv_src_2101_001.tar", d / mode,
                                      ExtractOptions(subfigure_caption=mode), workers=2)
        captions[mode] = {(ids[s["meta"]["paper_id"]], s["meta"]["source_path"]): s["caption"]
                          for s in read_dir(d / mode)}
    return score(read_expected(REALDATA / "expected_latex.tsv"), captions["main"], captions["sub"]), stats


def test_every_ground_truth_image_and_nothing_else(scored):
    s, _ = scored
    assert s.missing_images == [] and s.extra_images == []  # incl. scipy's commented-out figures, tables
    assert (s.found_images, s.expected_images) == (29, 29)


def test_captions_match_the_ground_truth(scored):
    s, _ = scored
    assert s.caption_mismatches == []
    assert s.captions_exact == s.captions_compared == 29
    assert s.subcaptions_exact == s.subcaptions_compared and s.subcaptions_compared >= 6


def test_real_papers_need_no_skips_beyond_negatives(scored):
    _, stats = scored
    st = stats["main"]
    assert st.items_seen == 4 and st.skipped_items == {}
    assert set(st.skipped_candidates) <= {"uncaptioned_graphic"}  # sympy's inline logo graphics
