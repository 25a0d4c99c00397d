#!/usr/bin/env python3
"""Interleaved-document throughput per source, one worker: documents/s, words/s and images/s.

- arXiv: the real paper sources of ../shared/realdata/latex packed as one bulk tarball (LaTeX body to text,
  figures rasterised from PDF);
- PMC: the 25 real JATS articles of ../shared/realdata/jats, each figure given a distinct 1000x750 JPEG;
- web: the HTML pages of ../shared/realdata/warc (OBELICS extraction and filters; images from a local
  stand-in fetcher that answers every URL with a 400x300 JPEG, so no network is measured), then the dedup.
The split of each run's time (parse, rasterise, decode, resize, encode, fetch) is printed below the table.

    .venv/bin/python bench/docs_throughput.py [--repeat 2]
"""

from __future__ import annotations

import argparse
import io
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from tests.realdata_eval import pack_papers  # noqa: E402

from sciclip.docs.dedup import dedup_documents  # noqa: E402
from sciclip.sources.arxiv.documents import documents_from_tarballs  # noqa: E402
from sciclip.sources.cc.web_documents import documents_from_warcs  # noqa: E402
from sciclip.sources.pmc.documents import documents_from_articles  # noqa: E402
from sciclip.sources.pmc.jats_figures import parse_jats  # noqa: E402

REAL = ROOT.parent / "shared" / "realdata"


def jpeg(w: int, h: int, seed: int) -> bytes:
    img = Image.effect_mandelbrot((w, h), (-2 + seed * 0.01, -1.2, 1, 1.2), 60).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


class StandIn:
    """Every URL answered with a distinct 400x300 JPEG: the pipeline is measured, not the network."""

    def fetch(self, urls):
        return {u: jpeg(400, 300, i) for i, u in enumerate(urls)}


def pmc_corpus(root: Path) -> None:
    n = 0
    for i, src in enumerate(sorted((REAL / "jats").iterdir())):
        d = root / f"PMC{200000 + i}"
        d.mkdir(parents=True)
        shutil.copy(src, d / src.name)
        for fig in parse_jats(src.read_bytes()).figures:
            for slot in fig.graphics:
                n += 1
                name = slot[0].rsplit("/", 1)[-1].removeprefix("journal.")
                name = name if name.lower().endswith((".jpg", ".tif", ".png", ".gif")) else name + ".jpg"
                (d / name).write_bytes(jpeg(1000, 750, n))


def best(fn, repeat: int):
    times, stats = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        stats = fn()
        times.append(time.perf_counter() - t)
    return min(times), stats


def row(name: str, secs: float, s) -> str:
    return (f"| {name} | {s.items_seen} | {s.documents} | {s.words:,} | {s.images} | {secs:.2f} | "
            f"{s.documents / secs:.1f} | {s.words / secs:,.0f} | {s.images / secs:.1f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        pack_papers(sorted(p for p in (REAL / "latex").iterdir() if p.is_dir()), t / "arXiv_src_2101_001.tar")
        pmc_corpus(t / "pmc")
        warcs = sorted(p for p in (REAL / "warc").iterdir() if ".wat" not in p.name and ".wet" not in p.name)
        print("| source | items | documents | words | images | seconds | documents/s | words/s | images/s |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        runs = [
            ("arXiv (realdata/latex, 4 papers)", lambda: documents_from_tarballs(
                [t / "arXiv_src_2101_001.tar"], t / "a")),
            ("PMC (realdata/jats, 25 articles)", lambda: documents_from_articles([t / "pmc"], t / "p")),
            ("web (realdata/warc, 49 pages)", lambda: documents_from_warcs(warcs, t / "w", fetcher=StandIn())),
        ]
        shares = []
        for name, fn in runs:
            secs, s = best(fn, args.repeat)
            print(row(name, secs, s))
            shares.append((name, s.timings_s, s.duration_s))
            if name.startswith("web"):
                secs, s = best(lambda: dedup_documents([t / "w"], t / "wd"), args.repeat)
                print(row("web dedup (the same documents)", secs, s))
        print()
        print("Where the time goes (seconds, from each job's stats.json timings_s):")
        for name, timings, total in shares:
            parts = ", ".join(f"{k} {v:.2f}" for k, v in sorted(timings.items(), key=lambda kv: -kv[1]))
            print(f"  {name}: {total:.2f} in all; {parts}")

if __name__ == "__main__":
    main()
