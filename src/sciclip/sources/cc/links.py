"""What a page says about its images: absolute URLs, texts as MetaCLIP cleans them, and page opt-outs.

WAT and WARC pages differ in where these come from, not in what they mean, so both parsers use these.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

# The opt-out directives img2dataset honours on images; a page that sends them about itself opts its
# images' texts out too (the alt text is the page author's).
OPT_OUT = frozenset({"noai", "noimageai"})


def resolve(ref: str, base: str) -> str | None:
    """``ref`` made absolute against ``base``; None unless the result is an http(s) URL with a host."""
    ref = ref.strip()
    if not ref:
        return None
    try:
        url = urljoin(base, ref) if base else ref
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 literal in a hand-written src
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


_PLAIN = re.compile(r"[^\x00-\x20\x7f;\[\]\\]*")  # no control characters, params, IPv6 brackets, backslashes
_DOTS = re.compile(r"(?:^|/)\.{1,2}(?:/|$)")
# a base urljoin only concatenates onto: lower-case http(s), a plain host[:port], non-empty path segments that
# are not dot segments, no params, ASCII with no controls or spaces (urlsplit strips or rejects those)
_SIMPLE_BASE = re.compile(r"(https?)://([A-Za-z0-9.-]+(?::[0-9]+)?)((?:/(?!\.\.?(?:[/?#]|$))[^/?#;\\\x00-\x20\x7f-\U0010ffff]+)*/?)"
                          r"(?:[?#][^\\\x00-\x20\x7f-\U0010ffff]*)?")


# What ``Resolver._general`` concatenates, recognised by one pattern: printable ASCII with no space, ``#``,
# ``;``, brackets or backslash (nothing ``strip`` or urlsplit would touch), an optional query that does not
# end in ``?``; an absolute http(s) URL with a host; a root-relative path; a relative path with no ``//``
# and no ``:`` in its first segment; neither path with a ``.`` or ``..`` segment.
_CH = r"A-Za-z0-9\-._~%!$&'()*+,=@"
_QUERY = rf"(?:\?[{_CH}:/?]*[{_CH}:/])?"
_NO_DOTS = r"(?!(?:[^?]*/)?\.\.?(?:[/?]|$))"
_FAST_REF = re.compile(rf"(?P<abs>https?://[{_CH}:][{_CH}:/]*{_QUERY})"
                       rf"|(?P<root>/(?!/){_NO_DOTS}[{_CH}:/]*{_QUERY})"
                       rf"|(?P<rel>{_NO_DOTS}[{_CH}]+(?:/[{_CH}:]+)*/?{_QUERY})")


class Resolver:
    """``resolve(ref, base)`` for many refs of one page, without urljoin for the common shapes.

    urljoin and urlsplit are most of the time a WAT file takes; for a plain absolute URL, a root-relative
    path or a relative path without dot segments, the result is a concatenation. Anything else (dot
    segments, ``;`` params, empty query or fragment, control characters, ``//`` inside a relative path,
    scheme-like first segments) takes the slow path; tests hold the two to the same answers.
    """

    def __init__(self, base: str) -> None:
        self.base = base
        self.scheme = ""
        m = _SIMPLE_BASE.fullmatch(base)
        if m:  # what urlsplit and urljoin(base, "x") give, without them (a page's worth of time in a WAT)
            scheme, netloc, path = m.groups()
            self.scheme, self.origin = scheme, f"{scheme}://{netloc}"
            self.dir = self.origin + path[:path.rfind("/") + 1] if path else self.origin + "/"
            return
        self._init_slow(base)

    def _init_slow(self, base: str) -> None:
        try:
            parts = urlsplit(base)
            probe = urljoin(base, "x")
        except ValueError:
            return
        if parts.scheme not in ("http", "https") or not parts.netloc or not probe.endswith("/x"):
            return
        self.scheme = parts.scheme
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.dir = probe[:-1]
        if not self.dir.startswith(self.origin + "/"):
            self.scheme = ""

    def __call__(self, ref: str) -> str | None:
        m = _FAST_REF.fullmatch(ref) if self.scheme else None
        if m:  # the usual shapes in one pattern (a third of the general checks' time)
            kind = m.lastgroup
            return ref if kind == "abs" else (self.origin if kind == "root" else self.dir) + ref
        return self._general(ref)

    def _general(self, ref: str) -> str | None:
        r = ref.strip()
        if (not r or not self.scheme or not _PLAIN.fullmatch(r) or r.endswith(("?", "#")) or "?#" in r
                or r[0] in "?#"):
            return resolve(ref, self.base)
        path = r.split("?", 1)[0].split("#", 1)[0]
        if r.startswith(("http://", "https://")):
            if r.split("//", 1)[1][:1] in ("", "/", "?", "#"):
                return resolve(ref, self.base)  # no host: urljoin reads it as relative
            return r
        if r.startswith("//") or _DOTS.search(path):
            return resolve(ref, self.base)
        if r.startswith("/"):
            return self.origin + r
        if "//" in path or ":" in path.split("/", 1)[0]:
            return resolve(ref, self.base)
        return self.dir + r


def page_base(target_uri: str, base_href: str | None) -> str:
    """The URL relative links resolve against: ``<base href>`` (itself resolved) else the page's URI."""
    if base_href and base_href.strip():
        resolved = resolve(base_href, target_uri)
        if resolved:
            return resolved
    return target_uri


def warc_text(value: str | None) -> str:
    """A WARC-path text as MetaCLIP's cc_matching keeps it: stripped, line breaks deleted."""
    if not value:
        return ""
    return value.strip().replace("\n", "").replace("\r", "")


def wat_text(value: object) -> str:
    """A WAT-path text as MetaCLIP keeps it: line breaks become spaces (stripped: blanks never match). A
    value that is not a string (a broken producer's number or object) is no text."""
    if not value or not isinstance(value, str):
        return ""
    return value.replace("\n", " ").replace("\r", " ").strip()


def header_values(headers: dict | None, name: str) -> list[str]:
    """Every value of a header in a WAT ``Headers`` object, case-insensitively: repeated headers are lists
    since CC-MAIN-2024-51, single ones strings."""
    if not headers:
        return []
    lname = name.lower()
    out: list[str] = []
    for key, value in headers.items():
        if key.lower() == lname:
            out += [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return out


def opted_out(robots_values: list[str], user_agent_token: str | None = None) -> bool:
    """True when an ``X-Robots-Tag`` value for every agent, or for ours, carries noai or noimageai; parsed
    as img2dataset parses it (``[agent:] directive, directive``)."""
    token = (user_agent_token or "").strip().lower() or None
    for value in robots_values:
        agent, sep, rest = value.partition(":")
        directives = rest if sep else agent
        scope = agent.strip().lower() if sep else None
        if (scope is None or scope == token) and any(d.strip().lower() in OPT_OUT for d in directives.split(",")):
            return True
    return False
