"""The one interface every source implements, and the records it hands to the shared machinery.

A source knows how to list the work items of a unit (papers in tarballs, articles in a batch folder, pages
in a crawl file) and how to turn one item into its outputs: figure candidates (image file, caption text, its
own metadata) for the pairs, raw documents (text and image blocks in reading order) for the interleaved
documents, or both. Everything after that is shared and written once (``sources.samples``, ``sources.job``,
``docs.assemble``): the caption length check, image conversion, sha256, uid, the common metadata keys,
per-reason counters and shard writing. This is datatrove's reader shape and img2dataset's reader/writer split.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from sciclip.errors import SciclipError, Skip
from sciclip.sources.options import DocOptions, ExtractOptions

if TYPE_CHECKING:  # the documents' model is imported by document jobs only (pyarrow: not in every rule's env)
    from sciclip.docs.assemble import ImageCheck
    from sciclip.docs.model import DocRecord, RawDocument

OUTPUTS = ("pairs", "documents")


@dataclass(frozen=True)
class WorkItem:
    """One unit of failure isolation: a paper, an article, a page. ``payload`` must pickle (worker processes)."""

    id: str
    payload: Any
    size: int = 0  # input bytes, for the progress bar


@dataclass
class Candidate:
    """A figure a source found, before the shared checks and the image pipeline.

    ``caption`` is final text under the source's conventions; ``image_path`` is the figure file on disk, or
    None when the source could not find it (``image_ref`` then says what was referenced). ``uid_parts`` are
    the source's identifying fields: the uid hashes them with the source name, ``source_path``, the image's
    sha256 and the caption. ``meta`` holds the source's own columns.
    """

    caption: str
    image_path: Path | None
    source_path: str
    uid_parts: tuple[str, ...]
    meta: dict = field(default_factory=dict)
    image_ref: str = ""
    label: str = ""  # the figure's display label ("Figure 3"), put before the caption only when configured
    # A source whose samples already have identities and images of their own (CommonPool: DataComp's uid, the
    # image as DataComp's img2dataset download encodes it) sets both: the uid is kept instead of derived, and
    # the JPEG is copied, not converted again (``meta`` then gives its sizes and the original's sha256).
    uid: str = ""
    encoded: bool = False


class Source(ABC):
    """A source of figure/caption pairs, documents, or both. Subclasses set the class attributes, ``items``,
    and ``candidates`` (pairs) and/or ``documents``; ``outputs()`` says which. They can be built with no
    arguments (default options: the shard tail asks a bare instance for provenance URLs)."""

    name: ClassVar[str]  # the source's name in config, paths, uids and the ``source`` column
    noun: ClassVar[str] = "items"  # what an item is called in summaries ("papers", "articles", "pages")
    candidate_noun: ClassVar[str] = "figures"  # what a candidate is called (cc: "texts" of an image)
    unit_noun: ClassVar[str] = "unit"  # what one work unit is called in the report ("batch", "month")
    item_error: ClassVar[str] = "item_error"  # counter for an item that raised something unforeseen
    # extra columns every sample of this source carries, in img2dataset's parquet and json (name -> type:
    # "string", "int64", "float64", "bool", "list<int64>", "list<string>"); the conversion writes each with its type
    columns: ClassVar[dict[str, str]] = {}

    def __init__(self, opts: ExtractOptions = ExtractOptions(), docs: DocOptions | None = None) -> None:
        """``opts``: the pairs' extraction; ``docs``: how documents are built (its ``extract`` is ``opts``)."""
        self.opts = opts
        self.docs = DocOptions(extract=opts) if docs is None else docs

    def check(self, inputs: list[Path]) -> None:
        """Refuse a unit whose inputs are missing before any output is touched (one-line error)."""
        for p in inputs:
            if not p.exists():
                raise SciclipError(f"{p}: no such file or directory")

    @abstractmethod
    def items(self, inputs: list[Path], job: Any, scratch: Path) -> Iterator[WorkItem]:
        """The unit's work items in a fixed order, the same for both outputs. ``job`` (the job's stats) takes
        unit-level counters, e.g. refused archive members or damage; ``scratch`` lives as long as the job, for
        files the items share. A source raises ``SciclipError`` for input it cannot read at all."""

    def candidates(self, item: WorkItem, scratch: Path, result: Any) -> Iterator[Candidate | Skip]:
        """Figures of one item, each yielded once: a ``Candidate``, or a ``Skip`` for a figure found but
        unusable. An item-level problem raises ``Skip`` (the item is counted under its reason). ``result``
        (an ``ItemResult``) takes parse timings, refused members and log messages."""
        raise NotImplementedError(f"source {self.name!r} gives no pairs")

    def documents(self, item: WorkItem, scratch: Path, result: Any) -> Iterator[RawDocument]:
        """Raw documents of one item (``docs.model``), under ``self.docs``; an item-level problem raises
        ``Skip``. ``result`` (a ``DocResult``) takes timings, candidates found and per-reason removals."""
        raise NotImplementedError(f"source {self.name!r} gives no documents")

    def image_check(self) -> ImageCheck | None:
        """Documents: an extra check on each converted image (web filters); None: the pipeline's limits only."""
        return None

    def finish(self, record: DocRecord, result: Any) -> DocRecord | None:
        """Documents: a last look at an assembled record (web filters); None drops it (counted by the source)."""
        return record

    @classmethod
    def outputs(cls) -> tuple[str, ...]:
        """What this source offers: "pairs" where it has ``candidates``, "documents" where it has ``documents``."""
        return tuple(o for o, method in zip(OUTPUTS, ("candidates", "documents"))
                     if getattr(cls, method) is not getattr(Source, method))

    @classmethod
    def nouns(cls) -> dict[str, str]:
        """What the source calls its items, candidates and units, as its stats record them (plural)."""
        return {"item": cls.noun, "candidate": cls.candidate_noun, "unit": cls.unit_noun}

    def input_size(self, inputs: list[Path]) -> int:
        """Total input bytes of a unit (progress bars); 0 when unknown."""
        return sum(p.stat().st_size for p in inputs if p.is_file())

    def provenance_url(self, meta: dict) -> str:
        """Where a sample came from, as a URL a person can follow (img2dataset's ``url`` column)."""
        return str(meta.get("url") or "")
