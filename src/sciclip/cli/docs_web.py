"""``sciclip docs web|dedup|render``: web documents from WARC files, their dedup, and the report page.

Option names are the keys of the config's ``docs.web`` section (``--paragraph-min-words`` for
``docs.web.paragraph_min_words``), so the workflow passes that section through ``config_flags`` unchanged.
"""

from __future__ import annotations

import argparse

from sciclip.cli.common import add_extract_args, positive_int, say
from sciclip.errors import SciclipError

TEXT_LIMITS = (("min_words", int), ("max_words", int), ("max_char_repetition", float),
               ("max_word_repetition", float), ("max_special_chars", float), ("min_stopwords", float),
               ("max_flagged_words", float), ("min_punctuation", float), ("min_common_words", float))
PARAGRAPH_DEFAULTS = (4, 1000, 0.1, 0.1, 0.3, 0.3, 0.01, 0.001, 0.8)
DOCUMENT_DEFAULTS = (10, 2000, 0.1, 0.2, 0.275, 0.35, 0.01, 0.03, 0.9)
# each limit's help, {level} being "paragraph" or "document" (the wording of the docs.web keys in the schema)
TEXT_LIMIT_HELP = {
    "min_words": "{level}s with fewer words are removed",
    "max_words": "{level}s with more words are removed",
    "max_char_repetition": "largest character 10-gram repetition ratio of a {level}",
    "max_word_repetition": "largest word 5-gram repetition ratio of a {level}",
    "max_special_chars": "largest share of special characters (punctuation, digits, symbols, spaces) of a "
                         "{level}",
    "min_stopwords": "smallest share of English stopwords among a {level}'s words",
    "max_flagged_words": "largest share of flagged words of a {level} (needs --flagged-words-file)",
    "min_punctuation": "smallest share of punctuation marks among a {level}'s tokens",
    "min_common_words": "smallest share of a {level}'s words in the common-word list (needs "
                        "--common-words-file)",
}


def _switch(g, name: str, default: bool, help_: str, no_help: str) -> None:
    dest = name.replace("-", "_")
    g.add_argument(f"--{name}", dest=dest, action="store_true", default=default, help=help_)
    g.add_argument(f"--no-{name}", dest=dest, action="store_false", help=no_help)


