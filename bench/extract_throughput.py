#!/usr/bin/env python3
"""Extraction throughput against the codec floor, per corpus, per image format, for 1 and 2 workers.

    .venv/bin/python bench/extract_throughput.py [--repeat 3] [--workers 1 2] [--realdata DIR] [--clock cpu]

Two corpora: the synthetic sample corpus and the real papers of ``shared/realdata/latex`` packed as one
bulk tarball. For each, the whole extraction job gives figures/s (samples written per second, tar reading,
LaTeX parsing and shard writing included); the floor converts exactly the figure files those samples came
from straight to <=512 px JPEGs with the plainest calls (``pdftoppm -jpeg -scale-to 512``, Ghostscript
-dSAFER -dEPSCrop for EPS, Pillow draft + thumbnail for rasters), with as many processes as the job had
workers. Per format, sciclip's own conversion (``convert_image``) is timed against the floor on the same
files in warm pools. ``--clock cpu`` counts CPU seconds of every process involved (workers, PDFium helpers,
pdftoppm and gs) instead of wall time: on a shared machine the only stable comparison. Prints a table of
measured numbers; nothing here is pass/fail.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(1, str(ROOT))

from PIL import Image  # noqa: E402
from tests.realdata_eval import pack_papers  # noqa: E402

from sciclip.errors import Skip  # noqa: E402
from sciclip.images.pipeline import ImageOptions, convert_image, eps_bounding_box, sniff_format  # noqa: E402
from sciclip.sample import write_sample  # noqa: E402
from sciclip.sources.arxiv.extract import extract_tarballs  # noqa: E402
from sciclip.sources.arxiv.ids import paper_id_from_member  # noqa: E402
from sciclip.storage.safe_archive import extract_tar_bytes, gunzip_capped, iter_tar_members  # noqa: E402

REALDATA = ROOT.parent / "shared" / "realdata" / "latex"
ARGS = argparse.Namespace(clock="wall")


def floor_convert(job: tuple[Path, Path]) -> None:
    """The plainest conversion of one figure file to a <=512 px JPEG."""
    path, out = job
    data = path.read_bytes()
    fmt = sniff_format(data)
    if fmt == "pdf":
        subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-singlefile", "-scale-to", "512", "-jpeg",
                        "-jpegopt", "quality=95", str(path), str(out)], check=True, capture_output=True)
    elif fmt == "eps":
        box = eps_bounding_box(data) or (0, 0, 512, 512)
        dpi = 512 * 72 / max(box[2] - box[0], box[3] - box[1])
        subprocess.run(["gs", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dQUIET", "-dEPSCrop", "-sDEVICE=jpeg",
                        "-dJPEGQ=95", f"-r{dpi:.2f}", f"-sOutputFile={out}.jpg", str(path)],
                       check=True, capture_output=True)
    else:
        img = Image.open(io.BytesIO(data))
        img.draft("RGB", (512, 512))
        img = img.convert("RGB")
        img.thumbnail((512, 512))
        img.save(f"{out}.jpg", quality=95)


def sciclip_convert(path: Path) -> None:
    try:
        convert_image(path.read_bytes(), ImageOptions(), path=path)
    except Skip:
        pass


def unpack_papers(tarballs: list[Path], dest: Path) -> None:
    """Every paper's files below ``dest/<paper_id>/``, as the extractor sees them."""
    for tarball in tarballs:
        for m in iter_tar_members(tarball, 1 << 30):
            if not m.data.startswith(b"\x1f\x8b"):
                continue
            try:
                raw = gunzip_capped(m.data, 1 << 30)
            except Skip:
                continue  # the sample's deliberately broken members
            if raw[257:262] == b"ustar":
                extract_tar_bytes(raw, dest / paper_id_from_member(m.name)[0], 1 << 30)


def figure_files(samples_dir: Path, papers: Path) -> list[Path]:
    """The source files of every sample written (so the floor converts exactly what extraction did)."""
    files = []
    for shard in sorted(samples_dir.glob("*.tar")):
        with tarfile.open(shard) as tar:
            for m in tar:
                if m.name.endswith(".json"):
                    meta = json.load(tar.extractfile(m))
                    files.append(papers / meta["paper_id"] / meta["source_path"])
    return files


CLOCK = {"wall": time.perf_counter}


