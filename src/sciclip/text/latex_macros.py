"""Paper-defined macros (\\newcommand, \\def, \\DeclareMathOperator) and their expansion.

pylatexenc converts known LaTeX to text but knows nothing of a paper's own macros, which are everywhere
in captions (``\\kepler``, ``\\figurelabel{x}``, ``\\response{...}`` wrapping a whole caption). This is a
deliberately small expander, not a TeX engine: it handles definitions whose body is plain LaTeX with
``#1..#9`` parameters (and one optional first argument), and leaves anything cleverer (``@`` internals,
nested definitions, delimited ``\\def`` parameters) untouched. Expansion is bounded in steps and size.

Spacing follows TeX, whose output the authors proofread: the blanks after a control word are skipped
(``\\model images`` with ``\\model`` -> ``Parti\\xspace`` is "Parti" + \\xspace + "images"), and
``\\xspace`` prints a space unless punctuation, a brace or a control space follows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_EXPANSIONS = 20_000
MAX_GROWTH = 4.0  # expanded text may be at most this many times the input (+ a constant)


@dataclass(frozen=True)
class Macro:
    name: str
    nargs: int
    body: str
    default: str | None = None  # value of an optional first argument


def skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def read_group(text: str, pos: int, open_: str = "{", close: str = "}") -> tuple[str, int] | None:
    """The contents of a balanced group starting at ``pos`` (which must hold ``open_``) and the end."""
    if pos >= len(text) or text[pos] != open_:
        return None
    depth = 0
    i = pos
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{" and open_ != "{":
            # square-bracket groups may contain braces: skip them whole
            inner = read_group(text, i)
            if inner is None:
                return None
            i = inner[1]
            continue
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return text[pos + 1:i], i + 1
        i += 1
    return None


def read_arg(text: str, pos: int) -> tuple[str, int] | None:
    """One mandatory TeX argument: a braced group or a single token (control sequence or character)."""
    pos = skip_space(text, pos)
    if pos >= len(text):
        return None
    if text[pos] == "{":
        return read_group(text, pos)
    if text[pos] == "\\":
        m = _CS_RE.match(text, pos)
        if m:
            return m.group(0), m.end()
    if text[pos] in "}":
        return None
    return text[pos], pos + 1


_CS_RE = re.compile(r"\\(?:[A-Za-z@]+|.)", re.S)
_DEF_START_RE = re.compile(
    r"\\(?P<kind>(?:re)?newcommand|providecommand|DeclareRobustCommand|DeclareMathOperator|def|gdef|edef|xdef)"
    r"(?P<star>\*)?(?![A-Za-z@])")


def collect_macros(text: str) -> dict[str, Macro]:
    """All simple macro definitions in ``text``, later ones overriding earlier ones (as \\renewcommand)."""
    macros: dict[str, Macro] = {}
    for m in _DEF_START_RE.finditer(text):
        parsed = _parse_definition(text, m)
        if parsed is None:
            continue
        macro = parsed
        if "@" in macro.name or "@" in macro.body or _DEF_START_RE.search(macro.body):
            continue
        if re.search(r"#(?![1-9])", macro.body) or len(macro.body) > 5000:
            continue
        if macro.kind_provide and macro.name in macros:
            continue
        macros[macro.name] = Macro(macro.name, macro.nargs, macro.body, macro.default)
    return macros


@dataclass
class _Parsed:
    name: str
    nargs: int
    body: str
    default: str | None
    kind_provide: bool


def _parse_definition(text: str, m: re.Match) -> _Parsed | None:
    kind = m.group("kind")
    pos = skip_space(text, m.end())
    if kind in ("def", "gdef", "edef", "xdef"):
        cs = _CS_RE.match(text, pos)
        if not cs:
            return None
        name = cs.group(0)[1:]
        pos = cs.end()
        # parameter text: only the plain "#1#2..." form is supported
        params = re.match(r"((?:#[1-9])*)\s*\{", text[pos:])
        if not params:
            return None
        nargs = len(params.group(1)) // 2
        body = read_group(text, pos + params.end() - 1)
        if body is None:
            return None
        return _Parsed(name, nargs, body[0], None, False)
    # \newcommand{\name}[n][default]{body}, or \newcommand\name...
    if pos < len(text) and text[pos] == "{":
        g = read_group(text, pos)
        if g is None:
            return None
        name = g[0].strip()
        pos = g[1]
    else:
        cs = _CS_RE.match(text, pos)
        if not cs:
            return None
        name = cs.group(0)
        pos = cs.end()
    if not name.startswith("\\"):
        return None
    name = name[1:]
    if kind == "DeclareMathOperator":
        body = read_arg(text, pos)
        if body is None:
            return None
        return _Parsed(name, 0, r"\operatorname{" + body[0] + "}", None, False)
    nargs = 0
    default = None
    pos = skip_space(text, pos)
    if pos < len(text) and text[pos] == "[":
        g = read_group(text, pos, "[", "]")
        if g is None or not g[0].strip().isdigit():
            return None
        nargs = int(g[0].strip())
        pos = skip_space(text, g[1])
        if pos < len(text) and text[pos] == "[":
            g = read_group(text, pos, "[", "]")
            if g is None:
                return None
            default = g[0]
            pos = skip_space(text, g[1])
    body = read_arg(text, pos)
    if body is None or nargs > 9:
        return None
    return _Parsed(name, nargs, body[0], default, kind == "providecommand")


_USE_RE = re.compile(r"\\([A-Za-z@]+)")


def expand_macros(text: str, macros: dict[str, Macro], only: set[str] | None = None) -> str:
    """Expand uses of ``macros`` (or of the subset named in ``only``) in ``text``, innermost first.

    A use whose arguments cannot be read is left as written. Definitions themselves are not expanded.
    """
    if not macros:
        return text
    names = set(macros) if only is None else (set(macros) & only)
    if not names or not any("\\" + n in text for n in names):
        return text
    limit = int(len(text) * MAX_GROWTH) + 100_000
    steps = 0
    pos = 0
    while steps < MAX_EXPANSIONS:
        m = _USE_RE.search(text, pos)
        if m is None:
            break
        name = m.group(1)
        if name not in names or _is_definition_site(text, m.start()):
            pos = m.end()
            continue
        macro = macros[name]
        args: list[str] = []
        p = m.end()
        ok = True
        if macro.default is not None:
            q = skip_space(text, p)
            if q < len(text) and text[q] == "[":
                g = read_group(text, q, "[", "]")
                if g is None:
                    ok = False
                else:
                    args.append(g[0])
                    p = g[1]
            else:
                args.append(macro.default)
        while ok and len(args) < macro.nargs:
            a = read_arg(text, p)
            if a is None:
                ok = False
                break
            args.append(a[0])
            p = a[1]
        if not ok:
            pos = m.end()
            continue
        if p == m.end():  # a bare control word: TeX's tokenizer dropped the spaces after it
            p = skip_tex_space(text, p)
        body = _substitute(macro.body, args)
        # TeX substitutes tokens, we substitute text: a control word must not fuse with a letter next to
        # it ("\eg\model" -> "e.g.\xspace Parti", not "\xspaceParti"). A space after a control word is
        # one TeX drops anyway, so it separates without changing the output (\xspace still sees the letter).
        if body[:1].isalpha() and _ENDS_IN_CONTROL_WORD.search(text, max(0, m.start() - 64), m.start()):
            body = " " + body
        if p < len(text) and (text[p].isalpha() or text[p] == "@") and _ENDS_IN_CONTROL_WORD.search(body):
            body += " "
        text = text[: m.start()] + body + text[p:]
        pos = m.start()
        steps += 1
        if len(text) > limit:
            break
    return text


_ENDS_IN_CONTROL_WORD = re.compile(r"(?<!\\)(?:\\\\)*\\[A-Za-z@]+$")


def skip_tex_space(text: str, pos: int) -> int:
    """Past the blanks TeX skips after a control word: spaces, and one end of line with the next line's
    indentation. A blank line is a paragraph break and stays."""
    q = pos
    while q < len(text) and text[q] in " \t":
        q += 1
    if text.startswith("\n", q) or text.startswith("\r\n", q):
        r = text.index("\n", q) + 1
        while r < len(text) and text[r] in " \t\r":
            r += 1
        return q if text.startswith("\n", r) else r
    return q


# What \xspace looks at (xspace.sty's exception list): no space is added before these.
_XSPACE_NO_SPACE_CHARS = set(",.'/?;:!~-)}{\n")
_XSPACE_NO_SPACE_CS = re.compile(r"\\(?:[ /\\]|(?:footnote|footnotemark|space|xspace|bgroup|egroup)(?![A-Za-z@]))")
_XSPACE_RE = re.compile(r"(?<!\\)((?:\\\\)*)\\xspace(?![A-Za-z@])")


def resolve_xspace(text: str) -> str:
    """Replace ``\\xspace`` by what it prints: a space, unless punctuation, a brace, a control space, a
    footnote or the end follows. Spaces after it were skipped by TeX's tokenizer, so they do not count
    ("Parti\\xspace images" and "Parti\\xspace{} images" differ by this)."""
    if "\\xspace" not in text:
        return text
    out: list[str] = []
    pos = 0
    for m in _XSPACE_RE.finditer(text):
        if m.start() < pos:
            continue
        nxt = skip_tex_space(text, m.end())
        follows = text[nxt:nxt + 1]
        space = bool(follows) and follows not in _XSPACE_NO_SPACE_CHARS and not _XSPACE_NO_SPACE_CS.match(text, nxt)
        out.append(text[pos:m.start()] + m.group(1) + (" " if space else ""))
        pos = nxt
    out.append(text[pos:])
    return "".join(out)


def _substitute(body: str, args: list[str]) -> str:
    return re.sub(r"#([1-9])", lambda g: args[int(g.group(1)) - 1] if int(g.group(1)) <= len(args) else "", body)


def _is_definition_site(text: str, start: int) -> bool:
    """True for the ``\\name`` right after \\newcommand{ / \\def, which must not be expanded."""
    before = text[max(0, start - 40):start]
    return bool(re.search(r"\\(?:(?:re)?newcommand|providecommand|DeclareRobustCommand|DeclareMathOperator|"
                          r"[gex]?def|let)\*?\s*\{?\s*$", before))
