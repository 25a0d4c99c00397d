"""EPS from the common producers renders where it should (Ghostscript must see each file as the EPS it is)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from sciclip.images.pipeline import ImageOptions, convert_image, eps_bounding_box
from sciclip.sample import media
from tests import eps_producers

OPTS = ImageOptions()


def _near(pixel, colour, tol=60) -> bool:
    return all(abs(p - c) <= tol for p, c in zip(pixel, colour))


@pytest.mark.parametrize("name", sorted(eps_producers.PRODUCERS))
def test_producer_eps_renders_the_drawing_in_place(name, tmp_path):
    data = eps_producers.PRODUCERS[name]
    for path in (None, tmp_path / "figure.eps"):  # from bytes, and straight from the file on disk
        if path is not None:
            path.write_bytes(data)
        res = convert_image(data, OPTS, path=path, scratch=tmp_path)
        img = Image.open(io.BytesIO(res.jpeg))
        w, h = img.size
        assert max(w, h) == 512 and res.source_format == "eps"

        def at(fx: float, fy: float):  # fractions of the width and of the height from the top
            return img.getpixel((int(fx * w), int(fy * h)))

        blue, red = at(0.275, 0.5), at(0.725, 0.275)
        assert blue[2] > 140 and blue[2] > blue[0] + 60, (name, blue)
        assert red[0] > 180 and red[0] > red[2] + 100, (name, red)
        for corner in (at(0.02, 0.02), at(0.97, 0.97), at(0.725, 0.75)):
            assert _near(corner, (255, 255, 255), 8), (name, corner)


def test_matlab_eps_without_showpage_gives_its_page():
    """The revtex regression: %%Pages: (atend), no trailing showpage, y-down page matrix."""
    res = convert_image(eps_producers.matlab((70, 212, 541, 580)), OPTS)
    assert (res.original_width, res.original_height) == (471, 368)
    assert (res.width, res.height) == (512, 400)


def test_bounding_box_rules():
    # the header's box; an embedded document's boxes further down do not count
    assert eps_bounding_box(eps_producers.with_embedded_figure(eps_producers.dvips())) == (
        148.712, 540.44, 463.98, 700.7)
    # (atend): the trailer's, also for an atend box in a file with an embedded document
    atend = media.eps("t/atend", (50, 60, 350, 260), atend=True)
    assert eps_bounding_box(atend) == (50, 60, 350, 260)
    assert eps_bounding_box(eps_producers.with_embedded_figure(atend)) == (50, 60, 350, 260)
    # classic Mac line ends
    assert eps_bounding_box(b"%!PS-Adobe-3.0 EPSF-3.0\r%%BoundingBox: 1 2 30 40\r%%EndComments\r") == (1, 2, 30, 40)
    # a HiResBoundingBox that disagrees with the integer box is not this file's
    assert eps_bounding_box(b"%%BoundingBox: 0 0 100 100\n%%HiResBoundingBox: 0 0 9.5 9.5\n") == (0, 0, 100, 100)
    assert eps_bounding_box(b"%%HiResBoundingBox: 0 0 99.5 99.2\n") == (0, 0, 99.5, 99.2)
    assert eps_bounding_box(b"%%BoundingBox: 0 0 0 0\n") is None
