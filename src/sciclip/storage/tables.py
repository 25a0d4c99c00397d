"""Reading the small text tables the stages hand each other (selections, indexes, member and unit lists).

They are inputs a person can point at the wrong file, so every way of failing (missing, a folder, binary
garbage, a missing column, a malformed number) ends as one ``<file>: <problem>`` line naming what was
expected, never as a traceback.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sciclip.errors import SciclipError

T = TypeVar("T")


def read_text(path: str | os.PathLike, what: str) -> str:
    """The UTF-8 text of ``path``; ``what`` names the expected kind of file in the error (e.g. "a unit list")."""
    p = Path(path)
    if p.is_dir():
        raise SciclipError(f"{p}: is a directory, not {what}")
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SciclipError(f"{p}: no such file (expected {what})") from None
    except UnicodeDecodeError:
        raise SciclipError(f"{p}: not {what} (not UTF-8 text)") from None
    except OSError as e:
        raise SciclipError(f"{p}: cannot read {what} ({e.strerror})") from None


def read_tsv(path: str | os.PathLike, columns: list[str], what: str) -> list[dict[str, str]]:
    """Rows of a TSV with a header that has at least ``columns``."""
    reader = csv.DictReader(io.StringIO(read_text(path, what), newline=""), delimiter="\t")
    try:
        header = reader.fieldnames or []
        rows = list(reader)
    except csv.Error as e:
        raise SciclipError(f"{path}: not {what} ({e})") from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise SciclipError(f"{path}: not {what} (no column {missing[0]!r} in the header)")
    return rows


def parse_rows(path: str | os.PathLike, rows: list[dict[str, str]], make: Callable[[dict[str, str]], T],
               what: str) -> list[T]:
    """``make(row)`` for every row; a malformed value names its line (the header is line 1)."""
    out = []
    for line, row in enumerate(rows, start=2):
        try:
            out.append(make(row))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise SciclipError(f"{path}: line {line}: not {what} ({type(e).__name__}: {e})") from None
    return out


def read_json(path: str | os.PathLike, what: str, keys: tuple[str, ...] = ()) -> dict:
    """A JSON object (job stats, a report) with at least ``keys``."""
    import json

    text = read_text(path, what)
    try:
        data = json.loads(text)
    except ValueError as e:
        raise SciclipError(f"{path}: not {what} (invalid JSON: {e})") from None
    if not isinstance(data, dict):
        raise SciclipError(f"{path}: not {what} (not a JSON object)")
    missing = [k for k in keys if k not in data]
    if missing:
        raise SciclipError(f"{path}: not {what} (no {missing[0]!r})")
    return data
