"""Caption conventions shared by every source: whitespace, and how a sub-figure's caption combines with
its figure's."""

from __future__ import annotations

import re


def normalise_space(text: str) -> str:
    return " ".join(text.split())


_TERMINAL = (".", "!", "?", ":", ";")


def compose_caption(main: str | None, sub: str | None, sublabel: str | None, mode: str) -> str:
    """The sample's caption from a main caption and a subfigure caption.

    ``combine`` puts the subcaption first (it says what this panel shows; CLIP truncates long text)
    followed by the figure's caption; ``sub`` and ``main`` keep one of them (falling back to the other).
    """
    sub_full = normalise_space(f"{sublabel or ''} {sub}") if sub else ""
    main = main or ""
    if mode == "main":
        return main or sub_full
    if mode == "sub":
        return sub_full or main
    if sub_full and main:
        sep = " " if sub_full.endswith(_TERMINAL) else ". "
        return sub_full + sep + main
    return sub_full or main


_PLACEHOLDER = re.compile(r"\(\s*<ref>\s*\)|<ref>|<cit\.>")
_SPACE_BEFORE = re.compile(r"\s+([,.;:!?)\]])")
_EMPTY_BRACKETS = re.compile(r"\(\s*[,;]?\s*\)|\[\s*[,;]?\s*\]")
_LIST_LEFTOVER = re.compile(r"(?:\s*[,;]\s*)+(?=[,;.:!?)\]]|$)")
_DOUBLE_STOP = re.compile(r"(?<!\.)\.\.(?!\.)")


def drop_placeholders(text: str) -> str:
    """Remove ``<ref>``/``(<ref>)``/``<cit.>`` and repair what they leave: spaces before punctuation, empty
    brackets, dangling separators and doubled full stops ("see Fig. <ref>." -> "see Fig.")."""
    out = _PLACEHOLDER.sub("", text)
    for _ in range(2):  # "(<ref>, <ref>)" needs the brackets removed after the separators
        out = normalise_space(out)
        out = _SPACE_BEFORE.sub(r"\1", out)
        out = _LIST_LEFTOVER.sub("", out)
        out = _EMPTY_BRACKETS.sub("", out)
    out = _DOUBLE_STOP.sub(".", normalise_space(_SPACE_BEFORE.sub(r"\1", out)))
    return out.strip(" ,;")


def caption_text(body: str, label: str, with_label: bool, placeholders: str) -> str:
    """The caption as every source writes it: the body, optionally after the figure's label, with
    cross-reference and citation placeholders kept or dropped."""
    text = drop_placeholders(body) if placeholders == "drop" else body
    return normalise_space(f"{label} {text}") if with_label and label else text
