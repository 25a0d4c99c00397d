"""Comparing the experiments' runs: ``results/experiments/table.csv`` (a row per run, a column per task and
aggregate), its text form for the demo summary, and the report's page with the paper's figure (each run's
per-task difference to the first run, with where a model at chance level would sit).

Read back from each run's ``eval_results.jsonl``. Columns: the tasks of DataComp's list in its order, then
the others (the science split, a user's own sets) in the order they first appear, then DataComp's five
aggregates (empty unless a run has all 38 main metrics). Chance levels: DataComp's task list; for a
classification set outside it, 1 / its number of classes when its folder is found under a data root.
"""

from __future__ import annotations

import csv
import html
import io
import os
from pathlib import Path

from sciclip.evaluate.results import aggregates, read_results
from sciclip.evaluate.tasks import AGGREGATES, BY_KEY, DATACOMP_TASKS, chance_level, locate
from sciclip.storage.atomic import atomic_write_bytes, check_dir_target


def load_runs(runs: list[tuple[str, str | os.PathLike]]) -> tuple[list[str], dict[str, dict[str, float | None]],
                                                                  dict[str, str]]:
    """(task keys in column order, run -> key -> main metric, key -> task name)."""
    order = [t.key for t in DATACOMP_TASKS]
    values: dict[str, dict[str, float | None]] = {}
    names: dict[str, str] = {}
    extra: list[str] = []
    for run, path in runs:
        lines = read_results(path)
        values[run] = {line["key"]: line["metrics"].get("main_metric") for line in lines}
        agg = aggregates(lines)
        for a in AGGREGATES:
            values[run][a] = agg[a] if agg else None
        for line in lines:
            names[line["key"]] = line["dataset"]
            if line["key"] not in BY_KEY and line["key"] not in extra:
                extra.append(line["key"])
    present = {k for v in values.values() for k in v}
    keys = [k for k in order if k in present] + extra
    return keys, values, names


def write_table(runs: list[tuple[str, str | os.PathLike]], out: str | os.PathLike) -> list[str]:
    """``table.csv``: run, then each task's main metric (by task name), then the aggregates; returns the header."""
    keys, values, names = load_runs(runs)
    header = ["run", *(names[k] for k in keys), *AGGREGATES]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for run, _ in runs:
        w.writerow([run, *(_cell(values[run].get(k)) for k in [*keys, *AGGREGATES])])
    atomic_write_bytes(out, buf.getvalue().encode())
    return header


def _cell(x) -> str:
    return "" if x is None else repr(float(x))


def read_table(path: str | os.PathLike) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][:1] != ["run"]:
        raise ValueError(f"{path}: not an experiments table (first column 'run')")
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def table_lines(path: str | os.PathLike) -> list[str]:
    """The table turned on its side for a terminal: a row per task (and aggregate with a value), a column per
    run (main metric in %), and each later run's difference to the first."""
    header, rows = read_table(path)
    runs = [r["run"] for r in rows]
    columns = [c for c in header[1:] if any(r.get(c) for r in rows)]
    if not runs or not columns:
        return []
    width = max(len(c) for c in columns)
    head = f"  {'task':<{width}}  " + "  ".join(f"{r:>10}" for r in runs)
    if len(runs) > 1:
        head += "  " + "  ".join(f"{'d ' + r:>12}" for r in runs[1:])
    out = [head]
    for c in columns:
        vals = [_float(r.get(c)) for r in rows]
        line = f"  {c:<{width}}  " + "  ".join(f"{_pct(v):>10}" for v in vals)
        if len(runs) > 1:
            line += "  " + "  ".join(f"{_diff(v, vals[0]):>12}" for v in vals[1:])
        out.append(line)
    return out


def _float(x: str | None) -> float | None:
    return float(x) if x not in (None, "") else None


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _diff(v: float | None, base: float | None) -> str:
    return "-" if v is None or base is None else f"{100 * (v - base):+.1f} pt"


