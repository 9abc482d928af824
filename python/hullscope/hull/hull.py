"""Certified membership in, and Euclidean distance to, the convex hull of a point set.

:class:`Hull` owns an (n, d) float64 matrix X and answers, for many queries at once,

* ``distance(Q)``: the distance from each query q to conv(X), the nearest hull point p, the training
  rows that span p with their convex weights, and a separating hyperplane when q is outside;
* ``contains(Q)``: the same engine, stopping as soon as the verdict is certified;
* ``leave_one_out()``: is x_i inside conv(X without row i)?

Every answer carries a certificate that :meth:`DistanceResult.verify` re-checks in plain numpy:

* **inside**: weights lambda >= 0 with sum 1 and ``||X[idx].T @ lambda - q|| <= tol``;
* **outside**: a unit normal a and offset beta with ``(X - o) @ a <= beta`` for every row of the hull
  and ``a @ (q - o) - beta = margin > tol``, centred on the hull's first row o (exact differences);
* **boundary**: q is within ``tol`` of the hull but a hyperplane separates it by a positive margin
  of at most ``tol``: the verdict depends on the tolerance, and both certificates are given.

Tolerances are relative to the query's scale, ``tol = rtol * max_i ||x_i - q||``.

How it is solved
----------------
Deciding q in conv(X) is the feasibility LP {lambda >= 0, 1'lambda = 1, X'lambda = q}. hullscope
decides it through the closely related minimum-norm problem min ||X'lambda - q|| over the simplex,
whose optimality conditions produce exactly the LP's two certificates (a feasible lambda, or a
Farkas hyperplane a = q - p*), and which also gives the distance. The C++ core runs Wolfe's
minimum-norm-point active-set method (Cholesky factor updated as points enter and leave the corral)
with column generation: one blocked matrix product over X prices all queries in flight at once and
returns each query's most violating rows, the restricted problem over those rows is solved exactly,
and the next pass either proves optimality over all of X or refills the candidates. Far-away queries
are often settled by the first pass alone (centroid and bounding-box hyperplanes).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .._validation import as_matrix, check_magnitude, to_numpy
from . import engine
from .options import DEFAULTS, SolveOptions, validate_subset
from .result import DistanceResult, MembershipResult

__all__ = ["Hull"]


class Hull:
    """The convex hull of n points in d dimensions, ready for many queries.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n, d)
        The points (e.g. training samples, flattened). A C-contiguous float64 or float32 array (or
        CPU tensor) is used as it is, without a copy: float32 features stay float32, at half the
        memory and half the bytes per pass, and the engine widens each element to float64 before any
        product, so verdicts and certificates are exact for the stored float32 values. Other dtypes
        (integers, float16, bfloat16) and non-contiguous arrays are converted once to float64 (or, for
        non-contiguous float32, to contiguous float32). NaN or inf is rejected. Do not modify X in
        place after building the hull: the core keeps a reference to it, not a copy.
    threads : int, optional
        OpenMP threads of this hull (None or -1: all cores), as in :class:`~hullscope.LinearRegions`:
        used to precompute row statistics and by every query unless the call gives ``threads=``.
    sparse : bool, optional
        Keep a CSR copy of X's non-zero entries (float32 or float64 values as X stores them, 16-bit
        column indices; :attr:`sparse_bytes` bytes) beside X, and let every pricing pass read it
        instead of X. The answers are the same bits either way: each product sums the same non-zero
        terms in the same order. None (default) keeps it where d <= 65,536 and at most 30% of the
        entries are non-zero (digit pixels on a blank background, rectified features), where it takes
        at most 45% of a float32 X's bytes. MNIST pixels (19% non-zero): 54 MB beside X's 188 MB; a
        pass then reads 29% of the bytes (``bench/hull.py --case sparse``: 1.0-1.3x faster queries
        on MNIST). False never keeps it; True always does (d <= 65,536). Dask workers (``client=``)
        choose for themselves, as with None.

    Examples
    --------
    >>> import numpy as np
    >>> from hullscope import Hull
    >>> X = np.random.default_rng(0).normal(size=(500, 8))
    >>> h = Hull(X)
    >>> r = h.distance(np.vstack([X[:3].mean(axis=0), 10 * np.ones(8)]))
    >>> r.status.tolist(), bool(r.verify())
    (['inside', 'outside'], True)
    """

    def __init__(self, X: Any, *, threads: Optional[int] = None, sparse: Optional[bool] = None) -> None:
        X = as_matrix(X, "X", keep_float32=True)
        check_magnitude(X, "X")
        view = X.view()
        view.flags.writeable = False
        self._X = view
        self.threads = threads  # the default of every call (a call's threads= overrides it)
        self._ps = engine.point_set(X, threads, sparse)

    @property
    def sparse(self) -> bool:
        """Whether a CSR copy of X's non-zero entries is kept for the passes (see ``sparse=``)."""
        return bool(self._ps.sparse)

    @property
    def sparse_bytes(self) -> int:
        """Bytes held by the CSR copy of X's non-zero entries (0 where none is kept)."""
        return int(self._ps.sparse_bytes)

    @property
    def density(self) -> float:
        """Fraction of X's entries that are non-zero."""
        return float(self._ps.density)

    @property
    def X(self) -> np.ndarray:
        """The points, (n, d) float64 or float32 (as given), read-only view of the caller's array."""
        return self._X

    @property
    def n(self) -> int:
        return int(self._X.shape[0])

    @property
    def d(self) -> int:
        return int(self._X.shape[1])

    def __repr__(self) -> str:
        return f"Hull(n={self.n}, d={self.d})"

    # ---- one path for every query method ------------------------------------------------------
    def _query(self, method: str, Q: np.ndarray, subset: Optional[np.ndarray], exclude: Optional[np.ndarray],
               early_exit: bool, opts: SolveOptions, progress: bool, chunk_size: Optional[int], client: Any,
               out: Optional[str], dask_options: dict) -> DistanceResult:
        unknown = set(dask_options) - _DASK_OPTIONS
        if unknown:
            raise TypeError(f"{method}() got unexpected keyword argument(s) {sorted(unknown)}; the Dask options "
                            f"are {sorted(_DASK_OPTIONS)} (with client= or out=)")
        if client is not None or out is not None or dask_options:
            # checkpointing runs on the Dask path; without a client it starts (and closes) a local
            # cluster of this machine's cores
            from .distributed import run_hull  # lazy: only Hull -> distributed, never back

            return run_hull(self._X, Q, method="distance" if not early_exit else "contains", client=client, out=out,
                            subset=subset, exclude=exclude, chunk_size=chunk_size,
                            threads_per_task=opts.threads if (opts.threads or 0) > 0 else None,
                            progress=progress, options=opts, **dask_options)
        return engine.run(self._ps, self._X, Q, subset=subset, exclude=exclude, early_exit=early_exit,
                          options=opts, method=method, progress=progress, chunk_size=chunk_size)

    # ---- public queries -----------------------------------------------------------------------
    def distance(self, Q: Any, *, subset: Any = None, threads: Optional[int] = None, progress: bool = False,
                 rtol: float = DEFAULTS.rtol, max_passes: int = DEFAULTS.max_passes, pool: int = DEFAULTS.pool,
                 block: int = DEFAULTS.block, chunk_size: Optional[int] = None, client: Any = None,
                 out: Optional[str] = None, **dask_options: Any) -> DistanceResult:
        """Euclidean distance from each query to conv(X), with the nearest point and certificates.

        Parameters
        ----------
        Q : array-like, shape (B, d) or (d,)
            Queries, in the units of X. B = 0 gives an empty result.
        subset : bool mask (n,) or int indices, optional
            Use the hull of these rows only (e.g. one class); X is not copied. Returned row indices
            always refer to rows of X.
        threads : int, optional
            OpenMP threads for this call (default: the hull's ``threads``; None or -1: all cores).
            Queries in flight share them; a query alone in its pass (a single query, or the last
            one of a batch) splits its own row sweeps over them. Results are bitwise identical for
            any thread count and any ``chunk_size``.
        progress : bool
            Show a tqdm progress bar over queries.
        rtol, max_passes, pool, block
            Solver options (see :class:`hullscope.hull.SolveOptions`, the one home of their defaults).
        chunk_size : int, optional
            Queries per call into the core (it bounds the float64 copy of the queries; default: 64 MiB
            of them, at least 256), or per Dask task when ``client`` or ``out`` is given.
        client : dask.distributed.Client, optional
            Run the chunks on this Dask cluster (see :mod:`hullscope.hull.distributed`); ``threads``
            is then the thread count of each task.
        out : path, optional
            Checkpoint folder; a rerun resumes from it. Checkpointed runs take the Dask path: on
            ``client``, or without one on a local cluster started for the call (needs
            ``hullscope[dask]``; its worker processes are spawned, so a script needs an
            ``if __name__ == "__main__":`` guard).
        **dask_options
            With ``client`` or ``out``: ``shared_path``, ``retries``, ``on_chunk_done``, ``return_report``.
            Any other keyword is a TypeError.

        Returns
        -------
        DistanceResult
        """
        opts = SolveOptions(rtol=rtol, max_passes=max_passes, pool=pool, block=block,
                            threads=self.threads if threads is None else threads)
        Qm = as_matrix(Q, "Q", d=self.d, allow_vector=True, allow_empty=True)
        return self._query("distance", Qm, validate_subset(subset, self.n), None, False, opts, progress,
                           chunk_size, client, out, dask_options)

    def contains(self, Q: Any, *, subset: Any = None, threads: Optional[int] = None, progress: bool = False,
                 rtol: float = DEFAULTS.rtol, max_passes: int = DEFAULTS.max_passes, pool: int = DEFAULTS.pool,
                 block: int = DEFAULTS.block, chunk_size: Optional[int] = None, client: Any = None,
                 out: Optional[str] = None, **dask_options: Any) -> MembershipResult:
        """Certified membership of each query in conv(X).

        Same engine and arguments as :meth:`distance`, but each query stops as soon as its verdict is
        certified: an inside query once its convex weights reproduce it within ``tol``, an outside
        query once a hyperplane separates it by more than ``tol``. Distances of early-stopped outside
        queries are bounds (``lower <= true distance <= distance``; ``converged`` is False).
        ``client``/``out`` run it on a Dask cluster, as in :meth:`distance`.
        """
        opts = SolveOptions(rtol=rtol, max_passes=max_passes, pool=pool, block=block,
                            threads=self.threads if threads is None else threads)
        Qm = as_matrix(Q, "Q", d=self.d, allow_vector=True, allow_empty=True)
        return self._query("contains", Qm, validate_subset(subset, self.n), None, True, opts, progress,
                           chunk_size, client, out, dask_options)

    def leave_one_out(self, indices: Any = None, *, subset: Any = None, exact_distance: bool = False,
                      threads: Optional[int] = None, progress: bool = False, rtol: float = DEFAULTS.rtol,
                      max_passes: int = DEFAULTS.max_passes, pool: int = DEFAULTS.pool, block: int = DEFAULTS.block,
                      chunk_size: Optional[int] = None, client: Any = None, out: Optional[str] = None,
                      **dask_options: Any) -> DistanceResult:
        """For each row i in ``indices``: is x_i inside conv(X without row i)?

        Parameters
        ----------
        indices : int array, optional
            Rows to test (default: every row of the hull, i.e. of ``subset`` when given).
        subset : optional
            Restrict the hull to these rows (as in :meth:`distance`); ``indices`` must lie in it.
        exact_distance : bool
            Solve distances to convergence (like :meth:`distance`) instead of stopping at the verdict.

        Notes
        -----
        Only row i itself is removed: a duplicate of x_i elsewhere in X makes x_i inside.
        """
        opts = SolveOptions(rtol=rtol, max_passes=max_passes, pool=pool, block=block,
                            threads=self.threads if threads is None else threads)
        sub = validate_subset(subset, self.n)
        idx = loo_rows(indices, self.n, sub)
        # every row in order: the queries are X itself (a view; chunks are widened to float64 one at a time)
        Q = self._X if (idx.size == self.n and np.array_equal(idx, np.arange(self.n))) else self._X[idx]
        return self._query("leave_one_out", Q, sub, idx, not exact_distance, opts,
                           progress, chunk_size, client, out, dask_options)


#: Keywords that only a Dask run takes.
_DASK_OPTIONS = frozenset({"shared_path", "retries", "on_chunk_done", "return_report"})


def loo_rows(indices: Any, n: int, subset: Optional[np.ndarray]) -> np.ndarray:
    """The rows a leave-one-out sweep tests (all rows of the hull by default), validated."""
    pool_rows = subset if subset is not None else np.arange(n, dtype=np.int64)
    if pool_rows.size < 2:
        raise ValueError("leave_one_out: needs at least 2 rows in the hull (removing one must leave one)")
    if indices is None:
        return pool_rows
    idx = to_numpy(indices, "indices")
    if not np.issubdtype(idx.dtype, np.integer) or idx.ndim != 1:
        raise TypeError(f"indices: expected a 1-D integer array of rows, got dtype {idx.dtype}, shape {idx.shape}")
    if idx.size == 0:
        raise ValueError("indices: is empty")
    if not np.isin(idx, pool_rows).all():
        raise ValueError("indices: every row must belong to the hull (the subset when one is given)")
    return np.ascontiguousarray(idx, dtype=np.int64)
