"""Running img2dataset for one download job: in this process (one process) or in its own interpreter (several).

``img2dataset.download`` always starts a logger process and a worker pool with the "spawn" method, and each
spawned child re-imports img2dataset (~5 s: webdataset imports torch): a job of a few images paid that
three times. With one process, :func:`download_in_process` drives img2dataset's own ``Reader``,
``Resizer``, ``Downloader`` and webdataset writer here instead, as ``download`` does with its
"multiprocessing" distributor: same shards (``_tmp`` feather files), same downloads (retries, timeouts,
user agent token, ``X-Robots-Tag`` opt-outs), same output files and the same incremental resume (shards
with a ``{shard}_stats.json`` are done), one shard retry; only the logger process (progress lines) is
left out. With several processes ``python -m`` this module calls ``download`` itself: the spawn method
re-imports the main module, which must be a module guarded by ``if __name__ == "__main__"``. Run so, this
module installs the address policy the job hands over (``guarded_urllib.install_from_env``) in that
interpreter and, when the spawned workers re-import it as ``__mp_main__``, in each of them: img2dataset's
urllib there connects only where the policy allows.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

_DONE = re.compile(r"^(\d+)_stats\.json$")  # what img2dataset writes last for a shard

if __name__ in ("__main__", "__mp_main__"):  # this job's interpreter, or a worker img2dataset spawned from it
    from sciclip.sources.cc.guarded_urllib import install_from_env

    install_from_env()


def _quiet_env() -> None:
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # else albumentations asks PyPI at import
    os.environ.setdefault("WANDB_MODE", "disabled")


def download_in_process(kwargs: dict) -> None:
    """``img2dataset.download(**kwargs)`` for one process, without spawning: webdataset output, parquet input,
    incremental mode, no hash verification; the resizer's settings and ``bbox_col`` (face blurring) as
    ``download`` takes them (cc's ``img2dataset_kwargs`` keeps the originals; CommonPool's are DataComp's)."""
    _quiet_env()
    from img2dataset.blurrer import BoundingBoxBlurrer
    from img2dataset.downloader import Downloader
    from img2dataset.reader import Reader
    from img2dataset.resizer import Resizer
    from img2dataset.writer import WebDatasetSampleWriter

    k = dict(kwargs)
    if k.get("output_format") != "webdataset" or k.get("incremental_mode") != "incremental":
        raise ValueError("download_in_process: webdataset output in incremental mode only")
    out = os.path.abspath(k["output_folder"])
    tmp = os.path.join(out, "_tmp")
    os.makedirs(tmp, exist_ok=True)
    done = {int(m.group(1)) for m in map(_DONE.match, os.listdir(out)) if m}
    directives = k.get("disallowed_header_directives")  # as download(): None is its default list, [] is none
    directives = list(["noai", "noimageai", "noindex", "noimageindex"] if directives is None else directives) or None
    bbox_col = k.get("bbox_col")
    extra = list(k.get("save_additional_columns") or [])
    if bbox_col is not None and bbox_col not in extra:
        extra.append(bbox_col)  # as download(): the boxes travel with the row to the resizer
    reader = Reader(os.path.abspath(k["url_list"]), k["input_format"], k["url_col"], k.get("caption_col"), None, None,
                    extra or None, k["number_sample_per_shard"], done, tmp)
    resizer = Resizer(image_size=k.get("image_size", 256), resize_mode=k.get("resize_mode", "border"),
                      resize_only_if_bigger=k.get("resize_only_if_bigger", False),
                      upscale_interpolation=k.get("upscale_interpolation", "lanczos"),
                      downscale_interpolation=k.get("downscale_interpolation", "area"),
                      encode_quality=k.get("encode_quality", 95),
                      encode_format=k.get("encode_format", "jpg"), skip_reencode=k.get("skip_reencode", False),
                      disable_all_reencoding=k.get("disable_all_reencoding", False),
                      min_image_size=k.get("min_image_size", 0),
                      max_image_area=k.get("max_image_area", float("inf")),
                      max_aspect_ratio=k.get("max_aspect_ratio", float("inf")),
                      blurrer=BoundingBoxBlurrer() if bbox_col is not None else None)
    encode_format = k.get("encode_format", "jpg")
    downloader = Downloader(
        sample_writer_class=WebDatasetSampleWriter, resizer=resizer, thread_count=k["thread_count"],
        save_caption=k.get("caption_col") is not None, extract_exif=k.get("extract_exif", True), output_folder=out,
        column_list=reader.column_list, timeout=k["timeout"], number_sample_per_shard=k["number_sample_per_shard"],
        oom_shard_count=k.get("oom_shard_count", 5), compute_hash=k.get("compute_hash", "sha256"),
        verify_hash_type=None, encode_format=encode_format, retries=k.get("retries", 0),
        user_agent_token=k.get("user_agent_token"), disallowed_header_directives=directives,
        blurring_bbox_col=bbox_col)
    with contextlib.redirect_stdout(sys.stderr):  # its progress prints stay out of the job's stdout
        failed = [row for ok, row in map(downloader, reader) if not ok]
        for _ in range(k.get("max_shard_retry", 1)):
            if not failed:
                break
            print(f"Retrying {len(failed)} shards")
            failed = [row for ok, row in map(downloader, failed) if not ok]
        if failed:
            print(f"{len(failed)} shards failed twice; running the job again resumes them")
    shutil.rmtree(tmp, ignore_errors=True)


def main(spec_path: str) -> int:
    _quiet_env()
    kwargs = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    from img2dataset import download

    download(**kwargs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
