"""Images and their texts from one WAT metadata record (Common Crawl's per-page link extraction).

The JSON keeps each ``<img>`` as a link ``{"path": "IMG@/src", "url": <src as written>, "alt", "title"}``
under ``Envelope.Payload-Metadata.HTTP-Response-Metadata.HTML-Metadata.Links``; ``Head.Base`` holds
``<base href>``. Links resolve against the base, else the page's ``WARC-Target-URI``. ``Container`` names
the WARC file and offset of the page itself. Most WAT records (requests, non-HTML responses, pages
without images) are recognised from their raw bytes and never decoded as JSON: that is most of the
time a WAT file would otherwise take.
"""

from __future__ import annotations

import json
import re

from sciclip.sources.cc.links import header_values, opted_out, page_base, resolve, wat_text
from sciclip.sources.cc.rows import ParseStats, Row

_RESPONSE = re.compile(rb'"WARC-Type"\s*:\s*"response"')
_HTML = b'"HTML-Metadata"'
_IMG = b'"IMG@/src"'
TEXT_ATTRS = ("alt", "title")


def _record_length(container: dict) -> int:
    """The compressed length of the page's WARC record: its gzip member's header, deflate data, footer."""
    gz = container.get("Gzip-Metadata") or {}
    try:
        return int(gz.get("Header-Length", 0)) + int(gz.get("Deflate-Length", 0)) + int(gz.get("Footer-Length", 0))
    except (TypeError, ValueError):
        return 0


def wat_rows(payload: bytes, stats: ParseStats, user_agent_token: str | None = None) -> list[Row]:
    """Rows of one WAT record's JSON payload; counts HTML pages and image links into ``stats``."""
    if _HTML not in payload or not _RESPONSE.search(payload):
        return []
    stats.html_pages += 1
    if _IMG not in payload:
        return []
    try:
        doc = json.loads(payload)
        env = doc["Envelope"]
        response = env["Payload-Metadata"]["HTTP-Response-Metadata"]
        html = response["HTML-Metadata"]
    except (ValueError, KeyError, TypeError):
        stats.bad_records += 1
        return []
    header = env.get("WARC-Header-Metadata") or {}
    target = str(header.get("WARC-Target-URI") or "")
    links = [link for link in html.get("Links") or [] if isinstance(link, dict) and link.get("path") == "IMG@/src"]
    stats.img_tags += len(links)
    stats.img_with_alt += sum(1 for link in links if wat_text(link.get("alt")))
    if opted_out(header_values(response.get("Headers"), "X-Robots-Tag"), user_agent_token):
        stats.pages_opted_out += 1
        return []
    base = page_base(target, (html.get("Head") or {}).get("Base"))
    container = doc.get("Container") or {}
    filename = str(container.get("Filename") or "")
    try:
        offset = int(container.get("Offset", -1))
    except (TypeError, ValueError):
        offset = -1
    length = _record_length(container)
    rows = []
    for link in links:
        url = resolve(str(link.get("url") or ""), base)
        if url is None:
            continue
        stats.images += 1
        for attr in TEXT_ATTRS:
            text = wat_text(link.get(attr))
            if text:
                rows.append(Row(url, text, attr, target, filename, offset, length))
    return rows
