"""The one home of the hull engine's options, their defaults and their checks."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .._validation import check_int, resolve_threads, to_numpy

__all__ = ["SolveOptions", "DEFAULTS", "check_rtol", "validate_subset"]


def check_rtol(rtol: Any) -> float:
    """A relative tolerance in (0, 1e-2)."""
    if isinstance(rtol, (bool, np.bool_)) or not isinstance(rtol, (int, float, np.integer, np.floating)):
        raise TypeError(f"rtol: expected a float in (0, 1e-2), got {rtol!r}")
    rtol = float(rtol)
    if not (0.0 < rtol < 1e-2):
        raise ValueError(f"rtol: expected a relative tolerance in (0, 1e-2), got {rtol}")
    return rtol


@dataclass(frozen=True)
class SolveOptions:
    """How the hull engine solves, for every entry point (local, Dask, leave-one-out).

    rtol : tolerance relative to each query's scale ``max_j ||x_j - q||``.
    max_passes : limit on full passes over X per query (hitting it gives 'unconverged').
    pool : candidate rows taken per pass (column-generation width). A query whose corral outgrows
        twice the pool (deep inside the hull) also keeps each pass's 1,024 leading rows and
        re-solves over them between passes, which cuts its passes over X about in half.
    block : queries priced together in one pass (0: automatic, 128 for d <= 1024 else 64).
    threads : OpenMP threads (None, 0 or -1: all cores). Results never depend on it.
    """

    rtol: float = 1e-9
    max_passes: int = 1000
    pool: int = 64
    block: int = 0
    threads: Optional[int] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "rtol", check_rtol(self.rtol))
        object.__setattr__(self, "max_passes", check_int(self.max_passes, "max_passes", hi=10**6))
        object.__setattr__(self, "pool", check_int(self.pool, "pool", hi=10**6))
        object.__setattr__(self, "block", check_int(self.block, "block", lo=0, hi=4096))
        resolve_threads(self.threads)

    @property
    def core_threads(self) -> int:
        """The thread count handed to the core (0 = OpenMP default)."""
        return resolve_threads(self.threads)

    def solver_dict(self) -> dict:
        """The options that shape the answer (not threads): recorded in checkpoint fingerprints."""
        return {"rtol": self.rtol, "max_passes": self.max_passes, "pool": self.pool, "block": self.block}


#: The defaults, written once.
DEFAULTS = SolveOptions()


def validate_subset(subset: Any, n: int) -> Optional[np.ndarray]:
    """A boolean mask (n,) or integer row indices -> sorted unique int64 rows (None stays None)."""
    if subset is None:
        return None
    s = to_numpy(subset, "subset")
    if s.dtype == np.bool_:
        if s.shape != (n,):
            raise ValueError(f"subset: a boolean mask must have shape ({n},), got {s.shape}")
        s = np.flatnonzero(s)
    elif np.issubdtype(s.dtype, np.integer):
        if s.ndim != 1:
            raise ValueError(f"subset: expected a 1-D array of row indices, got shape {s.shape}")
        if s.size and (s.min() < 0 or s.max() >= n):
            raise ValueError(f"subset: row indices must lie in [0, {n}), got range [{s.min()}, {s.max()}]")
        s = np.unique(s)
    elif s.size == 0:
        raise ValueError("subset: selects no rows; the hull of an empty set is empty")
    else:
        raise TypeError(f"subset: expected a boolean mask or integer row indices, got dtype {s.dtype}")
    if s.size == 0:
        raise ValueError("subset: selects no rows; the hull of an empty set is empty")
    return np.ascontiguousarray(s, dtype=np.int64)
