"""The CommonPool part of the sample corpus: a tiny pool's metadata as DataComp publishes it, and its web.

``commonpool/metadata/{00000000,00000001}.parquet`` hold DataComp's columns (``uid, url, text, original_width,
original_height, clip_b32_similarity_score, clip_l14_similarity_score, face_bboxes, sha256``) and
``.npz`` beside each its embeddings (``b32_img, b32_txt, l14_img, l14_txt``, float16, L2-normalised; 32 wide
like the demo's small CLIPs, whose kind prompts they are compared with; each score is its row's dot product).
``commonpool/web/<host>/<path>`` are the images the urls point at, served on 127.0.0.1 while a download job runs
(``web/headers.json``: ``X-Robots-Tag`` opt-outs). The rows exercise what the source must get right: an image
larger than 512 px (resized), a wide one, faces to blur (boxes relative to the image, as DataComp's), no faces
(an empty list) and no box column value (null), a caption shorter than the paper sources allow, two dead links
(404s), an opt-out, a page served as an image, and a copy of an evaluation image (gone only when the pool's
decontamination is switched on).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from sciclip.sample import media
from sciclip.storage.atomic import atomic_write_bytes

HOST = "pool.sciclip.test"
OLD_HOST = "gone.sciclip.test"  # a host whose site is gone: every url there is a 404 on the sample web
DIM = 32
FILES = ("00000000", "00000001")
# (name, caption, image size or None for no image, face boxes, what the web serves)
ROWS = (
    [("dog-large", "A dog and its owner on a beach at sunset", (640, 480), [[0.55, 0.2, 0.75, 0.5]], "jpeg"),
     ("cat", "a cat sleeping on a sofa", (300, 200), [], "jpeg"),
     ("lost", "A red bicycle leaning against a wall", None, [], "missing"),
     ("optout", "Portrait of a woman in a garden", (320, 240), [], "noai"),
     ("people", "Two friends laughing at a cafe table", (400, 300),
      [[0.1, 0.15, 0.3, 0.45], [0.6, 0.1, 0.85, 0.5]], "png")],
    [("page", "Buy cheap shoes online", None, [], "html"),
     ("eval-copy", "A colourful abstract painting", (256, 256), None, "eval"),
     ("panorama", "Mountain panorama at dawn", (800, 200), [], "jpeg"),
     ("gone", "Old photo of a lighthouse", None, [], "oldhost"),
     ("short", "dog", (200, 150), [], "jpeg")],
)


def uid_of(name: str) -> str:
    return hashlib.sha256(f"commonpool-sample/{name}".encode()).hexdigest()[:32]


def _image_bytes(name: str, size: tuple[int, int], kind: str) -> bytes:
    img = media.eval_image(0).resize(size) if kind == "eval" else media.natural_image(f"commonpool/{name}", size)
    buf = io.BytesIO()
    if kind == "png":
        img.save(buf, "PNG")
    else:
        img.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float16)


def pool_files() -> tuple[dict[str, bytes], dict[str, bytes], dict[str, dict[str, str]]]:
    """metadata/<name> -> bytes, web/<host/path> -> bytes, and the web's extra headers."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta, web, headers = {}, {}, {}
    for f, rows in zip(FILES, ROWS):
        cols: dict[str, list] = {c: [] for c in ("uid", "url", "text", "original_width", "original_height",
                                                 "face_bboxes", "sha256")}
        for name, text, size, boxes, kind in rows:
            host = OLD_HOST if kind == "oldhost" else HOST
            ext = "png" if kind == "png" else "html" if kind == "html" else "jpg"
            path = f"{host}/images/{name}.{ext}"
            if kind == "html":
                data = b"<!DOCTYPE html><html><body>Shoes! Best prices!</body></html>"
            elif size is not None:
                data = _image_bytes(name, size, kind)
            else:
                data = name.encode()  # a file that once was there: its hash only
            if kind not in ("missing", "oldhost"):
                web[path] = data
            if kind == "noai":
                headers[path] = {"X-Robots-Tag": "noai"}
            cols["uid"].append(uid_of(name))
            cols["url"].append(f"http://{path}")
            cols["text"].append(text)
            cols["original_width"].append(size[0] if size else 640)
            cols["original_height"].append(size[1] if size else 480)
            cols["face_bboxes"].append(boxes)
            cols["sha256"].append(hashlib.sha256(data).hexdigest())
        rng = np.random.default_rng(int(f))
        arrays = {f"{m}_{part}": _unit_vectors(rng, len(rows)) for m in ("b32", "l14") for part in ("img", "txt")}
        table = pa.table({
            "uid": pa.array(cols["uid"], pa.string()), "url": pa.array(cols["url"], pa.string()),
            "text": pa.array(cols["text"], pa.string()),
            "original_width": pa.array(cols["original_width"], pa.int64()),
            "original_height": pa.array(cols["original_height"], pa.int64()),
            **{f"clip_{m}_similarity_score": pa.array(
                np.einsum("ij,ij->i", arrays[f"{m}_img"].astype(np.float32), arrays[f"{m}_txt"].astype(np.float32)),
                pa.float32()) for m in ("b32", "l14")},
            "face_bboxes": pa.array(cols["face_bboxes"], pa.list_(pa.list_(pa.float64()))),
            "sha256": pa.array(cols["sha256"], pa.string()),
        })
        buf = pa.BufferOutputStream()
        pq.write_table(table, buf)
        meta[f"{f}.parquet"] = buf.getvalue().to_pybytes()
        meta[f"{f}.npz"] = _npz_bytes(arrays)
    return meta, web, headers


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    import tempfile

    from sciclip.storage.npz import save_npz

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "a.npz"
        save_npz(path, arrays)  # fixed member dates: the same bytes on every run
        return path.read_bytes()


def expected_uids() -> dict[str, str]:
    """uid -> what becomes of its row in the demo (``sample`` when it downloads, else the skip reason)."""
    fate = {"missing": "http_404", "oldhost": "http_404", "noai": "opted_out", "html": "image_decode_error"}
    return {uid_of(name): fate.get(kind, "sample") for rows in ROWS for name, _, _, _, kind in rows}


def write_commonpool_sample(outdir: str | Path) -> list[Path]:
    """Write the sample pool below ``outdir/commonpool``; returns the files written."""
    root = Path(outdir) / "commonpool"
    meta, web, headers = pool_files()
    out = {f"metadata/{k}": v for k, v in meta.items()}
    out.update({f"web/{k}": v for k, v in web.items()})
    out["web/headers.json"] = (json.dumps(headers, indent=1, sort_keys=True) + "\n").encode()
    written = []
    for rel, data in sorted(out.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)
        written.append(path)
    return written
