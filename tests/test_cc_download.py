"""img2dataset driven in the download job's own process (one process): no child process, the same outcomes
as ``img2dataset.download`` (opt-outs for everyone or for our user agent token, 404s), and its
incremental resume (a shard whose stats file exists is not fetched again). Then ``cc unit`` on such a
download: its caption limit is the configured ``cc.min_text_chars``."""

from __future__ import annotations

import io
import json
import multiprocessing.process
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from sciclip.sources.cc.download import DownloadOptions, run_img2dataset, write_url_list
from sciclip.sources.cc.i2d_shards import iter_downloads

NAMES = ["a.png", "b.png", "gone.png", "ours.png", "theirs.png"]


def _png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (side % 256, 40, 90)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def web(tmp_path) -> Path:
    root = tmp_path / "web"
    (root / "img.test").mkdir(parents=True)
    for i, name in enumerate(NAMES):
        if name != "gone.png":
            (root / "img.test" / name).write_bytes(_png(40 + i))
    (root / "headers.json").write_text(json.dumps({"img.test/ours.png": {"X-Robots-Tag": "sciclip: noai"},
                                                   "img.test/theirs.png": {"X-Robots-Tag": "otherbot: noimageai"}}))
    return root


def _text(text: str, entry: int) -> dict:
    return {"text": text, "attr": "alt", "entry_ids": [entry], "page_url": "http://page.test/", "crawl": "CC-X",
            "warc_filename": "w.warc.gz", "warc_record_offset": 7 + entry, "warc_record_length": 100}


def _url_list(tmp_path: Path) -> Path:
    records = [{"url": f"http://img.test/{n}", "texts": [_text(f"text {n}", i), _text("dog", i)]}
               for i, n in enumerate(NAMES)]
    path = tmp_path / "urls.parquet"
    write_url_list(records, path)
    return path


def _outcomes(out: Path) -> dict[str, str | None]:
    return {d.url.rsplit("/", 1)[1]: d.failure for d in iter_downloads(out)}


def _content(out: Path) -> tuple:
    """Everything img2dataset wrote but timings and tar mtimes."""
    tables = [pq.read_table(p).sort_by("key").to_pylist() for p in sorted(out.glob("*.parquet"))]
    members = []
    for tar in sorted(out.glob("*.tar")):
        with tarfile.open(tar) as tf:
            members += sorted((m.name, tf.extractfile(m).read()) for m in tf if m.isfile())
    stats = [{k: v for k, v in json.loads(p.read_text()).items() if k not in ("start_time", "end_time", "duration")}
             for p in sorted(out.glob("*_stats.json"))]
    return tables, members, stats


def _no_children(monkeypatch) -> None:
    import img2dataset.downloader  # noqa: F401 - imported first: its import (torch) runs ldconfig

    def refuse(*a, **k):
        raise AssertionError("the one-process download started a child process")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)


def test_one_process_downloads_here_with_opt_outs_and_token(web, tmp_path, monkeypatch):
    _no_children(monkeypatch)
    out = tmp_path / "out"
    out.mkdir()
    opts = DownloadOptions(processes=1, threads=3, timeout_s=5, retries=0, samples_per_shard=2, serve=str(web))
    run_img2dataset(_url_list(tmp_path), out, opts)
    assert _outcomes(out) == {"a.png": None, "b.png": None, "gone.png": "http_404", "ours.png": "opted_out",
                              "theirs.png": None}  # "otherbot:" addresses another crawler
    assert sorted(p.name for p in out.iterdir()) == ["00000.parquet", "00000.tar", "00000_stats.json",
                                                    "00001.parquet", "00001.tar", "00001_stats.json",
                                                    "00002.parquet", "00002.tar", "00002_stats.json"]  # no _tmp
    d = next(d for d in iter_downloads(out) if d.url.endswith("/b.png"))
    assert d.read() == (web / "img.test" / "b.png").read_bytes()  # originals: re-encoding off
    assert d.record["texts"][0]["text"] == "text b.png"


def test_one_process_resumes_only_the_missing_shards(web, tmp_path, monkeypatch):
    import sciclip.sources.cc.serve as serve

    seen: list[list[str]] = []
    real = serve.LocalWeb.__init__

    def recording(self, root):
        real(self, root)
        seen.append(self.requests)

    monkeypatch.setattr(serve.LocalWeb, "__init__", recording)
    out = tmp_path / "out"
    out.mkdir()
    opts = DownloadOptions(processes=1, threads=2, timeout_s=5, retries=0, samples_per_shard=2, serve=str(web))
    urls = _url_list(tmp_path)
    run_img2dataset(urls, out, opts)
    first = _content(out)
    for p in out.glob("00001*"):  # a job killed while writing its second shard
        p.unlink()
    run_img2dataset(urls, out, opts)
    assert sorted(seen[1]) == ["img.test/gone.png", "img.test/ours.png"]  # shard 1 only
    assert _content(out) == first


@pytest.mark.slow  # img2dataset.download spawns a logger and two workers, each re-importing img2dataset
def test_one_process_writes_what_img2dataset_download_writes(web, tmp_path):
    urls = _url_list(tmp_path)
    here, spawned = tmp_path / "here", tmp_path / "spawned"
    for out, processes in ((here, 1), (spawned, 2)):
        out.mkdir()
        run_img2dataset(urls, out, DownloadOptions(processes=processes, threads=2, timeout_s=5, retries=1,
                                                   samples_per_shard=2, serve=str(web)))
    assert _content(here) == _content(spawned)


@pytest.mark.parametrize(("limit", "short_kept"), [(1, True), (4, False)])
def test_cc_unit_caption_limit_is_min_text_chars(web, tmp_path, limit, short_kept):
    from sciclip.cli import main
    from tests.conftest import read_dir

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    run_img2dataset(_url_list(tmp_path), downloads, DownloadOptions(processes=1, threads=2, timeout_s=5, retries=0,
                                                                    serve=str(web)))
    (tmp_path / "units.tsv").write_text("unit\tmembers\nu0\tu0\n")
    np.save(tmp_path / "counts.npy", np.ones(len(NAMES), dtype=np.uint64))  # far below t: no balancing out
    argv = ["cc", "unit", "--units", tmp_path / "units.tsv", "--unit", "u0", "--downloads", downloads,
            "--counts", tmp_path / "counts.npy", "--min-text-chars", limit, tmp_path / "shards"]
    assert main([str(a) for a in argv]) == 0
    captions = sorted(s["caption"] for s in read_dir(tmp_path / "shards"))
    long = ["text a.png", "text b.png", "text theirs.png"]
    assert captions == sorted(long + ["dog"] * 3 if short_kept else long)
    skipped = json.loads((tmp_path / "shards" / "stats.json").read_text())["skipped_candidates"]
    assert skipped.get("caption_too_short", 0) == (0 if short_kept else 3)
