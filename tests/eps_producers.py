"""Small synthetic EPS files shaped like those of the common producers (headers, prologs, coordinate systems,
page structure, trailers), each drawing the same picture so a test can check where the drawing landed.

The picture, in page coordinates of the bounding box (x0, y0, x1, y1), y up: a blue rectangle on the left
(10-45 % of the width, 10-90 % of the height) and a red one at the top right (55-90 %, 55-90 %); the rest is
blank. None of this is copied from a real file; the structure follows what these producers are known to
write: MATLAB (Apache XML Graphics: ``%%Pages: (atend)``, no ``showpage``), matplotlib, gnuplot, Inkscape
(cairo), dvips ``-E`` and Adobe Illustrator (DOS EPS binary with a TIFF preview; classic Mac CR line ends).
"""

from __future__ import annotations

import io

from PIL import Image

BLUE = (0.1, 0.2, 0.9)
RED = (0.9, 0.1, 0.1)


def rects(box: tuple[float, float, float, float]) -> list[tuple[tuple[float, float, float], tuple[float, ...]]]:
    """(colour, (x, y, w, h)) in page points, y up."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    return [(BLUE, (x0 + 0.10 * w, y0 + 0.10 * h, 0.35 * w, 0.80 * h)),
            (RED, (x0 + 0.55 * w, y0 + 0.55 * h, 0.35 * w, 0.35 * h))]


def _lines(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("latin-1")


def matlab(box=(70, 212, 541, 580)) -> bytes:
    """MATLAB R2014b+ (Apache XML Graphics): y-down page matrix via CT, ``%%Pages: (atend)``, no showpage."""
    x0, y0, x1, y1 = box
    body = []
    for (r, g, b), (x, y, w, h) in rects(box):
        # their coordinates: origin at the box's top left corner, y down
        body += ["GS", f"{r} {g} {b} RC", "N", f"{x - x0:.2f} {y1 - (y + h):.2f} {w:.2f} {h:.2f} re", "f", "GR"]
    return _lines(
        "%!PS-Adobe-3.0 EPSF-3.0",
        "%%Creator: (MATLAB, The Mathworks, Inc. Version 9.4.0.813654 \\(R2018a\\). Operating System: Linux)",
        "%%Title: ./figure1.eps", "%%CreationDate: 2019-05-01T12:00:00", "%%Pages: (atend)",
        f"%%BoundingBox: {x0} {y0} {x1} {y1}", "%%LanguageLevel: 3", "%%EndComments", "%%BeginProlog",
        "%%BeginResource: procset (Apache XML Graphics Std ProcSet) 1.2 0", "%%Version: 1.2 0",
        "/bd{bind def}bind def", "/ld{load def}bd", "/GR/grestore ld", "/GS/gsave ld", "/CT/concat ld",
        "/f/fill ld", "/N/newpath ld", "/RC/setrgbcolor ld", "/M/moveto ld", "/cp/closepath ld",
        "/re {4 2 roll M 1 index 0 rlineto 0 exch rlineto neg 0 rlineto cp } bd",
        "%%EndResource", "%%EndProlog", "%%Page: 1 1", f"%%PageBoundingBox: {x0} {y0} {x1} {y1}",
        "%%BeginPageSetup", f"[1 0 0 -1 {x0} {y1}] CT", "%%EndPageSetup", *body,
        "%%Trailer", "%%Pages: 1", "%%EOF")


def matplotlib(box=(18, 180, 594, 612)) -> bytes:
    """matplotlib's PS backend: mpldict prolog, translate to the box, HiResBoundingBox, showpage."""
    x0, y0, x1, y1 = box
    body = []
    for (r, g, b), (x, y, w, h) in rects(box):
        body += ["gsave", f"{r} {g} {b} setrgbcolor", f"{x - x0:.3f} {y - y0:.3f} m", f"{x - x0 + w:.3f} {y - y0:.3f} l",
                 f"{x - x0 + w:.3f} {y - y0 + h:.3f} l", f"{x - x0:.3f} {y - y0 + h:.3f} l", "cl", "fill", "grestore"]
    return _lines(
        "%!PS-Adobe-3.0 EPSF-3.0", "%%LanguageLevel: 3", "%%Title: figure.eps",
        "%%Creator: Matplotlib v3.8.2, https://matplotlib.org/", "%%CreationDate: Mon Jan  1 12:00:00 2024",
        "%%Orientation: portrait", f"%%BoundingBox: {x0} {y0} {x1} {y1}",
        f"%%HiResBoundingBox: {x0:.6f} {y0:.6f} {x1:.6f} {y1:.6f}", "%%EndComments", "%%BeginProlog",
        "/mpldict 10 dict def", "mpldict begin", "/_d { bind def } bind def", "/m { moveto } _d", "/l { lineto } _d",
        "/cl { closepath } _d", "/r { rlineto } _d", "/box { m 1 index 0 r 0 exch r neg 0 r cl } _d",
        "/clipbox { box clip newpath } bind def", "end", "%%EndProlog",
        "mpldict begin", f"{x0} {y0} translate", f"{x1 - x0} {y1 - y0} 0 0 clipbox",
        *body, "end", "showpage")


