"""argparse value types shared by every ``hullscope`` sub-command: a bad value is refused while the
command line is parsed (before any training), and argparse's message names the flag."""
from __future__ import annotations

import argparse
from typing import List

__all__ = ["positive_int", "nonnegative_int", "threads_arg", "positive_int_list", "seed_list"]


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def positive_int(text: str) -> int:
    v = _int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {v}")
    return v


def nonnegative_int(text: str) -> int:
    v = _int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {v}")
    return v


def threads_arg(text: str) -> int:
    """-1 (all cores) or a positive count."""
    v = _int(text)
    if v == 0 or v < -1:
        raise argparse.ArgumentTypeError(f"expected -1 (all cores) or an integer >= 1, got {v}")
    return v


def positive_int_list(text: str) -> List[int]:
    """Comma-separated positive integers, e.g. ``256,512,1024``."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("expected comma-separated integers >= 1, got nothing")
    return [positive_int(p) for p in parts]


def seed_list(text: str) -> List[int]:
    """Comma-separated seeds >= 0, e.g. ``0,1,2``: ``--seeds`` is a list in every command."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("expected comma-separated seeds >= 0, got nothing")
    return [nonnegative_int(p) for p in parts]
