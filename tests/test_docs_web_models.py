"""OBELICS' remaining web filters: common-word ratio, fastText language id and KenLM perplexity.

The models are made in the test: a SentencePiece model trained on a few sentences, a hand-written ARPA bigram
model over its pieces (perplexities checked against the ARPA definition computed here), and a fastText
classifier trained on English and German lines.
"""

from __future__ import annotations

import json

import pytest

from sciclip.docs.reader import read_dir
from sciclip.docs.web_filters import TextLimits, WebFilters, load_word_list, text_reason, words
from sciclip.docs.web_models import normalize_for_perplexity
from sciclip.errors import SciclipError
from sciclip.sources.cc.page_images import FetchOptions
from sciclip.sources.cc.web_documents import WebOptions, documents_from_warcs
from tests.conftest import ROOT, run_cli
from tests.docs_web_fixture import BOILERPLATE, PROSE, page_html, write_warc

LOOSE = TextLimits(1, 10**6, 1, 1, 1, 0, 1, 0)
OFFLINE = FetchOptions(enabled=False)  # the fixture's captured images only


def _run(warc, out, filters: WebFilters):
    stats = documents_from_warcs([warc], out, web=WebOptions(filters, OFFLINE))
    return stats, list(read_dir(out))


@pytest.fixture(scope="module")
def fixture_warc(tmp_path_factory):
    d = tmp_path_factory.mktemp("pages")
    write_warc(d / "pages.warc.gz")
    return d / "pages.warc.gz"


@pytest.fixture(scope="module")
def baseline(fixture_warc, tmp_path_factory):
    return _run(fixture_warc, tmp_path_factory.mktemp("base") / "out", WebFilters())


# --- common words -------------------------------------------------------------------------------------------

def test_common_word_ratio_at_both_levels(fixture_warc, baseline, tmp_path):
    common = sorted({w for p in PROSE for w in words(p)})  # the prose is common, the newsletter line is not
    (tmp_path / "common.json").write_text(json.dumps({w: 1 for w in common}))  # OBELICS' layout: keyed by word
    assert load_word_list(str(tmp_path / "common.json")) == frozenset(common)
    (tmp_path / "common.txt").write_text("\n".join(w.upper() for w in common) + "\n")
    assert load_word_list(str(tmp_path / "common.txt")) == frozenset(common)

    lst = frozenset(common)
    para, doc = WebFilters().paragraph, WebFilters().document
    assert (para.min_common_words, doc.min_common_words) == (0.8, 0.9)  # OBELICS' thresholds
    assert text_reason(PROSE[0], para, frozenset(), "paragraph", lst) is None
    # the newsletter line: most of its words are not in the prose
    assert text_reason(BOILERPLATE, para, frozenset(), "paragraph", lst) == "paragraph_few_common_words"
    assert text_reason(BOILERPLATE, para, frozenset(), "paragraph") is None  # no list: no check
    # a document 88% common passes the paragraph threshold but not the document one
    text = " ".join(PROSE[:2]) + " zebra quagga okapi tapir gnu."
    share = sum(w in lst for w in words(text)) / len(words(text))
    assert 0.8 <= share < 0.9
    assert text_reason(text, para, frozenset(), "paragraph", lst) is None
    assert text_reason(text, doc, frozenset(), "document", lst) == "document_few_common_words"

    base_stats, base_docs = baseline
    with_boilerplate = sum(t.count(BOILERPLATE) for r in base_docs for t in r.texts if t)
    assert with_boilerplate >= 2
    stats, docs = _run(fixture_warc, tmp_path / "out", WebFilters(common_words=lst))
    assert stats.removed["paragraph_few_common_words"] == with_boilerplate
    assert all(BOILERPLATE not in (t or "") for r in docs for t in r.texts)
    assert [r.general_metadata["url"] for r in docs] == [r.general_metadata["url"] for r in base_docs]


# --- KenLM perplexity ---------------------------------------------------------------------------------------

