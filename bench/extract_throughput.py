#!/usr/bin/env python3
"""Extraction throughput: papers/s and figures/s on the sample tarballs and on the real papers packed as one
tarball, against the codec floor (the same figure files converted straight to <=512 px JPEGs by the plainest
calls: pdftoppm first page, Ghostscript -dSAFER for EPS, Pillow for rasters, one process).

    .venv/bin/python bench/extract_throughput.py [--repeat 3] [--workers 1]

Prints a table of measured numbers; nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from PIL import Image  # noqa: E402
from tests.realdata_eval import pack_papers  # noqa: E402

from sciclip.images.pipeline import eps_bounding_box, sniff_format  # noqa: E402
from sciclip.sample import write_sample  # noqa: E402
from sciclip.sources.arxiv.extract import extract_tarball  # noqa: E402
from sciclip.sources.options import ExtractOptions  # noqa: E402

REALDATA = ROOT.parent / "shared" / "realdata" / "latex"


def floor_convert(path: Path, out: Path) -> None:
    """The plainest conversion of one figure file to a <=512 px JPEG."""
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
        img = img.convert("RGB")
        img.thumbnail((512, 512))
        img.save(f"{out}.jpg", quality=95)


def figure_files(samples_dir: Path, papers: dict[str, Path]) -> list[Path]:
    """The source files of every sample written (so the floor converts exactly what extraction did)."""
    import json
    import tarfile
    files = []
    for shard in sorted(samples_dir.glob("*.tar")):
        with tarfile.open(shard) as tar:
            for m in tar:
                if m.name.endswith(".json"):
                    meta = json.load(tar.extractfile(m))
                    files.append(papers[meta["paper_id"]] / meta["source_path"])
    return files


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    import logging
    logging.disable(logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_sample(tmp / "sample")
        tarballs = sorted((tmp / "sample" / "arxiv" / "src").glob("*.tar"))
        stats = []

        def run_sample() -> None:
            stats.clear()
            for t in tarballs:
                stats.append(extract_tarball(t, tmp / "out" / t.stem, ExtractOptions(), workers=args.workers))

        secs = best_of(run_sample, args.repeat)
        papers = sum(s.papers_seen for s in stats)
        figs = sum(s.figures_found for s in stats)
        samples = sum(s.samples_written for s in stats)
        rows.append((f"sample corpus ({len(tarballs)} tarballs)", papers, figs, samples, secs, None))

        if REALDATA.is_dir():
            dirs = sorted(p for p in REALDATA.iterdir() if p.is_dir())
            ids = pack_papers(dirs, tmp / "real.tar")
            real_stats = []

            def run_real() -> None:
                real_stats.clear()
                real_stats.append(extract_tarball(tmp / "real.tar", tmp / "real", ExtractOptions(),
                                                  workers=args.workers))

            secs = best_of(run_real, args.repeat)
            s = real_stats[0]
            files = figure_files(tmp / "real", {pid: REALDATA / name for pid, name in ids.items()})
            (tmp / "floor").mkdir()
            floor = best_of(lambda: [floor_convert(f, tmp / "floor" / f"{i:04d}") for i, f in enumerate(files)],
                            args.repeat)
            rows.append(("real papers (1 tarball)", s.papers_seen, s.figures_found, s.samples_written, secs,
                         len(files) / floor))

    print(f"extraction throughput (best of {args.repeat}, workers={args.workers}, "
          f"{'' if REALDATA.is_dir() else 'no real data; '}one process for the floor)")
    print(f"{'input':28} {'papers':>6} {'figures':>7} {'samples':>7} {'seconds':>8} {'papers/s':>9} "
          f"{'figures/s':>9} {'floor fig/s':>11} {'vs floor':>8}")
    for name, p, f, s, secs, floor in rows:
        ratio = f"{(s / secs) / floor:7.0%}" if floor else "      -"
        fl = f"{floor:11.1f}" if floor else "          -"
        print(f"{name:28} {p:6d} {f:7d} {s:7d} {secs:8.2f} {p / secs:9.1f} {f / secs:9.1f} {fl} {ratio:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
