"""Which PMC articles a run takes, and in which batch: one index file written by one rule.

Cloud layout (``s3://pmc-oa-opendata`` or a mirror of it): article versions are enumerated from the daily
S3 inventory of ``metadata/`` (or by listing that prefix), the latest version of each PMCID is kept, the
PMCID range is applied, and metadata JSONs are read in PMCID order until ``max_count`` articles pass the
filters (open access, not retracted, licence). Legacy layout: ``oa_file_list.csv`` gives the same facts
per package. Batches of ``batch_size`` follow the PMCID order, so the index is stable for a given input.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from sciclip.errors import SciclipError
from sciclip.storage.atomic import atomic_write_bytes
from sciclip.storage.remote import SourceSpec, list_s3, local_root, read_bytes

log = logging.getLogger(__name__)

COMMERCIAL = ("CC0", "CC BY", "CC BY-SA", "CC BY-ND")
NONCOMMERCIAL = COMMERCIAL + ("CC BY-NC", "CC BY-NC-SA", "CC BY-NC-ND")
LICENSE_GROUPS = {"commercial": COMMERCIAL, "noncommercial": NONCOMMERCIAL}
INVENTORY_PREFIX = "inventory-reports/pmc-oa-opendata/metadata/"
FILE_LIST = "oa_file_list.csv"

_VERSION_KEY = re.compile(r"(?:^|/)(PMC(\d+))\.(\d+)\.json$")


@dataclass
class ArticleRecord:
    pmcid: str
    version: int  # 0: legacy package (no versions)
    layout: str  # cloud | legacy
    license: str | None = None
    pmid: str | None = None
    doi: str | None = None
    xml_key: str | None = None
    xml_md5: str | None = None
    media: list[list[str]] = field(default_factory=list)  # [key, md5]
    package: str | None = None  # legacy: oa_package/xx/yy/PMCn.tar.gz
    batch: int = 0

    @property
    def name(self) -> str:
        return f"{self.pmcid}.{self.version}" if self.version else self.pmcid

    @property
    def number(self) -> int:
        return int(self.pmcid[3:])


def licence_set(spec: str | list[str]) -> set[str]:
    """``commercial`` (CC0, CC BY, CC BY-SA, CC BY-ND), ``noncommercial`` (those plus the -NC codes), or an
    explicit list of codes."""
    if isinstance(spec, str):
        if spec not in LICENSE_GROUPS:
            raise SciclipError(f"licence {spec!r}: use commercial, noncommercial or a list of codes")
        return set(LICENSE_GROUPS[spec])
    return {s.strip() for s in spec}


def pmcid_number(value: str | int | None) -> int | None:
    if value is None or value == "":
        return None
    m = re.fullmatch(r"(?:PMC)?(\d+)", str(value).strip(), re.I)
    if not m:
        raise SciclipError(f"{value!r} is not a PMCID")
    return int(m.group(1))


def split_s3_url(url: str) -> tuple[str, str | None]:
    """``s3://bucket/key?md5=hex`` -> (key, md5)."""
    p = urlparse(url)
    md5 = None
    for part in p.query.split("&"):
        if part.startswith("md5="):
            md5 = part[4:]
    return unquote(p.path.lstrip("/")), md5


def cloud_record(meta: dict) -> ArticleRecord:
    pmcid = str(meta["pmcid"])
    xml_key, xml_md5 = split_s3_url(meta["xml_url"]) if meta.get("xml_url") else (None, None)
    media = [list(split_s3_url(u)) for u in meta.get("media_urls") or []]
    return ArticleRecord(pmcid=pmcid, version=int(meta["version"]), layout="cloud", license=meta.get("license_code"),
                         pmid=str(meta["pmid"]) if meta.get("pmid") is not None else None, doi=meta.get("doi"),
                         xml_key=xml_key, xml_md5=xml_md5, media=media)  # type: ignore[arg-type]


def passes(meta: dict, licences: set[str]) -> str | None:
    """None when the article is usable, else the reason it is not."""
    if not meta.get("is_pmc_openaccess"):
        return "not_open_access"
    if meta.get("is_retracted"):
        return "retracted"
    if meta.get("license_code") not in licences:
        return "licence"
    return None


