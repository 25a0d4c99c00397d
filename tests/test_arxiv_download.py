"""Manifest parsing and selection; downloads from a real S3 API on loopback (moto) that enforces requester
pays, from an HTTP mirror and from a local mirror; md5 checks, retries, atomicity."""

from __future__ import annotations

import hashlib

import pytest

from sciclip.errors import SciclipError
from sciclip.sources.arxiv.manifest import parse_manifest, read_selection, select_tarballs, write_selection
from sciclip.storage.remote import SourceSpec, fetch
from tests.conftest import run_cli
from tests.servers import RequesterPaysS3, StaticHTTP

MANIFEST = b"""<?xml version="1.0" encoding="UTF-8"?>
<arXivSRC>
<file><filename>src/arXiv_src_9912_001.tar</filename><size>500</size><md5sum>a</md5sum>
 <first_item>astro-ph9912001</first_item><last_item>quant-ph9912099</last_item><num_items>9</num_items>
 <seq_num>1</seq_num><timestamp>t</timestamp><yymm>9912</yymm></file>
<file><filename>src/arXiv_src_2001_002.tar</filename><size>600</size><md5sum>c</md5sum>
 <first_item>2001.00500</first_item><last_item>2001.00999</last_item><num_items>500</num_items>
 <seq_num>2</seq_num><timestamp>t</timestamp><yymm>2001</yymm></file>
<file><filename>src/arXiv_src_2001_001.tar</filename><size>700</size><md5sum>b</md5sum>
 <first_item>2001.00001</first_item><last_item>2001.00499</last_item><num_items>499</num_items>
 <seq_num>1</seq_num><timestamp>t</timestamp><yymm>2001</yymm></file>
<file><filename>src/arXiv_src_2002_001.tar</filename><size>800</size><md5sum>d</md5sum>
 <first_item>2002.00001</first_item><last_item>2002.00400</last_item><num_items>400</num_items>
 <seq_num>1</seq_num><timestamp>t</timestamp><yymm>2002</yymm></file>
</arXivSRC>
"""

GIB = 1 << 30


def names(entries):
    return [e.name for e in entries]


@pytest.fixture(scope="module")
def entries():
    return parse_manifest(MANIFEST)


def test_parse_manifest(entries):
    e = {x.name: x for x in entries}["arXiv_src_2001_001"]
    assert (e.filename, e.size, e.md5sum, e.first_item, e.num_items, e.seq_num, e.yymm) == (
        "src/arXiv_src_2001_001.tar", 700, "b", "2001.00001", 499, 1, "2001")


@pytest.mark.parametrize("start,end,expected", [
    (None, None, ["arXiv_src_9912_001", "arXiv_src_2001_001", "arXiv_src_2001_002", "arXiv_src_2002_001"]),
    ("2001", "2001", ["arXiv_src_2001_001", "arXiv_src_2001_002"]),
    ("9912", "2001", ["arXiv_src_9912_001", "arXiv_src_2001_001", "arXiv_src_2001_002"]),
    ("2001.00499", "2001.00500", ["arXiv_src_2001_001", "arXiv_src_2001_002"]),  # both ends inclusive
    ("2001.00500", None, ["arXiv_src_2001_002", "arXiv_src_2002_001"]),
    (None, "2001.00001", ["arXiv_src_9912_001", "arXiv_src_2001_001"]),
    ("quant-ph9912099", "quant-ph9912099", ["arXiv_src_9912_001"]),  # old style, last item
    ("hep-th9912050", "2001", ["arXiv_src_9912_001", "arXiv_src_2001_001", "arXiv_src_2001_002"]),
    ("2003", None, []),
])
def test_select_by_range(entries, start, end, expected):
    assert names(select_tarballs(entries, None, start, end)) == expected


