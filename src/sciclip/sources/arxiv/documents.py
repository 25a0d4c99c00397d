"""arXiv papers as documents: one document per main file of each paper in the unit's bulk tarballs.

``ArxivSource.documents``: the papers are listed and unpacked exactly as for the pairs (the same members, the
same safe unpacking and limits, the same main files), so a paper's documents and its pairs agree. A document's
``general_metadata`` locates its source as OBELICS' WARC offsets do: the bulk tarball, the member's name, and
``member_offset``/``member_size`` (its data bytes within the tarball: ``tarball[offset:offset+size]`` is
the paper's gzipped source).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from sciclip.docs.model import RawDocument
from sciclip.errors import Skip
from sciclip.sources.arxiv.extract import ArxivSource, load_paper, require_paper_member
from sciclip.sources.arxiv.latex_body import latex_document
from sciclip.sources.arxiv.tex_source import find_main_files
from sciclip.sources.base import WorkItem
from sciclip.sources.job import DocResult, DocStats, run_documents
from sciclip.sources.options import DocOptions
from sciclip.sources.uids import sample_uid


def paper_documents(source: ArxivSource, item: WorkItem, scratch: Path, result: DocResult) -> Iterator[RawDocument]:
    """``ArxivSource.documents``: one raw document per main file of the paper, unpacked as for its pairs."""
    opts = source.docs
    member, data, tarball, yymm, offset = item.payload
    require_paper_member(item)
    tree = load_paper(member, data, scratch, opts.extract, result)  # type: ignore[arg-type]
    if not tree.tex_files():
        raise Skip("no_tex_source")
    mains = find_main_files(tree)
    if not mains:
        raise Skip("no_main_tex")
    meta = {"paper_id": item.id, "yymm": yymm}
    for main in mains:
        t = time.perf_counter()
        try:
            doc = latex_document(tree, main, opts, lambda path: source.provenance_url({**meta, "source_path": path}),
                                 yymm)
        except RecursionError:
            raise Skip("latex_parse_error", "LaTeX nesting too deep") from None
        result.timings["parse"] = result.timings.get("parse", 0.0) + time.perf_counter() - t
        result.candidates_found += doc.figures
        for k, v in doc.counts.items():
            result.skipped_images[k] += v
        general = {"paper_id": item.id, "yymm": yymm, "tarball": tarball, "member": member,
                   "member_offset": offset, "member_size": len(data), "main_tex": str(main),
                   "url": source.provenance_url(meta).split("#")[0]}
        yield RawDocument(sample_uid("docs", "arxiv", item.id, str(main)), "arxiv", doc.blocks, general)


def documents_from_tarballs(tarballs: list, outdir, opts: DocOptions = DocOptions(), workers: int = 1,
                            scratch_root: str | None = None, label: str | None = None) -> DocStats:
    """Documents of every paper of ``tarballs`` (one unit) into ``outdir`` shards plus ``stats.json``."""
    return run_documents(ArxivSource(opts.extract, docs=opts), [Path(t) for t in tarballs], outdir, workers, scratch_root,
                         label)
