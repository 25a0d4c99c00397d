#!/usr/bin/env python3
"""Every stage on a larger synthetic corpus, each run as its own process (as a workflow job is): wall time,
throughput, peak RSS, and for extraction the time split between LaTeX/XML parsing, rasterising (pdftoppm,
Ghostscript), decoding, resizing and encoding.

Corpus: arXiv papers in bulk tarballs (figures in every format: RGBA/palette/gray PNG, RGB/CMYK JPEG, GIF,
multi-page PDF, EPS), and PMC article folders (JPEG, PNG, LZW TIFF).

    .venv/bin/python bench/pipeline_scale.py [--papers 200] [--figures-per-paper 8] [--articles 500]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from measure import run_measured  # noqa: E402

from sciclip.sample import media  # noqa: E402
from sciclip.sample.arxiv import Paper, build_tarball  # noqa: E402

FORMATS = ["png_rgba", "png_palette", "png_gray", "jpeg_rgb", "jpeg_cmyk", "gif", "pdf", "eps"]


def figure(kind: str, name: str, i: int) -> tuple[str, bytes]:
    w, h = [(1200, 900), (800, 600), (1600, 1000), (640, 480)][i % 4]
    if kind == "pdf":
        return ".pdf", media.pdf_multipage(name, (w * 0.4, h * 0.4), pages=2)
    if kind == "eps":
        return ".eps", media.eps(name, (0, 0, int(w * 0.4), int(h * 0.4)), atend=i % 2 == 0)
    if kind == "gif":
        return ".gif", media.gif_animated(name, (w // 2, h // 2))
    maker = {"png_rgba": media.png_rgba, "png_palette": media.png_palette, "png_gray": media.png_gray,
             "jpeg_rgb": media.jpeg_rgb, "jpeg_cmyk": media.jpeg_cmyk}[kind]
    return (".png" if kind.startswith("png") else ".jpg"), maker(name, (w, h))


def make_arxiv(folder: Path, papers: int, per_paper: int, per_tarball: int = 50) -> list[Path]:
    folder.mkdir(parents=True)
    tarballs = []
    for t in range(0, papers, per_tarball):
        batch = []
        for p in range(t, min(papers, t + per_tarball)):
            pid = f"2103.{p + 1:05d}"
            files, figs = {}, []
            for f in range(per_paper):
                kind = FORMATS[(p + f) % len(FORMATS)]
                ext, data = figure(kind, f"scale/{pid}/{f}", p + f)
                files[f"figs/f{f}{ext}"] = data
                env = "figure*" if f % 5 == 0 else "figure"
                figs.append(f"\\begin{{{env}}}\\centering\\includegraphics[width=\\linewidth]{{figs/f{f}}}"
                            f"\\caption{{Figure {f} of paper {pid}: $\\alpha_{{{f}}} = {f}.5$ against time, see "
                            f"\\cite{{ref{f}}} and Sec.~\\ref{{s{f}}}.}}\\end{{{env}}}")
            tex = ("\\documentclass{article}\\usepackage{graphicx}\\newcommand{\\method}{\\textsc{M}}"
                   "\\begin{document}\\section{Intro}Text.\n" + "\n\nSome text in between.\n".join(figs)
                   + "\n\\end{document}\n")
            files["main.tex"] = tex.encode()
            batch.append(Paper(pid, files))
        path = folder / f"arXiv_src_2103_{t // per_tarball + 1:03d}.tar"
        path.write_bytes(build_tarball(batch, "2103"))
        tarballs.append(path)
    return tarballs


def run(cmd: list[str]) -> tuple[float, int]:
    """(seconds, peak RSS in MiB) of a command, like one workflow job (its own peak: see measure.py)."""
    return run_measured(cmd, env={"PYTHONPATH": str(ROOT / "src")})


def sciclip(*args: str) -> list[str]:
    return [sys.executable, "-m", "sciclip", "-q", *args]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--papers", type=int, default=200)
    ap.add_argument("--figures-per-paper", type=int, default=8)
    ap.add_argument("--articles", type=int, default=500)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    import numpy as np
    from pmc_throughput import make_corpus
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t = time.perf_counter()
        tarballs = make_arxiv(tmp / "arxiv", args.papers, args.figures_per_paper)
        n_pmc_figs = make_corpus(tmp / "pmc", args.articles, 3)
        print(f"corpus: {args.papers} papers x {args.figures_per_paper} figures in {len(tarballs)} tarballs, "
              f"{args.articles} PMC articles x 3 figures (generated in {time.perf_counter() - t:.0f} s)")

        split: dict[str, float] = {}
        total_s, peak, papers, figs, samples = 0.0, 0, 0, 0, 0
        for tb in tarballs:
            s, rss = run(sciclip("arxiv", "extract", str(tb), str(tmp / "shards" / "arxiv" / tb.stem),
                                 "--workers", str(args.workers)))
            st = json.loads((tmp / "shards" / "arxiv" / tb.stem / "stats.json").read_text())
            total_s += s
            peak = max(peak, rss)
            papers += st["items_seen"]
            figs += st["candidates_found"]
            samples += st["samples_written"]
            for k, v in st["timings_s"].items():
                split[k] = split.get(k, 0.0) + v
        rows.append(("arxiv extract (per tarball job)", f"{papers} papers / {figs} figures", total_s,
                     f"{papers / total_s:.1f} papers/s, {figs / total_s:.1f} figures/s", peak, split))

        s, rss = run(sciclip("pmc", "extract", str(tmp / "pmc"), str(tmp / "shards" / "pmc" / "all"),
                             "--workers", str(args.workers)))
        st = json.loads((tmp / "shards" / "pmc" / "all" / "stats.json").read_text())
        rows.append(("pmc extract (one job)", f"{st['items_seen']} articles / {st['candidates_found']} figures", s,
                     f"{st['items_seen'] / s:.1f} articles/s, {st['candidates_found'] / s:.1f} figures/s", rss,
                     st["timings_s"]))
        assert st["candidates_found"] == n_pmc_figs

        dirs = sorted(str(p) for p in (tmp / "shards").glob("*/*"))
        s, rss = run(sciclip("convert", *dirs, "--out", str(tmp / "i2d"), "--samples-per-shard", "500"))
        n = sum(json.loads(p.read_text())["successes"] for p in (tmp / "i2d").glob("*_stats.json"))
        rows.append(("img2dataset conversion", f"{n} samples", s, f"{n / s:.0f} samples/s", rss, None))

        s, rss = run(sciclip("embed", str(tmp / "i2d"), "--descriptor", "phash", "--out", str(tmp / "emb")))
        rows.append(("embed (pHash, CPU)", f"{n} images", s, f"{n / s:.0f} images/s", rss, None))
        eval_dir = tmp / "eval"
        eval_dir.mkdir()
        for i in range(100):
            media.natural_image(f"scale-eval/{i}").save(eval_dir / f"{i}.png")
        run(sciclip("embed-eval", "--images", str(eval_dir), "--descriptor", "phash", "--out", str(tmp / "ev.npz")))
        s, rss = run(sciclip("score", str(tmp / "i2d"), "--embeddings", str(tmp / "emb"), "--eval",
                             str(tmp / "ev.npz"), "--out", str(tmp / "scores")))
        rows.append(("score (faiss, 100 eval images)", f"{n} samples", s, f"{n / s:.0f} samples/s", rss, None))
        s, rss = run(sciclip("subset", "--input", str(tmp / "i2d"), "--scores", str(tmp / "scores"),
                             "--threshold", "0.75", "--out", str(tmp / "subset.npy")))
        kept = len(np.load(tmp / "subset.npy"))
        rows.append(("subset (threshold, duplicates)", f"{n} samples", s, f"{n / s:.0f} samples/s", rss, None))
        s, rss = run(sciclip("reshard", "-i", str(tmp / "i2d"), "-o", str(tmp / "final"), "-s",
                             str(tmp / "subset.npy"), "--shard-format", "{:05d}.tar", "--shard-stats-format",
                             "{:05d}_stats.json", "-j", "2"))
        rows.append(("reshard (-j 2)", f"{n} in / {kept} out", s, f"{n / s:.0f} samples/s", rss, None))

    print(f"{'stage':32} {'items':28} {'seconds':>8} {'throughput':34} {'peak RSS':>9}")
    for name, items, secs, rate, rss, sp in rows:
        print(f"{name:32} {items:28} {secs:8.1f} {rate:34} {rss:6d} MiB")
        if sp:
            tot = sum(sp.values()) or 1.0
            print(" " * 34 + "time split: " + ", ".join(f"{k} {v:.1f}s ({v / tot:.0%})"
                                                        for k, v in sorted(sp.items(), key=lambda kv: -kv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
