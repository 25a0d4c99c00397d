"""The PDFium render helper: a long-lived child process that turns PDF bytes into first-page RGB pixels.

PDFium renders figures about three times faster than a ``pdftoppm`` process per file, but in-process a
hostile PDF could hang the extraction worker, or exhaust its memory, with no way to interrupt native code.
So rendering happens here, in a process of its own that the parent (``images.pdfium_client``) can kill and
replace: this file is run as a plain script (``python -I pdfium_server.py LIMIT``), imports nothing but the
standard library and pypdfium2, caps its own address space at LIMIT bytes, and arms ``SIGALRM`` around
each render as a backstop should the parent be gone. The pixel cap is checked before any bitmap exists.

Protocol on stdin/stdout (stdout is moved to another descriptor so that stray native output cannot corrupt
it): a frame is ``<meta length u32><payload length u64>``, a JSON object and a payload. The server first
sends ``{"status": "ready"}``; each request (meta: max_size, dpi, max_pixels, min_size, backstop_s; payload:
the PDF) gets one reply: ``ok`` (page size in points, pixel size; payload: packed RGB rows), ``skip``
(reason, detail: the figure is unusable) or ``unopenable`` (PDFium cannot parse the file: try poppler).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import struct
import sys
from typing import BinaryIO

HEADER = struct.Struct("<IQ")


def read_frame(stream: BinaryIO) -> tuple[dict, bytes] | None:
    """One frame, or None at a clean end of input."""
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    n_meta, n_payload = HEADER.unpack(head)
    meta = stream.read(n_meta)
    payload = stream.read(n_payload)
    if len(meta) < n_meta or len(payload) < n_payload:
        return None
    return json.loads(meta), payload


def frame_head(meta: dict, n_payload: int) -> bytes:
    """Header and meta of a frame whose payload (``n_payload`` bytes) is written after it."""
    body = json.dumps(meta).encode()
    return HEADER.pack(len(body), n_payload) + body


def frame(meta: dict, payload: bytes = b"") -> bytes:
    return frame_head(meta, len(payload)) + payload


def render(pdfium, data: bytes, req: dict) -> tuple[dict, bytes]:
    """First page of ``data`` at ``max_size`` px on the longer side (or ``dpi`` when max_size is 0), CropBox."""
    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        return {"status": "unopenable", "detail": str(e)}, b""
    try:
        if len(doc) < 1:
            return _skip("rasterize_error", "PDF has no pages")
        try:
            page = doc[0]
        except pdfium.PdfiumError as e:
            return _skip("rasterize_error", f"PDFium cannot load page 1: {e}")
        # PDFium's page size is the CropBox (clipped to the MediaBox) after /Rotate: what a viewer shows.
        w_pt, h_pt = page.get_size()
        orig = (max(1, round(w_pt)), max(1, round(h_pt)))
        if max(orig) < req["min_size"]:
            return _skip("image_too_small", f"{orig[0]}x{orig[1]}pt, longer side < {req['min_size']}")
        scale = req["max_size"] / max(w_pt, h_pt) if req["max_size"] else req["dpi"] / 72.0
        width, height = max(1, round(w_pt * scale)), max(1, round(h_pt * scale))
        if width * height > req["max_pixels"]:
            return _skip("pixel_limit", f"page {orig[0]}x{orig[1]}pt renders to {width}x{height} pixels")
        raw = pdfium.raw
        bitmap = pdfium.PdfBitmap.new_native(width, height, raw.FPDFBitmap_BGR, rev_byteorder=True)
        bitmap.fill_rect((255, 255, 255, 255), 0, 0, width, height)
        # The page box mapped onto the whole bitmap: exactly the target size, no resampling afterwards.
        raw.FPDF_RenderPageBitmap(bitmap, page, 0, 0, width, height, 0,
                                  raw.FPDF_ANNOT | raw.FPDF_REVERSE_BYTE_ORDER)
        pixels = bytes(bitmap.buffer)
        page.close()
        return {"status": "ok", "page": orig, "size": [width, height]}, pixels
    finally:
        doc.close()


def _skip(reason: str, detail: str) -> tuple[dict, bytes]:
    return {"status": "skip", "reason": reason, "detail": detail}, b""


def main(argv: list[str]) -> int:
    limit = int(argv[1])
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # anything native code prints goes to stderr, never into the protocol
    try:
        import pypdfium2 as pdfium
        import pypdfium2.raw  # noqa: F401  (pdfium.raw below)
    except ImportError as e:
        out.write(frame({"status": "unavailable", "detail": str(e)}))
        return 3
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out.write(frame({"status": "ready"}))
    stdin = sys.stdin.buffer
    while True:
        request = read_frame(stdin)
        if request is None:
            return 0
        req, data = request
        signal.alarm(max(1, int(req["backstop_s"])))  # default action: terminate, even inside native code
        try:
            meta, payload = render(pdfium, data, req)
        except MemoryError:
            meta, payload = _skip("rasterize_error", f"PDFium ran out of memory (limit {limit >> 20} MiB)")
        except Exception as e:  # a pypdfium2 error we did not foresee: this figure only
            meta, payload = _skip("rasterize_error", f"PDFium: {type(e).__name__}: {e}")
        signal.alarm(0)
        del data
        out.write(frame(meta, payload))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
