"""Zero-shot scoring of one task the way DataComp's ``eval_utils`` does it, through clip_benchmark.

- Classification (``wds_eval.evaluate_webdataset``): the set is read by clip_benchmark's ``build_dataset``;
  class embeddings by ``zero_shot_classifier`` (the normalised mean of the normalised text embeddings of every
  template), logits by ``run_classification`` (100 x normalised image embedding . class embeddings); ``acc1``,
  ``acc5`` (None below 5 classes), ``mean_per_class_recall`` (scikit-learn's balanced accuracy).
- Retrieval (``retr_eval``): clip_benchmark's ``zeroshot_retrieval.evaluate`` with recall@1/5/10 and
  ``mean_recall@1`` = the mean of image and text recall@1; from a WebDataset retrieval folder, or (DataComp's
  own source) the Hugging Face dataset in ``<root>/hf_cache``. A set of fewer than K images has no recall@K
  (clip_benchmark's top-K needs K candidates): that metric is left out, not invented.
- WILDS and fairness tasks: the same classification, with each sample's ``npy`` metadata read in the same
  pass, then scored per group by ``evaluate.groups``; FairFace/UTKFace with DataComp's four-objective
  classifier; WinoGAViL by DataComp's Jaccard score.

Mixed precision as DataComp got it from clip_benchmark 1.4: autocast for the text classifier and retrieval on
CUDA only (1.6's ``torch.autocast(device)`` would run bfloat16 on the CPU), image logits in float32.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections import defaultdict
from pathlib import Path

import numpy as np

from sciclip.errors import SciclipError
from sciclip.evaluate import groups
from sciclip.evaluate.layout import count_samples, shard_paths
from sciclip.evaluate.tasks import TaskData

log = logging.getLogger(__name__)

IMAGE_KEYS = ["webp", "png", "jpg", "jpeg"]
RECALL_K = (1, 5, 10)


class Scorer:
    """A CLIP model (``curate.clip_models.ClipModel``) and the loader settings every task shares."""

    def __init__(self, clip, batch_size: int = 64, workers: int = 4) -> None:
        self.clip = clip
        self.model = clip.model
        self.tokenizer = clip.tokenizer
        self.transform = clip.preprocess
        self.device = clip.device
        self.amp = str(clip.device).startswith("cuda")
        self.batch_size = batch_size
        self.workers = workers
        _progress_as_log_lines()

    # --- loaders ------------------------------------------------------------------------------------------

    def loader(self, dataset, folder: Path):
        import torch

        # a WebDataset worker without a shard would yield nothing: no more workers than shards
        workers = min(self.workers, len(shard_paths(folder)))
        return torch.utils.data.DataLoader(dataset.batched(self.batch_size), batch_size=None, shuffle=False,
                                           num_workers=workers)

    def _wds(self, data: TaskData, fields: tuple[str, ...]):
        """The set's samples as (image, *fields), built as clip_benchmark's ``build_wds_dataset`` builds its
        pipeline, with the extra fields DataComp reads from the same shards (``npy`` metadata)."""
        import webdataset as wds

        pattern = str(data.folder / "test" / ("{0..%d}.tar" % (len(shard_paths(data.folder)) - 1)))
        ds = (wds.WebDataset(pattern, nodesplitter=lambda src: src)
              .decode(wds.autodecode.ImageHandler("pil", extensions=IMAGE_KEYS))
              .to_tuple(IMAGE_KEYS, *fields)
              .map_tuple(self.transform, *([None] * len(fields))))
        return self.loader(ds, data.folder)

    def wds_set(self, data: TaskData, task: str):
        from clip_benchmark.datasets.builder import build_dataset

        try:
            return build_dataset(dataset_name=f"wds/{data.task.key}", root=str(data.folder), transform=self.transform,
                                 split="test", download=False, task=task)
        except AssertionError as e:  # clip_benchmark asserts on missing classnames or templates
            raise SciclipError(f"{data.folder}: {e or 'not a ' + task + ' set'}") from None

    # --- classification -----------------------------------------------------------------------------------

    def classifier(self, classnames: list[str], templates: list[str]):
        from clip_benchmark.metrics import zeroshot_classification as zsc

        return zsc.zero_shot_classifier(self.model, self.tokenizer, classnames, templates, self.device, amp=self.amp)

    def classify(self, data: TaskData, extra: tuple[str, ...] = ()):
        """(logits, targets, extra fields stacked, classnames) of a classification set."""
        import torch
        from clip_benchmark.metrics import zeroshot_classification as zsc

        ds = self.wds_set(data, "zeroshot_classification")
        classnames, templates = ds.classes, ds.templates
        if not classnames or not templates:
            raise SciclipError(f"{data.folder}: no classnames.txt or zeroshot_classification_templates.txt")
        classifier = self.classifier(classnames, templates)
        seen: list = []
        if extra:
            def pairs():
                for images, target, *fields in self._wds(data, ("cls", *extra)):
                    seen.append(fields)
                    yield images, target
            batches = pairs()
        else:
            batches = self.loader(ds, data.folder)
        logits, target = zsc.run_classification(self.model, classifier, batches, self.device, amp=False)
        fields = [torch.cat([torch.as_tensor(np.asarray(f[i])) for f in seen]).numpy() for i in range(len(extra))]
        return logits, target, fields, classnames

    def classification(self, data: TaskData, topk: int | None = None, extra: tuple[str, ...] = ()):
        """DataComp's ``evaluate_webdataset``: metrics, and the predictions (top ``topk`` with ``topk``)."""
        import torch
        from sklearn.metrics import balanced_accuracy_score

        logits, target, fields, classnames = self.classify(data, extra)
        if len(target) == 0:
            raise SciclipError(f"{data.folder}: no samples")
        pred = logits.argmax(axis=1).cpu()
        target = target.cpu()
        if len(classnames) >= 5:
            acc1, acc5 = topk_accuracy(logits, target, topk=(1, 5))
        else:
            (acc1,) = topk_accuracy(logits, target, topk=(1,))
            acc5 = None
        metrics = {"acc1": acc1, "acc5": acc5,
                   "mean_per_class_recall": float(balanced_accuracy_score(target.numpy(), pred.numpy()))}
        if topk:
            with torch.no_grad():
                pred = torch.topk(logits, int(topk), dim=1)[1].cpu()
        return metrics, pred.numpy(), target.numpy(), fields

    # --- retrieval ----------------------------------------------------------------------------------------

    def retrieval(self, data: TaskData) -> dict:
        from clip_benchmark.metrics import zeroshot_retrieval as zsr

        if data.folder is not None:
            n_images = count_samples(data.folder)
            loader = self.loader(self.wds_set(data, "zeroshot_retrieval"), data.folder)
        else:
            dataset = _hf_retrieval(data, self.transform)
            n_images = len(dataset)
            loader = _torch_loader(dataset, self.batch_size, self.workers)
        ks = [k for k in RECALL_K if k <= n_images]
        if len(ks) < len(RECALL_K):
            log.info("%s: %d images, no recall@%s", data.task.key, n_images,
                     "/".join(str(k) for k in RECALL_K if k > n_images))
        metrics = zsr.evaluate(self.model, loader, self.tokenizer, recall_k_list=ks, device=self.device, amp=self.amp)
        metrics["mean_recall@1"] = 0.5 * (metrics["text_retrieval_recall@1"] + metrics["image_retrieval_recall@1"])
        return metrics

    # --- WinoGAViL ----------------------------------------------------------------------------------------

    def winogavil(self, data: TaskData) -> dict:
        """DataComp's ``wino_eval``: per instance, the cue's top-n candidates (n = its associations) against the
        associations, Jaccard; averaged over all and by number of candidates."""
        import torch
        from sklearn.metrics import jaccard_score

        scores, sizes = [], []
        for images, cue, candidates, associations in _winogavil_examples(data):
            y_true = np.isin(candidates, associations)
            batch = torch.stack([self.transform(img) for img in images]).to(self.device)
            text = self.tokenizer([clip_prompt(cue)]).to(self.device)
            with torch.no_grad(), _autocast(self.amp):
                img_f = self.model.encode_image(batch, normalize=True)
                txt_f = self.model.encode_text(text, normalize=True)
                logits = (txt_f @ img_f.T).squeeze(0).float().cpu().numpy()
            top = np.argsort(logits)[-int(y_true.sum()):]
            y_pred = np.isin(np.arange(len(images)), top)
            scores.append(jaccard_score(y_true, y_pred))
            sizes.append(len(images))
        if not scores:
            raise SciclipError(f"{data.folder or data.hf_cache}: no WinoGAViL instances")
        s, n = np.array(scores), np.array(sizes)
        with np.errstate(all="ignore"), _no_empty_warning():
            return {"avg_jaccard_score": s.mean(), "jaccard_score_5": s[n == 5].mean(),
                    "jaccard_score_6": s[n == 6].mean(), "jaccard_score_10": s[n == 10].mean(),
                    "jaccard_score_12": s[n == 12].mean(), "jaccard_score_5-6": s[n <= 6].mean(),
                    "jaccard_score_10-12": s[n >= 10].mean()}

    # --- FairFace / UTKFace -------------------------------------------------------------------------------

    def fairface(self, data: TaskData) -> dict:
        """DataComp's ``evaluate_fairface_dataset``: one classifier per objective (race, gender, age, toxic;
        classnames and templates prefixed ``objective:``), predictions scored per subgroup of the metadata."""
        import torch

        ds = self.wds_set(data, "zeroshot_classification")
        per: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"classnames": [], "templates": []})
        for t in ds.templates or []:
            objective, template = t.split(":", 1)
            per[objective]["templates"].append(template)
        for c in ds.classes or []:
            objective, name = c.split(":", 1)
            per[objective]["classnames"].append(name)
        missing = [o for o in groups.FF_PRED_LABELS if not per[o]["classnames"] or not per[o]["templates"]]
        if missing:
            raise SciclipError(f"{data.folder}: no classnames or templates for {', '.join(missing)}")
        classifiers = [self.classifier(per[o]["classnames"], per[o]["templates"]) for o in groups.FF_PRED_LABELS]
        n_classes = [c.shape[1] for c in classifiers]
        combined = torch.zeros((len(classifiers), classifiers[0].shape[0], max(n_classes)),
                               dtype=classifiers[0].dtype, device=self.device)
        for i, c in enumerate(classifiers):
            combined[i, :, : n_classes[i]] = c
        logits, meta = [], []
        with torch.no_grad():
            for images, metadata in self._wds(data, ("npy",)):
                feats = self.model.encode_image(images.to(self.device), normalize=True)
                logits.append((100.0 * torch.einsum("bf,mfc->bmc", feats, combined)).float().cpu())
                meta.append(torch.as_tensor(np.asarray(metadata)))
        if not logits:
            raise SciclipError(f"{data.folder}: no samples")
        logits_t = torch.cat(logits)
        invalid = torch.arange(max(n_classes)) >= torch.tensor(n_classes).unsqueeze(1)
        logits_t[invalid.expand(logits_t.shape[0], -1, -1)] = -1e9
        return groups.fairface_metrics(logits_t.argmax(axis=-1).numpy(), torch.cat(meta).numpy())


