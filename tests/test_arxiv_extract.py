"""The sample corpus through the extractor: exact pairs, metadata, statistics, options, determinism."""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter

import pytest
from PIL import Image

from sciclip.images.pipeline import ImageOptions
from sciclip.sample import write_sample
from sciclip.sample.arxiv import TARBALLS
from sciclip.sources.arxiv.extract import extract_tarball
from sciclip.sources.options import ExtractOptions
from tests.conftest import expected_pairs, read_dir, read_shard

REQUIRED_KEYS = {"uid", "paper_id", "yymm", "figure_label", "source_path", "original_width", "original_height",
                 "width", "height", "sha256", "caption_latex", "source", "tarball"}


@pytest.fixture(scope="module")
def samples(sample_extracted):
    root, _ = sample_extracted
    return read_dir(root)


def test_every_expected_pair_and_nothing_else(samples):
    got = {(s["meta"]["paper_id"], s["meta"]["source_path"]): s["caption"] for s in samples}
    assert got == expected_pairs()
    assert len(samples) == len(got)  # no duplicates


def test_negatives_are_absent(samples):
    paths = {s["meta"]["source_path"] for s in samples}
    assert not paths & {"figs/tableicon.png", "figs/commented.png", "broken.png", "icon.png", "good2.png"}


def test_sample_metadata(samples, sample_dir):
    for s in samples:
        meta = s["meta"]
        assert REQUIRED_KEYS <= set(meta)
        assert not any("." in k for k in meta)
        assert re.fullmatch(r"[0-9a-f]{32}", meta["uid"]) and s["key"] == meta["uid"]
        assert meta["source"] == "arxiv" and meta["tarball"].startswith("arXiv_src_")
        assert meta["caption"] == s["caption"]
        img = Image.open(io.BytesIO(s["jpg"]))
        assert img.format == "JPEG" and img.mode == "RGB" and img.size == (meta["width"], meta["height"])
        assert max(img.size) <= 512
    by_path = {s["meta"]["source_path"]: s["meta"] for s in samples}
    assert by_path["fig1.eps"]["yymm"] == "9901" and by_path["fig1.eps"]["paper_id"] == "hep-th9901001"
    assert by_path["figs/overview.png"]["figure_label"] == "fig:overview"
    assert by_path["figs/overview.png"]["caption_latex"].startswith(r"Overview of \method{} trained")
    assert by_path["img/loss_curve.PNG"]["subcaption_latex"] == "Training loss"
    assert (by_path["figs/results_cmyk.jpg"]["original_width"], by_path["figs/results_cmyk.jpg"]["width"]) == (1024, 512)
    # sha256 is of the original file bytes inside the paper
    from sciclip.sample.arxiv import paper_2001_00001
    original = paper_2001_00001().files["figs/overview.png"]
    assert by_path["figs/overview.png"]["sha256"] == hashlib.sha256(original).hexdigest()


def test_job_statistics(sample_extracted):
    _, stats = sample_extracted
    s = stats["arXiv_src_2001_002"]
    assert (s.items_seen, s.items_with_candidates, s.candidates_found, s.samples_written) == (3, 2, 8, 5)
    assert s.skipped_items == {"corrupt_gzip": 1}
    assert s.skipped_candidates == {"image_decode_error": 1, "image_too_small": 1, "caption_too_short": 1}
    s = stats["arXiv_src_2001_001"]
    assert s.skipped_candidates == {"graphic_not_found": 2, "table_graphic": 1}
    assert stats["arXiv_src_9901_001"].skipped_items == {"pdf_only": 1}
    assert sum(x.items_seen for x in stats.values()) == sum(len(v) for v in TARBALLS.values())


def test_workers_do_not_change_the_output(sample_tarballs, tmp_path, sample_extracted):
    root, _ = sample_extracted
    for t in sample_tarballs:
        extract_tarball(t, tmp_path / t.stem, workers=3)
        assert (tmp_path / t.stem / "00000.tar").read_bytes() == (root / t.stem / "00000.tar").read_bytes()


