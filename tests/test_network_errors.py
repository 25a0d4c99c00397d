"""Every S3/HTTP read retries with the same backoff and ends in one line (issue 27, item 7): PMC's listing of
s3://pmc-oa-opendata used to end in "internal error: EndpointConnectionError" at the first dropped connection.
Everything here talks to 127.0.0.1 only: a port nothing listens on."""

from __future__ import annotations

import socket

from tests.conftest import run_cli


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_pmc_listing_retries_a_dropped_connection_then_says_so_in_one_line(tmp_path):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    r = run_cli("pmc", "list", "--source", "s3://pmc-oa-opendata", "--layout", "cloud", "--endpoint-url", endpoint,
                "--retries", "1", "--backoff-s", "0", "--timeout-s", "2", "--out", str(tmp_path / "i.tsv"), env=env)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.strip().splitlines()
    assert any("WARNING" in line and "retrying in 0.0s" in line and "attempt 1 of 2" in line for line in lines)
    assert lines[-1].startswith("sciclip: error: s3://pmc-oa-opendata/") and "(after 2 attempts" in lines[-1]
    assert "EndpointConnectionError" in lines[-1] and "internal error" not in r.stderr
    assert not (tmp_path / "i.tsv").exists()


def test_arxiv_manifest_over_http_retries_then_one_line(tmp_path):
    r = run_cli("arxiv", "manifest", "--source", f"http://127.0.0.1:{_closed_port()}/arxiv", "--retries", "1",
                "--backoff-s", "0", "--out", str(tmp_path / "m.xml"))
    assert r.returncode == 1
    assert "retrying" in r.stderr and r.stderr.strip().splitlines()[-1].startswith("sciclip: error: http://127.0.0.1")


def test_a_network_error_no_command_retried_is_still_one_line():
    """The safety net under every command: an error of the network stack is the environment, exit 1, not a bug."""
    import urllib.error

    from botocore.exceptions import EndpointConnectionError

    from sciclip.cli import network_problem

    assert network_problem(EndpointConnectionError(endpoint_url="https://s3.amazonaws.com/x")).startswith(
        "EndpointConnectionError: Could not connect to the endpoint URL")
    assert network_problem(urllib.error.URLError("refused")) == "URLError: <urlopen error refused>"
    assert network_problem(ConnectionResetError(104, "reset")) is not None
    assert network_problem(ValueError("a bug")) is None
