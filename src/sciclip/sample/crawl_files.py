"""Writing WARC, WAT and ARC files in Common Crawl's real formats (the sample crawl, tests, the bench).

Each record is its own gzip member, as Common Crawl writes them, with fixed dates and record ids so the
bytes are reproducible. A page becomes request, response and metadata records in the WARC; the WAT holds
one JSON metadata record per WARC record, the response's with ``HTML-Metadata`` (``Head``, ``Links`` with
``IMG@/src`` entries carrying src as written, alt and title) and a ``Container`` that points at the
response's gzip member in the WARC, as Common Crawl's WAT extractor does.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from dataclasses import dataclass, field

DATE = "2024-05-18T01:58:10Z"


@dataclass
class Image:
    src: str  # as written in the page
    alt: str | None = None
    title: str | None = None
    lazy: str | None = None  # data-src (then src is a placeholder)
    image_title: str | None = None  # data-image-title


@dataclass
class Page:
    url: str
    images: list[Image]
    charset: str = "utf-8"  # the codec the body is written in
    declare: str = "header"  # where the charset is named: header | meta | warc | none
    base: str | None = None
    lf_headers: bool = False  # HTTP header lines end with a bare LF
    robots: list[str] = field(default_factory=list)  # X-Robots-Tag values
    title: str = "A page"
    status: int = 200
    text: str = ""  # a paragraph of prose before the images (what the interleaved documents keep)

    def html(self) -> bytes:
        meta = f'<meta charset="{self.charset}">' if self.declare == "meta" else ""
        base = f'<base href="{self.base}">' if self.base else ""
        imgs = []
        for im in self.images:
            attrs = [f'src="{im.src}"']
            if im.lazy:
                attrs.append(f'data-src="{im.lazy}"')
            for name, value in (("alt", im.alt), ("title", im.title), ("data-image-title", im.image_title)):
                if value is not None:
                    attrs.append(f'{name}="{value}"')
            imgs.append(f"<p><img {' '.join(attrs)}></p>")
        prose = f"<p>{self.text}</p>" if self.text else ""
        text = (f"<!DOCTYPE html><html><head>{meta}{base}<title>{self.title}</title></head><body><h1>{self.title}"
                f"</h1>{prose}{''.join(imgs)}<p><a href=\"/about\">About</a></p></body></html>")
        return text.encode(self.charset, "xmlcharrefreplace")

    def http_headers(self, body: bytes) -> list[tuple[str, str]]:
        ctype = "text/html" + (f"; charset={self.charset}" if self.declare == "header" else "")
        headers = [("Content-Type", ctype), ("Content-Length", str(len(body))), ("X-Crawler-Content-Encoding", "gzip")]
        headers += [("X-Robots-Tag", r) for r in self.robots]
        return headers


def _rid(*parts: str) -> str:
    return f"<urn:uuid:{uuid.UUID(hashlib.md5('|'.join(parts).encode()).hexdigest())}>"


def warc_record(kind: str, headers: list[tuple[str, str]], block: bytes, version: str = "WARC/1.0") -> bytes:
    head = [version, f"WARC-Type: {kind}"] + [f"{k}: {v}" for k, v in headers] + [f"Content-Length: {len(block)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def member(data: bytes) -> bytes:
    """One gzip member, reproducible (mtime 0)."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def http_response(page: Page, body: bytes) -> bytes:
    eol = "\n" if page.lf_headers else "\r\n"
    lines = [f"HTTP/1.1 {page.status} OK"] + [f"{k}: {v}" for k, v in page.http_headers(body)]
    return (eol.join(lines) + eol + eol).encode("latin-1") + body


@dataclass
class Written:
    warc: bytes
    wat: bytes
    responses: list[tuple[int, int]]  # (offset, length) of each page's response member in the WARC


def _wat_json(filename: str, offset: int, length: int, header: dict, payload: dict | None) -> bytes:
    container = {"Filename": filename, "Compressed": True, "Offset": str(offset),
                 "Gzip-Metadata": {"Deflate-Length": str(length - 18), "Header-Length": "10", "Footer-Length": "8"}}
    env = {"Format": "WARC", "WARC-Header-Length": "400", "WARC-Header-Metadata": header}
    if payload is not None:
        env["Payload-Metadata"] = payload
    return json.dumps({"Container": container, "Envelope": env}, ensure_ascii=False, separators=(",", ":")).encode()


