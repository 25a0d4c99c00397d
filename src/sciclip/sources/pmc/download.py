"""Downloading one batch of PMC articles into article folders that ``sciclip pmc extract`` reads.

Cloud layout: the article's JATS XML first (md5-verified), then only the media files its figures'
graphics point to. Legacy layout: the whole ``.tar.gz`` package. Every file lands atomically, so a rerun
after an interruption skips what is already there (resumable). An article that cannot be fetched is
logged and counted; the batch fails only when none could be fetched at all.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sciclip.errors import SciclipError, Skip
from sciclip.progress import progress
from sciclip.sources.pmc.index import ArticleRecord, write_metadata
from sciclip.sources.pmc.jats_figures import match_media, parse_jats
from sciclip.storage.atomic import atomic_write_bytes
from sciclip.storage.remote import SourceSpec, fetch

log = logging.getLogger(__name__)

REPORT_NAME = "download_report.json"
RASTER_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff", ".bmp", ".webp")


@dataclass
class DownloadReport:
    articles: int = 0
    fetched_files: int = 0
    reused_files: int = 0
    failed_articles: list[str] = field(default_factory=list)
    missing_media: int = 0


def needed_media(xml: bytes, media_keys: list[str]) -> list[str]:
    """The media keys the article's figures refer to (every raster alternative, so the largest can win)."""
    names = [k.rsplit("/", 1)[-1] for k in media_keys]
    by_name = dict(zip(names, media_keys))
    try:
        article = parse_jats(xml)
    except Skip:
        return []  # extraction will count the malformed article
    wanted = []
    for fig in article.figures:
        for slot in fig.graphics:
            for href in slot:
                hit = match_media(href, names)
                if hit and by_name[hit] not in wanted and hit.lower().endswith(RASTER_SUFFIXES):
                    wanted.append(by_name[hit])
    return wanted


def _get(spec: SourceSpec, key: str, dest: Path, md5: str | None, retries: int, backoff: float,
         report: DownloadReport) -> None:
    if dest.is_file():
        report.reused_files += 1
        return
    fetch(spec, key, dest, md5=md5, retries=retries, backoff_s=backoff)
    report.fetched_files += 1


def download_article(spec: SourceSpec, r: ArticleRecord, outdir: Path, retries: int, backoff: float,
                     report: DownloadReport) -> None:
    if r.layout == "legacy":
        assert r.package
        _get(spec, r.package, outdir / f"{r.pmcid}.tar.gz", None, retries, backoff, report)
        write_metadata(r, outdir / f"{r.pmcid}.json")
        return
    if not r.xml_key:
        raise SciclipError(f"{r.name}: no XML in the metadata")
    folder = outdir / r.name
    folder.mkdir(parents=True, exist_ok=True)
    xml_path = folder / r.xml_key.rsplit("/", 1)[-1]
    _get(spec, r.xml_key, xml_path, r.xml_md5, retries, backoff, report)
    md5s = {k: m for k, m in r.media}
    for key in needed_media(xml_path.read_bytes(), [k for k, _ in r.media]):
        try:
            _get(spec, key, folder / key.rsplit("/", 1)[-1], md5s.get(key), retries, backoff, report)
        except SciclipError as e:
            report.missing_media += 1
            log.warning("%s: media %s not fetched: %s", r.name, key, e)
    write_metadata(r, folder / f"{r.name}.json")


def download_batch(spec: SourceSpec, records: list[ArticleRecord], outdir: str | Path, retries: int = 4,
                   backoff: float = 2.0, threads: int = 8) -> DownloadReport:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    report = DownloadReport(articles=len(records))

    def one(r: ArticleRecord) -> None:
        try:
            download_article(spec, r, outdir, retries, backoff, report)
        except SciclipError as e:
            report.failed_articles.append(r.name)
            log.error("%s: not downloaded: %s", r.name, e)

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool, \
            progress(total=len(records), desc=f"download {outdir.name}", unit="article") as bar:
        for _ in pool.map(one, records):
            bar.update(1)
    report.failed_articles.sort()
    atomic_write_bytes(outdir / REPORT_NAME, (json.dumps(report.__dict__, indent=2) + "\n").encode())
    if records and len(report.failed_articles) == len(records):
        raise SciclipError(f"{outdir}: none of the {len(records)} articles could be downloaded "
                           f"(first: {report.failed_articles[0]})")
    return report