def test_budget_and_explicit_list(entries):
    budget = 1900 / GIB  # 500 + 700 + 600 fit, 800 more does not
    assert names(select_tarballs(entries, budget)) == ["arXiv_src_9912_001", "arXiv_src_2001_001",
                                                       "arXiv_src_2001_002"]
    assert names(select_tarballs(entries, 100)) == names(select_tarballs(entries, None))
    assert names(select_tarballs(entries, None, tarballs=["src/arXiv_src_2002_001.tar", "arXiv_src_9912_001"])) == [
        "arXiv_src_9912_001", "arXiv_src_2002_001"]
    with pytest.raises(SciclipError, match="arXiv_src_1234_001"):
        select_tarballs(entries, None, tarballs=["arXiv_src_1234_001"])
    with pytest.raises(SciclipError, match="neither a month"):
        select_tarballs(entries, None, start="yesterday")


def test_selection_roundtrip(entries, tmp_path):
    write_selection(entries, tmp_path / "s.tsv")
    assert read_selection(tmp_path / "s.tsv") == entries


def test_manifest_xml_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    evil = (f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY s SYSTEM "file://{secret}">]>'
            "<arXivSRC><file><filename>src/arXiv_src_2001_001.tar</filename><size>1</size><md5sum>&s;</md5sum>"
            "<first_item>2001.00001</first_item><last_item>2001.00002</last_item><num_items>2</num_items>"
            "<seq_num>1</seq_num><yymm>2001</yymm></file></arXivSRC>").encode()
    try:
        parsed = parse_manifest(evil)
        assert "TOPSECRET" not in parsed[0].md5sum
    except SciclipError:
        pass  # refusing the document is fine too
    with pytest.raises(SciclipError, match="not a valid manifest"):
        parse_manifest(b"<arXivSRC><file>")


@pytest.fixture(scope="module")
def s3(sample_dir):
    import os
    old = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    server = RequesterPaysS3()
    client = server.client()
    client.create_bucket(Bucket="arxiv")
    for f in sorted((sample_dir / "arxiv" / "src").iterdir()):
        client.put_object(Bucket="arxiv", Key=f"src/{f.name}", Body=f.read_bytes())
    yield server
    server.stop()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def gate(s3):
    s3.state.requests.clear()
    s3.state.fail_next = 0
    return s3


def sample_md5(sample_dir, name):
    return hashlib.md5((sample_dir / "arxiv" / "src" / f"{name}.tar").read_bytes()).hexdigest()


@pytest.mark.slow
def test_s3_download_with_requester_pays(gate, sample_dir, tmp_path):
    spec = SourceSpec("s3://arxiv", requester_pays=True, endpoint_url=gate.endpoint)
    md5 = sample_md5(sample_dir, "arXiv_src_2001_001")
    out = fetch(spec, "src/arXiv_src_2001_001.tar", tmp_path / "t.tar", md5=md5, retries=0)
    assert hashlib.md5(out.read_bytes()).hexdigest() == md5
    gets = [r for r in gate.state.requests if r[0] in ("GET", "HEAD")]
    assert gets and all(payer == "requester" for _, _, payer in gets)


@pytest.mark.slow
def test_s3_without_requester_pays_is_refused(gate, tmp_path):
    spec = SourceSpec("s3://arxiv", requester_pays=False, endpoint_url=gate.endpoint)
    with pytest.raises(SciclipError, match="403|AccessDenied"):
        fetch(spec, "src/arXiv_src_2001_001.tar", tmp_path / "t.tar", retries=2, backoff_s=0.01)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_s3_md5_mismatch_leaves_no_output(gate, tmp_path):
    spec = SourceSpec("s3://arxiv", requester_pays=True, endpoint_url=gate.endpoint)
    with pytest.raises(SciclipError, match="md5 mismatch.*no output written"):
        fetch(spec, "src/arXiv_src_2001_001.tar", tmp_path / "t.tar", md5="0" * 32, retries=1, backoff_s=0.01)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_s3_transient_errors_are_retried(gate, sample_dir, tmp_path):
    gate.state.fail_next = 5  # more than botocore's own attempts: our backoff loop must carry on
    spec = SourceSpec("s3://arxiv", requester_pays=True, endpoint_url=gate.endpoint)
    md5 = sample_md5(sample_dir, "arXiv_src_9901_001")
    fetch(spec, "src/arXiv_src_9901_001.tar", tmp_path / "t.tar", md5=md5, retries=4, backoff_s=0.01)
    assert hashlib.md5((tmp_path / "t.tar").read_bytes()).hexdigest() == md5


