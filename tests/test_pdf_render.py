"""PDF figures through the PDFium helper: page boxes, hostile files, and the helper's isolation."""

from __future__ import annotations

import io
import os
import signal
from concurrent.futures import ProcessPoolExecutor

import pytest
from PIL import Image

from sciclip.errors import Skip
from sciclip.images import pdfium_client
from sciclip.images.pipeline import ImageOptions, convert_image
from tests import hostile_pdfs

OPTS = ImageOptions()


def _helper(opts: ImageOptions = OPTS) -> pdfium_client.PdfiumRenderer:
    return pdfium_client.renderer(opts.render_memory_mb << 20)


def _pixel(jpeg: bytes, fx: float, fy: float):
    img = Image.open(io.BytesIO(jpeg))
    return img.getpixel((int(fx * img.width), int(fy * img.height)))


def test_crop_box_and_rotation():
    # MediaBox 400x400, left half blue, right half red; the CropBox shows x 100..300, y 100..200
    res = convert_image(hostile_pdfs.coloured(b"0 0 400 400", b"/CropBox [100 100 300 200]"), OPTS)
    assert (res.original_width, res.original_height) == (200, 100) and (res.width, res.height) == (512, 256)
    assert _pixel(res.jpeg, 0.25, 0.5)[2] > 200 and _pixel(res.jpeg, 0.75, 0.5)[0] > 200
    rotated = convert_image(hostile_pdfs.coloured(b"0 0 400 200", b"/Rotate 90"), OPTS)
    assert (rotated.original_width, rotated.original_height) == (200, 400)
    assert (rotated.width, rotated.height) == (256, 512)


def test_enormous_first_page_renders_at_target_size_or_is_refused():
    data = hostile_pdfs.enormous_page(200_000)  # 2778 inches square
    res = convert_image(data, OPTS)
    assert (res.width, res.height) == (512, 512) and res.original_width == 200_000
    with pytest.raises(Skip) as e:
        convert_image(data, ImageOptions(resize=False))
    assert e.value.reason == "pixel_limit"


def test_a_hanging_render_is_killed_and_its_helper_replaced():
    convert_image(hostile_pdfs.coloured(), OPTS)
    before = _helper().proc.pid
    with pytest.raises(Skip) as e:  # 4**40 fills: PDFium would never finish
        convert_image(hostile_pdfs.exponential_forms(depth=40), ImageOptions(timeout_s=1.5))
    assert e.value.reason == "rasterize_timeout"
    assert _helper().proc is None
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)  # killed and reaped
    res = convert_image(hostile_pdfs.coloured(), OPTS)
    assert res.width == 512 and _helper().proc.pid != before


def test_inflation_bomb_costs_only_its_figure():
    opts = ImageOptions(render_memory_mb=300)
    with pytest.raises(Skip) as e:
        convert_image(hostile_pdfs.inflation_bomb(megabytes=128), opts)
    assert e.value.reason == "rasterize_error" and "renderer died" in e.value.detail
    assert convert_image(hostile_pdfs.coloured(), opts).width == 512


def test_a_helper_that_died_between_figures_is_restarted():
    convert_image(hostile_pdfs.coloured(), OPTS)
    os.kill(_helper().proc.pid, signal.SIGKILL)
    _helper().proc.wait()
    assert convert_image(hostile_pdfs.coloured(), OPTS).width == 512


def test_poppler_renders_what_pdfium_does_not(monkeypatch):
    """Without a working helper (pypdfium2 missing) every PDF goes through poppler, with the same result."""
    via_pdfium = convert_image(hostile_pdfs.coloured(b"0 0 400 400", b"/CropBox [100 100 300 200]"), OPTS)
    monkeypatch.setattr(pdfium_client, "SERVER", pdfium_client.SERVER.with_name("no_such_server.py"))
    monkeypatch.setattr(pdfium_client, "_RENDERERS", {})
    res = convert_image(hostile_pdfs.coloured(b"0 0 400 400", b"/CropBox [100 100 300 200]"), OPTS)
    assert _helper().unavailable is not None
    assert (res.original_width, res.original_height) == (200, 100)
    assert abs(res.width - via_pdfium.width) <= 1 and abs(res.height - via_pdfium.height) <= 1
    assert _pixel(res.jpeg, 0.25, 0.5)[2] > 200 and _pixel(res.jpeg, 0.75, 0.5)[0] > 200
    with pytest.raises(Skip) as e:
        convert_image(b"%PDF-1.4\nthis is not a pdf\n%%EOF\n", OPTS)
    assert e.value.reason == "rasterize_error"


def _convert_in_worker(data: bytes) -> tuple[int, int]:
    convert_image(data, OPTS)
    return os.getpid(), _helper().proc.pid


def test_each_worker_process_has_its_own_helper():
    convert_image(hostile_pdfs.coloured(), OPTS)
    parents = _helper().proc.pid
    with ProcessPoolExecutor(2) as pool:
        got = list(pool.map(_convert_in_worker, [hostile_pdfs.coloured()] * 6))
    helpers = {helper for _, helper in got}
    assert parents not in helpers and len(helpers) == len({worker for worker, _ in got})
    assert _helper().proc.poll() is None  # the parent's helper is untouched
    assert convert_image(hostile_pdfs.coloured(), OPTS).width == 512


def test_a_worker_reaps_its_helper_when_it_exits():
    with ProcessPoolExecutor(1) as pool:
        _, helper = pool.submit(_convert_in_worker, hostile_pdfs.coloured()).result()
    with pytest.raises(ProcessLookupError):
        os.kill(helper, 0)  # stopped and reaped by the worker, not left to init