def _arpa(pieces: list[str], training: list[list[str]]):
    """A bigram ARPA model over ``pieces``: made-up log10 probabilities, bigrams for the pairs of ``training``,
    back-off weights only on the contexts of those bigrams (as an estimated model has them)."""
    uni = {"<s>": -99.0, "</s>": -1.0, "<unk>": -3.0}
    for i, p in enumerate(pieces):
        uni[p] = -(1.0 + (i % 5) * 0.3)
    bi: dict[tuple[str, str], float] = {}
    for seq in training:
        for v, w in zip(["<s>", *seq], [*seq, "</s>"]):
            bi.setdefault((v, w), -(0.2 + (len(bi) % 3) * 0.1))
    backoff = {v: -0.5 for v, _ in bi}
    lines = ["\\data\\", f"ngram 1={len(uni)}", f"ngram 2={len(bi)}", "", "\\1-grams:"]
    lines += [f"{p:.4f}\t{w}\t{backoff[w]:.4f}" if w in backoff else f"{p:.4f}\t{w}" for w, p in uni.items()]
    lines += ["", "\\2-grams:"] + [f"{p:.4f}\t{v} {w}" for (v, w), p in bi.items()] + ["", "\\end\\", ""]
    return "\n".join(lines), uni, bi, backoff


def _reference_perplexity(tokens: list[str], uni, bi, backoff) -> float:
    """Perplexity by the ARPA back-off definition: log10 P(w|v) = bigram(v w), else backoff(v) + unigram(w);
    with <s> and </s>; unknown pieces are <unk>."""
    seq = ["<s>"] + [t if t in uni else "<unk>" for t in tokens] + ["</s>"]
    total = 0.0
    for v, w in zip(seq, seq[1:]):
        total += bi[(v, w)] if (v, w) in bi else backoff.get(v, 0.0) + uni[w]
    return 10.0 ** (-total / (len(tokens) + 1))


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    pytest.importorskip("kenlm")
    sentencepiece = pytest.importorskip("sentencepiece")
    d = tmp_path_factory.mktemp("lm")
    (d / "train.txt").write_text("\n".join(PROSE * 3 + [BOILERPLATE]) + "\n")
    sentencepiece.SentencePieceTrainer.train(input=str(d / "train.txt"), model_prefix=str(d / "sp"), vocab_size=120,
                                             model_type="unigram", character_coverage=1.0, num_threads=1,
                                             hard_vocab_limit=False, minloglevel=2)
    sp = sentencepiece.SentencePieceProcessor(model_file=str(d / "sp.model"))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    pieces = [p for p in pieces if p not in ("<unk>", "<s>", "</s>")]
    text, uni, bi, backoff = _arpa(pieces, [sp.encode_as_pieces(p) for p in PROSE[:3]])
    (d / "lm.arpa").write_text(text, encoding="utf-8")
    return d / "lm.arpa", d / "sp.model", sp, (uni, bi, backoff)


def test_perplexity_normalisation_is_obelics():
    # control characters (newlines too) removed, odd spaces made spaces, digits 0, typographic punctuation ASCII
    assert normalize_for_perplexity("  In 2024\n\nthe “mill”\u00a0reopened — at last…\t") == \
        'In 0000the "mill" reopened  -  at last...'
    assert normalize_for_perplexity("\n\t ") == ""


def test_kenlm_perplexity_matches_the_arpa_definition(lm):
    from sciclip.docs.web_models import Perplexity

    arpa, spm, sp, model = lm
    scorer = Perplexity(str(arpa), str(spm))
    unknown = "Zebras 42 graze quietly. Xylophone?"  # pieces the model lacks: <unk>
    for text in [PROSE[0], PROSE[4], BOILERPLATE, unknown, f"{PROSE[1]}\n\n{PROSE[2]}"]:
        tokens = sp.encode_as_pieces(normalize_for_perplexity(text))
        # the scorer rounds to 0.1 (off by <= 0.05); KenLM keeps log10 probabilities in float32 and sums them
        # in float32: <= n * 2^-24 of the sum of |log10 p| (n ~ 50 pieces, |log10 p| <= 3), i.e. < 2e-5 of the
        # perplexity (measured: 1e-6). Comparing the rounded value to a rounded reference would fail whenever a
        # perplexity lies within that error of a rounding boundary.
        reference = _reference_perplexity(tokens, *model)
        assert scorer.perplexity(text) == pytest.approx(reference, abs=0.05 + 1e-4 * reference)
    seen, unseen = scorer.perplexity(PROSE[0]), scorer.perplexity(PROSE[5])
    assert seen < unseen  # the bigrams of the first sentences make them likelier


