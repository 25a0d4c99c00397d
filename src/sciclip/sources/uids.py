"""Content-derived sample uids.

DataComp reads a uid as 32 lowercase hex characters (two uint64s). The seed drew them at random, so
reruns and reshards could not be matched up; ours hash what identifies a sample, so the same input gives
the same uid on every run and machine.
"""

import hashlib


def sample_uid(*parts: str) -> str:
    """128-bit uid from the identifying fields of a sample, joined unambiguously."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()[:32]
