"""Running an external rasteriser (pdftoppm, pdfinfo, Ghostscript) on a figure, and reading what it gives.

Each run is a subprocess with a timeout and no stdin, so a hostile or pathological file costs at most that
long and can never take the job down; its failures become ``Skip`` reasons.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from sciclip.errors import Skip


def run(cmd: list[str], timeout_s: float, what: str, env: dict | None = None) -> bytes:
    """The command's stdout; ``rasterize_timeout`` or ``rasterize_error`` when it hangs, fails or says nothing."""
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL, env=env)
    except subprocess.TimeoutExpired:
        raise Skip("rasterize_timeout", f"{what} took longer than {timeout_s:g}s") from None
    except FileNotFoundError:
        raise Skip("rasterize_error", f"{cmd[0]} is not installed") from None
    if proc.returncode != 0 or not proc.stdout:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise Skip("rasterize_error", f"{what} exited {proc.returncode}: {tail[0][:200]}")
    return proc.stdout


def open_pnm(data: bytes, what: str) -> Image.Image:
    """The first image of a PNM stream (a tool may emit one per page)."""
    try:
        img = Image.open(io.BytesIO(data), formats=["PPM"])
        img.load()
    except Exception as e:
        raise Skip("rasterize_error", f"{what} gave an unreadable image: {e}") from None
    return img


class on_disk:
    """A path holding ``data``: the given one when it exists, else a temporary file in ``scratch``."""

    def __init__(self, data: bytes, path: Path | None, scratch: Path | None, suffix: str) -> None:
        self.data, self.path, self.scratch, self.suffix = data, path, scratch, suffix
        self._tmp: Path | None = None

    def __enter__(self) -> Path:
        if self.path is not None and self.path.is_file():
            return self.path
        fd, name = tempfile.mkstemp(suffix=self.suffix, dir=self.scratch)
        with open(fd, "wb") as f:
            f.write(self.data)
        self._tmp = Path(name)
        return self._tmp

    def __exit__(self, *exc) -> None:
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)


def tools_available() -> dict[str, bool]:
    """Which external rasterisers are on PATH (for ``sciclip doctor``-style messages and tests)."""
    return {tool: shutil.which(tool) is not None for tool in ("pdftoppm", "pdfinfo", "gs")}
