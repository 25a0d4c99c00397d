"""The report: counts first, final samples in the grid (removed ones apart and marked), integer count axes,
months in calendar order, and one-line errors on a results folder that is not one."""

from __future__ import annotations

import json
import re
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sciclip.report.figures import make_report_figures, month_key
from sciclip.shards.reader import ShardReport, read_samples
from sciclip.shards.writer import ShardWriter
from sciclip.storage.atomic import atomic_write_bytes
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def results(sample_extracted, tmp_path_factory):
    """A results tree as the workflow leaves it: arXiv stats, img2dataset shards, scores, a decontamination
    report that removes three samples, and the final output holding the rest (DataComp keys)."""
    from sciclip.shards.img2dataset import convert
    from sciclip.shards.stats import dataset_stats

    root, stats = sample_extracted
    res = tmp_path_factory.mktemp("results")
    dirs = [root / name for name in sorted(stats)]
    (res / "stats").mkdir()
    atomic_write_bytes(res / "stats" / "arxiv.json", json.dumps(dataset_stats(dirs, source="arxiv")).encode())
    i2d = res / "arxiv" / "img2dataset"
    convert(dirs, i2d, 10_000)
    samples = [(k, m) for shard in sorted(i2d.glob("*.tar")) for k, m in read_samples(shard, ShardReport(""))]
    metas = [json.loads(m["json"]) for _, m in samples]
    contaminated, duplicate = metas[:2], metas[2]
    report = {"samples": len(metas), "kept": len(metas) - 3, "contaminated": 2, "exact_duplicates": 1,
              "threshold": 0.75,
              "contaminated_samples": [{"uid": m["uid"], "key": m["key"], "score": 0.9} for m in contaminated],
              "duplicate_samples": [{"uid": duplicate["uid"], "key": duplicate["key"]}]}
    (res / "arxiv" / "decontamination.json").write_text(json.dumps(report))
    (res / "arxiv" / "scores").mkdir()
    pq.write_table(pa.table({"uid": [m["uid"] for m in metas], "score": [0.9, 0.9] + [0.1] * (len(metas) - 2)}),
                   res / "arxiv" / "scores" / "00000.parquet")
    final = res / "final" / "arxiv"
    with ShardWriter(final, name_format="{:08d}.tar") as w:
        for (_, m), meta in list(zip(samples, metas))[3:]:
            w.write(f"{meta['uid']}-0", {"jpg": m["jpg"], "txt": m["txt"], "json": m["json"]})
    (final / "meta.json").write_text(json.dumps({"output_count": len(metas) - 3, "output_shard_count": 1}))
    return res, metas


def _svg_texts(path) -> list[str]:
    """The text matplotlib draws, from the comments it puts before each glyph group."""
    return re.findall(r"<!-- (.*?) -->", path.read_text())


def test_grid_shows_final_samples_and_marks_the_removed(results, tmp_path):
    res, metas = results
    make_report_figures(res, tmp_path, ["arxiv"], 0.75, thumbnails=100)
    page = (tmp_path / "samples.html").read_text()
    final_part, removed_part = page.split("Removed by decontamination")
    captions = [m["caption"] for m in metas]
    import html
    assert all(html.escape(c) not in final_part for c in captions[:3])  # removed: not among the final samples
    assert all(html.escape(c) in final_part for c in captions[3:] if c not in captions[:3])
    assert final_part.count("<figure>") == len(metas) - 3
    assert removed_part.count("<figure class='removed'>") == 3
    assert removed_part.count("near-duplicate of an evaluation image (score 0.90)") == 2
    assert "exact duplicate" in removed_part


def test_counts_table_comes_first_with_every_reason(results, tmp_path):
    res, metas = results
    made = make_report_figures(res, tmp_path, ["arxiv"], 0.75)
    assert made[0].name == "counts.html"
    table = (tmp_path / "counts.html").read_text()
    rows = dict(re.findall(r"<tr><td>(.*?)</td><td class='n'>(.*?)</td></tr>", table))
    stats = json.loads((res / "stats" / "arxiv.json").read_text())
    assert rows["papers seen"] == str(stats["items_seen"]) and rows["figures found"] == str(stats["candidates_found"])
    assert rows["&nbsp;&nbsp;skipped: corrupt_gzip"] == "1"
    assert rows["&nbsp;&nbsp;removed: near-duplicate of an evaluation image"] == "2"
    assert rows["&nbsp;&nbsp;removed: exact duplicate"] == "1"
    assert rows["<b>samples kept</b>"] == str(len(metas) - 3)
    assert "results/final/arxiv" in table


