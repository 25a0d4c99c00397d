"""Scoring extraction against hand-made ground truth (``expected_latex.tsv`` of the shared real papers).

Used by the test suite and by ``bench/``: it packs paper directories as an arXiv bulk tarball, extracts
it, and compares pairing (which image files become samples) and captions. The ground truth writes
``\\ref`` as ``?``, drops ``\\cite``/``\\citep``, writes ``\\citet`` as ``[cite]`` and keeps math as LaTeX;
both sides are brought to one convention before comparing, nothing else is forgiven.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from sciclip.text.captions import normalise_space
from sciclip.text.latex import latex_to_text

FAKE_YYMM = "2101"


def paper_ids(names: list[str]) -> dict[str, str]:
    """Deterministic arXiv-style ids for named paper directories."""
    return {name: f"{FAKE_YYMM}.{i:05d}" for i, name in enumerate(sorted(names), start=1)}


def pack_papers(paper_dirs: list[Path], out: Path) -> dict[str, str]:
    """Write ``out`` as a bulk tarball with one gzipped source tar per paper; returns id -> paper name."""
    ids = paper_ids([p.name for p in paper_dirs])
    outer = io.BytesIO()
    with tarfile.open(fileobj=outer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for d in sorted(paper_dirs, key=lambda p: ids[p.name]):
            inner = io.BytesIO()
            with tarfile.open(fileobj=inner, mode="w", format=tarfile.GNU_FORMAT) as t:
                for f in sorted(p for p in d.rglob("*") if p.is_file()):
                    info = tarfile.TarInfo(f.relative_to(d).as_posix())
                    info.size = f.stat().st_size
                    info.mtime = 0
                    with open(f, "rb") as fh:
                        t.addfile(info, fh)
            gz = io.BytesIO()
            with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, filename="") as g:
                g.write(inner.getvalue())
            data = gz.getvalue()
            info = tarfile.TarInfo(f"{FAKE_YYMM}/{ids[d.name]}.gz")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    out.write_bytes(outer.getvalue())
    return {v: k for k, v in ids.items()}


@dataclass
class ExpectedFigure:
    paper: str
    index: int
    images: list[str]
    caption: str
    subcaptions: list[str]


def read_expected(tsv: Path) -> list[ExpectedFigure]:
    out = []
    with open(tsv, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            images = [x for x in row["image_files_resolved"].split(";") if x.strip()]
            subs = [s.strip() for s in row["subcaptions"].split("|") if s.strip()]
            out.append(ExpectedFigure(row["paper"], int(row["fig_index"]), images, row["caption_plain"], subs))
    return out


_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def normalise_expected(text: str) -> str:
    """The ground truth's LaTeX-ish text through our converter (its % are literal)."""
    text = re.sub(r"(?<!\\)%", r"\\%", text)
    return _common(latex_to_text(text))


def normalise_ours(text: str) -> str:
    return _common(text.replace("<ref>", "?"))


def _common(text: str) -> str:
    text = text.replace("<cit.>", "").replace("[cite]", "").translate(_QUOTES)
    text = normalise_space(text)
    return re.sub(r"\s+([,.;:)])", r"\1", text).replace("( ", "(")


@dataclass
class Score:
    expected_images: int = 0
    found_images: int = 0
    extra_images: list[str] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)
    captions_compared: int = 0
    captions_exact: int = 0
    caption_mismatches: list[tuple[str, str, str]] = field(default_factory=list)
    subcaptions_compared: int = 0
    subcaptions_exact: int = 0

    @property
    def recall(self) -> float:
        return self.found_images / self.expected_images if self.expected_images else 1.0


def score(expected: list[ExpectedFigure], main_captions: dict[tuple[str, str], str],
          sub_captions: dict[tuple[str, str], str]) -> Score:
    """``main_captions``/``sub_captions``: (paper, image path) -> caption from runs with
    ``subfigure_caption`` = main / sub."""
    s = Score()
    wanted = {(f.paper, img) for f in expected for img in f.images}
    s.expected_images = len(wanted)
    s.found_images = len(wanted & set(main_captions))
    s.missing_images = sorted(f"{p}:{i}" for p, i in wanted - set(main_captions))
    s.extra_images = sorted(f"{p}:{i}" for p, i in set(main_captions) - wanted)
    for f in expected:
        for k, img in enumerate(f.images):
            got = main_captions.get((f.paper, img))
            if got is None:
                continue
            s.captions_compared += 1
            want = normalise_expected(f.caption)
            if normalise_ours(got) == want:
                s.captions_exact += 1
            else:
                s.caption_mismatches.append((f"{f.paper}:{img}", want, normalise_ours(got)))
            if f.subcaptions and k < len(f.subcaptions) and (f.paper, img) in sub_captions:
                s.subcaptions_compared += 1
                if normalise_ours(sub_captions[(f.paper, img)]) == normalise_expected(f.subcaptions[k]):
                    s.subcaptions_exact += 1
    return s
