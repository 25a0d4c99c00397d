"""A tiny WordNet 3.0 dict folder in the database format NLTK's reader reads (lexnames, index.*, data.*, *.exc):
the stand-in for a real WordNet in tests of DataComp's text-based filter."""

from __future__ import annotations

from pathlib import Path

HEADER = "  1 This software and database is being provided to you, the LICENSEE, by Princeton University. WordNet 3.0 Copyright 2006 by Princeton University.  All rights reserved.\n"  # noqa: E501
POS = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
LEXNAMES = "00\tadj.all\t3\n01\tadj.pert\t3\n02\tadv.all\t4\n03\tnoun.Tops\t1\n04\tnoun.act\t1\n05\tnoun.animal\t1\n"


def write_wordnet(folder: Path, synsets: dict[str, list[tuple[str, list[str], str]]]) -> dict[tuple[str, str], int]:
    """``synsets``: pos -> [(name, lemmas, gloss), ...] in sense order. Returns (pos, name) -> the synset's offset
    (the byte position of its line in data.<pos>, as in the real files)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lexnames").write_text(LEXNAMES)
    offsets: dict[tuple[str, str], int] = {}
    for pos, suffix in POS.items():
        lines, pos_offsets = [HEADER], []
        at = len(HEADER.encode())
        for name, lemmas, gloss in synsets.get(pos, []):
            words = " ".join(f"{w} 0" for w in lemmas)
            line = f"{at:08d} 05 {pos} {len(lemmas):02x} {words} 000 | {gloss}  \n"
            offsets[(pos, name)] = at
            pos_offsets.append((lemmas, at))
            lines.append(line)
            at += len(line.encode())
        (folder / f"data.{suffix}").write_text("".join(lines))
        index: dict[str, list[int]] = {}
        for lemmas, off in pos_offsets:
            for w in lemmas:
                index.setdefault(w.lower(), []).append(off)
        rows = [HEADER] + [f"{w} {pos} {len(o)} 0 {len(o)} 0 {' '.join(f'{x:08d}' for x in o)}  \n"
                           for w, o in sorted(index.items())]
        (folder / f"index.{suffix}").write_text("".join(rows))
        (folder / f"{suffix}.exc").write_text("")
    return offsets
