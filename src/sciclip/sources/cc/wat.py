"""Images and their texts from one WAT metadata record (Common Crawl's per-page link extraction).

The JSON keeps each ``<img>`` as a link ``{"path": "IMG@/src", "url": <src as written>, "alt", "title"}``
under ``Envelope.Payload-Metadata.HTTP-Response-Metadata.HTML-Metadata.Links``; ``Head.Base`` holds
``<base href>``. Links resolve against the base, else the page's ``WARC-Target-URI``. ``Container`` names
the WARC file and offset of the page itself.

Most WAT records (requests, non-HTML responses, pages without images) are recognised from their raw bytes
and never decoded. The rest are decoded by msgspec into typed structs holding only the fields read here: it
skips the rest of the record (metas, scripts, the anchors' texts) without building Python objects for it,
a page in two thirds of the time orjson takes to decode the whole record (min of 5, 8,000 records). A
record that does not have the expected shape (a field of another type, a link that is not an object, JSON
msgspec refuses) goes through the generic decoder instead, which decides what such a record yields; tests
hold the two paths to the same answers. (Decoding only the image link objects, cut out by a pattern, was
tried: slower.)
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

import msgspec
import orjson

from sciclip.sources.cc.links import Resolver, header_values, opted_out, page_base, wat_text
from sciclip.sources.cc.rows import ParseStats, Row

_RESPONSE = re.compile(rb'"WARC-Type"\s*:\s*"response"')
_HTML = b'"HTML-Metadata"'
_IMG = b'"IMG@/src"'


class _Page(NamedTuple):
    target: str
    base: str | None  # <base href>, when a string
    robots: list[str]
    container: dict
    images: list[tuple[Any, Any, Any]]  # (url, alt, title) of each IMG@/src link, in document order


def _record_length(container: dict) -> int:
    """The compressed length of the page's WARC record: its gzip member's header, deflate data, footer."""
    gz = container.get("Gzip-Metadata")
    if not isinstance(gz, dict):
        return 0
    try:
        return int(gz.get("Header-Length", 0)) + int(gz.get("Deflate-Length", 0)) + int(gz.get("Footer-Length", 0))
    except (TypeError, ValueError):
        return 0


# The record's shape, as far as this module reads it. Values read are typed as strings (or bools), which
# every JSON decoder gives alike; a record with anything else there (a number, an object where a string
# is expected, a link that is not an object) fails to decode here and takes the generic path.
_Str = str | None
_Container = dict[str, str | bool | None | dict[str, str | None]]


class _Link(msgspec.Struct):
    path: Any = None  # only compared with a string
    url: _Str = None
    alt: _Str = None
    title: _Str = None


class _Head(msgspec.Struct):
    Base: Any = None  # only used when a string


class _Html(msgspec.Struct):
    Links: list[_Link] | None = None
    Head: _Head | None = None


class _Response(msgspec.Struct, rename={"html": "HTML-Metadata", "headers": "Headers"}):
    html: _Html
    headers: dict[str, str | list[str]] | None = None


class _Payload(msgspec.Struct, rename={"response": "HTTP-Response-Metadata"}):
    response: _Response


class _Header(msgspec.Struct, rename={"target": "WARC-Target-URI"}):
    target: _Str = None


class _Envelope(msgspec.Struct, rename={"payload": "Payload-Metadata", "header": "WARC-Header-Metadata"}):
    payload: _Payload
    header: _Header | None = None


class _Record(msgspec.Struct):
    Envelope: _Envelope
    Container: _Container | None = None


_RECORD = msgspec.json.Decoder(_Record)


def _decode(payload: bytes):
    """orjson (about 1.6x json's speed on WAT records); json for what orjson refuses and json reads, such as
    lone surrogate escapes from broken pages. Those become U+FFFD: a lone surrogate has no UTF-8, so a row
    holding one could not be written (Arrow and parquet refuse it)."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        doc = json.loads(payload)
        return _without_surrogates(doc) if _SURROGATE_ESCAPE.search(payload) else doc


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


def _page(payload: bytes) -> _Page | None:
    """The page a response record describes; None when its JSON is not a WAT response record's."""
    try:
        if not payload.isascii():
            payload.decode()  # msgspec does not check the UTF-8 of the strings it skips; the generic path does
        doc = _RECORD.decode(payload)
    except ValueError:  # invalid UTF-8, msgspec's DecodeError and ValidationError: not the usual shape
        return _page_generic(payload)
    response = doc.Envelope.payload.response
    html = response.html
    header = doc.Envelope.header
    images = [(link.url, link.alt, link.title) for link in html.Links or () if link.path == "IMG@/src"]
    base = html.Head.Base if html.Head else None
    return _Page(str(header and header.target or ""), base if isinstance(base, str) else None,
                 header_values(response.headers, "X-Robots-Tag"), doc.Container or {}, images)


def _page_generic(payload: bytes) -> _Page | None:
    """``_page`` for records of any shape, from the whole decoded JSON."""
    try:
        doc = _decode(payload)
        env = doc["Envelope"]
        response = env["Payload-Metadata"]["HTTP-Response-Metadata"]
        html = response["HTML-Metadata"]
        header = env.get("WARC-Header-Metadata") or {}
        images = [(link.get("url"), link.get("alt"), link.get("title")) for link in html.get("Links") or ()
                  if type(link) is dict and link.get("path") == "IMG@/src"]
        container = doc.get("Container")
        base = (html.get("Head") or {}).get("Base")
        return _Page(str(header.get("WARC-Target-URI") or ""), base if isinstance(base, str) else None,
                     header_values(response.get("Headers"), "X-Robots-Tag"),
                     container if isinstance(container, dict) else {}, images)
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
    images = [(url, wat_text(alt), wat_text(title)) for url, alt, title in page.images]
    stats.img_tags += len(images)
    stats.img_with_alt += sum(1 for image in images if image[1])
    if opted_out(page.robots, user_agent_token):
        stats.pages_opted_out += 1
        return []
    resolve = Resolver(page_base(page.target, page.base))
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
