"""``.npz`` files that are a pure function of their arrays (DataComp's embedding files, ours and the sample's)."""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np

from sciclip.storage.atomic import atomic_path


def save_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """np.savez's format with fixed member dates, so that the same arrays give the same bytes (numpy stamps
    the current time)."""
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            z.writestr(info, buf.getvalue())
