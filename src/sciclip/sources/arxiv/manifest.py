"""The bucket manifest (``src/arXiv_src_manifest.xml``) and which tarballs a run takes from it.

Selection is inclusive at both ends and compares ids by month, archive and number, so old- and
new-style ids order correctly (the seed's range matching was off by one). A size budget then keeps a
prefix of the selection: downloads from the requester-pays bucket cost money.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

from sciclip.errors import SciclipError
from sciclip.sources.arxiv.ids import YYMM, bound_key, id_sort_key, year_month

GIB = 1 << 30


@dataclass(frozen=True)
class TarballEntry:
    filename: str  # key in the bucket, e.g. src/arXiv_src_2001_001.tar
    size: int
    md5sum: str
    first_item: str
    last_item: str
    num_items: int
    seq_num: int
    yymm: str
    timestamp: str = ""

    @property
    def name(self) -> str:
        return self.filename.rsplit("/", 1)[-1].removesuffix(".tar")

    def sort_key(self) -> tuple[int, int]:
        return year_month(self.yymm), self.seq_num


def manifest_xml(entries: list[dict]) -> bytes:
    """The bucket's ``arXiv_src_manifest.xml`` format: one <file> per tarball (what ``parse_manifest`` reads)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<arXivSRC>"]
    for e in entries:
        lines.append("  <file>")
        for key in ("content_md5sum", "filename", "first_item", "last_item", "md5sum", "num_items",
                    "seq_num", "size", "timestamp", "yymm"):
            lines.append(f"    <{key}>{escape(str(e[key]))}</{key}>")
        lines.append("  </file>")
    lines.append("</arXivSRC>")
    return ("\n".join(lines) + "\n").encode()


def safe_xml_parser() -> etree.XMLParser:
    """No entity expansion, no DTD loading, no network, no huge trees: manifests and articles are
    untrusted input."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True)


def parse_manifest(data: bytes, origin: str = "manifest") -> list[TarballEntry]:
    try:
        root = etree.fromstring(data, parser=safe_xml_parser())
    except etree.XMLSyntaxError as e:
        raise SciclipError(f"{origin}: not a valid manifest XML ({e})") from None
    entries = []
    for i, el in enumerate(root.iter("file"), start=1):
        def text(tag: str, required: bool = True) -> str:
            child = el.find(tag)
            if child is None or child.text is None:
                if required:
                    raise SciclipError(f"{origin}: <file> #{i} has no <{tag}>")
                return ""
            return child.text.strip()
        try:
            entries.append(TarballEntry(
                filename=text("filename"), size=int(text("size")), md5sum=text("md5sum").lower(),
                first_item=text("first_item"), last_item=text("last_item"), num_items=int(text("num_items")),
                seq_num=int(text("seq_num")), yymm=text("yymm"), timestamp=text("timestamp", False)))
        except ValueError as e:
            raise SciclipError(f"{origin}: <file> #{i} has a malformed number ({e})") from None
    if not entries:
        raise SciclipError(f"{origin}: no <file> entries")
    return entries


def _item_key(item: str) -> tuple[int, str, int]:
    try:
        return id_sort_key(item)
    except ValueError:
        raise SciclipError(f"manifest item {item!r} is not an arXiv identifier") from None


def _upper_key(value: str) -> tuple[int, str, float]:
    if YYMM.match(value):
        return year_month(value), "\uffff", float("inf")
    return bound_key(value)  # type: ignore[return-value]


def select_tarballs(entries: list[TarballEntry], max_size_gb: float | None = 100, start: str | None = None,
                    end: str | None = None, tarballs: list[str] | None = None) -> list[TarballEntry]:
    """Tarballs to process, in (month, sequence) order.

    ``tarballs`` names them explicitly; otherwise every tarball whose item range meets [start, end]
    (each a month ``YYMM`` or an arXiv id, inclusive). Then the longest prefix within ``max_size_gb``
    GiB (None: no budget).
    """
    for bound in (start, end):
        if bound is not None:
            try:
                bound_key(str(bound))
            except ValueError:
                raise SciclipError(f"selection bound {bound!r} is neither a month (YYMM) nor an arXiv id") from None
    if not tarballs and start is not None and end is not None and bound_key(str(start)) > _upper_key(str(end)):
        raise SciclipError(f"selection bounds: start {start!r} comes after end {end!r}")
    ordered = sorted(entries, key=TarballEntry.sort_key)
    if tarballs:
        wanted = {t.rsplit("/", 1)[-1].removesuffix(".tar") for t in tarballs}
        known = {e.name for e in ordered}
        missing = sorted(wanted - known)
        if missing:
            raise SciclipError(f"tarballs not in the manifest: {', '.join(missing)}")
        chosen = [e for e in ordered if e.name in wanted]
    else:
        lo = bound_key(str(start)) if start is not None else None
        hi = _upper_key(str(end)) if end is not None else None
        chosen = []
        for e in ordered:
            first, last = _item_key(e.first_item), _item_key(e.last_item)
            if lo is not None and last < lo:
                continue
            if hi is not None and first > hi:
                continue
            chosen.append(e)
    if max_size_gb is None:
        return chosen
    budget = max_size_gb * GIB
    total = 0
    kept = []
    for e in chosen:
        if total + e.size > budget:
            break
        total += e.size
        kept.append(e)
    return kept


_COLUMNS = [f.name for f in fields(TarballEntry)]


def write_selection(entries: list[TarballEntry], path: str | Path) -> None:
    from sciclip.storage.atomic import atomic_write_bytes

    buf = io.StringIO()
    w = csv.writer(buf, delimiter="\t", lineterminator="\n")
    w.writerow(["name"] + _COLUMNS)
    for e in entries:
        d = asdict(e)
        w.writerow([e.name] + [d[c] for c in _COLUMNS])
    atomic_write_bytes(path, buf.getvalue().encode())


def read_selection(path: str | Path) -> list[TarballEntry]:
    from sciclip.storage.tables import parse_rows, read_tsv

    what = "a selection TSV (sciclip arxiv select --out)"
    rows = read_tsv(path, [c for c in _COLUMNS if c != "timestamp"], what)
    return parse_rows(path, rows, lambda r: TarballEntry(
        filename=r["filename"], size=int(r["size"]), md5sum=r["md5sum"], first_item=r["first_item"],
        last_item=r["last_item"], num_items=int(r["num_items"]), seq_num=int(r["seq_num"]), yymm=r["yymm"],
        timestamp=r.get("timestamp") or ""), what)
