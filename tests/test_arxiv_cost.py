"""What a selection costs, before anything is downloaded (issue 11, item 13)."""

from __future__ import annotations

from sciclip.sources.arxiv.cost import cost_report, estimate_usd
from sciclip.sources.arxiv.manifest import GIB, TarballEntry
from tests.conftest import ROOT, call_cli


def _entry(name: str, yymm: str, gib: float) -> TarballEntry:
    return TarballEntry(f"src/{name}.tar", int(gib * GIB), "0" * 32, "a", "b", 1, 1, yymm)


def test_estimate_is_size_times_price_plus_requests():
    entries = [_entry("arXiv_src_9901_001", "9901", 0.5), _entry("arXiv_src_2001_001", "2001", 1.5)]
    assert abs(estimate_usd(entries) - (2 * 0.09 + 3 * 0.0004 / 1000)) < 1e-9
    assert estimate_usd(entries, 0.0) < 0.001


def test_report_per_month_in_calendar_order_with_the_price_assumption():
    entries = [_entry("arXiv_src_2001_001", "2001", 1.0), _entry("arXiv_src_9901_001", "9901", 0.5),
               _entry("arXiv_src_2001_002", "2001", 0.5)]
    lines = cost_report(entries).splitlines()
    assert lines[1].split() == ["9901", "1", "0.500"] and lines[2].split() == ["2001", "2", "1.500"]
    assert lines[3] == "3 tarballs, 2.00 GiB, about $0.18 to download (requester pays, $0.09/GB)"
    assert "us-east-1" in lines[4] and "--price-per-gb 0" in lines[4]


def test_cost_command_on_a_selection(sample_dir, tmp_path):
    sel = tmp_path / "selected.tsv"
    rc, _, err = call_cli("arxiv", "select", "--manifest", str(sample_dir / "arxiv/src/arXiv_src_manifest.xml"),
                          "--out", str(sel))
    assert rc == 0 and "about $0.00 to download at $0.09/GB" in err
    rc, out, _ = call_cli("arxiv", "cost", str(sel), "--each")
    assert rc == 0 and out.splitlines()[1].startswith("arXiv_src_9901_001")
    assert "4 tarballs" in out


def test_the_docs_say_how_to_see_the_cost_and_how_to_unlock():
    readme, arxiv, running = ((ROOT / p).read_text() for p in ("README.md", "docs/arxiv.md", "docs/running.md"))
    for text in (readme, arxiv):
        assert "snakemake --cores 1 results/arxiv/selected.tsv" in text and "sciclip arxiv cost" in text
    assert "snakemake --unlock" in running and "LockException" in running and "docs/running.md" in readme
