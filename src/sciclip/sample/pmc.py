"""The PMC part of the sample corpus, in both layouts, deterministic.

``pmc/cloud/`` mirrors ``s3://pmc-oa-opendata``: one ``PMC<n>.<v>/`` prefix per article version (XML,
metadata JSON, media), ``metadata/`` copies, and a daily inventory. ``pmc/legacy/`` mirrors the old FTP
layout: ``oa_file_list.csv`` and ``oa_package/xx/yy/PMC<n>.tar.gz``. The articles exercise fig-group,
alternatives, hrefs with and without extension, upper-case extensions, TIFF (LZW, 16-bit, CMYK,
multi-page), a non-English figure, an empty caption, a malformed article, an XXE attempt and a
billion-laughs document; plus articles the selection must drop (non-commercial licence, retracted, not
open access) and an older version superseded by a newer one. ``tests/fixtures/pmc_expected.tsv`` lists the
pairs they must give.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from pathlib import Path

from PIL import Image

from sciclip.sample import media
from sciclip.storage.atomic import atomic_write_bytes

BUCKET = "pmc-oa-opendata"
INVENTORY_DATE = "2026-11-24T01-00Z"


def _tiff(name: str, size, mode: str = "RGB", pages: int = 1, compression: str = "tiff_lzw") -> bytes:
    frames = []
    for i in range(pages):
        img = media.draw_plot(f"{name}-{i}", size)
        if mode == "I;16":
            import numpy as np
            arr = (np.asarray(img.convert("L"), dtype=np.uint16) * 257)
            img = Image.fromarray(arr)
        elif mode != "RGB":
            img = img.convert(mode)
        frames.append(img)
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", compression=compression, save_all=pages > 1, append_images=frames[1:])
    return buf.getvalue()


def _article(pmcid: str, body_figs: str, lang: str = "en", doctype: str = "", title: str = "A sample article") -> bytes:
    num = pmcid[3:]
    return (f"""<?xml version="1.0" encoding="UTF-8"?>
{doctype}<article xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:mml="http://www.w3.org/1998/Math/MathML" article-type="research-article" xml:lang="{lang}">
<front><article-meta>
<article-id pub-id-type="pmid">{int(num) + 30000000}</article-id>
<article-id pub-id-type="pmc">{num}</article-id>
<article-id pub-id-type="doi">10.9999/sample.{num}</article-id>
<title-group><article-title>{title}</article-title></title-group>
<permissions><license xlink:href="https://creativecommons.org/licenses/by/4.0/"><license-p>CC BY</license-p></license></permissions>
</article-meta></front>
<body><sec><title>Results</title>
{body_figs}
</sec></body></article>
""").encode("utf-8")


def cloud_articles() -> list[dict]:
    """Article versions of the cloud mirror: xml, media {name: bytes}, metadata flags."""
    arts = []
    # Two versions: v1 must be superseded by v2. Figure without extension in the href; a fig-group with a
    # group caption and sub-figures with upper-case extensions; inline MathML and markup in captions.
    v1 = _article("PMC1000001", """<fig id="f1"><label>Figure 1</label><caption><title>Old version.</title>
<p>This caption belongs to version 1 and must not appear.</p></caption><graphic xlink:href="pmc1000001-g001"/></fig>""")
    v2 = _article("PMC1000001", """
<fig id="f1" fig-type="figure"><label>Figure 1</label>
<caption><title>Growth of <italic>E. coli</italic> over time.</title>
<p>Cells were grown at <inline-formula><mml:math><mml:mi>T</mml:mi><mml:mo>=</mml:mo><mml:mn>37</mml:mn></mml:math></inline-formula> °C
 (<xref ref-type="bibr" rid="b1">Smith 2020</xref>); error bars show <bold>s.d.</bold></p></caption>
