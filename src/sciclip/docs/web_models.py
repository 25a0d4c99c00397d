"""OBELICS' model-based document filters: fastText language id and KenLM perplexity.

Both follow ``FilteringFunctions`` of OBELICS' ``obelics/processors/web_document_filtering.py``
(``compute_lang_id_pred_score``, ``normalization`` and ``compute_perplexity_score``) and its document-level
defaults in ``obelics/configs/config_filter_web_documents.yaml`` (English with a score >= 0.8, perplexity
<= 1500). OBELICS used fastText's ``lid.176.bin`` and the Wikipedia KenLM models with their SentencePiece
tokenizers (``edugp/kenlm``: ``en.arpa.bin``, ``en.sp.model``); none are shipped here, so both filters are off
until a model is configured.

Models are loaded once per process (a worker loads its own on first use; the job loads them first in the
main process, so a model that cannot be loaded stops the job with one line naming the file).
"""

from __future__ import annotations

import re
from pathlib import Path

from sciclip.errors import SciclipError

# OBELICS' normalisation before scoring (its NON_PRINTING_CHARACTERS_RE, standardize_whitespace, DIGITS_RE and
# UNICODE_PUNCTUATION in obelics/utils/filtering_utils.py, after CCNet's). Control characters include "\n" and
# "\t": a document is scored as one line, its paragraphs glued together, as in OBELICS.
NON_PRINTING = re.compile("[\x00-\x1f\x7f-\x9f]")
WHITESPACE = frozenset("\u2009\u200a\u202f\u2005\u3000\u2002\u2008\u2003\ufffc\x84\xa0")
DIGITS = re.compile(r"\d")
UNICODE_PUNCTUATION = str.maketrans({
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"', "１": '"', "」": '"',
    "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":", "？": "?", "！": "!", "（": "(", "）": ")",
    "；": ";", "–": "-", "—": " - ", "．": ". ", "～": "~", "’": "'", "…": "...", "━": "-", "〈": "<", "〉": ">",
    "【": "[", "】": "]", "％": "%", "►": "-",
})

_MODELS: dict[tuple, object] = {}


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:200] or type(e).__name__


def _cached(key: tuple, load):
    if key not in _MODELS:
        for path in key[1:]:
            if not Path(path).is_file():
                raise SciclipError(f"{path}: no such {key[0]} model file")
        try:
            _MODELS[key] = load()
        except Exception as e:  # each library has its own error types; all mean "not a usable model"
            raise SciclipError(f"{key[1]}: cannot load the {key[0]} model ({_one_line(e)})") from None
    return _MODELS[key]


def _missing(package: str, key: str) -> SciclipError:
    return SciclipError(f"docs.web.{key} needs the {package} package (pip install {package})")


def normalize_for_perplexity(text: str) -> str:
    """OBELICS' ``normalization`` for perplexity: control characters removed, stripped, other whitespace made
    spaces, digits made 0, CJK/typographic punctuation made ASCII (case kept)."""
    text = NON_PRINTING.sub("", text).strip()
    if not text:
        return text
    text = "".join(" " if ch in WHITESPACE else ch for ch in text)
    return DIGITS.sub("0", text).translate(UNICODE_PUNCTUATION)


class LanguageId:
    """fastText language id (the ``fasttext`` package): OBELICS lower-cases and joins lines before predicting."""

    def __init__(self, model_path: str) -> None:
        try:
            import fasttext  # noqa: PLC0415 - only when configured
        except ImportError:
            raise _missing("fasttext-numpy2-wheel", "language_model") from None

        self.model = _cached(("fastText", str(model_path)), lambda: fasttext.load_model(str(model_path)))

    def score(self, text: str, language: str) -> float:
        """The model's score for ``language`` when it is the top label, else 0 (OBELICS' ``check_lang_id``)."""
        labels, scores = self.model.predict(text.lower().replace("\n", " "))
        return float(scores[0]) if labels and labels[0] == f"__label__{language}" else 0.0


class Perplexity:
    """A KenLM model (ARPA or binary) over a SentencePiece tokenizer's pieces."""

    def __init__(self, model_path: str, tokenizer_path: str) -> None:
        try:
            import kenlm  # noqa: PLC0415 - only when configured
            import sentencepiece  # noqa: PLC0415
        except ImportError as e:
            raise _missing(e.name or "kenlm", "perplexity_model") from None

        def tokenizer():
            sp = sentencepiece.SentencePieceProcessor()
            sp.load(str(tokenizer_path))
            return sp

        self.tokenizer = _cached(("SentencePiece", str(tokenizer_path)), tokenizer)
        self.model = _cached(("KenLM", str(model_path)), lambda: kenlm.Model(str(model_path)))

    def perplexity(self, text: str) -> float:
        """OBELICS' ``compute_perplexity_score``: 10^(-log10 P / tokens) per line with </s> counted, summed over
        the lines (one after normalisation), rounded to 0.1."""
        pieces = " ".join(self.tokenizer.encode_as_pieces(normalize_for_perplexity(text)))
        log_score = length = 0.0
        for line in pieces.split("\n"):
            log_score += self.model.score(line)  # with <s> and </s>
            length += len(line.split()) + 1
        return round(10.0 ** (-log_score / length), 1)
