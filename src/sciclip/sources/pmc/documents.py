"""PMC articles as documents: one document per article of the unit's folders and packages.

``PmcSource.documents``: articles are listed, unpacked and their metadata read exactly as for the pairs, so an
article's document and its pairs agree on ids, licences and media files. ``general_metadata`` locates the
article: ``package`` (the ``PMC<n>.<v>`` folder or ``PMC<n>.tar.gz`` package) and ``source_file`` (the JATS
file's path inside it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from sciclip.docs.model import RawDocument
from sciclip.sources.base import WorkItem
from sciclip.sources.job import DocResult, DocStats, run_documents
from sciclip.sources.options import DocOptions
from sciclip.sources.pmc.extract import PmcSource
from sciclip.sources.pmc.extract import _load as load_article  # the pairs' own unpacking and file choice
from sciclip.sources.pmc.extract import _metadata as article_metadata
from sciclip.sources.pmc.jats_body import jats_document
from sciclip.sources.pmc.jats_figures import parse_jats
from sciclip.sources.uids import sample_uid


def article_documents(source: PmcSource, item: WorkItem, scratch: Path, result: DocResult) -> Iterator[RawDocument]:
    """``PmcSource.documents``: the article's one raw document, unpacked and described as for its pairs."""
    opts = source.docs
    name, path = item.id, Path(item.payload)
    xml, media = load_article(name, path, scratch, opts.extract, result)  # type: ignore[arg-type]
    data = xml.read_bytes()
    t = time.perf_counter()
    article = parse_jats(data, xml.name)
    meta = article_metadata(path, name)
    pmcid = meta.get("pmcid") or article.pmcid or name.split(".")[0]
    doc = jats_document(data, xml.name, opts, {m.name: m for m in media},
                        lambda fig_id: source.provenance_url({"pmcid": pmcid, "figure_id": fig_id}))
    result.timings["parse"] = result.timings.get("parse", 0.0) + time.perf_counter() - t
    result.candidates_found += doc.figures
    # where the article lies: its folder or legacy package under the unit's input, and the JATS file in it
    # (packages are gzipped tars of one article: a member path, no byte offsets worth having)
    source_file = xml.relative_to(path if path.is_dir() else scratch).as_posix()
    general = {"pmcid": pmcid, "version": meta.get("version"), "article": name, "package": path.name,
               "source_file": source_file,
               "pmid": str(meta.get("pmid") or article.pmid or "") or None, "doi": meta.get("doi") or article.doi,
               "license": meta.get("license_code") or article.license, "title": doc.title,
               "url": f"https://pmc.ncbi.nlm.nih.gov/articles/{pmcid}/"}
    yield RawDocument(sample_uid("docs", "pmc", str(pmcid), name), "pmc", doc.blocks, general)


def documents_from_articles(input_dirs: list, outdir, opts: DocOptions = DocOptions(), workers: int = 1,
                            scratch_root: str | None = None, label: str | None = None) -> DocStats:
    """Documents of every article below ``input_dirs`` into ``outdir`` shards plus ``stats.json``."""
    dirs = [Path(d) for d in input_dirs]
    return run_documents(PmcSource(opts.extract, docs=opts), dirs, outdir, workers, scratch_root,
                         label or "+".join(d.name for d in dirs))