<graphic xlink:href="pmc1000001-g001"/></fig>
<fig-group id="fg2"><label>Figure 2</label><caption><title>Microscopy of the two strains.</title></caption>
<fig id="f2a"><label>(A)</label><caption><p>Wild type.</p></caption><graphic xlink:href="Fig2A.JPG"/></fig>
<fig id="f2b"><label>(B)</label><caption><p>Mutant strain.</p></caption><graphic xlink:href="fig2b.png"/></fig>
</fig-group>
<supplementary-material id="s1"><label>Data S1</label><caption><p>Not a figure.</p></caption><media xlink:href="mmc1.pdf"/></supplementary-material>
<p>An inline graphic <inline-graphic xlink:href="inl1.gif"/> is not a figure.</p>""")
    arts.append({"pmcid": "PMC1000001", "version": 1, "xml": v1, "license": "CC BY",
                 "media": {"pmc1000001-g001.jpg": media.jpeg_rgb("pmc/1000001v1/g001", (400, 300))}})
    arts.append({"pmcid": "PMC1000001", "version": 2, "xml": v2, "license": "CC BY", "media": {
        "pmc1000001-g001.jpg": media.jpeg_rgb("pmc/1000001/g001", (800, 600)),
        "Fig2A.JPG": media.jpeg_rgb("pmc/1000001/fig2a", (300, 300)),
        "fig2b.png": media.png_rgba("pmc/1000001/fig2b", (300, 300)),
        "mmc1.pdf": media.pdf_multipage("pmc/1000001/mmc1", (200, 200), pages=1),
        "inl1.gif": media.gif_animated("pmc/1000001/inl1", (40, 40)),
    }})
    # Non-commercial: dropped by the default (commercial) licence filter.
    arts.append({"pmcid": "PMC1000002", "version": 1, "license": "CC BY-NC", "xml": _article("PMC1000002", """
<fig id="f1"><label>Figure 1</label><caption><p>Non-commercial figure caption.</p></caption>
<graphic xlink:href="nc1.jpg"/></fig>"""), "media": {"nc1.jpg": media.jpeg_rgb("pmc/1000002/nc1", (300, 200))}})
    # alternatives (a small GIF and the LZW TIFF; the larger wins), 16-bit TIFF, CMYK TIFF, a multi-page TIFF,
    # an href with extension in other case, a non-English caption, an empty caption, a fig-type "chart".
    arts.append({"pmcid": "PMC1000003", "version": 1, "license": "CC0", "xml": _article("PMC1000003", """
<fig id="f1"><label>Figure 1.</label><caption><title>Alternatives: the larger raster is used.</title></caption>
<alternatives><graphic xlink:href="f1-thumb.gif" specific-use="thumbnail"/><graphic xlink:href="f1.tif"/></alternatives></fig>
<fig id="f2" fig-type="chart"><label>Figure 2.</label><caption><title>A sixteen-bit grayscale TIFF.</title></caption>
<graphic xlink:href="F2.TIF"/></fig>
<fig id="f3"><label>Figure 3.</label><caption><title>A CMYK TIFF from a print workflow.</title></caption>
<graphic xlink:href="f3_cmyk.tiff"/></fig>
<fig id="f4"><label>Figure 4.</label><caption><title>A multi-page TIFF: only the first page counts.</title></caption>
<graphic xlink:href="f4_pages"/></fig>
<fig id="f5"><label>Abbildung 5.</label><caption xml:lang="de"><title>Eine deutsche Bildunterschrift.</title></caption>
<graphic xlink:href="f5.jpg"/></fig>
<fig id="f6"><caption><title> </title></caption><graphic xlink:href="f6.jpg"/></fig>"""), "media": {
        "f1-thumb.gif": media.gif_animated("pmc/1000003/f1", (60, 45)),
        "f1.tif": _tiff("pmc/1000003/f1", (640, 480)),
        "f2.tif": _tiff("pmc/1000003/f2", (320, 240), mode="I;16", compression="raw"),
        "f3_cmyk.tiff": _tiff("pmc/1000003/f3", (300, 300), mode="CMYK"),
        "f4_pages.tif": _tiff("pmc/1000003/f4", (300, 200), pages=3),
        "f5.jpg": media.jpeg_rgb("pmc/1000003/f5", (300, 200)),
        "f6.jpg": media.jpeg_rgb("pmc/1000003/f6", (300, 200)),
    }})
    # Malformed XML: skipped with its reason; the batch goes on.
    arts.append({"pmcid": "PMC1000004", "version": 1, "license": "CC BY",
                 "xml": _article("PMC1000004", "<fig id='f1'><caption><p>Unclosed")[:-60],
                 "media": {"m1.jpg": media.jpeg_rgb("pmc/1000004/m1", (300, 200))}})
    # XXE: an external entity pointing at /etc/passwd inside a caption; it must never be read.
    xxe = _article("PMC1000005", """<fig id="f1"><label>Figure 1</label>
