"""The names of the sources sciclip knows, and their classes. A new source is one ``register`` call."""

from __future__ import annotations

from sciclip.errors import SciclipError
from sciclip.sources.base import Source

_SOURCES: dict[str, type[Source]] = {}
BUILTIN = ("arxiv", "pmc", "cc", "commonpool")  # fixed order, whatever was imported first: it is the column order of the shards


def register(cls: type[Source]) -> type[Source]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if not getattr(cls, "name", None):
        raise ValueError(f"{cls.__name__}: a source needs a name")
    _SOURCES[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    _SOURCES.pop(name, None)


def _load_builtin() -> None:
    # imported for their register() side effect; deferred so that importing the registry stays cheap
    import sciclip.sources.arxiv.extract  # noqa: F401
    import sciclip.sources.cc.source  # noqa: F401
    import sciclip.sources.commonpool.source  # noqa: F401
    import sciclip.sources.pmc.extract  # noqa: F401


def sources() -> dict[str, type[Source]]:
    """Every registered source class by name, built-in ones first."""
    _load_builtin()
    order = [n for n in BUILTIN if n in _SOURCES] + [n for n in _SOURCES if n not in BUILTIN]
    return {n: _SOURCES[n] for n in order}


def source_class(name: str) -> type[Source]:
    known = sources()
    if name not in known:
        raise SciclipError(f"unknown source {name!r} (known: {', '.join(known)})")
    return known[name]


def source_columns() -> list[str]:
    """The extra columns of all sources, in registration order, each once."""
    return list(source_column_types())


def source_column_types() -> dict[str, str]:
    """Each extra column's declared type, in registration order; two sources sharing a column must agree on it."""
    out: dict[str, str] = {}
    for name, cls in sources().items():
        for c, t in cls.columns.items():
            if out.setdefault(c, t) != t:
                raise SciclipError(f"source {name!r} declares column {c!r} as {t}, another source as {out[c]}")
    return out