def _progress_as_log_lines() -> None:
    """clip_benchmark wraps its loops in tqdm bars, which a job's log (stderr into a file) receives as frames
    of carriage returns; its modules' ``tqdm`` becomes ``sciclip.progress.progress`` (a bar on a terminal, a log
    line now and then elsewhere, tqdm's interface)."""
    from clip_benchmark.metrics import zeroshot_classification, zeroshot_retrieval

    from sciclip.progress import progress

    zeroshot_classification.tqdm = zeroshot_retrieval.tqdm = progress


def topk_accuracy(logits, target, topk=(1,)) -> list[float]:
    """clip_benchmark's ``zeroshot_classification.accuracy``, whose last step (``float()`` of a one-element
    array) numpy 2 refuses: the share of samples whose label is among the top k logits."""
    pred = logits.topk(max(topk), 1, True, True)[1].t()
    correct = pred.eq(target.view(1, -1).expand_as(pred))
    n = len(target)
    return [float(correct[:k].reshape(-1).float().sum()) / n for k in topk]


def clip_prompt(item: str) -> str:
    """DataComp's ``get_clip_prompt``: "An apple" / "A cat"."""
    item = item.lower()
    return f"An {item}" if item[:1] in ("a", "e", "i", "o", "u") else f"A {item}"


