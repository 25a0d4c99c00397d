"""The PMC source: one work item per article, figures and captions from its JATS XML.

Input: a directory holding article-version folders (``PMC<n>.<v>/`` with the JATS XML and media files,
as in the PMC Cloud Service) and/or legacy ``PMC<n>.tar.gz`` packages. Metadata (licence, PMID, DOI)
comes from the ``PMC<n>[.<v>].json`` beside the article when present, else from the XML.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sciclip.errors import SciclipError, Skip
from sciclip.sources.base import Candidate, Source, WorkItem
from sciclip.sources.job import ItemResult, JobStats, extract_unit
from sciclip.sources.options import DocOptions, ExtractOptions
from sciclip.sources.pmc.jats_figures import JatsFigure, match_media, parse_jats
from sciclip.sources.registry import register
from sciclip.storage.safe_archive import extract_tar_bytes, gunzip_capped
from sciclip.text.captions import compose_caption

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


def _load(name: str, path: Path, scratch: Path, opts: ExtractOptions, result: ItemResult) -> tuple[Path, list[Path]]:
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


def _str(v) -> str | None:
    return None if v is None else str(v)


def _size(p: Path) -> int:
    if p.is_file():
        return p.stat().st_size
    return sum(f.stat().st_size for f in p.iterdir() if f.is_file())


@register
class PmcSource(Source):
    """PubMed Central: an item is one article (a folder or a legacy package), figures come from its JATS."""

    name = "pmc"
    noun = "articles"
    unit_noun = "batch"
    item_error = "article_error"
    columns = {"pmcid": "string", "pmid": "string", "doi": "string", "license": "string"}

    def __init__(self, opts: ExtractOptions = ExtractOptions(), jats: JatsOptions = JatsOptions(),
                 docs: DocOptions | None = None) -> None:
        super().__init__(opts, docs)
        self.jats = jats

    def check(self, inputs: list[Path]) -> None:
        """A folder with no article in it is a wrong path, not a batch of zero articles."""
        for d in inputs:
            if not d.exists():
                raise SciclipError(f"{d}: no such directory")
            if not d.is_dir():
                raise SciclipError(f"{d}: not a directory (give the folder holding PMC<n>.<v>/ or PMC<n>.tar.gz)")
            if not list_articles(d):
                raise SciclipError(f"{d}: no article folders (PMC<n>.<v>/) or packages (PMC<n>.tar.gz) in it")

    def input_size(self, inputs: list[Path]) -> int:
        return sum(_size(p) for d in inputs for _, p in list_articles(d))

    def items(self, inputs: list[Path], job, scratch: Path) -> Iterator[WorkItem]:
        for d in inputs:
            for name, path in list_articles(d):
                yield WorkItem(name, str(path), _size(path))

    def documents(self, item: WorkItem, scratch: Path, result) -> Iterator:
        from sciclip.sources.pmc.documents import article_documents  # it imports this module

        return article_documents(self, item, scratch, result)

    def candidates(self, item: WorkItem, scratch: Path, result: ItemResult) -> Iterator[Candidate | Skip]:
        name, p = item.id, Path(item.payload)
        xml, media = _load(name, p, scratch, self.opts, result)
        t = time.perf_counter()
        article = parse_jats(xml.read_bytes(), xml.name)
        result.timings["parse"] = time.perf_counter() - t
        meta = _metadata(p, name)
        info = {"pmcid": meta.get("pmcid") or article.pmcid or name.split(".")[0], "version": meta.get("version"),
                "pmid": _str(meta.get("pmid") or article.pmid), "doi": meta.get("doi") or article.doi,
                "license": meta.get("license_code") or article.license}
        names = [m.name for m in media]
        by_name = {m.name: m for m in media}
        for fig in article.figures:
            reason = _figure_reason(fig, self.jats)
            for gi, slot in enumerate(fig.graphics or [[]]):
                try:
                    if reason:
                        raise Skip(reason)
                    yield self._candidate(fig, gi, slot, names, by_name, info, name)
                except Skip as s:
                    yield Skip(s.reason, f"figure {fig.figure_id or fig.label!r}")

    def _candidate(self, fig: JatsFigure, gi: int, slot: list[str], names: list[str], by_name: dict[str, Path],
                   info: dict, name: str) -> Candidate:
        if not slot:
            raise Skip("no_graphic")
        # the label ("Figure 1") is metadata; the caption text follows the shared convention (sources.samples)
        if fig.group_caption_body:
            # a panel's own label ("(A)") leads, as an arXiv subfigure's does
            caption = compose_caption(fig.group_caption_body, fig.caption_body or None, fig.label or None,
                                      self.opts.subfigure_caption)
        else:
            caption = fig.caption_body
        if not caption:
            raise Skip("empty_caption")
        files = [by_name[m] for m in (match_media(h, names) for h in slot) if m]
        # <alternatives>: the largest raster wins
        path = max(files, key=lambda f: (f.stat().st_size, f.name)) if files else None
        meta = {
            "pmcid": info["pmcid"], "version": info.get("version"), "article": name, "pmid": info.get("pmid"),
            "doi": info.get("doi"), "license": info.get("license"), "figure_id": fig.figure_id, "label": fig.label,
            "fig_type": fig.fig_type, "graphic_index": gi, "caption_xml": fig.caption_xml,
            "group_caption_xml": fig.group_caption_xml,
        }
        return Candidate(caption=caption, image_path=path, source_path=path.name if path else "",
                         image_ref=", ".join(slot), meta=meta, label=fig.label,
                         uid_parts=(str(info["pmcid"]), str(info.get("version")), fig.figure_id, str(gi)))

    def provenance_url(self, meta: dict) -> str:
        return f"https://pmc.ncbi.nlm.nih.gov/articles/{meta.get('pmcid', '')}/#{meta.get('figure_id', '')}"


def extract_articles(input_dir: str | os.PathLike, outdir: str | os.PathLike, opts: ExtractOptions = ExtractOptions(),
                     jopts: JatsOptions = JatsOptions(), workers: int = 1, scratch_root: str | None = None,
                     label: str | None = None) -> JobStats:
    """Extract every article below ``input_dir`` into ``outdir/{00000..}.tar`` plus ``outdir/stats.json``."""
    input_dir = Path(input_dir)
    return extract_unit(PmcSource(opts, jopts), [input_dir], outdir, workers, scratch_root,
                        label=label or input_dir.name)
