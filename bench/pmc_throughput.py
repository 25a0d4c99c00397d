#!/usr/bin/env python3
"""PMC extraction throughput: articles/s and figures/s on a synthetic corpus of article-version folders
(JPEG, PNG and LZW TIFF figures of realistic sizes), against the codec floor (the same files opened and
saved as <=512 px JPEGs by plain Pillow calls in one process); and JATS parsing alone on the real articles.

    .venv/bin/python bench/pmc_throughput.py [--articles 200] [--figures 4] [--workers 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from PIL import Image  # noqa: E402

from sciclip.sample import media  # noqa: E402
from sciclip.sample.pmc import _article  # noqa: E402
from sciclip.sources.pmc.extract import extract_articles  # noqa: E402
from sciclip.sources.pmc.jats_figures import parse_jats  # noqa: E402

REAL_JATS = ROOT.parent / "shared" / "realdata" / "jats"


def make_corpus(root: Path, n_articles: int, n_figs: int) -> int:
    kinds = [("jpg", (1200, 900)), ("png", (800, 600)), ("tif", (1000, 800)), ("jpg", (2000, 1500))]
    count = 0
    for a in range(n_articles):
        pmcid = f"PMC{3000000 + a}"
        folder = root / f"{pmcid}.1"
        folder.mkdir(parents=True)
        figs = []
        for f in range(n_figs):
            ext, size = kinds[(a + f) % len(kinds)]
            name = f"{pmcid}-g{f:03d}.{ext}"
            img = media.draw_plot(f"bench/{pmcid}/{f}", size)
            buf = io.BytesIO()
            img.save(buf, {"jpg": "JPEG", "png": "PNG", "tif": "TIFF"}[ext],
                     **({"compression": "tiff_lzw"} if ext == "tif" else {"quality": 90} if ext == "jpg" else {}))
            (folder / name).write_bytes(buf.getvalue())
            figs.append(f'<fig id="f{f}"><label>Figure {f + 1}</label><caption><title>Benchmark figure {f + 1} of '
                        f'{pmcid}.</title><p>Panels show <italic>measurements</italic> over time.</p></caption>'
                        f'<graphic xlink:href="{name.rsplit(".", 1)[0]}"/></fig>')
            count += 1
        (folder / f"{pmcid}.1.xml").write_bytes(_article(pmcid, "\n".join(figs)))
    return count


def floor(files: list[Path], out: Path) -> None:
    for i, f in enumerate(files):
        img = Image.open(f).convert("RGB")
        img.thumbnail((512, 512))
        img.save(out / f"{i}.jpg", quality=95)


def best(fn, repeat: int) -> float:
    t = []
    for _ in range(repeat):
        s = time.perf_counter()
        fn()
        t.append(time.perf_counter() - s)
    return min(t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--figures", type=int, default=4)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        n_figs = make_corpus(tmp / "in", args.articles, args.figures)
        stats = []
        secs = best(lambda: stats.append(extract_articles(tmp / "in", tmp / "out", workers=args.workers)), args.repeat)
        s = stats[-1]
        files = sorted(p for p in (tmp / "in").rglob("*") if p.suffix in (".jpg", ".png", ".tif"))
        (tmp / "floor").mkdir()
        fsecs = best(lambda: floor(files, tmp / "floor"), args.repeat)
    print(f"PMC extraction (best of {args.repeat}, workers={args.workers}; floor: plain Pillow, one process)")
    print(f"{'input':34} {'articles':>8} {'figures':>7} {'samples':>7} {'seconds':>8} {'articles/s':>10} "
          f"{'figures/s':>9} {'floor fig/s':>11} {'vs floor':>8}")
    print(f"{f'synthetic, {args.articles} x {args.figures} figures':34} {s.items_seen:8d} {s.candidates_found:7d} "
          f"{s.samples_written:7d} {secs:8.2f} {s.items_seen / secs:10.1f} {s.candidates_found / secs:9.1f} "
          f"{len(files) / fsecs:11.1f} {(s.samples_written / secs) / (len(files) / fsecs):8.0%}")
    assert n_figs == len(files)
    if REAL_JATS.is_dir():
        docs = [p.read_bytes() for p in sorted(REAL_JATS.iterdir())]
        figs = []
        psecs = best(lambda: figs.append(sum(len(parse_jats(d).figures) for d in docs)), args.repeat)
        print(f"{'real JATS, parsing only':34} {len(docs):8d} {figs[-1]:7d} {'-':>7} {psecs:8.2f} "
              f"{len(docs) / psecs:10.1f} {figs[-1] / psecs:9.1f} {'-':>11} {'-':>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
