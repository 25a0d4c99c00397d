"""One image in, one RGB JPEG out: the single conversion path every source (arXiv, PMC, ...) uses.

Each format goes the cheapest way to the target size that keeps the picture right: rasters through Pillow
(``images.raster``: reduced-size JPEG decoding, one area + Lanczos downscale), PDF first pages through
PDFium in a helper process with poppler as the fallback (``images.pdf``), EPS/PS through Ghostscript
(``images.eps``); vector art is rendered straight at the target size. The result is encoded once.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from sciclip.errors import Skip
from sciclip.images.eps import eps_bounding_box, rasterise_eps
from sciclip.images.external import tools_available
from sciclip.images.pdf import pdf_page_size, rasterise_pdf
from sciclip.images.raster import PIL_FORMATS, convert_raster, target_size, to_rgb

__all__ = ["ImageOptions", "ConvertedImage", "convert_image", "sniff_format", "eps_bounding_box",
           "pdf_page_size", "tools_available", "to_rgb", "PIL_FORMATS"]

RASTER_FORMATS = ("png", "jpeg", "gif", "tiff", "bmp", "webp", "ppm")
VECTOR_FORMATS = ("pdf", "eps")


@dataclass(frozen=True)
class ImageOptions:
    max_size: int = 512
    resize: bool = True
    jpeg_quality: int = 95
    min_size: int = 32
    max_pixels: int = 100_000_000
    timeout_s: float = 60.0
    vector_dpi: float = 150.0
    # address space of the PDFium helper process: room for the interpreter, PDFium and decoded page images
    render_memory_mb: int = 2048


@dataclass(frozen=True)
class ConvertedImage:
    jpeg: bytes
    width: int
    height: int
    original_width: int
    original_height: int
    source_format: str


def sniff_format(data: bytes) -> str | None:
    """The format by magic bytes; file extensions in papers lie too often to be trusted."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return "tiff"
    if head.startswith(b"BM"):
        return "bmp"
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    if head[:2] in (b"P4", b"P5", b"P6"):
        return "ppm"
    if head.startswith(b"\xc5\xd0\xd3\xc6") or head.startswith(b"%!"):
        return "eps"
    # PDF allows up to 1 KiB of junk before the header.
    if b"%PDF-" in data[:1024]:
        return "pdf"
    return None


def convert_image(data: bytes, opts: ImageOptions, path: Path | None = None,
                  scratch: Path | None = None, timings: dict | None = None) -> ConvertedImage:
    """Convert image bytes (``path``: the same bytes on disk, saves a copy for Ghostscript and poppler).

    Raises ``Skip`` with the reason counter on any unusable input. ``timings`` (optional) accumulates seconds
    spent rasterising (PDF/EPS) or decoding and resizing (rasters), and encoding.
    """
    t0 = time.perf_counter()
    fmt = sniff_format(data)
    if fmt is None:
        raise Skip("unsupported_format", "unknown image format")
    max_size = opts.max_size if opts.resize else None
    if fmt in VECTOR_FORMATS:
        args = (data, max_size, opts.vector_dpi, opts.max_pixels, opts.min_size, opts.timeout_s)
        if fmt == "pdf":
            img, orig = rasterise_pdf(*args, opts.render_memory_mb << 20, path, scratch)
        else:
            img, orig = rasterise_eps(*args, path, scratch)
        # Vector art has no pixel size: a 130x23 pt block diagram is a real figure once rendered.
        # Judge the rendering, and drop only icons whose longer side is tiny on the page.
        if min(img.size) < opts.min_size:
            raise Skip("image_too_small", f"rendered {img.size[0]}x{img.size[1]} < {opts.min_size}px")
        if img.mode != "RGB":
            img = to_rgb(img)
        if max_size is not None and max(img.size) > max_size:
            img = img.resize(target_size(*img.size, max_size), Image.Resampling.LANCZOS)
    else:
        img, orig = convert_raster(data, max_size, opts.max_pixels, opts.min_size)
    t1 = time.perf_counter()
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=opts.jpeg_quality)
    if timings is not None:
        key = "rasterise" if fmt in VECTOR_FORMATS else "decode"
        timings[key] = timings.get(key, 0.0) + (t1 - t0)
        timings["encode"] = timings.get("encode", 0.0) + (time.perf_counter() - t1)
    return ConvertedImage(buf.getvalue(), img.width, img.height, orig[0], orig[1], fmt)
