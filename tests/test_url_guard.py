"""URLs from crawled data reach public addresses only: the address check over every range and spelling (pure:
no packet), the connection layer (one resolution, then that very address), and end to end: a crawled page
naming a server on this machine in any spelling makes neither the cc download nor ``sciclip docs web
--fetch-images`` send it a request, nor does a redirect from an allowed server; an explicit option lets tests
in. Servers bind to loopback only; every other address here is data, never connected to."""

from __future__ import annotations

import io
import json
import socket
import urllib.error
import urllib.request
from ipaddress import ip_address

import pytest
from PIL import Image as PILImage

from sciclip.sources.cc.guarded_urllib import (
    POLICY_ENV,
    connect_checked,
    guarded_opener,
    install_from_env,
    policy_env,
)
from sciclip.sources.cc.i2d_shards import failure_reason
from sciclip.sources.cc.public_address import AddressPolicy, PrivateAddressError, literal_address, refusal
from tests.servers import RecordingHTTP

REFUSED = [  # (address, why it is no public address)
    ("127.0.0.1", "loopback"), ("127.255.255.254", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("172.31.255.255", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"), ("169.254.0.1", "link-local"), ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"), ("100.64.0.1", "carrier-grade"), ("100.127.255.254", "carrier-grade"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"), ("ff0e::1", "multicast"),
    ("240.0.0.1", "private"), ("255.255.255.255", "private"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("0.1.2.3", "private"), ("192.0.0.8", "IETF"), ("192.0.2.1", "private"), ("198.18.0.1", "private"),
    ("198.51.100.7", "private"), ("203.0.113.9", "private"), ("fc00::1", "private"), ("fd12:3456::1", "private"),
    ("fec0::1", "site-local"), ("2001:db8::1", "private"), ("2001::1", "Teredo"),
    ("::ffff:127.0.0.1", "IPv4-mapped 127.0.0.1: loopback"), ("::ffff:10.0.0.1", "IPv4-mapped 10.0.0.1: private"),
    ("::ffff:169.254.169.254", "IPv4-mapped 169.254.169.254: link-local"),
    ("::ffff:100.64.0.1", "IPv4-mapped 100.64.0.1: shared"), ("::127.0.0.1", "IPv4-compatible"),
    ("::8.8.8.8", "IPv4-compatible"), ("2002:7f00:1::1", "6to4 127.0.0.1: loopback"),
    ("2002:a9fe:a9fe::", "6to4 169.254.169.254"), ("64:ff9b::a00:1", "NAT64 10.0.0.1: private"),
    ("64:ff9b::7f00:1", "NAT64 127.0.0.1"), ("64:ff9b:1::1", "local-use NAT64"),
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.32.0.1", "11.0.0.1",
          "2606:4700:4700::1111", "2a00:1450:4001::1", "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"]

SPELLINGS = [  # (host as a URL writes it, the address the C resolver reads it as)
    ("127.0.0.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("017700000001", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"), ("0x7f.0.0.1", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("0177.0.0.01", "127.0.0.1"),
    ("127.1", "127.0.0.1"), ("127.0.1", "127.0.0.1"), ("0x7F.1", "127.0.0.1"), ("127.1.2.3", "127.1.2.3"),
    ("2852039166", "169.254.169.254"), ("0xa9fea9fe", "169.254.169.254"), ("0251.0376.0251.0376", "169.254.169.254"),
    ("169.254.43518", "169.254.169.254"), ("10.1", "10.0.0.1"), ("0", "0.0.0.0"), ("0x0", "0.0.0.0"),
    ("[::1]", "::1"), ("::1", "::1"), ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"), ("[::ffff:7f00:1]", "::ffff:127.0.0.1"),
    ("[0:0:0:0:0:ffff:7f00:0001]", "::ffff:127.0.0.1"), ("[::127.0.0.1]", "::127.0.0.1"),
    ("[fe80::1%25eth0]", None), ("[fd00::1]", "fd00::1"), ("[::ffff:a9fe:a9fe]", "::ffff:169.254.169.254"),
]


def no_resolver(host: str, port: int):
    raise AssertionError(f"the resolver was asked for {host}: a literal address needs none")


def fake_resolver(table: dict[str, list[str]]):
    """getaddrinfo's answers from a table; records each question (nothing is sent)."""
    asked: list[str] = []

    def resolve(host: str, port: int):
        asked.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in table[host]]
    resolve.asked = asked
    return resolve


@pytest.mark.parametrize(("address", "why"), REFUSED, ids=[a for a, _ in REFUSED])
def test_every_non_public_range_is_refused_with_its_reason(address, why):
    assert why in (refusal(ip_address(address)) or "")
    with pytest.raises(PrivateAddressError, match=f"^private_address: {address} is "):
        AddressPolicy(resolver=no_resolver).addresses(address, 80)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert refusal(ip_address(address)) is None
    assert AddressPolicy(resolver=no_resolver).addresses(address, 443) == [ip_address(address)]


@pytest.mark.parametrize(("host", "address"), SPELLINGS, ids=[h for h, _ in SPELLINGS])
def test_every_spelling_of_an_address_is_read_as_the_resolver_reads_it_and_refused(host, address):
    literal = literal_address(host.replace("%25", "%"))
    if address is not None:
        assert literal == ip_address(address)
    with pytest.raises(PrivateAddressError):
        AddressPolicy(resolver=no_resolver).addresses(host.replace("%25", "%"), 80)


def test_the_spellings_are_the_c_resolvers_own():
    """What ``literal_address`` reads a numeric host as is what ``getaddrinfo`` connects to (numeric hosts
    only: no lookup, no packet)."""
    for host, address in SPELLINGS:
        bare = host.strip("[]").replace("%25", "%")
        if address is None:
            continue
        info = socket.getaddrinfo(bare, 80, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        assert {ip_address(i[4][0]) for i in info} == {ip_address(address)}, host


@pytest.mark.parametrize("host", ["example.com", "127.0.0.1.evil.test", "1.2.3.4 x", "08.1.2.3", "1.2.3.256",
                                  "4294967296", "0x", "127.0.0.1.", "xn--80ak6aa92e.com"])
def test_names_and_non_numbers_go_to_the_resolver(host):
    assert literal_address(host) is None


def test_names_are_judged_by_every_address_they_resolve_to():
    resolve = fake_resolver({"metadata.test": ["169.254.169.254"], "intranet.test": ["10.0.0.5"],
                             "both.test": ["93.184.216.34", "192.168.0.7"], "v6.test": ["::ffff:127.0.0.1"],
                             "public.test": ["93.184.216.34", "2606:2800:220:1::1"]})
    policy = AddressPolicy(resolver=resolve)
    for host, shown in (("metadata.test", "169.254.169.254"), ("intranet.test", "10.0.0.5"),
                        ("both.test", "192.168.0.7"), ("v6.test", "::ffff:7f00:1")):
        with pytest.raises(PrivateAddressError, match=f"{host} is {shown}"):
            policy.addresses(host, 80)
    assert policy.addresses("public.test", 80) == [ip_address("93.184.216.34"), ip_address("2606:2800:220:1::1")]
    assert AddressPolicy(allow_private=True, resolver=resolve).addresses("intranet.test", 80) == [
        ip_address("10.0.0.5")]
    with pytest.raises(socket.gaierror):
        policy.addresses("nowhere.test", 80)
    assert resolve.asked == ["metadata.test", "intranet.test", "both.test", "v6.test", "public.test",
                             "intranet.test", "nowhere.test"]  # once per connection, literals never


def test_an_allowed_endpoint_is_exactly_that_address_and_port():
    policy = AddressPolicy(resolver=no_resolver).allowing("127.0.0.1", 8080)
    assert policy.addresses("127.0.0.1", 8080) == [ip_address("127.0.0.1")]
    assert policy.addresses("2130706433", 8080) == [ip_address("127.0.0.1")]  # the same address, spelled otherwise
    for host, port in (("127.0.0.1", 8081), ("127.0.0.2", 8080), ("[::1]", 8080)):
        with pytest.raises(PrivateAddressError):
            policy.addresses(host, port)


def test_the_skip_reason_comes_from_the_refusal_only():
    err = str(urllib.error.URLError(PrivateAddressError("2130706433", ip_address("127.0.0.1"), "loopback")))
    assert failure_reason("failed_to_download", err) == "private_address"
    assert failure_reason("failed_to_download", "HTTP Error 500: private_address: a is b") == "http_500"
    assert failure_reason("failed_to_download", "<urlopen error [Errno 111] Connection refused>") == "download_failed"


def test_the_connection_goes_to_the_address_checked_without_a_second_lookup(monkeypatch):
    """DNS answers once: the connection is made to that numeric address, so a second answer (rebinding)
    never matters; a refused name is never connected to."""
    server = RecordingHTTP({"/x": b"ok"})
    try:
        answers = iter([["127.0.0.1"], ["10.9.9.9"]])
        asked = []

        def rebinding(host, port):
            asked.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in next(answers)]

        real = socket.getaddrinfo

        def numeric_only(host, *args, **kwargs):
            assert ip_address(host), host  # create_connection gets the checked address, never the name
            return real(host, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
        sock = connect_checked(("rebind.test", server.port), 5, policy=AddressPolicy(resolver=rebinding).allowing(
            "127.0.0.1", server.port))
        sock.close()
        assert asked == ["rebind.test"]
        with pytest.raises(PrivateAddressError, match="rebind.test is 10.9.9.9"):
            connect_checked(("rebind.test", server.port), 5, policy=AddressPolicy(resolver=rebinding))
    finally:
        server.stop()


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (200, 160), (seed * 40 % 256, 90, 30)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture()
def loopback_web():
    """Two servers on loopback (127.0.0.1 and 127.1.2.3) and image URLs naming them in every spelling."""
    files = {f"/{n}.png": _png(n) for n in range(8)}
    a, b = RecordingHTTP(files), RecordingHTTP(files, host="127.1.2.3")
    urls = [f"http://127.0.0.1:{a.port}/0.png", f"http://2130706433:{a.port}/1.png",
            f"http://127.1.2.3:{b.port}/2.png", f"http://[::ffff:127.0.0.1]:{a.port}/3.png",
            f"http://0x7f.0.0.1:{a.port}/4.png", f"http://0177.0.0.1:{a.port}/5.png", f"http://127.1:{a.port}/6.png",
            f"http://[::ffff:127.1.2.3]:{b.port}/7.png"]
    yield urls, a, b
    a.stop()
    b.stop()


def _crawled_rows(tmp_path, urls: list[str]):
    """The rows ``cc parse`` takes from a crawled page whose images are ``urls``."""
    from sciclip.sample.crawl_files import Image, Page, crawl_files
    from sciclip.sources.cc.archive import parse_file

    page = Page("http://evil.test/page.html", [Image(u, alt=f"A dog photo {i}") for i, u in enumerate(urls)])
    (tmp_path / "x.warc.gz").write_bytes(crawl_files([page], "x.warc.gz", "x.warc.wat.gz").warc)
    rows, _ = parse_file(tmp_path / "x.warc.gz")
    return rows


def _download(tmp_path, rows, name: str, **opts) -> dict:
    from sciclip.sources.cc.download import (
        DownloadOptions,
        downloaded_counts,
        run_img2dataset,
        write_url_list,
    )

    records = [{"url": r.url, "texts": [{"text": r.text, "entry_ids": [0]}]} for r in rows]
    write_url_list(records, tmp_path / f"{name}.parquet")
    out = tmp_path / name
    out.mkdir()
    o = DownloadOptions(threads=4, timeout_s=5, retries=0, min_size=8, **opts)
    run_img2dataset(tmp_path / f"{name}.parquet", out, o)
    return downloaded_counts(out, 1, o)[1]


@pytest.mark.parametrize("processes", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_a_crawled_page_naming_this_machine_gets_no_request_from_the_cc_download(loopback_web, tmp_path, processes):
    """In this process (one img2dataset process) and in img2dataset's spawned workers (two): each spelling of
    a loopback address is refused before any connection, counted as ``private_address``."""
    urls, a, b = loopback_web
    rows = _crawled_rows(tmp_path, urls)
    assert [r.url for r in rows] == urls
    status = _download(tmp_path, rows, "refused", processes=processes)
    assert status == {"private_address": len(urls)}
    assert a.requests == [] and b.requests == []
    # the explicit option lets the same URLs through (this is what the 0 above means)
    status = _download(tmp_path, rows, "allowed", processes=processes, allow_private_addresses=True)
    assert status.get("usable", 0) >= 6  # the two [::ffff:...] forms need IPv6 sockets, which a host may lack
    assert {"/0.png", "/1.png", "/4.png", "/5.png", "/6.png"} <= set(a.requests) and "/2.png" in b.requests


def test_a_crawled_page_naming_this_machine_gets_no_request_from_docs_web(loopback_web, tmp_path):
    from tests.conftest import call_cli
    from tests.docs_web_fixture import PROSE, write_pages

    urls, a, b = loopback_web
    images = "".join(f'<img src="{u}" alt="photo {i}">' for i, u in enumerate(urls))
    html = (f"<html><head><title>Evil</title></head><body><h1>Evil</h1><p>{PROSE[0]} {PROSE[1]}</p>{images}"
            f"<p>{PROSE[2]} {PROSE[3]}</p></body></html>").encode()
    write_pages(tmp_path / "p.warc.gz", [("http://evil.test/page.html", html)], {})
    code, _, err = call_cli("docs", "web", str(tmp_path / "p.warc.gz"), str(tmp_path / "out"), "--fetch-images",
                            "--fetch-retries", "0", "--fetch-timeout-s", "5", "--image-min-side", "8")
    assert code == 0, err
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["skipped_images"] == {"image_private_address": len(urls)}
    assert a.requests == [] and b.requests == []
    code, _, err = call_cli("docs", "web", str(tmp_path / "p.warc.gz"), str(tmp_path / "allowed"), "--fetch-images",
                            "--fetch-retries", "0", "--fetch-timeout-s", "5", "--image-min-side", "8",
                            "--allow-private-addresses")
    assert code == 0, err
    stats = json.loads((tmp_path / "allowed" / "stats.json").read_text())
    assert "image_private_address" not in stats["skipped_images"] and stats["images"] >= 6
    assert {"/0.png", "/1.png", "/4.png", "/5.png", "/6.png"} <= set(a.requests) and "/2.png" in b.requests


def test_a_redirect_to_a_private_address_is_refused_at_the_hop(tmp_path):
    """The first server is let through by name (its exact endpoint); its redirects to the second loopback
    server, in several spellings, are refused when that hop connects: the second server sees nothing. A
    redirect back to the allowed endpoint is followed, one to a file: URL is not."""
    target = RecordingHTTP({"/secret.png": _png(1)})
    t = target.port
    hops = {"/r0": f"http://127.0.0.1:{t}/secret.png", "/r1": f"http://2130706433:{t}/secret.png",
            "/r2": f"http://[::ffff:127.0.0.1]:{t}/secret.png", "/r3": f"http://127.1:{t}/secret.png",
            "/r5": "file:///etc/passwd"}
    first = RecordingHTTP({"/ok.png": _png(2)}, {**hops, "/r4": "/ok.png"})
    try:
        from sciclip.sources.cc.download import DownloadOptions, run_img2dataset, write_url_list
        from sciclip.sources.cc.i2d_shards import iter_downloads

        policy = AddressPolicy().allowing("127.0.0.1", first.port)
        urls = [f"http://127.0.0.1:{first.port}/r{i}" for i in range(6)]
        write_url_list([{"url": u, "texts": [{"text": "t"}]} for u in urls], tmp_path / "u.parquet")
        (tmp_path / "out").mkdir()
        run_img2dataset(tmp_path / "u.parquet", tmp_path / "out", DownloadOptions(
            threads=2, timeout_s=5, retries=0, address_policy=policy))
        outcomes = {d.url.rsplit("/", 1)[1]: d.failure for d in iter_downloads(tmp_path / "out")}
        assert outcomes == {"r0": "private_address", "r1": "private_address", "r2": "private_address",
                            "r3": "private_address", "r4": None, "r5": "http_302"}
        assert target.requests == []
        assert sorted(first.requests) == ["/ok.png", "/r0", "/r1", "/r2", "/r3", "/r4", "/r5"]
        # the same opener outside img2dataset: the hop is refused before it connects
        with pytest.raises(urllib.error.URLError, match="private_address: 2130706433 is 127.0.0.1"):
            guarded_opener(policy).open(urls[1], timeout=5)
        assert target.requests == []
    finally:
        first.stop()
        target.stop()


def test_the_policy_travels_to_another_interpreter_through_the_environment(monkeypatch):
    server = RecordingHTTP({"/x.png": _png(3)})
    try:
        url = f"http://2130706433:{server.port}/x.png"
        monkeypatch.delenv(POLICY_ENV, raising=False)
        install_from_env()  # unset: public addresses only
        with pytest.raises(urllib.error.URLError, match="private_address"):
            urllib.request.urlopen(url, timeout=5)
        monkeypatch.setenv(POLICY_ENV, policy_env(AddressPolicy().allowing("127.0.0.1", server.port)))
        install_from_env()
        assert urllib.request.urlopen(url, timeout=5).read() == _png(3)
        assert server.requests == ["/x.png"]
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{server.port}")  # never taken from the environment
        with pytest.raises(urllib.error.URLError, match="private_address: 127.0.0.2"):
            urllib.request.urlopen(f"http://127.0.0.2:{server.port}/x.png", timeout=5)
        assert server.requests == ["/x.png"]
    finally:
        urllib.request.install_opener(None)
        server.stop()
