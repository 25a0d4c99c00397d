"""Every CLI option explains itself (issue 23, item 3): each positional argument and option of each
``sciclip`` subcommand, at every nesting level (``sciclip cc parse``, ``sciclip docs clean``), has a help
string; where it has a default, its help shows it; every subcommand has a one-line help and description.

The parser walked is the real one (``build_parser``), so a subcommand or option added later is checked too.
"""

from __future__ import annotations

import argparse
import re

import pytest

from sciclip.cli import build_parser
from tests.conftest import run_cli


def _subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(path, parser, the help line its parent lists it with) of every subcommand, depth first."""
    for action in parser._actions:  # noqa: SLF001 - argparse has no public way to list a parser's subparsers
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            listed = {c.dest: c.help for c in action._choices_actions}  # noqa: SLF001
            for name, sub in action.choices.items():
                yield (*path, name), sub, listed.get(name)
                yield from _subcommands(sub, (*path, name))


def _arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The parser's own arguments: not -h/--help, not the subcommand chooser (its choices are walked)."""
    return [a for a in parser._actions  # noqa: SLF001
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]  # noqa: SLF001


def _name(action: argparse.Action) -> str:
    return "/".join(action.option_strings) or action.dest


def _shown_default(action: argparse.Action) -> str | None:
    """The text the help must show for the action's default; None where there is nothing to show: no default
    (None, an empty list or string: "not set"), a required option, or a switch (store_true/false/const, count:
    it takes no value, so its "default" is only the state without it; the switch pairs say "[default]")."""
    d = action.default
    if action.required or action.nargs == 0 or d is None or d is False or d == argparse.SUPPRESS:
        return None
    if isinstance(d, (list, tuple)):
        return " ".join(str(x) for x in d) or None  # as typed on the command line (nargs="+")
    return str(d) or None


def _squeeze(text: str) -> str:
    # format_help wraps lines (at spaces and after hyphens): compare without any whitespace
    return "".join(text.split())


@pytest.fixture(scope="module")
def parser() -> argparse.ArgumentParser:
    return build_parser()


@pytest.fixture(scope="module")
def commands(parser) -> list[tuple[tuple[str, ...], argparse.ArgumentParser, str | None]]:
    return list(_subcommands(parser))


def test_the_walk_reaches_every_level(commands):
    """The checks below are only as good as the walk: it must reach the nested stages."""
    paths = {p for p, _, _ in commands}
    for nested in (("cc", "parse"), ("docs", "clean"), ("arxiv", "mirror"), ("commonpool", "retry"),
                   ("pmc", "unit"), ("docs", "web")):
        assert nested in paths
    assert len(paths) > 60


def test_every_argument_has_help(parser, commands):
    missing, hidden = [], []
    for path, sub, _ in [((), parser, "")] + commands:
        for action in _arguments(sub):
            where = f"sciclip {' '.join(path)}".rstrip() + f": {_name(action)}"
            if action.help == argparse.SUPPRESS:
                hidden.append(where)  # a hidden option explains itself to nobody: none is justified today
            elif not (action.help or "").strip():
                missing.append(where)
    assert not missing, f"{len(missing)} arguments without help:\n" + "\n".join(missing)
    assert not hidden, "hidden arguments (help=SUPPRESS):\n" + "\n".join(hidden)


def test_every_subcommand_has_a_one_line_help_and_description(commands):
    bad = [f"sciclip {' '.join(path)}: help={listed!r} description={sub.description!r}"
           for path, sub, listed in commands
           if not (listed or "").strip() or "\n" in listed or not (sub.description or "").strip()]
    assert not bad, "\n".join(bad)


def test_every_default_is_shown_in_the_help(parser, commands):
    """An option with a default says it, as ``default: VALUE``, in its own help and in its command's --help
    page; the value is the real default (``%(default)s``), so the help cannot drift from the code."""
    unshown = []
    checked = 0
    for path, sub, _ in [((), parser, "")] + commands:
        page = _squeeze(sub.format_help())
        for action in _arguments(sub):
            text = _shown_default(action)
            if text is None:
                continue
            checked += 1
            # the help as --help prints it (%(default)s filled in); no help: test_every_argument_has_help's
            own = sub._get_formatter()._expand_help(action) if action.help else ""  # noqa: SLF001
            shown = re.search(rf"default: {re.escape(text)}(?![\w.])", own) and _squeeze(own) in page
            if not shown:
                unshown.append(f"sciclip {' '.join(path)}: {_name(action)} (default {text!r}): {own!r}")
    assert not unshown, f"{len(unshown)} defaults not shown:\n" + "\n".join(unshown)
    assert checked > 300  # the rule is not vacuous: most options have a default


def test_every_help_page_prints(parser, commands, capsys):
    for path, _, _ in commands:
        with pytest.raises(SystemExit) as e:
            parser.parse_args([*path, "--help"])
        assert e.value.code == 0, path
        out = capsys.readouterr().out
        assert out.startswith(f"usage: sciclip {' '.join(path)}"), path


def test_help_as_a_command():
    """``python -m sciclip cc parse --help``: the page a user sees, description, arguments and defaults."""
    r = run_cli("cc", "parse", "--help")
    assert r.returncode == 0, r.stderr
    page = " ".join(r.stdout.split())
    assert page.startswith("usage: sciclip cc parse")
    assert "WAT/WARC/ARC files into (image url, text) rows (parquet)" in page  # the description
    assert "inputs WAT, WARC or ARC files" in page  # the positional's help
    assert "--out OUT the rows file to write (parquet)" in page
    assert "(default: sciclip)" in page
