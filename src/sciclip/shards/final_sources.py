"""Which sources a final output mixes, and which it was configured to mix but does not.

``reshard.outputs`` names a mix (``mixed: [arxiv, pmc, cc]``); a source that is not enabled is left out of it,
so ``mixed`` can hold arXiv alone while the config names three sources. The merge job writes this record
beside the output's subset (``results/final/<name>.sources.json``) and says it in its log; the run's summary
and report read it, so a mix that lost a source says so where its size is shown.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sciclip.storage.atomic import atomic_write_bytes
from sciclip.storage.tables import read_json


def sources_record(used: list[str], configured: list[str]) -> dict:
    left_out = [s for s in configured if s not in used]
    return {"sources": list(used), "configured": list(configured),
            "left_out": {s: "not enabled (its branch is off in the config)" for s in left_out}}


def write_sources_record(path: str | os.PathLike, used: list[str], configured: list[str]) -> dict:
    record = sources_record(used, configured)
    atomic_write_bytes(path, (json.dumps(record, indent=2) + "\n").encode())
    return record


def sources_note(results: str | os.PathLike, name: str) -> str:
    """``from arxiv only; configured also pmc, cc (not enabled)``, or "" when the record is missing."""
    path = Path(results) / "final" / f"{name}.sources.json"
    if not path.is_file():
        return ""
    r = read_json(path, "a final output's sources record", ("sources", "configured", "left_out"))
    used = ", ".join(r["sources"]) or "no source"
    if not r["left_out"]:
        return f"from {used}"
    return f"from {used} only; configured also {', '.join(r['left_out'])} (not enabled)"
