"""EPS and PostScript figures through Ghostscript (always ``-dSAFER``, a private temp dir and a timeout).

The file goes to Ghostscript as it is, header first: Ghostscript treats a file that starts with an
``EPSF`` header as EPS and shows its page at the end even when the file has no ``showpage``, as MATLAB's
and Apache XML Graphics' EPS do (``%%Pages: (atend)``, no trailing ``showpage``). Putting anything before
the header hides it (that lost all four figures of a revtex paper). So the page is sized to the bounding box
we resolve ourselves (``-dEPSCrop`` reads only the header and misses ``(atend)``), the drawing is moved to
the origin by PostScript given on the command line before the file, and a ``showpage`` after it covers plain
PostScript without one; ``-dLastPage=1`` keeps only the first page. DOS EPS binaries (a TIFF or WMF preview
around the PostScript) are read by Ghostscript itself.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from PIL import Image

from sciclip.errors import Skip
from sciclip.images.external import on_disk, open_pnm, run

DOS_EPS_MAGIC = b"\xc5\xd0\xd3\xc6"

# A DSC comment line; classic Mac producers (old Illustrator) end lines with a lone CR.
_BBOX_RE = re.compile(rb"(?:^|(?<=[\r\n]))%%(HiRes)?BoundingBox:[ \t]*(\(atend\)|[-+\d. \t]+?)[ \t]*(?=[\r\n]|$)")


def eps_bounding_box(ps: bytes) -> tuple[float, float, float, float] | None:
    """The EPS bounding box: the header's (the first), or for ``(atend)`` the trailer's (the last), so the
    boxes of EPS files embedded further down (``%%BeginDocument``) never count. ``%%HiResBoundingBox`` wins
    when it agrees with the integer box, which DSC makes its enclosing rectangle."""
    found: dict[bool, list[bytes]] = {False: [], True: []}
    for m in _BBOX_RE.finditer(ps):
        found[m.group(1) is not None].append(m.group(2))
    box, hires = _pick(found[False]), _pick(found[True])
    if hires is not None and (box is None or all(abs(a - b) <= 1.0 for a, b in zip(hires, box))):
        return hires
    return box


def _pick(values: list[bytes]) -> tuple[float, float, float, float] | None:
    if not values:
        return None
    candidates = reversed(values[1:]) if values[0].startswith(b"(") else iter(values)
    for value in candidates:
        box = _parse_box(value)
        if box is not None:
            return box
    return None


def _parse_box(value: bytes) -> tuple[float, float, float, float] | None:
    parts = value.split()
    if len(parts) != 4:
        return None
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError:
        return None
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def postscript_section(data: bytes) -> bytes:
    """The PostScript part of a DOS EPS binary (header C5D0D3C6 + offsets, often with a TIFF preview)."""
    if data.startswith(DOS_EPS_MAGIC) and len(data) >= 12:
        start = int.from_bytes(data[4:8], "little")
        length = int.from_bytes(data[8:12], "little")
        return data[start:start + length]
    return data


def rasterise_eps(data: bytes, max_size: int | None, dpi: float, max_pixels: int, min_size: int,
                  timeout_s: float, path: Path | None = None,
                  scratch: Path | None = None) -> tuple[Image.Image, tuple[int, int]]:
    """The EPS page at ``max_size`` px on its longer side (None: at ``dpi``); the box size in points."""
    box = eps_bounding_box(postscript_section(data))
    if box is None:
        raise Skip("rasterize_error", "PostScript without a usable %%BoundingBox")
    bw, bh = box[2] - box[0], box[3] - box[1]
    orig = (max(1, round(bw)), max(1, round(bh)))
    if max(orig) < min_size:
        raise Skip("image_too_small", f"{orig[0]}x{orig[1]}pt, longer side < {min_size}")
    if max_size is not None:
        dpi = max_size * 72.0 / max(bw, bh)  # straight at the target size: no resampling afterwards
    dpi = min(max(dpi, 4.0), 2400.0)
    if bw * bh * (dpi / 72) ** 2 > max_pixels:
        raise Skip("pixel_limit", f"bounding box {orig[0]}x{orig[1]}pt at {dpi:.0f} dpi")
    # -dSAFER still lets PostScript read and write Ghostscript's temp directory ($TMPDIR, where every
    # paper's scratch lives): give each run a private, empty one.
    with on_disk(data, path, scratch, ".eps") as eps, \
            tempfile.TemporaryDirectory(prefix="gs-", dir=scratch) as gs_tmp:
        env = {**os.environ, "TMPDIR": gs_tmp, "TEMP": gs_tmp, "TMP": gs_tmp}
        cmd = ["gs", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dQUIET", "-dNOPROMPT", "-dFirstPage=1", "-dLastPage=1",
               "-sDEVICE=ppmraw", f"-r{dpi:.4f}", "-dTextAlphaBits=4", "-dGraphicsAlphaBits=4",
               f"-dDEVICEWIDTHPOINTS={bw:.3f}", f"-dDEVICEHEIGHTPOINTS={bh:.3f}", "-dFIXEDMEDIA",
               "-sOutputFile=-", "-c", f"{-box[0]:.3f} {-box[1]:.3f} translate", "-f", str(eps),
               "-c", "showpage"]
        out = run(cmd, timeout_s, "ghostscript", env=env)
    return open_pnm(out, "ghostscript"), orig
