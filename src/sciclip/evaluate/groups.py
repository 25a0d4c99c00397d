"""Worst-group and per-subgroup metrics of DataComp's WILDS and fairness tasks (``eval_utils/wilds_eval.py``,
``fairness_eval.py``), with the names and values DataComp writes.

DataComp computes them with the ``wilds`` package (2.0.0): ``CombinatorialGrouper``, ``Accuracy``, ``F1``,
``Recall`` and ``WILDSDataset.standard_group_eval``, with ``avg_over_groups`` replaced by a scatter-add divided
by the counts (so a group without samples gets NaN rather than wilds' 0). That package is not a dependency
here: importing it starts a thread that asks PyPI for a newer version (a network call in every evaluation job
and test) and pulls in ogb; the few functions DataComp uses are ported below, line for line in behaviour:

- groups: every combination of the grouping fields' values, numbered with the first field varying fastest
  (cardinality of a field = its largest value + 1, so values that never occur make empty groups); a group's
  name is ``field:value`` joined by ``_``, the last field first (``race:3_gender:1``);
- ``standard_group_eval(metric, grouper, ...)``: ``<metric>_avg`` over all samples, then per group
  ``<metric>_<group>`` and ``count_<group>``, and ``<metric>_wg``, the smallest value over non-empty groups;
- iWildCam: ``acc_avg``, ``recall-macro_all``, ``F1-macro_all`` (macro over the labels present);
  Camelyon17: accuracy by slide; FMoW: by year (``acc_worst_year``) and by region (``acc_worst_region``);
  Dollar Street: top-5 accuracy by income group (``acc_top5_wg``); GeoDE: accuracy by region (``acc_wg``);
  FairFace/UTKFace: race (white vs not), gender and age by ``race_binary``, gender by race x gender, and the
  share of crime-related / non-human toxic predictions by race.

Metadata is the integer matrix DataComp reads from each sample's ``npy`` (columns: the fields named below).
"""

from __future__ import annotations

import numpy as np

from sciclip.errors import SciclipError

# metadata columns of each task's npy, and the fields DataComp groups by
FIELDS = {
    "wilds/iwildcam": ["location", "sequence", "year", "month", "day", "hour", "minute", "second", "y"],
    "wilds/camelyon17": ["hospital", "slide", "y"],
    "wilds/fmow": ["region", "year", "y"],
    "fairness/dollar_street": ["income_ds", "income_meta", "region"],
    "fairness/geode": ["region", "country"],
    "fairness/fairface": ["age", "gender", "race", "race_binary"],
    "fairness/utkface": ["age", "gender", "race", "race_binary"],
}
FF_PRED_LABELS = ["race", "gender", "age", "toxic"]


class Grouper:
    """wilds' ``CombinatorialGrouper`` over a metadata matrix."""

    def __init__(self, metadata_fields: list[str], groupby_fields: list[str], metadata: np.ndarray) -> None:
        self.groupby_fields = groupby_fields
        self.indices = [i for i, f in enumerate(metadata_fields) if f in groupby_fields]
        if len(self.indices) != len(groupby_fields):
            raise SciclipError(f"group fields {groupby_fields} not all among {metadata_fields}")
        values = _as_int(metadata[:, self.indices], "metadata")
        if len(values) == 0:
            raise SciclipError("no samples to group")
        if values.min() < 0:
            raise SciclipError(f"metadata for the groups {groupby_fields} has values below 0")
        self.cardinality = 1 + values.max(axis=0)
        cumprod = np.cumprod(self.cardinality)
        self.n_groups = int(cumprod[-1])
        self.factors = np.concatenate(([1], cumprod[:-1])).astype(np.int64)

    def metadata_to_group(self, metadata: np.ndarray) -> np.ndarray:
        return _as_int(metadata[:, self.indices], "metadata") @ self.factors

    def group_field_str(self, group: int) -> str:
        """wilds' ``group_str(...).replace('=', ':').replace(',', '_').replace(' ', '')``: ``race:3_gender:1``
        (fields named by position in ``groupby_fields``, values by metadata column order, as wilds does)."""
        n = len(self.factors)
        values = [0] * n
        for i in range(n - 1):
            values[i] = (group % int(self.factors[i + 1])) // int(self.factors[i])
        values[n - 1] = group // int(self.factors[n - 1])
        return "_".join(f"{self.groupby_fields[i]}:{int(values[i])}" for i in reversed(range(n)))


