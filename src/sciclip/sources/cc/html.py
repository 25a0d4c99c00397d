"""Images and their texts from one HTML page of a WARC (or ARC) response, parsed with Lexbor (selectolax).

The page is decoded first: Common Crawl stores bodies already de-compressed, but their charset is the
page's own, named by the HTTP header, a ``<meta>`` tag or the crawler's guess
(``WARC-Identified-Content-Charset``), in that order (a BOM wins over all). Every ``<img>`` counts once;
its URL is a lazy-loading attribute when one holds an http(s) URL (``src`` is then a placeholder), else
``src``, resolved against ``<base href>`` (itself resolved against the page), else the page URL. Texts are
``alt``, ``title`` and ``data-image-title`` as MetaCLIP's WARC path cleans them.
"""

from __future__ import annotations

import codecs
import re

from selectolax.lexbor import LexborHTMLParser

from sciclip.sources.cc.links import Resolver, opted_out, page_base, warc_text
from sciclip.sources.cc.rows import ParseStats, Row

HTML_TYPES = ("text/html", "application/xhtml+xml")
LAZY_SRC = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-url")
TEXT_ATTRS = ("alt", "title", "data-image-title")
_CT_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:\-]+)", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def is_html(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in HTML_TYPES


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def page_charset(body: bytes, content_type: str, warc_charset: str | None) -> str:
    """The codec a page's bytes are decoded with (utf-8 when nothing usable is named)."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    m = _CT_CHARSET.search(content_type or "")
    meta = _META_CHARSET.search(body, 0, 8192)
    for candidate in (m.group(1) if m else None, meta.group(1).decode("ascii", "replace") if meta else None,
                      warc_charset):
        codec = _codec(candidate)
        if codec:
            # a page labelled with a 16-bit codec but without a BOM is nearly always ASCII-compatible
            return "utf-8" if codec.startswith("utf-16") else codec
    return "utf-8"


def _image_ref(attrs: dict) -> list[str]:
    refs = [attrs.get(a) for a in LAZY_SRC] + [attrs.get("src")]
    return [r for r in refs if r]


def html_rows(body: bytes, target: str, content_type: str, warc_charset: str | None, filename: str, offset: int,
              length: int, stats: ParseStats, robots: list[str] = (), user_agent_token: str | None = None) -> list[Row]:
    """Rows of one HTML response body; counts the page, its ``<img>`` tags and alts into ``stats``."""
    stats.html_pages += 1
    text = body.decode(page_charset(body, content_type, warc_charset), errors="replace")
    try:
        tree = LexborHTMLParser(text)
    except Exception:  # noqa: BLE001 - Lexbor refuses a few pathological inputs; lose the page, not the file
        stats.bad_records += 1
        return []
    images = tree.css("img")
    stats.img_tags += len(images)
    attrs = [img.attributes for img in images]
    stats.img_with_alt += sum(1 for a in attrs if warc_text(a.get("alt")))
    if opted_out(list(robots), user_agent_token):
        stats.pages_opted_out += 1
        return []
    base_node = tree.css_first("base[href]")
    resolve = Resolver(page_base(target, base_node.attributes.get("href") if base_node is not None else None))
    rows = []
    for a in attrs:
        url = next((u for u in map(resolve, _image_ref(a)) if u), None)
        if url is None:
            continue
        stats.images += 1
        for attr in TEXT_ATTRS:
            value = warc_text(a.get(attr))
            if value:
                rows.append(Row(url, value, attr, target, filename, offset, length))
    return rows
