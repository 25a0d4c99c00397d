"""Which extensions TeX appends to an extension-less ``\\includegraphics{name}``, in which order.

The graphics package tries the extensions of ``\\Gin@extensions`` one after the other and takes the first
file that exists (graphics.sty's ``\\Ginclude@graphics``), so when ``x.pdf`` and ``x.png`` both exist the
order decides which one the paper shows. The list is the driver's, changed by the paper.

Where the driver lists come from (the .def files as the graphics-def repository, github.com/latex3/graphics-def,
and its predecessor github.com/ho-tex/pdftex-def hold them):

- pdftex.def 2017/06/01 v1.0a and later (graphics-def commit 8113707 "Overhaul graphics drivers",
  2017-05-31): ``.pdf,.png,.jpg,.mps,.jpeg,.jbig2,.jb2,.PDF,.PNG,.JPG,.JPEG,.JBIG2,.JB2`` (no ``.MPS``).
- pdftex.def before it, e.g. 2016/06/17 v0.06h (ho-tex/pdftex-def's first commit, copied from CTAN) and
  2011/05/27 v0.06d (a TeX Live 2013 log): ``.png,.pdf,.jpg,.mps,.jpeg,.jbig2,.jb2,.PNG,.PDF,.JPG,.JPEG,
  .JBIG2,.JB2``; the file's history since 2000 records extensions added (2006 v0.03t, 2007 v0.04c), never
  a reordering.
- luatex.def has pdftex.def's list; xetex.def ``.pdf,.PDF,.ai,.AI,.png,.PNG,.jpg,.JPG,.jpeg,.JPEG,.jp2,
  .JP2,.jpf,.JPF,.bmp,.BMP,.ps,.PS,.eps,.EPS,.mps,.MPS``; dvips.def ``.eps,.ps,.eps.gz,.ps.gz,.eps.Z,.mps``
  (the compressed forms need a shell command to read: left out here).
- when epstopdf-base is loaded (pdftex.def does it unless pst-pdf/pdftricks are) ``.eps`` is appended; the
  lenient tail of ``search_order`` covers it.

Which TeX Live arXiv ran when (arXiv's help page "TeX Live at arXiv", source/help/faq/texlive.md in
github.com/arXiv/arxiv-docs): TeX Live 2011, then TeX Live 2016 from 2017-02-09, TeX Live 2020 from
2020-10-01, TeX Live 2023 from 2023-05-22, 2023 and 2025 since 2025. TeX Live 2016 froze before the 2017
pdftex.def, so papers compiled before 2020-10 got ``.png`` first and later ones ``.pdf`` first. A paper's
``yymm`` is the month of its first version while the bulk source is its latest one, and the old AutoTeX
fell back to older TeX Lives when a compile failed: the month is the best available guess, not a record.
An unknown month gets today's order.

The paper changes the list with ``\\DeclareGraphicsExtensions{...}`` (graphics: replaces it) or grfext's
``\\PrependGraphicsExtensions``, ``\\AppendGraphicsExtensions`` (both first remove the entries already
listed; the starred forms add only extensions the driver has a rule for) and ``\\RemoveGraphicsExtensions``.
"""

from __future__ import annotations

import re

from sciclip.sources.arxiv.ids import year_month
from sciclip.text.latex_macros import read_group, skip_space

PDFTEX_2017 = (".pdf", ".png", ".jpg", ".mps", ".jpeg", ".jbig2", ".jb2",
               ".PDF", ".PNG", ".JPG", ".JPEG", ".JBIG2", ".JB2")
PDFTEX_BEFORE_2017 = (".png", ".pdf", ".jpg", ".mps", ".jpeg", ".jbig2", ".jb2",
                      ".PNG", ".PDF", ".JPG", ".JPEG", ".JBIG2", ".JB2")
XETEX = (".pdf", ".PDF", ".ai", ".AI", ".png", ".PNG", ".jpg", ".JPG", ".jpeg", ".JPEG", ".jp2", ".JP2",
         ".jpf", ".JPF", ".bmp", ".BMP", ".ps", ".PS", ".eps", ".EPS", ".mps", ".MPS")
DVIPS = (".eps", ".ps", ".mps")
ARXIV_TL2020_FROM = 202010  # arXiv switched to TeX Live 2020 on 2020-10-01

_CHANGE_RE = re.compile(r"\\(DeclareGraphicsExtensions|PrependGraphicsExtensions|AppendGraphicsExtensions"
                        r"|RemoveGraphicsExtensions)(?![A-Za-z@])\s*(\*?)")
_OPS = {"DeclareGraphicsExtensions": "declare", "PrependGraphicsExtensions": "prepend",
        "AppendGraphicsExtensions": "append", "RemoveGraphicsExtensions": "remove"}

Change = tuple[str, bool, tuple[str, ...]]  # (declare | prepend | append | remove, starred, extensions)


def driver_extensions(engine: str, yymm: str = "") -> tuple[str, ...]:
    """The driver's ``\\Gin@extensions`` for ``engine`` (a 00README engine) in arXiv's TeX Live of ``yymm``."""
    if engine == "latex":
        return DVIPS
    if engine == "xetex":
        return XETEX  # arXiv offers xelatex only since 2025
    if yymm and len(yymm) == 4 and yymm.isdigit() and year_month(yymm) < ARXIV_TL2020_FROM:
        return PDFTEX_BEFORE_2017
    return PDFTEX_2017


def extension_changes(text: str) -> list[tuple[int, Change]]:
    """Every change of the extension list in ``text``, with its position, in order."""
    out = []
    for m in _CHANGE_RE.finditer(text):
        g = read_group(text, skip_space(text, m.end()))
        if g is None:
            continue
        exts = tuple(e for e in re.sub(r"\s+", "", g[0]).split(",") if e)
        out.append((m.start(), (_OPS[m.group(1)], bool(m.group(2)), exts)))
    return out


def apply_changes(driver: tuple[str, ...], changes: tuple[Change, ...] | list[Change]) -> tuple[str, ...]:
    """The extension list after ``changes``, as graphics and grfext compute it."""
    current = list(driver)
    for op, starred, exts in changes:
        if op == "declare":
            current = list(exts)
            continue
        current = [e for e in current if e not in exts]
        if op == "remove":
            continue
        added = [e for e in dict.fromkeys(exts) if not starred or e in driver]
        current = added + current if op == "prepend" else current + added
    return tuple(current)
