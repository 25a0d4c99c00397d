"""The crawl index and file selection, and fetching crawl files: retries on 503 with backoff, resuming a cut
transfer with a Range request, the gzip check as bytes stream, a polite request rate, local mirrors and S3."""

from __future__ import annotations

import gzip
import http.server
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sciclip.errors import SciclipError
from sciclip.sources.cc.fetch import GzipCheck, Throttle, fetch_file
from sciclip.sources.cc.paths import (
    index_key,
    member_name,
    parse_index,
    read_selection,
    select,
    write_selection,
)
from sciclip.storage.remote import SourceSpec, TransientError
from tests.conftest import REALDATA, ROOT

WARC = (REALDATA / "warc" / "resiliparse-warcfile.warc.gz").read_bytes()


def test_index_keys_and_selection():
    assert index_key("CC-MAIN-2024-22", "wat") == "crawl-data/CC-MAIN-2024-22/wat.paths.gz"
    with pytest.raises(SciclipError, match="crawl id"):
        index_key("2024-22", "wat")
    with pytest.raises(SciclipError, match="kind"):
        index_key("CC-MAIN-2024-22", "wet")
    paths = [f"crawl-data/C/segments/s{i // 3}/wat/f{i:05d}.warc.wat.gz" for i in range(12)]
    assert [f.index for f in select("CC-MAIN-2024-22", paths, max_files=3)] == [0, 1, 2]
    assert [f.index for f in select("CC-MAIN-2024-22", paths, start=4, end=6)] == [4, 5, 6]
    assert [f.index for f in select("CC-MAIN-2024-22", paths, max_files=2, start=10, end=99)] == [10, 11]
    chosen = select("CC-MAIN-2024-22", paths, files=["f00007.warc.wat.gz", paths[2]])
    assert [f.index for f in chosen] == [2, 7] and chosen[0].member == "CC-MAIN-2024-22_00002"
    with pytest.raises(SciclipError, match="not in the crawl"):
        select("CC-MAIN-2024-22", paths, files=["nope"])
    with pytest.raises(SciclipError, match="empty range"):
        select("CC-MAIN-2024-22", paths, start=20)
    assert member_name("CC-MAIN-2024-22", 63999, 64000) == "CC-MAIN-2024-22_63999"
    names = [member_name("C", i, 200_000) for i in (5, 40, 100_000)]
    assert names == sorted(names) and names[0] == "C_000005"  # name order is index order
    with pytest.raises(SciclipError, match="gzipped path list"):
        parse_index(b"plain", "x")


def test_selection_round_trips(tmp_path):
    files = select("CC-MAIN-2024-22", ["a/b.warc.gz", "a/c.warc.gz"])
    write_selection(files, tmp_path / "files.tsv")
    assert list(read_selection(tmp_path / "files.tsv").values()) == files
    (tmp_path / "bad.tsv").write_text("x\ty\n")
    with pytest.raises(SciclipError, match="not a crawl file selection"):
        read_selection(tmp_path / "bad.tsv")


def test_gzip_check_streams_members():
    check = GzipCheck("f")
    for i in range(0, len(WARC), 777):
        check.feed(WARC[i:i + 777])
    check.finish()
    assert check.members == 50
    cut = GzipCheck("f")
    cut.feed(WARC[:-5])
    with pytest.raises(TransientError, match="ends inside member 50"):
        cut.finish()
    bad = bytearray(WARC)
    bad[5000] ^= 0xFF
    with pytest.raises(TransientError, match="corrupt gzip"):
        GzipCheck("f").feed(bytes(bad))
    plain = GzipCheck("f")
    plain.feed(b"WARC/1.0\r\n")
    plain.finish()


class _Crawl(http.server.BaseHTTPRequestHandler):
    """Serves WARC at any path; fails the first ``fail`` requests with 503, cuts the first full answer after
    ``cut`` bytes, honours Range; records (time, range) of every request."""

    fail = 0
    cut = 0
    body = WARC
    log: list

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        cls = type(self)
        cls.log.append((time.monotonic(), self.headers.get("Range"), self.headers.get("User-Agent")))
        if self.path.endswith("missing.gz"):
            return self.send_error(404)
        if cls.fail > 0:
            cls.fail -= 1
            self.send_response(503, "Slow Down")
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = int(self.headers["Range"].split("=")[1].rstrip("-")) if self.headers.get("Range") else 0
        data = cls.body[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if cls.cut and not start:
            self.wfile.write(data[:cls.cut])
            cls.cut = 0
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data)


