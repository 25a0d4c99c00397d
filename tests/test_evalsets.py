"""``sciclip evalsets`` against a fake Hugging Face dataset repository on 127.0.0.1 (raw/ serves Git LFS pointers,
resolve/ the files), and the conversion of Hugging Face retrieval and WinoGAViL datasets (in memory) into
WebDataset folders that ``sciclip evaluate`` reads."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from sciclip.evaluate.layout import count_samples
from tests.conftest import call_cli, read_dir
from tests.eval_fixtures import image, write_classification
from tests.servers import StaticHTTP


def _repo(root, name, folder):
    """``root/<name>`` laid out as huggingface.co/datasets/djghosh/<name> serves it."""
    raw, resolve = root / name / "raw" / "main", root / name / "resolve" / "main"
    for f in ("classnames.txt", "zeroshot_classification_templates.txt", "test/nshards.txt"):
        (raw / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(folder / f, raw / f)
    for tar in sorted((folder / "test").glob("*.tar")):
        data = tar.read_bytes()
        (resolve / "test").mkdir(parents=True, exist_ok=True)
        (resolve / "test" / tar.name).write_bytes(data)
        (raw / "test" / tar.name).write_text("version https://git-lfs.github.com/spec/v1\n"
                                            f"oid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n")


@pytest.fixture
def hub(tmp_path):
    src = tmp_path / "src"
    cars = write_classification(src, "cars", [0, 1, 2, 1, 0, 2, 1, 0], ["a", "b", "c"], ["a {c}."], seed=1,
                                shard_size=3)
    geode = write_classification(src, "geode", [0, 1, 1, 0], ["x", "y"], ["a {c}."], seed=2, shard_size=3)
    _repo(tmp_path / "hub", "wds_cars_test", cars)
    _repo(tmp_path / "hub", "wds_geode_test", geode)  # DataComp's name: fairness/ dropped
    server = StaticHTTP(str(tmp_path / "hub"))
    yield server.url, tmp_path / "hub", {"cars": cars, "geode": geode}
    server.stop()


def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sets_land_as_datacomps_download_lays_them_out(hub, tmp_path):
    url, repo, src = hub
    out = tmp_path / "out"
    rc, _, err = call_cli("evalsets", "--tasks", "cars", "fairness/geode", "--out", str(out), "--base-url", url,
                          "--retries", "0")
    assert rc == 0, err
    assert _files(out / "wds_cars_test") == _files(src["cars"])  # classification sets carry no dataset_type.txt
    assert _files(out / "wds_geode_test") == _files(src["geode"])
    # a damaged local tar is fetched again (its sha256 no longer matches the pointer); an intact one is kept
    (out / "wds_cars_test" / "test" / "1.tar").write_bytes(b"junk")
    (repo / "wds_cars_test" / "resolve" / "main" / "test" / "0.tar").write_bytes(b"server changed, pointer not")
    rc, _, err = call_cli("evalsets", "--tasks", "cars", "--out", str(out), "--base-url", url, "--retries", "0")
    assert rc == 0, err
    assert _files(out / "wds_cars_test") == _files(src["cars"])


def test_a_missing_set_is_named_and_the_others_land(hub, tmp_path):
    url, _, src = hub
    rc, _, err = call_cli("evalsets", "--tasks", "imagenet1k", "cars", "--out", str(tmp_path / "o"), "--base-url",
                          url, "--retries", "0")
    assert rc == 1 and "imagenet1k" in err and "404" in err and "1 of 2 sets" in err
    assert _files(tmp_path / "o" / "wds_cars_test") == _files(src["cars"])


def _pil(seed):
    import io

    from PIL import Image

    return Image.open(io.BytesIO(image(seed))).convert("RGB")


def test_hugging_face_retrieval_and_winogavil_become_webdataset_folders(tmp_path):
    import datasets

    from sciclip.evaluate.download import write_retrieval, write_winogavil
    from sciclip.evaluate.tasks import locate
    from sciclip.evaluate.zeroshot import _winogavil_examples

    flickr = datasets.Dataset.from_dict(
        {"image": [_pil(i) for i in range(4)], "caption": [[f"one {i}", f"two\n{i}"] for i in range(4)]},
        features=datasets.Features({"image": datasets.Image(), "caption": datasets.Sequence(datasets.Value("string"))}))
    folder = tmp_path / "wds_retrieval-flickr_1k_test_image_text_retrieval_test"
    assert write_retrieval(flickr, folder) == 4 == count_samples(folder)
    samples = read_dir(folder)
    assert [s["caption"] for s in samples] == [f"one {i}\ntwo {i}" for i in range(4)]  # one caption per line
    assert (folder / "dataset_type.txt").read_text().strip() == "retrieval"
    data = locate("retrieval/flickr_1k_test_image_text_retrieval", [tmp_path])
    assert data.folder == folder  # the WebDataset folder wins over DataComp's hf_cache
    wino = datasets.Dataset.from_dict(
        {"candidate_images": [[_pil(10 + j) for j in range(5)]], "cue": ["apple"],
         "candidates": [[f"c{j}" for j in range(5)]], "associations": [["c1", "c3"]]},
        features=datasets.Features({"candidate_images": datasets.Sequence(datasets.Image()),
                                    "cue": datasets.Value("string"),
                                    "candidates": datasets.Sequence(datasets.Value("string")),
                                    "associations": datasets.Sequence(datasets.Value("string"))}))
    wfolder = tmp_path / "wds_misc-winogavil_test"
    assert write_winogavil(wino, wfolder) == 1
    (images, cue, cands, assoc), = list(_winogavil_examples(locate("misc/winogavil", [tmp_path])))
    assert cue == "apple" and cands == [f"c{j}" for j in range(5)] and assoc == ["c1", "c3"]
    assert [im.size for im in images] == [_pil(10 + j).size for j in range(5)]
    assert json.loads(read_dir(wfolder)[0]["candidates.json"]) == cands
