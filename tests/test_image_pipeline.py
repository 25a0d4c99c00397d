"""Every input format and mode to RGB JPEG; size rules; hostile and broken files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sciclip.errors import Skip
from sciclip.images.pipeline import ImageOptions, convert_image, eps_bounding_box, sniff_format
from sciclip.sample import media

OPTS = ImageOptions()


def decode(jpeg: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(jpeg))
    assert img.format == "JPEG"
    return img


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("name,data,fmt,orig,out", [
    ("png rgba", media.png_rgba("t/rgba", (800, 600)), "png", (800, 600), (512, 384)),
    ("png palette", media.png_palette("t/pal", (400, 400)), "png", (400, 400), (400, 400)),
    ("png gray", media.png_gray("t/gray", (256, 256)), "png", (256, 256), (256, 256)),
    ("jpeg rgb portrait", media.jpeg_rgb("t/jpg", (600, 800)), "jpeg", (600, 800), (384, 512)),
    ("jpeg cmyk", media.jpeg_cmyk("t/cmyk", (1024, 400)), "jpeg", (1024, 400), (512, 200)),
    ("gif animated", media.gif_animated("t/gif", (300, 200)), "gif", (300, 200), (300, 200)),
    ("pdf 2 pages", media.pdf_multipage("t/pdf", (360, 252)), "pdf", (360, 252), (512, 358)),
    ("eps", media.eps("t/eps", (0, 0, 300, 200)), "eps", (300, 200), (512, 341)),
    ("eps atend offset", media.eps("t/atend", (50, 60, 350, 260), atend=True), "eps", (300, 200), (512, 341)),
    ("eps hires", media.eps("t/hires", (18, 18, 450, 306), hires=True), "eps", (432, 288), (512, 341)),
])
def test_formats_convert_to_rgb_jpeg(name, data, fmt, orig, out):
    res = convert_image(data, OPTS)
    assert res.source_format == fmt
    assert (res.original_width, res.original_height) == orig
    assert abs(res.width - out[0]) <= 1 and abs(res.height - out[1]) <= 1
    img = decode(res.jpeg)
    assert img.mode == "RGB" and img.size == (res.width, res.height)


def test_transparency_is_flattened_onto_white():
    rgba = Image.new("RGBA", (100, 100), (0, 0, 0, 0))  # fully transparent black
    rgba.paste((255, 0, 0, 255), (40, 40, 60, 60))
    img = decode(convert_image(_save(rgba, "PNG"), OPTS).jpeg)
    assert min(img.getpixel((5, 5))) >= 250  # white, not black
    r, g, b = img.getpixel((50, 50))
    assert r > 200 and g < 60 and b < 60


def test_palette_transparency_is_white():
    p = Image.new("P", (64, 64), 0)
    p.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    p.paste(1, (20, 20, 40, 40))
    img = decode(convert_image(_save(p, "PNG", transparency=0), OPTS).jpeg)
    assert min(img.getpixel((2, 2))) >= 250
    assert img.getpixel((30, 30))[2] > 200


def test_cmyk_colours_survive():
    rgb = Image.new("RGB", (64, 64), (200, 30, 30))
    img = decode(convert_image(_save(rgb.convert("CMYK"), "JPEG", quality=95), OPTS).jpeg)
    r, g, b = img.getpixel((32, 32))
    assert r > 150 and g < 90 and b < 90


def test_sixteen_bit_and_tiff_and_float():
    arr = (np.linspace(0, 65535, 128 * 128).reshape(128, 128)).astype(np.uint16)
    data16 = _save(Image.fromarray(arr), "PNG")
    img = decode(convert_image(data16, OPTS).jpeg)
    assert img.getpixel((127, 127))[0] > 240 and img.getpixel((0, 0))[0] < 15
    tiff = _save(Image.new("RGB", (80, 60), (10, 200, 10)), "TIFF", compression="tiff_lzw")
    res = convert_image(tiff, OPTS)
    assert res.source_format == "tiff" and decode(res.jpeg).getpixel((40, 30))[1] > 180


def test_pdf_first_page_only():
    data = media.pdf_multipage("t/pages", (200, 200), pages=2)
    first = decode(convert_image(data, OPTS).jpeg)
    # the second page alone, for comparison: a PDF with a different first page renders differently
    other = decode(convert_image(media.pdf_multipage("t/other", (200, 200), pages=1), OPTS).jpeg)
    assert first.size == other.size
    assert np.abs(np.asarray(first, dtype=int) - np.asarray(other, dtype=int)).mean() > 5


def test_never_upscale_and_resize_off():
    small = media.png_rgb("t/small", (100, 80))
    res = convert_image(small, OPTS)
    assert (res.width, res.height) == (100, 80)
    big = media.png_rgb("t/big", (1600, 900))
    res = convert_image(big, ImageOptions(resize=False))
    assert (res.width, res.height) == (1600, 900)
    res = convert_image(media.eps("t/e", (0, 0, 144, 72)), ImageOptions(resize=False, vector_dpi=144))
    assert (res.width, res.height) == (288, 144)


def test_jpeg_quality_is_applied():
    data = media.png_rgb("t/q", (500, 500))
    hi = convert_image(data, ImageOptions(jpeg_quality=95)).jpeg
    lo = convert_image(data, ImageOptions(jpeg_quality=30)).jpeg
    assert len(lo) < len(hi)


def test_min_size_and_pixel_cap():
    with pytest.raises(Skip) as e:
        convert_image(media.png_rgb("t/icon", (16, 16)), OPTS)
    assert e.value.reason == "image_too_small"
    with pytest.raises(Skip) as e:
        convert_image(media.png_rgb("t/px", (400, 400)), ImageOptions(max_pixels=100_000))
    assert e.value.reason == "pixel_limit"


def test_decompression_bomb_header_is_refused_before_decoding():
    # A PNG header claiming 100000 x 100000 pixels: must be refused from the header alone.
    import struct
    import zlib
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    def chunk_bytes(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    png = (b"\x89PNG\r\n\x1a\n" + chunk_bytes(b"IHDR", ihdr) + chunk_bytes(b"IDAT", zlib.compress(b"\x00" * 64))
           + chunk_bytes(b"IEND", b""))
    with pytest.raises(Skip) as e:
        convert_image(png, OPTS)
    assert e.value.reason == "pixel_limit"


@pytest.mark.parametrize("data,reason", [
    (b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, "image_decode_error"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "unsupported_format"),
    (b"%PDF-1.4\nthis is not a pdf\n%%EOF\n", "rasterize_error"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n/x { undefinedcommand } def x\n", "rasterize_error"),
    (b"%!PS-Adobe-3.0 EPSF-3.0\n%%Title: no box\nshowpage\n", "rasterize_error"),
])
def test_broken_files_are_skipped_with_reason(data, reason):
    with pytest.raises(Skip) as e:
        convert_image(data, OPTS)
    assert e.value.reason == reason


def test_ghostscript_timeout():
    looping = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n{ } loop\n"
    with pytest.raises(Skip) as e:
        convert_image(looping, ImageOptions(timeout_s=1.0))
    assert e.value.reason == "rasterize_timeout"


def test_ghostscript_runs_safer(tmp_path):
    """Neither files beside the EPS nor the temp directory are reachable from PostScript."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    ps = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n"
          b"(" + str(secret).encode() + b") (r) file 100 string readstring pop print\n"
          b"(" + str(tmp_path / "written.txt").encode() + b") (w) file (x) writestring\nshowpage\n")
    with pytest.raises(Skip) as e:
        convert_image(ps, OPTS)
    assert e.value.reason == "rasterize_error"
    assert not (tmp_path / "written.txt").exists()