@pytest.fixture
def crawl_server():
    handler = type("H", (_Crawl,), {"log": [], "fail": 0, "cut": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield handler, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_503_is_retried_with_backoff_then_the_file_is_checked_and_renamed(crawl_server, tmp_path):
    handler, url = crawl_server
    handler.fail = 2
    rep = fetch_file(SourceSpec(url, timeout_s=10), "crawl-data/x/f.warc.gz", tmp_path / "f.warc.gz", retries=3,
                     backoff_s=0.01, throttle=Throttle(0))
    assert rep.attempts == 3 and (tmp_path / "f.warc.gz").read_bytes() == WARC
    assert not list(tmp_path.glob("*.part")) and handler.log[0][2].startswith("sciclip")
    again = fetch_file(SourceSpec(url), "crawl-data/x/f.warc.gz", tmp_path / "f.warc.gz")
    assert again.reused and len(handler.log) == 3  # a complete file is never fetched again


def test_a_cut_transfer_resumes_with_a_range_request(crawl_server, tmp_path):
    handler, url = crawl_server
    handler.cut = 50_000
    rep = fetch_file(SourceSpec(url, timeout_s=10), "f.warc.gz", tmp_path / "f.warc.gz", retries=2, backoff_s=0.01,
                     throttle=Throttle(0))
    assert rep.resumed_from == 50_000 and (tmp_path / "f.warc.gz").read_bytes() == WARC
    assert [r for _, r, _ in handler.log] == [None, "bytes=50000-"]


def test_corrupt_or_missing_files_fail_with_the_reason(crawl_server, tmp_path):
    handler, url = crawl_server
    bad = bytearray(WARC)
    bad[5000] ^= 0xFF
    handler.body = bytes(bad)
    with pytest.raises(SciclipError, match="corrupt gzip data.*after 2 attempts"):
        fetch_file(SourceSpec(url), "f.warc.gz", tmp_path / "f.warc.gz", retries=1, backoff_s=0.01,
                   throttle=Throttle(0))
    assert not (tmp_path / "f.warc.gz").exists()
    with pytest.raises(SciclipError, match="HTTP 404"):
        fetch_file(SourceSpec(url), "missing.gz", tmp_path / "m.gz", throttle=Throttle(0))


def test_requests_are_paced(crawl_server, tmp_path):
    handler, url = crawl_server
    throttle = Throttle(5.0)
    for i in range(4):
        fetch_file(SourceSpec(url), f"f{i}.warc.gz", tmp_path / f"f{i}.warc.gz", throttle=throttle)
    starts = [t for t, _, _ in handler.log]
    assert min(b - a for a, b in zip(starts, starts[1:])) >= 0.19


def test_local_mirror_and_s3(tmp_path, monkeypatch):
    from tests.servers import RequesterPaysS3

    (tmp_path / "mirror" / "a").mkdir(parents=True)
    (tmp_path / "mirror" / "a" / "f.warc.gz").write_bytes(WARC)
    fetch_file(SourceSpec(str(tmp_path / "mirror")), "a/f.warc.gz", tmp_path / "local.warc.gz")
    assert (tmp_path / "local.warc.gz").read_bytes() == WARC
    (tmp_path / "mirror" / "a" / "cut.warc.gz").write_bytes(WARC[:-100])
    with pytest.raises(SciclipError, match="ends inside"):
        fetch_file(SourceSpec(str(tmp_path / "mirror")), "a/cut.warc.gz", tmp_path / "cut.warc.gz", retries=0)
    s3 = RequesterPaysS3()
    try:
        s3.state.require_requester_pays = False
        client = s3.client()
        client.create_bucket(Bucket="commoncrawl")
        client.put_object(Bucket="commoncrawl", Key="crawl-data/f.warc.gz", Body=WARC)
        for k, v in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                     ("AWS_DEFAULT_REGION", "us-east-1")):
            monkeypatch.setenv(k, v)
        s3.state.fail_next = 1
        rep = fetch_file(SourceSpec("s3://commoncrawl", endpoint_url=s3.endpoint), "crawl-data/f.warc.gz",
                         tmp_path / "s3.warc.gz", backoff_s=0.01, throttle=Throttle(0))
        assert (tmp_path / "s3.warc.gz").read_bytes() == WARC and rep.attempts >= 1
    finally:
        s3.stop()


def test_cli_list_reads_the_index_over_http(tmp_path, sample_dir):
    from tests.servers import StaticHTTP

    server = StaticHTTP(str(sample_dir / "cc"))
    try:
        out = tmp_path / "files.tsv"
        r = subprocess.run([sys.executable, "-m", "sciclip", "cc", "list", "--source", server.url, "--crawls",
                            "CC-MAIN-2024-22", "--kind", "warc", "--max-files", "1", "--out", str(out)],
                           capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""})
        assert r.returncode == 0, r.stderr
    finally:
        server.stop()
    (f,) = read_selection(out).values()
    assert f.member == "CC-MAIN-2024-22_00000" and f.path.endswith("00000.warc.gz") and "/warc/" in f.path
    assert gzip.decompress((sample_dir / "cc" / "crawl-data/CC-MAIN-2024-22/warc.paths.gz").read_bytes()).count(b"\n") == 2
    assert Path(sample_dir / "cc" / f.path).is_file()


def test_a_fetch_job_cut_off_leaves_no_unit_folder_and_its_rerun_resumes(crawl_server, tmp_path):
    """A unit's fetch job that fails midway (a cut transfer, no retry left) or is killed leaves no unit folder,
    only its temporary one, whose ``.part`` the next run resumes with a Range request."""
    from tests.conftest import call_cli

    handler, url = crawl_server
    files = select("CC-MAIN-2024-22", ["crawl-data/x/f.warc.gz"])
    write_selection(files, tmp_path / "files.tsv")
    (tmp_path / "units.tsv").write_text(f"unit\tmembers\nu0\t{files[0].member}\n")
    out = tmp_path / "crawl" / "u0"
    argv = ["cc", "fetch", "--source", url, "--selection", str(tmp_path / "files.tsv"), "--units",
            str(tmp_path / "units.tsv"), "--unit", "u0", "--retries", "0", "--requests-per-s", "1000",
            "--out-dir", str(out)]
    handler.cut = 50_000
    rc, _, err = call_cli(*argv)
    assert rc == 1 and not out.exists(), err
    assert (out.parent / ".u0.tmp" / "f.warc.gz.part").stat().st_size == 50_000
    rc, _, err = call_cli(*argv)
    assert rc == 0, err
    assert (out / "f.warc.gz").read_bytes() == WARC and [r for _, r, _ in handler.log] == [None, "bytes=50000-"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["u0"]
