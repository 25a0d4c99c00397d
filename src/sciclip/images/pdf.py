"""PDF figures: the first page, CropBox, rendered straight at the target size.

PDFium renders in a helper process this process keeps (``images.pdfium_client``: a deadline per render,
an address-space limit, the pixel cap checked before any bitmap exists); on real papers it was 2.7 times
faster than a ``pdftoppm`` process per figure, most of which was process start. Poppler stays as the
fallback for files PDFium cannot open (and where pypdfium2 is missing).
"""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from sciclip.errors import Skip
from sciclip.images.external import on_disk, open_pnm, run
from sciclip.images.pdfium_client import renderer

# A page's box in an uncompressed page dictionary; pdfTeX places the CropBox, so prefer it.
_BOX_RE = {name: re.compile(rb"/" + name + rb"\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]")
           for name in (b"CropBox", b"MediaBox")}
_PDFINFO_BOX = re.compile(r"Page\s+1\s+(CropBox|MediaBox):\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)")


def rasterise_pdf(data: bytes, max_size: int | None, dpi: float, max_pixels: int, min_size: int,
                  timeout_s: float, memory_limit: int, path: Path | None = None,
                  scratch: Path | None = None) -> tuple[Image.Image, tuple[int, int]]:
    """The first page at ``max_size`` px on its longer side (None: at ``dpi``); the page size in points."""
    done = renderer(memory_limit).render(data, max_size=max_size or 0, dpi=dpi, max_pixels=max_pixels,
                                         min_size=min_size, timeout_s=timeout_s)
    if done is not None:
        return Image.frombuffer("RGB", done.size, done.pixels, "raw", "RGB", 0, 1), done.page
    return _poppler(data, max_size, dpi, max_pixels, min_size, timeout_s, path, scratch)


def _poppler(data: bytes, max_size: int | None, dpi: float, max_pixels: int, min_size: int, timeout_s: float,
             path: Path | None, scratch: Path | None) -> tuple[Image.Image, tuple[int, int]]:
    with on_disk(data, path, scratch, ".pdf") as pdf:
        orig = pdf_page_size(data, pdf, timeout_s)
        if max(orig) < min_size:
            raise Skip("image_too_small", f"{orig[0]}x{orig[1]}pt, longer side < {min_size}")
        cmd = ["pdftoppm", "-f", "1", "-l", "1", "-singlefile", "-cropbox", "-aa", "yes", "-aaVector", "yes"]
        if max_size is not None:
            cmd += ["-scale-to", str(max_size)]  # straight to the target size: no full-size render
        else:
            if orig[0] * orig[1] * (dpi / 72) ** 2 > max_pixels:
                raise Skip("pixel_limit", f"page {orig[0]}x{orig[1]}pt at {dpi:g} dpi")
            cmd += ["-r", f"{dpi:g}"]
        cmd.append(str(pdf))
        out = run(cmd, timeout_s, "pdftoppm")
    return open_pnm(out, "pdftoppm"), orig


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
    out = run(["pdfinfo", "-f", "1", "-l", "1", "-box", str(path)], timeout_s, "pdfinfo").decode("latin-1")
    found = {m.group(1): m.groups()[1:] for m in _PDFINFO_BOX.finditer(out)}
    box = found.get("CropBox") or found.get("MediaBox")
    if not box:
        raise Skip("rasterize_error", "pdfinfo reported no page size")
    x0, y0, x1, y1 = (float(v) for v in box)
    return max(1, round(abs(x1 - x0))), max(1, round(abs(y1 - y0)))
