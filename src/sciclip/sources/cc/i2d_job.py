"""Runs ``img2dataset.download`` with the keyword arguments of a JSON file: ``python -m`` this module.

img2dataset starts its workers with the "spawn" method, which re-imports the main module: it must be a
module guarded by ``if __name__ == "__main__"``, never stdin or an interactive session, so the download
job calls it in its own interpreter.
"""

from __future__ import annotations

import json
import os
import sys


def main(spec_path: str) -> int:
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    os.environ.setdefault("WANDB_MODE", "disabled")
    with open(spec_path, encoding="utf-8") as f:
        kwargs = json.load(f)
    from img2dataset import download

    download(**kwargs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
