"""The ``sciclip`` command: one subcommand per workflow stage, usable on its own on one input.

Snakemake rules call these same commands, so what a rule does can always be reproduced by hand.
Failures print one line (``sciclip: error: <file>: <problem>``) and exit non-zero.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback

from sciclip import __version__
from sciclip.cli import (
    arxiv,
    cc,
    commonpool,
    config,
    curate,
    docs,
    evaluate,
    metadata,
    pmc,
    report,
    sample,
    shards,
    train,
    units,
)
from sciclip.errors import SciclipError, os_error_message
from sciclip.progress import set_quiet

log = logging.getLogger("sciclip")

# each module registers its own subcommands
GROUPS = (arxiv, pmc, cc, commonpool, units, shards, curate, metadata, train, evaluate, report, sample, docs, config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sciclip", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"sciclip {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        group.register(sub)
    _describe(parser)
    return parser


def _describe(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand's own --help page the one line its parent lists it with: argparse keeps a
    subparser's help (the parent's listing) and its description (its own page) apart, and the modules set
    only the first."""
    for action in parser._actions:  # noqa: SLF001 - argparse has no public way to list a parser's subparsers
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for choice in action._choices_actions:  # noqa: SLF001 - the (name, help) pseudo-actions
                sub = action.choices[choice.dest]
                if sub.description is None:
                    sub.description = choice.help
                _describe(sub)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.quiet else (logging.INFO if args.verbose < 2 else logging.DEBUG)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    set_quiet(args.quiet)
    try:
        return args.func(args)
    except SciclipError as e:
        print(f"sciclip: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sciclip: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        net = network_problem(e)
        if net is not None:  # a network failure no retry could mend: the environment, not a bug
            print(f"sciclip: error: network: {net}", file=sys.stderr)
            return 1
        if isinstance(e, OSError) and e.filename is not None:
            # the environment, not a bug: a path that is missing, a folder, unwritable, a full disk
            print(f"sciclip: error: {os_error_message(e)}", file=sys.stderr)
            return 1
        return _internal(e, args)  # a bug: still one line, the traceback only when asked for


def network_problem(e: BaseException) -> str | None:
    """One line for an error of the network stack (botocore's EndpointConnectionError, urllib's URLError, a
    refused or reset connection, a timeout), else None."""
    import socket
    import urllib.error

    module = type(e).__module__ or ""
    if module.startswith(("botocore", "boto3", "urllib3", "requests", "s3transfer")) or isinstance(
            e, (urllib.error.URLError, ConnectionError, TimeoutError, socket.timeout)):
        return f"{type(e).__name__}: {e}"
    return None


def _internal(e: BaseException, args) -> int:
    print(f"sciclip: internal error: {type(e).__name__}: {e}", file=sys.stderr)
    if args.verbose:
        traceback.print_exception(e)
    return 2
