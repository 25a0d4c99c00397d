"""The documents path of the workflow end to end (.test/docs: arXiv and PMC units of the sample, a WARC)."""

from __future__ import annotations

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
    parquet = sorted(str(p) for p in (docs_run / "docs").glob("*/units/*/*.parquet"))
    ds = datasets.load_dataset("parquet", data_files=parquet, split="train")
    assert set(ds.column_names) >= {"texts", "images", "metadata", "general_metadata", "image_bytes"}
    for row in ds:
        assert all((t is None) != (i is None) for t, i in zip(row["texts"], row["images"]))
    tars = sorted(str(p) for p in (docs_run / "docs").glob("web/dedup/*.tar"))
    assert len(list(wds.WebDataset(tars, shardshuffle=False))) == 3


def test_report_page_shows_three_documents(docs_run):
    page = (docs_run / "report" / "documents.html").read_text()
    assert page.count("<article>") == 3 and "data:image/jpeg;base64," in page


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
