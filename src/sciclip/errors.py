"""Exceptions that carry a one-line, user-facing reason.

The CLI prints ``str(error)`` and exits non-zero; anything else is a bug and keeps its traceback.
"""


class SciclipError(Exception):
    """A failure the user can act on: the message names the file and the problem."""


class Skip(Exception):
    """One paper, figure or member is unusable; ``reason`` is the stats counter it lands in."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def os_error_message(e: OSError) -> str:
    """``<file>: <problem>`` for an OSError that names a path (the second path of a rename is the target)."""
    path = e.filename2 if e.filename2 is not None else e.filename
    return f"{path}: {(e.strerror or str(e)).lower()}"
