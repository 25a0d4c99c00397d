import os

if os.environ.get("SCICLIP_TRACE_IMPORTS"):
    # Opt-in record of what this command imported, used by the tests that check each rule's conda env.
    import atexit
    import json
    import sys

    def _dump_imports() -> None:
        folder = os.environ["SCICLIP_TRACE_IMPORTS"]
        os.makedirs(folder, exist_ok=True)
        record = {"argv": sys.argv[1:], "modules": sorted({m.split(".")[0] for m in sys.modules})}
        with open(os.path.join(folder, f"{os.getpid()}.json"), "w") as f:
            json.dump(record, f)

    atexit.register(_dump_imports)

from sciclip.cli import main  # noqa: E402

raise SystemExit(main())
