"""``sciclip evaluate``: one model on a list of tasks, into DataComp's ``eval_results.jsonl``.

Every task's data is located before the model is loaded (a missing set is one error naming it). A task whose
data turns out unreadable is logged and left out while the others land; the command then fails naming it, so
that a workflow job never passes with a task missing.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from sciclip.errors import SciclipError
from sciclip.evaluate import groups
from sciclip.evaluate.results import result_line, write_results
from sciclip.evaluate.tasks import TaskData, locate_all

log = logging.getLogger(__name__)


def score_task(scorer, data: TaskData) -> dict:
    """The metrics of one task, as DataComp's ``eval_utils.main.evaluate_model`` computes them."""
    kind = data.task.kind
    if kind == "retrieval" or (data.folder is not None and data.dataset_type == "retrieval"):
        return scorer.retrieval(data)
    if kind == "winogavil":
        return scorer.winogavil(data)
    if kind == "fairface":
        return scorer.fairface(data)
    if kind in ("wilds", "geode"):
        metrics, pred, target, (meta,) = scorer.classification(data, extra=("npy",))
        extra = (groups.wilds_metrics(data.task.key, pred, target, meta) if kind == "wilds"
                 else groups.geode_metrics(pred, target, meta))
        return {**metrics, **extra}
    if kind == "dollar_street":
        metrics, top5, target, (meta,) = scorer.classification(data, topk=5, extra=("npy",))
        return {**metrics, **groups.dollar_street_metrics(top5, target, meta)}
    if data.dataset_type == "multilabel":
        return _multilabel(scorer, data)
    metrics, *_ = scorer.classification(data)
    return metrics


def _multilabel(scorer, data: TaskData) -> dict:
    """A multi-label set outside DataComp's list: clip_benchmark's mean average precision."""
    from clip_benchmark.metrics import zeroshot_classification as zsc

    ds = scorer.wds_set(data, "zeroshot_classification")
    return zsc.evaluate(scorer.model, scorer.loader(ds, data.folder), scorer.tokenizer, ds.classes, ds.templates,
                        scorer.device, amp=scorer.amp)


def _device(device: str | None) -> str:
    """cuda (when present) or cpu; ``cuda:N`` selects that GPU (clip_benchmark's autocast takes a device type)."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda:"):
        torch.cuda.set_device(int(device.split(":", 1)[1]))
        return "cuda"
    return device


def _empty_set(folder: Path) -> bool:
    """A set written with no sample (``nshards.txt`` says 0): the science split of a source without samples."""
    count = folder / "test" / "nshards.txt"
    return count.is_file() and count.read_text().strip() == "0"


def evaluate(model: str, checkpoint: str | None, roots: list[str], tasks: list[str], out: str | os.PathLike,
             batch_size: int = 64, workers: int = 4, device: str | None = None, precision: str = "fp32") -> list[dict]:
    """Score ``model`` (+ ``checkpoint``) on ``tasks`` and write the results file (and its aggregates)."""
    from sciclip.curate.clip_models import ClipModel, ModelSpec
    from sciclip.evaluate.zeroshot import Scorer

    found = locate_all(tasks, roots)
    if checkpoint and not os.path.isfile(checkpoint):
        raise SciclipError(f"{checkpoint}: no such checkpoint")
    clip = ClipModel(ModelSpec("eval", model, checkpoint), device=_device(device), precision=precision)
    scorer = Scorer(clip, batch_size=batch_size, workers=workers)
    lines, failed = [], []
    for data in found:
        if data.folder is not None and _empty_set(data.folder):
            log.warning("%s: %s holds no sample (a source that gave none): skipped", data.task.key, data.folder)
            continue
        start = time.monotonic()
        try:
            metrics = score_task(scorer, data)
        except Exception as e:  # noqa: BLE001 - a damaged set raises whatever its reader raises (tarfile, PIL,
            # webdataset, clip_benchmark's asserts): the task is named and skipped, the command fails at the end
            log.error("%s: %s: %s", data.task.key, type(e).__name__, e)
            failed.append(f"{data.task.key} ({type(e).__name__}: {e})")
            continue
        line = result_line(data.task.key, data.task.name, metrics, data.task.main_metric)
        main = line["metrics"]["main_metric"]
        log.info("%s: %s = %s (%.1fs)", data.task.name, data.task.main_metric, main, time.monotonic() - start)
        lines.append(line)
    write_results(out, lines)
    if failed:
        raise SciclipError(f"{len(failed)} task(s) could not be scored (the others are in {out}): "
                           + "; ".join(failed))
    return lines
