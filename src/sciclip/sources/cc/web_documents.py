"""Web pages as documents: one document per HTML response of the unit's WARC files, OBELICS' way.

Two passes per unit. First, while the unit's items are listed: per page, decode, simplify the DOM and
extract texts and images in reading order (``html_nodes``), and note the images it will want (those passing
the rendered-size and repeat checks, on pages with enough of them) that the WARC did not capture; the parsed
pages wait in an SQLite file of the job's scratch, and the wanted URLs, each once, are downloaded in one
img2dataset run (``page_images.download_images``: the cc branch's downloader). Then per page (in workers): drop
paragraphs that fail the paragraph filters, take the images (captured in the WARC first, then the unit's
downloads), convert them through the shared pipeline with OBELICS' image filters, and judge the whole
document (image count, words, ratios, language, perplexity). Memory stays bounded: pages and images wait on disk.
Every removal is counted by reason. Dedup across documents is a second step over all units (``docs.dedup``).
"""

from __future__ import annotations

import pickle
import sqlite3
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sciclip.docs.assemble import ImageCheck
from sciclip.docs.model import Block, DocRecord, ImageBlock, RawDocument, TextBlock
from sciclip.docs.web_filters import WebFilters, image_reason, side_reason, text_reason
from sciclip.docs.web_models import LanguageId, Perplexity
from sciclip.images.pipeline import ConvertedImage
from sciclip.sources.base import Source, WorkItem
from sciclip.sources.cc.html_nodes import PageImage, PageText, page_nodes
from sciclip.sources.cc.page_images import (
    FetchOptions,
    ImageFetcher,
    download_images,
    make_fetcher,
    write_capture_index,
)
from sciclip.sources.cc.warc_pages import captured_images, decode_html, iter_pages
from sciclip.sources.job import DocResult, DocStats, run_documents
from sciclip.sources.options import DocOptions, ExtractOptions
from sciclip.sources.uids import sample_uid


@dataclass(frozen=True)
class WebOptions:
    filters: WebFilters = WebFilters()
    fetch: FetchOptions = FetchOptions()


@dataclass
class _Page:
    """One page as the first pass left it: parsed (or the error parsing raised), located, its images' sources."""

    warc: str
    index: str  # the WARC's captured-images index
    url: str
    warc_name: str
    offset: int
    length: int
    date: str
    nodes: list  # PageText | PageImage in reading order
    title: str = ""
    parse_s: float = 0.0
    error: str = ""
    downloads: str = ""  # the unit's downloaded-images index ("": nothing downloaded)


class PageError(Exception):
    """What parsing a page raised in the first pass, raised again when the page is processed."""


class WebSource(Source):
    """Web pages of WARC files: documents only (their pairs come from the ``cc`` source's WAT route)."""

    name = "web"
    noun = "pages"
    candidate_noun = "images"
    item_error = "page_error"

    def __init__(self, opts: ExtractOptions = ExtractOptions(), docs: DocOptions | None = None,
                 web: WebOptions = WebOptions(), fetcher: ImageFetcher | None = None) -> None:
        super().__init__(opts, docs)
        self.web = web
        self.fetcher = fetcher  # None: captured images, then the unit's downloads (make_fetcher); tests inject theirs

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

        db = sqlite3.connect(scratch / "pages.sqlite")
        try:
            yield from self._two_passes(db, inputs, stats, scratch, damaged)
        finally:
            db.close()

    def _two_passes(self, db: sqlite3.Connection, inputs: list[Path], stats: DocStats, scratch: Path,
                    damaged) -> Iterator[WorkItem]:
        db.execute("CREATE TABLE pages (n INTEGER PRIMARY KEY, id TEXT, size INTEGER, page BLOB)")
        db.execute("CREATE TABLE wanted (url TEXT PRIMARY KEY)")
        for n, warc in enumerate(inputs):
            index = scratch / f"captured-{n}.sqlite"
            captured = captured_images(warc, damaged)
            write_capture_index(captured, index)
            for page in iter_pages(warc, damaged):
                parsed = self._parse(page, str(warc), str(index))
                db.execute("INSERT INTO pages (id, size, page) VALUES (?, ?, ?)",
                           (f"{page.warc}@{page.offset}", len(page.body), pickle.dumps(parsed, protocol=5)))
                db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)",
                               ((u,) for u in self._wanted(parsed) if u not in captured))
        db.commit()
        downloads = ""
        if self.fetcher is None and self.web.fetch.enabled:
            t = time.perf_counter()
            index, _ = download_images((u for (u,) in db.execute("SELECT url FROM wanted ORDER BY rowid")),
                                       scratch / "downloads", self.web.fetch)
            stats.timings_s["download"] = round(time.perf_counter() - t, 4)
            downloads = str(index)
        for item_id, size, blob in db.execute("SELECT id, size, page FROM pages ORDER BY n"):
            parsed = pickle.loads(blob)
            parsed.downloads = downloads
            yield WorkItem(item_id, parsed, size)

    @staticmethod
    def _parse(page, warc: str, index: str) -> _Page:
        out = _Page(warc, index, page.url, page.warc, page.offset, page.length, page.date, [])
        t = time.perf_counter()
        try:  # a page nobody foresaw fails here, and is counted when its item is processed
            nodes = page_nodes(decode_html(page.body, page.charset), page.url)
            out.nodes, out.title = nodes.nodes, nodes.title
        except Exception as e:  # noqa: BLE001
            out.error = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"
        out.parse_s = time.perf_counter() - t
        return out

    def _image_reasons(self, nodes: list) -> list[str | None]:
        """Per image node, in order: why it is dropped before fetching (repeated, rendered size), or None."""
        seen: set[str] = set()
        out: list[str | None] = []
        for node in nodes:
            if isinstance(node, PageImage):
                reason = self._image_pre_check(node, seen)
                if reason is None:
                    seen.add(node.src)
                out.append(reason)
        return out

    def _wanted(self, page: _Page) -> list[str]:
        """The image URLs processing ``page`` will ask for (none when too few images pass the checks)."""
        images = [n for n in page.nodes if isinstance(n, PageImage)]
        urls = [n.src for n, r in zip(images, self._image_reasons(page.nodes)) if r is None]
        return urls if len(urls) >= self.web.filters.doc_min_images else []

    def documents(self, item: WorkItem, scratch: Path, result: DocResult) -> Iterator[RawDocument]:
        page: _Page = item.payload
        f = self.web.filters
        result.timings["parse"] = result.timings.get("parse", 0.0) + page.parse_s
        if page.error:
            raise PageError(page.error)
        blocks: list[Block] = []
        reasons = iter(self._image_reasons(page.nodes))
        for node in page.nodes:
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
            result.candidates_found += 1
            reason = next(reasons)
            if reason:
                result.skipped_images[reason] += 1
                continue
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
                   "title": page.title}
        yield RawDocument(sample_uid("docs", "web", page.url, page.warc_name, str(page.offset)), "web", blocks,
                          general)

    def _image_pre_check(self, node: PageImage, seen: set[str]) -> str | None:
        if node.src in seen:
            return "repeated_image"
        return side_reason(node.rendered_width, node.rendered_height, self.web.filters, "rendered")

    def _fetch(self, images: list[ImageBlock], page: _Page, result: DocResult) -> None:
        t = time.perf_counter()
        fetcher = self.fetcher or make_fetcher(page.warc, page.index, page.downloads, self.web.fetch)
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
    return run_documents(WebSource(opts.extract, opts, web, fetcher), [Path(w) for w in warcs], outdir, workers, scratch_root,
                         label)