def _links(page: Page) -> list[dict]:
    links = [{"path": "A@/href", "url": "/about", "text": "About"}]
    for im in page.images:
        link = {"path": "IMG@/src", "url": im.src}
        if im.alt is not None:
            link["alt"] = im.alt
        if im.title is not None:
            link["title"] = im.title
        links.append(link)
    return links


def crawl_files(pages: list[Page], warc_name: str, wat_name: str, header_lists: bool = False) -> Written:
    """A WARC and its WAT for ``pages``; ``header_lists``: WAT headers as lists (CC-MAIN-2024-51 on)."""
    info = b"software: sciclip sample\r\nformat: WARC File Format 1.0\r\n"
    warc = bytearray(member(warc_record("warcinfo", [("WARC-Date", DATE), ("WARC-Filename", warc_name),
                                                     ("WARC-Record-ID", _rid(warc_name)),
                                                     ("Content-Type", "application/warc-fields")], info)))
    wat = bytearray(member(warc_record("warcinfo", [("WARC-Date", DATE), ("WARC-Filename", wat_name),
                                                    ("WARC-Record-ID", _rid(wat_name)),
                                                    ("Content-Type", "application/warc-fields")], info)))
    responses = []
    for page in pages:
        body = page.html()
        host = page.url.split("/")[2]
        request = f"GET /{page.url.split('/', 3)[-1]} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: CCBot/2.0\r\n\r\n".encode()
        req_id, resp_id = _rid(page.url, "request"), _rid(page.url, "response")
        common = [("WARC-Date", DATE), ("WARC-Target-URI", page.url)]
        records = [
            ("request", common + [("WARC-Record-ID", req_id), ("Content-Type", "application/http; msgtype=request")],
             request),
            ("response", common + [("WARC-Record-ID", resp_id), ("Content-Type", "application/http; msgtype=response")]
             + ([("WARC-Identified-Content-Charset", page.charset)] if page.declare == "warc" else []),
             http_response(page, body)),
            ("metadata", common + [("WARC-Record-ID", _rid(page.url, "metadata")),
                                   ("Content-Type", "application/warc-fields")], b"fetchTimeMs: 120\r\n"),
        ]
        for kind, headers, block in records:
            data = member(warc_record(kind, headers, block))
            offset = len(warc)
            warc += data
            header = dict(headers) | {"WARC-Type": kind, "Content-Length": str(len(block))}
            payload = None
            if kind == "response":
                responses.append((offset, len(data)))
                grouped: dict[str, list[str]] = {}
                for k, v in page.http_headers(body):
                    grouped.setdefault(k, []).append(v)
                hdrs = {k: (v if header_lists else ", ".join(v)) if len(v) > 1 else v[0] for k, v in grouped.items()}
                head = {"Title": page.title, **({"Base": page.base} if page.base else {})}
                payload = {"Actual-Content-Type": "application/http; msgtype=response", "HTTP-Response-Metadata": {
                    "Response-Message": {"Version": "HTTP/1.1", "Status": str(page.status), "Reason": "OK"},
                    "Headers": hdrs, "HTML-Metadata": {"Head": head, "Links": _links(page)}}}
            meta = _wat_json(warc_name, offset, len(data), header, payload)
            wat += member(warc_record("metadata", [("WARC-Date", DATE), ("WARC-Target-URI", page.url),
                                                   ("WARC-Record-ID", _rid(page.url, kind, "wat")),
                                                   ("WARC-Refers-To", header["WARC-Record-ID"]),
                                                   ("Content-Type", "application/json")], meta))
    return Written(bytes(warc), bytes(wat), responses)


def arc_file(pages: list[Page], name: str) -> bytes:
    """An ARC v1 file (gzip members) holding the pages' HTTP responses."""
    desc = b"1 0 sciclip\nURL IP-address Archive-date Content-type Archive-length\n"
    out = bytearray(member(b"filedesc://%s 0.0.0.0 20000101000000 text/plain %d\n" % (name.encode(), len(desc))
                           + desc + b"\n"))
    for page in pages:
        http = http_response(page, page.html())
        out += member(b"%s 192.0.2.1 20000101000000 text/html %d\n" % (page.url.encode(), len(http)) + http + b"\n")
    return bytes(out)