def _as_int(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind in "iub":
        return x.astype(np.int64)
    if not np.all(np.isfinite(x)) or not np.all(x == np.round(x)):
        raise SciclipError(f"{what} holds non-integer values")
    return x.astype(np.int64)


def _worst(values: np.ndarray) -> float:
    """wilds' ``minimum``: the smallest non-NaN value, 0 when there is none."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    return float(values.min()) if len(values) else 0.0


def group_eval(name: str, elementwise: np.ndarray, grouper: Grouper, metadata: np.ndarray,
               aggregate: bool = True) -> dict[str, float]:
    """``standard_group_eval`` for an element-wise metric (accuracy, top-k accuracy): ``<name>_avg``, per
    group ``<name>_<group>`` (NaN for an empty group, as DataComp's patched average gives) and
    ``count_<group>``, and ``<name>_wg``."""
    elementwise = np.asarray(elementwise, dtype=np.float64)
    results: dict[str, float] = {}
    if aggregate:
        results[f"{name}_avg"] = float(elementwise.mean()) if len(elementwise) else 0.0
    group_metrics, counts = _group_means(elementwise, grouper, metadata)
    for g in range(grouper.n_groups):
        label = grouper.group_field_str(g)
        results[f"{name}_{label}"] = float(group_metrics[g])
        results[f"count_{label}"] = float(counts[g])
    results[f"{name}_wg"] = _worst(group_metrics[counts > 0])
    return results


def _group_means(elementwise: np.ndarray, grouper: Grouper, metadata: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = grouper.metadata_to_group(metadata)
    counts = np.bincount(g, minlength=grouper.n_groups).astype(np.float64)
    sums = np.bincount(g, weights=elementwise, minlength=grouper.n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts, counts


def accuracy(y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    return (np.asarray(y_pred) == np.asarray(y_true)).astype(np.float64)


def topk_accuracy(y_pred: np.ndarray, y_true: np.ndarray) -> np.ndarray:
    """DataComp's ``TopKAccuracy``: a hit when the label is among a sample's top-k predictions."""
    return (np.asarray(y_pred) == np.asarray(y_true)[:, None]).any(-1).astype(np.float64)


def _check(task: str, metadata: np.ndarray, n: int) -> np.ndarray:
    metadata = np.asarray(metadata)
    if metadata.ndim != 2 or metadata.shape[0] != n or metadata.shape[1] != len(FIELDS[task]):
        raise SciclipError(f"{task}: metadata of shape {metadata.shape}, expected ({n}, {len(FIELDS[task])}) "
                           f"for fields {FIELDS[task]}")
    return metadata


def wilds_metrics(task: str, y_pred: np.ndarray, y_true: np.ndarray, metadata: np.ndarray) -> dict[str, float]:
    """The metrics DataComp's WILDS evaluators add to the classification metrics."""
    from sklearn.metrics import f1_score, recall_score

    fields = FIELDS[task]
    metadata = _check(task, metadata, len(y_true))
    if task == "wilds/iwildcam":
        labels = np.unique(y_true)
        return {"acc_avg": float(accuracy(y_pred, y_true).mean()),
                "recall-macro_all": float(recall_score(y_true, y_pred, average="macro", labels=labels)),
                "F1-macro_all": float(f1_score(y_true, y_pred, average="macro", labels=labels))}
    if task == "wilds/camelyon17":
        return group_eval("acc", accuracy(y_pred, y_true), Grouper(fields, ["slide"], metadata), metadata)
    if task == "wilds/fmow":
        hits = accuracy(y_pred, y_true)
        results = group_eval("acc", hits, Grouper(fields, ["year"], metadata), metadata)
        results["acc_worst_year"] = results.pop("acc_wg")
        region = Grouper(fields, ["region"], metadata)
        means, counts = _group_means(hits, region, metadata)
        kept = []
        for g in range(region.n_groups):
            label = region.group_field_str(g)
            results[f"acc_{label}"] = float(means[g])
            results[f"count_{label}"] = float(counts[g])
            # DataComp also skips a group named "Other", which cannot happen: its grouper has no value names
            if counts[g] == 0 or "Other" in label:
                continue
            kept.append(float(means[g]))
        results["acc_worst_region"] = min(kept) if kept else 0.0
        return results
    raise SciclipError(f"{task}: not a WILDS task")


def dollar_street_metrics(top5: np.ndarray, y_true: np.ndarray, metadata: np.ndarray) -> dict[str, float]:
    task = "fairness/dollar_street"
    metadata = _check(task, metadata, len(y_true))
    return group_eval("acc_top5", topk_accuracy(top5, y_true), Grouper(FIELDS[task], ["income_ds"], metadata),
                      metadata)


def geode_metrics(y_pred: np.ndarray, y_true: np.ndarray, metadata: np.ndarray) -> dict[str, float]:
    task = "fairness/geode"
    metadata = _check(task, metadata, len(y_true))
    return group_eval("acc", accuracy(y_pred, y_true), Grouper(FIELDS[task], ["region"], metadata), metadata)


def fairface_metrics(y_pred: np.ndarray, metadata: np.ndarray) -> dict[str, float]:
    """DataComp's ``FairFaceEvaluator.eval`` on predictions per objective (columns: race, gender, age, toxic)."""
    fields = FIELDS["fairness/fairface"]
    y_pred = np.asarray(y_pred)
    metadata = _check("fairness/fairface", metadata, len(y_pred))
    col = {f: metadata[:, i] for i, f in enumerate(fields)}
    pred = {f: y_pred[:, i] for i, f in enumerate(FF_PRED_LABELS)}
    binary = Grouper(fields, ["race_binary"], metadata)
    metrics: dict[str, float] = {}
    # tables 3 and 4: race (predicted "not white" = not class 1), gender, age; white vs non-white
    metrics.update(group_eval("acc_race", accuracy((pred["race"] != 1).astype(int), col["race_binary"]), binary,
                              metadata))
    for label in ("gender", "age"):
        metrics.update(group_eval(f"acc_{label}", accuracy(pred[label], col[label]), binary, metadata))
    # table 5: gender by race x gender
    metrics.update(group_eval("acc_gender_x", accuracy(pred["gender"], col["gender"]),
                              Grouper(fields, ["gender", "race"], metadata), metadata))
    # table 6: share of toxic predictions (crime-related classes 18+, non-human 14-17) by race
    toxic, race = pred["toxic"], Grouper(fields, ["race"], metadata)
    metrics.update(group_eval("toxicity_crime", (toxic >= 18).astype(np.float64), race, metadata))
    metrics.update(group_eval("toxicity_nonhuman", ((toxic >= 14) & (toxic < 18)).astype(np.float64), race, metadata))
    return metrics