def gnuplot(box=(50, 50, 410, 302)) -> bytes:
    """gnuplot's ``set terminal postscript eps``: EPSF-2.0, gnudict, units of 1/20 pt, showpage in the page."""
    x0, y0, x1, y1 = box
    body = []
    for (r, g, b), (x, y, w, h) in rects(box):
        px, py, pw, ph = ((x - x0) * 20, (y - y0) * 20, w * 20, h * 20)
        body += [f"{r:.3f} {g:.3f} {b:.3f} C", f"{px:.0f} {py:.0f} M", f"{pw:.0f} 0 V", f"0 {ph:.0f} V",
                 f"{-pw:.0f} 0 V", "closepath fill"]
    return _lines(
        "%!PS-Adobe-2.0 EPSF-2.0", "%%Title: plot.eps", "%%Creator: gnuplot 5.4 patchlevel 2",
        "%%CreationDate: Mon Jan  1 12:00:00 2024", "%%DocumentFonts: (atend)", f"%%BoundingBox: {x0} {y0} {x1} {y1}",
        "%%EndComments", "%%BeginProlog", "/gnudict 256 dict def", "gnudict begin", "/Color true def",
        "/M {moveto} bind def", "/L {lineto} bind def", "/V {rlineto} bind def",
        "/C {setrgbcolor} bind def", "/doclip {ClipToBoundingBox {newpath 50 50 moveto 410 50 lineto 410 302 lineto"
        " 50 302 lineto closepath clip} if} def", "/ClipToBoundingBox false def", "end", "%%EndProlog",
        "%%Page: 1 1", "gnudict begin", "gsave", "doclip", f"{x0} {y0} translate", "0.050 0.050 scale",
        "0 setgray", "newpath", *body, "stroke", "grestore", "end", "showpage", "%%Trailer",
        "%%DocumentFonts: Helvetica")


def inkscape(box=(0, 0, 240, 160)) -> bytes:
    """Inkscape's EPS export (cairo): HiResBoundingBox, y-down page matrix via cm, q/Q, showpage."""
    x0, y0, x1, y1 = box
    body = []
    for (r, g, b), (x, y, w, h) in rects(box):
        body += [f"{r} {g} {b} rg", f"{x - x0:.4f} {y1 - (y + h):.4f} {w:.4f} {h:.4f} re f"]
    return _lines(
        "%!PS-Adobe-3.0 EPSF-3.0", "%%Creator: cairo 1.18.0 (https://cairographics.org)",
        "%%CreationDate: Mon Jan 01 12:00:00 2024", "%%Pages: 1", "%%DocumentData: Clean7Bit", "%%LanguageLevel: 3",
        f"%%BoundingBox: {x0} {y0} {x1} {y1}", f"%%HiResBoundingBox: {x0} {y0} {x1 - 0.4} {y1 - 0.3}",
        "%%EndComments", "%%BeginProlog", "50 dict begin", "/q { gsave } bind def", "/Q { grestore } bind def",
        "/cm { 6 array astore concat } bind def", "/f { fill } bind def", "/rg { setrgbcolor } bind def",
        "/re { 4 2 roll moveto 1 index 0 rlineto 0 exch rlineto neg 0 rlineto closepath } bind def",
        "%%EndProlog", "%%BeginSetup", "%%EndSetup", "%%Page: 1 1", "%%BeginPageSetup",
        f"%%PageBoundingBox: {x0} {y0} {x1} {y1}", "%%EndPageSetup", f"q {x0} {y0} {x1 - x0} {y1 - y0} rectclip",
        f"1 0 0 -1 {x0} {y1} cm", *body, "Q", "showpage", "%%Trailer", "end", "%%EOF")