def _inventory_keys(spec: SourceSpec, retries: int = 4, backoff_s: float = 2.0) -> list[str] | None:
    """Keys listed by the newest complete S3 inventory, or None when there is none."""
    if spec.scheme == "s3":
        dates = sorted(p[len(INVENTORY_PREFIX):].strip("/")
                       for p in list_s3(spec, INVENTORY_PREFIX, "/", retries, backoff_s))
    elif spec.scheme in ("local", "file"):
        d = local_root(spec) / INVENTORY_PREFIX
        dates = sorted(p.name for p in d.iterdir() if p.is_dir()) if d.is_dir() else []
    else:
        return None
    for date in reversed(dates):
        try:
            manifest = json.loads(read_bytes(spec, f"{INVENTORY_PREFIX}{date}/manifest.json", retries=min(2, retries),
                                             backoff_s=backoff_s))
        except SciclipError:
            continue  # an inventory still being written has no manifest yet
        keys = []
        for f in manifest.get("files", []):
            raw = gzip.decompress(read_bytes(spec, f["key"], retries, backoff_s))
            for row in csv.reader(io.StringIO(raw.decode("utf-8"))):
                if len(row) >= 2:
                    keys.append(unquote(row[1]))
        log.info("inventory %s: %d keys", date, len(keys))
        return keys
    return None


def _listed_keys(spec: SourceSpec, retries: int = 4, backoff_s: float = 2.0) -> list[str]:
    if spec.scheme == "s3":
        return list_s3(spec, "metadata/", None, retries, backoff_s)
    if spec.scheme in ("local", "file"):
        d = local_root(spec) / "metadata"
        if not d.is_dir():
            raise SciclipError(f"{d}: no metadata/ folder (is this a PMC Cloud Service mirror?)")
        return sorted(f"metadata/{p.name}" for p in d.iterdir() if p.name.endswith(".json"))
    raise SciclipError(f"{spec.uri}: the cloud layout can be listed on s3:// or a local mirror; use the inventory")


def latest_versions(keys: list[str]) -> dict[int, tuple[int, str]]:
    """PMCID number -> (latest version, metadata key)."""
    latest: dict[int, tuple[int, str]] = {}
    for key in keys:
        m = _VERSION_KEY.search(key)
        if not m or not key.startswith("metadata/"):
            continue
        num, version = int(m.group(2)), int(m.group(3))
        if num not in latest or version > latest[num][0]:
            latest[num] = (version, key)
    return latest


def cloud_index(spec: SourceSpec, licences: set[str], start: int | None, end: int | None,
                max_count: int | None, method: str = "inventory", threads: int = 16, retries: int = 4,
                backoff_s: float = 2.0) -> tuple[list[ArticleRecord], dict]:
    keys = _inventory_keys(spec, retries, backoff_s) if method == "inventory" else None
    if keys is None:
        if method == "inventory":
            log.warning("%s: no inventory found; listing metadata/ instead", spec.uri)
        keys = _listed_keys(spec, retries, backoff_s)
    latest = latest_versions(keys)
    numbers = sorted(n for n in latest if (start is None or n >= start) and (end is None or n <= end))
    reasons: dict[str, int] = {}
    chosen: list[ArticleRecord] = []

    def load(num: int) -> dict:
        return json.loads(read_bytes(spec, latest[num][1], retries, backoff_s))

    with ThreadPoolExecutor(max_workers=threads) as pool:
        chunk = max(threads * 4, 64)
        for i in range(0, len(numbers), chunk):
            for meta in pool.map(load, numbers[i:i + chunk]):  # map keeps PMCID order
                why = passes(meta, licences)
                if why:
                    reasons[why] = reasons.get(why, 0) + 1
                    continue
                chosen.append(cloud_record(meta))
                if max_count is not None and len(chosen) >= max_count:
                    break
            if max_count is not None and len(chosen) >= max_count:
                break
    return chosen, {"candidates": len(numbers), "excluded": reasons}


_LEGACY_LICENCE = {"CC0": "CC0", "CC BY": "CC BY", "CC BY-SA": "CC BY-SA", "CC BY-ND": "CC BY-ND",
                   "CC BY-NC": "CC BY-NC", "CC BY-NC-SA": "CC BY-NC-SA", "CC BY-NC-ND": "CC BY-NC-ND"}