<caption><p>Entity here: &xxe; end of caption.</p></caption><graphic xlink:href="x1.jpg"/></fig>""",
                   doctype='<!DOCTYPE article [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n')
    arts.append({"pmcid": "PMC1000005", "version": 1, "license": "CC BY", "xml": xxe,
                 "media": {"x1.jpg": media.jpeg_rgb("pmc/1000005/x1", (300, 200))}})
    # Billion laughs: nested entities that would expand to gigabytes.
    lol = "<!DOCTYPE article [<!ENTITY lol \"lol\">" + "".join(
        f"<!ENTITY lol{i} \"{('&lol' + (str(i - 1) if i > 1 else '') + ';') * 10}\">" for i in range(1, 10)) + "]>\n"
    bomb = _article("PMC1000006", """<fig id="f1"><label>Figure 1</label>
<caption><p>Laughs: &lol9; and a real caption after them.</p></caption><graphic xlink:href="l1.jpg"/></fig>""",
                    doctype=lol)
    arts.append({"pmcid": "PMC1000006", "version": 1, "license": "CC BY", "xml": bomb,
                 "media": {"l1.jpg": media.jpeg_rgb("pmc/1000006/l1", (300, 200))}})
    # Retracted and not-open-access articles: never selected.
    for pmcid, flag in (("PMC1000007", "is_retracted"), ("PMC1000008", "closed")):
        arts.append({"pmcid": pmcid, "version": 1, "license": "CC BY", flag: True, "xml": _article(pmcid, f"""
<fig id="f1"><label>Figure 1</label><caption><p>Figure of {pmcid}, never selected.</p></caption>
<graphic xlink:href="z.jpg"/></fig>"""), "media": {"z.jpg": media.jpeg_rgb(f"pmc/{pmcid}/z", (300, 200))}})
    # PLOS-style hrefs (info:doi/...journal.X) resolving to files named X.<ext>; a palette PNG.
    arts.append({"pmcid": "PMC1000009", "version": 1, "license": "CC BY-SA", "xml": _article("PMC1000009", """
<fig id="pone-0000009-g001"><label>Figure 1</label><caption><title>A PLOS-style reference.</title>
<p>The href is a DOI, the file is named after it.</p></caption>
<graphic xlink:href="info:doi/10.1371/journal.pone.0000009.g001"/></fig>"""),
                 "media": {"pone.0000009.g001.png": media.png_palette("pmc/1000009/g001", (500, 400))}})
    # Planted contamination in PMC: an evaluation image re-encoded (and resized) by the journal.
    planted = media.eval_image(1).resize((480, 360), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    planted.save(buf, "JPEG", quality=70)
    arts.append({"pmcid": "PMC1000010", "version": 1, "license": "CC BY", "xml": _article("PMC1000010", """
<fig id="f1"><label>Figure 1</label><caption><title>A benchmark photograph reused by the journal.</title></caption>
<graphic xlink:href="planted"/></fig>
<fig id="f2"><label>Figure 2</label><caption><title>A figure of this article alone.</title></caption>
<graphic xlink:href="own"/></fig>"""), "media": {"planted.jpg": buf.getvalue(),
                                                "own.png": media.png_rgb("pmc/1000010/own", (400, 300))}})
    return arts


def _metadata(a: dict) -> dict:
    name = f"{a['pmcid']}.{a['version']}"
    files = {f"{name}.xml": a["xml"], **a["media"]}
    url = lambda fn: f"s3://{BUCKET}/{name}/{fn}?md5={hashlib.md5(files[fn]).hexdigest()}"  # noqa: E731
    return {
        "pmcid": a["pmcid"], "version": a["version"], "pmid": int(a["pmcid"][3:]) + 30000000,
        "doi": f"10.9999/sample.{a['pmcid'][3:]}", "mid": None, "title": "A sample article",
        "citation": "Sample J. 2026", "is_pmc_openaccess": not a.get("closed", False), "is_manuscript": False,
        "is_historical_ocr": False, "is_retracted": bool(a.get("is_retracted", False)),
        "license_code": a["license"], "xml_url": url(f"{name}.xml"), "text_url": None, "pdf_url": None,
        "media_urls": [url(fn) for fn in sorted(a["media"])],
    }


def write_cloud(root: Path) -> list[Path]:
    written = []
    keys = []
    for a in cloud_articles():
        name = f"{a['pmcid']}.{a['version']}"
        meta_bytes = (json.dumps(_metadata(a), indent=1, sort_keys=True) + "\n").encode()
        files = {f"{name}/{name}.xml": a["xml"], f"{name}/{name}.json": meta_bytes, f"metadata/{name}.json": meta_bytes}
        files.update({f"{name}/{fn}": data for fn, data in a["media"].items()})
        for key, data in sorted(files.items()):
            p = root / key
            p.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(p, data)
            written.append(p)
        keys.append(f"metadata/{name}.json")
    # the daily inventory of metadata/: a manifest and one gzipped, headerless CSV shard
    inv = f"inventory-reports/{BUCKET}/metadata/{INVENTORY_DATE}"
    rows = io.StringIO()
    w = csv.writer(rows, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for k in sorted(keys):
        w.writerow([BUCKET, k, "2026-11-23T00:00:00.000Z", hashlib.md5(k.encode()).hexdigest()])
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=media.MTIME, filename="") as g:
        g.write(rows.getvalue().encode())
    shard_key = f"{inv}/data/0001.csv.gz"
    manifest = {"sourceBucket": BUCKET, "destinationBucket": f"arn:aws:s3:::{BUCKET}", "version": "2016-11-30",
                "fileFormat": "CSV", "fileSchema": "Bucket, Key, LastModifiedDate, ETag",
                "files": [{"key": shard_key, "size": len(buf.getvalue()),
                           "MD5checksum": hashlib.md5(buf.getvalue()).hexdigest()}]}
    for key, data in ((shard_key, buf.getvalue()),
                      (f"{inv}/manifest.json", (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())):
        p = root / key
        p.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(p, data)
        written.append(p)
    return written


def legacy_packages() -> list[dict]:
    """Legacy packages: PMCID/ with .nxml, figures as .jpg each with a .gif thumbnail of the same stem."""
    def pkg(pmcid: str, figs: str, images: dict[str, bytes]) -> dict[str, bytes]:
        files = {f"{pmcid}/{pmcid}.nxml": _article(pmcid, figs)}
        for stem, data in images.items():
            files[f"{pmcid}/{stem}.jpg"] = data
            thumb = Image.open(io.BytesIO(data)).convert("RGB")
            thumb.thumbnail((50, 50))
            tb = io.BytesIO()
            thumb.convert("P").save(tb, "GIF")
            files[f"{pmcid}/{stem}.gif"] = tb.getvalue()
        return files
    return [
        {"pmcid": "PMC2000001", "license": "CC BY", "path": "oa_package/0a/1b/PMC2000001.tar.gz",
         "files": pkg("PMC2000001", """<fig id="F1"><label>Figure 1</label><caption><title>Legacy package figure one.</title>
