"""arXiv identifiers: old style (``hep-th9901001``, ``hep-th/9901001``) and new style (``2001.00001``).

Both carry the month of submission; ordering ids across styles needs the four-digit year, which old
ids only give as two digits (arXiv started in 1991).
"""

from __future__ import annotations

import re

NEW_ID = re.compile(r"^(?P<yymm>\d{4})\.(?P<num>\d{4,5})(?:v\d+)?$")
OLD_ID = re.compile(r"^(?P<archive>[a-z][a-z\-]*(?:\.[A-Z]{2})?)/?(?P<yymm>\d{4})(?P<num>\d{3})(?:v\d+)?$")
YYMM = re.compile(r"^\d{4}$")


def yymm_of(paper_id: str) -> str | None:
    m = NEW_ID.match(paper_id) or OLD_ID.match(paper_id)
    return m.group("yymm") if m else None


def year_month(yymm: str) -> int:
    """``9901`` -> 199901, ``2001`` -> 202001."""
    yy, mm = int(yymm[:2]), int(yymm[2:])
    return (1900 + yy if yy >= 91 else 2000 + yy) * 100 + mm


def id_sort_key(paper_id: str) -> tuple[int, str, int]:
    """Total order over both id styles: month first, then archive (new style has none), then number."""
    m = NEW_ID.match(paper_id)
    if m:
        return year_month(m.group("yymm")), "", int(m.group("num"))
    m = OLD_ID.match(paper_id)
    if m:
        return year_month(m.group("yymm")), m.group("archive"), int(m.group("num"))
    raise ValueError(f"not an arXiv identifier: {paper_id!r}")


def bound_key(value: str) -> tuple[int, str, int]:
    """A selection bound: a month (``2001``) or an id. A month compares as its whole month."""
    if YYMM.match(value):
        return year_month(value), "", -1
    return id_sort_key(value)


ARCHIVE_SUFFIXES = (".gz", ".tgz", ".tar", ".pdf", ".tex", ".bz2", ".xz", ".zip")


def strip_archive_suffixes(name: str) -> str:
    """``2401.00002.tar.gz`` -> ``2401.00002``: every archive or format suffix, however many are stacked (an
    arXiv id's own dot is not one of them)."""
    while True:
        suffix = next((s for s in ARCHIVE_SUFFIXES if name.lower().endswith(s) and len(name) > len(s)), None)
        if suffix is None:
            return name
        name = name[: -len(suffix)]


def is_arxiv_id(text: str) -> bool:
    return bool(NEW_ID.match(text) or OLD_ID.match(text))


def paper_id_from_member(member: str) -> tuple[str, str]:
    """(paper id, yymm) from a bulk tarball member such as ``2001/2001.00001.gz`` or
    ``0001/astro-ph0001001.gz``."""
    base = strip_archive_suffixes(member.rsplit("/", 1)[-1])
    yymm = yymm_of(base)
    if yymm is None:
        folder = member.rsplit("/", 1)[0] if "/" in member else ""
        yymm = folder if YYMM.match(folder) else ""
    return base, yymm