def dvips(box=(148.712, 540.44, 463.98, 700.7)) -> bytes:
    """``dvips -E``: TeXDict prolog, a y-down 600 dpi coordinate system set with ``setmatrix`` of the rounded
    current matrix, a non-integer HiResBoundingBox away from the origin, showpage inside ``eop``."""
    vsize = 792
    body = []
    for (r, g, b), (x, y, w, h) in rects(box):
        px, py = x * 600 / 72, (vsize - (y + h)) * 600 / 72  # dvi pixels from the page's top left
        body += [f"{r} {g} {b} setrgbcolor", f"{px:.0f} {py:.0f} {w * 600 / 72:.0f} {h * 600 / 72:.0f} rectfill"]
    ibox = (int(box[0]), int(box[1]), int(box[2]) + 1, int(box[3]) + 1)
    return _lines(
        "%!PS-Adobe-2.0 EPSF-2.0", "%%Creator: dvips(k) 2023.1 (TeX Live 2023)  Copyright 2023 Radical Eye Software",
        "%%Title: fig.dvi", "%%CreationDate: Mon Jan 01 12:00:00 2024", "%%%%BoundingBox: %d %d %d %d" % ibox,
        "%%%%HiResBoundingBox: %.3f %.3f %.3f %.3f" % box, "%%DocumentFonts:", "%%EndComments",
        "%DVIPSWebPage: (www.radicaleye.com)", "%DVIPSCommandLine: dvips -E fig.dvi -o fig.eps",
        "%DVIPSParameters: dpi=600", "%DVIPSSource:  TeX output 2024.01.01:1200", "%%BeginProcSet: tex.pro 0 0",
        "%!", "/TeXDict 300 dict def TeXDict begin/N{def}def/B{bind def}N/A{dup}B/TR{translate}N",
        f"/vsize {vsize} N/@start{{/VResolution exch N/Resolution exch N}}N",
        "/@rigin{72 Resolution div 72 VResolution div neg scale 0 vsize Resolution mul 72 div neg TR",
        "[matrix currentmatrix{A A round sub abs 0.00001 lt{round}if}forall round exch round exch]setmatrix}N",
        "/bop{/SI save N @rigin 0 0 moveto}N/eop{SI restore userdict/eop-hook known{eop-hook}if showpage}N",
        "end", "%%EndProcSet", "TeXDict begin 600 600 @start end", "%%EndProlog", "%%BeginSetup",
        "%%Feature: *Resolution 600dpi", "TeXDict begin", "%%EndSetup", "%%Page: 1 1", "1 0 bop", *body,
        "eop", "end", "%%Trailer", "userdict /end-hook known{end-hook}if", "%%EOF")