<p>Resolved to the JPEG, not its GIF thumbnail.</p></caption><graphic xlink:href="gr1"/></fig>
<fig id="F2"><label>Figure 2</label><caption><title>Legacy package figure two.</title></caption>
<graphic xlink:href="gr2"/></fig>""", {"gr1": media.jpeg_rgb("pmc/2000001/gr1", (600, 400)),
                                          "gr2": media.jpeg_rgb("pmc/2000001/gr2", (400, 600))})},
        {"pmcid": "PMC2000002", "license": "CC BY-NC", "path": "oa_package/2c/3d/PMC2000002.tar.gz",
         "files": pkg("PMC2000002", """<fig id="F1"><label>Figure 1</label><caption><title>Non-commercial legacy figure.</title></caption>
<graphic xlink:href="gr1"/></fig>""", {"gr1": media.jpeg_rgb("pmc/2000002/gr1", (300, 300))})},
        {"pmcid": "PMC2000003", "license": "CC0", "path": "oa_package/4e/5f/PMC2000003.tar.gz",
         "files": pkg("PMC2000003", """<fig id="F1"><label>Fig. 1</label><caption><p>Public-domain legacy figure with a longer caption.</p></caption>
<graphic xlink:href="PMC2000003_gr1"/></fig>""", {"PMC2000003_gr1": media.jpeg_rgb("pmc/2000003/gr1", (500, 500))})},
    ]


def write_legacy(root: Path) -> list[Path]:
    written = []
    rows = io.StringIO()
    w = csv.writer(rows, lineterminator="\n")
    w.writerow(["File", "Article Citation", "Accession ID", "Last Updated (YYYY-MM-DD HH:MM:SS)", "PMID", "License"])
    for p in legacy_packages():
        data = media.gzip_bytes(media.tar_bytes(p["files"]))
        path = root / p["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        written.append(path)
        w.writerow([p["path"], "Sample J. 2020; 1:1", p["pmcid"], "2020-01-01 00:00:00",
                    f"PMID:{int(p['pmcid'][3:]) + 30000000}", p["license"]])
    atomic_write_bytes(root / "oa_file_list.csv", rows.getvalue().encode())
    written.append(root / "oa_file_list.csv")
    return written


def write_pmc_sample(outdir: Path) -> list[Path]:
    return write_cloud(outdir / "pmc" / "cloud") + write_legacy(outdir / "pmc" / "legacy")
