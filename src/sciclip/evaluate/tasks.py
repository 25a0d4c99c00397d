"""DataComp's 40 evaluation tasks (38 averaged), where their data lies, and how a task is scored.

The list below is data copied from DataComp's ``tasklist.yml`` (github.com/mlfoundations/datacomp, commit
4a8df19): key, name, main metric, test size, classes and chance level (``random_score``), plus the
aggregate groups of its ``aggregate_scores.py``. Keeping it here (rather than reading DataComp's file) lets
the workflow and the report use it without DataComp installed. Stdlib only: Snakemake's interpreter imports it.

A task's data is a folder in clip_benchmark's WebDataset layout below a data root: ``wds_<key with '/' as
'-'>_test/`` (``test/nshards.txt``, ``test/0.tar`` ..., ``classnames.txt``,
``zeroshot_classification_templates.txt``, ``dataset_type.txt``). DataComp's ``download_evalsets.py``
drops the ``fairness/`` prefix (``wds_dollar_street_test``) and fetches Flickr, MSCOCO and WinoGAViL as
Hugging Face datasets into ``<root>/hf_cache``; both places are looked up. Any other folder in that layout is
a task too: its key is the folder's name between ``wds_`` and ``_test`` (or any key that maps to it), its
main metric ``acc1`` (classification) or ``mean_recall@1`` (retrieval).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sciclip.errors import SciclipError


@dataclass(frozen=True)
class Task:
    key: str
    name: str
    main_metric: str | None  # None: reported, not averaged (FairFace, UTKFace)
    size: int
    num_classes: int | None = None
    chance: float | None = None  # DataComp's random_score
    tags: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """How DataComp scores it: classification, retrieval, winogavil, wilds, fairface, dollar_street, geode
        (a task outside its list: classification; its folder may say retrieval)."""
        if self.key not in BY_KEY:
            return "classification"
        if self.key.startswith("retrieval/"):
            return "retrieval"
        if self.key == "misc/winogavil":
            return "winogavil"
        if self.key.startswith("wilds/"):
            return "wilds"
        if self.key in ("fairness/fairface", "fairness/utkface"):
            return "fairface"
        if self.key == "fairness/dollar_street":
            return "dollar_street"
        if self.key == "fairness/geode":
            return "geode"
        return "classification"


def _t(key, name, size, num_classes=None, chance=None, main="acc1", tags=()):
    return Task(key, name, main, size, num_classes, chance, tuple(tags))


# DataComp tasklist.yml, in its order (main_metric defaults to acc1 there too)
DATACOMP_TASKS: tuple[Task, ...] = (
    _t("vtab/caltech101", "Caltech-101", 6085, 102, 0.009804, "mean_per_class_recall", ["vtab_natural"]),
    _t("cifar10", "CIFAR-10", 10000, 10, 0.1),
    _t("vtab/cifar100", "CIFAR-100", 10000, 100, 0.01, tags=["vtab_natural"]),
    _t("vtab/clevr_count_all", "CLEVR Counts", 15000, 8, 0.125061, tags=["vtab_structured"]),
    _t("vtab/clevr_closest_object_distance", "CLEVR Distance", 15000, 6, 0.19052, tags=["vtab_structured"]),
    _t("country211", "Country211", 21100, 211, 0.004739),
    _t("vtab/dtd", "Describable Textures", 1880, 47, 0.021277, tags=["vtab_natural"]),
    _t("vtab/eurosat", "EuroSAT", 5400, 10, 0.101483, tags=["vtab_specialized"]),
    _t("fgvc_aircraft", "FGVC Aircraft", 3333, 100, 0.01, "mean_per_class_recall"),
    _t("food101", "Food-101", 25250, 101, 0.009901),
    _t("gtsrb", "GTSRB", 12630, 43, 0.037604),
    _t("imagenet1k", "ImageNet 1k", 50000, 1000, 0.001),
    _t("imagenet_sketch", "ImageNet Sketch", 50889, 1000, 0.001),
    _t("imagenetv2", "ImageNet v2", 10000, 1000, 0.001),
    _t("imagenet-a", "ImageNet-A", 7500, 200, 0.008056),
    _t("imagenet-o", "ImageNet-O", 2000, 200, 0.006047),
    _t("imagenet-r", "ImageNet-R", 30000, 200, 0.006163),
    _t("vtab/kitti_closest_vehicle_distance", "KITTI Vehicle Distance", 711, 4, 0.295289, tags=["vtab_structured"]),
    _t("mnist", "MNIST", 10000, 10, 0.10035),
    _t("objectnet", "ObjectNet", 18574, 113, 0.009481),
    _t("vtab/flowers", "Oxford Flowers-102", 6149, 102, 0.009804, "mean_per_class_recall", ["vtab_natural"]),
    _t("vtab/pets", "Oxford-IIIT Pet", 3669, 37, 0.027027, "mean_per_class_recall", ["vtab_natural"]),
    _t("voc2007", "Pascal VOC 2007", 14976, 20, 0.154038),
    _t("vtab/pcam", "PatchCamelyon", 32768, 2, 0.5, tags=["vtab_specialized"]),
    _t("renderedsst2", "Rendered SST2", 1821, 2, 0.500001),
    _t("vtab/resisc45", "RESISC45", 6300, 45, 0.022342, tags=["vtab_specialized"]),
    _t("cars", "Stanford Cars", 8041, 196, 0.00516),
    _t("stl10", "STL-10", 8000, 10, 0.1),
    _t("sun397", "SUN397", 108754, 397, 0.004645, tags=["vtab_natural"]),
    _t("vtab/svhn", "SVHN", 26032, 10, 0.117897, tags=["vtab_natural"]),
    _t("retrieval/flickr_1k_test_image_text_retrieval", "Flickr", 1000, main="mean_recall@1", tags=["retrieval"]),
    _t("retrieval/mscoco_2014_5k_test_image_text_retrieval", "MSCOCO", 5000, main="mean_recall@1",
       tags=["retrieval"]),
    _t("misc/winogavil", "WinoGAViL", 3563, chance=0.205, main="jaccard_score_10-12", tags=["retrieval"]),
    _t("wilds/iwildcam", "iWildCam", 42791, 182, 0.143056, "F1-macro_all", ["wilds"]),
    _t("wilds/camelyon17", "Camelyon17", 85054, 2, 0.5, tags=["wilds"]),
    _t("wilds/fmow", "FMoW", 22108, 62, 0.027193, "acc_worst_region", ["wilds"]),
    _t("fairness/dollar_street", "Dollar Street", 3503, 58, main="acc_top5_wg", tags=["fairness"]),
    _t("fairness/geode", "GeoDE", 12488, 40, main="acc_wg", tags=["fairness"]),
    _t("fairness/fairface", "FairFace", 10954, main=None, tags=["fairness"]),
    _t("fairness/utkface", "UTKFace", 23703, main=None, tags=["fairness"]),
)
BY_KEY = {t.key: t for t in DATACOMP_TASKS}
AVERAGED = 38  # tasks with a main metric; aggregate_scores.py insists on exactly this many

# aggregate_scores.py's DATASET_GROUPS (task names), in the order it reports them after "ImageNet"
GROUPS: dict[str, tuple[str, ...]] = {
    "ImageNet dist. shifts": ("ImageNet Sketch", "ImageNet v2", "ImageNet-A", "ImageNet-O", "ImageNet-R", "ObjectNet"),
    "VTAB": ("Caltech-101", "CIFAR-100", "CLEVR Counts", "CLEVR Distance", "Describable Textures", "EuroSAT",
             "KITTI Vehicle Distance", "Oxford Flowers-102", "Oxford-IIIT Pet", "PatchCamelyon", "RESISC45", "SVHN",
             "SUN397"),
    "Retrieval": ("Flickr", "MSCOCO", "WinoGAViL"),
}
AGGREGATES = ("ImageNet", *GROUPS, "Average")

ALL = "datacomp"  # in a task list: every task of DataComp's list, in its order


def expand(tasks: list[str]) -> list[str]:
    """Task keys in order, ``datacomp`` expanded to DataComp's 40, repeats dropped."""
    out: list[str] = []
    for t in tasks:
        for key in ([x.key for x in DATACOMP_TASKS] if t == ALL else [t]):
            if key not in out:
                out.append(key)
    return out