def cpu_seconds() -> float:
    """CPU time of this process and all its descendants, live (workers, PDFium helpers: /proc) or reaped.

    On a shared machine wall time swings with other people's load; CPU time barely does."""
    tick = os.sysconf("SC_CLK_TCK")
    total = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                for f in ("ru_utime", "ru_stime"))
    parents: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the name: state ppid ... utime(14) stime cutime cstime, counted from field 3
        parents[int(fields[1])].append((int(stat.parent.name), sum(int(v) for v in fields[11:15]) / tick))
    todo = [os.getpid()]
    while todo:
        for pid, secs in parents.get(todo.pop(), []):
            total += secs
            todo.append(pid)
    return total


CLOCK["cpu"] = cpu_seconds


def best_of(fn, repeat: int) -> float:
    clock = CLOCK[ARGS.clock]
    times = []
    for _ in range(repeat):
        t = clock()
        fn()
        times.append(clock() - t)
    return min(times)


def per_file_rate(fn, items: list, workers: int, repeat: int) -> float:
    """Files/s of ``fn`` over ``items`` in a warm pool of ``workers`` processes (a job's pool lives for a whole
    unit, so its start is left out); the list is cycled to at least 20 calls so that one file is not noise."""
    calls = (items * (20 // len(items) + 1))[:max(20, len(items))]
    if workers <= 1:
        return len(calls) / best_of(lambda: [fn(it) for it in calls], repeat)
    with ProcessPoolExecutor(workers) as pool:
        return len(calls) / best_of(lambda: list(pool.map(fn, calls, chunksize=1)), repeat)


def _floor_all(jobs: list, workers: int) -> None:
    """The floor over a whole corpus, with a fresh pool as the job starts one."""
    if workers <= 1:
        for j in jobs:
            floor_convert(j)
        return
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(floor_convert, jobs, chunksize=1))


def measure(name: str, tarballs: list[Path], tmp: Path, workers: list[int], repeat: int) -> list[tuple]:
    """Rows (corpus, format, files, {workers: (sciclip fig/s, floor fig/s)})."""
    out = tmp / name
    stats: list = []

    def run_job(w: int) -> None:
        stats.clear()
        stats.append(extract_tarballs(tarballs, out / f"job{w}", workers=w))

    job_secs = {w: best_of(lambda: run_job(w), repeat) for w in workers}
    unpack_papers(tarballs, out / "papers")
    files = figure_files(out / f"job{workers[0]}", out / "papers")
    by_fmt: dict[str, list[Path]] = defaultdict(list)
    for f in files:
        by_fmt[sniff_format(f.read_bytes()) or "?"].append(f)
    (out / "floor").mkdir()
    floor_jobs = {f: (f, out / "floor" / f"{i:04d}") for i, f in enumerate(files)}
    n = stats[0].samples_written
    rows = [(name, "all (job)", n, {
        w: (n / job_secs[w], len(files) / best_of(lambda: _floor_all(list(floor_jobs.values()), w), repeat))
        for w in workers})]
    for fmt, fs in sorted(by_fmt.items()):
        rows.append((name, fmt, len(fs), {
            w: (per_file_rate(sciclip_convert, fs, w, repeat),
                per_file_rate(floor_convert, [floor_jobs[f] for f in fs], w, repeat)) for w in workers}))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--realdata", type=Path, default=REALDATA)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall: figures per second; cpu: figures per CPU-second of all processes involved")
    args = ap.parse_args()
    ARGS.clock = args.clock
    logging.disable(logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_sample(tmp / "sample")
        rows += measure("synthetic", sorted((tmp / "sample" / "arxiv" / "src").glob("*.tar")), tmp,
                        args.workers, args.repeat)
        if args.realdata.is_dir():
            pack_papers(sorted(p for p in args.realdata.iterdir() if p.is_dir()), tmp / "real.tar")
            rows += measure("real", [tmp / "real.tar"], tmp, args.workers, args.repeat)

    unit = "figures/s" if args.clock == "wall" else "figures per CPU-second"
    print(f"extraction throughput, {unit} (best of {args.repeat}; floor: plainest tools, same files, "
          f"same number of processes){'' if args.realdata.is_dir() else '; no real data'}")
    head = f"{'corpus':10} {'format':10} {'files':>5}"
    for w in args.workers:
        head += f" | w={w}: {'sciclip':>7} {'floor':>7} {'ratio':>5}"
    print(head)
    for corpus, fmt, n, per in rows:
        line = f"{corpus:10} {fmt:10} {n:5d}"
        for w in args.workers:
            ours, floor = per[w]
            line += f" |      {ours:7.1f} {floor:7.1f} {ours / floor:5.0%}"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