def legacy_index(spec: SourceSpec, licences: set[str], start: int | None, end: int | None,
                 max_count: int | None, retries: int = 4, backoff_s: float = 2.0) -> tuple[list[ArticleRecord], dict]:
    text = read_bytes(spec, FILE_LIST, retries, backoff_s).decode("utf-8-sig")
    reasons: dict[str, int] = {}
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        pmcid = (row.get("Accession ID") or "").strip()
        num = pmcid_number(pmcid) if pmcid else None
        if num is None or (start is not None and num < start) or (end is not None and num > end):
            continue
        rows.append((num, row))
    rows.sort(key=lambda r: r[0])
    chosen = []
    for num, row in rows:
        code = _LEGACY_LICENCE.get((row.get("License") or "").strip())
        if code not in licences:
            reasons["licence"] = reasons.get("licence", 0) + 1
            continue
        pmid = (row.get("PMID") or "").strip().removeprefix("PMID:") or None
        chosen.append(ArticleRecord(pmcid=f"PMC{num}", version=0, layout="legacy", license=code, pmid=pmid,
                                    package=row["File"].strip()))
        if max_count is not None and len(chosen) >= max_count:
            break
    return chosen, {"candidates": len(rows), "excluded": reasons}


def build_index(spec: SourceSpec, layout: str, licence: str | list[str] = "commercial", start=None, end=None,
                max_count: int | None = None, batch_size: int = 1000, method: str = "inventory",
                threads: int = 16, retries: int = 4, backoff_s: float = 2.0) -> tuple[list[ArticleRecord], dict]:
    if batch_size < 1:
        raise SciclipError("batch_size must be at least 1")
    lic = licence_set(licence)
    lo, hi = pmcid_number(start), pmcid_number(end)
    if layout == "cloud":
        records, report = cloud_index(spec, lic, lo, hi, max_count, method, threads, retries, backoff_s)
    elif layout == "legacy":
        records, report = legacy_index(spec, lic, lo, hi, max_count, retries, backoff_s)
    else:
        raise SciclipError(f"layout {layout!r}: use cloud or legacy")
    records.sort(key=lambda r: r.number)
    for i, r in enumerate(records):
        r.batch = i // batch_size
    report["selected"] = len(records)
    report["batches"] = (len(records) + batch_size - 1) // batch_size
    return records, report


COLUMNS = ["batch", "pmcid", "version", "layout", "license", "pmid", "doi", "xml_key", "xml_md5", "package", "media"]


def batch_name(batch: int) -> str:
    return f"b{batch:05d}"


def write_index(records: list[ArticleRecord], path: str | os.PathLike) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(COLUMNS)
    for r in records:
        d = asdict(r)
        d["batch"] = batch_name(r.batch)
        d["media"] = json.dumps(r.media, separators=(",", ":"))
        w.writerow(["" if d[c] is None else d[c] for c in COLUMNS])
    atomic_write_bytes(path, buf.getvalue().encode())


def read_index(path: str | os.PathLike, batch: str | None = None) -> list[ArticleRecord]:
    from sciclip.storage.tables import parse_rows, read_tsv

    what = "an article index (sciclip pmc list --out)"
    rows = [r for r in read_tsv(path, COLUMNS, what) if batch is None or r["batch"] == batch]
    return parse_rows(path, rows, lambda row: ArticleRecord(
        pmcid=row["pmcid"], version=int(row["version"]), layout=row["layout"], license=row["license"] or None,
        pmid=row["pmid"] or None, doi=row["doi"] or None, xml_key=row["xml_key"] or None,
        xml_md5=row["xml_md5"] or None, media=json.loads(row["media"] or "[]"), package=row["package"] or None,
        batch=int(row["batch"][1:])), what)


def write_batches(records: list[ArticleRecord], path: str | os.PathLike) -> None:
    """The batch list (batch, articles): what the workflow needs to build its DAG, without the big index."""
    counts: dict[int, int] = {}
    for r in records:
        counts[r.batch] = counts.get(r.batch, 0) + 1
    text = "batch\tarticles\n" + "".join(f"{batch_name(b)}\t{n}\n" for b, n in sorted(counts.items()))
    atomic_write_bytes(path, text.encode())


def batch_names(path: str | os.PathLike) -> list[str]:
    from sciclip.storage.tables import read_tsv

    return sorted({row["batch"] for row in read_tsv(path, ["batch"], "a batch list")})


def record_metadata(r: ArticleRecord) -> dict:
    """The record in the PMC metadata JSON vocabulary, stored beside downloads for extraction."""
    return {"pmcid": r.pmcid, "version": r.version, "pmid": r.pmid, "doi": r.doi, "license_code": r.license,
            "layout": r.layout}


def write_metadata(r: ArticleRecord, path: Path) -> None:
    atomic_write_bytes(path, (json.dumps(record_metadata(r), sort_keys=True) + "\n").encode())
