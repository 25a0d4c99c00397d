"""The Common Crawl part of the sample corpus: a tiny crawl mirror and the web its images live on.

``cc/crawl-data/CC-MAIN-2024-22/`` mirrors the crawl's layout (``wat.paths.gz``, ``warc.paths.gz`` and two
WARC files with their WATs, in Common Crawl's formats); ``cc/web/<host>/<path>`` are the images the
pages point at, served on 127.0.0.1 while a download job runs, with ``cc/web/headers.json`` adding
``X-Robots-Tag`` opt-outs. The pages exercise what the cc branch must get right: charsets named by the
header, by ``<meta>`` or only by the WARC field; HTTP headers ending with a bare LF; ``<base href>``;
lazy-loaded images (whose WAT link is a data: placeholder); ``data-image-title``; a page that opts out;
WAT headers as lists; the same (url, text) on pages of both files (dedup); many texts of one entry
(balancing); an opted-out image, a 404, a page served as an image, an SVG and an icon below the size
minimum. ``cc/unigrams.tsv``, ``bigrams.tsv`` and ``titles.tsv`` feed ``sciclip cc metadata``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from sciclip.sample import media
from sciclip.sample.crawl_files import Image, Page, crawl_files
from sciclip.storage.atomic import atomic_write_bytes

CRAWL = "CC-MAIN-2024-22"
SEGMENT = "1715971057216.39"
IMAGES = "http://images.sciclip.test"
PLACEHOLDER = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
FILE_STEMS = ("CC-MAIN-20240517233122-20240518023122-00000", "CC-MAIN-20240517233122-20240518023122-00001")
UNIGRAMS = {"dog": 500, "cat": 300, "beach": 200, "flower": 1000, "bird": 150, "Paris": 400, "night": 120,
            "robot": 110, "tree": 300, "park": 200, "car": 500, "road": 150, "logo": 130, "house": 300,
            "icon": 100, "bridge": 100, "diagram": 100, "lake": 150, "mountain": 180, "grass": 100,
            "Собака": 100, "the": 99, "U.S.": 1000}
BIGRAMS = {"small bird": 35, "red flower": 12}
TITLES = {"Mount Fuji": 500, "Example Shop": 10}


def pages() -> tuple[list[Page], list[Page]]:
    """The pages of the two crawl files."""
    logo = Image("/static/logo.gif", alt="Example Shop logo")
    first = [
        Page("http://shop.sciclip.test/dogs.html", [
            Image(f"{IMAGES}/photos/dog.jpg", alt="A brown dog running on the beach", title="dog"),
            Image(f"{IMAGES}/photos/cat.png", alt="cat"),
            Image(PLACEHOLDER, lazy=f"{IMAGES}/photos/bird.jpg", alt="A small bird on a branch"), logo],
            title="Dogs", base=IMAGES + "/",
            text="Our two dogs love the beach. Every morning we walk along the shore, and they run after the "
                 "waves while the sun comes up over the water."),
        Page("http://fr.sciclip.test/nuit.html", [
            Image("paris.jpg", alt="Café in Paris at night"), Image("robot.jpg", alt="A robot arm in a factory"),
            Image("gone.jpg", alt="A tree in the park"), Image("fake.jpg", alt="A car on the road")],
            charset="iso-8859-1", base=f"{IMAGES}/gallery/", title="Nuit à Paris"),
        Page("http://ru.sciclip.test/sobaka.html", [
            Image(f"{IMAGES}/photos/grass-dog.jpg", alt="Собака на траве", title="Dog on grass")],
            charset="windows-1251", declare="meta", title="Собака"),
        Page("http://jp.sciclip.test/fuji.html", [
            Image(f"{IMAGES}/photos/fuji.jpg", alt="富士山の写真", title="Mount Fuji at dawn")],
            charset="shift_jis", declare="warc", lf_headers=True, title="富士山"),
        Page("http://private.sciclip.test/album.html", [Image(f"{IMAGES}/photos/secret.jpg", alt="A private dog photo")],
             robots=["noai"], title="Private"),
    ]
    second = [
        Page("http://shop.sciclip.test/beach.html", [
            Image(f"{IMAGES}/photos/dog.jpg", alt="A brown dog running on the beach", title="Dog on the beach"),
            Image(f"{IMAGES}/photos/house-icon.png", alt="An icon of a small house"),
            Image(f"{IMAGES}/photos/bridge.svg", alt="A diagram of a bridge"),
            Image(f"{IMAGES}/photos/lake.jpg", alt="lake", image_title="A calm lake in the morning"), logo],
            title="Beach", base=IMAGES + "/",
            text="The beach is quiet in the early morning. A dog runs on the wet sand, and the lake behind the "
                 "dunes is calm and still."),
        Page("http://garden.sciclip.test/flowers.html",
             [Image(f"{IMAGES}/flowers/f{i}.jpg", alt="A red flower in the garden") for i in range(10)],
             title="Flowers",
             text="These are the red flowers of our garden in June. We planted them in the spring, and now there "
                  "are more of them than we can count."),
        Page("http://hills.sciclip.test/walk.html", [Image(f"{IMAGES}/photos/mountain.jpg", alt="A mountain lake")],
             robots=["googlebot: noai", "noindex"], title="Walk"),
    ]
    return first, second


def _jpeg(name: str, size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    media.natural_image(name, size).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _png(name: str, size: tuple[int, int]) -> bytes:
    buf = io.BytesIO()
    media.natural_image(name, (max(size[0], 80), max(size[1], 80))).resize(size).save(buf, "PNG")
    return buf.getvalue()


def web_files() -> tuple[dict[str, bytes], dict[str, dict[str, str]]]:
    """host/path -> bytes served, and host/path -> extra headers."""
    host = IMAGES.split("//", 1)[1]
    files = {f"{host}/photos/{n}.jpg": _jpeg(f"cc/{n}", (240 + 8 * i, 180))
             for i, n in enumerate(["dog", "bird", "grass-dog", "fuji", "secret", "lake", "mountain"])}
    files[f"{host}/photos/cat.png"] = _png("cc/cat", (200, 160))
    files[f"{host}/static/logo.gif"] = _gif("cc/logo")
    files[f"{host}/gallery/paris.jpg"] = _jpeg("cc/paris", (256, 192))
    files[f"{host}/gallery/robot.jpg"] = _jpeg("cc/robot", (256, 192))
    files[f"{host}/gallery/fake.jpg"] = b"<!DOCTYPE html><html><body>Not Found, but 200</body></html>"
    files[f"{host}/photos/house-icon.png"] = _png("cc/icon", (16, 16))
    files[f"{host}/photos/bridge.svg"] = b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"/>'
    for i in range(10):
        files[f"{host}/flowers/f{i}.jpg"] = _jpeg(f"cc/flower{i}", (200, 200))
    return files, {f"{host}/gallery/robot.jpg": {"X-Robots-Tag": "noai"}}


def _gif(name: str) -> bytes:
    buf = io.BytesIO()
    media.natural_image(name, (160, 80)).convert("P").save(buf, "GIF")
    return buf.getvalue()


def _lists(table: dict) -> bytes:
    return "".join(f"{k}\t{v}\n" for k, v in table.items()).encode()


def write_cc_sample(outdir: str | Path) -> list[Path]:
    """Write the sample crawl below ``outdir/cc``; returns the files written."""
    root = Path(outdir) / "cc"
    base = f"crawl-data/{CRAWL}/segments/{SEGMENT}"
    out: dict[str, bytes] = {}
    warc_paths, wat_paths = [], []
    for i, (stem, group) in enumerate(zip(FILE_STEMS, pages())):
        written = crawl_files(group, f"{stem}.warc.gz", f"{stem}.warc.wat.gz", header_lists=i == 1)
        warc_paths.append(f"{base}/warc/{stem}.warc.gz")
        wat_paths.append(f"{base}/wat/{stem}.warc.wat.gz")
        out[warc_paths[-1]], out[wat_paths[-1]] = written.warc, written.wat
    out[f"crawl-data/{CRAWL}/warc.paths.gz"] = media.gzip_bytes(("\n".join(warc_paths) + "\n").encode())
    out[f"crawl-data/{CRAWL}/wat.paths.gz"] = media.gzip_bytes(("\n".join(wat_paths) + "\n").encode())
    files, headers = web_files()
    out.update({f"web/{k}": v for k, v in files.items()})
    out["web/headers.json"] = (json.dumps(headers, indent=1, sort_keys=True) + "\n").encode()
    out["unigrams.tsv"], out["bigrams.tsv"], out["titles.tsv"] = _lists(UNIGRAMS), _lists(BIGRAMS), _lists(TITLES)
    written_paths = []
    for rel, data in sorted(out.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        written_paths.append(path)
    return written_paths
