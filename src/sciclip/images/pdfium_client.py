"""The extraction process's side of the PDFium render helper (``images.pdfium_server``).

Each process that converts PDFs (the job's main process, or each of its workers) starts one helper on first
use and keeps it for every later figure, so a render costs a pipe round trip instead of a process start.
Every render has a deadline: a helper that misses it is killed and replaced, and the figure is skipped as
``rasterize_timeout``; a helper that dies (its address-space limit, a crash) costs only the figure it was
rendering. A helper that cannot start (pypdfium2 missing) makes the process use poppler for good.
"""

from __future__ import annotations

import atexit
import json
import logging
import multiprocessing.util
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sciclip.errors import Skip
from sciclip.images.pdfium_server import HEADER, frame_head

log = logging.getLogger(__name__)

SERVER = Path(__file__).with_name("pdfium_server.py")
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PdfRender:
    """A first page rendered by PDFium: packed RGB rows of ``size``; ``page`` is the page size in points."""

    pixels: bytes
    size: tuple[int, int]
    page: tuple[int, int]


class _Unopenable(Exception):
    """PDFium cannot parse the file (poppler may)."""


class PdfiumRenderer:
    """One helper process, started lazily, replaced after a timeout or a death."""

    def __init__(self, memory_limit: int) -> None:
        self.memory_limit = memory_limit
        self.proc: subprocess.Popen | None = None
        self.pid = os.getpid()
        self.unavailable: str | None = None

    def render(self, data: bytes, *, max_size: int, dpi: float, max_pixels: int, min_size: int,
               timeout_s: float) -> PdfRender | None:
        """The first page, or None when PDFium cannot open the file or is not installed (use poppler).

        Raises ``Skip`` for an unusable figure (pixel cap, too small, timeout, a renderer that died)."""
        req = {"max_size": max_size, "dpi": dpi, "max_pixels": max_pixels, "min_size": min_size,
               "backstop_s": timeout_s + 5}
        for attempt in (1, 2):
            proc = self._ensure_started()
            if proc is None:
                return None
            try:
                assert proc.stdin is not None
                proc.stdin.write(frame_head(req, len(data)))
                proc.stdin.write(data)
                proc.stdin.flush()
                break
            except OSError:  # the helper died after its last reply: this figure never reached it
                code = self.stop()
                if attempt == 2:
                    raise Skip("rasterize_error", f"the PDFium renderer died ({_describe_exit(code)})") from None
        try:
            meta, payload = self._read(time.monotonic() + timeout_s)
        except TimeoutError:
            self.stop()
            raise Skip("rasterize_timeout", f"PDFium took longer than {timeout_s:g}s") from None
        except (OSError, EOFError):
            code = self.stop()
            raise Skip("rasterize_error", f"the PDFium renderer died ({_describe_exit(code)})") from None
        status = meta.get("status")
        if status == "ok":
            return PdfRender(payload, tuple(meta["size"]), tuple(meta["page"]))
        if status == "skip":
            raise Skip(meta["reason"], meta["detail"])
        return None  # "unopenable"

    def _ensure_started(self) -> subprocess.Popen | None:
        if self.pid != os.getpid():
            self._forget_parents_helper()
        if self.unavailable is not None:
            return None
        if self.proc is not None and self.proc.poll() is None:
            return self.proc
        self.proc = None
        proc = subprocess.Popen([sys.executable, "-I", str(SERVER), str(self.memory_limit)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                close_fds=True)
        self.proc = proc
        try:
            meta, _ = self._read(time.monotonic() + START_TIMEOUT_S)
        except (TimeoutError, OSError, EOFError) as e:
            meta = {"status": "unavailable", "detail": f"helper did not start ({type(e).__name__})"}
        if meta.get("status") != "ready":
            self.stop()
            self.unavailable = str(meta.get("detail", meta))
            log.warning("PDFium is unavailable (%s); PDFs go through poppler", self.unavailable)
            return None
        return proc

    def _read(self, deadline: float) -> tuple[dict, bytes]:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        head = _read_exact(fd, HEADER.size, deadline)
        n_meta, n_payload = HEADER.unpack(head)
        meta = json.loads(_read_exact(fd, n_meta, deadline))
        return meta, _read_exact(fd, n_payload, deadline)

    def stop(self) -> int | None:
        """Kill the helper (if any) and reap it; returns its exit status."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        code = proc.wait()
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass
        return code

    def _forget_parents_helper(self) -> None:
        """After a fork the helper belongs to the parent: close our copies of its pipes, leave it running."""
        if self.proc is not None:
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()  # type: ignore[union-attr]  (our copy of the descriptor only)
                except OSError:
                    pass
            self.proc.returncode = 0  # not ours to wait for
        self.proc = None
        self.pid = os.getpid()


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    chunks = []
    while n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = ", probably over its address-space limit" if name in ("SIGABRT", "SIGSEGV", "SIGTRAP") else ""
        return f"{name}{hint}"
    return f"exit status {code}"


_RENDERERS: dict[int, PdfiumRenderer] = {}
_FINALIZER_PID: int | None = None


def renderer(memory_limit: int) -> PdfiumRenderer:
    """This process's helper for the given address-space limit (one per limit; in practice one)."""
    global _FINALIZER_PID
    if _FINALIZER_PID != os.getpid():
        # A pool worker leaves through multiprocessing's exit path, which skips atexit (and forgets the
        # finalizers of its parent): reap the helper there too, so it never outlives its worker as an orphan.
        multiprocessing.util.Finalize(None, _stop_all, exitpriority=10)
        _FINALIZER_PID = os.getpid()
    r = _RENDERERS.get(memory_limit)
    if r is None:
        r = _RENDERERS[memory_limit] = PdfiumRenderer(memory_limit)
    return r


@atexit.register
def _stop_all() -> None:
    for r in _RENDERERS.values():
        if r.pid == os.getpid():
            r.stop()
