"""The embedded sample corpus: small arXiv and PMC bucket mirrors, a Common Crawl mirror with the web its
images live on, plus evaluation images (for decontamination) and two tiny evaluation sets in DataComp's layout
(for ``sciclip evaluate``), written deterministically (same bytes on every run) so the demo and the tests need
no network."""

from __future__ import annotations

import io
import json
from pathlib import Path

from sciclip.sample import media
from sciclip.sample.arxiv import write_arxiv_sample
from sciclip.sample.cc import write_cc_sample
from sciclip.sample.commonpool import write_commonpool_sample
from sciclip.sample.evalsets import write_evalsets
from sciclip.sample.pmc import write_pmc_sample
from sciclip.storage.atomic import atomic_write_bytes

SAMPLE_MARKER = "sample.json"


def write_sample(outdir: str | Path) -> list[Path]:
    """Write the sample mirrors below ``outdir`` (arxiv/, pmc/cloud/, pmc/legacy/, cc/, commonpool/, eval/,
    evalsets/) and, last, the marker ``outdir/sample.json`` listing them; returns the files written."""
    written = (write_arxiv_sample(outdir) + write_pmc_sample(Path(outdir)) + write_cc_sample(outdir)
               + write_commonpool_sample(outdir) + _write_eval(Path(outdir)) + write_evalsets(outdir))
    marker = Path(outdir) / SAMPLE_MARKER
    listing = sorted(str(p.relative_to(outdir)) for p in written)
    atomic_write_bytes(marker, (json.dumps({"files": listing}, indent=1) + "\n").encode())
    return written + [marker]


def _write_eval(outdir: Path) -> list[Path]:
    """The bundled evaluation images decontamination compares against (eval/eval_<i>.png)."""
    root = outdir / "eval"
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(media.EVAL_IMAGES):
        buf = io.BytesIO()
        media.eval_image(i).save(buf, "PNG")
        atomic_write_bytes(root / f"eval_{i}.png", buf.getvalue())
        out.append(root / f"eval_{i}.png")
    return out


