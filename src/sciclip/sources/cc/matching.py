"""MetaCLIP's substring matching, defined once, and a word trie that computes it fast, a batch at a time.

The definition (metaclip1/substr_matching.py): the text is padded with a space on each side; each of
``, . ; : ? ! ` `` gets a space on each side; tab, LF and CR become spaces. Entry ``e`` matches when
``" " + e + " "`` is a substring of that, case-sensitively. So an entry holding one of those marks
("U.S.") can never match, while "dog's" can. The reference loops over all 500,000 entries for every
text.

Cut at single spaces, the spaced text is a list of words (empty ones where spaces repeat), and an
occurrence of ``" " + e + " "`` starts and ends at one of its spaces, so it covers whole words: ``e``
matches exactly when its own words (``e.split(" ")``) are consecutive words of the text, the padding's
empty first and last words left out. The matcher walks a trie of the entries' words from every word of
every text in a batch at once: Arrow spaces and splits the texts, words become ids by hash (the bytes
compared, so equal means equal), and each step of the walk is a few numpy operations over all the
walks still going. An Aho-Corasick automaton over the entries' bytes (ahocorasick-rs) gave the same
answers at three times the cost: its 500,000 patterns make it memory-bound, one cache miss after
another for every byte of every text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sciclip.sources.cc.arrayhash import BinaryHasher, IntMap, offsets

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
    """Entry ids matching texts, as ``naive_match`` defines them, from a trie of the entries' words.

    Nodes ``0..V-1`` are the one-word prefixes (a node per distinct word, its id the word's); deeper nodes
    come from ``(node, next word)`` pairs. Each entry ends at a node; duplicate entries (the same string at
    two ids) end at the same one and both match, as in the reference. Texts and entries are compared as
    UTF-8 bytes (``surrogatepass``: a lone surrogate matches only itself, as in the reference); every mark
    is ASCII, so spacing bytes is spacing characters. Building takes a few seconds for 500,000 entries
    (~60 MB); one matcher serves a whole job (worker processes inherit it by fork).
    """

    def __init__(self, metadata: Sequence[str]) -> None:
        self.size = len(metadata)
        word_ids: dict[bytes, int] = {}
        entry_words = [_utf8(e).split(b" ") for e in metadata]
        for words in entry_words:
            for w in words:
                word_ids.setdefault(w, len(word_ids))
        self._v = v = len(word_ids)
        children: dict[int, int] = {}
        ends = np.empty(self.size, np.int64)
        for i, words in enumerate(entry_words):
            node = word_ids[words[0]]
            for w in words[1:]:
                node = children.setdefault(node * v + word_ids[w], v + len(children))
            ends[i] = node
        nodes = v + len(children)
        self._words = pa.array(list(word_ids), pa.large_binary())
        max_len = int(pc.max(pc.binary_length(self._words)).as_py() or 0)
        for salt in range(64):  # a base under which no two entry words share a hash (the first, in practice)
            self._hash = BinaryHasher(max_len, salt)
            hashes = self._hash(self._words)
            if len(np.unique(hashes)) == v:
                break
        else:
            raise RuntimeError("no hash base separates the metadata's words")
        self._word_of_hash = IntMap(hashes, np.arange(v))
        keys = np.fromiter(children, np.int64, len(children))
        self._child = IntMap(keys, np.fromiter(children.values(), np.int64, len(children)))
        self._has_child = np.zeros(nodes, bool)
        self._has_child[keys // max(v, 1)] = True
        order = np.argsort(ends, kind="stable")  # entry ids by end node, ascending within a node
        self._entry_ids = order.astype(np.int32)
        self._node_entries = np.searchsorted(ends[order], np.arange(nodes + 1))  # a node's slice of them

    def match(self, text: str) -> list[int]:
        """The ids of the entries matching ``text``, ascending."""
        return self.match_array(pa.array([_utf8(text)], pa.large_binary()))[0].as_py()

    def match_array(self, texts: pa.Array | pa.ChunkedArray) -> pa.ListArray:
        """The ids (ascending) of the entries matching each text: ``list<int32>``, aligned with ``texts``
        (strings or bytes; a null is an empty text). Each distinct text is matched once."""
        if isinstance(texts, pa.ChunkedArray):
            texts = texts.combine_chunks()
        n = len(texts)
        if not self.size or not n:
            return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], pa.int32()))
        texts = texts.cast(pa.large_binary()).fill_null(b"").dictionary_encode()  # alt texts repeat ("logo")
        return self._match_distinct(texts.dictionary).take(texts.indices)

    def matching_rows(self, table: pa.Table) -> pa.Table:
        """The rows of ``table`` whose ``text`` matches an entry, with their ``entry_ids`` column appended."""
        ids = self.match_array(table["text"])
        keep = pc.greater(pc.list_value_length(ids), 0)
        return table.filter(keep).append_column(pa.field("entry_ids", ids.type), ids.filter(keep))

    def _match_distinct(self, texts: pa.Array) -> pa.ListArray:
        n = len(texts)
        words = pc.split_pattern(_spaced(texts), b" ")
        bounds = offsets(words)
        flat = words.flatten()
        ids = self._word_ids(flat)
        text_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(bounds))
        stop = bounds[1:][text_of]  # one past each word's text's last word
        hit_texts, hit_nodes = self._walk(ids, text_of, stop)
        return self._entries_by_text(n, hit_texts, hit_nodes)

    def _word_ids(self, words: pa.Array) -> np.ndarray:
        """Each word's id, -1 for words no entry has; a hash hit counts only when the bytes are equal."""
        ids = self._word_of_hash.get(self._hash(words))
        found = np.flatnonzero(ids >= 0)
        same = pc.equal(words.take(pa.array(found)), self._words.take(pa.array(ids[found])))
        ids[found[~same.to_numpy(zero_copy_only=False)]] = -1
        return ids

    def _walk(self, ids: np.ndarray, text_of: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(text, node) of every entry end reached by a walk starting at any word: all walks advance one
        word a step, and a walk ends where the trie or its text does."""
        start = np.flatnonzero(ids >= 0)  # each walk's first word
        at, node = start, ids[start]  # its current word and node
        hit_texts, hit_nodes = [start[:0]], [start[:0]]
        node_entries = self._node_entries
        while len(node):
            ends_here = node_entries[node] < node_entries[node + 1]
            hit_texts.append(text_of[start[ends_here]])
            hit_nodes.append(node[ends_here])
            nxt = at + 1
            go = self._has_child[node] & (nxt < stop[start])
            nxt, node, start = nxt[go], node[go], start[go]
            word = ids[nxt]
            go = word >= 0
            nxt, node, start, word = nxt[go], node[go], start[go], word[go]
            child = self._child.get(node * self._v + word)
            go = child >= 0
            at, node, start = nxt[go], child[go], start[go]
        return np.concatenate(hit_texts), np.concatenate(hit_nodes)

    def _entries_by_text(self, n: int, texts: np.ndarray, nodes: np.ndarray) -> pa.ListArray:
        """The entry ids each node holds, gathered per text: sorted, each once (an entry can occur twice)."""
        first = self._node_entries[nodes]
        count = self._node_entries[nodes + 1] - first
        starts = np.cumsum(count) - count
        positions = np.repeat(first - starts, count) + np.arange(int(count.sum()))
        pairs = np.sort(np.repeat(texts, count) * self.size + self._entry_ids[positions])
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))] if len(pairs) else pairs
        bounds = np.searchsorted(pairs // self.size, np.arange(n + 1)).astype(np.int32)
        return pa.ListArray.from_arrays(pa.array(bounds), pa.array((pairs % self.size).astype(np.int32)))


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _spaced(texts: pa.Array) -> pa.Array:
    """``spacing`` of each text without the padding spaces (the words they add are never part of a match),
    two regular-expression passes over the batch; no replacement makes a mark another one replaces."""
    wrapped = pc.replace_substring_regex(texts, _MARK, r" \1 ")
    return pc.replace_substring_regex(wrapped, _BREAK, " ")


_MARK = "([" + "".join(PUNCTS_TO_WRAP) + "])"
_BREAK = "[" + "".join(CHARS_TO_SPACE) + "]"
