"""Own papers as a local arXiv mirror (`sciclip arxiv mirror`), and bulk tarballs whose members are not arXiv
papers (issue 27, item 3)."""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import tarfile
from pathlib import Path

import pytest

from sciclip.sources.arxiv.ids import paper_id_from_member, strip_archive_suffixes
from sciclip.sources.arxiv.manifest import parse_manifest, select_tarballs
from tests.conftest import call_cli, read_dir


def _tex(caption: str) -> bytes:
    return ("\\documentclass{article}\\begin{document}\\begin{figure}\\includegraphics{f.png}"
            f"\\caption{{{caption}}}\\end{{figure}}\\end{{document}}").encode()


def _png(name: str) -> bytes:
    from sciclip.sample import media
    return media.png_rgb(name, (120, 90))


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _papers(root: Path) -> Path:
    """One paper in each form the command takes: a folder, .tar.gz, .tgz, .tar, a gzipped .tex, a plain .tex."""
    d = root / "papers"
    (d / "2401.00001" / "figs").mkdir(parents=True)
    (d / "2401.00001" / "main.tex").write_bytes(_tex("A folder paper figure.").replace(b"f.png", b"figs/f.png"))
    (d / "2401.00001" / "figs" / "f.png").write_bytes(_png("a"))
    (d / "2401.00002.tar.gz").write_bytes(gzip.compress(_tar({"main.tex": _tex("A tar.gz paper figure."),
                                                               "f.png": _png("b")})))
    (d / "2401.00003.tgz").write_bytes(gzip.compress(_tar({"main.tex": _tex("A tgz paper figure."),
                                                           "f.png": _png("c")})))
    (d / "2312.00004.tar").write_bytes(_tar({"main.tex": _tex("A plain tar paper figure."), "f.png": _png("d")}))
    (d / "2312.00005.gz").write_bytes(gzip.compress(b"\\documentclass{article}\\begin{document}Text.\\end{document}"))
    (d / "hep-th9901001.tex").write_bytes(b"\\documentclass{article}\\begin{document}Old id.\\end{document}")
    (d / "README.md").write_text("not a paper\n")
    return d


def test_every_archive_suffix_is_stripped_from_paper_ids():
    assert strip_archive_suffixes("2401.00002.tar.gz") == "2401.00002"
    assert strip_archive_suffixes("2401.00002.TGZ") == "2401.00002"
    assert paper_id_from_member("2401/2401.00002.tar.gz") == ("2401.00002", "2401")
    assert paper_id_from_member("0001/astro-ph0001001.gz") == ("astro-ph0001001", "0001")
    assert paper_id_from_member("2001/2001.00001.pdf") == ("2001.00001", "2001")


def test_a_folder_of_papers_becomes_a_mirror_the_workflow_reads(tmp_path):
    papers = _papers(tmp_path)
    rc, _, err = call_cli("arxiv", "mirror", str(papers), "--out", str(tmp_path / "mirror"))
    assert rc == 0, err
    assert "6 papers in 3 tarballs" in err and "requester_pays: false" in err
    manifest = tmp_path / "mirror" / "src" / "arXiv_src_manifest.xml"
    entries = parse_manifest(manifest.read_bytes())
    assert [(e.name, e.yymm, e.seq_num, e.num_items, e.first_item, e.last_item) for e in entries] == [
        ("arXiv_src_9901_001", "9901", 1, 1, "hep-th9901001", "hep-th9901001"),
        ("arXiv_src_2312_001", "2312", 1, 2, "2312.00004", "2312.00005"),
        ("arXiv_src_2401_001", "2401", 1, 3, "2401.00001", "2401.00003")]
    for e in entries:  # sizes and md5s are the files'
        data = (tmp_path / "mirror" / e.filename).read_bytes()
        assert (len(data), hashlib.md5(data).hexdigest()) == (e.size, e.md5sum)
    with tarfile.open(tmp_path / "mirror" / "src" / "arXiv_src_2401_001.tar") as tar:
        assert tar.getnames() == ["2401/2401.00001.gz", "2401/2401.00002.gz", "2401/2401.00003.gz"]
    # a selection by month works on it as on arXiv's own manifest
    assert [e.name for e in select_tarballs(entries, start="2312", end="2312")] == ["arXiv_src_2312_001"]
    # and the extraction reads it: the paper ids carry no archive suffix
    tarballs = sorted(str(p) for p in (tmp_path / "mirror" / "src").glob("*.tar"))
    rc, _, err = call_cli("arxiv", "extract", *tarballs, str(tmp_path / "shards"))
    assert rc == 0, err
    got = {(s["meta"]["paper_id"], s["caption"]) for s in read_dir(tmp_path / "shards")}
    assert got == {("2401.00001", "A folder paper figure."), ("2401.00002", "A tar.gz paper figure."),
                   ("2401.00003", "A tgz paper figure."), ("2312.00004", "A plain tar paper figure.")}


def test_the_mirror_is_a_function_of_its_sources(tmp_path):
    papers = _papers(tmp_path)
    for out in ("m1", "m2"):
        assert call_cli("arxiv", "mirror", str(papers), "--out", str(tmp_path / out))[0] == 0
    files = sorted(p.relative_to(tmp_path / "m1") for p in (tmp_path / "m1").rglob("*") if p.is_file())
    assert files and all((tmp_path / "m1" / f).read_bytes() == (tmp_path / "m2" / f).read_bytes() for f in files)


