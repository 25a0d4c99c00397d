"""One arXiv bulk tarball in, WebDataset shards and a stats file out.

Every paper is handled on its own (optionally in worker processes): whatever goes wrong with one
paper or figure is counted under a reason and logged, and the rest of the tarball still lands. Papers
are unpacked into a private scratch directory that is removed afterwards.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path, PurePosixPath

from sciclip.errors import SciclipError, Skip
from sciclip.images.pipeline import convert_image
from sciclip.sources.arxiv.graphics_paths import resolve_graphic
from sciclip.sources.arxiv.ids import paper_id_from_member
from sciclip.sources.arxiv.latex_captions import compose_caption, latex_to_text
from sciclip.sources.arxiv.latex_figures import FigureCandidate, paper_figures
from sciclip.sources.arxiv.tex_source import SourceTree
from sciclip.sources.job import ExtractOptions, JobStats, PaperResult, Sample, _bump, prepare_outdir, run_job
from sciclip.sources.uids import sample_uid
from sciclip.storage.safe_archive import ArchiveDamaged, extract_tar_bytes, gunzip_capped, iter_tar_members

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


def load_paper(member: str, data: bytes, scratch: Path, opts: ExtractOptions, result: PaperResult) -> SourceTree:
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


def process_paper(member: str, data: bytes, tarball: str, opts: ExtractOptions, scratch_root: str) -> PaperResult:
    """All samples of one paper; never raises for bad input (the reason lands in the result)."""
    paper_id, yymm = paper_id_from_member(member)
    result = PaperResult(paper_id, input_bytes=len(data))
    scratch = Path(tempfile.mkdtemp(prefix="paper-", dir=scratch_root))
    try:
        tree = load_paper(member, data, scratch, opts, result)
        _paper_samples(tree, paper_id, yymm, tarball, opts, result, scratch)
    except Skip as s:
        result.paper_skip = s.reason
        result.messages.append(f"paper skipped ({s})")
    except RecursionError:
        result.paper_skip = "latex_parse_error"
        result.messages.append("paper skipped (LaTeX nesting too deep)")
    except Exception as e:  # a bug or an input we did not foresee: lose this paper, not the tarball
        result.paper_skip = "paper_error"
        result.samples.clear()
        result.messages.append(f"paper skipped ({type(e).__name__}: {e})\n{traceback.format_exc(limit=4)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def _paper_samples(tree: SourceTree, paper_id: str, yymm: str, tarball: str, opts: ExtractOptions,
                   result: PaperResult, scratch: Path) -> None:
    if not tree.tex_files():
        raise Skip("no_tex_source")
    t = time.perf_counter()
    docs, mains = paper_figures(tree)
    result.timings["parse"] = result.timings.get("parse", 0.0) + time.perf_counter() - t
    if not mains:
        raise Skip("no_main_tex")
    seen: set[tuple] = set()
    for main, doc in docs:
        for k, v in doc.counts.items():
            result.figure_skips[k] += v
        multi = Counter((c.figure_index) for c in doc.candidates if c.subcaption_latex is None)
        for cand in doc.candidates:
            resolved = resolve_graphic(tree, cand.image_ref, main.parent, cand.graphicspath)
            ident = (str(resolved or cand.image_ref), cand.caption_latex, cand.subcaption_latex)
            if ident in seen:  # the same figure reached from two main files
                continue
            seen.add(ident)
            result.figures_found += 1
            try:
                sample = _make_sample(tree, cand, resolved, doc.macros, paper_id, yymm, tarball, opts,
                                      multi[cand.figure_index], scratch, result.timings)
            except Skip as s:
                result.figure_skips[s.reason] += 1
                result.messages.append(f"figure {cand.figure_index} {cand.image_ref!r} skipped ({s})")
                continue
            result.samples.append(sample)


def _make_sample(tree: SourceTree, cand: FigureCandidate, resolved: PurePosixPath | None, macros: dict,
                 paper_id: str, yymm: str, tarball: str, opts: ExtractOptions, n_plain: int,
                 scratch: Path, timings: dict) -> Sample:
    if cand.caption_latex is None and cand.subcaption_latex is None:
        raise Skip("no_caption")
    if opts.multi_image == "skip" and cand.subcaption_latex is None and n_plain > 1:
        raise Skip("multi_image_no_subcaption")
    t = time.perf_counter()
    main_text = latex_to_text(cand.caption_latex, macros) if cand.caption_latex is not None else None
    sub_text = latex_to_text(cand.subcaption_latex, macros) if cand.subcaption_latex is not None else None
    timings["parse"] = timings.get("parse", 0.0) + time.perf_counter() - t
    caption = compose_caption(main_text, sub_text, cand.sublabel, opts.subfigure_caption)
    if len(caption) < opts.min_caption_chars:
        raise Skip("caption_too_short", f"{len(caption)} < {opts.min_caption_chars} characters")
    if resolved is None:
        raise Skip("graphic_not_found", cand.image_ref)
    data = tree.read_bytes(resolved)
    image = convert_image(data, opts.image, path=tree.path(resolved), scratch=scratch, timings=timings)
    sha = hashlib.sha256(data).hexdigest()
    uid = sample_uid("arxiv", paper_id, cand.main_tex, str(cand.figure_index), str(cand.graphic_index),
                     str(resolved), sha, caption)
    meta = {
        "uid": uid,
        "key": uid,
        "source": "arxiv",
        "paper_id": paper_id,
        "yymm": yymm,
        "tarball": tarball,
        "main_tex": cand.main_tex,
        "figure_index": cand.figure_index,
        "figure_label": cand.figure_label,
        "figure_env": cand.env,
        "source_path": str(resolved),
        "image_format": image.source_format,
        "original_width": image.original_width,
        "original_height": image.original_height,
        "width": image.width,
        "height": image.height,
        "sha256": sha,
        "caption": caption,
        "caption_latex": cand.caption_latex,
        "subcaption_latex": cand.subcaption_latex,
    }
    return Sample(uid, image.jpeg, caption, meta)


def _work(args: tuple) -> PaperResult:
    return process_paper(*args)


def extract_tarball(tarball: str | os.PathLike, outdir: str | os.PathLike, opts: ExtractOptions = ExtractOptions(),
                    workers: int = 1, scratch_root: str | None = None) -> JobStats:
    """Extract every paper of ``tarball`` into shards ``outdir/{00000..}.tar`` plus ``outdir/stats.json``."""
    return extract_tarballs([tarball], outdir, opts, workers, scratch_root)


def extract_tarballs(tarballs: list[str | os.PathLike], outdir: str | os.PathLike,
                     opts: ExtractOptions = ExtractOptions(), workers: int = 1,
                     scratch_root: str | None = None) -> JobStats:
    """Extract several tarballs (one work unit at full scale) into one set of shards, in the given order.

    A damaged tarball keeps its papers before the damage and the job goes on with the next one.
    """
    paths = [Path(t) for t in tarballs]
    for t in paths:
        if not t.is_file():
            raise SciclipError(f"{t}: no such file")
    outdir = Path(outdir)
    prepare_outdir(outdir)
    started = time.monotonic()
    stats = JobStats("arxiv", "+".join(t.name for t in paths))
    total = sum(t.stat().st_size for t in paths)
    damage: list[str] = []

    def jobs(scratch: str):
        for tarball in paths:
            def refused(member: str, why: str, name: str = tarball.name) -> None:
                _bump(stats.refused_members, why)
                log.warning("%s: member %r refused (%s)", name, member, why)

            seen = stats.papers_seen
            try:
                for m in iter_tar_members(tarball, opts.max_member_bytes, on_refused=refused):
                    yield (m.name, m.data, tarball.name, opts, scratch)
            except ArchiveDamaged as e:
                damage.append(str(e))
                stats.archive_damaged = "; ".join(damage)
                log.error("%s; kept the papers before the damage (%d papers of this job so far)", e,
                          stats.papers_seen - seen)

    return run_job(stats, jobs, _work, outdir, opts.samples_per_shard, workers, scratch_root, total,
                   started=started)