def chance_levels(keys: list[str], roots: list[str | os.PathLike]) -> dict[str, float]:
    """DataComp's chance levels; 1/classes for other classification sets found under ``roots``."""
    out = {}
    for k in keys:
        c = chance_level(k)
        if c is None and roots:
            data = locate(k, roots)
            names = data.folder / "classnames.txt" if data and data.folder else None
            if names is not None and names.is_file() and data.dataset_type == "classification":
                n = len([line for line in names.read_text().splitlines() if line.strip()])
                c = 1 / n if n else None
        if c is not None:
            out[k] = c
    return out


def differences_svg(keys: list[str], values: dict[str, dict], names: dict[str, str], chance: dict[str, float],
                    path: Path) -> None:
    """The paper's figure: per task, each later run's main metric minus the first run's (points), and a marker
    where a model at chance level would be (chance minus the first run)."""
    from sciclip.report.figures import _plt, _save

    plt = _plt()
    runs = list(values)
    base, others = runs[0], runs[1:]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(keys) + 2), 4.5))
    if not others or not keys:
        ax.text(0.5, 0.5, "one run: nothing to compare" if not others else "no tasks", ha="center", va="center")
        ax.set_axis_off()
        _save(fig, path)
        return
    width = 0.8 / len(others)
    cmap = plt.get_cmap("tab10")
    for i, run in enumerate(others):
        diffs = [_delta(values[run].get(k), values[base].get(k)) for k in keys]
        xs = [j + (i - (len(others) - 1) / 2) * width for j in range(len(keys))]
        ax.bar(xs, [0 if d is None else d for d in diffs], width=width, color=cmap(i % 10), label=f"{run} - {base}")
    marks = [(j, 100 * (chance[k] - values[base][k])) for j, k in enumerate(keys)
             if k in chance and values[base].get(k) is not None]
    if marks:
        ax.scatter([m[0] for m in marks], [m[1] for m in marks], marker="_", s=200, color="black", zorder=3,
                   label=f"chance level - {base}")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(range(len(keys)), [names.get(k, k) for k in keys], rotation=60, ha="right")
    ax.set_ylabel(f"difference to {base} (points)")
    ax.set_title(f"per-task difference to the first run ({base})")
    ax.legend(fontsize=8)
    _save(fig, path)


def _delta(v, base) -> float | None:
    return None if v is None or base is None else 100 * (float(v) - float(base))


def experiments_html(runs: list[tuple[str, str | os.PathLike]], chance: dict[str, float]) -> str:
    from sciclip.report.grid import STYLE

    keys, values, names = load_runs(runs)
    cols = [*keys, *(a for a in AGGREGATES if any(values[r].get(a) is not None for r in values))]
    head = "".join(f"<th>{html.escape(names.get(c, c))}</th>" for c in cols)
    rows = []
    for run in values:
        rows.append(f"<tr><td>{html.escape(run)}</td>"
                    + "".join(f"<td>{_pct(values[run].get(c))}</td>" for c in cols) + "</tr>")
    rows.append("<tr><td><i>chance</i></td>" + "".join(f"<td><i>{_pct(chance.get(c))}</i></td>" for c in cols)
                + "</tr>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>sciclip experiments</title>"
            f"<style>{STYLE}</style></head><body><h2>Experiments: main metric of each task per run</h2>"
            "<p>DataComp's main metric per task (accuracy, mean per-class recall, mean recall@1, ...), in %; the "
            "aggregates are DataComp's and need all 38 of its averaged tasks. results/experiments/table.csv has "
            "the same numbers.</p><table border='1' cellpadding='4' style='border-collapse:collapse'>"
            f"<tr><th>run</th>{head}</tr>{''.join(rows)}</table></body></html>")


def make_experiments_report(runs: list[tuple[str, str | os.PathLike]], out: str | os.PathLike,
                            roots: list[str | os.PathLike] = ()) -> list[Path]:
    out = Path(out)
    check_dir_target(out)
    out.mkdir(parents=True, exist_ok=True)
    keys, values, names = load_runs(runs)
    chance = chance_levels(keys, list(roots))
    atomic_write_bytes(out / "experiments.html", experiments_html(runs, chance).encode("utf-8"))
    differences_svg(keys, values, names, chance, out / "experiments.svg")
    return [out / "experiments.html", out / "experiments.svg"]
