"""Speed must not buy visibly worse pictures: every shortcut against the slow, careful way.

Rasters: reduced-size decoding and box reduction + Lanczos against a full decode and one Lanczos resize.
Vector art: rendering straight at the target size against rendering at four times that size and a Lanczos
downscale, by the same renderer; PDFium's direct render must be no further from it than poppler's was.
The measure is the mean absolute difference per channel, in grey levels (0-255).
"""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pytest
from PIL import Image

from sciclip.images.pipeline import ImageOptions, convert_image
from sciclip.images.raster import to_rgb
from sciclip.sample import media
from tests.conftest import REALDATA

OPTS = ImageOptions()
LANCZOS = Image.Resampling.LANCZOS


def mad(a: Image.Image, b: Image.Image) -> float:
    return float(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).mean())


def _decode(jpeg: bytes) -> Image.Image:
    return Image.open(io.BytesIO(jpeg)).convert("RGB")


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("name,data", [
    ("png rgb 2400", _save(media.draw_plot("q/rgb", (2400, 1800)), "PNG")),
    ("png rgb 1100", _save(media.draw_plot("q/rgb2", (1100, 800)), "PNG")),
    ("png rgba 2000", media.png_rgba("q/rgba", (2000, 1500))),
    ("png gray 1600", media.png_gray("q/gray", (1600, 1200))),
    ("png palette 1300", media.png_palette("q/pal", (1300, 1000))),
    ("jpeg photo 4000", _save(media.natural_image("q/photo", (4000, 3000)), "JPEG", quality=92)),
    ("jpeg plot 3000", _save(media.draw_plot("q/jplot", (3000, 2000)), "JPEG", quality=92)),
    ("jpeg cmyk 2000", media.jpeg_cmyk("q/cmyk", (2000, 1500))),
    ("tiff lzw 2000", _save(media.draw_plot("q/tiff", (2000, 1500)), "TIFF", compression="tiff_lzw")),
])
def test_raster_shortcuts_stay_close_to_a_full_lanczos_resize(name, data):
    ours = _decode(convert_image(data, OPTS).jpeg)
    reference = to_rgb(Image.open(io.BytesIO(data))).resize(ours.size, LANCZOS)
    assert mad(ours, reference) < 1.5, name


def _pdfium(data: bytes, long_side: int) -> Image.Image:
    import pypdfium2 as pdfium

    page = pdfium.PdfDocument(data)[0]
    return page.render(scale=long_side / max(page.get_size())).to_pil().convert("RGB")


def _poppler(path, long_side: int) -> Image.Image:
    out = subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-singlefile", "-cropbox", "-scale-to", str(long_side),
                          str(path)], capture_output=True, check=True).stdout
    return Image.open(io.BytesIO(out)).convert("RGB")


def test_pdf_rendered_at_target_size_matches_a_supersampled_render(tmp_path):
    data = media.pdf_multipage("q/pdf", (360, 252))
    ours = _decode(convert_image(data, OPTS).jpeg)
    assert mad(ours, _pdfium(data, 4 * 512).resize(ours.size, LANCZOS)) < 1.5


@pytest.mark.skipif(not (REALDATA / "latex").is_dir(), reason=f"real data not present at {REALDATA}")
def test_pdfium_direct_render_is_no_further_from_supersampling_than_poppler_was():
    pdfs = sorted((REALDATA / "latex").rglob("*.pdf"))[::4]
    assert pdfs
    for path in pdfs:
        data = path.read_bytes()
        ours = _decode(convert_image(data, OPTS, path=path).jpeg)
        ours_gap = mad(ours, _pdfium(data, 4 * 512).resize(ours.size, LANCZOS))
        old = _poppler(path, 512)
        old_gap = mad(old, _poppler(path, 4 * 512).resize(old.size, LANCZOS))
        assert ours_gap <= old_gap + 0.5, (path.name, ours_gap, old_gap)


def test_eps_rendered_at_target_size_matches_a_supersampled_render():
    data = media.eps("q/eps", (18, 18, 450, 306), hires=True)
    ours = _decode(convert_image(data, OPTS).jpeg)
    big = convert_image(data, ImageOptions(max_size=4 * 512, jpeg_quality=100))
    assert mad(ours, _decode(big.jpeg).resize(ours.size, LANCZOS)) < 2.0
