"""Raster figures (PNG, JPEG, GIF, TIFF, BMP, WebP, PNM) to a small RGB image, at the cost of the codec.

Chosen by measurement (issue 12, CPU time per image on figure-like pictures): Pillow's JPEG decoder with
``draft`` (libjpeg's DCT scaling, 1/2 to 1/8) was the fastest JPEG path (OpenCV and pyvips decoded a
4000x3000 JPEG 1.7 and 2 times slower); OpenCV decoded PNG no faster than Pillow, and its INTER_AREA resize
was about as fast as Pillow's reduce + Lanczos but three times further from a Lanczos reference (mean
absolute difference 1.1 against 0.35 grey levels on rendered paper figures); pyvips (libspng) decoded
PNG about twice as fast, but brings a second codec stack whose modes and colour handling would each need
their own checks, for a gain on large PNGs only. So: Pillow, with the work arranged so that each full-size
pixel is touched as few times as possible:

* decode at reduced size where the codec allows it (JPEG draft; PNG/TIFF/GIF have no such mode);
* refuse icons and pixel bombs from the header, before decoding;
* keep the decoded mode through the one resize (L stays one byte a pixel, CMYK is converted after);
  transparency is premultiplied first, so the resize cannot bleed colour out of transparent pixels, and
  is flattened onto white after it;
* one downscale: exact integer box reduction (area average) down to within 1.5x of the target, then
  Lanczos for the rest (``reducing_gap``): within a mean absolute difference of about 0.4 grey levels of a
  full Lanczos resize, at a quarter of its cost for large reductions;
* EXIF rotation, palette expansion, 16-bit scaling and ICC colour conversion where they are cheapest
  (after the resize when they commute with it).
"""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
from PIL import Image, ImageChops, UnidentifiedImageError

from sciclip.errors import Skip

PIL_FORMATS = ["PNG", "JPEG", "GIF", "TIFF", "BMP", "WEBP", "PPM"]
REDUCING_GAP = 1.5
_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
              4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270,
              7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90}
# modes the resize takes as they are; anything else is brought to one of them first
_RESIZABLE = ("L", "RGB", "CMYK", "RGBa", "La")


def convert_raster(data: bytes, max_size: int | None, max_pixels: int,
                   min_size: int) -> tuple[Image.Image, tuple[int, int]]:
    """``data`` as an RGB image whose longer side is at most ``max_size`` (None: keep the size), and the
    original size as displayed (EXIF rotation applied)."""
    img, (w, h), orientation = _open(data, max_pixels, min_size, max_size)
    orig = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    icc = img.info.get("icc_profile")
    try:
        img.load()
        img = _resizable(img)
    except Exception as e:  # truncated or corrupt data surfaces only when decoding
        raise Skip("image_decode_error", f"{type(e).__name__}: {e}") from None
    if max_size is not None and max(img.size) > max_size:
        img = img.resize(target_size(w, h, max_size), Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
    img = _finish_rgb(img, icc)
    if orientation in _TRANSPOSE:
        img = img.transpose(_TRANSPOSE[orientation])
    return img, orig


def target_size(w: float, h: float, max_size: int) -> tuple[int, int]:
    """The longer side to ``max_size``, the other in proportion (at least 1)."""
    scale = max_size / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def _open(data: bytes, max_pixels: int, min_size: int,
          max_size: int | None) -> tuple[Image.Image, tuple[int, int], int]:
    """The image opened lazily (header only) and checked against the size rules, with JPEG draft set; its
    size as stored and its EXIF orientation."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=PIL_FORMATS)
            w, h = img.size
            if w * h > max_pixels:
                raise Skip("pixel_limit", f"{w}x{h} exceeds {max_pixels} pixels")
            if min(w, h) < min_size:
                raise Skip("image_too_small", f"{w}x{h} < {min_size}px")
            orientation = 1
            if img.format in ("JPEG", "TIFF", "WEBP"):
                orientation = img.getexif().get(0x0112, 1)
            if img.format == "JPEG" and max_size is not None and max(w, h) > max_size:
                # libjpeg decodes at 1/2, 1/4 or 1/8 scale: never below the target size.
                img.draft(img.mode, target_size(w, h, max_size))
    except Skip:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise Skip("pixel_limit", str(e)) from None
    except Exception as e:  # Pillow raises many types on corrupt data; all mean the same here
        detail = "not a readable image" if isinstance(e, UnidentifiedImageError) else f"{type(e).__name__}: {e}"
        raise Skip("image_decode_error", detail) from None
    return img, (w, h), orientation if orientation in _TRANSPOSE else 1


def _resizable(img: Image.Image) -> Image.Image:
    """A mode the resize handles without losing anything: transparency premultiplied, >8 bits scaled."""
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    elif mode == "1":
        img = img.convert("L")  # Pillow resizes bilevel images with nearest neighbour only
    elif mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        img = _to_8bit(img)
    elif mode == "PA":
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        return img.convert("RGBa")
    if img.mode == "LA":
        return img.convert("La")
    if img.mode not in _RESIZABLE:
        img = img.convert("RGB")
    return img


def _finish_rgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    """After the resize: premultiplied transparency onto white, embedded ICC profiles to sRGB, then RGB."""
    if img.mode in ("RGBa", "La"):
        *colour, alpha = img.split()
        inverse = ImageChops.invert(alpha)  # c_premultiplied + (1 - a) * white
        flat = [ImageChops.add(c, inverse) for c in colour]
        img = flat[0] if len(flat) == 1 else Image.merge("RGB", flat)
    if icc and img.mode in ("RGB", "CMYK", "L"):
        converted = _icc_to_srgb(img, icc)
        if converted is not None:
            return converted
    return img if img.mode == "RGB" else img.convert("RGB")


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB at its size; transparency is flattened onto white (the seed made it black)."""
    return _finish_rgb(_resizable(img), img.info.get("icc_profile"))


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit and float images: scale the full range of the type (or of the data, for I/F) to 0..255."""
    arr = np.asarray(img)
    if img.mode.startswith("I;16"):
        out = ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    else:
        arr = arr.astype(np.float64)
        top = float(arr.max()) if arr.size and arr.max() > 0 else 1.0
        out = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(out, "L")


_TRANSFORMS: dict[tuple[bytes, str], object] = {}


def _icc_to_srgb(img: Image.Image, icc: bytes) -> Image.Image | None:
    """``img`` through its embedded profile into sRGB; None when the profile is sRGB already or unusable (then
    it is ignored, as every viewer without colour management does). Transforms are cached: papers reuse a few
    profiles."""
    from PIL import ImageCms

    key = (hashlib.sha1(icc).digest(), img.mode)
    transform = _TRANSFORMS.get(key)
    if transform is None:
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if img.mode == "RGB" and ImageCms.getProfileDescription(src).strip().startswith("sRGB"):
                transform = False  # already sRGB: the transform would cost 4 ms for nothing
            else:
                transform = ImageCms.buildTransform(src, ImageCms.createProfile("sRGB"), img.mode, "RGB")
        except Exception:  # a broken or mismatched profile (e.g. an RGB profile on a grey image)
            transform = False
        if len(_TRANSFORMS) > 64:
            _TRANSFORMS.clear()
        _TRANSFORMS[key] = transform
    if transform is False:
        return None
    try:
        return ImageCms.applyTransform(img, transform)  # type: ignore[arg-type]
    except Exception:
        return None