@pytest.mark.slow
def test_s3_missing_key_fails_at_once(gate, tmp_path):
    spec = SourceSpec("s3://arxiv", requester_pays=True, endpoint_url=gate.endpoint)
    with pytest.raises(SciclipError, match="404|NoSuchKey|Not Found"):
        fetch(spec, "src/arXiv_src_7701_001.tar", tmp_path / "t.tar", retries=3, backoff_s=5)


@pytest.mark.slow
def test_cli_manifest_select_download_over_s3(gate, sample_dir, tmp_path):
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    r = run_cli("arxiv", "manifest", "--source", "s3://arxiv", "--endpoint-url", gate.endpoint,
                "--out", str(tmp_path / "m.xml"), env=env)
    assert r.returncode == 0, r.stderr
    r = run_cli("arxiv", "select", "--manifest", str(tmp_path / "m.xml"), "--out", str(tmp_path / "s.tsv"),
                "--start", "2001", "--end", "2001.00004")
    assert r.returncode == 0, r.stderr
    assert [e.name for e in read_selection(tmp_path / "s.tsv")] == ["arXiv_src_2001_001", "arXiv_src_2001_002"]
    r = run_cli("arxiv", "download", "--source", "s3://arxiv", "--endpoint-url", gate.endpoint,
                "--selection", str(tmp_path / "s.tsv"), "--tarball", "arXiv_src_2001_002",
                "--out", str(tmp_path / "t.tar"), env=env)
    assert r.returncode == 0, r.stderr
    assert hashlib.md5((tmp_path / "t.tar").read_bytes()).hexdigest() == sample_md5(sample_dir, "arXiv_src_2001_002")
    r = run_cli("arxiv", "download", "--source", "s3://arxiv", "--endpoint-url", gate.endpoint,
                "--no-requester-pays", "--key", "src/arXiv_src_2001_002.tar", "--out", str(tmp_path / "u.tar"),
                "--retries", "0", env=env)
    assert r.returncode != 0
    assert r.stderr.strip().splitlines()[-1].startswith("sciclip: error: s3://arxiv/src/arXiv_src_2001_002.tar")
    assert not (tmp_path / "u.tar").exists()


def test_http_and_local_mirrors(sample_dir, tmp_path):
    md5 = sample_md5(sample_dir, "arXiv_src_2001_002")
    server = StaticHTTP(str(sample_dir / "arxiv"))
    try:
        fetch(SourceSpec(server.url), "src/arXiv_src_2001_002.tar", tmp_path / "h.tar", md5=md5, retries=0)
        with pytest.raises(SciclipError, match="HTTP 404"):
            fetch(SourceSpec(server.url), "src/nothing.tar", tmp_path / "n.tar", retries=0)
    finally:
        server.stop()
    fetch(SourceSpec(f"file://{sample_dir / 'arxiv'}"), "src/arXiv_src_2001_002.tar", tmp_path / "f.tar", md5=md5)
    fetch(SourceSpec(str(sample_dir / "arxiv")), "src/arXiv_src_2001_002.tar", tmp_path / "l.tar", md5=md5)
    for name in ("h.tar", "f.tar", "l.tar"):
        assert hashlib.md5((tmp_path / name).read_bytes()).hexdigest() == md5
    with pytest.raises(SciclipError, match="no such file in the local mirror"):
        fetch(SourceSpec(str(sample_dir / "arxiv")), "src/missing.tar", tmp_path / "m.tar")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.tar", "h.tar", "l.tar"]