def test_documents_above_the_perplexity_threshold_are_dropped(lm, fixture_warc, baseline, tmp_path):
    arpa, spm, sp, model = lm
    _, base_docs = baseline
    ppl = {}
    for r in base_docs:
        text = "\n\n".join(t for t in r.texts if t)
        ppl[r.id] = _reference_perplexity(sp.encode_as_pieces(normalize_for_perplexity(text)), *model)
    # the threshold lies in a gap between documents wider than the scorer's rounding and float32 error (see
    # above): which side a document falls on does not depend on how its perplexity was summed
    values = sorted(ppl.values())
    low, high = next((a, b) for a, b in zip(values, values[1:]) if b - a > 0.1 + 2e-4 * b)
    threshold = (low + high) / 2
    filters = WebFilters(perplexity_model=str(arpa), perplexity_tokenizer=str(spm), max_perplexity=threshold)
    stats, docs = _run(fixture_warc, tmp_path / "out", filters)
    assert [r.id for r in docs] == [r.id for r in base_docs if ppl[r.id] <= threshold]
    assert stats.skipped_documents["document_perplexity"] == sum(v > threshold for v in ppl.values()) >= 1


def test_an_unloadable_kenlm_model_is_one_error_naming_it(lm, fixture_warc, tmp_path):
    _, spm, _, _ = lm
    (tmp_path / "broken.arpa").write_text("\\data\\\nngram 1=zero\n")
    for model in (tmp_path / "missing.arpa", tmp_path / "broken.arpa"):
        filters = WebFilters(perplexity_model=str(model), perplexity_tokenizer=str(spm))
        with pytest.raises(SciclipError) as e:
            _run(fixture_warc, tmp_path / "out", filters)
        assert str(model) in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "out").exists()


# --- fastText language id -----------------------------------------------------------------------------------

GERMAN_PAGE = ("Das Dorf liegt in einem ruhigen Tal, und die alte Mühle an der Brücke ist im Frühling für "
               "Besucher geöffnet. Die Bauern haben niedrige Mauern aus Stein gebaut, und viele davon stehen noch "
               "heute. Ein kleines Museum zeigt die Werkzeuge, die hier mehr als zweihundert Jahre benutzt wurden.")


def test_language_id_drops_the_german_page_and_keeps_the_english_one(lid, tmp_path):
    from sciclip.docs.web_models import LanguageId

    ident = LanguageId(str(lid))
    assert ident.score(" ".join(PROSE), "en") >= 0.8 and ident.score(GERMAN_PAGE, "en") == 0.0
    assert ident.score(GERMAN_PAGE, "de") >= 0.8
    img = '<img src="http://valley.test/img/mill.png" alt="Mühle">'
    write_warc(tmp_path / "p.warc.gz", page_list=[
        ("http://valley.test/en.html", page_html("Mill", f"<p>{PROSE[0]} {PROSE[2]}</p>{img}<p>{PROSE[3]}</p>")),
        ("http://valley.test/de.html", page_html("Mühle", f"<p>{GERMAN_PAGE}</p>{img}")),
    ])
    loose = WebFilters(paragraph=LOOSE, document=LOOSE)
    stats, docs = _run(tmp_path / "p.warc.gz", tmp_path / "all", loose)
    assert [r.general_metadata["url"] for r in docs] == ["http://valley.test/en.html", "http://valley.test/de.html"]
    filters = WebFilters(paragraph=LOOSE, document=LOOSE, language="en", language_model=str(lid))
    stats, docs = _run(tmp_path / "p.warc.gz", tmp_path / "en", filters)
    assert [r.general_metadata["url"] for r in docs] == ["http://valley.test/en.html"]
    assert stats.skipped_documents == {"document_language": 1}


# --- configuration errors: one line naming the file ----------------------------------------------------------

@pytest.mark.parametrize("flags, named", [
    (["--language", "en", "--language-model", "{d}/missing.bin"], "{d}/missing.bin"),
    (["--language", "en", "--language-model", "{d}/garbage.bin"], "{d}/garbage.bin"),
    (["--perplexity-model", "{d}/missing.arpa", "--perplexity-tokenizer", "{d}/garbage.bin"], "{d}/garbage.bin"),
    (["--common-words-file", "{d}/bad.json"], "{d}/bad.json"),
    (["--common-words-file", "{d}/nowhere.txt"], "{d}/nowhere.txt"),
])
def test_a_configured_model_or_list_that_cannot_be_loaded_is_one_error(fixture_warc, tmp_path, flags, named):
    (tmp_path / "garbage.bin").write_bytes(b"not a model at all")
    (tmp_path / "bad.json").write_text('{"a": [1, 2]')
    flags = [f.format(d=tmp_path) for f in flags]
    r = run_cli("docs", "web", str(fixture_warc), str(tmp_path / "out"), "--no-fetch-images", *flags,
                env={"PYTHONPATH": str(ROOT / "src")})
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sciclip: error: ") and named.format(d=tmp_path) in lines[0], \
        r.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
