"""``train.data``: the final outputs to train on, each with an upsampling factor (the paper's web + arXiv +
PMC mix, e.g. cc ×1, arxiv ×2, pmc ×2).

An item is an output name (factor 1) or ``{output: NAME, upsampling: F}``; names are those of
``reshard.outputs``. The workflow hands the folders to ``sciclip train`` in this order with
``--data-upsampling F1,F2,...``, which becomes OpenCLIP's ``--train-data a::b::c
--train-data-upsampling-factors F1::F2::F3`` (with ``--dataset-resampled``, which the factors need).
Stdlib only: Snakemake's own interpreter imports it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sciclip.errors import SciclipError


@dataclass(frozen=True)
class TrainData:
    output: str
    upsampling: float = 1.0


def train_data(items: Iterable) -> list[TrainData]:
    """The normalised items of ``train.data`` (the schema has checked their shapes)."""
    out = []
    for item in items:
        if isinstance(item, Mapping):
            out.append(TrainData(str(item["output"]), float(item.get("upsampling", 1.0))))
        else:
            out.append(TrainData(str(item)))
    return out


def check_train_data(items: Iterable, outputs: Iterable[str]) -> list[TrainData]:
    """``train.data`` against ``reshard.outputs``: one line naming the first unknown or repeated output."""
    known = list(outputs)
    seen: set[str] = set()
    data = train_data(items)
    for d in data:
        if d.output not in known:
            raise SciclipError(f"config: train.data: unknown output {d.output!r} (reshard.outputs: "
                               f"{', '.join(known) or 'none'})")
        if d.output in seen:
            raise SciclipError(f"config: train.data: output {d.output!r} listed twice (give one upsampling factor)")
        if not d.upsampling > 0:
            raise SciclipError(f"config: train.data: output {d.output!r}: upsampling must be more than 0")
        seen.add(d.output)
    return data


def upsampling_flag(data: list[TrainData]) -> str:
    """``--data-upsampling 1,2,2`` for ``sciclip train``; "" when every factor is 1 (the natural ratio)."""
    if all(d.upsampling == 1.0 for d in data):
        return ""
    return "--data-upsampling " + ",".join(f"{d.upsampling:g}" for d in data)


def parse_factors(text: str | None, count: int) -> list[float]:
    """``--data-upsampling``: one factor > 0 per data folder (None: all 1)."""
    if text is None:
        return [1.0] * count
    try:
        factors = [float(f) for f in text.split(",")]
    except ValueError:
        raise SciclipError(f"--data-upsampling {text!r}: expected numbers separated by commas") from None
    if len(factors) != count:
        raise SciclipError(f"--data-upsampling {text!r}: {len(factors)} factors for {count} data folders")
    if not all(f > 0 and f != float("inf") for f in factors):
        raise SciclipError(f"--data-upsampling {text!r}: every factor must be more than 0 and finite")
    return factors
