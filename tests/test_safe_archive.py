"""Hostile and broken archives: nothing escapes the scratch directory, bombs are capped, damage is contained."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from sciclip.errors import Skip
from sciclip.sample.media import gzip_bytes as _gzip
from sciclip.sample.media import tar_bytes as _tar
from sciclip.sources.arxiv.extract import extract_tarball
from sciclip.sources.options import ExtractOptions
from sciclip.storage.safe_archive import (
    ArchiveDamaged,
    extract_tar_bytes,
    gunzip_capped,
    iter_tar_members,
    safe_member_path,
)
from tests.conftest import read_dir


def hostile_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        def add(info: tarfile.TarInfo, data: bytes = b"") -> None:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
        add(tarfile.TarInfo("good/ok.tex"), b"fine")
        add(tarfile.TarInfo("/tmp/sciclip-abs-escape.txt"), b"absolute")
        add(tarfile.TarInfo("../../sciclip-dotdot-escape.txt"), b"dotdot")
        add(tarfile.TarInfo("good/../../sciclip-mid-escape.txt"), b"dotdot2")
        link = tarfile.TarInfo("evil_link")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc"
        add(link)
        through = tarfile.TarInfo("evil_link/passwd_copy")  # would write through the symlink
        add(through, b"through the link")
        hard = tarfile.TarInfo("hard")
        hard.type, hard.linkname = tarfile.LNKTYPE, "/etc/passwd"
        add(hard)
        dev = tarfile.TarInfo("dev_null")
        dev.type, dev.devmajor, dev.devminor = tarfile.CHRTYPE, 1, 3
        add(dev)
        fifo = tarfile.TarInfo("fifo")
        fifo.type = tarfile.FIFOTYPE
        add(fifo)
    return buf.getvalue()


def test_hostile_members_are_refused_and_nothing_escapes(tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    before = set(os.listdir("/tmp"))
    report = extract_tar_bytes(hostile_tar(), scratch, max_bytes=1 << 20)
    written = sorted(str(p.relative_to(scratch)) for p in scratch.rglob("*"))
    assert [str(f) for f in report.files] == ["good/ok.tex", "evil_link/passwd_copy"]
    assert written == ["evil_link", "evil_link/passwd_copy", "good", "good/ok.tex"]
    assert (scratch / "evil_link").is_dir() and not (scratch / "evil_link").is_symlink()
    assert report.refused == {"unsafe_path": 3, "symlink": 1, "hardlink": 1, "device": 1, "fifo": 1}
    assert not any("sciclip-" in n and "escape" in n for n in set(os.listdir("/tmp")) - before)
    assert not list(tmp_path.glob("*escape*"))


@pytest.mark.parametrize("name,ok", [
    ("a/b.tex", True), ("./a.tex", True), ("/abs", False), ("../x", False), ("a/../../x", False),
    ("C:\\evil", False), ("", False), ("a\x00b", False), ("\\\\server\\share", False),
])
def test_safe_member_path(name, ok):
    assert (safe_member_path(name) is not None) == ok


def test_gzip_bomb_is_capped():
    bomb = gzip.compress(b"\x00" * (50 << 20))  # 50 MiB of zeros in ~50 KiB
    assert len(bomb) < 100_000
    with pytest.raises(Skip) as e:
        gunzip_capped(bomb, cap=1 << 20)
    assert e.value.reason == "inflate_cap"


def test_tar_total_size_is_capped(tmp_path):
    big = _tar({f"f{i}.bin": b"x" * 4000 for i in range(10)})
    with pytest.raises(Skip) as e:
        extract_tar_bytes(big, tmp_path, max_bytes=10_000)
    assert e.value.reason == "inflate_cap"


def test_truncated_outer_tarball_yields_members_before_the_damage(tmp_path):
    data = _tar({f"2001/2001.0000{i}.gz": os.urandom(3000) for i in range(1, 5)})
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: 512 + 3072 + 512 + 1500])  # second member's data cut short
    names = []
    with pytest.raises(ArchiveDamaged) as e:
        for m in iter_tar_members(cut, 1 << 20):
            names.append(m.name)
    assert names == ["2001/2001.00001.gz"]
    assert "2001.00001.gz" in str(e.value)


def _paper(paper_id: str, caption: str) -> tuple[str, bytes]:
    from sciclip.sample import media
    tex = ("\\documentclass{article}\\begin{document}\\begin{figure}\\includegraphics{f.png}"
           f"\\caption{{{caption}}}\\end{{figure}}\\end{{document}}").encode()
    return f"2001/{paper_id}.gz", _gzip(_tar({"main.tex": tex, "f.png": media.png_rgb(paper_id, (120, 90))}))


def test_truncated_tarball_keeps_good_papers(tmp_path, caplog):
    members = dict([_paper("2001.00001", "First paper figure."), _paper("2001.00002", "Second paper figure."),
                    _paper("2001.00003", "Third paper figure.")])
    data = _tar(members)
    # cut inside the third member
    offset = data.index(members["2001/2001.00003.gz"][:64])
    tarball = tmp_path / "arXiv_src_2001_001.tar"
    tarball.write_bytes(data[: offset + 100])
    out = tmp_path / "out"
    stats = extract_tarball(tarball, out)
    captions = [s["caption"] for s in read_dir(out)]
    assert captions == ["First paper figure.", "Second paper figure."]
    assert stats.archive_damaged and "2001.00002" in stats.archive_damaged
    assert any("damaged" in r.message for r in caplog.records if r.levelname == "ERROR")


def test_hostile_paper_inside_a_tarball(tmp_path):
    """A paper full of hostile members still gives its good figure; nothing lands outside scratch."""
    from sciclip.sample import media
    inner = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(hostile_tar())) as src, tarfile.open(fileobj=inner, mode="w") as dst:
        for m in src:
            dst.addfile(m, src.extractfile(m) if m.isreg() else None)
        tex = (b"\\documentclass{article}\\begin{document}\\begin{figure}\\includegraphics{good/f.png}"
               b"\\caption{Survivor figure caption.}\\end{figure}\\end{document}")
        for name, data in (("good/main.tex", tex), ("good/f.png", media.png_rgb("hostile", (100, 100)))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    tarball = tmp_path / "arXiv_src_2001_009.tar"
    tarball.write_bytes(_tar({"2001/2001.00099.gz": _gzip(inner.getvalue())}))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    stats = extract_tarball(tarball, tmp_path / "out", scratch_root=str(scratch))
    assert [s["caption"] for s in read_dir(tmp_path / "out")] == ["Survivor figure caption."]
    assert stats.refused_members == {"unsafe_path": 3, "symlink": 1, "hardlink": 1, "device": 1, "fifo": 1}
    assert list(scratch.iterdir()) == []  # scratch cleaned up
    assert not list(Path("/tmp").glob("sciclip-*-escape.txt"))


def test_gzip_bomb_paper_is_skipped_and_neighbours_land(tmp_path):
    bomb = gzip.compress(b"\\documentclass{article}" + b" " * (20 << 20))
    members = dict([_paper("2001.00001", "Before the bomb figure."), ("2001/2001.00002.gz", bomb),
                    _paper("2001.00003", "After the bomb figure.")])
    tarball = tmp_path / "arXiv_src_2001_001.tar"
    tarball.write_bytes(_tar(members))
    stats = extract_tarball(tarball, tmp_path / "out", ExtractOptions(max_paper_bytes=1 << 20))
    assert [s["caption"] for s in read_dir(tmp_path / "out")] == ["Before the bomb figure.", "After the bomb figure."]
    assert stats.skipped_items == {"inflate_cap": 1}


def test_damaged_tarball_inside_a_work_unit_spares_the_next(tmp_path):
    from sciclip.sources.arxiv.extract import extract_tarballs
    first = dict([_paper("2001.00001", "First tarball figure.")])
    broken = _tar(dict([_paper("2001.00002", "Second tarball figure."), _paper("2001.00003", "Lost to damage.")]))
    third = dict([_paper("2001.00004", "Third tarball figure.")])
    (tmp_path / "a.tar").write_bytes(_tar(first))
    (tmp_path / "b.tar").write_bytes(broken[: broken.index(b"2001.00003") + 600])
    (tmp_path / "c.tar").write_bytes(_tar(third))
    stats = extract_tarballs([tmp_path / "a.tar", tmp_path / "b.tar", tmp_path / "c.tar"], tmp_path / "out")
    assert [s["caption"] for s in read_dir(tmp_path / "out")] == [
        "First tarball figure.", "Second tarball figure.", "Third tarball figure."]
    assert "b.tar" in stats.archive_damaged and stats.input == "a.tar+b.tar+c.tar"
    assert {s["meta"]["tarball"] for s in read_dir(tmp_path / "out")} == {"a.tar", "b.tar", "c.tar"}
