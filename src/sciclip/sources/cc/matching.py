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

import ahocorasick

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

    Duplicate entries (the same string at two ids) both match, as in the reference. Building takes a few
    seconds for 500,000 entries; one matcher serves a whole job (worker processes inherit it by fork).
    """

    def __init__(self, metadata: Sequence[str]) -> None:
        self.size = len(metadata)
        first: dict[str, int] = {}
        self.more: dict[int, tuple[int, ...]] = {}  # first id -> the other ids of the same string
        for i, entry in enumerate(metadata):
            padded = f" {entry} "
            if padded in first:
                j = first[padded]
                self.more[j] = self.more.get(j, ()) + (i,)
            else:
                first[padded] = i
        # STORE_INTS: matches come back as plain ints, the cheapest thing pyahocorasick can yield
        self.automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS, ahocorasick.KEY_STRING)
        for padded, i in first.items():
            self.automaton.add_word(padded, i)
        self.automaton.make_automaton()
        self.empty = not first

    def match(self, text: str) -> list[int]:
        if self.empty:
            return []
        found = [i for _, i in self.automaton.iter(spacing(text))]
        if self.more:
            found += [j for i in found if i in self.more for j in self.more[i]]
        if len(found) > 1:
            found = sorted(set(found))
        return found
