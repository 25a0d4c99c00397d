"""Filters over DataComp metadata, defined as DataComp's ``baselines/apply_filter.py`` defines them, plus ours.

Each filter gives a keep-mask for the rows of one metadata parquet (and its npz); a filter set keeps the rows
every one of its filters keeps. DataComp's definitions (read from ``apply_filter.py``; a change there is a
change here):

- ``clip_score``: keep ``clip_<model>_similarity_score >= threshold``; with ``fraction`` f instead of a
  threshold, the threshold is the score at index ``int(n * f)`` of all n scores of the pool sorted in descending
  order (``get_threshold``), so that about a fraction f is kept (ties at the threshold are all kept).
- ``basic``: English by fastText (the top label of ``text`` with newlines made spaces is ``en``), more than 2
  words (``text.split()``) and more than 5 characters, the shorter original side >= 200 px and aspect ratio
  (longer / shorter side) <= 3.
- ``text_based``: English, and some word of ``text.split()`` whose first WordNet synset (NLTK's
  ``wordnet.synsets(word)[0]``) has an offset in the ImageNet-21k synset list.
- ``image_based``: English, more than 1 fastText token and more than 5 characters, and the ``l14_img``
  embedding's nearest pool centroid (largest inner product) is one that some ImageNet-1k image's embedding is
  nearest to.

Ours: ``kinds`` (keep or drop figure kinds, ``curate.kinds``) and ``near_dup`` (not a near-duplicate of an earlier
sample of the corpus, ``curate.near_dup``).

Where a definition needs a model or a list (fastText's ``lid.176.bin``, WordNet, the 21k synset ids, the
centroids), the user points at it (``curate.language_model`` ...). Without a language model the English test is
left out, and the report says so.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sciclip.errors import SciclipError

log = logging.getLogger(__name__)

FILTERS = ("clip_score", "basic", "text_based", "image_based", "kinds", "near_dup")


@dataclass
class Resources:
    """Files the definitions need (config ``curate``): none is shipped, each is the user's."""

    language_model: str | None = None  # fastText lid.176.bin
    wordnet: str | None = None  # WordNet 3.0 dict folder (NLTK's reader)
    synsets: str | None = None  # ImageNet-21k WordNet ids (n01440764, one per line)
    centroids: str | None = None  # (k, d) centroids of the pool's L/14 image embeddings (.npy or .pt)
    centroid_targets: str | None = None  # ImageNet-1k L/14 image embeddings (.npy or .pt)
    near_dup: str | None = None  # sorted u8,u8 uids of in-corpus near-duplicates to remove


# ---- the English test ------------------------------------------------------------------------------------

class English:
    """DataComp's fastText English test (``get_fasttext_language``: no lower-casing, newlines made spaces)."""

    def __init__(self, model_path: str | None) -> None:
        self.model = None
        if model_path:
            from sciclip.docs.web_models import LanguageId
            self.model = LanguageId(model_path).model

    @property
    def active(self) -> bool:
        return self.model is not None

    def mask(self, texts: list[str]) -> np.ndarray:
        if self.model is None:
            return np.ones(len(texts), bool)
        if not texts:
            return np.zeros(0, bool)
        labels, _ = self.model.predict([t.replace("\n", " ") for t in texts], k=1)
        return np.array([bool(lab) and lab[0] == "__label__en" for lab in labels], bool)


def fasttext_words(text: str) -> int:
    """fastText's own tokenisation (``fasttext.tokenize``), which image_based's caption filter counts."""
    import fasttext
    return len(fasttext.tokenize(text))


# ---- loading arrays ---------------------------------------------------------------------------------------