def _autocast(enabled: bool):
    import torch

    return torch.autocast("cuda", enabled=True) if enabled else contextlib.nullcontext()


@contextlib.contextmanager
def _no_empty_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _torch_loader(dataset, batch_size: int, workers: int):
    import torch
    from clip_benchmark.datasets.builder import image_captions_collate_fn

    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
                                       collate_fn=image_captions_collate_fn)


class _HFRetrieval:
    """DataComp's ``RetrievalDataset``: (transformed image, list of captions) of a Hugging Face dataset."""

    def __init__(self, hf_dataset, transform) -> None:
        self._dataset, self.transform = hf_dataset, transform

    def __len__(self) -> int:
        return len(self._dataset)

    def __getitem__(self, index: int):
        row = self._dataset[index]
        return self.transform(row["image"]), row["caption"]


def _hf_dataset(data: TaskData, name: str):
    """``nlphuji/<name>`` from ``<root>/hf_cache``, where DataComp's download_evalsets.py put it (offline)."""
    try:
        import datasets
    except ImportError:
        raise SciclipError(f"{data.task.key}: reading {data.hf_cache} needs the `datasets` package "
                           "(or lay the set out as a WebDataset folder: sciclip evalsets)") from None
    try:
        with _offline():
            return datasets.load_dataset(f"nlphuji/{name}", split="test", cache_dir=str(data.hf_cache))
    except Exception as e:  # datasets raises many types for a missing or partial cache
        raise SciclipError(f"{data.hf_cache}: no cached nlphuji/{name} ({type(e).__name__}: {e})") from None


