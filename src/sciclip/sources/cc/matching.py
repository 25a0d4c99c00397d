"""MetaCLIP's substring matching, defined once, and the Aho-Corasick automaton that computes it fast.

The definition (metaclip1/substr_matching.py): the text is padded with a space on each side; each of
``, . ; : ? ! ` `` gets a space on each side; tab, LF and CR become spaces. Entry ``e`` matches when
``" " + e + " "`` is a substring of that, case-sensitively. So an entry holding one of those marks
("U.S.") can never match, while "dog's" can. The reference loops over all 500,000 entries for every
text; an automaton over the padded entries finds exactly the same set (every occurrence, overlapping ones
included) in one pass over the text.
"""

from __future__ import annotations

from collections.abc import Sequence

import ahocorasick_rs

PUNCTS_TO_WRAP = (",", ".", ";", ":", "?", "!", "`")
CHARS_TO_SPACE = ("\t", "\n", "\r")
# one pass instead of ten str.replace calls: the replacements never create a character another one maps
_SPACING = str.maketrans({**{p: f" {p} " for p in PUNCTS_TO_WRAP}, **{c: " " for c in CHARS_TO_SPACE}})


def spacing(text: str) -> str:
    """The text as MetaCLIP's matcher sees it."""
    return f" {text} ".translate(_SPACING)


def naive_match(text: str, metadata: Sequence[str]) -> list[int]:
    """MetaCLIP's reference loop, verbatim in meaning: ids of the entries matching ``text``, ascending."""
    spaced = spacing(text)
    return [i for i, entry in enumerate(metadata) if f" {entry} " in spaced]


class Matcher:
    """Entry ids matching a text, as ``naive_match`` defines them, from an automaton over the padded entries.

    The automaton is Rust's aho-corasick (ahocorasick-rs) in overlapping mode, which reports every pattern
    ending at every position: ids come back straight from pattern indexes, duplicate entries (the same
    string at two ids) both match, as in the reference. It runs over UTF-8 bytes (``surrogatepass``: lone
    surrogates from lenient JSON stay matchable); a padded entry starts and ends with a space, so a byte
    match is a character match. Building takes a few seconds for 500,000 entries (~50 MB); one matcher
    serves a whole job (worker processes inherit it by fork).
    """

    def __init__(self, metadata: Sequence[str]) -> None:
        self.size = len(metadata)
        self.empty = not metadata
        if not self.empty:
            automaton = ahocorasick_rs.BytesAhoCorasick([_utf8(f" {e} ") for e in metadata])
            self._find = automaton.find_matches_as_indexes

    def match(self, text: str) -> list[int]:
        if self.empty:
            return []
        found = [i for i, _, _ in self._find(_spaced_utf8(text), True)]
        if len(found) > 1:
            found = sorted(set(found))
        return found


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _spaced_utf8(text: str) -> bytes:
    """``_utf8(spacing(text))`` at a third of the cost: bytes.replace runs at memchr speed, where translate
    looks each character up. Same bytes: every mark is ASCII (never inside a multi-byte sequence) and no
    replacement makes a mark another one replaces (``test_cc_match`` holds the two equal)."""
    return (b" " + text.encode("utf-8", "surrogatepass") + b" ").replace(b",", b" , ").replace(b".", b" . ").replace(b";", b" ; ").replace(
        b":", b" : ").replace(b"?", b" ? ").replace(b"!", b" ! ").replace(b"`", b" ` ").replace(
        b"\t", b" ").replace(b"\n", b" ").replace(b"\r", b" ")
