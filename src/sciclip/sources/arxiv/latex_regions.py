"""Finding figure regions in a document body by scanning ``\\begin``/``\\end`` and graphics macros, before any
LaTeX parsing: cheap, and robust to the unbalanced markup that real papers contain."""

from __future__ import annotations

import re

from sciclip.text.latex_context import FIGURE_ENVS, GRAPHIC_MACROS, TABLE_ENVS, VERBATIM_ENVS
from sciclip.text.latex_macros import read_group

_ENV_RE = re.compile(r"\\(begin|end)\s*\{([^{}]+)\}")
GRAPHIC_USE_RE = re.compile(r"\\(" + "|".join(sorted(GRAPHIC_MACROS, key=len, reverse=True)) + r")(?![A-Za-z@])")


def env_spans(text: str) -> list[tuple[str, int, int]]:
    """(name, start, end) of every environment, tolerating unbalanced \\begin/\\end; verbatim-like
    environments are skipped whole so their contents cannot open figures."""
    spans = []
    stack: list[tuple[str, int]] = []
    pos = 0
    while True:
        m = _ENV_RE.search(text, pos)
        if m is None:
            break
        kind, name = m.group(1), m.group(2).strip()
        pos = m.end()
        if kind == "begin":
            if name in VERBATIM_ENVS:
                end = re.compile(r"\\end\s*\{" + re.escape(name) + r"\}").search(text, pos)
                stop = end.end() if end else len(text)
                spans.append((name, m.start(), stop))
                pos = stop
                continue
            stack.append((name, m.start()))
        else:
            for k in range(len(stack) - 1, -1, -1):
                if stack[k][0] == name:
                    spans.append((name, stack[k][1], m.end()))
                    del stack[k:]
                    break
    spans.sort(key=lambda s: s[1])
    return spans


def _enclosing_group(text: str, pos: int) -> tuple[int, int] | None:
    """The innermost brace group around ``pos``."""
    depth = 0
    i = pos - 1
    while i >= 0:
        c = text[i]
        if c in "{}" and not _escaped(text, i):
            if c == "}":
                depth += 1
            elif depth == 0:
                g = read_group(text, i)
                return (i, g[1]) if g else None
            else:
                depth -= 1
        i -= 1
    return None


def _escaped(text: str, i: int) -> bool:
    n = 0
    while i - 1 - n >= 0 and text[i - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


def figure_regions(body: str) -> tuple[list[tuple[str, int, int]], int]:
    """Regions to parse — outermost floats and the container of each \\captionof outside floats — and
    the number of graphics outside all of them (uncaptioned inline graphics)."""
    spans = env_spans(body)
    floats: list[tuple[str, int, int]] = []
    for name, s, e in spans:
        if (name in FIGURE_ENVS or name in TABLE_ENVS) and not any(fs <= s and e <= fe for _, fs, fe in floats):
            floats.append((name, s, e))
    regions = list(floats)
    for m in re.finditer(r"\\captionof(?![A-Za-z@])", body):
        p = m.start()
        if any(s <= p < e for _, s, e in regions):
            continue
        container = [(s, e) for name, s, e in spans
                     if s <= p < e and name not in ("document", "itemize", "enumerate", "description")
                     and name not in VERBATIM_ENVS]
        group = _enclosing_group(body, p)
        cands = container + ([group] if group else [])
        if cands:
            s, e = min(cands, key=lambda se: se[1] - se[0])
        else:  # the paragraph around it
            s = max(body.rfind("\n\n", 0, p), 0)
            e = body.find("\n\n", p)
            e = len(body) if e < 0 else e
        regions.append(("captionof", s, e))
    regions.sort(key=lambda r: r[1])
    loose = sum(1 for m in GRAPHIC_USE_RE.finditer(body)
                if not any(s <= m.start() < e for _, s, e in regions)
                and not any(s <= m.start() < e for n, s, e in spans if n in VERBATIM_ENVS))
    return regions, loose