def test_count_axes_have_integer_ticks_and_months_are_chronological(results, tmp_path):
    res, _ = results
    make_report_figures(res, tmp_path, ["arxiv"], 0.75)
    for name in ("caption_lengths.svg", "samples_per_unit.svg", "skip_reasons.svg", "decontamination_scores.svg"):
        ticks = [t for t in _svg_texts(tmp_path / name) if re.fullmatch(r"[\d.]+", t)]
        scores = {"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"} if name.startswith("decontamination") else set()
        fractional = [t for t in ticks if "." in t and t not in scores]  # only the score axis has fractions
        assert ticks and not fractional, (name, fractional)
    texts = _svg_texts(tmp_path / "samples_per_unit.svg")
    months = [t for t in texts if t in ("9901", "2001", "2002")]
    assert months == ["9901", "2001", "2002"]
    assert sorted(["2001", "9901", "0703", "2512"], key=month_key) == ["9901", "0703", "2001", "2512"]


def test_each_source_is_labelled_in_its_own_nouns(results, tmp_path):
    """cc's items are images, its candidates texts, its units groups of crawl files: no "per batch", no
    "(article)" on a web column (the nouns come from the stats, as ``sciclip stats`` records them)."""
    from sciclip.shards.stats import dataset_stats

    res = tmp_path / "results"
    shutil.copytree(results[0], res)
    unit = res / "cc" / "shards" / "CC-MAIN-2024-22_00000"
    unit.mkdir(parents=True)
    (unit / "stats.json").write_text(json.dumps({"items_seen": 5, "candidates_found": 7, "samples_written": 3,
                                                 "skipped_items": {"opted_out": 2},
                                                 "skipped_candidates": {"balanced_out": 4}}))
    (res / "stats" / "cc.json").write_text(json.dumps(dataset_stats([unit], source="cc")))
    make_report_figures(res, tmp_path / "out", ["arxiv", "cc"], 0.75)
    table = (tmp_path / "out" / "counts.html").read_text()
    assert "<td>papers / images seen</td><td class='n'>" in table and "<td>figures / texts found</td>" in table
    per_unit = _svg_texts(tmp_path / "out" / "samples_per_unit.svg")
    assert "cc: samples extracted per unit of crawl files" in per_unit and "arxiv: samples extracted per month" in per_unit
    assert not [t for t in per_unit if "batch" in t]
    skips = _svg_texts(tmp_path / "out" / "skip_reasons.svg")
    assert {"opted_out (image)", "balanced_out (text)", "corrupt_gzip (paper)"} <= set(skips)
    assert not [t for t in skips if "(article)" in t]


def test_report_workflow_page_includes_the_counts():
    from tests.conftest import ROOT
    text = (ROOT / "workflow" / "report" / "workflow.rst").read_text()
    assert "counts.html" in text and ".. raw:: html" in text
    smk = (ROOT / "workflow" / "rules" / "report.smk").read_text()
    assert set(re.findall(r'category="([^"]+)"', smk)) == {"Results"}  # one click from the menu


def test_report_errors_are_one_line(results, tmp_path):
    r = run_cli("report-figures", "--results", str(tmp_path / "none"), "--out", str(tmp_path / "o"))
    assert r.returncode == 1 and r.stderr.strip().startswith(f"sciclip: error: {tmp_path / 'none'}: no such")
    res, _ = results
    broken = tmp_path / "broken"
    shutil.copytree(res, broken)
    (broken / "stats" / "arxiv.json").write_text("{not json")
    r = run_cli("report-figures", "--results", str(broken), "--out", str(tmp_path / "o"), "--sources", "arxiv")
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith(f"sciclip: error: {broken / 'stats' / 'arxiv.json'}: not ")
