"""The documents path of the workflow end to end (.test/docs: arXiv and PMC units of the sample, a WARC)."""

from __future__ import annotations

import io
import json

import pytest

from tests.crash import crash_and_recover, differences, leftover_temporaries, output_digests
from tests.test_workflow import make_checkout, snakemake, snakemake_env

pytestmark = pytest.mark.slow

# the documents' targets only: the pairs' tail is tested elsewhere
DOCS = (*[f"results/docs/stats/{s}.json" for s in ("arxiv", "pmc", "web")], "results/report/documents.html",
        "--cores", "2", "--configfile", "config/config.yaml", ".test/docs/config.yaml")


@pytest.fixture(scope="module")
def docs_run(tmp_path_factory):
    wd = make_checkout(tmp_path_factory.mktemp("docs-wf"))
    snakemake(wd, *DOCS)
    return wd / "results"


def test_one_job_per_unit_per_source_with_stats(docs_run):
    res = docs_run
    for source in ("arxiv", "pmc"):  # the pairs' units
        units = [line.split("\t")[0] for line in (res / source / "units.tsv").read_text().splitlines()[1:]]
        assert sorted(p.name for p in (res / "docs" / source / "units").iterdir()) == sorted(units) != [], source
    for source in ("arxiv", "pmc", "web"):
        s = json.loads((res / "docs" / "stats" / f"{source}.json").read_text())
        assert s["documents"] > 0 and s["words"] > 0 and s["images"] > 0, source
        assert s["words_per_document"]["count"] == s["documents"]
    arxiv = json.loads((res / "docs" / "stats" / "arxiv.json").read_text())
    assert arxiv["skipped_items"] == {"corrupt_gzip": 1, "pdf_only": 1}
    web = json.loads((res / "docs" / "stats" / "web.json").read_text())
    assert web["skipped_documents"]["duplicate_url"] == 1 and web["removed"]["repeated_domain_paragraph"] == 2
    for log in ("docs/arxiv/arXiv_src_2001_001.log", "docs/web/pages.log", "docs/web/dedup.log"):
        assert (res / "logs" / log).is_file(), log


def test_outputs_load_with_datasets_and_webdataset(docs_run):
    datasets = pytest.importorskip("datasets")
    wds = pytest.importorskip("webdataset")
    parquet = sorted(str(p) for p in (docs_run / "docs").glob("*/clean/*/*.parquet"))
    ds = datasets.load_dataset("parquet", data_files=parquet, split="train")
    assert set(ds.column_names) >= {"texts", "images", "metadata", "general_metadata", "image_bytes"}
    for row in ds:
        assert all((t is None) != (i is None) for t, i in zip(row["texts"], row["images"]))
    tars = sorted(str(p) for p in (docs_run / "docs").glob("web/clean/dedup/*.tar"))
    assert len(list(wds.WebDataset(tars, shardshuffle=False))) == 3


def test_report_page_shows_three_documents(docs_run):
    page = (docs_run / "report" / "documents.html").read_text()
    assert page.count("<article>") == 3 and "data:image/jpeg;base64," in page


def test_no_document_image_is_near_an_evaluation_image_and_the_page_shows_what_went(docs_run):
    """The decontamination of the pairs, applied to every image of every document: the sample's five planted
    photographs (four in an arXiv paper, one in a PMC article) are gone, and the report's page shows them."""
    import imagehash
    from PIL import Image

    from sciclip.docs.reader import read_dir

    evals = [imagehash.phash(Image.open(p).convert("RGB"))
             for p in sorted((docs_run.parent / "resources" / "sample" / "eval").glob("*.png"))]
    assert len(evals) == 4
    clean = sorted(p for p in (docs_run / "docs").glob("*/clean/*") if p.is_dir())
    assert {p.parent.parent.name for p in clean} == {"arxiv", "pmc", "web"}
    n = 0
    for d in clean:
        for r in read_dir(d):
            for data in (b for b in r.image_bytes if b is not None):
                h = imagehash.phash(Image.open(io.BytesIO(data)).convert("RGB"))
                assert max(1 - (h - e) / 64 for e in evals) < 0.75, (d, r.id)  # decontamination.thresholds.phash
                n += 1
    assert n > 0
    removed = {}
    for source in ("arxiv", "pmc", "web"):
        s = json.loads((docs_run / "docs" / "stats" / f"{source}.json").read_text())
        removed[source] = s["skipped_images"].get("near_duplicate_of_evaluation_image", 0)
    assert removed == {"arxiv": 4, "pmc": 1, "web": 0}
    report = json.loads((docs_run / "docs" / "removals" / "report.json").read_text())
    assert report["removed"]["near_duplicate_of_evaluation_image"] == 5 and report["max_documents"] == 10
    page = (docs_run / "report" / "documents.html").read_text()
    assert "Removed from the documents: 5 images" in page
    assert page.count("REMOVED: near-duplicate of an evaluation image") == 5
    assert "A benchmark photograph reused by the journal." in page  # the PMC one, with its caption


def test_docs_branch_survives_kill_9_during_a_unit_job(docs_run, tmp_path):
    """Snakemake and its jobs SIGKILLed while a paper unit's documents are written and its stats are not:
    after --unlock and a rerun, every output is the uninterrupted run's, and no temporary is left."""
    wd = make_checkout(tmp_path / "docs")
    units = wd / "results" / "docs"

    def writing_a_unit() -> bool:  # stats.json is the unit job's last write
        return any(any(d.iterdir()) and not (d / "stats.json").exists()
                   for d in units.glob("*/units/*") if d.is_dir() and d.parent.parent.name != "web")

    (tmp_path / "tmp").mkdir()  # the jobs' scratch (TMPDIR): a crash leaves it, as it would /tmp
    crash_and_recover(wd, DOCS, snakemake_env({"TMPDIR": str(tmp_path / "tmp")}), writing_a_unit)
    assert leftover_temporaries(wd / "results") == []
    assert differences(output_digests(wd / "results"), output_digests(docs_run)) == {}
