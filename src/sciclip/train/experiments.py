"""``experiments:``: named training runs, each a data mix and a preset, each trained and then evaluated.

A run is ``{name, data, extra_data, preset}``: ``data`` as ``train.data`` (final outputs, names or ``{output,
upsampling}``), ``extra_data`` as ``train.extra_data`` (shards outside the workflow, e.g. a CommonPool pattern),
``preset`` one of ``train.preset``'s (default: ``train.preset``); every other training setting (GPUs, device,
precision, workers, memory, time) comes from ``train:``. Without ``experiments``, the ``train:`` section is
the one run (named ``train.run``), as before. ``train.enabled`` switches all training (and so evaluation) on
or off. The first run is the baseline the report compares the others with.
Stdlib only: Snakemake's own interpreter imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sciclip.errors import SciclipError
from sciclip.train.mix import TrainData, check_train_data, train_data


@dataclass(frozen=True)
class Run:
    name: str
    preset: str
    data: list[TrainData] = field(default_factory=list)
    extra_data: list[dict] = field(default_factory=list)


def runs(config: Mapping) -> list[Run]:
    """The training runs of a (validated) configuration, in order; none when training is off."""
    train = config.get("train") or {}
    if not train.get("enabled"):
        return []
    experiments = config.get("experiments") or []
    if not experiments:
        return [Run(str(train.get("run", "small")), str(train.get("preset", "small")),
                    train_data(train.get("data") or []), list(train.get("extra_data") or []))]
    return [Run(str(e["name"]), str(e.get("preset") or train.get("preset", "small")), train_data(e.get("data") or []),
                list(e.get("extra_data") or [])) for e in experiments]


def check_experiments(experiments: list[Mapping], outputs: list[str]) -> None:
    """Names unique, data known (as ``train.data``), something to train on: one line naming the first problem."""
    seen: set[str] = set()
    for e in experiments:
        name = str(e.get("name"))
        if name in seen:
            raise SciclipError(f"config: experiments: run {name!r} named twice")
        seen.add(name)
        try:
            check_train_data(e.get("data") or [], outputs)
        except SciclipError as err:
            raise SciclipError(str(err).replace("train.data", f"experiments[{name}].data")) from None
        if not e.get("data") and not e.get("extra_data"):
            raise SciclipError(f"config: experiments: run {name!r} has neither data nor extra_data")


def extra_flags(extra_data: list[Mapping]) -> list[str]:
    """``--extra PATTERN,SAMPLES,UPSAMPLING`` values for ``sciclip train``."""
    return [f"{e['pattern']},{e['samples']},{e.get('upsampling', 1.0)}" for e in extra_data]
