"""arXiv documents on the real paper sources (../shared/realdata/latex) against their hand-made ground truth:
every ground-truth figure, in order, at its place with its caption, and the body text around them."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile

import pytest

from sciclip.docs.reader import read_dir
from sciclip.sources.arxiv.documents import documents_from_tarballs
from sciclip.sources.options import DocOptions
from tests.conftest import REALDATA
from tests.realdata_eval import normalise_expected, normalise_ours, pack_papers

pytestmark = pytest.mark.skipif(not (REALDATA / "expected_latex.tsv").is_file(),
                                reason=f"real data not present at {REALDATA}")


def expected_rows() -> list[dict]:
    with open(REALDATA / "expected_latex.tsv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="module")
def real_docs(tmp_path_factory):
    d = tmp_path_factory.mktemp("docs-real")
    papers = sorted(p for p in (REALDATA / "latex").iterdir() if p.is_dir())
    ids = pack_papers(papers, d / "arXiv_src_2101_001.tar")
    out = {"tarball": d / "arXiv_src_2101_001.tar"}
    for placement in ("float", "first_ref"):
        stats = documents_from_tarballs([d / "arXiv_src_2101_001.tar"], d / placement,
                                        DocOptions(figure_placement=placement), workers=2)
        docs = {(ids[r.general_metadata["paper_id"]], r.general_metadata["main_tex"]): r
                for r in read_dir(d / placement)}
        out[placement] = (docs, stats)
    return out


def _figure_runs(record) -> list[tuple[list[str], str]]:
    """(image source paths, the text after its last image: the caption) per figure, in document order;
    subcaptions between a figure's images are passed over."""
    runs: list[tuple[int, list[str], str]] = []
    for text, meta in zip(record.texts, record.metadata):
        if meta is not None:
            if not runs or runs[-1][0] != meta["figure_index"]:
                runs.append((meta["figure_index"], [], ""))
            runs[-1][1].append(meta["source_path"])
        elif runs:
            runs[-1] = (runs[-1][0], runs[-1][1], text)
    return [(paths, caption) for _, paths, caption in runs]


@pytest.mark.parametrize("placement", ["float", "first_ref"])
def test_every_ground_truth_figure_in_order_with_its_caption(real_docs, placement):
    docs, stats = real_docs[placement]
    rows = [r for r in expected_rows() if r["image_files_resolved"].strip()]
    by_doc: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        by_doc.setdefault((r["paper"], r["main_tex"]), []).append(r)
    assert stats.images == sum(len(r["image_files_resolved"].split(";")) for r in rows) == 29
    for key, expected in by_doc.items():
        runs = _figure_runs(docs[key])
        want = [r["image_files_resolved"].split(";") for r in sorted(expected, key=lambda r: int(r["fig_index"]))]
        if placement == "float":
            assert [paths for paths, _ in runs] == want, key
        else:  # moved to their first reference: the same figures, in reference order
            assert sorted(paths for paths, _ in runs) == sorted(want), key
        for paths, caption in runs:
            row = next(r for r in expected if r["image_files_resolved"].split(";") == paths)
            assert normalise_expected(row["caption_plain"]) in normalise_ours(caption), (key, paths)


def test_documents_have_title_headings_and_body_text(real_docs):
    docs, stats = real_docs["float"]
    celerite = docs[("celerite", "ms.tex")]
    text = "\n\n".join(t for t in celerite.texts if t)
    assert text.startswith("Fast and scalable Gaussian process modeling")
    assert "The celerite model" in text  # a section heading, as its own paragraph
    assert celerite.words > 10_000 and celerite.n_images == 13
    assert "\\" not in text.replace("\\\\", "")  # no LaTeX commands left in the text
    scipy = docs[("scipy-1.0", "paper.tex")]
    assert scipy.texts[0].startswith("SciPy 1.0")
    assert stats.skipped_items == {} and stats.documents == len(docs)


def test_first_ref_places_a_figure_after_the_paragraph_that_cites_it(real_docs):
    docs, _ = real_docs["first_ref"]
    doc = docs[("sympy-paper", "supplement.tex")]
    i = next(i for i, m in enumerate(doc.metadata) if m is not None)
    assert "as demonstrated in Figure <ref>" in doc.texts[i - 1]


def test_layout_is_obelics(real_docs):
    docs, _ = real_docs["float"]
    for r in docs.values():
        assert len(r.texts) == len(r.images) == len(r.metadata) == len(r.image_bytes)
        for t, im, m, b in zip(r.texts, r.images, r.metadata, r.image_bytes):
            assert (t is None) != (im is None)
            if im is not None:
                assert im.startswith("https://arxiv.org/abs/2101.") and b[:3] == b"\xff\xd8\xff"
                assert {"source_path", "alt_text", "width", "height", "format", "uid", "sha256"} <= set(m)
                assert len(m["uid"]) == 32
        assert {"paper_id", "tarball", "member", "member_offset", "member_size", "main_tex", "url"} <= set(
            r.general_metadata)
        json.dumps(r.general_metadata)


def test_general_metadata_locates_the_paper_in_its_bulk_tarball(real_docs):
    """``member_offset``/``member_size`` are the member's data bytes: a seek and a read give the paper's
    gzipped source, the very bytes tarfile reads for that member, holding the document's main file."""
    docs, _ = real_docs["float"]
    tarball = real_docs["tarball"]
    with tarfile.open(tarball) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    offsets = set()
    with open(tarball, "rb") as f:
        for r in docs.values():
            g = r.general_metadata
            assert g["tarball"] == tarball.name
            f.seek(g["member_offset"])
            data = f.read(g["member_size"])
            assert data == members[g["member"]]
            with tarfile.open(fileobj=gzip.GzipFile(fileobj=io.BytesIO(data))) as paper:
                assert g["main_tex"] in paper.getnames()
            offsets.add(g["member_offset"])
    assert len(offsets) == len({r.general_metadata["paper_id"] for r in docs.values()}) > 1