def test_sample_corpus_is_deterministic(sample_dir, tmp_path):
    write_sample(tmp_path)
    for f in sorted((sample_dir / "arxiv" / "src").iterdir()):
        assert (tmp_path / "arxiv" / "src" / f.name).read_bytes() == f.read_bytes(), f.name


def test_member_kinds_in_the_sample(sample_tarballs):
    import tarfile
    kinds = Counter()
    for t in sample_tarballs:
        with tarfile.open(t) as tar:
            for m in tar:
                assert re.fullmatch(r"\d{4}/[A-Za-z\-]*\d{4}\.?\d{3,5}\.(gz|pdf)", m.name), m.name
                kinds[m.name.rsplit(".", 1)[1]] += 1
    assert kinds == {"gz": 11, "pdf": 1}


def test_subfigure_caption_and_multi_image_options(sample_tarballs, tmp_path):
    t = next(t for t in sample_tarballs if t.stem == "arXiv_src_2001_001")
    extract_tarball(t, tmp_path / "sub", ExtractOptions(subfigure_caption="sub", multi_image="skip"))
    got = {s["meta"]["source_path"]: s["caption"] for s in read_dir(tmp_path / "sub")}
    assert got["img/loss_curve.PNG"] == "(a) Training loss"
    assert "img/panel_left.png" not in got and "img/panel_right.png" not in got
    extract_tarball(t, tmp_path / "main", ExtractOptions(subfigure_caption="main"))
    got = {s["meta"]["source_path"]: s["caption"] for s in read_dir(tmp_path / "main")}
    assert got["img/loss_curve.PNG"] == "Learning curves of the model over 100 epochs."


def test_image_options_reach_the_output(sample_tarballs, tmp_path):
    t = next(t for t in sample_tarballs if t.stem == "arXiv_src_2001_001")
    opts = ExtractOptions(image=ImageOptions(max_size=128, jpeg_quality=60), samples_per_shard=4,
                          min_caption_chars=50)
    stats = extract_tarball(t, tmp_path / "o", opts)
    shards = sorted((tmp_path / "o").glob("*.tar"))
    assert [p.name for p in shards] == ["00000.tar", "00001.tar"]
    assert [sh["samples"] for sh in stats.shards] == [4, 3]  # 7 captions of >= 50 characters
    samples = [s for p in shards for s in read_shard(p)]
    assert all(max(s["meta"]["width"], s["meta"]["height"]) <= 128 for s in samples)
    assert all(len(s["caption"]) >= 50 for s in samples)
    assert stats.skipped_candidates["caption_too_short"] == 2


def test_rerun_replaces_output(sample_tarballs, tmp_path):
    t = sample_tarballs[0]
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "00007.tar").write_bytes(b"stale")
    extract_tarball(t, tmp_path / "o")
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["00000.tar", "stats.json"]


def test_unexpected_error_in_one_paper_spares_the_rest(sample_tarballs, tmp_path, monkeypatch):
    import sciclip.sources.arxiv.extract as ax
    real = ax.paper_figures

    def flaky(tree):
        if any(str(f) == "img/accuracy.pdf" for f in tree.files):
            raise RuntimeError("simulated parser bug")
        return real(tree)

    monkeypatch.setattr(ax, "paper_figures", flaky)
    t = next(t for t in sample_tarballs if t.stem == "arXiv_src_2001_001")
    stats = extract_tarball(t, tmp_path / "o")
    papers = {s["meta"]["paper_id"] for s in read_dir(tmp_path / "o")}
    assert papers == {"2001.00001"}
    assert stats.skipped_items == {"paper_error": 1}


def test_missing_tarball_is_a_clear_error(tmp_path):
    from sciclip.errors import SciclipError
    with pytest.raises(SciclipError, match="no such file"):
        extract_tarball(tmp_path / "nope.tar", tmp_path / "o")
