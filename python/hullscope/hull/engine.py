"""The only caller of the compiled core's hull solver: one point set, chunks of queries, one result.

:func:`point_set` wraps X (no copy) with its precomputed row statistics; :func:`run` solves a block
of queries in chunks that bound their float64 copy (progress and Ctrl-C between passes inside the
core) and reports non-convergence once, as a :class:`~hullscope.ConvergenceWarning`. :class:`~hullscope.Hull` and the
Dask workers both call it, so local and distributed answers are the same function of the inputs.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any, List, Optional

import numpy as np

from .._progress import progress_bar
from .._validation import check_int, check_magnitude
from .._verification import ConvergenceWarning
from .options import SolveOptions
from .result import DistanceResult

log = logging.getLogger("hullscope.hull")

__all__ = ["core", "point_set", "run"]


def core():
    """The compiled core, with a clear error when the install is broken."""
    try:
        from .. import _core
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ImportError("hullscope's compiled core (hullscope._core) is missing; reinstall with "
                          "`pip install hullscope` or build from source with `pip install .`") from exc
    return _core


def point_set(X: np.ndarray, threads: Optional[int] = None, sparse: Optional[bool] = None):
    """The core's read-only view of a validated (n, d) float64 or float32 C-contiguous X (never copied),
    statistics computed once; ``sparse`` as in :class:`~hullscope.Hull` (None: automatic)."""
    from .._validation import resolve_threads

    if sparse is not None and not isinstance(sparse, (bool, np.bool_)):
        raise TypeError(f"sparse: expected None, True or False, got {type(sparse).__name__}")
    if sparse and X.shape[1] > 65536:
        raise ValueError(f"sparse: the CSR copy needs d <= 65536 columns, X has d = {X.shape[1]}")
    flag = -1 if sparse is None else int(bool(sparse))
    return core().PointSet(X, resolve_threads(threads), flag)


def run(ps: Any, X: np.ndarray, Q: np.ndarray, *, subset: Optional[np.ndarray], exclude: Optional[np.ndarray],
        early_exit: bool, options: SolveOptions, method: str, progress: bool = False,
        chunk_size: Optional[int] = None) -> DistanceResult:
    """Solve queries Q (B, d) against the point set ``ps`` of X; results never depend on ``chunk_size``."""
    check_magnitude(Q, "Q")
    chunk_size = check_int(chunk_size, "chunk_size", allow_none=True, hi=2**62)
    B = Q.shape[0]
    if chunk_size is None:
        # Chunks bound the float64 copy of the queries (64 MiB, or 256 queries where d > 32768); the
        # core reports progress after every pass, so the bar needs no smaller ones (each chunk's last
        # passes run with few queries in flight).
        chunk_size = max(1, min(B, max(256, (64 << 20) // (8 * max(Q.shape[1], 1)))))
    c = core()
    copt = c.SolveOptions()
    copt.rtol, copt.max_passes, copt.pool, copt.block = options.rtol, options.max_passes, options.pool, options.block
    copt.threads, copt.early_exit = options.core_threads, bool(early_exit)
    parts: List[dict] = []
    with progress_bar(progress, B, method, unit="query") as bar:
        for a in range(0, max(B, 1), chunk_size):
            b = min(B, a + chunk_size)
            ex = None if exclude is None else exclude[a:b]
            # queries enter the core as float64 (float32 rows widen exactly), one chunk at a time
            shown = [0]

            def advance(done: int, shown: list = shown) -> None:
                bar.update(done - shown[0])
                shown[0] = done

            parts.append(c.solve(ps, np.ascontiguousarray(Q[a:b], dtype=np.float64), subset, ex, copt,
                                 advance if progress else None))
            bar.update(b - a - shown[0])
    res = DistanceResult.from_arrays(parts, X=X, Q=Q, subset=subset, method=method, rtol=options.rtol,
                                     exclude=exclude)
    warn_unconverged(res, options, early_exit)
    return res


def warn_unconverged(res: DistanceResult, options: SolveOptions, early_exit: bool, stacklevel: int = 4) -> None:
    """One :class:`ConvergenceWarning` saying how many queries stopped short, and why."""
    B = len(res)
    unc = res.status == "unconverged"
    # distance() promises converged distances: a certified verdict with an unconverged distance is
    # reported too (contains() stops early on purpose, so only its verdicts count there)
    loose = (~res.converged & ~unc) if not early_exit else np.zeros(B, dtype=bool)
    if not (unc.any() or loose.any()):
        return
    limit = res.passes >= options.max_passes
    why = (f"{int(np.sum(limit & (unc | loose)))} reached max_passes={options.max_passes}; the others hit the "
           "Wolfe iteration limit or stalled at the rounding floor of float64")
    msg = (f"{int(unc.sum() + loose.sum())} of {B} queries did not converge: {int(unc.sum())} are "
           f"'unconverged' (no certified verdict; distance and .lower bracket the truth) and {int(loose.sum())} "
           f"have a certified verdict but an unconverged distance (bracketed by .lower and .distance): {why}")
    log.warning(msg)
    warnings.warn(msg, ConvergenceWarning, stacklevel=stacklevel)
