"""Every command the README and docs/ show is run here, or its block says why not and which test covers it.

Fenced blocks are marked by their info string: ```bash (or sh/shell/console) is runnable, and runs as written in a
scratch checkout where the demo has finished (the ``first_run`` fixture), each page's blocks in order in one
folder, so a later block may use an earlier one's files; ```bash skip-ci="why, and which test covers it" is not
run. Every other block (yaml, text, or no info string: output) must hold no command. ``snakemake`` runs as a dry
run (``-n`` added; not to --rulegraph/--dag, whose output is the graph): the demo has built everything, and a dry
run still checks the config, the targets and the DAG.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"bash", "sh", "shell", "console"}
MARKS = {"skip-ci"}


def command_pattern() -> re.Pattern:
    """A line of a non-shell block that reads as a command someone would copy (output blocks hold none):
    ``sciclip`` with one of its subcommands (the demo's summary starts "sciclip demo finished."), or a tool."""
    from sciclip.cli import build_parser

    parser = build_parser()
    names = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
    return re.compile(rf"^\s*(\$ )?(sciclip ({sub})\b|(snakemake|make|python|pip|bash)\s)")
FENCE = re.compile(r"^(`{3,}|~{3,})\s*(.*)$")


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    marks: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def fenced_blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, with the info string split into a language and key="value"
    marks (CommonMark: a block closes at a fence of the same character, at least as long, with no info)."""
    blocks: list[Block] = []
    opening, current, body = None, None, []
    for n, line in enumerate(page.read_text().splitlines(), 1):
        m = FENCE.match(line)
        if opening is None:
            if m:
                opening = m.group(1)
                words = shlex.split(m.group(2))
                lang = words[0] if words and "=" not in words[0] else ""
                marks = dict(w.split("=", 1) if "=" in w else (w, "") for w in words[1 if lang else 0:])
                current, body = Block(page, n, lang, marks), []
        elif m and m.group(1)[0] == opening[0] and len(m.group(1)) >= len(opening) and not m.group(2):
            current.text = "\n".join(body) + "\n"
            blocks.append(current)
            opening = None
        else:
            body.append(line)
    assert opening is None, f"{page.relative_to(ROOT)}: a fenced block is never closed"
    return blocks


def all_blocks() -> list[Block]:
    return [b for page in PAGES for b in fenced_blocks(page)]


def runnable(page: Path) -> list[Block]:
    return [b for b in fenced_blocks(page) if b.lang in SHELL and "skip-ci" not in b.marks]


def test_every_shell_block_is_run_or_says_why_not():
    problems, command = [], command_pattern()
    for b in all_blocks():
        if b.lang in SHELL:
            if set(b.marks) - MARKS:
                problems.append(f"{b.where()}: unknown mark(s) {sorted(set(b.marks) - MARKS)} (known: {sorted(MARKS)})")
            if "skip-ci" in b.marks and len(b.marks["skip-ci"].split()) < 4:
                problems.append(f'{b.where()}: skip-ci="..." must say why, and which test covers it')
        else:
            problems += [f"{b.where()}: a command in a {b.lang or 'plain'} block (mark it ```bash): {line.strip()}"
                         for line in b.text.splitlines() if command.match(line)]
    assert not problems, "\n".join(problems)
    assert sum(len(runnable(p)) for p in PAGES) >= 10  # the runner below has something to run
    assert command.match("sciclip stats x") and command.match("snakemake -n") and not command.match("sciclip demo finished.")


def test_the_readme_links_every_page_and_every_link_resolves():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 250, "the README is read in five minutes: depth goes to docs/"
    for page in PAGES[1:]:
        assert f"(docs/{page.name}" in readme, f"README.md does not link docs/{page.name}"
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if not re.match(r"[a-z]+://", target):
                assert (page.parent / target).exists(), f"{page.relative_to(ROOT)}: broken link {target}"


def test_the_marking_is_read_as_documented(tmp_path):
    page = tmp_path / "p.md"
    page.write_text('x\n```bash\nsciclip stats a\n```\n````bash skip-ci="needs the network, see test_x"\n'
                    "```\n````\n```\nplain output\n```\n")
    a, b, c = fenced_blocks(page)
    assert (a.lang, a.marks, a.text) == ("bash", {}, "sciclip stats a\n")
    assert (b.lang, b.marks, b.text) == ("bash", {"skip-ci": "needs the network, see test_x"}, "```\n")
    assert (c.lang, c.text) == ("", "plain output\n")


def run_script(block: Block) -> str:
    """The block as a bash script: stops at the first failing command; ``snakemake`` dry-runs; ``sciclip`` is the
    checkout's own package run by this interpreter (the rules' shell function does the same)."""
    return "\n".join([
        "set -euo pipefail",
        f'snakemake() {{ case " $* " in *" --rulegraph "*|*" --dag "*) "{sys.executable}" -m snakemake "$@";;'
        f' *) "{sys.executable}" -m snakemake -n "$@";; esac; }}',
        f'sciclip() {{ PYTHONPATH="$PWD/src" "{sys.executable}" -m sciclip "$@"; }}',
        f"# {block.where()}",
        block.text])


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if runnable(p)], ids=lambda p: p.name)
def test_the_page_commands_run_on_the_demo(page, first_run):
    from tests.test_workflow import snakemake_env

    for block in runnable(page):
        r = subprocess.run(["bash", "-c", run_script(block)], cwd=first_run, env=snakemake_env(),
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{block.where()}:\n{block.text}\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}"
