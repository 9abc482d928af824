"""The one outcome type of every ``verify()`` in hullscope.

Each result's ``verify()`` re-checks its certificate in plain numpy and returns a
:class:`Verification`: truthy when every check holds, with the number of answers checked and the
reasons of the failures. It never relies on ``assert`` statements (``python -O`` removes them), so a
corrupted certificate fails under every interpreter flag.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

__all__ = ["Verification", "Checks", "ConvergenceWarning"]


class ConvergenceWarning(RuntimeWarning):
    """An iterative solver stopped short of convergence; the result says where and gives bounds.
    Filter it with ``warnings.filterwarnings("ignore", category=hullscope.ConvergenceWarning)``."""


@dataclass(frozen=True)
class Verification:
    """Outcome of re-checking certificates in plain numpy. Truthy when everything holds."""

    ok: bool
    checked: int
    failures: Tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.ok

    def raise_if_failed(self) -> None:
        """Raise ``AssertionError`` listing the failed checks (an explicit raise: not removed by -O)."""
        if not self.ok:
            raise AssertionError("certificate check failed:\n  " + "\n  ".join(self.failures[:20]))

    def __repr__(self) -> str:
        if self.ok:
            return f"Verification(ok=True, checked={self.checked})"
        return (f"Verification(ok=False, checked={self.checked}, {len(self.failures)} failures listed, first: "
                f"{self.failures[0]!r})")


class Checks:
    """Collects the outcome of individual checks; ``done()`` turns them into a :class:`Verification`."""

    def __init__(self, max_failures: int = 50) -> None:
        if not isinstance(max_failures, int) or isinstance(max_failures, bool) or max_failures < 0:
            raise ValueError(f"max_failures: expected an int >= 0 (how many failures to list), got {max_failures!r}")
        self.max_failures = max_failures
        self.failures: List[str] = []
        self.truncated = False
        self.count = 0

    def __call__(self, condition, message: str) -> bool:
        """Record ``message`` as a failure unless ``condition`` holds; returns the condition."""
        ok = bool(condition)
        if not ok:
            self.count += 1
            if len(self.failures) < self.max_failures:
                self.failures.append(message)
            else:
                self.truncated = True
        return ok

    def done(self, checked: int = 1) -> Verification:
        fails = list(self.failures)
        if self.truncated:
            fails.append("... (more failures not listed)")
        return Verification(ok=self.count == 0, checked=int(checked), failures=tuple(fails))
