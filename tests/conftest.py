"""Shared fixtures: the sample corpus written once per session, and readers for shards."""

from __future__ import annotations

import json
import os
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REALDATA = ROOT.parent / "shared" / "realdata"
# albumentations (imported by img2dataset) asks PyPI for a newer version at import unless told not to: tests
# contact nothing but loopback
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")


# Module fixtures that run the whole workflow (minutes each): every test using one goes to the same xdist
# worker (``--dist loadgroup`` in the Makefile), so each runs once per session rather than once per worker.
SHARED_RUNS = ("first_run", "docs_run", "cc_run", "cc_workflow")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Suffix the node ids of the tests sharing a run with its group, as xdist's loadgroup expects. xdist 3.8
    does this itself by writing ``item._nodeid``, which pytest 9 no longer reads (the id lives in ``_id``)."""
    if not getattr(config.option, "loadgroup", False):  # set on xdist workers under --dist loadgroup
        return
    from _pytest.nodeid import NodeId

    for item in items:
        group = next((name for name in SHARED_RUNS if name in getattr(item, "fixturenames", ())), None)
        if group and "@" not in item.nodeid:
            item._id = NodeId.parse(f"{item.nodeid}@{group}")
    # xdist hands out the groups first (most tests first), then single tests in this order: the long ones (the real
    # SLURM run, then the other whole workflows) go first so that no worker starts one when the other is done
    items.sort(key=lambda item: 0 if item.path.name == "test_slurm.py" else 1 if item.get_closest_marker("slow")
               else 2)


@pytest.fixture(scope="session")
def first_run(tmp_path_factory) -> Path:
    """The demo's workflow run to the end in a scratch checkout (minutes), read by test_workflow.py and by
    test_docs_commands.py (the documented commands run on it): once per session, on one worker (SHARED_RUNS)."""
    from tests.test_workflow import make_checkout, snakemake

    wd = make_checkout(tmp_path_factory.mktemp("wf1"))
    snakemake(wd, "--cores", "2", extra_env={"SCICLIP_TRACE_IMPORTS": str(wd / "trace")})
    return wd


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    from sciclip.sample import write_sample

    out = tmp_path_factory.mktemp("sample")
    write_sample(out)
    return out


@pytest.fixture(scope="session")
def sample_tarballs(sample_dir) -> list[Path]:
    return sorted((sample_dir / "arxiv" / "src").glob("*.tar"))


@pytest.fixture(scope="session")
def sample_extracted(sample_tarballs, tmp_path_factory) -> tuple[Path, dict]:
    """Every sample tarball extracted with default options: (output root, {tarball: JobStats})."""
    from sciclip.sources.arxiv.extract import extract_tarball

    root = tmp_path_factory.mktemp("extracted")
    stats = {t.stem: extract_tarball(t, root / t.stem) for t in sample_tarballs}
    return root, stats


@pytest.fixture(scope="session")
def i2d(sample_extracted, tmp_path_factory) -> Path:
    """The sample's arXiv extraction in img2dataset's layout, 10 samples a shard (several shards, tail units)."""
    from sciclip.shards.img2dataset import convert

    root, _ = sample_extracted
    out = tmp_path_factory.mktemp("i2d") / "arxiv"
    convert(sorted(p for p in root.iterdir() if p.is_dir()), out, samples_per_shard=10)
    return out


# A small fastText language-id model (English vs German) trained on these: the stand-in for lid.176.bin.
EN = ("the farmer walks to the old mill every morning", "children play near the river after school",
      "we read a book about the history of the village", "the church tower can be seen from the hills",
      "my neighbour grows apples and pears in her garden", "they built a new bridge over the water last year")
DE = ("der bauer geht jeden morgen zur alten mühle", "die kinder spielen nach der schule am fluss",
      "wir lesen ein buch über die geschichte des dorfes", "der kirchturm ist von den hügeln aus zu sehen",
      "meine nachbarin baut äpfel und birnen in ihrem garten an",
      "sie haben letztes jahr eine neue brücke über das wasser gebaut")


@pytest.fixture(scope="session")
def lid(tmp_path_factory) -> Path:
    import random

    fasttext = pytest.importorskip("fasttext")
    d = tmp_path_factory.mktemp("lid")
    rng = random.Random(0)
    lines = []
    for label, sents in (("en", EN), ("de", DE)):
        vocab = " ".join(sents).split()
        for _ in range(150):
            lines.append(f"__label__{label} " + " ".join(rng.choice(vocab) for _ in range(rng.randint(5, 12))))
    rng.shuffle(lines)
    (d / "train.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # lr 0.5 diverged now and then ("Encountered NaN" on a loaded machine); 0.1 with more epochs does not
    model = fasttext.train_supervised(input=str(d / "train.txt"), epoch=50, lr=0.1, minn=2, maxn=4, dim=16,
                                      thread=1, seed=0, verbose=0)
    model.save_model(str(d / "lid.bin"))
    return d / "lid.bin"


def read_shard(path: Path) -> list[dict]:
    """Samples of a shard as {key, jpg, txt, json} dicts, in order (plain tarfile, no webdataset)."""
    out: list[dict] = []
    with tarfile.open(path) as tar:
        for m in tar:
            key, _, ext = m.name.partition(".")
            data = tar.extractfile(m).read()
            if not out or out[-1]["key"] != key:
                out.append({"key": key})
            out[-1][ext] = data
    for s in out:
        if "json" in s:
            s["meta"] = json.loads(s["json"])
        if "txt" in s:
            s["caption"] = s["txt"].decode("utf-8")
    return out


def read_dir(directory: Path) -> list[dict]:
    return [s for shard in sorted(directory.rglob("*.tar")) for s in read_shard(shard)]


def expected_pairs() -> dict[tuple[str, str], str]:
    rows = {}
    with open(FIXTURES / "sample_expected.tsv", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            paper, path, caption = line.rstrip("\n").split("\t")
            rows[(paper, path)] = caption
    return rows


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None):
    import subprocess

    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "sciclip", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True)


def call_cli(*args: str) -> tuple[int, str, str]:
    """``sciclip ARGS`` in this process (much faster than ``run_cli``): (exit code, stdout, stderr). Logging
    goes to pytest's capture, so stderr holds what the command prints itself (its error or summary line)."""
    import contextlib
    import io

    from sciclip.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(args))
        except SystemExit as e:  # argparse
            rc = e.code if isinstance(e.code, int) else 1
    return rc, out.getvalue(), err.getvalue()
