"""The ``hullscope`` command.

Each sub-command lives in the module that implements its science; this file only wires them up.
A module listed in ``_SUBCOMMANDS`` provides ``register(subparsers)``, which adds its parser and sets
``func`` (taking the parsed ``argparse.Namespace`` and returning an exit code).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

# (module, description) in the order shown by --help
_SUBCOMMANDS = [
    "hullscope.demo_cli",
    "hullscope.analyze_cli",
    "hullscope.stability.cli",
    "hullscope.hierarchy.cli",
    "hullscope.regions.cli",
    "hullscope.boundaries.cli",
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
    return parser


def _version() -> str:
    from . import __version__
    return f"hullscope {__version__}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, FileNotFoundError, PermissionError, ImportError) as exc:
        print(f"hullscope {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
