"""The arXiv source: bulk tarballs in, one work item per paper, figures and captions from the LaTeX.

A paper member is a gzipped tar or a gzipped single file; it is unpacked safely into the item's scratch
directory, its main files are found, figures are paired with captions and graphics resolved as pdfLaTeX
would. The shared job (``sources.job``) does the rest.
"""

from __future__ import annotations

import logging
import os
import tarfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from sciclip.errors import SciclipError, Skip
from sciclip.sources.arxiv.graphics_paths import figure_graphic
from sciclip.sources.arxiv.ids import OLD_ID, is_arxiv_id, paper_id_from_member
from sciclip.sources.arxiv.latex_figures import FigureCandidate, paper_figures
from sciclip.sources.arxiv.tex_source import SourceTree
from sciclip.sources.base import Candidate, Source, WorkItem
from sciclip.sources.job import ItemResult, JobStats, UnitStats, bump, extract_unit
from sciclip.sources.options import ExtractOptions
from sciclip.sources.registry import register
from sciclip.storage.safe_archive import (
    ArchiveDamaged,
    extract_tar_bytes,
    gunzip_capped,
    iter_tar_members,
    tar_open_problem,
)
from sciclip.text.captions import compose_caption
from sciclip.text.latex import latex_to_text

log = logging.getLogger(__name__)


def _looks_like_tar(data: bytes) -> bool:
    """ustar magic, or a valid header checksum for pre-POSIX (v7) tars, which old submissions use."""
    return len(data) >= 512 and (data[257:262] == b"ustar" or _tar_checksum_ok(data))


def _tar_checksum_ok(data: bytes) -> bool:
    try:
        tarfile.TarInfo.frombuf(data[:512], "utf-8", "surrogateescape")
        return True
    except tarfile.TarError:
        return False


def load_paper(member: str, data: bytes, scratch: Path, opts: ExtractOptions, result: ItemResult) -> SourceTree:
    """Unpack one tarball member into ``scratch``: a gzipped tar, or a gzipped single source file."""
    if member.lower().endswith(".pdf") or data[:5] == b"%PDF-":
        raise Skip("pdf_only")
    raw = gunzip_capped(data, opts.max_paper_bytes) if data[:2] == b"\x1f\x8b" else data
    if _looks_like_tar(raw):
        report = extract_tar_bytes(raw, scratch, opts.max_paper_bytes)
        result.refused_members.update(report.refused)
        if report.refused:
            result.messages.append(f"refused members: {dict(report.refused)}")
        if report.damaged:
            result.messages.append(f"paper archive damaged, kept {len(report.files)} files: {report.damaged}")
        return SourceTree(scratch, report.files)
    head = raw[:1024].lstrip()
    if head.startswith(b"%PDF"):
        raise Skip("pdf_only")
    if head.startswith(b"%!"):
        raise Skip("postscript_only")
    if head[:15].lower().startswith((b"<html", b"<!doctype html", b"<?xml")):
        raise Skip("html_only")
    (scratch / "main.tex").write_bytes(raw)
    return SourceTree(scratch, [PurePosixPath("main.tex")])


def require_paper_member(item: WorkItem) -> None:
    """A member that is not ``<arXiv id>.gz`` (a README, a folder of a paper's own files tarred up) is skipped
    as such, not opened as a paper."""
    if not is_arxiv_id(item.id):
        raise Skip("not_an_arxiv_paper", f"member {item.payload[0]!r} is not named <arXiv id>.gz")


