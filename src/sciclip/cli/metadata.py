"""``sciclip metadata|select|near-dup|tiny-clip``: DataComp metadata, filtered variants, in-corpus near-duplicates."""

from __future__ import annotations

import json
from pathlib import Path

from sciclip.cli.common import positive_int, say
from sciclip.errors import SciclipError


def _models(args):
    from sciclip.curate.clip_models import parse_spec

    specs = [parse_spec(n, m, p) for n, m, p in args.clip_model or []]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise SciclipError(f"a model name is given twice: {', '.join(names)}")
    return specs


def cmd_metadata(args) -> int:
    from sciclip.cli.curate import _unit
    from sciclip.curate.kinds import load_prompts
    from sciclip.curate.metadata import metadata_unit, write_report

    plan, unit = _unit(args)
    rep = metadata_unit(args.input, plan, unit, args.out, _models(args), kind_model=args.kind_model,
                        prompts=load_prompts(args.kind_prompts) if args.kind_model else None, device=args.device,
                        precision=args.precision, batch_size=args.batch_size, workers=args.workers, pool=args.pool)
    if args.report:
        write_report(args.report, rep)
    how = " taken from the pool" if rep.get("reused") else ""
    say(f"metadata of {rep['samples']} samples ({', '.join(rep['models'])}){how} -> {args.out}")
    return 0


def _filter_spec(text: str) -> dict:
    """A filter set as JSON, inline or in a file (``@path``)."""
    raw = Path(text[1:]).read_text() if text.startswith("@") else text
    try:
        spec = json.loads(raw)
    except ValueError as e:
        raise SciclipError(f"--filters: not JSON ({e})") from None
    if not isinstance(spec, dict):
        raise SciclipError("--filters: expected a JSON object such as {\"clip_score\": {\"fraction\": 0.3}}")
    return spec


def cmd_select(args) -> int:
    from sciclip.curate.filters import Resources, build_filters
    from sciclip.curate.select import select

    res = Resources(language_model=args.language_model, wordnet=args.wordnet, synsets=args.synsets,
                    centroids=args.centroids, centroid_targets=args.centroid_targets, near_dup=args.near_dup)
    filters = build_filters(_filter_spec(args.filters), res)
    rep = select(args.metadata, filters, args.out, base=args.subset, report=args.report)
    counts = ", ".join(f"{k} {v['kept']}" for k, v in rep["filters"].items())
    say(f"{rep['pool']} samples: {counts}; all filters {rep['selected']}"
        + (f", in {args.subset} {rep['kept']}" if args.subset else "") + f" -> {args.out}")
    return 0


def cmd_near_dup(args) -> int:
    from sciclip.curate.near_dup import UnitInput, find_near_duplicates
    from sciclip.shards.tail_plan import read_plan

    units = []
    for rank, spec in enumerate(args.source):
        name, i2d, plan_path, emb_root = spec
        plan = read_plan(plan_path)
        for u in plan.units:
            units.append(UnitInput(name, rank, plan, u.name, Path(i2d), Path(emb_root) / u.name))
    rep = find_near_duplicates(units, args.threshold, args.out, args.report, pairs=args.pairs, probes=args.probes)
    say(f"{rep['samples']} samples ({rep['descriptor']}): {rep['removed']} near-duplicates of earlier samples "
        f"({rep['across_sources']} across sources) -> {args.out}")
    return 0


def cmd_tiny_clip(args) -> int:
    from sciclip.curate.clip_models import write_tiny_model

    write_tiny_model(args.out, seed=args.seed)
    say(f"tiny CLIP (seed {args.seed}) -> {args.out}")
    return 0


