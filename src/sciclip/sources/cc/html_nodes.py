"""A web page as OBELICS reads it: the DOM simplified, then its text and images in reading order.

The rules are OBELICS' (huggingface/OBELICS, ``dom_tree_simplificator`` and ``pre_extraction_simplificator``),
written here as one depth-first walk instead of a series of tree rewrites:

- comments go; ``<br>`` is a line break;
- inline tags (a, b, em, span, ...) are unwrapped: their content joins the text around them;
- structural tags (p, div, h1-h6, ul, ol, blockquote, section, article, ...) and media (img, figure, ...) are
  kept; every other element is removed with its content (head, script, style, nav, header, footer, form,
  table, li, ...: OBELICS strips them, and with them most menus and boilerplate);
- elements whose class holds ``footer`` or ``site-info``, and divs whose id, class or title is footer, header,
  nav, navbar, navigation or menu, are removed; a div whose class mentions ``date`` loses its own text;
- an image is an ``<img>`` with a usable source: the first of src, data-src, srcset, ... that holds no comma
  or space, resolved against ``<base href>`` (else the page URL);
- adjacent texts are joined with the strongest separator of the tags between them (p, h1-h6, ul, ol, dl,
  blockquote: a blank line; div, section, article, ...: a line break; else a space or nothing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

UNWRAP = {"a", "abbr", "acronym", "b", "bdi", "bdo", "big", "cite", "code", "data", "dfn", "em", "font", "i", "ins",
          "kbd", "mark", "q", "s", "samp", "shadow", "small", "span", "strike", "strong", "sub", "sup", "time", "tt",
          "u", "var", "wbr"}
SEPARATOR = {"address": "\n", "article": "\n", "aside": "\n", "blink": "", "blockquote": "\n\n", "body": "",
             "caption": "", "center": "\n", "dd": "\n", "dl": "\n\n", "dt": "\n", "div": "\n", "figcaption": "\n",
             "h": "", "h1": "\n\n", "h2": "\n\n", "h3": "\n\n", "h4": "\n\n", "h5": "\n\n", "h6": "\n\n",
             "hgroup": "\n", "html": "", "legend": "\n", "main": "\n", "marquee": "\n", "ol": "\n\n", "p": "\n\n",
             "section": "\n", "summary": "\n", "title": "", "ul": "\n\n"}
MEDIA = {"audio", "embed", "figure", "iframe", "img", "object", "picture", "video", "source"}
KEPT = set(SEPARATOR) | MEDIA | {"br"}
SPECIAL_DIV = {"footer", "header", "navigation", "nav", "navbar", "menu"}
DROP_CLASS_TOKENS = {"footer", "site-info"}
IMG_SOURCES = ("src", "data-src", "data-src-fg", "data-scroll-image", "srcset", "data-lateloadsrc", "data-img-src",
               "data-original", "data-gt-lazy-src", "data-lazy", "data-lazy-src", "src2")
BR = "\x00BR\x00"


@dataclass
class PageText:
    text: str


@dataclass
class PageImage:
    src: str  # resolved absolute URL
    unformatted_src: str
    alt_text: str = ""
    rendered_width: int | None = None
    rendered_height: int | None = None


@dataclass
class _Raw:
    text: str | None
    path: tuple
    image: PageImage | None = None


@dataclass
class PageNodes:
    nodes: list = field(default_factory=list)  # PageText | PageImage, in reading order
    base_url: str = ""
    title: str = ""


def media_src(attrs: dict) -> str | None:
    """The first usable image source attribute (OBELICS: no comma, no space: srcset lists are skipped)."""
    for name in IMG_SOURCES:
        value = attrs.get(name)
        if value and "," not in value and " " not in value:
            return value
    return None


def _size(value: str | None) -> int | None:
    """A width/height attribute in pixels ("300", "300px", "300.5"); percentages and words are unknown."""
    if not value:
        return None
    m = re.fullmatch(r"\s*([\d.]+)\s*(px)?;?\s*", value.replace('"', "").replace("”", ""))
    if not m:
        return None
    try:
        return int(float(m.group(1)))
    except ValueError:
        return None


def _dropped(tag: str, attrs: dict) -> bool:
    cls = attrs.get("class") or ""
    if DROP_CLASS_TOKENS & set(cls.split()):
        return True
    if tag == "div":
        return any((attrs.get(a) or "") in SPECIAL_DIV for a in ("id", "class", "title"))
    return False


def _walk(root, base: str) -> list[_Raw]:
    """Texts and images with the path of kept tags above them, depth first, without recursion (deep DOMs)."""
    out: list[_Raw] = []
    counter = 0
    stack: list[tuple] = [(root, (), False)]
    while stack:
        node, path, date_div = stack.pop()
        tag = node.tag
        if tag == "-text":
            if not date_div:
                out.append(_Raw(node.text(deep=False), path))
            continue
        if tag == "-comment" or not isinstance(tag, str):
            continue
        tag = tag.lower()
        attrs = {k.lower(): (v or "") for k, v in (node.attributes or {}).items()}
        if tag == "br":
            out.append(_Raw(BR, path))
            continue
        if tag == "img":
            src = media_src(attrs)
            if src:
                image = PageImage(urljoin(base, src.strip()), src, (attrs.get("alt") or "").strip(),
                                  _size(attrs.get("width")), _size(attrs.get("height")))
                out.append(_Raw(None, path + (("img", counter),), image))
            counter += 1
            continue
        if tag in UNWRAP:
            child_path = path
        elif tag in KEPT and not _dropped(tag, attrs):
            counter += 1
            child_path = path + ((tag, counter),)
        else:
            continue  # removed with its content
        in_date = tag == "div" and "date" in (attrs.get("class") or "")
        children = []
        child = node.child
        while child is not None:
            children.append(child)
            child = child.next
        for c in reversed(children):
            stack.append((c, child_path, in_date if c.tag == "-text" else False))
    return out


def _format(text: str) -> str:
    """OBELICS' text formatting: whitespace runs to one space, <br> to a line break, edge spaces kept."""
    if not text:
        return text
    text = re.sub(r" {2,}", " ", text.replace("\n", " ").replace("\t", " ").replace("\r", " "))
    lead = text.startswith(" ")
    trail = text.endswith(" ") and len(text) > 1
    text = "\n".join(part.strip() for part in text.split(BR))
    return (" " if lead else "") + text + (" " if trail else "")


