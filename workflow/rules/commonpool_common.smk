# Helpers of the CommonPool rules (commonpool.smk), kept apart from common.smk so the branch stays one addition.
CP = config["commonpool"]
CP_DOWNLOADS = f"{RESULTS}/commonpool/downloads/{{unit}}"
CP_RETRIES = f"{RESULTS}/commonpool/retries/{{round}}/{{unit}}"
CP_POOL = f"{RESULTS}/commonpool/pool/{{unit}}"


wildcard_constraints:
    round=r"\d+",


def get_commonpool_sample_input(wildcards=None):
    """The sample pool is built first when the metadata folder or the served web lies inside it (the demo)."""
    paths = [CP.get("source"), CP["images"].get("serve")]
    if any(isinstance(p, str) and "://" not in p and _is_under(p, SAMPLE_DIR) for p in paths):
        return [SAMPLE_MARKER]
    return []


def get_commonpool_attempts():
    """A unit's download folder, then its retry rounds' (patterns with {unit}): what its unit job reads."""
    return [CP_DOWNLOADS] + [CP_RETRIES.replace("{round}", str(r)) for r in range(1, CP["retry_rounds"] + 1)]


def get_commonpool_earlier_attempts(wildcards):
    """Round r of a unit retries what the download and rounds 1..r-1 left failed (ancient: a new round never
    makes the earlier ones stale)."""
    pats = get_commonpool_attempts()[: int(wildcards.round)]
    return [ancient(p.format(unit=wildcards.unit)) for p in pats]


def get_commonpool_pool_dirs(wildcards):
    """The metadata folders of the source units a tail unit reads (its extraction folders' unit names)."""
    return [CP_POOL.format(unit=Path(d).name) for d in get_convert_inputs(wildcards)]
