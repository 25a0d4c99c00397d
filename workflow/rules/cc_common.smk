# Helpers of the Common Crawl rules (cc.smk), kept apart from common.smk so the cc branch stays one addition.
CC = config["cc"]
CC_METADATA = f"{RESULTS}/cc/metadata.json"


def get_cc_sample_input(wildcards=None):
    """The sample crawl is built first when the source, a metadata file or the served web lies inside it."""
    paths = [CC["source"], CC.get("metadata"), CC["images"].get("serve")] + list(CC["metadata_build"].values())
    if any(isinstance(p, str) and "://" not in p and _is_under(p, SAMPLE_DIR) for p in paths):
        return [SAMPLE_MARKER]
    return []


def get_cc_matched(wildcards):
    """Every unit's matched pool, in unit order (the order dedup keeps first occurrences in)."""
    return [f"{RESULTS}/cc/matched/{unit}.parquet" for unit in get_units("cc")]


def get_cc_downloads(wildcards):
    return [f"{RESULTS}/cc/downloads/{unit}" for unit in get_units("cc")]