def load_array(path: str | Path, what: str) -> np.ndarray:
    """A float matrix from .npy, or a torch file holding a tensor, a dict with one (DataComp's ImageNet
    embeddings: ``image_features``), or a numpy array (DataComp's centroids are pickled numpy arrays)."""
    p = Path(path)
    if not p.is_file():
        raise SciclipError(f"{p}: no such {what} file")
    try:
        if p.suffix == ".npy":
            arr = np.load(p)
        else:
            import torch
            # a pickled numpy array names numpy's reconstructor under numpy 1's module path or numpy 2's
            rebuild = np._core.multiarray._reconstruct  # noqa: SLF001 - the function numpy's pickles call
            torch.serialization.add_safe_globals([
                np.ndarray, np.dtype, type(np.dtype(np.float32)), type(np.dtype(np.float64)),
                (rebuild, "numpy.core.multiarray._reconstruct"), (rebuild, "numpy._core.multiarray._reconstruct")])
            obj = torch.load(p, map_location="cpu", weights_only=True)
            if isinstance(obj, dict):
                obj = obj.get("image_features", next((v for v in obj.values() if hasattr(v, "shape")), None))
            arr = obj.float().numpy() if hasattr(obj, "float") and hasattr(obj, "numpy") else np.asarray(obj)
    except Exception as e:  # numpy and torch raise many kinds: all mean "not such a file"
        raise SciclipError(f"{p}: not a {what} file ({type(e).__name__}: {e})") from None
    if arr.ndim != 2:
        raise SciclipError(f"{p}: expected a 2-d {what} array, got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)


# ---- definitions ------------------------------------------------------------------------------------------

class Filter:
    """One definition: the parquet columns and npz arrays it reads, and a keep-mask per file."""

    name = ""
    columns: tuple[str, ...] = ()
    arrays: tuple[str, ...] = ()

    def prepare(self, parquets: list[Path]) -> None:
        """Whole-pool work before masks (the fraction's threshold)."""

    def mask(self, table: pa.Table, arrays: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> dict:
        return {}


class ClipScore(Filter):
    name = "clip_score"

    def __init__(self, model: str = "l14", threshold: float | None = None, fraction: float | None = None) -> None:
        if (threshold is None) == (fraction is None):
            raise SciclipError("clip_score: give exactly one of threshold and fraction")
        if fraction is not None and not 0 < fraction < 1:
            raise SciclipError(f"clip_score: fraction {fraction} is not between 0 and 1")
        self.column = f"clip_{model}_similarity_score"
        self.columns = (self.column,)
        self.model, self.threshold, self.fraction = model, threshold, fraction

    def prepare(self, parquets: list[Path]) -> None:
        if self.fraction is not None:
            self.threshold = fraction_threshold(parquets, self.column, self.fraction)

    def mask(self, table, arrays):
        scores = table.column(self.column).to_numpy(zero_copy_only=False)
        return scores >= np.asarray(self.threshold, dtype=scores.dtype)

    def describe(self) -> dict:
        return {"model": self.model, "fraction": self.fraction, "threshold": float(self.threshold)}


class Basic(Filter):
    name = "basic"
    columns = ("text", "original_width", "original_height")

    def __init__(self, english: English, min_words: int = 3, min_chars: int = 6, min_side: int = 200,
                 max_aspect_ratio: float = 3.0) -> None:
        self.english = english
        self.min_words, self.min_chars, self.min_side, self.max_aspect = min_words, min_chars, min_side, max_aspect_ratio

    def mask(self, table, arrays):
        texts = table.column("text").to_pylist()
        w = table.column("original_width").to_numpy(zero_copy_only=False).astype(np.float64)
        h = table.column("original_height").to_numpy(zero_copy_only=False).astype(np.float64)
        words = np.array([len(t.split()) for t in texts], np.int64)
        chars = np.array([len(t) for t in texts], np.int64)
        short, long_ = np.minimum(w, h), np.maximum(w, h)
        with np.errstate(divide="ignore", invalid="ignore"):
            aspect = long_ / short
        return (self.english.mask(texts) & (words >= self.min_words) & (chars >= self.min_chars)
                & (short >= self.min_side) & (aspect <= self.max_aspect))

    def describe(self) -> dict:
        return {"english": self.english.active, "min_words": self.min_words, "min_chars": self.min_chars,
                "min_side": self.min_side, "max_aspect_ratio": self.max_aspect}


class TextBased(Filter):
    name = "text_based"
    columns = ("text",)

    def __init__(self, english: English, wordnet: str | None, synsets: str | None) -> None:
        if not wordnet or not synsets:
            raise SciclipError("text_based needs curate.wordnet (a WordNet 3.0 dict folder) and curate.synsets "
                               "(the ImageNet-21k WordNet ids)")
        self.english = english
        self.entities = _synset_offsets(synsets)
        self.first_offset = _wordnet_first_offset(wordnet)

    def mask(self, table, arrays):
        texts = table.column("text").to_pylist()
        named = np.array([any(self.first_offset(w) in self.entities for w in t.split()) for t in texts], bool)
        return self.english.mask(texts) & named

    def describe(self) -> dict:
        return {"english": self.english.active, "synsets": len(self.entities)}


def _synset_offsets(path: str) -> frozenset[int]:
    p = Path(path)
    try:
        lines = [x.strip() for x in p.read_text().splitlines() if x.strip()]
        return frozenset(int(x[1:]) for x in lines)  # "n01440764" -> 1440764, as apply_filter.py reads them
    except OSError as e:
        raise SciclipError(f"{p}: cannot read the synset list ({e.strerror})") from None
    except ValueError:
        raise SciclipError(f"{p}: not a list of WordNet ids such as n01440764") from None


def _wordnet_first_offset(folder: str):
    """word -> offset of NLTK's first synset for it (None when it has none), cached per word."""
    root = Path(folder)
    if not (root / "lexnames").is_file():
        raise SciclipError(f"{root}: not a WordNet 3.0 dict folder (no lexnames file)")
    try:
        import warnings

        import nltk.data
        from nltk.corpus.reader.wordnet import WordNetCorpusReader

        # NLTK reads corpora only below its data paths: the folder the user configured is one
        if str(root.resolve()) not in nltk.data.path:
            nltk.data.path.append(str(root.resolve()))
        class Reader(WordNetCorpusReader):
            def map_wn(self, version="wordnet"):
                return None  # the mapping between WordNet versions serves the multilingual data only

        with warnings.catch_warnings():  # "multilingual functions are not available": not used here
            warnings.simplefilter("ignore")
            reader = Reader(str(root.resolve()), None)
    except Exception as e:  # NLTK's reader raises many kinds on a broken folder
        raise SciclipError(f"{root}: cannot read WordNet ({type(e).__name__}: {e})") from None

    @functools.lru_cache(maxsize=1 << 20)
    def first(word: str) -> int | None:
        synsets = reader.synsets(word)
        return synsets[0].offset() if synsets else None

    return first


class ImageBased(Filter):
    name = "image_based"
    columns = ("text",)
    arrays = ("l14_img",)

    def __init__(self, english: English, centroids: str | None, targets: str | None, model: str = "l14") -> None:
        if not centroids or not targets:
            raise SciclipError("image_based needs curate.centroids (the pool's centroids) and "
                               "curate.centroid_targets (ImageNet-1k image embeddings)")
        self.english = english
        self.arrays = (f"{model}_img",)
        self.centroids = load_array(centroids, "centroids")
        target = load_array(targets, "target embeddings")
        if target.shape[1] != self.centroids.shape[1]:
            raise SciclipError(f"{targets}: {target.shape[1]}-d embeddings, the centroids are "
                               f"{self.centroids.shape[1]}-d")
        self.targets = np.unique(self.nearest(target))

    def nearest(self, x: np.ndarray, batch: int = 65_536) -> np.ndarray:
        out = np.empty(len(x), np.int64)
        for i in range(0, len(x), batch):
            out[i:i + batch] = np.argmax(x[i:i + batch].astype(np.float32) @ self.centroids.T, axis=1)
        return out

    def mask(self, table, arrays):
        texts = table.column("text").to_pylist()
        emb = arrays[self.arrays[0]]
        if emb.shape[1] != self.centroids.shape[1]:
            raise SciclipError(f"{self.arrays[0]} is {emb.shape[1]}-d, the centroids are {self.centroids.shape[1]}-d")
        caption = np.array([fasttext_words(t) > 1 and len(t) > 5 for t in texts], bool) & self.english.mask(texts)
        return caption & np.isin(self.nearest(emb), self.targets)

    def describe(self) -> dict:
        return {"english": self.english.active, "centroids": len(self.centroids), "target_centroids": len(self.targets)}


class Kinds(Filter):
    name = "kinds"
    columns = ("kind",)

    def __init__(self, keep: list[str] | None = None, drop: list[str] | None = None) -> None:
        if bool(keep) == bool(drop):
            raise SciclipError("kinds: give keep or drop (a list of kinds)")
        self.keep, self.drop = keep, drop

    def mask(self, table, arrays):
        kinds = table.column("kind").to_pylist()
        if self.keep:
            return np.array([k in self.keep for k in kinds], bool)
        return np.array([k not in self.drop for k in kinds], bool)

    def describe(self) -> dict:
        return {"keep": self.keep} if self.keep else {"drop": self.drop}


class NearDup(Filter):
    name = "near_dup"
    columns = ("uid",)

    def __init__(self, removed: str | None) -> None:
        from sciclip.shards.subset_file import load_subset

        if not removed:
            raise SciclipError("near_dup needs the near-duplicate list (sciclip near-dup --out)")
        self.removed = np.asarray(load_subset(removed))

    def mask(self, table, arrays):
        from sciclip.shards.subset_file import hex_to_pairs, multiplicity

        pairs = hex_to_pairs(np.array(table.column("uid").to_pylist(), dtype="S32"))
        return multiplicity(self.removed, pairs) == 0

    def describe(self) -> dict:
        return {"near_duplicates": len(self.removed)}


def build_filters(spec: dict, res: Resources) -> list[Filter]:
    """Filters of one filter set from its config (``{clip_score: {...}, basic: true, ...}``), in FILTERS order."""
    unknown = sorted(set(spec) - set(FILTERS))
    if unknown:
        raise SciclipError(f"unknown filter(s) {', '.join(unknown)} (known: {', '.join(FILTERS)})")
    english = None

    def lang() -> English:
        nonlocal english
        english = english or English(res.language_model)
        return english

    out: list[Filter] = []
    for name in FILTERS:
        opts = spec.get(name)
        if opts is None or opts is False:
            continue
        opts = {} if opts is True else dict(opts)
        if name == "clip_score":
            out.append(ClipScore(**opts))
        elif name == "basic":
            out.append(Basic(lang(), **opts))
        elif name == "text_based":
            out.append(TextBased(lang(), res.wordnet, res.synsets))
        elif name == "image_based":
            out.append(ImageBased(lang(), res.centroids, res.centroid_targets, **opts))
        elif name == "kinds":
            out.append(Kinds(**opts))
        elif name == "near_dup":
            out.append(NearDup(res.near_dup))
    if not out:
        raise SciclipError("a filter set needs at least one filter")
    return out


# ---- the fraction's threshold with bounded memory -----------------------------------------------------------

def _ordered(values: np.ndarray) -> np.ndarray:
    """Unsigned keys that sort as the floats do (sign bit flipped for positives, all bits for negatives)."""
    if values.dtype == np.float32:
        b = values.view(np.uint32)
        return np.where(b >> np.uint32(31), ~b, b | np.uint32(1 << 31))
    b = values.astype(np.float64).view(np.uint64)
    return np.where(b >> np.uint64(63), ~b, b | np.uint64(1 << 63))


def _column(path: Path, column: str) -> np.ndarray:
    try:
        values = pq.read_table(path, columns=[column]).column(column).to_numpy(zero_copy_only=False)
    except (OSError, pa.ArrowException, KeyError) as e:
        raise SciclipError(f"{path}: no column {column} ({type(e).__name__})") from None
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float64)
    return values


def fraction_threshold(parquets: list[Path], column: str, fraction: float) -> float:
    """DataComp's ``get_threshold``: ``-np.sort(-scores)[int(n * fraction)]`` over every file, found exactly in
    two passes with memory bounded by one file and one bucket: the first counts scores per bucket of their top
    16 bits (in sort order), the second sorts only the bucket the rank falls in."""
    counts = np.zeros(1 << 16, np.int64)
    n = 0
    dtype = None
    for p in parquets:
        v = _column(p, column)
        dtype = dtype or v.dtype
        keys = _ordered(v.astype(dtype))
        shift = 8 * keys.dtype.itemsize - 16
        counts += np.bincount((keys >> shift).astype(np.int64), minlength=1 << 16)
        n += len(v)
    if n == 0:
        raise SciclipError(f"no {column} values to take a fraction of")
    rank = int(n * fraction)  # the index into the descending order, as apply_filter.py computes it
    above = np.cumsum(counts[::-1])  # above[i]: values in the i+1 highest buckets
    top = int(np.searchsorted(above, rank, side="right"))  # the bucket (counted from the top) holding the rank
    bucket = (1 << 16) - 1 - top
    skip = rank - (int(above[top - 1]) if top else 0)
    inside = []
    for p in parquets:
        v = _column(p, column).astype(dtype)
        keys = _ordered(v)
        shift = 8 * keys.dtype.itemsize - 16
        inside.append(v[(keys >> shift) == bucket])
    vals = np.sort(np.concatenate(inside))[::-1]
    return float(vals[skip])
