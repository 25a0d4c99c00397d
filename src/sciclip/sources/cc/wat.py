"""Images and their texts from one WAT metadata record (Common Crawl's per-page link extraction).

The JSON keeps each ``<img>`` as a link ``{"path": "IMG@/src", "url": <src as written>, "alt", "title"}``
under ``Envelope.Payload-Metadata.HTTP-Response-Metadata.HTML-Metadata.Links``; ``Head.Base`` holds
``<base href>``. Links resolve against the base, else the page's ``WARC-Target-URI``. ``Container`` names
the WARC file and offset of the page itself.

Most WAT records (requests, non-HTML responses, pages without images) are recognised from their raw bytes
and never decoded; the rest go through orjson. (Decoding only the image link objects, cut out by a pattern,
was tried: slower than decoding the whole record.)
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

import orjson

from sciclip.sources.cc.links import Resolver, header_values, opted_out, page_base, wat_text
from sciclip.sources.cc.rows import ParseStats, Row

_RESPONSE = re.compile(rb'"WARC-Type"\s*:\s*"response"')
_HTML = b'"HTML-Metadata"'
_IMG = b'"IMG@/src"'


class _Page(NamedTuple):
    target: str
    base: str | None
    robots: list[str]
    container: dict
    images: list[dict]  # the IMG@/src link objects, in document order


def _record_length(container: dict) -> int:
    """The compressed length of the page's WARC record: its gzip member's header, deflate data, footer."""
    gz = container.get("Gzip-Metadata") or {}
    try:
        return int(gz.get("Header-Length", 0)) + int(gz.get("Deflate-Length", 0)) + int(gz.get("Footer-Length", 0))
    except (TypeError, ValueError):
        return 0


def _decode(payload: bytes):
    """orjson (about 1.6x json's speed on WAT records); json for what orjson refuses and json reads, such as
    lone surrogate escapes from broken pages."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload)


def _page(payload: bytes) -> _Page | None:
    try:
        doc = _decode(payload)
        env = doc["Envelope"]
        response = env["Payload-Metadata"]["HTTP-Response-Metadata"]
        html = response["HTML-Metadata"]
        header = env.get("WARC-Header-Metadata") or {}
        links = [link for link in html.get("Links") or () if type(link) is dict and link.get("path") == "IMG@/src"]
        return _Page(str(header.get("WARC-Target-URI") or ""), (html.get("Head") or {}).get("Base"),
                     header_values(response.get("Headers"), "X-Robots-Tag"), doc.get("Container") or {}, links)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def wat_rows(payload: bytes, stats: ParseStats, user_agent_token: str | None = None) -> list[Row]:
    """Rows of one WAT record's JSON payload; counts HTML pages and image links into ``stats``."""
    if _HTML not in payload or not _RESPONSE.search(payload):
        return []
    stats.html_pages += 1
    if _IMG not in payload:
        return []
    page = _page(payload)
    if page is None:
        stats.bad_records += 1
        return []
    images = [(link.get("url"), wat_text(link.get("alt")), wat_text(link.get("title"))) for link in page.images]
    stats.img_tags += len(images)
    stats.img_with_alt += sum(1 for image in images if image[1])
    if opted_out(page.robots, user_agent_token):
        stats.pages_opted_out += 1
        return []
    resolve = Resolver(page_base(page.target, page.base if isinstance(page.base, str) else None))
    filename = str(page.container.get("Filename") or "")
    try:
        offset = int(page.container.get("Offset", -1))
    except (TypeError, ValueError):
        offset = -1
    length = _record_length(page.container)
    rows: list[Row] = []
    new, target, found = tuple.__new__, page.target, 0  # tuple.__new__: a Row without its Python-level __new__
    for src, alt, title in images:
        url = resolve(src if type(src) is str else str(src or ""))
        if url is None:
            continue
        found += 1
        if alt:
            rows.append(new(Row, (url, alt, "alt", target, filename, offset, length)))
        if title:
            rows.append(new(Row, (url, title, "title", target, filename, offset, length)))
    stats.images += found
    return rows