def test_sniff_and_bounding_box():
    assert sniff_format(b"\xc5\xd0\xd3\xc6" + b"\x00" * 20) == "eps"
    assert sniff_format(b"junk" * 10 + b"%PDF-1.5") == "pdf"
    assert eps_bounding_box(b"%%BoundingBox: (atend)\n...\n%%BoundingBox: 1 2 30 40\n") == (1, 2, 30, 40)
    assert eps_bounding_box(b"%%BoundingBox: 0 0 10 10\n%%HiResBoundingBox: 0 0 9.5 9.5\n") == (0, 0, 9.5, 9.5)


def test_dos_eps_binary_header():
    ps = media.eps("t/dos", (0, 0, 200, 100))
    header = b"\xc5\xd0\xd3\xc6" + (30).to_bytes(4, "little") + len(ps).to_bytes(4, "little") + b"\x00" * 18
    res = convert_image(header + ps, OPTS)
    assert res.source_format == "eps" and (res.original_width, res.original_height) == (200, 100)


def test_conversion_is_deterministic():
    data = media.pdf_multipage("t/det", (300, 200))
    assert convert_image(data, OPTS).jpeg == convert_image(data, OPTS).jpeg


def test_tiff_variants_first_page_lzw_cmyk():
    pages = [Image.new("RGB", (120, 80), c) for c in ((250, 20, 20), (20, 20, 250))]
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", compression="tiff_lzw", save_all=True, append_images=pages[1:])
    img = decode(convert_image(buf.getvalue(), OPTS).jpeg)
    r, g, b = img.getpixel((60, 40))
    assert r > 200 and b < 60  # the first page, not the second
    cmyk = _save(Image.new("RGB", (90, 90), (20, 160, 20)).convert("CMYK"), "TIFF", compression="tiff_lzw")
    r, g, b = decode(convert_image(cmyk, OPTS).jpeg).getpixel((45, 45))
    assert g > 120 and r < 80 and b < 80


def test_exif_rotation_is_applied_after_the_resize():
    img = Image.new("RGB", (1200, 800), (230, 20, 20))
    img.paste((20, 20, 230), (600, 0, 1200, 800))  # stored: left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise: the stored left becomes the top
    res = convert_image(_save(img, "JPEG", quality=95, exif=exif), OPTS)
    assert (res.original_width, res.original_height) == (800, 1200) and (res.width, res.height) == (341, 512)
    out = decode(res.jpeg)
    assert out.getpixel((170, 100))[0] > 200 and out.getpixel((170, 400))[2] > 200


def test_embedded_icc_profiles_are_applied_or_ignored_when_broken():
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    plot = media.draw_plot("t/icc", (700, 500))
    plain = decode(convert_image(_save(plot, "PNG"), OPTS).jpeg)
    tagged = decode(convert_image(_save(plot, "PNG", icc_profile=srgb), OPTS).jpeg)
    assert np.abs(np.asarray(plain, dtype=int) - np.asarray(tagged, dtype=int)).mean() < 1.0
    broken = decode(convert_image(_save(plot, "PNG", icc_profile=b"not a profile" * 20), OPTS).jpeg)
    assert np.asarray(broken).tobytes() == np.asarray(plain).tobytes()


def test_transparent_edges_do_not_bleed_when_downscaled():
    """Transparent pixels' colour (here black) must not darken the edges of a shape after the resize."""
    rgba = Image.new("RGBA", (1600, 1600), (0, 0, 0, 0))
    rgba.paste((255, 255, 255, 255), (0, 0, 800, 1600))  # opaque white left half, transparent black right half
    img = decode(convert_image(_save(rgba, "PNG"), OPTS).jpeg)
    assert min(min(img.getpixel((x, 256))) for x in range(0, 512)) >= 250