def folder_name(key: str) -> str:
    """``wds_<key, '/' as '-'>_test`` (DataComp's and clip_benchmark's name for a task's folder)."""
    return f"wds_{key.replace('/', '-')}_test"


def _candidates(key: str) -> list[str]:
    names = [folder_name(key)]
    if key.startswith("fairness/"):  # download_evalsets.py strips this prefix
        names.insert(0, folder_name(key.split("/", 1)[1]))
    return names


@dataclass(frozen=True)
class TaskData:
    """Where a task's data is: a clip_benchmark WebDataset folder, or a Hugging Face cache (DataComp's way
    for Flickr, MSCOCO and WinoGAViL)."""

    task: Task
    folder: Path | None = None
    hf_cache: Path | None = None

    @property
    def dataset_type(self) -> str:
        """classification, retrieval or multilabel (clip_benchmark's dataset_type.txt; absent: classification)."""
        if self.folder is None:
            return "retrieval" if self.task.kind == "retrieval" else self.task.kind
        f = self.folder / "dataset_type.txt"
        return f.read_text().strip().lower() if f.is_file() else "classification"


def task_info(key: str) -> Task:
    """DataComp's entry, or an ad-hoc task (its kind and main metric are settled once its folder is read)."""
    return BY_KEY.get(key) or Task(key, key, None, 0)


def locate(key: str, roots: list[str | os.PathLike]) -> TaskData | None:
    """The first data root holding the task (its WebDataset folder first, then DataComp's HF cache)."""
    task = task_info(key)
    for root in map(Path, roots):
        for name in _candidates(key):
            if (root / name / "test" / "nshards.txt").is_file():
                return TaskData(_settle(task, root / name), folder=root / name)
    if task.kind in ("retrieval", "winogavil"):
        for root in map(Path, roots):
            if (root / "hf_cache").is_dir():
                return TaskData(task, hf_cache=root / "hf_cache")
    return None


def _settle(task: Task, folder: Path) -> Task:
    """An ad-hoc task's main metric from its folder's type (DataComp's tasks keep theirs)."""
    if task.key in BY_KEY:
        return task
    f = folder / "dataset_type.txt"
    kind = f.read_text().strip().lower() if f.is_file() else "classification"
    main = {"retrieval": "mean_recall@1", "multilabel": "mean_average_precision"}.get(kind, "acc1")
    return Task(task.key, task.name, main, task.size, tags=("retrieval",) if kind == "retrieval" else ())


def locate_all(keys: list[str], roots: list[str | os.PathLike]) -> list[TaskData]:
    """Every task's data, or one error listing the tasks whose data is nowhere (before any work is done)."""
    found, missing = [], []
    for key in expand(keys):
        data = locate(key, roots)
        (found.append(data) if data else missing.append(key))
    if missing:
        where = ", ".join(str(r) for r in roots) or "no data root"
        raise SciclipError(f"no data for task(s) {', '.join(missing)} under {where} (expected e.g. "
                           f"{folder_name(missing[0])}/test/nshards.txt; `sciclip evalsets` downloads DataComp's)")
    return found


def chance_level(key: str) -> float | None:
    return BY_KEY[key].chance if key in BY_KEY else None