def add_web_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("images of web pages")
    _switch(g, "fetch-images", True, "download images the WARC does not hold, with img2dataset as the cc branch "
                                     "(default)", "only images captured in the WARC itself")
    g.add_argument("--fetch-processes", type=positive_int, default=1,
                   help="img2dataset processes per job (default: %(default)s)")
    g.add_argument("--fetch-threads", type=positive_int, default=16,
                   help="img2dataset threads per process (default: %(default)s)")
    g.add_argument("--fetch-timeout-s", type=float, default=10.0,
                   help="timeout of one image request in seconds (default: %(default)s)")
    g.add_argument("--fetch-retries", type=int, default=1,
                   help="retries of a failed image request (default: %(default)s)")
    g.add_argument("--max-image-mb", type=float, default=20.0,
                   help="downloaded images larger than this many MiB are dropped (default: %(default)s)")
    g.add_argument("--user-agent-token", default="sciclip",
                   help="our token in the User-Agent and in X-Robots-Tag opt-outs (default: %(default)s)")
    g.add_argument("--disallowed-header-directives", default="noai,noimageai,noindex,noimageindex",
                   help="X-Robots-Tag directives that opt an image out, comma-separated (default: "
                        "%(default)s)")
    g.add_argument("--serve", default=None, help="serve this folder on 127.0.0.1 as the web (demo, tests)")
    g.add_argument("--allow-private-addresses", action="store_true",
                   help="let image URLs reach loopback and private networks (tests, a private mirror; default: "
                        "public addresses only, others skipped as image_private_address)")
    g = p.add_argument_group("OBELICS filters (defaults: OBELICS' thresholds)")
    g.add_argument("--image-formats", default="jpg,jpeg,png,webp",
                   help="image formats kept, comma-separated (default: %(default)s)")
    g.add_argument("--image-min-side", type=int, default=150,
                   help="smallest original and rendered width/height kept, in px (default: %(default)s)")
    g.add_argument("--image-max-side", type=int, default=20_000,
                   help="largest original and rendered width/height kept, in px (default: %(default)s)")
    g.add_argument("--image-max-aspect-ratio", type=float, default=2.0,
                   help="images with width/height above this or below its inverse are removed (default: "
                        "%(default)s)")
    g.add_argument("--doc-min-images", type=int, default=1,
                   help="documents with fewer images are removed (default: %(default)s)")
    g.add_argument("--doc-max-images", type=int, default=30,
                   help="documents with more images are removed (default: %(default)s)")
    for level, defaults in (("paragraph", PARAGRAPH_DEFAULTS), ("doc", DOCUMENT_DEFAULTS)):
        for (key, kind), default in zip(TEXT_LIMITS, defaults):
            what = TEXT_LIMIT_HELP[key].format(level="paragraph" if level == "paragraph" else "document")
            g.add_argument(f"--{level}-{key.replace('_', '-')}", type=kind, default=default,
                           help=f"{what} (default: %(default)s)")
    g.add_argument("--flagged-words-file", default=None, help="flagged words, one per line (default: no check)")
    g.add_argument("--common-words-file", default=None,
                   help="common words, one per line or a JSON list/object (default: no check)")
    g.add_argument("--language", default=None, help="keep documents in this language (fastText; default: all)")
    g.add_argument("--language-model", default=None, help="fastText lid.176.bin for --language")
    g.add_argument("--language-min-score", type=float, default=0.8,
                   help="smallest fastText score of the wanted language (default: %(default)s)")
    g.add_argument("--perplexity-model", default=None, help="KenLM model (ARPA or binary; default: no check)")
    g.add_argument("--perplexity-tokenizer", default=None, help="SentencePiece model of --perplexity-model")
    g.add_argument("--max-perplexity", type=float, default=1500.0,
                   help="documents with a higher perplexity are removed (default: %(default)s)")


def web_options(args):
    from sciclip.docs.web_filters import TextLimits, WebFilters
    from sciclip.sources.cc.page_images import FetchOptions
    from sciclip.sources.cc.web_documents import WebOptions

    if args.language and not args.language_model:
        raise SciclipError("--language needs --language-model (fastText's lid.176.bin)")
    if bool(args.perplexity_model) != bool(args.perplexity_tokenizer):
        raise SciclipError("--perplexity-model and --perplexity-tokenizer go together (KenLM, SentencePiece)")
    limits = {level: TextLimits(*(getattr(args, f"{level}_{key}") for key, _ in TEXT_LIMITS))
              for level in ("paragraph", "doc")}
    flagged, common = _word_list(args.flagged_words_file), _word_list(args.common_words_file)
    filters = WebFilters(
        image_formats=tuple(x.strip().lower() for x in args.image_formats.split(",") if x.strip()),
        image_min_side=args.image_min_side, image_max_side=args.image_max_side,
        image_max_aspect_ratio=args.image_max_aspect_ratio, doc_min_images=args.doc_min_images,
        doc_max_images=args.doc_max_images, paragraph=limits["paragraph"], document=limits["doc"],
        flagged_words=flagged, common_words=common, language=args.language, language_model=args.language_model,
        language_min_score=args.language_min_score, perplexity_model=args.perplexity_model,
        perplexity_tokenizer=args.perplexity_tokenizer, max_perplexity=args.max_perplexity)
    fetch = FetchOptions(enabled=args.fetch_images, processes=args.fetch_processes, threads=args.fetch_threads,
                         timeout_s=args.fetch_timeout_s, retries=args.fetch_retries,
                         max_bytes=int(args.max_image_mb * (1 << 20)), user_agent_token=args.user_agent_token,
                         disallowed_header_directives=tuple(
                             x.strip().lower() for x in args.disallowed_header_directives.split(",") if x.strip()),
                         serve=args.serve, allow_private_addresses=args.allow_private_addresses)
    return WebOptions(filters, fetch)