def test_papers_without_arxiv_ids_are_refused_or_numbered(tmp_path):
    d = tmp_path / "mine"
    for name in ("thesis", "paper-b.tar.gz"):
        p = d / name
        if name.endswith(".gz"):
            d.mkdir(exist_ok=True)
            p.write_bytes(gzip.compress(_tar({"main.tex": _tex("Paper b figure."), "f.png": _png("b")})))
        else:
            p.mkdir(parents=True)
            (p / "main.tex").write_bytes(_tex("Thesis figure."))
            (p / "f.png").write_bytes(_png("t"))
    rc, _, err = call_cli("arxiv", "mirror", str(d), "--out", str(tmp_path / "m"))
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert "2 papers are not named by an arXiv id (paper-b.tar.gz, thesis)" in err and "--yymm" in err
    rc, _, err = call_cli("arxiv", "mirror", str(d), "--out", str(tmp_path / "m"), "--yymm", "2501")
    assert rc == 0, err
    assert (tmp_path / "m" / "ids.tsv").read_text() == "arxiv_id\tsource\n2501.00001\tpaper-b.tar.gz\n2501.00002\tthesis\n"


def test_large_months_are_cut_into_numbered_tarballs(tmp_path):
    d = tmp_path / "p"
    d.mkdir()
    for i in range(1, 6):
        (d / f"2401.{i:05d}.gz").write_bytes(gzip.compress(random.Random(i).randbytes(4000)))  # 4 KB each
    assert call_cli("arxiv", "mirror", str(d), "--out", str(tmp_path / "m"), "--tarball-mb", "0.01")[0] == 0
    entries = parse_manifest((tmp_path / "m" / "src" / "arXiv_src_manifest.xml").read_bytes())
    assert [e.seq_num for e in entries] == list(range(1, len(entries) + 1)) and len(entries) > 1
    assert sum(e.num_items for e in entries) == 5


@pytest.mark.parametrize("name, data, problem", [
    ("2401.00001.gz", b"plain text", "not gzip data"),
    ("2401.00001.tar", b"plain text" * 100, "not a tar archive"),
    ("2401.00001.pdf", b"<html>", "not a PDF"),
])
def test_a_paper_file_that_is_not_what_its_name_says_is_one_line(tmp_path, name, data, problem):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / name).write_bytes(data)
    rc, _, err = call_cli("arxiv", "mirror", str(tmp_path / "p"), "--out", str(tmp_path / "m"))
    assert rc == 1 and problem in err and len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "m").rglob("*.tar*"))  # no half-written tarball


def test_the_same_paper_twice_is_refused(tmp_path):
    d = tmp_path / "p"
    (d / "2401.00001").mkdir(parents=True)
    (d / "2401.00001" / "main.tex").write_bytes(_tex("x"))
    (d / "2401.00001.tar.gz").write_bytes(gzip.compress(_tar({"main.tex": _tex("y")})))
    rc, _, err = call_cli("arxiv", "mirror", str(d), "--out", str(tmp_path / "m"))
    assert rc == 1 and "paper 2401.00001 is given more than once" in err


def test_a_plain_tar_of_paper_folders_says_what_it_is_in_one_line(tmp_path):
    """What a user packing their own papers would try first: the extraction names the problem and the fix."""
    data = _tar({"mypaper/main.tex": _tex("Figure of mine."), "mypaper/f.png": _png("m")})
    (tmp_path / "arXiv_src_2401_001.tar").write_bytes(data)
    rc, _, err = call_cli("arxiv", "extract", str(tmp_path / "arXiv_src_2401_001.tar"), str(tmp_path / "out"))
    lines = err.strip().splitlines()
    assert rc == 1 and len(lines) == 1
    assert "none of its 2 members is an arXiv paper" in lines[0] and "'mypaper/main.tex'" in lines[0]
    assert "sciclip arxiv mirror" in lines[0]


def test_members_that_are_not_papers_are_skipped_beside_papers(tmp_path):
    paper = gzip.compress(_tar({"main.tex": _tex("The real paper figure."), "f.png": _png("r")}))
    (tmp_path / "t.tar").write_bytes(_tar({"README.txt": b"about this tarball", "2401/2401.00007.gz": paper}))
    rc, _, err = call_cli("arxiv", "extract", str(tmp_path / "t.tar"), str(tmp_path / "out"))
    assert rc == 0, err
    import json
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["skipped_items"] == {"not_an_arxiv_paper": 1} and stats["samples_written"] == 1


def test_cost_of_a_local_mirror_is_nothing(tmp_path, sample_dir):
    sel = tmp_path / "selected.tsv"
    manifest = sample_dir / "arxiv" / "src" / "arXiv_src_manifest.xml"
    rc, _, err = call_cli("arxiv", "select", "--manifest", str(manifest), "--out", str(sel),
                          "--source", str(sample_dir / "arxiv"))
    assert rc == 0 and "a local mirror, nothing to download" in err
    rc, out, _ = call_cli("arxiv", "cost", str(sel), "--source", str(sample_dir / "arxiv"))
    assert rc == 0 and "in a local mirror: nothing is downloaded, no transfer cost" in out and "$" not in out
    rc, out, _ = call_cli("arxiv", "cost", str(sel), "--source", "s3://my-bucket", "--no-requester-pays")
    assert "not requester pays: no transfer cost to you" in out
    rc, out, _ = call_cli("arxiv", "cost", str(sel))  # arXiv's own bucket unless told
    assert "requester pays, $0.09/GB" in out
