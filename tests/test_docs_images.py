"""Document images against the evaluation set and across documents: the sample's planted near-duplicates
leave every document (the rest intact and in order), repeats beyond the limit leave, and the bounded-memory
search decides exactly as a brute-force count over every pair."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from sciclip.docs import image_removals
from sciclip.docs.assemble import assemble
from sciclip.docs.clean import REMOVED, CleanOptions, clean_documents, remove_images
from sciclip.docs.image_descriptors import SCHEMA
from sciclip.docs.image_removals import REMOVAL, Folder, find_removals
from sciclip.docs.model import DocRecord, ImageBlock, RawDocument, TextBlock
from sciclip.docs.reader import read_dir
from sciclip.docs.writer import DocWriter
from sciclip.images.pipeline import ImageOptions
from tests.conftest import call_cli

PHASH_THRESHOLD = 0.75  # config/config.yaml: decontamination.thresholds.phash
NEAR_THRESHOLD = 0.95  # curate.near_dup.thresholds.phash: at most 3 differing bits


def photo(seed: int, size=(320, 240)) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    return Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)


def encoded(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def paragraphs(texts: list) -> list[str]:
    return [p for t in texts if t for p in t.split("\n\n")]


# ---- removing images from one document -----------------------------------------------------------------------

def figure_doc() -> DocRecord:
    blocks = [TextBlock("Intro paragraph of the paper."),
              ImageBlock("a.png", data=encoded(photo(1))), TextBlock("Caption of figure a.", "caption"),
              TextBlock("Body after figure a."),
              ImageBlock("b.png", data=encoded(photo(2))), ImageBlock("c.png", data=encoded(photo(3))),
              TextBlock("Caption of figures b and c.", "caption"), TextBlock("Closing words."),
              ImageBlock("d.png", data=encoded(photo(4)))]
    return assemble(RawDocument("doc", "arxiv", blocks, {"paper_id": "x"}), ImageOptions(max_size=64), Counter())


def test_a_caption_belongs_to_the_images_just_before_it():
    r = figure_doc()
    captions = [m.get("caption") if m else None for m in r.metadata]
    assert captions == [None, "Caption of figure a.", None, "Caption of figures b and c.", "Caption of figures b and c.",
                        None, None]


@pytest.mark.parametrize("captions", ["text", "drop"])
def test_removed_images_leave_the_rest_in_order(captions):
    r = figure_doc()
    a, b, c, d = (i for i, im in enumerate(r.images) if im is not None)
    out, dropped = remove_images(r, {a, b}, captions)
    assert [im for im in out.images if im] == [r.images[c], r.images[d]]
    assert [x for x in out.image_bytes if x] == [r.image_bytes[c], r.image_bytes[d]]
    expected = paragraphs(r.texts)
    if captions == "drop":  # a's caption goes with it; b and c share theirs, and c stays
        expected.remove("Caption of figure a.")
    assert paragraphs(out.texts) == expected and dropped == (captions == "drop")
    assert out.texts[0] == "Intro paragraph of the paper.\n\n" + ("" if captions == "drop" else "Caption of figure a.\n\n") \
        + "Body after figure a."  # texts around a removed image are merged again
    out, dropped = remove_images(r, {b, c}, captions)
    assert ("Caption of figures b and c." in paragraphs(out.texts)) == (captions == "text")
    out, _ = remove_images(r, {d}, captions)  # the last position: nothing after it
    assert out.images[-1] is None and out.texts[-1].endswith("Closing words.")


# ---- the planted contamination of the sample --------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_docs(sample_dir, sample_tarballs, tmp_path_factory):
    """The sample's arXiv and PMC documents, their descriptors, the decisions and the cleaned folders."""
    from sciclip.curate.decontaminate import embed_eval
    from sciclip.docs.image_descriptors import embed_documents
    from sciclip.sources.arxiv.documents import documents_from_tarballs
    from sciclip.sources.pmc.documents import documents_from_articles

    d = tmp_path_factory.mktemp("docs-images")
    documents_from_tarballs(sample_tarballs, d / "arxiv", workers=2)
    documents_from_articles([sample_dir / "pmc" / "cloud"], d / "pmc")
    embed_eval(d / "eval.npz", "phash", images=str(sample_dir / "eval"))
    folders = []
    for s in ("arxiv", "pmc"):
        embed_documents(d / s, d / f"{s}.desc", "phash", d / "eval.npz")
        folders.append(Folder(f"{s}/all", d / s, [d / f"{s}.desc"]))
    report = find_removals(folders, d / "removals", PHASH_THRESHOLD, NEAR_THRESHOLD, 10)
    for s in ("arxiv", "pmc"):
        for captions in ("text", "drop"):
            clean_documents(d / s, d / "removals" / s / "all.npy", d / f"{s}.{captions}", CleanOptions(captions))
    return d, report


