"""Hand-written PDFs that stress a renderer: enormous pages, exponential form nesting, inflation bombs.

Each is a few KiB; what they would cost a renderer without limits is the point.
"""

from __future__ import annotations

import zlib

from sciclip.sample.media import pdf_file


def build_pdf(objects: list[bytes]) -> bytes:
    """A PDF whose object 1 is the catalog, with a correct xref table."""
    return pdf_file(objects, b"1.5")


def stream(dictionary: bytes, data: bytes, compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data, 9)
        dictionary += b" /Filter /FlateDecode"
    return b"<< %s /Length %d >>\nstream\n" % (dictionary, len(data)) + data + b"\nendstream"


def one_page(content: bytes, media_box: bytes = b"0 0 300 200", extra_page: bytes = b"",
             resources: bytes = b"<< >>", more: list[bytes] | None = None, compress: bool = False) -> bytes:
    """Catalog, pages, one page (object 3) drawing ``content`` (object 4); ``more`` are objects 5, 6, ..."""
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [%s] %s /Resources %s /Contents 4 0 R >>"
        % (media_box, extra_page, resources),
        stream(b"", content, compress),
        *(more or []),
    ])


def coloured(media_box: bytes = b"0 0 300 200", extra_page: bytes = b"") -> bytes:
    """Left half blue, right half red, over the MediaBox [0 0 400 400] or the given box."""
    return one_page(b"0 0 1 rg 0 0 200 400 re f 1 0 0 rg 200 0 200 400 re f", media_box, extra_page)


def enormous_page(side_pt: int = 200_000) -> bytes:
    """A first page far beyond the 14400 pt the spec allows, drawn edge to edge."""
    return one_page(b"0.2 0.4 0.8 rg 0 0 %d %d re f 0 g 0 0 m %d %d l S" % (side_pt, side_pt, side_pt, side_pt),
                    b"0 0 %d %d" % (side_pt, side_pt))


def exponential_forms(depth: int = 40, fanout: int = 4) -> bytes:
    """Form k draws form k+1 ``fanout`` times: fanout**depth fills from a few KiB (a renderer's billion laughs)."""
    first = 5
    forms = []
    for k in range(depth):
        if k + 1 < depth:
            body = b" ".join(b"q 1 0 0 1 %d 0 cm /F%d Do Q" % (i, k + 1) for i in range(fanout))
            res = b"<< /XObject << /F%d %d 0 R >> >>" % (k + 1, first + k + 1)
        else:
            body, res = b"0 0 1 rg 0 0 1 1 re f", b"<< >>"
        forms.append(stream(b"/Type /XObject /Subtype /Form /BBox [0 0 300 200] /Resources %s" % res, body))
    return one_page(b"/F0 Do", resources=b"<< /XObject << /F0 %d 0 R >> >>" % first, more=forms)


def inflation_bomb(megabytes: int = 1024) -> bytes:
    """A content stream of ``megabytes`` MiB of path operators that compresses to about a thousandth."""
    unit = b"0 0 m 1 1 l S\n" * 4096
    comp = zlib.compressobj(9)
    chunks = [comp.compress(unit) for _ in range((megabytes << 20) // len(unit))]
    data = b"".join(chunks) + comp.flush()
    return build_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Resources << >> /Contents 4 0 R >>",
        b"<< /Filter /FlateDecode /Length %d >>\nstream\n" % len(data) + data + b"\nendstream",
    ])
