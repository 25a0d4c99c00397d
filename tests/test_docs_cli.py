"""`sciclip docs …` on the sample corpus, and the config <-> option names the workflow relies on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sciclip.cli.config_flags import _options, config_flags
from sciclip.docs.reader import read_dir
from tests.conftest import ROOT, expected_pairs, run_cli


def _docs_config() -> dict:
    from snakemake.utils import validate

    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    validate(cfg, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"), set_default=True)
    return cfg["docs"]


def test_every_docs_config_key_is_an_option_of_its_command():
    docs = _docs_config()
    images = {"max_image_documents": "docs removals", "removed_image_captions": "docs clean"}
    common = {k for k, v in docs.items() if not isinstance(v, dict)} - {"enabled", "report_documents", "report_seed",
                                                                         *images}
    assert common <= set(_options("docs unit")) and common <= set(_options("docs web"))
    for key, command in images.items():
        assert key in _options(command), key
    assert {"min_words", "min_images", "docs_per_shard", "formats"} <= set(_options("docs clean"))
    web = set(docs["web"]) - {"enabled", "warcs"}
    dedup = {k for k in web if k.startswith("dedup_")}
    assert web - dedup <= set(_options("docs web"))
    assert dedup <= set(_options("docs dedup"))
    flags = config_flags("docs web", docs["web"], exclude=("warcs", "enabled"))
    assert "--paragraph-min-stopwords 0.3" in flags and "--image-formats jpg,jpeg,png,webp" in flags
    assert "--fetch-images" in flags and "--doc-max-images 30" in flags


def test_docs_arxiv_on_the_sample_keeps_every_pair_at_its_figure(sample_tarballs, tmp_path):
    r = run_cli("docs", "arxiv", *map(str, sample_tarballs), str(tmp_path / "out"), "--workers", "2",
                env={"PYTHONPATH": str(ROOT / "src")})
    assert r.returncode == 0, r.stderr
    assert "documents" in r.stderr.splitlines()[-1]
    docs = list(read_dir(tmp_path / "out"))
    found = {}
    for d in docs:
        for i, m in enumerate(d.metadata):
            if m is None:
                continue
            # the figure's text: from this image to the first text after the figure's last image
            last = max(k for k, x in enumerate(d.metadata) if x and x["figure_index"] == m["figure_index"])
            end = next((k for k in range(last + 1, len(d.texts)) if d.texts[k] is not None), last)
            found[(d.general_metadata["paper_id"], m["source_path"])] = " ".join(
                t for t in d.texts[i + 1:end + 1] if t)
    for (paper, path), caption in expected_pairs().items():
        assert (paper, path) in found, (paper, path)
        # a pair's caption is "(a) subcaption. caption": both parts are in the figure's text
        for part in (caption.split(". ")[0], caption.split(". ")[-1]):
            assert part[:20] in found[(paper, path)], (paper, path, part, found[(paper, path)][:200])
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["skipped_items"] == {"corrupt_gzip": 1, "pdf_only": 1}
    assert stats["documents"] == len(docs) and stats["images"] >= len(expected_pairs())


def test_docs_unit_pmc_downloads_and_builds_documents(sample_dir, tmp_path):
    src = str(sample_dir / "pmc" / "cloud")
    r = run_cli("pmc", "list", "--source", src, "--layout", "cloud", "--out", str(tmp_path / "i.tsv"),
                "--batches", str(tmp_path / "b.tsv"), "--batch-size", "3")
    assert r.returncode == 0, r.stderr
    r = run_cli("units", "--members", str(tmp_path / "b.tsv"), "--out", str(tmp_path / "u.tsv"))
    assert r.returncode == 0, r.stderr
    r = run_cli("docs", "unit", "--source", "pmc", "--units", str(tmp_path / "u.tsv"), "--unit", "b00000",
                "--index", str(tmp_path / "i.tsv"), "--downloads", str(tmp_path / "dl"), "--remote", src,
                "--figure-placement", "first_ref", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "dl").exists()  # downloads go unless kept
    docs = list(read_dir(tmp_path / "out"))
    assert docs and all(d.general_metadata["pmcid"].startswith("PMC") for d in docs)
    assert sum(d.n_images for d in docs) >= 1
    r = run_cli("docs", "stats", str(tmp_path / "out"), "--source", "pmc", "--out", str(tmp_path / "s.json"))
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["documents"] == len(docs) and s["words_per_document"]["count"] == len(docs)
    r = run_cli("docs", "render", str(tmp_path / "out"), "--n", "2", "--out", str(tmp_path / "page.html"))
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "page.html").read_text()
    assert page.count("<article>") == 2 and "data:image/jpeg;base64," in page


@pytest.mark.parametrize("args, message", [
    (["unit", "--source", "arxiv", "--units", "{u}", "--unit", "a", "{o}"], "--source arxiv needs --inputs"),
    (["unit", "--source", "pmc", "--units", "{u}", "--unit", "a", "{o}"], "--source pmc needs --index"),
    (["unit", "--source", "arxiv", "--units", "{u}", "--unit", "zz", "--inputs", "x", "{o}"], "no unit 'zz'"),
    (["arxiv", "{u}", "{o}", "--formats", "csv"], "formats must be"),
    (["web", "{u}", "{o}", "--language", "en"], "--language needs --language-model"),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    units = tmp_path / "u.tsv"
    units.write_text("unit\tmembers\na\ta\n")
    r = run_cli("docs", *[a.format(u=units, o=tmp_path / "o") for a in args])
    assert r.returncode == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_docs_web_and_dedup_commands(tmp_path):
    from tests.docs_web_fixture import write_warc

    write_warc(tmp_path / "a.warc.gz")
    r = run_cli("docs", "web", str(tmp_path / "a.warc.gz"), str(tmp_path / "unit"), "--no-fetch-images")
    assert r.returncode == 0, r.stderr
    r = run_cli("docs", "dedup", str(tmp_path / "unit"), "--out", str(tmp_path / "dedup"), "--formats", "parquet",
                "--no-dedup-image-sets")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in Path(tmp_path / "dedup").iterdir()) == ["00000.parquet", "stats.json"]
    s = json.loads((tmp_path / "dedup" / "stats.json").read_text())
    assert "duplicate_image_set" not in s["skipped_documents"] and s["skipped_documents"]["duplicate_url"] == 1