@register
class ArxivSource(Source):
    """arXiv bulk tarballs: an item is one paper (a tarball member), its figures come from the LaTeX."""

    name = "arxiv"
    noun = "papers"
    item_error = "paper_error"
    columns = {"paper_id": "string", "yymm": "string"}

    def check(self, inputs: list[Path]) -> None:
        """Each input must be a tarball whose first header reads: a text file, random bytes or a folder named
        by mistake fail here, before any output is touched, instead of extracting "0 papers"."""
        for t in inputs:
            if t.is_dir():
                raise SciclipError(f"{t}: is a directory, not a tarball")
            if not t.is_file():
                raise SciclipError(f"{t}: no such file")
            problem = tar_open_problem(t)
            if problem:
                raise SciclipError(f"{t}: not a tar archive ({problem})")

    def items(self, inputs: list[Path], job: UnitStats, scratch: Path) -> Iterator[WorkItem]:
        """Every member of every tarball, in order. A damaged tarball keeps its papers before the damage and
        the unit goes on with the next one."""
        damage: list[str] = []
        for tarball in inputs:
            def refused(member: str, why: str, name: str = tarball.name) -> None:
                bump(job.refused_members, why)
                log.warning("%s: member %r refused (%s)", name, member, why)

            seen = job.items_seen
            members = papers = 0
            first_other = ""
            try:
                for m in iter_tar_members(tarball, self.opts.max_member_bytes, on_refused=refused):
                    members += 1
                    paper_id, yymm = paper_id_from_member(m.name)
                    if is_arxiv_id(paper_id):
                        papers += 1
                    else:  # counted as a skipped paper (candidates), named in the log
                        first_other = first_other or m.name
                    yield WorkItem(paper_id, (m.name, m.data, tarball.name, yymm, m.offset), len(m.data))
            except ArchiveDamaged as e:
                if not members:  # nothing of it could be read: an input error, not partial damage
                    raise SciclipError(str(e)) from None
                damage.append(str(e))
                job.archive_damaged = "; ".join(damage)
                log.error("%s; kept the papers before the damage (%d papers of this job so far)", e,
                          job.items_seen - seen)
            if members and not papers:
                raise SciclipError(
                    f"{tarball}: none of its {members} members is an arXiv paper (a bulk tarball holds "
                    f"YYMM/<arXiv id>.gz; the first is {first_other!r}): make a mirror of paper sources with "
                    "`sciclip arxiv mirror`")

    def documents(self, item: WorkItem, scratch: Path, result: Any) -> Iterator[Any]:
        from sciclip.sources.arxiv.documents import paper_documents  # it imports this module

        return paper_documents(self, item, scratch, result)

    def candidates(self, item: WorkItem, scratch: Path, result: ItemResult) -> Iterator[Candidate | Skip]:
        member, data, tarball, yymm, _ = item.payload
        require_paper_member(item)
        tree = load_paper(member, data, scratch, self.opts, result)
        try:
            yield from self._figures(tree, item.id, yymm, tarball, result)
        except RecursionError:
            raise Skip("latex_parse_error", "LaTeX nesting too deep") from None

    def _figures(self, tree: SourceTree, paper_id: str, yymm: str, tarball: str,
                 result: ItemResult) -> Iterator[Candidate | Skip]:
        if not tree.tex_files():
            raise Skip("no_tex_source")
        t = time.perf_counter()
        docs, mains = paper_figures(tree)
        result.timings["parse"] = result.timings.get("parse", 0.0) + time.perf_counter() - t
        if not mains:
            raise Skip("no_main_tex")
        seen: set[tuple] = set()
        texts: dict[tuple[int, str], str] = {}  # subfigures share their figure's caption: convert it once
        for main, doc in docs:
            for k, v in doc.counts.items():
                result.skipped_candidates[k] += v
            multi = Counter(c.figure_index for c in doc.candidates if c.subcaption_latex is None)
            for cand in doc.candidates:
                resolved = figure_graphic(tree, cand, main.parent, yymm)
                ident = (str(resolved or cand.image_ref), cand.caption_latex, cand.subcaption_latex)
                if ident in seen:  # the same figure reached from two main files
                    continue
                seen.add(ident)
                try:
                    yield self._candidate(tree, cand, resolved, doc.macros, paper_id, yymm, tarball,
                                          multi[cand.figure_index], result.timings, texts)
                except Skip as s:
                    yield Skip(s.reason, f"figure {cand.figure_index} {cand.image_ref!r}: {s.detail}".rstrip(": "))

    def _candidate(self, tree: SourceTree, cand: FigureCandidate, resolved: PurePosixPath | None, macros: dict,
                   paper_id: str, yymm: str, tarball: str, n_plain: int, timings: dict,
                   texts: dict[tuple[int, str], str]) -> Candidate:
        opts = self.opts
        if cand.caption_latex is None and cand.subcaption_latex is None:
            raise Skip("no_caption")
        if opts.multi_image == "skip" and cand.subcaption_latex is None and n_plain > 1:
            raise Skip("multi_image_no_subcaption")
        t = time.perf_counter()
        main_text = _text(cand.caption_latex, macros, texts)
        sub_text = _text(cand.subcaption_latex, macros, texts)
        timings["parse"] = timings.get("parse", 0.0) + time.perf_counter() - t
        caption = compose_caption(main_text, sub_text, cand.sublabel, opts.subfigure_caption)
        meta = {
            "paper_id": paper_id, "yymm": yymm, "tarball": tarball, "main_tex": cand.main_tex,
            "figure_index": cand.figure_index, "figure_label": cand.figure_label, "figure_env": cand.env,
            "caption_latex": cand.caption_latex, "subcaption_latex": cand.subcaption_latex,
        }
        return Candidate(
            caption=caption, image_path=tree.path(resolved) if resolved is not None else None,
            source_path=str(resolved) if resolved is not None else "", image_ref=cand.image_ref,
            label=f"Figure {cand.figure_index}:",
            uid_parts=(paper_id, cand.main_tex, str(cand.figure_index), str(cand.graphic_index)), meta=meta)

    def provenance_url(self, meta: dict) -> str:
        pid = str(meta.get("paper_id", ""))
        m = OLD_ID.match(pid)
        abs_id = f"{m.group('archive')}/{m.group('yymm')}{m.group('num')}" if m else pid
        return f"https://arxiv.org/abs/{abs_id}#{meta.get('source_path', '')}"


def _text(latex: str | None, macros: dict, texts: dict[tuple[int, str], str]) -> str | None:
    """``latex_to_text`` remembered per paper (keyed by the macro table of the main file it came from)."""
    if latex is None:
        return None
    key = (id(macros), latex)
    if key not in texts:
        texts[key] = latex_to_text(latex, macros)
    return texts[key]


def extract_tarball(tarball: str | os.PathLike, outdir: str | os.PathLike, opts: ExtractOptions = ExtractOptions(),
                    workers: int = 1, scratch_root: str | None = None) -> JobStats:
    """Extract every paper of ``tarball`` into shards ``outdir/{00000..}.tar`` plus ``outdir/stats.json``."""
    return extract_tarballs([tarball], outdir, opts, workers, scratch_root)


def extract_tarballs(tarballs: list[str | os.PathLike], outdir: str | os.PathLike,
                     opts: ExtractOptions = ExtractOptions(), workers: int = 1,
                     scratch_root: str | None = None) -> JobStats:
    """Extract several tarballs (one work unit) into one set of shards, in the given order."""
    return extract_unit(ArxivSource(opts), [Path(t) for t in tarballs], outdir, workers, scratch_root)