def illustrator(box=(-11.5, -6.8, 288.7, 194.6), line_end: str = "\r\n") -> bytes:
    """Adobe Illustrator: negative box, CMYK colours, a procset that defines its page operators, showpage."""
    ibox = (int(box[0]) - 1, int(box[1]) - 1, int(box[2]) + 1, int(box[3]) + 1)
    cmyk = {BLUE: "0.85 0.75 0 0", RED: "0 0.95 0.9 0"}
    body = []
    for colour, (x, y, w, h) in rects(box):
        body += [f"{cmyk[colour]} k", f"{x:.4f} {y:.4f} m", f"{x + w:.4f} {y:.4f} L", f"{x + w:.4f} {y + h:.4f} L",
                 f"{x:.4f} {y + h:.4f} L", "f"]
    text = _lines(
        "%!PS-Adobe-3.0 EPSF-3.0", "%%Creator: Adobe Illustrator(R) 17.0", "%%AI8_CreatorVersion: 17.0.0",
        "%%For: (author) ()", "%%Title: (figure.eps)", "%%CreationDate: 1/1/2020 12:00 PM", "%%Canvassize: 16383",
        "%%%%BoundingBox: %d %d %d %d" % ibox, "%%%%HiResBoundingBox: %.4f %.4f %.4f %.4f" % box,
        "%%DocumentProcessColors: Cyan Magenta Yellow Black", "%AI5_FileFormat 13.0", "%AI12_BuildNumber: 682",
        "%AI3_ColorUsage: Color", "%%CMYKProcessColor: 1 1 1 1 ([Registration])", "%%EndComments",
        "%%BeginProlog", "%%BeginResource: procset Adobe_AGM_Utils 1.0 0",
        "userdict /Adobe_AGM_Utils 20 dict dup begin put", "/k {setcmykcolor} bind def", "/m {moveto} bind def",
        "/L {lineto} bind def", "/f {closepath fill} bind def", "/annotatepage {} def", "end", "%%EndResource",
        "%%EndProlog", "%%BeginSetup", "Adobe_AGM_Utils begin", "%%EndSetup", *body, "%%PageTrailer",
        "gsave annotatepage grestore showpage", "%%Trailer", "end", "%%EOF")
    return text.replace(b"\n", line_end.encode())


def dos_eps(ps: bytes, preview: bool = True) -> bytes:
    """A DOS EPS binary: the 30-byte header, the PostScript, then a TIFF preview (as Illustrator writes)."""
    tiff = b""
    if preview:
        buf = io.BytesIO()
        Image.new("L", (40, 30), 128).save(buf, "TIFF")
        tiff = buf.getvalue()
    header_len = 30
    header = (b"\xc5\xd0\xd3\xc6" + header_len.to_bytes(4, "little") + len(ps).to_bytes(4, "little")
              + (0).to_bytes(4, "little") * 2 + ((header_len + len(ps)) if tiff else 0).to_bytes(4, "little")
              + len(tiff).to_bytes(4, "little") + b"\xff\xff")
    return header + ps + tiff


def plain_ps(box=(0, 0, 300, 200), showpage: bool = True) -> bytes:
    """PostScript that is not EPS (a .ps figure): Ghostscript shows nothing unless it ends with showpage."""
    body = []
    for (r, g, b), (x, y, w, h) in rects(box):
        body.append(f"{r} {g} {b} setrgbcolor {x} {y} {w} {h} rectfill")
    return _lines("%!PS-Adobe-3.0", "%%%%BoundingBox: %d %d %d %d" % box, "%%Pages: 1", "%%EndComments", *body,
                  *(["showpage"] if showpage else []), "%%EOF")


def with_embedded_figure(ps: bytes) -> bytes:
    """``ps`` with another EPS embedded before its trailer (as dvips does for \\includegraphics): the inner
    file's own BoundingBox lines must not be taken for the outer one."""
    inner = _lines("%%BeginDocument: inner.eps", "%!PS-Adobe-3.0 EPSF-3.0", "%%BoundingBox: 0 0 40 30",
                   "%%HiResBoundingBox: 0 0 39.5 29.5", "%%EndComments", "save 0.5 setgray 0 0 1 1 rectfill restore",
                   "%%EndDocument")
    at = ps.rindex(b"%%Trailer")
    return ps[:at] + inner + ps[at:]


PRODUCERS = {
    "matlab": matlab(),
    "matplotlib": matplotlib(),
    "gnuplot": gnuplot(),
    "inkscape": inkscape(),
    "dvips": dvips(),
    "illustrator dos binary": dos_eps(illustrator()),
    "illustrator mac cr": illustrator(line_end="\r"),
    "plain ps": plain_ps(),
    "plain ps without showpage": plain_ps(showpage=False),
    "dos binary without preview": dos_eps(matlab(), preview=False),
    "dvips with an embedded figure": with_embedded_figure(dvips()),
}
