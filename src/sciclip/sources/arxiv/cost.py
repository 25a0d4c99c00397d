"""What an arXiv selection will cost before anything is downloaded: tarballs, size and the requester-pays bill.

``s3://arxiv`` is requester pays: whoever downloads pays AWS's data transfer (and a negligible per-request
fee). The estimate is size × price; the default price is AWS's S3 data transfer out to the internet from
us-east-1 (where the bucket is), first 10 TB a month: $0.09 per GB, GB meaning 2^30 bytes as AWS bills it.
Downloading from EC2 in us-east-1 transfers for free (``--price-per-gb 0``); beyond 10 TB a month the price
steps down (0.085, 0.07, 0.05). Check https://aws.amazon.com/s3/pricing/ for today's numbers.
"""

from __future__ import annotations

from collections import Counter

from sciclip.sources.arxiv.ids import year_month
from sciclip.sources.arxiv.manifest import GIB, TarballEntry

TRANSFER_USD_PER_GIB = 0.09  # S3 -> internet, us-east-1, first 10 TB/month
GET_USD_PER_1000 = 0.0004  # S3 standard GET requests (one per tarball; the manifest is one more)


def estimate_usd(entries: list[TarballEntry], price_per_gib: float = TRANSFER_USD_PER_GIB) -> float:
    size = sum(e.size for e in entries)
    return size / GIB * price_per_gib + (len(entries) + 1) * GET_USD_PER_1000 / 1000


def payer(source: str | None, requester_pays: bool = True) -> str:
    """Who pays the transfer: ``requester`` (s3://arxiv), ``owner`` (a bucket or server that is not requester
    pays), ``local`` (a mirror on this machine: nothing is downloaded). No source: arXiv's bucket."""
    if source and ("://" not in source or source.startswith("file://")):
        return "local"
    if source and not (source.startswith("s3://") and requester_pays):
        return "owner"
    return "requester"


def cost_line(entries: list[TarballEntry], price_per_gib: float = TRANSFER_USD_PER_GIB,
              paid_by: str = "requester") -> str:
    """``4 tarballs, 1.93 GiB, about $0.17 to download (requester pays, $0.09/GB)``."""
    size = sum(e.size for e in entries)
    head = f"{len(entries)} tarballs, {size / GIB:.2f} GiB"
    if paid_by == "local":
        return f"{head} in a local mirror: nothing is downloaded, no transfer cost"
    if paid_by == "owner":
        return f"{head} to download; not requester pays: no transfer cost to you"
    return (f"{head}, about ${estimate_usd(entries, price_per_gib):,.2f} to "
            f"download (requester pays, ${price_per_gib:g}/GB)")


def cost_report(entries: list[TarballEntry], price_per_gib: float = TRANSFER_USD_PER_GIB,
                each: bool = False, paid_by: str = "requester") -> str:
    """Per month (or per tarball with ``each``): tarballs and GiB; then the total and the estimate."""
    lines = []
    if each:
        lines.append(f"{'tarball':<24} {'month':>5} {'GiB':>8}")
        lines += [f"{e.name:<24} {e.yymm:>5} {e.size / GIB:8.3f}" for e in sorted(entries, key=TarballEntry.sort_key)]
    else:
        count: Counter = Counter()
        size: Counter = Counter()
        for e in entries:
            count[e.yymm] += 1
            size[e.yymm] += e.size
        lines.append(f"{'month':>5} {'tarballs':>8} {'GiB':>8}")
        lines += [f"{m:>5} {count[m]:>8} {size[m] / GIB:8.3f}" for m in sorted(count, key=year_month)]
    lines.append(cost_line(entries, price_per_gib, paid_by))
    if paid_by != "requester":
        return "\n".join(lines)
    lines.append(f"  price: ${price_per_gib:g} per GB (2^30 bytes) transferred; $0.09 is S3 to the internet from "
                 "us-east-1, first 10 TB a month; on EC2 in us-east-1 the transfer is free (--price-per-gb 0)")
    return "\n".join(lines)
