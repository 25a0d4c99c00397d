"""Deterministic figure files for the sample corpus: rasters in every mode we must handle, a multi-page
vector PDF and EPS files (one with ``%%BoundingBox: (atend)``), all drawn from a seeded RNG.

PDF and PostScript are written by hand (a few lines of operators each) so the sample needs no tool
to be built, and the bytes are the same on every machine.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile

import numpy as np
from PIL import Image, ImageDraw

from sciclip.shards.writer import tar_member


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big"))


def draw_plot(name: str, size: tuple[int, int], background=(255, 255, 255)) -> Image.Image:
    """A plot-like picture (axes, a curve, bars, blobs) unique to ``name``."""
    rng = _rng(name)
    w, h = size
    img = Image.new("RGB", size, background)
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 7))):
        x0, y0 = int(rng.integers(0, w * 3 // 4)), int(rng.integers(0, h * 3 // 4))
        x1, y1 = x0 + int(rng.integers(w // 8, w // 3)), y0 + int(rng.integers(h // 8, h // 3))
        color = tuple(int(c) for c in rng.integers(0, 230, 3))
        if rng.random() < 0.5:
            d.rectangle([x0, y0, x1, y1], fill=color)
        else:
            d.ellipse([x0, y0, x1, y1], fill=color)
    d.line([(w // 10, h - h // 10), (w - w // 20, h - h // 10)], fill=(0, 0, 0), width=max(1, w // 200))
    d.line([(w // 10, h // 20), (w // 10, h - h // 10)], fill=(0, 0, 0), width=max(1, w // 200))
    xs = np.linspace(w // 10, w - w // 20, 40)
    phase, freq = rng.random() * 6.28, 1 + rng.random() * 4
    ys = h / 2 + (h / 3) * np.sin(np.linspace(0, freq * 3.14, 40) + phase)
    d.line([(float(x), float(y)) for x, y in zip(xs, ys)], fill=tuple(int(c) for c in rng.integers(0, 200, 3)),
           width=max(2, w // 150))
    return img


def png_rgba(name: str, size: tuple[int, int]) -> bytes:
    """Shapes on a fully transparent background (flattening must give white, not black)."""
    rgb = draw_plot(name, size)
    alpha = Image.new("L", size, 0)
    arr = np.asarray(rgb)
    mask = (arr.sum(axis=2) < 3 * 250).astype(np.uint8) * 255
    alpha = Image.fromarray(mask, "L")
    rgba = rgb.copy()
    rgba.putalpha(alpha)
    return _save(rgba, "PNG")


def png_palette(name: str, size: tuple[int, int]) -> bytes:
    img = draw_plot(name, size).quantize(colors=16, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    buf = io.BytesIO()
    img.save(buf, "PNG", transparency=0)
    return buf.getvalue()


def png_rgb(name: str, size: tuple[int, int]) -> bytes:
    return _save(draw_plot(name, size), "PNG")


def png_gray(name: str, size: tuple[int, int]) -> bytes:
    return _save(draw_plot(name, size).convert("L"), "PNG")


def jpeg_rgb(name: str, size: tuple[int, int]) -> bytes:
    return _save(draw_plot(name, size), "JPEG", quality=90)


def jpeg_cmyk(name: str, size: tuple[int, int]) -> bytes:
    return _save(draw_plot(name, size).convert("CMYK"), "JPEG", quality=90)


def gif_animated(name: str, size: tuple[int, int]) -> bytes:
    frames = [draw_plot(f"{name}-{i}", size).convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
              for i in range(2)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0)
    return buf.getvalue()


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _shapes_ops(name: str, w: float, h: float, n: int) -> list[tuple[tuple[float, float, float], tuple[float, ...]]]:
    rng = _rng(name)
    out = []
    for _ in range(n):
        x, y = float(rng.uniform(0, w * 0.7)), float(rng.uniform(0, h * 0.7))
        bw, bh = float(rng.uniform(w * 0.1, w * 0.3)), float(rng.uniform(h * 0.1, h * 0.3))
        color = tuple(round(float(c), 3) for c in rng.uniform(0, 0.9, 3))
        out.append((color, (round(x, 2), round(y, 2), round(bw, 2), round(bh, 2))))
    return out


def pdf_multipage(name: str, size: tuple[float, float], pages: int = 2) -> bytes:
    """A vector PDF whose pages differ; only the first page is a figure."""
    w, h = size
    objects: list[bytes] = []
    page_ids = []
    n_fixed = 2
    for p in range(pages):
        ops = [b"1 1 1 rg 0 0 %.2f %.2f re f" % (w, h)]
        for color, (x, y, bw, bh) in _shapes_ops(f"{name}-page{p}", w, h, 6):
            ops.append(b"%.3f %.3f %.3f rg %.2f %.2f %.2f %.2f re f" % (*color, x, y, bw, bh))
        ops.append(b"0 0 0 RG 2 w 20 20 m %.2f 20 l S 20 20 m 20 %.2f l S" % (w - 10, h - 10))
        stream = b"\n".join(ops)
        content_id = n_fixed + 1 + 2 * p + 1
        page_id = n_fixed + 1 + 2 * p
        page_ids.append(page_id)
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Contents %d 0 R /Resources << >> >>"
                       % (w, h, content_id))
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    kids = b" ".join(b"%d 0 R" % i for i in page_ids)
    all_objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages)]
    return pdf_file(all_objs + objects)


def pdf_file(objects: list[bytes], version: bytes = b"1.4") -> bytes:
    """A PDF of these object bodies (object 1 the catalog) with a correct xref table."""
    out = bytearray(b"%%PDF-%s\n%%\xe2\xe3\xcf\xd3\n" % version)
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def eps(name: str, bbox: tuple[int, int, int, int], atend: bool = False, hires: bool = False) -> bytes:
    """An EPS drawing inside ``bbox`` (which need not start at the origin)."""
    x0, y0, x1, y1 = bbox
    w, h = x1 - x0, y1 - y0
    header = [b"%!PS-Adobe-3.0 EPSF-3.0", b"%%Creator: sciclip sample", b"%%Title: " + name.encode()]
    box_line = b"%%%%BoundingBox: %d %d %d %d" % bbox
    if atend:
        header.append(b"%%BoundingBox: (atend)")
    else:
        header.append(box_line)
        if hires:
            header.append(b"%%%%HiResBoundingBox: %.3f %.3f %.3f %.3f" % bbox)
    header.append(b"%%EndComments")
    body = [b"gsave", b"1 1 1 setrgbcolor %d %d %d %d rectfill" % (x0, y0, w, h)]
    for color, (x, y, bw, bh) in _shapes_ops(name, w, h, 6):
        body.append(b"%.3f %.3f %.3f setrgbcolor %.2f %.2f %.2f %.2f rectfill" % (*color, x0 + x, y0 + y, bw, bh))
    body.append(b"0 setgray 2 setlinewidth newpath %d %d moveto %d %d lineto stroke" % (x0 + 10, y0 + 10, x1 - 10, y0 + 10))
    body += [b"grestore", b"showpage", b"%%Trailer"]
    if atend:
        body.append(box_line)
    body.append(b"%%EOF")
    return b"\n".join(header + body) + b"\n"


def natural_image(name: str, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A photo-like picture (smooth colour fields, grain, blur): stands in for an evaluation-set image."""
    from PIL import ImageFilter

    rng = _rng(name)
    w, h = size
    base = Image.fromarray((rng.random((6, 8, 3)) * 255).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)
    grain = Image.fromarray((rng.random((h, w, 3)) * 60).astype(np.uint8))
    img = Image.blend(base, grain, 0.3).filter(ImageFilter.GaussianBlur(2))
    d = ImageDraw.Draw(img)
    for _ in range(3):
        x, y = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
        d.ellipse([x, y, x + int(rng.integers(30, 120)), y + int(rng.integers(30, 120))],
                  fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    return img


def near_duplicates(img: Image.Image) -> dict[str, bytes]:
    """The edits a contaminated sample may carry: resized, re-encoded at JPEG q=70, cropped a little, grayscale."""
    w, h = img.size
    return {
        "resized": _save(img.resize((int(w * 0.55), int(h * 0.55)), Image.Resampling.LANCZOS), "PNG"),
        "jpeg70": _save(img, "JPEG", quality=70),
        "crop": _save(img.crop((int(w * 0.04), int(h * 0.04), int(w * 0.96), int(h * 0.96))), "PNG"),
        "gray": _save(img.convert("L"), "PNG"),
    }


MTIME = 1_577_836_800  # 2020-01-01: fixed so archives are reproducible


def tar_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(files):
            info = tar_member(name, files[name])
            info.mtime = MTIME
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=MTIME, filename="", compresslevel=9) as f:
        f.write(data)
    return buf.getvalue()


EVAL_IMAGES = 4  # bundled "evaluation" images (eval/eval_<i>.png); the planted samples copy them


def eval_image(i: int):
    return natural_image(f"eval/{i}")
