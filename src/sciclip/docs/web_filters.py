"""OBELICS' filters for web documents: images, paragraphs and whole documents, each failure with its reason.

The definitions follow OBELICS (``FilteringFunctions`` in ``obelics/processors/web_document_filtering.py``)
so that its published thresholds (``obelics/configs/config_filter_web_documents.yaml``) mean the same here;
they are the config defaults. Words are whitespace tokens, lower-cased, stripped of special characters at
both ends. Repetition ratios: character 10-grams (the share of the most frequent repeated n-grams, at most
sqrt(#distinct) of them) and word 5-grams (the share of n-grams occurring more than once). Special characters:
punctuation, digits, whitespace and symbols (emoji included). Punctuation ratio: the share of , ; : ? ! .
among word and punctuation tokens (not checked on paragraphs shorter than 12 tokens). Stopword, flagged-word
and common-word ratios: the share of words in the list (``compute_common_word_ratio``: paragraphs >= 0.8,
documents >= 0.9). OBELICS' common-word list is a JSON file of its own (not in its repository, not
reproducible from it), so like the flagged words it is a file to configure, and the check is off without
one. A paragraph is checked in OBELICS' order (words, repetitions, special characters, stopwords, flagged,
punctuation, common words) and dropped for the first failure; a document likewise, then by language id and
perplexity (``web_models``; off without a model). OBELICS' paragraph-level language and perplexity checks are
off in its config and not offered here.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sciclip.docs.stopwords import STOPWORDS

PUNCTUATION = frozenset(",;:?!.")
_TOKEN_RE = re.compile(r"[\w']+|[,;:?!.]")
CHAR_NGRAM = 10
WORD_NGRAM = 5
MIN_TOKENS_FOR_PUNCTUATION = 12
# what an image's sniffed format is called in OBELICS' list of formats
FORMAT_NAMES = {"jpeg": {"jpg", "jpeg"}, "png": {"png"}, "webp": {"webp"}, "gif": {"gif"}, "bmp": {"bmp"},
                "tiff": {"tif", "tiff"}, "ppm": {"ppm"}, "pdf": {"pdf"}, "eps": {"eps"}}


def is_special(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch)[0] in "PSNZC"


def words(text: str) -> list[str]:
    out = []
    for w in text.split():
        w = w.lower()
        start, end = 0, len(w)
        while start < end and is_special(w[start]):
            start += 1
        while end > start and is_special(w[end - 1]):
            end -= 1
        if start < end:
            out.append(w[start:end])
    return out


def char_repetition_ratio(text: str, n: int = CHAR_NGRAM) -> float:
    grams = Counter(text[i:i + n] for i in range(len(text) - n + 1))
    if not grams:
        return 0.0
    freqs = sorted(grams.values(), reverse=True)
    once = sum(1 for f in freqs if f == 1)
    top = min(int(math.sqrt(len(freqs))), len(freqs) - once)
    return sum(freqs[:top]) / sum(freqs)


def word_repetition_ratio(ws: list[str], n: int = WORD_NGRAM) -> float:
    grams = Counter(" ".join(ws[i:i + n]) for i in range(len(ws) - n + 1))
    if not grams:
        return 0.0
    return sum(f for f in grams.values() if f > 1) / sum(grams.values())


def special_char_ratio(text: str) -> float:
    return sum(1 for ch in text if is_special(ch)) / len(text) if text else 0.0


def share(ws: list[str], vocabulary: frozenset) -> float:
    return sum(1 for w in ws if w in vocabulary) / len(ws) if ws else 0.0


def punctuation_ratio(text: str, min_tokens: int = 0) -> float:
    tokens = _TOKEN_RE.findall(text)
    if not tokens:
        return 0.0
    if min_tokens and len(tokens) < min_tokens:
        return 1.0  # too short to judge by punctuation
    return sum(1 for t in tokens if t in PUNCTUATION) / len(tokens)


@dataclass(frozen=True)
class TextLimits:
    min_words: int
    max_words: int
    max_char_repetition: float
    max_word_repetition: float
    max_special_chars: float
    min_stopwords: float
    max_flagged_words: float
    min_punctuation: float
    min_common_words: float = 0.0  # checked only with a common-word list


@dataclass(frozen=True)
class WebFilters:
    """The thresholds (config ``docs.web``, OBELICS' values by default)."""

    image_formats: tuple[str, ...] = ("jpg", "jpeg", "png", "webp")
    image_min_side: int = 150
    image_max_side: int = 20_000
    image_max_aspect_ratio: float = 2.0
    doc_min_images: int = 1
    doc_max_images: int = 30
    paragraph: TextLimits = TextLimits(4, 1000, 0.1, 0.1, 0.3, 0.3, 0.01, 0.001, 0.8)
    document: TextLimits = TextLimits(10, 2000, 0.1, 0.2, 0.275, 0.35, 0.01, 0.03, 0.9)
    flagged_words: frozenset = field(default_factory=frozenset)
    common_words: frozenset = field(default_factory=frozenset)
    language: str | None = None
    language_model: str | None = None
    language_min_score: float = 0.8
    perplexity_model: str | None = None  # KenLM (ARPA or binary); None: no perplexity filter
    perplexity_tokenizer: str | None = None  # its SentencePiece model
    max_perplexity: float = 1500.0


def load_word_list(path: str | None) -> frozenset:
    """A word list (flagged or common words): one word per line, or JSON (a list of words, or an object whose
    keys are the words, as OBELICS' ``common_words.json``); lower-cased like the words they are compared with."""
    if not path:
        return frozenset()
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        data = json.loads(text)
        if not isinstance(data, (list, dict)) or not all(isinstance(w, str) for w in data):
            raise ValueError("not a JSON list of words or an object keyed by words")
        return frozenset(w.strip().lower() for w in data if w.strip())
    return frozenset(w.strip().lower() for w in text.splitlines() if w.strip())


def text_reason(text: str, limits: TextLimits, flagged: frozenset, level: str,
                common: frozenset = frozenset()) -> str | None:
    """Why ``text`` (a paragraph or a whole document) fails ``limits``, or None; reasons carry the level.
    ``flagged`` and ``common`` are the word lists (empty: that check is skipped)."""
    ws = words(text)
    if len(ws) < limits.min_words:
        return f"{level}_too_few_words"
    if len(ws) > limits.max_words:
        return f"{level}_too_many_words"
    if char_repetition_ratio(text) > limits.max_char_repetition:
        return f"{level}_character_repetition"
    if word_repetition_ratio(ws) > limits.max_word_repetition:
        return f"{level}_word_repetition"
    if special_char_ratio(text) > limits.max_special_chars:
        return f"{level}_special_characters"
    if share(ws, STOPWORDS) < limits.min_stopwords:
        return f"{level}_few_stopwords"
    if flagged and share(ws, flagged) > limits.max_flagged_words:
        return f"{level}_flagged_words"
    min_tokens = MIN_TOKENS_FOR_PUNCTUATION if level == "paragraph" else 0
    if punctuation_ratio(text, min_tokens) < limits.min_punctuation:
        return f"{level}_little_punctuation"
    if common and share(ws, common) < limits.min_common_words:
        return f"{level}_few_common_words"
    return None


def side_reason(w: int | None, h: int | None, f: WebFilters, kind: str) -> str | None:
    for side in (w, h):
        if side is not None and not f.image_min_side <= side <= f.image_max_side:
            return f"image_{kind}_size"
    return None


def image_reason(fmt: str, width: int, height: int, rendered: tuple[int | None, int | None],
                 f: WebFilters) -> str | None:
    """OBELICS' image filters: format, original and rendered sides, aspect ratio."""
    if not FORMAT_NAMES.get(fmt, {fmt}) & set(f.image_formats):
        return "image_format"
    reason = side_reason(width, height, f, "original") or side_reason(*rendered, f, "rendered")
    if reason:
        return reason
    if not 1 / f.image_max_aspect_ratio <= width / max(height, 1) <= f.image_max_aspect_ratio:
        return "image_aspect_ratio"
    return None