def register(sub) -> None:
    from sciclip.cli.curate import _add_unit_args

    p = sub.add_parser("metadata", help="DataComp metadata (CLIP scores, embeddings, figure kinds) of img2dataset "
                                        "shards: {shard}.parquet and {shard}.npz")
    p.add_argument("input", help="img2dataset folder")
    p.add_argument("--out", required=True, help="metadata folder (DataComp's metadata/ layout)")
    p.add_argument("--report", default=None, help="also write the unit's counts as JSON here")
    p.add_argument("--clip-model", nargs=3, action="append", metavar=("NAME", "MODEL", "PRETRAINED"),
                   help="a CLIP model: column name (b32, l14), OpenCLIP model (ViT-B-32 or local-dir:PATH) and "
                        "pretrained tag or file (openai; 'none' for local-dir models); repeat per model")
    p.add_argument("--kind-model", default=None, help="the model whose embeddings classify figure kinds "
                                                      "(default: no kinds)")
    p.add_argument("--kind-prompts", default=None, help="YAML/JSON file of kind -> prompts (default: sciclip's set)")
    p.add_argument("--device", default=None, help="cuda, cpu, ... (default: cuda when available)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16"),
                   help="model precision; fp16 halves a GPU's time (default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=64,
                   help="images per forward pass (default: %(default)s)")
    p.add_argument("--workers", type=int, default=2,
                   help="DataLoader workers decoding the shards (default: %(default)s)")
    p.add_argument("--pool", nargs="+", default=None,
                   help="the pool's own metadata folders (CommonPool: parquets + npz): its scores and embeddings are "
                        "taken by uid, not computed, where it has them for every sample and model")
    _add_unit_args(p)
    p.set_defaults(func=cmd_metadata)

    p = sub.add_parser("select", help="a filter set over metadata folders -> a sorted uid subset (DataComp .npy)")
    p.add_argument("--metadata", nargs="*", required=True,
                   help="metadata folders (the pool; none: a pool of no samples)")
    p.add_argument("--filters", required=True,
                   help='the filter set as JSON (or @file), e.g. {"clip_score": {"model": "l14", "fraction": 0.3}}')
    p.add_argument("--subset", default=None, help="keep only uids of this subset too (an output's decontaminated one)")
    p.add_argument("--out", required=True, help="the subset file to write (.npy)")
    p.add_argument("--report", default=None, help="counts per filter as JSON")
    p.add_argument("--language-model", default=None, help="fastText lid.176.bin: the English test (default: none)")
    p.add_argument("--wordnet", default=None, help="WordNet 3.0 dict folder (text_based)")
    p.add_argument("--synsets", default=None, help="ImageNet-21k WordNet ids, one per line (text_based)")
    p.add_argument("--centroids", default=None, help="the pool's L/14 k-means centroids, .npy/.pt (image_based)")
    p.add_argument("--centroid-targets", default=None, help="ImageNet-1k L/14 image embeddings (image_based)")
    p.add_argument("--near-dup", default=None, help="near-duplicates to remove (sciclip near-dup --out)")
    p.set_defaults(func=cmd_select)

    p = sub.add_parser("near-dup", help="near-duplicate images across sources from the decontamination descriptors")
    p.add_argument("--source", nargs=4, action="append", required=True,
                   metavar=("NAME", "IMG2DATASET", "PLAN", "EMBEDDINGS"),
                   help="a source: name, img2dataset folder, tail plan, folder of per-unit descriptors; "
                        "repeat in corpus order (earlier sources keep their copy)")
    p.add_argument("--threshold", type=float, required=True, help="similarity at or above which images are "
                                                                  "near-duplicates")
    p.add_argument("--probes", type=positive_int, default=2,
                   help="Yokoo only: the nearest partitions (k-means centroids) each sample is searched in "
                        "(default: %(default)s)")
    p.add_argument("--out", required=True, help="sorted uids of the near-duplicates to remove (.npy)")
    p.add_argument("--report", default=None, help="counts and the first removed samples with their matches, JSON")
    p.add_argument("--pairs", default=None, help="every removed sample with its match, as parquet")
    p.set_defaults(func=cmd_near_dup)

    p = sub.add_parser("tiny-clip", help="write a small random CLIP as an OpenCLIP local-dir model (demo, tests)")
    p.add_argument("out", help="folder to write open_clip_config.json and open_clip_model.safetensors to")
    p.add_argument("--seed", type=int, default=0, help="torch seed of the weights (default: %(default)s)")
    p.set_defaults(func=cmd_tiny_clip)

