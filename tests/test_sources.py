"""The source interface, the registry, unit planning and config->flag translation: a toy source goes through
the shared job machinery, for both outputs (pairs, then the whole shard tail; documents), without any change
to shared code."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from sciclip.docs.model import ImageBlock, RawDocument, TextBlock
from sciclip.errors import SciclipError, Skip
from sciclip.sources.base import Candidate, Source, WorkItem
from sciclip.sources.registry import register, source_columns, sources, unregister
from sciclip.sources.units import (
    members_per_unit,
    plan_units,
    read_members,
    read_units,
    unit_members,
    write_units,
)
from tests.conftest import read_dir

# --- a source in a few lines: pages listed in JSON files, images beside them ------------------------------


class ToySource(Source):
    name = "toy"
    noun = "pages"
    candidate_noun = "images"
    item_error = "page_error"
    columns = {"page_url": "string"}

    def items(self, inputs, job, scratch):
        for f in inputs:
            for page in json.loads(f.read_text()):
                yield WorkItem(page["id"], (str(f.parent), page), 1)

    @staticmethod
    def _page(item):
        folder, page = item.payload
        if page.get("broken"):
            raise RuntimeError("cannot parse this page")
        if page.get("robots"):
            raise Skip("robots_disallowed")
        return Path(folder), page

    def candidates(self, item, scratch, result):
        folder, page = self._page(item)
        for i, img in enumerate(page["images"]):
            if img.get("tracking_pixel"):
                yield Skip("tracking_pixel", img["file"])
                continue
            path = folder / img["file"]
            yield Candidate(caption=img["alt"], image_path=path if path.is_file() else None, source_path=img["file"],
                            image_ref=img["file"], uid_parts=(page["id"], str(i)),
                            meta={"page_url": f"https://example.org/{page['id']}"})

    def documents(self, item, scratch, result):  # the page as one document: its title, each image, its alt text
        folder, page = self._page(item)
        blocks = [TextBlock(f"Page {page['id']} of the toy site", kind="title")]
        for img in page["images"]:
            result.candidates_found += 1
            if img.get("tracking_pixel"):
                result.skipped_images["tracking_pixel"] += 1
                continue
            path = folder / img["file"]
            blocks.append(ImageBlock(ref=img["file"], path=path if path.is_file() else None,
                                     missing="" if path.is_file() else "graphic_not_found"))
            blocks.append(TextBlock(img["alt"], kind="caption"))
        yield RawDocument(f"toy-{page['id']}", "toy", blocks, {"url": f"https://example.org/{page['id']}"})

    def provenance_url(self, meta):
        return f"{meta['page_url']}#{meta['source_path']}"


@pytest.fixture
def toy():
    register(ToySource)
    yield ToySource
    unregister("toy")


def _png(path: Path, colour, size=(80, 60)) -> None:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    path.write_bytes(buf.getvalue())


def _toy_unit(root: Path) -> Path:
    root.mkdir(parents=True)
    _png(root / "a.png", (200, 30, 30))
    _png(root / "b.png", (30, 200, 30))
    pages = [
        {"id": "p1", "images": [{"file": "a.png", "alt": "A red square on a page about colours"},
                                {"file": "px.gif", "alt": "pixel", "tracking_pixel": True}]},
        {"id": "p2", "images": [{"file": "b.png", "alt": "short"},
                                {"file": "missing.png", "alt": "An image the page links but the crawl lacks"},
                                {"file": "b.png", "alt": "A green square, the same file as above, longer caption"}]},
        {"id": "p3", "broken": True, "images": []},
        {"id": "p4", "robots": True, "images": []},
    ]
    (root / "pages.json").write_text(json.dumps(pages))
    return root / "pages.json"


def test_toy_source_runs_through_the_job_and_the_tail(toy, tmp_path):
    from sciclip.curate.dedup import build_subset
    from sciclip.shards.img2dataset import columns, convert
    from sciclip.shards.reshard import reshard
    from sciclip.shards.stats import dataset_stats, format_summary
    from sciclip.sources.job import extract_unit

    assert "toy" in sources() and source_columns()[-1] == "page_url"
    stats = extract_unit(ToySource(), [_toy_unit(tmp_path / "in")], tmp_path / "shards" / "u1", workers=2)
    assert (stats.source, stats.items_seen, stats.candidates_found, stats.samples_written) == ("toy", 4, 5, 2)
    assert stats.skipped_items == {"page_error": 1, "robots_disallowed": 1}
    assert stats.skipped_candidates == {"tracking_pixel": 1, "caption_too_short": 1, "graphic_not_found": 1}
    samples = read_dir(tmp_path / "shards")
    assert [s["meta"]["caption"] for s in samples] == ["A red square on a page about colours",
                                                       "A green square, the same file as above, longer caption"]
    meta = samples[0]["meta"]
    assert meta["source"] == "toy" and meta["page_url"] == "https://example.org/p1" and len(meta["uid"]) == 32
    assert {"sha256", "width", "height", "image_format", "source_path"} <= set(meta)
    assert "toy: 2 samples" in format_summary(dataset_stats(tmp_path / "shards", source="toy"))
    summary = format_summary(dataset_stats(tmp_path / "shards", source="toy"))  # the toy's nouns, read from its stats
    assert "pages seen 4 (2 with images, 2 with samples), images found 5" in summary
    assert "skipped pages: page_error 1, robots_disallowed 1" in summary
    assert "skipped images: caption_too_short 1, graphic_not_found 1, tracking_pixel 1" in summary

    convert([tmp_path / "shards" / "u1"], tmp_path / "i2d")
    assert "page_url" in columns()
    rows = [s["meta"] for s in read_dir(tmp_path / "i2d")]
    assert rows[0]["url"] == "https://example.org/p1#a.png" and rows[0]["page_url"] == "https://example.org/p1"
    build_subset(tmp_path / "i2d", None, 2.0, tmp_path / "subset.npy")
    reshard([tmp_path / "i2d"], tmp_path / "final", tmp_path / "subset.npy", shard_format="{:05d}.tar",
            shard_stats_format="{:05d}_stats.json")
    final = read_dir(tmp_path / "final")
    assert sorted(s["caption"] for s in final) == sorted(s["caption"] for s in samples)


def test_a_toy_unit_is_byte_identical_whatever_the_workers(toy, tmp_path):
    from sciclip.sources.job import extract_unit

    unit = _toy_unit(tmp_path / "in")
    extract_unit(ToySource(), [unit], tmp_path / "a", workers=1)
    extract_unit(ToySource(), [unit], tmp_path / "b", workers=2)
    assert (tmp_path / "a" / "00000.tar").read_bytes() == (tmp_path / "b" / "00000.tar").read_bytes()


def test_toy_source_gives_documents_through_the_same_job(toy, tmp_path):
    from sciclip.docs.reader import read_dir as read_documents
    from sciclip.sources.job import run_unit

    assert ToySource.outputs() == ("pairs", "documents") and sources()["commonpool"].outputs() == ("pairs",)
    unit = _toy_unit(tmp_path / "in")
    stats = run_unit(ToySource(), [unit], tmp_path / "docs" / "u1", "documents", workers=2)
    # the job's shared parts as for the pairs: the same items, the same skipped items, the source's nouns
    assert (stats.items_seen, stats.candidates_found, stats.documents) == (4, 5, 2)
    assert stats.skipped_items == {"page_error": 1, "robots_disallowed": 1}
    assert stats.skipped_images["tracking_pixel"] == 1 and stats.skipped_images["graphic_not_found"] == 1
    on_disk = json.loads((tmp_path / "docs" / "u1" / "stats.json").read_text())
    assert on_disk["nouns"]["item"] == "pages" and on_disk["documents"] == 2
    docs = {d.id: d for d in read_documents(tmp_path / "docs" / "u1")}
    assert sorted(docs) == ["toy-p1", "toy-p2"]
    p1 = docs["toy-p1"]
    assert p1.texts == ["Page p1 of the toy site", None, "A red square on a page about colours"]
    assert p1.n_images == 1 and p1.image_bytes[1][:2] == b"\xff\xd8"  # converted by the shared pipeline (JPEG)
    assert p1.general_metadata["url"] == "https://example.org/p1"
    again = run_unit(ToySource(), [unit], tmp_path / "docs" / "u2", "documents", workers=1)
    assert (again.documents, again.words, again.images) == (stats.documents, stats.words, stats.images)
    with pytest.raises(SciclipError, match="gives no documents"):
        run_unit(sources()["commonpool"](), [tmp_path / "in"], tmp_path / "docs" / "cp", "documents")


def test_registry_names_sources_in_a_fixed_order(toy):
    names = list(sources())
    assert names[:2] == ["arxiv", "pmc"] and names[-1] == "toy"
    assert sources()["pmc"].noun == "articles" and sources()["arxiv"].noun == "papers"


# --- units ------------------------------------------------------------------------------------------------


def test_units_are_runs_of_consecutive_members():
    names = [f"t{i:03d}" for i in range(7)]
    assert plan_units(names, 1) == {n: [n] for n in names}
    assert plan_units(names, 3) == {"t000_x3": names[:3], "t003_x3": names[3:6], "t006": ["t006"]}
    assert plan_units([], "auto") == {}


def test_auto_unit_size_keeps_the_stage_under_the_cap():
    assert members_per_unit(1500, "auto") == 1
    assert members_per_unit(1501, "auto") == 2
    assert members_per_unit(6000, "auto") == 4 and members_per_unit(7000, None) == 5
    assert len(plan_units([f"b{i:05d}" for i in range(7000)], "auto")) == 1400
    assert members_per_unit(10, "auto", max_units=3) == 4
    with pytest.raises(ValueError):
        members_per_unit(10, 0)


def test_unit_files_round_trip_and_errors_name_the_file(tmp_path):
    (tmp_path / "members.tsv").write_text("name\tsize\nb\t1\na\t2\nc\t3\n")
    members = read_members(tmp_path / "members.tsv")
    assert members == ["b", "a", "c"]  # file order, not sorted
    write_units(plan_units(members, 2), tmp_path / "units.tsv")
    assert read_units(tmp_path / "units.tsv") == {"b_x2": ["b", "a"], "c": ["c"]}
    assert unit_members(tmp_path / "units.tsv", "c") == ["c"]
    with pytest.raises(SciclipError, match="units.tsv: no unit 'zz'"):
        unit_members(tmp_path / "units.tsv", "zz")
    with pytest.raises(SciclipError, match="members.tsv: not a unit list"):
        read_units(tmp_path / "members.tsv")


# --- config keys -> flags ---------------------------------------------------------------------------------


def test_config_keys_become_flags_of_the_same_name():
    from sciclip.cli.config_flags import flag_list

    extract = {"max_size": 256, "resize": False, "raster_timeout_s": 30, "scratch_dir": None, "workers": 4,
               "not_an_option": 1}
    assert flag_list("arxiv unit", extract, exclude=("workers",)) == [
        "--max-size", "256", "--no-resize", "--raster-timeout-s", "30"]
    pmc = {"source": "s3://b", "layout": "cloud", "fig_types": [], "languages": ["en", "de"], "keep_downloads": True,
           "download": {"retries": 2, "backoff_s": 1.5, "threads": 3}}
    assert flag_list("pmc unit", pmc) == ["--source", "s3://b", "--layout", "cloud", "--languages", "en,de",
                                          "--keep-downloads", "--retries", "2", "--backoff-s", "1.5", "--threads", "3"]
    assert flag_list("arxiv download", {"requester_pays": False}) == ["--no-requester-pays"]
    assert flag_list("arxiv download", {"requester_pays": True}) == ["--requester-pays"]


def test_every_workflow_config_key_reaches_a_command_or_the_workflow():
    """Each key of the demo config is taken by a command's option of the same name, or read by the workflow."""
    import yaml

    from sciclip.cli.config_flags import _options
    from tests.conftest import ROOT

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    commands = {"arxiv": ["arxiv manifest", "arxiv select", "arxiv download", "arxiv unit"],
                "pmc": ["pmc list", "pmc unit"], "extract": ["arxiv unit", "pmc unit"],
                "img2dataset": ["convert-plan"], "decontamination": ["embed", "embed-eval", "filter"], "reshard": ["reshard"],
                "train": ["train"]}
    workflow_keys = {"enabled", "keep_tarballs", "keep_embeddings", "members_per_unit", "workers", "thresholds", "outputs", "run",
                     "data", "extra_data", "mem_mb", "runtime", "download"}
    for section, cmds in commands.items():
        taken = set().union(*(_options(c) for c in cmds))
        for key, value in config[section].items():
            keys = value.keys() if key == "download" else [key]
            for k in keys:
                assert k in taken or k in workflow_keys, f"{section}.{k} reaches no command"
