"""PMC articles in, WebDataset shards and a stats file out (the same writer and image pipeline as arXiv).

Input: a directory holding article-version folders (``PMC<n>.<v>/`` with the JATS XML and media files,
as in the PMC Cloud Service) and/or legacy ``PMC<n>.tar.gz`` packages. Metadata (licence, PMID, DOI)
comes from the ``PMC<n>[.<v>].json`` beside the article when present, else from the XML.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from sciclip.errors import SciclipError, Skip
from sciclip.images.pipeline import convert_image
from sciclip.sources.arxiv.latex_captions import compose_caption
from sciclip.sources.job import ExtractOptions, JobStats, PaperResult, Sample, prepare_outdir, run_job
from sciclip.sources.pmc.jats_figures import JatsFigure, match_media, parse_jats
from sciclip.sources.uids import sample_uid
from sciclip.storage.safe_archive import extract_tar_bytes, gunzip_capped

log = logging.getLogger(__name__)

_FOLDER = re.compile(r"^PMC\d+(\.\d+)?$")
_PACKAGE = re.compile(r"^(PMC\d+)\.(tar\.gz|tgz)$")
RASTER = (".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff", ".bmp", ".webp")


@dataclass(frozen=True)
class JatsOptions:
    fig_types: tuple[str, ...] = ()  # empty: every <fig>; else fig-type values, case-insensitive
    languages: tuple[str, ...] = ("en",)  # captions tagged with another language are dropped; empty: keep all


def list_articles(input_dir: Path) -> list[tuple[str, Path]]:
    """(name, path) of every article folder and legacy package, in PMCID/version order."""
    items = []
    for p in input_dir.iterdir():
        if p.is_dir() and _FOLDER.match(p.name):
            items.append((p.name, p))
        elif p.is_file() and _PACKAGE.match(p.name):
            items.append((_PACKAGE.match(p.name).group(1), p))  # type: ignore[union-attr]

    def key(item: tuple[str, Path]) -> tuple[int, int]:
        num, _, ver = item[0][3:].partition(".")
        return int(num), int(ver or 0)
    return sorted(items, key=key)


def _metadata(path: Path, name: str) -> dict:
    cands = [path / f"{name}.json"] if path.is_dir() else [path.with_name(f"{name}.json")]
    for c in cands:
        if c.is_file():
            try:
                return json.loads(c.read_text())
            except ValueError:
                pass
    return {}


def _load(name: str, path: Path, scratch: Path, opts: ExtractOptions, result: PaperResult) -> tuple[Path, list[Path]]:
    """(XML file, media files) of one article; packages are unpacked safely into ``scratch``."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file())
        root = path
    else:
        raw = gunzip_capped(path.read_bytes(), opts.max_paper_bytes)
        report = extract_tar_bytes(raw, scratch, opts.max_paper_bytes)
        result.refused_members.update(report.refused)
        if report.damaged:
            result.messages.append(f"package damaged, kept {len(report.files)} files: {report.damaged}")
        files = sorted(scratch.joinpath(*f.parts) for f in report.files)
        root = scratch
    xmls = [f for f in files if f.suffix.lower() in (".nxml", ".xml")]
    if not xmls:
        raise Skip("no_xml", f"no JATS file in {path.name}")
    preferred = [f for f in xmls if f.stem == name] or [f for f in xmls if f.suffix.lower() == ".nxml"] or xmls
    media = [f for f in files if f.suffix.lower() in RASTER]
    _ = root
    return preferred[0], media


def _figure_reason(fig: JatsFigure, jopts: JatsOptions) -> str | None:
    if jopts.fig_types and (fig.fig_type or "figure").lower() not in {t.lower() for t in jopts.fig_types}:
        return "fig_type_filtered"
    if jopts.languages and fig.lang and fig.lang.split("-")[0] not in {x.lower() for x in jopts.languages}:
        return "non_english" if "en" in jopts.languages else "language_filtered"
    return None


