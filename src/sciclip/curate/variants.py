"""``curate.filters`` checked against the rest of the config: what a schema cannot say about filter sets.

Stdlib only: Snakemake's own interpreter imports it when the workflow starts.
"""

from __future__ import annotations

from collections.abc import Mapping

from sciclip.errors import SciclipError

NEEDS_METADATA = ("clip_score", "basic", "text_based", "image_based", "kinds", "near_dup")


def check_filter_sets(curate: Mapping, outputs: list[str], metadata: Mapping) -> list[str]:
    """The variant names, after one-line errors for a set that cannot run: a repeated or clashing name, an
    unknown output, a filter without what it reads (a switched-off model, no kinds, no near-duplicate search,
    a missing file key)."""
    names: list[str] = []
    models = {n for n, m in (metadata.get("models") or {}).items() if m}
    for spec in curate.get("filters") or []:
        name = spec["name"]
        where = f"config: curate.filters: {name!r}"
        if name in names or name in outputs:
            raise SciclipError(f"{where}: the name is taken (by {'another filter set' if name in names else 'an output'})")
        if spec["output"] not in outputs:
            raise SciclipError(f"{where}: unknown output {spec['output']!r} (reshard.outputs: {', '.join(outputs)})")
        used = [f for f in NEEDS_METADATA if spec.get(f)]
        if not used:
            raise SciclipError(f"{where}: no filter (give one of {', '.join(NEEDS_METADATA)})")
        if not metadata.get("enabled", True):
            raise SciclipError(f"{where}: filters read the metadata; metadata.enabled is false")
        clip = spec.get("clip_score")
        if clip:
            if ("threshold" in clip) == ("fraction" in clip):
                raise SciclipError(f"{where}: clip_score needs exactly one of threshold and fraction")
            if clip.get("model", "l14") not in models:
                raise SciclipError(f"{where}: clip_score model {clip.get('model', 'l14')!r} is not in metadata.models "
                                   f"({', '.join(sorted(models)) or 'none'})")
        image = spec.get("image_based")
        if image:
            model = image.get("model", "l14") if isinstance(image, Mapping) else "l14"
            if model not in models:
                raise SciclipError(f"{where}: image_based reads {model}_img, but {model!r} is not in metadata.models")
            for key in ("centroids", "centroid_targets"):
                if not curate.get(key):
                    raise SciclipError(f"{where}: image_based needs curate.{key}")
        if spec.get("text_based"):
            for key in ("wordnet", "synsets"):
                if not curate.get(key):
                    raise SciclipError(f"{where}: text_based needs curate.{key}")
        kinds = spec.get("kinds")
        if kinds:
            if bool(kinds.get("keep")) == bool(kinds.get("drop")):
                raise SciclipError(f"{where}: kinds needs keep or drop (a list of kinds)")
            if not metadata.get("kind_model"):
                raise SciclipError(f"{where}: kinds needs metadata.kind_model")
        if spec.get("near_dup") and not (curate.get("near_dup") or {}).get("enabled", True):
            raise SciclipError(f"{where}: near_dup needs curate.near_dup.enabled")
        names.append(name)
    return names