def _separator(a: _Raw, b: _Raw, text_a: str, text_b: str) -> tuple[str, str, str]:
    seps: set[str] = set()
    for ch in ("\n\n", "\n", " "):
        if text_a.endswith(ch):
            seps.add(ch)
            text_a = text_a[: -len(ch)]
        if text_b.startswith(ch):
            seps.add(ch)
            text_b = text_b[len(ch):]
    common = 0
    for x, y in zip(a.path, b.path):
        if x != y:
            break
        common += 1
    for tag, _ in a.path[common:] + b.path[common:]:
        if tag in SEPARATOR:
            seps.add(SEPARATOR[tag])
    for sep in ("\n\n", "\n", " "):
        if sep in seps:
            return text_a, sep, text_b
    return text_a, "", text_b


def page_nodes(html: str, url: str) -> PageNodes:
    """Text and images of one page, in reading order, adjacent texts merged (OBELICS' node extraction)."""
    tree = LexborHTMLParser(html)
    base = url
    base_el = tree.css_first("base[href]")
    if base_el is not None and (base_el.attributes.get("href") or "").strip():
        base = urljoin(url, base_el.attributes["href"].strip())
    title_el = tree.css_first("title")
    title = " ".join(title_el.text().split()) if title_el is not None else ""
    root = tree.root
    raws = _walk(root, base) if root is not None else []
    nodes: list = []
    current: _Raw | None = None
    text = ""
    after_br = False
    for raw in raws:
        if raw.image is not None:
            if current is not None and text.strip():
                nodes.append(PageText(text.strip()))
            current, text, after_br = None, "", False
            nodes.append(raw.image)
            continue
        if raw.text == BR:  # a line break: the text around it is stripped, as OBELICS splits on it
            text = text.rstrip(" ") + "\n"
            current = current or raw
            after_br = True
            continue
        piece = _format(raw.text or "")
        if after_br:
            piece, after_br = piece.lstrip(" "), False
        if current is None:
            current, text = raw, piece
            continue
        if current.path == raw.path:  # the same element: one text, as after OBELICS' re-parse
            text += piece
        else:
            left, sep, right = _separator(current, raw, text, piece)
            text = left + sep + right
        current = raw
    if current is not None and text.strip():
        nodes.append(PageText(text.strip()))
    for n in nodes:  # separators stack up around whitespace-only texts: at most a blank line
        if isinstance(n, PageText):
            n.text = re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]*\n[ \t]*", "\n", n.text))
    return PageNodes([n for n in nodes if not isinstance(n, PageText) or n.text], base, title)
