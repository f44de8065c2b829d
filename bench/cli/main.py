"""`rtbench` entry point: parse, dispatch, and turn `UserError` into one line and exit 2."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
import textwrap
from collections.abc import Sequence
from types import ModuleType

from bench import __version__
from bench.common.errors import UserError

COMMANDS: tuple[str, ...] = ("run", "load", "serve", "report", "export", "score", "compare", "gate",
                             "history", "corpus", "schema", "providers")
"""The subcommands, in the order `--help` lists them: each is the module `bench.cli.<name>`,
imported only when it is needed (`rtbench report` need not load the WebRTC stack)."""


def command(name: str) -> ModuleType:
    """The module of one subcommand."""
    return importlib.import_module(f"bench.cli.{name}")


class ParagraphFormatter(argparse.HelpFormatter):
    """Help text keeps its paragraphs (blank-line separated) and its indented blocks (usage
    examples) as written; other paragraphs are refilled to the terminal's width."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = re.split(r"\n\s*\n", textwrap.dedent(text).strip("\n"))
        return "\n\n".join(p if p.startswith(" ") else textwrap.fill(
            " ".join(p.split()), width, initial_indent=indent, subsequent_indent=indent)
            for p in paragraphs)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or with `only` the one subcommand about to run."""
    parser = argparse.ArgumentParser(
        prog="rtbench",
        description="Measure realtime speech-to-speech endpoints: latency, quality, cost.",
        formatter_class=ParagraphFormatter,
    )
    parser.add_argument("--version", action="version", version=f"realtime-bench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (command(n) for n in COMMANDS if only in (None, n)):
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.__doc__,
                           formatter_class=ParagraphFormatter)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(first if first in COMMANDS else None).parse_args(argv)
    try:
        code: int = args._run(args)
    except UserError as exc:
        print(f"rtbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rtbench: interrupted", file=sys.stderr)
        return 130
    return code
