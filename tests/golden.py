"""The demo's golden outputs: sha256 of every artefact users consume, with run-dependent fields removed.

``python -m tests.golden RESULTS_DIR > tests/fixtures/golden_demo.json`` rewrites the golden file; do that
only in a commit that changes output bytes on purpose, and say why in its message.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

# Artefacts users consume, relative to the results folder.
PATTERNS = (
    "*/shards/*/*.tar", "*/shards/*/stats.json",                       # per-unit extraction output
    "*/img2dataset/*.tar", "*/img2dataset/*.parquet", "*/img2dataset/*_stats.json",
    "*/scores/*.parquet", "*/decontaminated.npy", "*/decontamination.json",
    "final/*.subset.npy", "final/*/*.tar", "final/*/*_stats.json", "final/*/sample_ids.npy", "final/*/meta.json",
    "stats/*.json",
    "*/metadata/*.parquet", "near_dup/removed.npy", "near_dup/report.json", "near_dup/pairs.parquet",
    "final/*.filters.json",
    # the science retrieval split held out of training, its evaluation sets and what leaves training for it
    "*/heldout.npy", "*/heldout.json", "heldout/excluded.npy", "heldout/report.json", "evalsets/*/test/*.tar",
    # interleaved documents (off in the demo: these match nothing there; a run with docs.enabled pins them)
    "docs/*/clean/*/*.parquet", "docs/*/clean/*/*.tar", "docs/*/clean/*/stats.json",
    "docs/*/clean/*/removed/images.parquet", "docs/removals/report.json", "docs/removals/*/*.npy",
    "docs/stats/*.json",
)
# Metadata columns computed by a model in float32: kernels differ between CPUs (and thread counts) in the last
# bits, so these are compared by tests with tolerances, not pinned here; ``kind`` is an argmax over such floats.
MODEL_COLUMNS = ("_similarity_score", "kind", "kind_score")
# Fields that describe the run rather than the data (times, working directory, worker count).
VOLATILE = frozenset({"timings_s", "duration_s", "duration", "start_time", "end_time", "cwd", "num_workers",
                      "worker_success", "core_seconds"})


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _metadata_rows(path: Path) -> bytes:
    """A metadata parquet's rows without the model's float columns (row order and every other value kept)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    keep = [c for c in table.column_names if not c.endswith(MODEL_COLUMNS)]
    return json.dumps({"columns": table.column_names, "rows": table.select(keep).to_pylist()}, sort_keys=True).encode()


def digest(path: Path) -> str:
    if path.suffix == ".parquet" and path.parent.name == "metadata":
        return hashlib.sha256(_metadata_rows(path)).hexdigest()
    data = path.read_bytes()
    if path.suffix == ".json":
        data = json.dumps(_strip(json.loads(data)), sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()


def artefact_digests(results: Path) -> dict[str, str]:
    paths = {p for pattern in PATTERNS for p in results.glob(pattern) if not p.name.startswith(".")}
    return {str(p.relative_to(results)): digest(p) for p in sorted(paths)}


if __name__ == "__main__":
    json.dump(artefact_digests(Path(sys.argv[1])), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