def _eval_hashes(sample_dir: Path) -> list:
    import imagehash

    return [imagehash.phash(Image.open(p).convert("RGB")) for p in sorted((sample_dir / "eval").glob("*.png"))]


def _max_similarity(jpeg: bytes, hashes: list) -> float:
    import imagehash

    h = imagehash.phash(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    return max(1 - (h - e) / 64 for e in hashes)


def test_no_document_image_is_within_the_threshold_of_an_evaluation_image(sample_docs, sample_dir):
    d, report = sample_docs
    hashes = _eval_hashes(sample_dir)
    planted = {}
    for s in ("arxiv", "pmc"):
        for r in read_dir(d / s):
            for im, data, meta in zip(r.images, r.image_bytes, r.metadata):
                if im is not None and _max_similarity(data, hashes) >= PHASH_THRESHOLD:
                    planted[meta["uid"]] = (s, meta.get("source_path") or im)
    # before: the four photographs of 2002.00001 and PMC1000010's
    assert sorted(p for s, p in planted.values() if s == "arxiv") == sorted(
        f"planted_{k}" for k in ("crop.png", "gray.png", "q70.jpg", "resized.png"))
    assert len([s for s, _ in planted.values() if s == "pmc"]) == 1
    assert report["removed"]["near_duplicate_of_evaluation_image"] == 5
    for s, n in (("arxiv", 4), ("pmc", 1)):
        for captions in ("text", "drop"):
            out = d / f"{s}.{captions}"
            for r in read_dir(out):
                for im, data in zip(r.images, r.image_bytes):
                    assert im is None or _max_similarity(data, hashes) < PHASH_THRESHOLD, (s, r.id, im)
            stats = json.loads((out / "stats.json").read_text())
            assert stats["skipped_images"]["near_duplicate_of_evaluation_image"] == n
            removed = pq.read_table(out / REMOVED).to_pylist()
            assert {x["uid"] for x in removed} == {u for u, (src, _) in planted.items() if src == s}
            assert all(x["image_bytes"] and x["score"] >= PHASH_THRESHOLD and x["document_kept"] for x in removed)


@pytest.mark.parametrize("captions", ["text", "drop"])
def test_every_other_part_of_every_document_is_intact_and_in_order(sample_docs, captions):
    d, _ = sample_docs
    for s in ("arxiv", "pmc"):
        gone = {x["uid"]: x["caption"] for x in pq.read_table(d / f"{s}.{captions}" / REMOVED).to_pylist()}
        before = list(read_dir(d / s))
        after = {r.id: r for r in read_dir(d / f"{s}.{captions}")}
        assert [r.id for r in before] == list(after)  # no document dropped (min_images 0), order kept
        for r in before:
            a = after[r.id]
            kept = [(m["uid"], b) for m, b in zip(r.metadata, r.image_bytes) if m and m["uid"] not in gone]
            assert [(m["uid"], b) for m, b in zip(a.metadata, a.image_bytes) if m] == kept
            expected = paragraphs(r.texts)
            if captions == "drop":
                expected = [p for p in expected if p not in {gone[m["uid"]] for m in r.metadata if m and m["uid"] in gone}]
            assert paragraphs(a.texts) == expected
            assert a.general_metadata == r.general_metadata
    paper = next(r for r in read_dir(d / f"arxiv.{captions}") if r.general_metadata["paper_id"] == "2002.00001")
    text = "\n\n".join(t for t in paper.texts if t)
    assert ("A benchmark photograph, resized for the paper." in text) == (captions == "text")
    assert "Our own measurement, which no benchmark contains." in text and paper.n_images == 1


# ---- images repeated across documents ---------------------------------------------------------------------------

def test_an_image_in_many_documents_leaves_those_beyond_the_limit(tmp_path):
    """A logo (the same picture re-encoded and resized now and then: near-duplicates, not only copies) in six
    documents, limit 2: the first two keep it, the other four lose it; a document holding nothing else goes."""
    logo = photo(99, (300, 120))
    variants = [encoded(logo), encoded(logo), encoded(logo.resize((280, 112)), "JPEG", quality=80), encoded(logo),
                encoded(logo.convert("L").convert("RGB")), encoded(logo)]
    with DocWriter(tmp_path / "docs") as w:
        for i, data in enumerate(variants):
            blocks = [TextBlock(f"Document {i} says something about its subject in several words.")]
            blocks.append(ImageBlock(f"logo{i}.png", data=data))
            if i != 3:  # document 3 holds only the logo
                blocks.append(ImageBlock(f"own{i}.png", data=encoded(photo(i))))
            w.write(assemble(RawDocument(f"d{i}", "web", blocks, {"url": f"http://x.test/{i}"}), ImageOptions(), Counter()))
    (tmp_path / "docs" / "stats.json").write_text(json.dumps({"source": "web", "input": "x"}))
    code, _, err = call_cli("docs", "embed", str(tmp_path / "docs"), "--descriptor", "phash",
                            "--out", str(tmp_path / "desc"))
    assert code == 0, err
    code, _, err = call_cli("docs", "removals", "--folder", "web/x", str(tmp_path / "docs"), str(tmp_path / "desc"),
                            "--near-threshold", str(NEAR_THRESHOLD), "--max-image-documents", "2",
                            "--out", str(tmp_path / "rm"))
    assert code == 0, err
    code, _, err = call_cli("docs", "clean", str(tmp_path / "docs"), "--removals", str(tmp_path / "rm" / "web" / "x.npy"),
                            "--min-images", "1", "--out", str(tmp_path / "clean"))
    assert code == 0, err
    out = {d.id: d for d in read_dir(tmp_path / "clean")}
    assert list(out) == ["d0", "d1", "d2", "d4", "d5"]
    for i, doc in out.items():
        refs = [m["uid"] for m in doc.metadata if m]
        assert len(refs) == (2 if i in ("d0", "d1") else 1), i
    stats = json.loads((tmp_path / "clean" / "stats.json").read_text())
    assert stats["skipped_images"] == {"repeated_in_too_many_documents": 4}
    assert stats["skipped_documents"] == {"too_few_images_after_image_dedup": 1}
    assert stats["documents"] == 5 and stats["images"] == 7
    report = json.loads((tmp_path / "rm" / "report.json").read_text())
    assert report["removed"]["repeated_in_too_many_documents"] == 4


def _write_folder(root: Path, name: str, docs: list[list[int]], desc_units: list[list[list[int]]], images: dict,
                  descriptor: str) -> Folder:
    """A document folder holding ``docs`` (lists of image numbers) and descriptor folders made from ``desc_units``
    (the units' documents, a superset in the same order, as a dedup output's units are)."""
    def uid(doc: list[int], k: int) -> str:
        return hashlib.md5(f"{name}|{doc}|{k}".encode()).hexdigest()

    with DocWriter(root / name) as w:
        for i, doc in enumerate(docs):
            texts, ims, blobs, metas = [], [], [], []
            for k, img in enumerate(doc):
                texts += ["text", None]
                ims += [None, f"img{img}"]
                blobs += [None, b"jpeg"]
                metas += [None, {"uid": uid(doc, k), "sha256": images[img]["sha"]}]
            w.write(DocRecord(f"{name.replace('/', '_')}-{i}", "web", texts, ims, blobs, metas, {}))
    descs = []
    for u, unit in enumerate(desc_units):
        cols: dict[str, list] = {k: [] for k in SCHEMA.names}
        emb = []
        for i, doc in enumerate(unit):
            for k, img in enumerate(doc):
                for key, v in (("doc", i), ("id", f"u{u}-{i}"), ("position", 2 * k + 1), ("uid", uid(doc, k)),
                               ("sha256", images[img]["sha"]), ("described", True), ("score", images[img]["score"])):
                    cols[key].append(v)
                emb.append(images[img]["emb"])
        out = root / f"{name}.desc{u}"
        out.mkdir()
        pq.write_table(pa.table(cols, schema=SCHEMA), out / "images.parquet")
        dim, dtype = (8, np.uint8) if descriptor == "phash" else (16, np.float32)
        np.save(out / "emb.npy", np.array(emb, dtype).reshape(-1, dim))
        (out / "descriptor.txt").write_text(descriptor)
        descs.append(out)
    return Folder(name, root / name, descs)


def _brute_force(order: list[tuple[str, int, int]], images: dict, near, contamination: float, n: int) -> set:
    """(folder, image index within it) of every image that N earlier documents hold a copy of."""
    seen: list[tuple[int, int]] = []  # (document, image number) of every counted image so far
    removed = set()
    for folder, index, doc, img in order:
        if images[img]["score"] >= contamination:
            continue
        holders = {d for d, j in seen if d < doc and (images[j]["sha"] == images[img]["sha"] or near(j, img))}
        if len(holders) >= n:
            removed.add((folder, index))
        seen.append((doc, img))
    return removed


@pytest.mark.parametrize("descriptor", ["phash", "yokoo"])
def test_repeats_decided_in_partitions_match_a_brute_force_count(descriptor, tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    images: dict[int, dict] = {}
    bases = [int(x) for x in rng.integers(0, 2**63, 10)]
    centres = rng.normal(size=(10, 16))
    for i in range(60):
        fam = i % 10
        if descriptor == "phash":  # a family: its base code with 0..5 bits flipped (within 3: near-duplicates)
            code = bases[fam] ^ sum(1 << int(b) for b in rng.choice(64, int(rng.integers(0, 6)), replace=False))
            emb = np.frombuffer(code.to_bytes(8, "big"), np.uint8)
        else:
            v = centres[fam] + rng.normal(scale=0.25 * (i % 3), size=16)
            emb = (v / np.linalg.norm(v)).astype(np.float32)
        images[i] = {"sha": hashlib.sha256(b"%d" % i).hexdigest(), "emb": emb, "score": 0.9 if i % 11 == 0 else 0.1}
        if i % 7 == 0 and i >= 10:  # a byte copy of its family's first image: the same sha256, the same descriptor
            images[i] = {**images[fam], "score": images[i]["score"]}

    def near(a: int, b: int) -> bool:
        x, y = images[a]["emb"], images[b]["emb"]
        if descriptor == "phash":
            return bin(int.from_bytes(x.tobytes(), "big") ^ int.from_bytes(y.tobytes(), "big")).count("1") <= 3
        return float(x @ y) >= 0.9

    docs = [[int(x) for x in rng.choice(60, int(rng.integers(1, 5)), replace=False)] for _ in range(45)]
    extra = [[int(x) for x in rng.choice(60, 2, replace=False)] for _ in range(4)]
    folders = [_write_folder(tmp_path, "arxiv/a", docs[:15], [docs[:15]], images, descriptor),
               _write_folder(tmp_path, "pmc/b", docs[15:25], [docs[15:25]], images, descriptor),
               # a dedup output: some documents of its two units are gone
               _write_folder(tmp_path, "web/dedup", docs[25:45:2],
                             [docs[25:35] + extra[:2], docs[35:45] + extra[2:]], images, descriptor)]
    kept_docs = docs[:25] + docs[25:45:2]
    order, g = [], 0
    for f, fdocs in zip(folders, [docs[:15], docs[15:25], docs[25:45:2]]):
        index = 0
        for doc in fdocs:
            for img in doc:
                order.append((f.name, index, g, img))
                index += 1
            g += 1
    assert g == len(kept_docs)
    # tiny partitions and buckets: the bounded-memory path with many files, folders spanning buckets
    monkeypatch.setattr(image_removals, "PARTITION_BYTES", 700)
    monkeypatch.setattr(image_removals, "BUCKET_SHIFT", 3)
    monkeypatch.setattr(image_removals, "FLUSH", 5)
    threshold = NEAR_THRESHOLD if descriptor == "phash" else 0.9
    for n in (1, 2, 4):
        out = tmp_path / f"rm-{n}"
        report = find_removals(folders, out, 0.5, threshold, n)
        got = set()
        for f in folders:
            dec = np.load(out / f"{f.name}.npy")
            assert dec.dtype == REMOVAL and np.all(np.diff(dec["image"].astype(np.int64)) > 0)
            got |= {(f.name, int(i)) for i, r in zip(dec["image"], dec["reason"]) if r == image_removals.TOO_FREQUENT}
        expected = _brute_force(order, images, near, 0.5, n)
        assert got == expected and expected, n
        assert report["removed"]["near_duplicate_of_evaluation_image"] == sum(
            images[img]["score"] >= 0.5 for *_, img in order)
    exact = find_removals(folders, tmp_path / "rm-exact", 0.5, None, 2)
    got = {(f.name, int(i)) for f in folders for i, r in np.load(tmp_path / "rm-exact" / f"{f.name}.npy")[["image", "reason"]]
           .tolist() if r == image_removals.TOO_FREQUENT}
    assert got == _brute_force(order, images, lambda a, b: False, 0.5, 2)
    assert exact["removed"]["repeated_in_too_many_documents"] == len(got)


def test_removals_of_another_folder_are_refused(sample_docs, tmp_path):
    from sciclip.errors import SciclipError

    d, _ = sample_docs
    with pytest.raises(SciclipError, match="another folder"):
        clean_documents(d / "pmc", d / "removals" / "arxiv" / "all.npy", tmp_path / "x")


def test_yokoo_descriptors_of_document_shards_read_by_workers_match_the_in_memory_path(tmp_path):
    """The production descriptor over document shards (a DataLoader, shards split between workers, rows put
    back in document order), scored against an evaluation file holding one document image's descriptor."""
    from sciclip.curate.decontaminate import embed_eval
    from sciclip.curate.descriptors import embed, open_image
    from sciclip.docs.image_descriptors import embed_documents, load_descriptors
    from tests.test_curate import _released_checkpoint

    weights = tmp_path / "isc_ft_v107.pth.tar"
    _released_checkpoint(weights)
    with DocWriter(tmp_path / "docs", docs_per_shard=2) as w:
        for i in range(5):
            blocks = [TextBlock(f"Document {i}.")] + [ImageBlock(f"{i}-{k}.png", data=encoded(photo(10 * i + k)))
                                                       for k in range(i % 3)]
            w.write(assemble(RawDocument(f"d{i}", "arxiv", blocks, {}), ImageOptions(max_size=96), Counter()))
    jpegs = [(m["uid"], b) for r in read_dir(tmp_path / "docs") for m, b in zip(r.metadata, r.image_bytes) if m]
    _, expected = embed([(u, open_image(b)) for u, b in jpegs], "yokoo", weights=str(weights), device="cpu")
    np.save(tmp_path / "eval.npy", expected[[2]])
    embed_eval(tmp_path / "eval.npz", "yokoo", embeddings=str(tmp_path / "eval.npy"))
    rep = embed_documents(tmp_path / "docs", tmp_path / "desc", "yokoo", tmp_path / "eval.npz", weights=str(weights),
                          device="cpu", batch_size=2, workers=2)
    table, emb, descriptor = load_descriptors(tmp_path / "desc")
    assert rep["images"] == len(jpegs) == 4 and descriptor == "yokoo"  # documents of 0, 1 and 2 images
    assert table.column("uid").to_pylist() == [u for u, _ in jpegs]
    assert np.allclose(emb, expected, atol=1e-4)
    scores = np.array(table.column("score").to_pylist())
    assert np.allclose(scores, (expected @ expected[2]), atol=1e-4) and scores.argmax() == 2
