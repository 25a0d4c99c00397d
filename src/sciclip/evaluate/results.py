"""DataComp's results file (``eval_results.jsonl``) and the aggregates DataComp reports from it.

A line per task: ``{"key": task, "dataset": name, "metrics": {..., "main_metric": value}}`` (DataComp's
``evaluate.py``). The aggregates follow DataComp's ``aggregate_scores.py``: lines whose main metric is null
are dropped, exactly 38 must remain, ImageNet is ImageNet 1k, each group is the mean of its tasks' main
metrics, Average the mean of all 38. Lines of tasks outside DataComp's list (the science split, a user's own
set) are kept in the file but left out of the aggregates; because DataComp's script counts every line with a
main metric, a file that mixes both also gets a ``.datacomp.jsonl`` twin holding DataComp's lines alone.
Stdlib only (the workflow's table and report read these files).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.evaluate.tasks import AGGREGATES, AVERAGED, BY_KEY, GROUPS
from sciclip.storage.atomic import atomic_write_bytes


def clean(value):
    """JSON-safe metric values: numpy/torch scalars become floats; NaN and infinities become null (strict JSON;
    DataComp's file would hold a bare NaN for a group without samples)."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    return x if math.isfinite(x) else None


def result_line(key: str, name: str, metrics: dict, main_metric: str | None) -> dict:
    """One task's line; ``main_metric`` is the value of the task's main metric (null where it has none)."""
    metrics = clean(metrics)
    metrics["main_metric"] = metrics.get(main_metric) if main_metric else None
    return {"key": key, "dataset": name, "metrics": metrics}


def read_results(path: str | os.PathLike) -> list[dict]:
    """The lines of a results file (blank lines skipped); one error naming the line that is not a result."""
    out = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise SciclipError(f"{path}: cannot read ({e})") from None
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            raise SciclipError(f"{path}:{i}: not JSON ({e})") from None
        if not isinstance(row, dict) or not {"key", "dataset", "metrics"} <= set(row) or not isinstance(
                row["metrics"], dict):
            raise SciclipError(f"{path}:{i}: not a results line (needs key, dataset and a metrics object)")
        out.append(row)
    return out


def _dumps(lines: list[dict]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def datacomp_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["key"] in BY_KEY]


def aggregates(lines: list[dict]) -> dict[str, float] | None:
    """DataComp's aggregates over the lines of its own tasks, or None unless all 38 main metrics are there."""
    scored = [line for line in datacomp_lines(lines) if _number(line["metrics"].get("main_metric")) is not None]
    results = {line["dataset"]: float(line["metrics"]["main_metric"]) for line in scored}
    if len(scored) != AVERAGED or len(results) != AVERAGED:
        return None
    out = {"ImageNet": results["ImageNet 1k"]}
    for group, names in GROUPS.items():
        out[group] = sum(results[n] for n in names) / len(names)
    out["Average"] = sum(results.values()) / len(results)
    return {k: out[k] for k in AGGREGATES}


def _number(x):
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def summary_path(out: str | os.PathLike) -> Path:
    """``eval_results.jsonl`` -> ``eval_results.aggregates.json`` (beside it)."""
    out = Path(out)
    return out.with_name(f"{out.name.removesuffix('.jsonl')}.aggregates.json")


def datacomp_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(f"{out.name.removesuffix('.jsonl')}.datacomp.jsonl")


def write_results(out: str | os.PathLike, lines: list[dict]) -> list[Path]:
    """The results file; its DataComp-only twin when it mixes in other tasks; the aggregates when all 38 are
    there. Files of an earlier run that this one does not write are removed (they would describe other lines)."""
    out = Path(out)
    atomic_write_bytes(out, _dumps(lines))
    written = [out]
    ours = datacomp_lines(lines)
    twin = datacomp_path(out)
    if ours and len(ours) != len(lines):
        atomic_write_bytes(twin, _dumps(ours))
        written.append(twin)
    else:
        twin.unlink(missing_ok=True)
    agg = aggregates(lines)
    summary = summary_path(out)
    if agg is not None:
        atomic_write_bytes(summary, (json.dumps(agg, indent=1) + "\n").encode())
        written.append(summary)
    else:
        summary.unlink(missing_ok=True)
    return written
