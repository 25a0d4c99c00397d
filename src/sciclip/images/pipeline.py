"""One image in, one RGB JPEG out: the single conversion path every source (arXiv, PMC, ...) uses.

Rasters are decoded by Pillow under a pixel cap; PDF pages are rasterised by poppler's ``pdftoppm`` and
EPS/PS by Ghostscript (always ``-dSAFER``), each in a subprocess with a timeout so a hostile or
pathological file costs at most that long and can never take the job down.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from sciclip.errors import Skip

RASTER_FORMATS = ("png", "jpeg", "gif", "tiff", "bmp", "webp", "ppm")
VECTOR_FORMATS = ("pdf", "eps")
PIL_FORMATS = ["PNG", "JPEG", "GIF", "TIFF", "BMP", "WEBP", "PPM"]


@dataclass(frozen=True)
class ImageOptions:
    max_size: int = 512
    resize: bool = True
    jpeg_quality: int = 95
    min_size: int = 32
    max_pixels: int = 100_000_000
    timeout_s: float = 60.0
    vector_dpi: float = 150.0


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
    """Convert image bytes (``path``: the same bytes on disk, saves a copy for vector formats).

    Raises ``Skip`` with the reason counter on any unusable input. ``timings`` (optional) accumulates seconds
    spent rasterising (PDF/EPS), decoding (rasters), converting to RGB and resizing, and encoding.
    """
    t0 = time.perf_counter()
    fmt = sniff_format(data)
    if fmt is None:
        raise Skip("unsupported_format", "unknown image format")
    if fmt == "pdf":
        img, orig = _rasterise_pdf(data, opts, path, scratch)
    elif fmt == "eps":
        img, orig = _rasterise_eps(data, opts, scratch)
    else:
        img, orig = _decode_raster(data, opts)
    t1 = time.perf_counter()
    if fmt in VECTOR_FORMATS:
        # Vector art has no pixel size: a 130x23 pt block diagram is a real figure once rendered.
        # Judge the rendering, and drop only icons whose longer side is tiny on the page.
        if min(img.size) < opts.min_size:
            raise Skip("image_too_small", f"rendered {img.size[0]}x{img.size[1]} < {opts.min_size}px")
    elif min(orig) < opts.min_size:
        raise Skip("image_too_small", f"{orig[0]}x{orig[1]} < {opts.min_size}px")
    img = to_rgb(img)
    img = _fit(img, opts)
    t2 = time.perf_counter()
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=opts.jpeg_quality)
    if timings is not None:
        key = "rasterise" if fmt in VECTOR_FORMATS else "decode"
        timings[key] = timings.get(key, 0.0) + (t1 - t0)
        timings["resize"] = timings.get("resize", 0.0) + (t2 - t1)
        timings["encode"] = timings.get("encode", 0.0) + (time.perf_counter() - t2)
    return ConvertedImage(buf.getvalue(), img.width, img.height, orig[0], orig[1], fmt)


def _fit(img: Image.Image, opts: ImageOptions) -> Image.Image:
    """Longer side to at most ``max_size`` (never upscaling); ``resize: false`` keeps the size."""
    if not opts.resize:
        return img
    w, h = img.size
    if max(w, h) <= opts.max_size:
        return img
    scale = opts.max_size / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    # A box-filter pre-shrink (reducing_gap) pays off only for big reductions: it halves the time of a
    # 4000 px -> 512 px resize but costs a third more at the common 2-3x (measured, bench/pipeline_scale.py).
    gap = 3.0 if max(w, h) >= 6 * opts.max_size else None
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=gap)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is flattened onto white (the seed made it black)."""
    if img.mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        img = _to_8bit(img)
    if img.mode in ("RGBa", "La"):
        img = img.convert("RGBA")
    if img.mode in ("LA", "PA"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        return background
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit and float images: scale the full range of the type (or of the data, for I/F) to 0..255."""
    arr = np.asarray(img, dtype=np.float64)
    if img.mode.startswith("I;16"):
        top = 65535.0
    else:
        top = float(arr.max()) if arr.size and arr.max() > 0 else 1.0
    arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "L")


def _decode_raster(data: bytes, opts: ImageOptions) -> tuple[Image.Image, tuple[int, int]]:
    Image.MAX_IMAGE_PIXELS = opts.max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=PIL_FORMATS)
            w, h = img.size
            if w * h > opts.max_pixels:
                raise Skip("pixel_limit", f"{w}x{h} exceeds {opts.max_pixels} pixels")
            if img.format == "JPEG" and opts.resize and max(w, h) > opts.max_size:
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale: never below the target size.
                img.draft(img.mode, _target_size(w, h, opts.max_size))
            if img.format in ("JPEG", "TIFF", "WEBP"):
                # Report the size as displayed: EXIF orientations 5-8 swap the axes.
                if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                    w, h = h, w
                img = ImageOps.exif_transpose(img)
            img.load()
    except Skip:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise Skip("pixel_limit", str(e)) from None
    except Exception as e:  # Pillow raises many types on corrupt data; all mean the same here
        detail = "not a readable image" if isinstance(e, UnidentifiedImageError) else f"{type(e).__name__}: {e}"
        raise Skip("image_decode_error", detail) from None
    return img, (w, h)


def _target_size(w: int, h: int, max_size: int) -> tuple[int, int]:
    scale = max_size / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _run(cmd: list[str], timeout_s: float, what: str, env: dict | None = None) -> bytes:
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL, env=env)
    except subprocess.TimeoutExpired:
        raise Skip("rasterize_timeout", f"{what} took longer than {timeout_s:g}s") from None
    except FileNotFoundError:
        raise Skip("rasterize_error", f"{cmd[0]} is not installed") from None
    if proc.returncode != 0 or not proc.stdout:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise Skip("rasterize_error", f"{what} exited {proc.returncode}: {tail[0][:200]}")
    return proc.stdout


def _open_pnm(data: bytes, what: str) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data), formats=["PPM"])
        img.load()
    except Exception as e:
        raise Skip("rasterize_error", f"{what} gave an unreadable image: {e}") from None
    return img


# A page's box in an uncompressed page dictionary; pdfTeX places the CropBox, so prefer it.
_BOX_RE = {name: re.compile(rb"/" + name + rb"\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]")
           for name in (b"CropBox", b"MediaBox")}
_PDFINFO_BOX = re.compile(r"Page\s+1\s+(CropBox|MediaBox):\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)")


def pdf_page_size(data: bytes, path: Path, timeout_s: float) -> tuple[int, int]:
    """First page size in points (1/72 in), which we report as the original size of vector art.

    Reading the box out of the bytes saves a pdfinfo process per figure (about a quarter of the
    rasterising time); it is only trusted when the file has exactly one page box of that kind, else
    pdfinfo decides.
    """
    for name in (b"CropBox", b"MediaBox"):
        boxes = _BOX_RE[name].findall(data)
        if len(boxes) == 1 and b"/ObjStm" not in data:
            try:
                x0, y0, x1, y1 = (float(v) for v in boxes[0])
            except ValueError:
                break
            return max(1, round(abs(x1 - x0))), max(1, round(abs(y1 - y0)))
        if boxes:
            break
    out = _run(["pdfinfo", "-f", "1", "-l", "1", "-box", str(path)], timeout_s, "pdfinfo").decode("latin-1")
    found = {m.group(1): m.groups()[1:] for m in _PDFINFO_BOX.finditer(out)}
    box = found.get("CropBox") or found.get("MediaBox")
    if not box:
        raise Skip("rasterize_error", "pdfinfo reported no page size")
    x0, y0, x1, y1 = (float(v) for v in box)
    return max(1, round(abs(x1 - x0))), max(1, round(abs(y1 - y0)))


def _rasterise_pdf(data: bytes, opts: ImageOptions, path: Path | None,
                   scratch: Path | None) -> tuple[Image.Image, tuple[int, int]]:
    with _on_disk(data, path, scratch, ".pdf") as pdf:
        orig = pdf_page_size(data, pdf, opts.timeout_s)
        if max(orig) < opts.min_size:
            raise Skip("image_too_small", f"{orig[0]}x{orig[1]}pt, longer side < {opts.min_size}")
        cmd = ["pdftoppm", "-f", "1", "-l", "1", "-singlefile", "-cropbox", "-aa", "yes", "-aaVector", "yes"]
        if opts.resize:
            cmd += ["-scale-to", str(opts.max_size)]  # straight to the target size: no full-size render
        else:
            cmd += ["-r", f"{opts.vector_dpi:g}"]
        if not opts.resize and orig[0] * orig[1] * (opts.vector_dpi / 72) ** 2 > opts.max_pixels:
            raise Skip("pixel_limit", f"page {orig[0]}x{orig[1]}pt at {opts.vector_dpi:g} dpi")
        cmd.append(str(pdf))
        out = _run(cmd, opts.timeout_s, "pdftoppm")
    return _open_pnm(out, "pdftoppm"), orig


_BBOX_RE = re.compile(rb"^%%(HiRes)?BoundingBox:[ \t]*(\(atend\)|[-\d. \t]+)[ \t]*\r?$", re.M)


def eps_bounding_box(ps: bytes) -> tuple[float, float, float, float] | None:
    """The EPS bounding box, following ``(atend)`` to the trailer; HiResBoundingBox wins over the integer one."""
    found: dict[bool, tuple[float, float, float, float]] = {}
    for m in _BBOX_RE.finditer(ps):
        value = m.group(2)
        if value.startswith(b"("):
            continue
        parts = value.split()
        if len(parts) != 4:
            continue
        try:
            box = tuple(float(p) for p in parts)
        except ValueError:
            continue
        hires = m.group(1) is not None
        if box[2] > box[0] and box[3] > box[1]:
            found[hires] = box  # type: ignore[assignment]
    return found.get(True) or found.get(False)


def _postscript_section(data: bytes) -> bytes:
    """The PostScript part of a DOS EPS binary (header C5D0D3C6 + offsets, often with a TIFF preview)."""
    if data.startswith(b"\xc5\xd0\xd3\xc6") and len(data) >= 12:
        start = int.from_bytes(data[4:8], "little")
        length = int.from_bytes(data[8:12], "little")
        return data[start:start + length]
    return data


def _rasterise_eps(data: bytes, opts: ImageOptions, scratch: Path | None) -> tuple[Image.Image, tuple[int, int]]:
    ps = _postscript_section(data)
    box = eps_bounding_box(ps)
    if box is None:
        raise Skip("rasterize_error", "PostScript without a usable %%BoundingBox")
    bw, bh = box[2] - box[0], box[3] - box[1]
    orig = (max(1, round(bw)), max(1, round(bh)))
    if max(orig) < opts.min_size:
        raise Skip("image_too_small", f"{orig[0]}x{orig[1]}pt, longer side < {opts.min_size}")
    dpi = opts.max_size * 72.0 / max(bw, bh) if opts.resize else opts.vector_dpi
    dpi = min(max(dpi, 4.0), 2400.0)
    if bw * bh * (dpi / 72) ** 2 > opts.max_pixels:
        raise Skip("pixel_limit", f"bounding box {orig[0]}x{orig[1]}pt at {dpi:.0f} dpi")
    # Ghostscript's -dEPSCrop reads only the header's box and misses "(atend)": we size the page to the
    # box we resolved and move the drawing to the origin ourselves.
    prologue = b"%f %f translate\n" % (-box[0], -box[1])
    # -dSAFER still lets PostScript read and write Ghostscript's temp directory ($TMPDIR, where every
    # paper's scratch lives): give each run a private, empty one.
    with _on_disk(prologue + ps, None, scratch, ".ps") as eps, \
            tempfile.TemporaryDirectory(prefix="gs-", dir=scratch) as gs_tmp:
        env = {**os.environ, "TMPDIR": gs_tmp, "TEMP": gs_tmp, "TMP": gs_tmp}
        cmd = ["gs", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dQUIET", "-dNOPROMPT", "-dFirstPage=1", "-dLastPage=1",
               "-sDEVICE=ppmraw", f"-r{dpi:.4f}", "-dTextAlphaBits=4", "-dGraphicsAlphaBits=4",
               f"-dDEVICEWIDTHPOINTS={bw:.3f}", f"-dDEVICEHEIGHTPOINTS={bh:.3f}", "-dFIXEDMEDIA",
               "-sOutputFile=-", "-f", str(eps)]
        out = _run(cmd, opts.timeout_s, "ghostscript", env=env)
    # Ghostscript may emit one image per page; Pillow reads the first.
    return _open_pnm(out, "ghostscript"), orig


class _on_disk:
    """A path holding ``data``: the given one when it exists, else a temporary file in ``scratch``."""

    def __init__(self, data: bytes, path: Path | None, scratch: Path | None, suffix: str) -> None:
        self.data, self.path, self.scratch, self.suffix = data, path, scratch, suffix
        self._tmp: Path | None = None

    def __enter__(self) -> Path:
        if self.path is not None and self.path.is_file():
            return self.path
        fd, name = tempfile.mkstemp(suffix=self.suffix, dir=self.scratch)
        with open(fd, "wb") as f:
            f.write(self.data)
        self._tmp = Path(name)
        return self._tmp

    def __exit__(self, *exc) -> None:
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)


def tools_available() -> dict[str, bool]:
    """Which external rasterisers are on PATH (for ``sciclip doctor``-style messages and tests)."""
    return {tool: shutil.which(tool) is not None for tool in ("pdftoppm", "pdfinfo", "gs")}
