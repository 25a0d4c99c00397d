"""A small WARC of made-up pages for the web documents: boilerplate, captured and remote images, duplicates.

``write_warc(path, remote)`` writes the pages; images on ``remote`` (an http://127.0.0.1:PORT base, or None)
are to be served by the test's HTTP server (``remote_images()`` gives their bytes). Each case the filters and
the dedup must handle is one page: see PAGES. ``python -m tests.docs_web_fixture OUT`` writes the file the
.test/docs config reads (no remote images: everything it needs is captured in the WARC).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

PROSE = [
    "The river valley was settled early because the soil was rich and the water was easy to reach.",
    "Farmers built low stone walls to mark their fields, and many of those walls are still standing today.",
    "In the spring the meadows fill with flowers, and the old mill by the bridge opens its doors to visitors.",
    "A small museum in the village shows the tools that were used here for more than two hundred years.",
    "Walking paths follow the river for several miles, and there are benches where you can rest and watch.",
    "The church on the hill was rebuilt after a fire, but its tower is the one that was put up in the past.",
]
BOILERPLATE = "Subscribe to our newsletter and we will send you the best of our stories every week."


def image(w: int, h: int, seed: int, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img = Image.new("RGB", (w, h), ((seed * 71) % 256, (seed * 31) % 256, (seed * 17) % 256))
    for x in range(0, w, 7):
        img.putpixel((x, (x * seed) % h), (255, 255, 255))
    img.save(buf, fmt)
    return buf.getvalue()


CAPTURED = {
    "http://valley.test/img/mill.png": image(320, 240, 1),
    "http://valley.test/img/walls.png": image(300, 200, 2),
    "http://valley.test/img/logo.png": image(200, 160, 3),
    "http://valley.test/img/banner.png": image(900, 120, 4),  # aspect ratio 7.5: removed
    "http://valley.test/img/tiny.png": image(90, 90, 5),  # 90 px: removed
    "http://other.test/img/church.png": image(256, 256, 6),
}


def remote_images() -> dict[str, bytes]:
    """Path -> bytes of the images the test's HTTP server serves."""
    return {"/img/river.jpg": image(400, 300, 7, "JPEG"), "/img/museum.png": image(240, 300, 8)}


def page_html(title: str, body: str, nav: bool = True) -> bytes:
    menu = ('<div id="menu"><a href="/">Home</a> <a href="/about">About</a> and more links here</div>'
            '<nav><ul><li>Section one of the site</li><li>Section two</li></ul></nav>') if nav else ""
    return (f"<!DOCTYPE html><html><head><title>{title}</title><base href=\"http://valley.test/\">"
            "<style>p {{color: red}}</style><script>var x = 'not text';</script></head><body>"
            f"<header><img src=\"img/logo.png\" alt=\"logo\">Valley news, the site header</header>{menu}"
            f"<article><h1>{title}</h1>{body}</article>"
            "<div class=\"footer\">Copyright and contact details of the valley site, all rights reserved.</div>"
            "</body></html>").encode("utf-8")


def pages(remote: str | None) -> list[tuple[str, bytes]]:
    r = remote or "http://remote.invalid"
    p = PROSE
    return [
        # a: paragraphs and images in order; a captured, a remote, a repeated, a too small and a too wide image
        ("http://valley.test/a.html", page_html("The old mill", (
            f"<p>{p[0]} {p[1]}</p><img src=\"img/mill.png\" alt=\"The mill in spring\" width=\"320\">"
            f"<p>{p[2]}<br>{p[3]}</p><figure><img data-src=\"{r}/img/river.jpg\" alt=\"River\"></figure>"
            f"<p>{BOILERPLATE}</p><img src=\"img/mill.png\"><img src=\"img/tiny.png\">"
            f"<img src=\"img/banner.png\"><img src=\"img/logo.png\" width=\"16\" height=\"16\"><p>{p[4]}</p>"))),
        # b: same domain, shares the boilerplate paragraph with a
        ("http://valley.test/b.html", page_html("Stone walls", (
            f"<p>{p[1]} {p[5]}</p><img src=\"img/walls.png\" alt=\"Walls\"><p>{BOILERPLATE}</p><p>{p[3]}</p>"))),
        # c: another domain; d repeats its image set
        ("http://other.test/c.html", page_html("The church", (
            f"<p>{p[5]} {p[0]}</p><img src=\"http://other.test/img/church.png\"><p>{p[2]}</p>"), nav=False)),
        ("http://other.test/d.html", page_html("The church again", (
            f"<p>{p[4]} {p[2]}</p><img src=\"http://other.test/img/church.png\"><p>{p[1]}</p>"), nav=False)),
        # e: a page with a remote image and only short text: too few words
        ("http://valley.test/e.html", page_html("Short", f"<p>Gallery.</p><img src=\"{r}/img/museum.png\">")),
        # a again, recaptured later: URL dedup keeps this one
        ("http://valley.test/a.html", page_html("The old mill (updated)", (
            f"<p>{p[0]} {p[1]} {p[4]}</p><img src=\"img/mill.png\" alt=\"The mill in spring\">"
            f"<p>{p[3]} {p[5]}</p><p>{BOILERPLATE}</p>"))),
    ]


def write_warc(path: Path, remote: str | None = None, images: bool = True,
               page_list: list[tuple[str, bytes]] | None = None) -> list[str]:
    """Write the pages (``page_list``, default PAGES) and the captured images to ``path``; returns the page URLs
    in file order."""
    return write_pages(path, pages(remote) if page_list is None else page_list, CAPTURED if images else {})


def write_pages(path: Path, html_pages: list[tuple[str, bytes]], captured: dict[str, bytes]) -> list[str]:
    """A WARC of ``(url, html)`` responses, then ``captured`` image responses; the page URLs in file order."""
    urls = []
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=True)
        for n, (url, html) in enumerate(html_pages):
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            rec = w.create_warc_record(url, "response", payload=io.BytesIO(html), http_headers=headers,
                                       warc_headers_dict={"WARC-Date": f"2024-05-0{1 + n}T00:00:00Z"})
            w.write_record(rec)
            urls.append(url)
        for url, data in captured.items():
            headers = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
            rec = w.create_warc_record(url, "response", payload=io.BytesIO(data), http_headers=headers,
                                       warc_headers_dict={"WARC-Date": "2024-05-01T00:00:00Z"})
            w.write_record(rec)
    return urls


if __name__ == "__main__":
    write_warc(Path(sys.argv[1]))