@contextlib.contextmanager
def _offline():
    import os

    old = {k: os.environ.get(k) for k in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE")}
    os.environ.update({k: "1" for k in old})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _hf_retrieval(data: TaskData, transform):
    return _HFRetrieval(_hf_dataset(data, data.task.key.split("/", 1)[1]), transform)


def _winogavil_examples(data: TaskData):
    """(candidate images, cue, candidate names, associations) per instance: from a ``winogavil`` WebDataset
    folder (``sciclip evalsets`` writes one: ``cue.txt``, ``candidates.json``, ``associations.json`` and
    ``<j>.<ext>`` images per instance), or from DataComp's Hugging Face cache."""
    from PIL import Image

    if data.folder is None:
        for ex in _hf_dataset(data, "winogavil"):
            yield ex["candidate_images"], ex["cue"], ex["candidates"], ex["associations"]
        return
    from sciclip.shards.reader import ShardReport, read_samples

    for path in shard_paths(data.folder):
        report = ShardReport(path.name)
        for key, members in read_samples(path, report):
            try:
                candidates = json.loads(members["candidates.json"])
                associations = json.loads(members["associations.json"])
                cue = members["cue.txt"].decode("utf-8").strip()
                images = []
                for j in range(len(candidates)):
                    raw = next(v for k, v in members.items() if k.split(".", 1)[0] == str(j))
                    images.append(Image.open(io.BytesIO(raw)).convert("RGB"))
            except (KeyError, StopIteration, ValueError, OSError) as e:
                raise SciclipError(f"{path}: WinoGAViL instance {key}: {type(e).__name__}: {e}") from None
            yield images, cue, candidates, associations
        if report.truncated:
            raise SciclipError(f"{path}: {report.truncated}")