def _word_list(path: str | None) -> frozenset:
    from sciclip.docs.web_filters import load_word_list

    try:
        return load_word_list(path)
    except OSError as e:
        raise SciclipError(f"{path}: {(e.strerror or str(e)).lower()}") from None
    except ValueError as e:  # JSON that is not a word list (JSONDecodeError included)
        raise SciclipError(f"{path}: {e}") from None


def cmd_web(args) -> int:
    from sciclip.cli.docs import doc_options, done
    from sciclip.sources.cc.web_documents import documents_from_warcs

    stats = documents_from_warcs(args.warc, args.outdir, doc_options(args), web_options(args), args.workers,
                                 args.scratch_dir)
    done(" ".join(args.warc), stats, args.outdir)
    return 0


def cmd_dedup(args) -> int:
    from sciclip.docs.dedup import DedupOptions, dedup_documents

    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    opts = DedupOptions(args.dedup_max_image_documents, args.dedup_urls, args.dedup_paragraphs,
                        args.dedup_image_sets, args.docs_per_shard, formats)
    s = dedup_documents(args.dirs, args.out, opts)
    say(f"dedup: {s.items_seen} documents in, {s.documents} out; removed documents {s.skipped_documents}, "
        f"images {s.skipped_images}, paragraphs {s.removed} -> {args.out}")
    return 0


def cmd_render(args) -> int:
    from sciclip.docs.render import write_page

    n = write_page(args.dirs, args.out, args.n, args.seed)
    say(f"{n} documents -> {args.out}")
    return 0


def register(docs) -> None:
    from sciclip.cli.docs import add_doc_args

    p = docs.add_parser("web", help="documents of the HTML pages of WARC files (OBELICS extraction and filters)")
    p.add_argument("warc", nargs="+", help="WARC files (.warc, .warc.gz), read in this order")
    p.add_argument("outdir", help="the document folder to write (parquet and/or tar shards, stats.json)")
    add_web_args(p)
    add_doc_args(p)
    add_extract_args(p)
    p.set_defaults(func=cmd_web)

    p = docs.add_parser("dedup", help="OBELICS' dedup over web document folders (URLs, image sets, images, "
                                      "paragraphs)")
    p.add_argument("dirs", nargs="+", help="document folders, oldest first (the last copy of a URL is kept)")
    p.add_argument("--out", required=True, help="the deduplicated document folder to write")
    p.add_argument("--dedup-max-image-documents", type=positive_int, default=10,
                   help="remove images whose URL is in more documents than this (default: %(default)s)")
    _switch(p, "dedup-urls", True, "one document per URL, the last read (default)",
            "keep every document of a URL")
    _switch(p, "dedup-paragraphs", True, "remove paragraphs repeated within a domain (default)",
            "keep repeated paragraphs")
    _switch(p, "dedup-image-sets", True, "one document per identical image set, the last read (default)",
            "keep every document of an image set")
    p.add_argument("--docs-per-shard", type=positive_int, default=1000,
                   help="documents per output shard (default: %(default)s)")
    p.add_argument("--formats", default="parquet,tar",
                   help="output formats, comma-separated (default: %(default)s)")
    p.set_defaults(func=cmd_dedup)

    p = docs.add_parser("render", help="an HTML page of random documents (the report's)")
    p.add_argument("dirs", nargs="+", help="document folders")
    p.add_argument("--n", type=positive_int, default=3, help="how many documents (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random choice (default: %(default)s)")
    p.add_argument("--out", required=True, help="HTML file to write")
    p.set_defaults(func=cmd_render)
