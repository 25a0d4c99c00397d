"""Two tiny evaluation sets in clip_benchmark's WebDataset layout (what DataComp's sets look like), so that the
demo and the tests evaluate without downloading anything:

- ``sample/chart-types`` (classification): drawings of four chart types, with class names and templates;
- ``sample/figure-captions`` (retrieval): plot-like pictures, each with two captions describing it.

Written deterministically (seeded drawings, PNG, ``fast_tar`` shards) below ``<sample>/evalsets/``.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from PIL import Image, ImageDraw

from sciclip.evaluate.layout import write_set
from sciclip.evaluate.tasks import folder_name
from sciclip.sample.media import _rng

CHART_TASK = "sample/chart-types"
CAPTION_TASK = "sample/figure-captions"
CLASSES = ["bar chart", "line plot", "scatter plot", "pie chart"]
TEMPLATES = ["a {c}.", "a figure showing a {c}.", "a scientific {c}."]
PER_CLASS = 6
CAPTIONED = 12
SIZE = (96, 96)
COLORS = {"red": (200, 40, 40), "blue": (40, 60, 200), "green": (40, 150, 60), "black": (20, 20, 20)}


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def chart(kind: str, i: int) -> Image.Image:
    """A small drawing of a chart type, varied by ``i``."""
    rng = _rng(f"chart/{kind}/{i}")
    w, h = SIZE
    img = Image.new("RGB", SIZE, (255, 255, 255))
    d = ImageDraw.Draw(img)
    color = tuple(int(c) for c in rng.integers(0, 200, 3))
    if kind != "pie chart":
        d.line([(8, h - 8), (w - 4, h - 8)], fill=(0, 0, 0))
        d.line([(8, 4), (8, h - 8)], fill=(0, 0, 0))
    if kind == "bar chart":
        n = int(rng.integers(3, 7))
        for j in range(n):
            x0 = 12 + j * (w - 20) // n
            top = int(rng.integers(12, h - 16))
            d.rectangle([x0, top, x0 + (w - 20) // n - 3, h - 9], fill=color)
    elif kind == "line plot":
        phase, freq = float(rng.random() * 6.28), 1 + float(rng.random() * 3)
        pts = [(10 + x, h / 2 + (h / 3) * math.sin(phase + freq * x / 12)) for x in range(0, w - 14, 3)]
        d.line(pts, fill=color, width=2)
    elif kind == "scatter plot":
        for _ in range(int(rng.integers(15, 30))):
            x, y = int(rng.integers(12, w - 6)), int(rng.integers(6, h - 12))
            d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=color)
    else:
        shares = rng.random(int(rng.integers(3, 6)))
        start = 0.0
        for j, s in enumerate(shares / shares.sum()):
            fill = tuple(int(c) for c in rng.integers(0, 230, 3))
            d.pieslice([10, 10, w - 10, h - 10], start, start + 360 * float(s), fill=fill)
            start += 360 * float(s)
    return img


def captioned(i: int) -> tuple[Image.Image, list[str]]:
    """A picture of a few shapes of one colour and the two captions that describe it."""
    rng = _rng(f"captioned/{i}")
    name = list(COLORS)[i % len(COLORS)]
    shape = ("circles", "squares", "bars")[(i // len(COLORS)) % 3]
    n = 2 + i % 3
    img = Image.new("RGB", SIZE, (255, 255, 255))
    d = ImageDraw.Draw(img)
    for j in range(n):
        x = 6 + j * (SIZE[0] - 12) // n
        y = int(rng.integers(10, 50))
        box = [x, y, x + 18, y + (40 if shape == "bars" else 18)]
        (d.ellipse if shape == "circles" else d.rectangle)(box, fill=COLORS[name])
    return img, [f"{n} {name} {shape}.", f"a figure with {n} {name} {shape} on a white background."]


def write_evalsets(outdir: str | Path) -> list[Path]:
    """Both sets below ``outdir/evalsets``; returns the files written."""
    root = Path(outdir) / "evalsets"
    charts = root / folder_name(CHART_TASK)
    samples = ((f"{k:02d}{i:02d}", {"png": _png(chart(kind, i)), "cls": str(k).encode()})
               for i in range(PER_CLASS) for k, kind in enumerate(CLASSES))
    write_set(charts, samples, classnames=CLASSES, templates=TEMPLATES)
    captions = root / folder_name(CAPTION_TASK)
    pairs = ((f"{i:03d}", {"png": _png(img), "txt": "\n".join(texts).encode()})
             for i, (img, texts) in ((i, captioned(i)) for i in range(CAPTIONED)))
    write_set(captions, pairs, dataset_type="retrieval")
    return sorted(p for p in root.rglob("*") if p.is_file())
