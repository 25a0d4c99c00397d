"""A loopback HTTP server that stands in for the web while a download job runs (demo and tests).

It answers as a forward proxy (``http_proxy`` points at it) and as an origin: ``GET http://host/path``
serves ``<root>/host/path``, so the sample crawl keeps real-looking image URLs and the job's output does
not depend on the port; it reaches nothing itself. ``<root>/headers.json`` maps ``host/path`` to extra response headers (e.g.
``X-Robots-Tag: noai`` to opt an image out); a missing file is a 404. Only 127.0.0.1 is ever bound.
"""

from __future__ import annotations

import http.server
import json
import mimetypes
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Handler(http.server.BaseHTTPRequestHandler):
    root: Path
    headers_map: dict
    requests: list

    def log_message(self, *args) -> None:  # the job's log stays readable
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        parts = urlsplit(self.path)
        host = parts.netloc or (self.headers.get("Host") or "").split(":")[0]
        rel = f"{host}{unquote(parts.path)}"
        self.requests.append(rel)
        path = (self.root / rel).resolve()
        if self.root not in path.parents or not path.is_file():
            self.send_error(404, "Not Found")
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (self.headers_map.get(rel) or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


class LocalWeb:
    """``with LocalWeb(root) as web:`` serves ``root`` on 127.0.0.1; ``web.proxy`` is the proxy URL."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        headers_file = self.root / "headers.json"
        headers_map = json.loads(headers_file.read_text()) if headers_file.is_file() else {}
        self.requests: list[str] = []
        handler = type("Handler", (_Handler,), {"root": self.root, "headers_map": headers_map,
                                                "requests": self.requests})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.endpoint = ("127.0.0.1", self.server.server_address[1])  # the one private address a job may reach
        self.proxy = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LocalWeb:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
