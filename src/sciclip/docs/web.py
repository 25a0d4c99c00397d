"""Web pages as documents: one document per HTML response of the unit's WARC files, OBELICS' way.

Per page: decode, simplify the DOM and extract texts and images in reading order (``html_nodes``), drop
paragraphs that fail the paragraph filters and images whose rendered size fails, fetch the images (captured
in the WARC first, then the network when enabled), convert them through the shared pipeline with OBELICS'
image filters, then judge the whole document (image count, words, ratios, language, perplexity). Every
removal is counted by reason. Dedup across documents is a second step over all units (``docs.dedup``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sciclip.docs.assemble import ImageCheck
from sciclip.docs.fetch import FetchOptions, ImageFetcher, make_fetcher, write_capture_index
from sciclip.docs.html_nodes import PageImage, PageText, page_nodes
from sciclip.docs.job import DocResult, DocSource, DocStats, run_documents
from sciclip.docs.model import Block, DocRecord, ImageBlock, RawDocument, TextBlock
from sciclip.docs.options import DocOptions
from sciclip.docs.warc_pages import captured_images, decode_html, iter_pages
from sciclip.docs.web_filters import WebFilters, image_reason, side_reason, text_reason
from sciclip.docs.web_models import LanguageId, Perplexity
from sciclip.images.pipeline import ConvertedImage
from sciclip.sources.base import WorkItem
from sciclip.sources.uids import sample_uid


@dataclass(frozen=True)
class WebOptions:
    filters: WebFilters = WebFilters()
    fetch: FetchOptions = FetchOptions()


@dataclass
class _Page:
    warc: str
    index: str
    url: str
    body: bytes
    charset: str | None
    warc_name: str
    offset: int
    length: int
    date: str


class WebDocuments(DocSource):
    name = "web"
    noun = "pages"

    def __init__(self, opts: DocOptions = DocOptions(), web: WebOptions = WebOptions(),
                 fetcher: ImageFetcher | None = None) -> None:
        super().__init__(opts)
        self.web = web
        self.fetcher = fetcher  # None: captured images, then HTTP (make_fetcher); tests inject their own

    def check(self, inputs: list[Path]) -> None:
        """The inputs exist and the configured models load (here, once: a broken one is one error, not a
        failure per page)."""
        super().check(inputs)
        self._language()
        self._perplexity()

    def _language(self) -> LanguageId | None:
        f = self.web.filters
        return LanguageId(f.language_model) if f.language and f.language_model else None

    def _perplexity(self) -> Perplexity | None:
        f = self.web.filters
        return Perplexity(f.perplexity_model, f.perplexity_tokenizer) if f.perplexity_model else None

    def items(self, inputs: list[Path], stats: DocStats, scratch: Path) -> Iterator[WorkItem]:
        def damaged(msg: str) -> None:
            stats.archive_damaged = "; ".join(filter(None, [stats.archive_damaged, msg]))

        for n, warc in enumerate(inputs):
            index = scratch / f"captured-{n}.sqlite"
            write_capture_index(captured_images(warc, damaged), index)
            for page in iter_pages(warc, damaged):
                payload = _Page(str(warc), str(index), page.url, page.body, page.charset, page.warc, page.offset,
                                page.length, page.date)
                yield WorkItem(f"{page.warc}@{page.offset}", payload, len(page.body))

    def documents(self, item: WorkItem, scratch: Path, result: DocResult) -> Iterator[RawDocument]:
        page: _Page = item.payload
        f = self.web.filters
        t = time.perf_counter()
        nodes = page_nodes(decode_html(page.body, page.charset), page.url)
        result.timings["parse"] = result.timings.get("parse", 0.0) + time.perf_counter() - t
        blocks: list[Block] = []
        seen: set[str] = set()
        for node in nodes.nodes:
            if isinstance(node, PageText):
                kept = []
                for para in node.text.split("\n\n"):
                    reason = (text_reason(para, f.paragraph, f.flagged_words, "paragraph", f.common_words)
                              if para.strip() else None)
                    if reason:
                        result.removed[reason] += 1
                    elif para.strip():
                        kept.append(para.strip())
                if kept:
                    blocks.append(TextBlock("\n\n".join(kept)))
                continue
            result.figures_found += 1
            reason = self._image_pre_check(node, seen)
            if reason:
                result.skipped_images[reason] += 1
                continue
            seen.add(node.src)
            blocks.append(ImageBlock(ref=node.src, url=node.src, alt_text=node.alt_text, meta={
                "src": node.src, "unformatted_src": node.unformatted_src, "document_url": page.url,
                "rendered_width": node.rendered_width, "rendered_height": node.rendered_height}))
        images = [b for b in blocks if isinstance(b, ImageBlock)]
        if len(images) < f.doc_min_images:
            result.skipped_documents["document_too_few_images"] += 1
            return
        self._fetch(images, page, result)
        general = {"url": page.url, "domain": urlsplit(page.url).hostname or "", "warc_filename": page.warc_name,
                   "warc_record_offset": page.offset, "warc_record_length": page.length, "date": page.date,
                   "title": nodes.title}
        yield RawDocument(sample_uid("docs", "web", page.url, page.warc_name, str(page.offset)), "web", blocks,
                          general)

    def _image_pre_check(self, node: PageImage, seen: set[str]) -> str | None:
        if node.src in seen:
            return "repeated_image"
        return side_reason(node.rendered_width, node.rendered_height, self.web.filters, "rendered")

    def _fetch(self, images: list[ImageBlock], page: _Page, result: DocResult) -> None:
        t = time.perf_counter()
        fetcher = self.fetcher or make_fetcher(page.warc, page.index, self.web.fetch)
        got = fetcher.fetch([b.url for b in images])
        for b in images:
            value = got.get(b.url, "image_not_fetched")
            if isinstance(value, bytes):
                b.data = value
            else:
                b.missing = value
        result.timings["fetch"] = result.timings.get("fetch", 0.0) + time.perf_counter() - t

    def image_check(self) -> ImageCheck | None:
        filters = self.web.filters

        def check(image: ConvertedImage, block: ImageBlock) -> str | None:
            rendered = (block.meta.get("rendered_width"), block.meta.get("rendered_height"))
            return image_reason(image.source_format, image.original_width, image.original_height, rendered, filters)
        return check

    def finish(self, record: DocRecord, result: DocResult) -> DocRecord | None:
        """OBELICS' document-level filters, after the images are in, in its order (images, text ratios,
        language, perplexity), on the texts joined by blank lines as OBELICS' ``full_text``."""
        f = self.web.filters
        text = "\n\n".join(t for t in record.texts if t)
        reason = None
        if record.n_images < f.doc_min_images:
            reason = "document_too_few_images"
        elif record.n_images > f.doc_max_images:
            reason = "document_too_many_images"
        else:
            reason = text_reason(text, f.document, f.flagged_words, "document", f.common_words)
        if reason is None and (language := self._language()) is not None:
            if language.score(text, f.language) < f.language_min_score:
                reason = "document_language"
        if reason is None and (perplexity := self._perplexity()) is not None:
            if perplexity.perplexity(text) > f.max_perplexity:
                reason = "document_perplexity"
        if reason:
            result.skipped_documents[reason] += 1
            return None
        return record


def documents_from_warcs(warcs: list, outdir, opts: DocOptions = DocOptions(), web: WebOptions = WebOptions(),
                         workers: int = 1, scratch_root: str | None = None, label: str | None = None,
                         fetcher: ImageFetcher | None = None) -> DocStats:
    """Documents of every HTML page of ``warcs`` (one unit) into ``outdir`` shards plus ``stats.json``."""
    return run_documents(WebDocuments(opts, web, fetcher), [Path(w) for w in warcs], outdir, workers, scratch_root,
                         label)
