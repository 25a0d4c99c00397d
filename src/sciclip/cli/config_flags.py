"""Config sections to command-line flags, by name: the workflow's one translation.

A config key and the option it sets share a name (``raster_timeout_s`` -> ``--raster-timeout-s``), so the
translation needs no table: it asks the command's own parser which options exist and renders the keys that
match one. Keys a command does not take are left out (other commands of the same section take them); nested
sections (``download: {retries: 4}``) are flattened; lists become comma-separated values; None is "not set".
"""

from __future__ import annotations

import argparse
import functools
import shlex
from collections.abc import Mapping


@functools.cache
def _options(command: str) -> dict[str, tuple[argparse.Action, ...]]:
    """dest -> the optional actions of ``command`` (e.g. "arxiv unit") that write it."""
    from sciclip.cli import build_parser

    parser: argparse.ArgumentParser = build_parser()
    for word in command.split():
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
        parser = sub.choices[word]
    out: dict[str, list[argparse.Action]] = {}
    for action in parser._actions:  # noqa: SLF001 - argparse has no public way to list a parser's options
        if action.option_strings and action.dest != "help":
            out.setdefault(action.dest, []).append(action)
    return {k: tuple(v) for k, v in out.items()}


def _long(action: argparse.Action) -> str:
    return next(o for o in action.option_strings if o.startswith("--"))


def _render(actions: tuple[argparse.Action, ...], value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bool):
        for a in actions:
            if isinstance(a, argparse._StoreConstAction) and a.const is value:  # noqa: SLF001
                return [_long(a)]
        return []  # only the opposite switch exists: its default is this value
    if isinstance(value, (list, tuple)):
        if not value:
            return []  # an empty list is "not set": the option's default (e.g. all fig types) applies
        value = ",".join(str(v) for v in value)
    action = next(a for a in actions if not isinstance(a, argparse._StoreConstAction))  # noqa: SLF001
    return [_long(action), str(value)]


def flag_list(command: str, *sections: Mapping, exclude: tuple[str, ...] = ()) -> list[str]:
    options = _options(command)
    flags: list[str] = []
    for section in sections:
        for key, value in section.items():
            if key in exclude:
                continue
            if isinstance(value, Mapping):
                flags += flag_list(command, value, exclude=exclude)
            elif key in options:
                flags += _render(options[key], value)
    return flags


def config_flags(command: str, *sections: Mapping, exclude: tuple[str, ...] = ()) -> str:
    """Shell-quoted flags of ``command`` for every key of ``sections`` it takes (but those in ``exclude``:
    keys the rule sets itself, such as ``workers`` from its ``threads``)."""
    return " ".join(shlex.quote(f) for f in flag_list(command, *sections, exclude=exclude))
