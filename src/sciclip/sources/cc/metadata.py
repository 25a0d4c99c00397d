"""The metadata list MetaCLIP matches against: loading the user's copy, or building one by its rules.

MetaCLIP's own 500,000 entries are CC-BY-NC and never shipped here: ``cc.metadata`` points at a copy (a
path, or a URL fetched once into a cache). ``build_metadata`` follows its build rules from open inputs, in
its order: "0".."99", WordNet synsets' first lemma names (read straight from the ``data.*`` files of
Debian's ``wordnet-base``, lower-cased as NLTK names synsets; underscores become spaces, adjective
markers such as ``(a)`` dropped: 86,571 distinct names), then
the user's unigrams with a count of at least ``min_count``, bigrams (with a PMI at least ``min_pmi`` when
the file has one) and titles (with at least ``min_views``). An entry already listed keeps its first id.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from sciclip.errors import SciclipError

WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
_ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")


def load_metadata(path: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> list[str]:
    """A metadata list (a JSON list of strings) from a path or an http(s)/s3 URL (fetched once)."""
    text = str(path)
    if "://" in text and not text.startswith("file://"):
        from urllib.parse import urlsplit

        from sciclip.storage.remote import SourceSpec, fetch

        parts = urlsplit(text)
        dest = Path(cache_dir or "resources/metadata") / Path(parts.path).name
        if not dest.is_file():
            root, _, key = text.rpartition("/")
            fetch(SourceSpec(root, unsigned=parts.scheme == "s3"), key, dest)
        text = str(dest)
    text = text.removeprefix("file://")
    try:
        data = json.loads(Path(text).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SciclipError(f"{text}: not a readable metadata list ({e})") from None
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise SciclipError(f"{text}: metadata must be a JSON list of strings")
    return data


def wordnet_lemmas(wordnet_dir: str | os.PathLike) -> Iterator[str]:
    """The first lemma name of every synset in the WordNet 3.0 data files, in file order (as NLTK's synset
    names have it: lower case)."""
    root = Path(wordnet_dir)
    found = False
    for name in WORDNET_FILES:
        path = root / name
        if not path.is_file():
            continue
        found = True
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):  # the licence header
                    continue
                fields = line.split(" ", 5)
                if len(fields) < 5:
                    continue
                yield _ADJ_MARKER.sub("", fields[4]).replace("_", " ").lower()
    if not found:
        raise SciclipError(f"{root}: no WordNet data files ({', '.join(WORDNET_FILES)}; Debian: wordnet-base)")


def scored_list(path: str | os.PathLike, minimum: float | None) -> Iterator[str]:
    """Entries of a user list: one per line, optionally ``entry<TAB>score``; with a score column, only
    entries whose score reaches ``minimum`` (a count, a PMI, page views)."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            entry, sep, score = line.rpartition("\t")
            if not sep:
                yield line
                continue
            try:
                value = float(score)
            except ValueError:
                raise SciclipError(f"{path}:{n}: the score column is not a number: {score!r}") from None
            if minimum is None or value >= minimum:
                yield entry


def build_metadata(wordnet: str | None = None, unigrams: str | None = None, bigrams: str | None = None,
                   titles: str | None = None, min_count: float = 100, min_pmi: float = 30,
                   min_views: float = 70, numbers: int = 100) -> tuple[list[str], dict[str, int]]:
    """The entry list and how many entries each part added (after duplicates)."""
    parts: list[tuple[str, Iterable[str]]] = [("numbers", (str(i) for i in range(numbers)))]
    if wordnet:
        parts.append(("wordnet", wordnet_lemmas(wordnet)))
    for name, path, minimum in (("unigrams", unigrams, min_count), ("bigrams", bigrams, min_pmi),
                                ("titles", titles, min_views)):
        if path:
            parts.append((name, scored_list(path, minimum)))
    seen: set[str] = set()
    entries: list[str] = []
    added: dict[str, int] = {}
    for name, items in parts:
        before = len(entries)
        for entry in items:
            if entry and entry not in seen:
                seen.add(entry)
                entries.append(entry)
        added[name] = len(entries) - before
    return entries, added
