"""``sciclip evalsets``: DataComp's evaluation sets, fetched the way its ``download_evalsets.py`` fetches them.

- Classification, WILDS and fairness tasks: the Hugging Face dataset repository ``djghosh/<folder>``
  (``classnames.txt``, ``zeroshot_classification_templates.txt``, ``test/nshards.txt``, then ``test/<i>.tar``)
  into ``<out>/<folder>`` (``wds_<key with '/' as '-'>_test``; fairness tasks without their ``fairness/``
  prefix, as DataComp names them). A tar already there is kept when its sha256 and size match the Git LFS
  pointer that ``raw/main/test/<i>.tar`` serves (DataComp's check), fetched again otherwise.
- Flickr, MSCOCO and WinoGAViL: the Hugging Face datasets ``nlphuji/<name>`` (``datasets.load_dataset`` with
  ``cache_dir=<out>/hf_cache``, as DataComp), then written out as WebDataset folders too (Flickr and MSCOCO in
  clip_benchmark's retrieval layout; WinoGAViL as one sample per instance), so that evaluating needs neither
  the ``datasets`` package nor the network.

One task failing (a 404, no network) does not stop the others; the command fails at the end naming it.
Needs the network: never run by the tests, which serve a fake repository on 127.0.0.1 instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.evaluate.layout import SetWriter, one_line
from sciclip.evaluate.tasks import expand, folder_name, task_info
from sciclip.storage.remote import SourceSpec, fetch, read_bytes

log = logging.getLogger(__name__)

HF_DATASETS = "https://huggingface.co/datasets/djghosh"


def datacomp_folder(key: str) -> str:
    """The folder ``download_evalsets.py`` makes for a task (``fairness/`` dropped)."""
    return folder_name(key.split("/", 1)[1] if key.startswith("fairness/") else key)


def lfs_pointer(text: str) -> tuple[str, int]:
    """(sha256, size) of a Git LFS pointer file (``oid sha256:<hex>`` and ``size <n>`` lines)."""
    fields = dict(line.split(maxsplit=1) for line in text.splitlines() if " " in line)
    try:
        algo, digest = fields["oid"].split(":", 1)
        if algo != "sha256":
            raise ValueError(algo)
        return digest.strip(), int(fields["size"])
    except (KeyError, ValueError):
        raise SciclipError("not a Git LFS pointer (no 'oid sha256:' and 'size' lines)") from None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def download_wds(key: str, out: Path, base_url: str = HF_DATASETS, retries: int = 4) -> Path:
    """One WebDataset task into ``out/<folder>``; returns the folder."""
    name = datacomp_folder(key)
    spec = SourceSpec(f"{base_url.rstrip('/')}/{name}")
    target = out / name
    (target / "test").mkdir(parents=True, exist_ok=True)
    for meta in ("classnames.txt", "zeroshot_classification_templates.txt", "test/nshards.txt"):
        fetch(spec, f"raw/main/{meta}", target / meta, retries=retries)
    try:
        nshards = int((target / "test" / "nshards.txt").read_text().strip())
    except ValueError:
        raise SciclipError(f"{target}/test/nshards.txt: not a shard count") from None
    for i in range(nshards):
        tar = target / "test" / f"{i}.tar"
        if tar.is_file():
            digest, size = lfs_pointer(read_bytes(spec, f"raw/main/test/{i}.tar", retries=retries).decode())
            if tar.stat().st_size == size and _sha256(tar) == digest:
                log.info("verified %s", tar)
                continue
        fetch(spec, f"resolve/main/test/{i}.tar", tar, retries=retries)
    return target


def _image_bytes(value) -> bytes:
    """Original bytes of a Hugging Face image read with ``decode=False`` ({"bytes", "path"})."""
    if value.get("bytes"):
        return value["bytes"]
    if value.get("path") and os.path.isfile(value["path"]):
        return Path(value["path"]).read_bytes()
    raise SciclipError("an image without bytes or a readable path")


def _ext(data: bytes) -> str:
    from PIL import Image

    fmt = (Image.open(io.BytesIO(data)).format or "").lower()
    return {"jpeg": "jpg", "png": "png", "webp": "webp"}.get(fmt, "jpg")


def write_retrieval(hf_dataset, folder: Path, shard_size: int = 1000) -> int:
    """A retrieval dataset (``image``, ``caption``: a list of captions) as clip_benchmark's retrieval folder,
    images in their original encoding, captions one per line."""
    import datasets

    ds = hf_dataset.cast_column("image", datasets.Image(decode=False))
    w = SetWriter(folder, "retrieval", shard_size=shard_size)
    try:
        for i, row in enumerate(ds):
            data = _image_bytes(row["image"])
            captions = row["caption"] if isinstance(row["caption"], list) else [row["caption"]]
            w.add(f"{i:06d}", {_ext(data): data, "txt": "\n".join(one_line(c) for c in captions).encode()})
    except BaseException:
        w.abort()
        raise
    return w.close()


def write_winogavil(hf_dataset, folder: Path, shard_size: int = 500) -> int:
    """WinoGAViL instances (``candidate_images``, ``cue``, ``candidates``, ``associations``) as one sample each:
    ``cue.txt``, ``candidates.json``, ``associations.json`` and the candidates' images ``<j>.<ext>``."""
    import copy

    feature = copy.deepcopy(hf_dataset.features["candidate_images"])  # a sequence of images
    inner = feature.feature if hasattr(feature, "feature") else feature[0]
    inner.decode = False
    ds = hf_dataset.cast_column("candidate_images", feature)
    w = SetWriter(folder, "winogavil", shard_size=shard_size)
    try:
        for i, row in enumerate(ds):
            members = {"cue.txt": row["cue"].encode(), "candidates.json": json.dumps(row["candidates"]).encode(),
                       "associations.json": json.dumps(row["associations"]).encode()}
            for j, img in enumerate(row["candidate_images"]):
                data = _image_bytes(img)
                members[f"{j}.{_ext(data)}"] = data
            w.add(f"{i:06d}", members)
    except BaseException:
        w.abort()
        raise
    return w.close()


def download_hf(key: str, out: Path) -> Path:
    """Flickr, MSCOCO or WinoGAViL: DataComp's Hugging Face download, then our WebDataset folder."""
    try:
        import datasets
    except ImportError:
        raise SciclipError(f"{key}: downloading it needs the `datasets` package") from None
    name = key.split("/", 1)[1]
    ds = datasets.load_dataset(f"nlphuji/{name}", split="test", cache_dir=str(out / "hf_cache"))
    target = out / folder_name(key)
    n = write_winogavil(ds, target) if key == "misc/winogavil" else write_retrieval(ds, target)
    log.info("%s: %d samples -> %s", key, n, target)
    return target


def download_evalsets(tasks: list[str], out: str | os.PathLike, base_url: str = HF_DATASETS,
                      retries: int = 4) -> list[Path]:
    """Every task's set into ``out``; the folders written. Fails at the end naming the tasks that failed."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done, failed = [], []
    for key in expand(tasks):
        kind = task_info(key).kind
        try:
            done.append(download_hf(key, out) if kind in ("retrieval", "winogavil")
                        else download_wds(key, out, base_url, retries))
        except SciclipError as e:
            log.error("%s: %s", key, e)
            failed.append(f"{key} ({e})")
        except Exception as e:  # datasets raises many types (connection, missing split, ...)
            log.error("%s: %s: %s", key, type(e).__name__, e)
            failed.append(f"{key} ({type(e).__name__}: {e})")
    if failed:
        raise SciclipError(f"{len(failed)} of {len(done) + len(failed)} sets not downloaded: " + "; ".join(failed))
    return done
