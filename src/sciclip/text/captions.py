"""Caption conventions shared by every source: whitespace, and how a sub-figure's caption combines with
its figure's."""

from __future__ import annotations


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