def process_article(name: str, path: str, opts: ExtractOptions, jopts: JatsOptions, scratch_root: str) -> PaperResult:
    p = Path(path)
    result = PaperResult(name, input_bytes=_size(p))
    scratch = Path(tempfile.mkdtemp(prefix="article-", dir=scratch_root))
    try:
        xml, media = _load(name, p, scratch, opts, result)
        t = time.perf_counter()
        article = parse_jats(xml.read_bytes(), xml.name)
        result.timings["parse"] = time.perf_counter() - t
        meta = _metadata(p, name)
        pmcid = meta.get("pmcid") or article.pmcid or name.split(".")[0]
        info = {"pmcid": pmcid, "version": meta.get("version"), "pmid": _str(meta.get("pmid") or article.pmid),
                "doi": meta.get("doi") or article.doi, "license": meta.get("license_code") or article.license}
        names = [m.name for m in media]
        by_name = {m.name: m for m in media}
        for fig in article.figures:
            reason = _figure_reason(fig, jopts)
            for gi, slot in enumerate(fig.graphics or [[]]):
                result.figures_found += 1
                try:
                    if reason:
                        raise Skip(reason)
                    sample = _make_sample(fig, gi, slot, names, by_name, info, name, opts, scratch, result.timings)
                except Skip as s:
                    result.figure_skips[s.reason] += 1
                    result.messages.append(f"figure {fig.figure_id or fig.label!r} skipped ({s})")
                    continue
                result.samples.append(sample)
    except Skip as s:
        result.paper_skip = s.reason
        result.messages.append(f"article skipped ({s})")
    except Exception as e:  # an input we did not foresee: lose this article, not the batch
        result.paper_skip = "article_error"
        result.samples.clear()
        result.messages.append(f"article skipped ({type(e).__name__}: {e})\n{traceback.format_exc(limit=4)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _str(v) -> str | None:
    return None if v is None else str(v)


def _size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.iterdir() if f.is_file())


def _make_sample(fig: JatsFigure, gi: int, slot: list[str], names: list[str], by_name: dict[str, Path], info: dict,
                 name: str, opts: ExtractOptions, scratch: Path, timings: dict) -> Sample:
    if not slot:
        raise Skip("no_graphic")
    if fig.group_caption_text:
        caption = compose_caption(fig.group_caption_text, fig.caption_text or None, None, opts.subfigure_caption)
    else:
        caption = fig.caption_text
    if not caption:
        raise Skip("empty_caption")
    if len(caption) < opts.min_caption_chars:
        raise Skip("caption_too_short", f"{len(caption)} < {opts.min_caption_chars} characters")
    files = [by_name[m] for m in (match_media(h, names) for h in slot) if m]
    if not files:
        raise Skip("graphic_not_found", ", ".join(slot))
    path = max(files, key=lambda f: (f.stat().st_size, f.name))  # <alternatives>: the largest raster
    data = path.read_bytes()
    image = convert_image(data, opts.image, path=path, scratch=scratch, timings=timings)
    sha = hashlib.sha256(data).hexdigest()
    uid = sample_uid("pmc", str(info["pmcid"]), str(info.get("version")), fig.figure_id, str(gi), path.name, sha,
                     caption)
    meta = {
        "uid": uid, "key": uid, "source": "pmc", "pmcid": info["pmcid"], "version": info.get("version"),
        "article": name, "pmid": info.get("pmid"), "doi": info.get("doi"), "license": info.get("license"),
        "figure_id": fig.figure_id, "label": fig.label, "fig_type": fig.fig_type, "graphic_index": gi,
        "source_path": path.name, "image_format": image.source_format,
        "original_width": image.original_width, "original_height": image.original_height,
        "width": image.width, "height": image.height, "sha256": sha, "caption": caption,
        "caption_xml": fig.caption_xml, "group_caption_xml": fig.group_caption_xml,
    }
    return Sample(uid, image.jpeg, caption, meta)


def _work(args: tuple) -> PaperResult:
    return process_article(*args)


def extract_articles(input_dir: str | os.PathLike, outdir: str | os.PathLike, opts: ExtractOptions = ExtractOptions(),
                     jopts: JatsOptions = JatsOptions(), workers: int = 1, scratch_root: str | None = None,
                     label: str | None = None) -> JobStats:
    """Extract every article below ``input_dir`` into ``outdir/{00000..}.tar`` plus ``outdir/stats.json``."""
    input_dir, outdir = Path(input_dir), Path(outdir)
    if not input_dir.is_dir():
        raise SciclipError(f"{input_dir}: not a directory")
    articles = list_articles(input_dir)
    prepare_outdir(outdir)
    started = time.monotonic()
    stats = JobStats("pmc", label or input_dir.name)
    total = sum(_size(p) for _, p in articles)

    def jobs(scratch: str):
        for name, path in articles:
            yield (name, str(path), opts, jopts, scratch)

    return run_job(stats, jobs, _work, outdir, opts.samples_per_shard, workers, scratch_root, total, started=started)
