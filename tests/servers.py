"""Loopback servers for network tests: moto's S3 API behind a requester-pays gate, and a static HTTP mirror.

moto does not enforce requester pays (real S3 answers 403 without the header), so a small proxy in front
of it refuses object reads lacking ``x-amz-request-payer: requester`` and records every request; it can
also fail the first N requests to exercise retries.
"""

from __future__ import annotations

import functools
import http.client
import http.server
import threading
from dataclasses import dataclass, field

ACCESS_DENIED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                 b"<Message>Access Denied (requester pays bucket: x-amz-request-payer missing)</Message></Error>")


@dataclass
class ProxyState:
    upstream: tuple[str, int]
    require_requester_pays: bool = True
    fail_next: int = 0
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, payer header
    lock: threading.Lock = field(default_factory=threading.Lock)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    state: ProxyState

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def _handle(self) -> None:
        st = self.state
        payer = self.headers.get("x-amz-request-payer")
        with st.lock:
            st.requests.append((self.command, self.path, payer))
            fail = st.fail_next > 0
            if fail:
                st.fail_next -= 1
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if fail:
            return self._reply(503, b"<Error><Code>SlowDown</Code><Message>try later</Message></Error>")
        is_object = self.command in ("GET", "HEAD") and self.path.count("/") >= 2 and "?" not in self.path.split("/")[-1][:1]
        if st.require_requester_pays and is_object and payer != "requester":
            return self._reply(403, ACCESS_DENIED if self.command == "GET" else b"")
        conn = http.client.HTTPConnection(*st.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data) if self.command != "HEAD" else resp.getheader("Content-Length") or 0))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _handle


class RequesterPaysS3:
    """moto on 127.0.0.1 plus the gate; ``endpoint`` is what clients use."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        self.state = ProxyState(self.moto.get_host_and_port())
        handler = type("Handler", (_ProxyHandler,), {"state": self.state})
        self.proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.proxy.serve_forever, daemon=True)
        self.thread.start()
        host, port = self.moto.get_host_and_port()
        self.moto_endpoint = f"http://{host}:{port}"
        self.endpoint = f"http://127.0.0.1:{self.proxy.server_address[1]}"

    def client(self, direct: bool = True):
        import boto3
        return boto3.client("s3", endpoint_url=self.moto_endpoint if direct else self.endpoint,
                            region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")

    def stop(self) -> None:
        self.proxy.shutdown()
        self.proxy.server_close()
        self.moto.stop()


class StaticHTTP:
    """A plain HTTP server over a directory (a mirror), on 127.0.0.1."""

    def __init__(self, directory: str) -> None:
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

        handler = functools.partial(Quiet, directory=directory)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RecordingHTTP:
    """An HTTP server on one loopback address that records every request path; ``files`` maps a path to
    its body (200), ``redirects`` a path to a ``Location`` (302); anything else is a 404."""

    def __init__(self, files: dict[str, bytes], redirects: dict[str, str] | None = None,
                 host: str = "127.0.0.1") -> None:
        requests: list[str] = []
        self.requests = requests
        redirects = redirects or {}

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                requests.append(self.path)
                if self.path in redirects:
                    self.send_response(302)
                    self.send_header("Location", redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path in files:
                    self.send_response(200)
                    self.send_header("Content-Type", "image/png")
                    self.send_header("Content-Length", str(len(files[self.path])))
                    self.end_headers()
                    self.wfile.write(files[self.path])
                else:
                    self.send_error(404)

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
