"""The ``hullscope`` command.

Each sub-command is one module of this package (demo, analyze, regions, boundaries, stability,
hierarchy): it parses its flags, calls the library and writes its outputs; the science lives in the
library modules. This file only wires them up.
A module listed in ``_SUBCOMMANDS`` provides ``register(subparsers)``, which adds its parser and sets
``func`` (taking the parsed ``argparse.Namespace`` and returning an exit code).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
from typing import List, Optional

# (module, description) in the order shown by --help
_SUBCOMMANDS = [
    "hullscope.cli.demo",
    "hullscope.cli.analyze",
    "hullscope.cli.stability",
    "hullscope.cli.hierarchy",
    "hullscope.cli.regions",
    "hullscope.cli.boundaries",
    "hullscope.cli.overparam",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hullscope", allow_abbrev=False,
        description="Exact, certified geometry of how image classifiers extrapolate.")
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for modname in _SUBCOMMANDS:
        importlib.import_module(modname).register(sub)
    for p in _all_parsers(parser):  # help renders as plain text, every flag shows its default
        p.description = _plain(p.description or "")
        p.formatter_class = _HelpFormatter
        for action in p._actions:
            if action.option_strings and action.help is not argparse.SUPPRESS:
                text = re.sub(r"\s*\(default[^)]*\)", "", _plain(action.help or ""))
                has_default = action.default is not None and action.default is not False
                action.help = text or ("(default: %(default)s)" if has_default else None)
    return parser


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions as written (paragraphs kept), and '(default: ...)' after every flag that has one."""


def _all_parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for p in action.choices.values():
                yield from _all_parsers(p)


def configure_logging(verbose: int) -> None:
    """-v: hullscope's INFO lines, -vv: its DEBUG lines; other libraries' loggers are left alone."""
    log = logging.getLogger("hullscope")
    log.setLevel(logging.WARNING - 10 * min(int(verbose), 2))
    if not any(getattr(h, "_hullscope", False) for h in log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._hullscope = True
        log.addHandler(handler)
        log.propagate = False


def _plain(text: str) -> str:
    """Help text without reStructuredText markup: ``code`` -> code, :mod:`x` -> x."""
    import re

    text = re.sub(r":(?:mod|func|class|meth|attr|data):`~?([^`]+)`", r"\1", text)
    return text.replace("``", "")


def _version() -> str:
    from .. import __version__
    return f"hullscope {__version__}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a bad flag (argparse printed why), --help or --version: an exit code
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    configure_logging(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError, PermissionError, ImportError) as exc:
        print(f"hullscope {args.command}: error: {exc}", file=sys.stderr)
        return 2
