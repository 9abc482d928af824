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

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ._progress import progress_bar
from ._validation import as_matrix, check_int, check_magnitude, resolve_threads, to_numpy
from ._verification import ConvergenceWarning, Verification

log = logging.getLogger(__name__)

__all__ = ["Hull", "DistanceResult", "MembershipResult", "Verification", "ConvergenceWarning", "STATUS_NAMES"]

_EPS = float(np.finfo(np.float64).eps)

#: Status codes returned by the core, by index.
STATUS_NAMES = np.array(["inside", "outside", "boundary", "unconverged"])


@dataclass(frozen=True, eq=False)
class DistanceResult:
    """Distances to conv(X) and certified verdicts for B queries.

    Attributes
    ----------
    status : ndarray of str, shape (B,)
        'inside', 'outside', 'boundary' (within ``tol`` of the hull but strictly separated), or
        'unconverged' (the iteration limits were hit; a warning is issued).
    distance : ndarray, shape (B,)
        ``||nearest - q||``, the Euclidean distance to conv(X) (same units as X). For
        :meth:`Hull.contains` results it is exact only where ``converged`` is True; elsewhere it is
        an upper bound and ``lower`` a certified lower bound.
    lower : ndarray, shape (B,)
        Certified lower bound on the distance (the separating margin, or 0).
    gap : ndarray, shape (B,)
        ``distance - lower``: how far the reported distance can be from the true one.
    converged : ndarray of bool, shape (B,)
        Distance solved to the gap tolerance.
    nearest : ndarray, shape (B, d)
        The returned hull point ``X[indices].T @ values``.
    indptr, indices, values : ndarray
        Convex weights of ``nearest`` in CSR form: query i uses rows ``indices[indptr[i]:indptr[i+1]]``
        of X (sorted) with weights ``values[...]`` (>= 0, summing to 1). See :meth:`support`.
    normal, offset, margin : ndarray, shapes (B, d), (B,), (B,)
        Best separating hyperplane found, centred on :attr:`origin` o: unit ``normal`` a,
        ``a @ (x_j - o) <= offset`` for every hull row and ``a @ (q - o) - offset = margin``. Where no hyperplane was found ``margin`` is -inf and
        ``normal`` is zero.
    nn_distance, nn_index : ndarray, shape (B,)
        Distance to, and row of, the nearest single hull row (same pass).
    tol, scale : ndarray, shape (B,)
        Absolute tolerance ``rtol * scale``, with ``scale = max_j ||x_j - q||``.
    passes, iterations : ndarray of int, shape (B,)
        Full passes over X and Wolfe major iterations spent on each query.
    """

    status: np.ndarray
    distance: np.ndarray
    lower: np.ndarray
    converged: np.ndarray
    nearest: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    normal: np.ndarray
    offset: np.ndarray
    margin: np.ndarray
    nn_distance: np.ndarray
    nn_index: np.ndarray
    tol: np.ndarray
    scale: np.ndarray
    passes: np.ndarray
    iterations: np.ndarray
    rtol: float
    method: str
    # what the answer refers to (references, never copies of X)
    X: np.ndarray = field(repr=False)
    Q: np.ndarray = field(repr=False)
    subset: Optional[np.ndarray] = field(default=None, repr=False)
    exclude: Optional[np.ndarray] = field(default=None, repr=False)

    # ---- conveniences -------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.status.shape[0])

    @property
    def gap(self) -> np.ndarray:
        return self.distance - self.lower

    @property
    def inside(self) -> np.ndarray:
        """Boolean mask of queries certified inside."""
        return self.status == "inside"

    @property
    def outside(self) -> np.ndarray:
        """Boolean mask of queries certified outside (by more than ``tol``)."""
        return self.status == "outside"

    @property
    def fraction_outside(self) -> float:
        return float(np.mean(self.outside)) if len(self) else float("nan")

    def support(self, i: int) -> Tuple[np.ndarray, np.ndarray]:
        """Rows of X spanning query ``i``'s nearest hull point, and their convex weights."""
        i = check_int(i, "i", lo=0, hi=max(len(self) - 1, 0))
        if not len(self):
            raise ValueError("i: the result holds no queries")
        a, b = int(self.indptr[i]), int(self.indptr[i + 1])
        return self.indices[a:b], self.values[a:b]

    def summary(self) -> dict:
        """Counts per status and distance quantiles, as plain Python numbers."""
        out = {s: int(np.sum(self.status == s)) for s in STATUS_NAMES}
        out["queries"] = len(self)
        if len(self):
            out["distance_median"] = float(np.median(self.distance))
            out["passes_median"] = float(np.median(self.passes))
        return out

    def __repr__(self) -> str:
        s = self.summary()
        return (f"{type(self).__name__}({s['queries']} queries: {s['inside']} inside, {s['outside']} outside, "
                f"{s['boundary']} boundary, {s['unconverged']} unconverged)")

    # ---- certificates -------------------------------------------------------------------------
    @property
    def origin(self) -> np.ndarray:
        """The point every certificate is centred on: the first row of the hull (``X[subset[0]]``, or
        ``X[0]``). Hyperplanes read ``normal @ (x - origin) <= offset``: differences of nearby
        floating-point numbers are exact, so the certificates stay exact for data far from zero."""
        row = 0 if self.subset is None else int(self.subset[0])
        return self.X[row]

    def verify(self, max_failures: int = 50) -> Verification:
        """Re-check every certificate in plain numpy, independently of the compiled core.

        All arithmetic is centred on :attr:`origin` (as in the core). Checks, per query: the weights
        are >= 0, sum to 1 and reproduce ``nearest``; ``distance`` equals ``||nearest - q||``; an
        inside verdict has residual <= tol; an outside or boundary verdict has a unit normal with
        ``(x - origin) @ a <= offset`` for every hull row and ``(q - origin) @ a - offset == margin``
        (> tol for outside, > 0 for boundary); the support uses only rows that belong to the hull
        (subset, minus the excluded row). The hull rows are read in blocks, never copied whole.
        """
        X, Q = self.X, self.Q
        if not isinstance(max_failures, (int, np.integer)) or isinstance(max_failures, bool) or max_failures < 0:
            raise ValueError(f"max_failures: expected an int >= 0 (how many failures to list), got {max_failures!r}")
        o = self.origin.astype(np.float64)
        fails: List[str] = []
        allowed = None
        if self.subset is not None:
            allowed = np.zeros(X.shape[0], dtype=bool)
            allowed[self.subset] = True
        hull_rows = self.subset if self.subset is not None else np.arange(X.shape[0])
        # the worst hull row against every hyperplane, in row blocks (one product for all queries)
        planes = np.flatnonzero(np.isin(self.status, ("outside", "boundary")))
        worst = np.full(len(self), -np.inf)
        if planes.size:
            A = self.normal[planes].T
            ex = None if self.exclude is None else self.exclude[planes]
            step = max(1, (1 << 22) // max(1, X.shape[1]))
            for a0 in range(0, hull_rows.size, step):
                rows = hull_rows[a0:a0 + step]
                H = (X[rows].astype(np.float64) - o) @ A
                if ex is not None:
                    H[rows[:, None] == ex[None, :]] = -np.inf  # the excluded row is not in that hull
                worst[planes] = np.maximum(worst[planes], H.max(axis=0))
        for i in range(len(self)):
            qc = Q[i].astype(np.float64) - o
            st = str(self.status[i])
            idx, w = self.support(i)
            sc = float(self.scale[i]) + float(np.linalg.norm(qc)) + 1e-300
            if idx.size == 0:
                fails.append(f"query {i}: no convex weights")
                continue
            if np.any(idx < 0) or np.any(idx >= X.shape[0]):
                fails.append(f"query {i}: support index out of range")
                continue
            if allowed is not None and not np.all(allowed[idx]):
                fails.append(f"query {i}: support uses rows outside the subset")
            if self.exclude is not None and self.exclude[i] >= 0 and np.any(idx == self.exclude[i]):
                fails.append(f"query {i}: support uses its own excluded row {self.exclude[i]}")
            if np.any(w < 0) or not np.isfinite(w).all():
                fails.append(f"query {i}: negative or non-finite weights")
            if abs(float(w.sum()) - 1.0) > 1e-12 * max(1, idx.size):
                fails.append(f"query {i}: weights sum to {w.sum()!r}, not 1")
            pc = (X[idx].astype(np.float64) - o).T @ w
            # nearest is reported in the caller's coordinates: it carries the rounding of |nearest|
            near_tol = 1e-12 * sc * max(1.0, np.sqrt(idx.size)) + 8 * _EPS * float(np.linalg.norm(self.nearest[i]))
            if np.linalg.norm(pc - (self.nearest[i] - o)) > near_tol:
                fails.append(f"query {i}: weights do not reproduce the nearest point")
            resid = float(np.linalg.norm(pc - qc))
            if abs(resid - float(self.distance[i])) > 1e-10 * sc:
                fails.append(f"query {i}: distance {self.distance[i]!r} != |nearest - q| = {resid!r}")
            if st == "inside":
                if resid > self.tol[i]:
                    fails.append(f"query {i}: inside but residual {resid:.3e} > tol {self.tol[i]:.3e}")
            elif st in ("outside", "boundary"):
                a = self.normal[i]
                if abs(float(np.linalg.norm(a)) - 1.0) > 1e-9:
                    fails.append(f"query {i}: hyperplane normal is not unit length")
                    continue
                if worst[i] > self.offset[i]:
                    fails.append(f"query {i}: a hull row violates the hyperplane by {worst[i] - self.offset[i]:.3e}")
                m = float(a @ qc - self.offset[i])
                if abs(m - float(self.margin[i])) > 1e-9 * sc:
                    fails.append(f"query {i}: margin {self.margin[i]!r} but a.q - offset = {m!r}")
                if st == "outside" and not m > self.tol[i]:
                    fails.append(f"query {i}: outside but margin {m:.3e} <= tol {self.tol[i]:.3e}")
                if st == "boundary":
                    if not m > 0:
                        fails.append(f"query {i}: boundary but margin {m:.3e} <= 0")
                    if resid > self.tol[i] and not self.converged[i]:
                        fails.append(f"query {i}: boundary but residual {resid:.3e} > tol")
                if m > resid * (1 + 1e-9) + 1e-12 * sc:
                    fails.append(f"query {i}: margin {m:.3e} exceeds the distance {resid:.3e} (impossible)")
            elif st != "unconverged":
                fails.append(f"query {i}: unknown status {st!r}")
        listed = fails[:max_failures]
        if len(fails) > len(listed):
            listed.append(f"... ({len(fails) - len(listed)} more failures not listed)")
        return Verification(ok=not fails, checked=len(self), failures=tuple(listed))

    # ---- assembling ---------------------------------------------------------------------------
    @classmethod
    def concatenate(cls, parts: Sequence["DistanceResult"]) -> "DistanceResult":
        """Join results of consecutive query chunks (same hull, same options) into one."""
        if not parts:
            raise ValueError("parts: expected at least one result")
        first = parts[0]
        for k, p in enumerate(parts[1:], 1):
            same_subset = (p.subset is None and first.subset is None) or (
                p.subset is not None and first.subset is not None and np.array_equal(p.subset, first.subset))
            if p.X is not first.X and not (p.X.shape == first.X.shape and np.shares_memory(p.X, first.X)):
                raise ValueError(f"parts: result {k} refers to another point set than result 0; only chunks of "
                                 "the same hull can be joined")
            if not same_subset or p.rtol != first.rtol or p.method != first.method \
                    or (p.exclude is None) != (first.exclude is None):
                raise ValueError(f"parts: result {k} was computed with other options (subset, rtol, method or "
                                 "leave-one-out) than result 0")
        if len(parts) == 1:
            return first
        offs = np.cumsum([0] + [int(p.indptr[-1]) for p in parts[:-1]])
        indptr = np.concatenate([parts[0].indptr[:1]] + [p.indptr[1:] + o for p, o in zip(parts, offs)])
        cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
        exclude = None if first.exclude is None else cat("exclude")
        return cls(
            status=cat("status"), distance=cat("distance"), lower=cat("lower"), converged=cat("converged"),
            nearest=cat("nearest"), indptr=indptr, indices=cat("indices"), values=cat("values"),
            normal=cat("normal"), offset=cat("offset"), margin=cat("margin"), nn_distance=cat("nn_distance"),
            nn_index=cat("nn_index"), tol=cat("tol"), scale=cat("scale"), passes=cat("passes"),
            iterations=cat("iterations"), rtol=first.rtol, method=first.method, X=first.X, Q=cat("Q"),
            subset=first.subset, exclude=exclude)

    def to_dict(self) -> dict:
        """The per-query arrays as a dict of numpy arrays (for saving with ``np.savez``)."""
        names = ["status", "distance", "lower", "converged", "nearest", "indptr", "indices", "values", "normal",
                 "offset", "margin", "nn_distance", "nn_index", "tol", "scale", "passes", "iterations"]
        return {k: getattr(self, k) for k in names}


#: :meth:`Hull.contains` returns the same type; the name documents intent.
MembershipResult = DistanceResult


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
    else:
        raise TypeError(f"subset: expected a boolean mask or integer row indices, got dtype {s.dtype}")
    if s.size == 0:
        raise ValueError("subset: selects no rows; the hull of an empty set is empty")
    return np.ascontiguousarray(s, dtype=np.int64)


def check_rtol(rtol: float) -> float:
    """Validate a relative tolerance."""
    if isinstance(rtol, (bool, np.bool_)) or not isinstance(rtol, (int, float, np.integer, np.floating)):
        raise TypeError(f"rtol: expected a float in (0, 1e-2), got {rtol!r}")
    rtol = float(rtol)
    if not (0.0 < rtol < 1e-2):
        raise ValueError(f"rtol: expected a relative tolerance in (0, 1e-2), got {rtol}")
    return rtol


def _core():
    try:
        from . import _core as core
    except ImportError as exc:  # pragma: no cover - a broken install
        raise ImportError("hullscope's compiled core (hullscope._core) is missing; reinstall with "
                          "`pip install hullscope` or build from source with `pip install .`") from exc
    return core


class Hull:
    """The convex hull of n points in d dimensions, ready for many queries.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n, d)
        The points (e.g. training samples, flattened). Converted once to float64 C-contiguous
        (no copy if it already is; float32, integer or Fortran-order input is copied once). NaN or
        inf is rejected. Do not modify X in place after building the hull: the core keeps a
        reference to it, not a copy.
    threads : int, optional
        Threads used to precompute row statistics (default: all cores).

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

    def __init__(self, X: Any, *, threads: Optional[int] = None) -> None:
        X = as_matrix(X, "X")
        check_magnitude(X, "X")
        view = X.view()
        view.flags.writeable = False
        self._X = view
        self._ps = _core().PointSet(X, resolve_threads(threads))

    @property
    def X(self) -> np.ndarray:
        """The points, (n, d) float64, read-only view."""
        return self._X

    @property
    def n(self) -> int:
        return int(self._X.shape[0])

    @property
    def d(self) -> int:
        return int(self._X.shape[1])

    def __repr__(self) -> str:
        return f"Hull(n={self.n}, d={self.d})"

    # ---- argument handling --------------------------------------------------------------------
    def _subset(self, subset: Any) -> Optional[np.ndarray]:
        return validate_subset(subset, self.n)

    _check_rtol = staticmethod(check_rtol)

    def _run(self, Q: np.ndarray, *, subset: Optional[np.ndarray], exclude: Optional[np.ndarray],
             early_exit: bool, threads: Optional[int], progress: bool, rtol: float, max_passes: int,
             pool: int, block: int, chunk_size: Optional[int], desc: str) -> DistanceResult:
        core = _core()
        rtol = self._check_rtol(rtol)
        th = resolve_threads(threads)
        max_passes = check_int(max_passes, "max_passes", hi=10**6)
        pool = check_int(pool, "pool", hi=10**6)
        block = check_int(block, "block", lo=0, hi=4096)
        chunk_size = check_int(chunk_size, "chunk_size", allow_none=True, hi=2**62)
        check_magnitude(Q, "Q")
        B = Q.shape[0]
        if chunk_size is None:
            chunk_size = B if not progress else max(64, -(-B // 50))
        parts: List[DistanceResult] = []
        with progress_bar(progress, B, desc, unit="query") as bar:
            for a in range(0, max(B, 1), chunk_size):
                b = min(B, a + chunk_size)
                Qc = Q[a:b]
                ex = None if exclude is None else exclude[a:b]
                raw = core.solve(self._ps, Qc, subset, ex, rtol=rtol, early_exit=early_exit,
                                 max_passes=int(max_passes), pool=int(pool), block=int(block), threads=th)
                parts.append(DistanceResult(
                    status=STATUS_NAMES[raw["status"].astype(np.intp)], distance=raw["distance"],
                    lower=raw["lower"], converged=raw["converged"].astype(bool), nearest=raw["nearest"],
                    indptr=raw["indptr"], indices=raw["indices"], values=raw["values"], normal=raw["normal"],
                    offset=raw["offset"], margin=raw["margin"], nn_distance=raw["nn_distance"],
                    nn_index=raw["nn_index"], tol=raw["tol"], scale=raw["scale"], passes=raw["passes"],
                    iterations=raw["iterations"], rtol=rtol, method=desc, X=self._X, Q=Qc, subset=subset,
                    exclude=ex))
                bar.update(b - a)
        res = DistanceResult.concatenate(parts)
        unc = res.status == "unconverged"
        # distance() promises converged distances: a certified verdict with an unconverged distance
        # is reported too (contains() stops early on purpose, so only its verdicts count there)
        loose = (~res.converged & ~unc) if not early_exit else np.zeros(B, dtype=bool)
        if unc.any() or loose.any():
            limit = res.passes >= max_passes
            why = (f"{int(np.sum(limit & (unc | loose)))} reached max_passes={max_passes}; the others hit the "
                   "Wolfe iteration limit or stalled at the rounding floor of float64")
            msg = (f"{int(unc.sum() + loose.sum())} of {B} queries did not converge: {int(unc.sum())} are "
                   f"'unconverged' (no certified verdict; distance and .lower "
                   f"bracket the truth) and {int(loose.sum())} have a certified verdict but an unconverged distance "
                   f"(bracketed by .lower and .distance): {why}")
            log.warning(msg)
            warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        return res

    def _distributed(self, method, Q, subset, exclude, client, out, threads, progress, rtol, max_passes, pool,
                     block, chunk_size, dask_options):
        if client is None:
            raise ValueError("client: checkpointing (out=) and Dask options run on a Dask cluster; pass "
                             "client=dask.distributed.Client(...) or use hullscope.distributed.local_client()")
        from .distributed import run_hull

        return run_hull(self._X, Q, method=method, client=client, out=out, subset=subset, exclude=exclude,
                        chunk_size=chunk_size, threads_per_task=threads, progress=progress, rtol=rtol,
                        max_passes=max_passes, pool=pool, block=block, **dask_options)

    # ---- public queries -----------------------------------------------------------------------
    def distance(self, Q: Any, *, subset: Any = None, threads: Optional[int] = None, progress: bool = False,
                 rtol: float = 1e-9, max_passes: int = 1000, pool: int = 64, block: int = 0,
                 chunk_size: Optional[int] = None, client: Any = None, out: Optional[str] = None,
                 **dask_options: Any) -> DistanceResult:
        """Euclidean distance from each query to conv(X), with the nearest point and certificates.

        Parameters
        ----------
        Q : array-like, shape (B, d) or (d,)
            Queries, in the units of X.
        subset : bool mask (n,) or int indices, optional
            Use the hull of these rows only (e.g. one class); X is not copied. Returned row indices
            always refer to rows of X.
        threads : int, optional
            OpenMP threads (default: all cores, or ``OMP_NUM_THREADS``). Results are bitwise
            identical for any thread count and any ``chunk_size``.
        progress : bool
            Show a tqdm progress bar over queries.
        rtol : float
            Tolerance relative to each query's scale ``max_j ||x_j - q||``.
        max_passes : int
            Limit on full passes over X per query; hitting it gives status 'unconverged' and a warning.
        pool : int
            Candidate rows taken per pass (column generation width).
        block : int
            Queries priced together in one pass (0: automatic, 32 for d <= 1024 else 16).
        chunk_size : int, optional
            Queries per call into the core (affects only progress reporting granularity), or per
            Dask task when ``client`` is given.
        client : dask.distributed.Client, optional
            Run the chunks on this Dask cluster (see :mod:`hullscope.distributed`); ``threads`` is
            then the thread count of each task.
        out : path, optional
            With ``client``: checkpoint folder; a rerun resumes from it.
        **dask_options
            With ``client``: ``shared_path``, ``retries``, ``on_chunk_done``, ``return_report``.

        Returns
        -------
        DistanceResult
        """
        if client is not None or out is not None or dask_options:
            return self._distributed("distance", Q, subset, None, client, out, threads, progress, rtol, max_passes,
                                     pool, block, chunk_size, dask_options)
        Qm = as_matrix(Q, "Q", d=self.d, allow_vector=True)
        return self._run(Qm, subset=self._subset(subset), exclude=None, early_exit=False, threads=threads,
                         progress=progress, rtol=rtol, max_passes=max_passes, pool=pool, block=block,
                         chunk_size=chunk_size, desc="distance")

    def contains(self, Q: Any, *, subset: Any = None, threads: Optional[int] = None, progress: bool = False,
                 rtol: float = 1e-9, max_passes: int = 1000, pool: int = 64, block: int = 0,
                 chunk_size: Optional[int] = None, client: Any = None, out: Optional[str] = None,
                 **dask_options: Any) -> MembershipResult:
        """Certified membership of each query in conv(X).

        Same engine and arguments as :meth:`distance`, but each query stops as soon as its verdict is
        certified: an inside query once its convex weights reproduce it within ``tol``, an outside
        query once a hyperplane separates it by more than ``tol``. Distances of early-stopped outside
        queries are bounds (``lower <= true distance <= distance``; ``converged`` is False).
        ``client``/``out`` run it on a Dask cluster, as in :meth:`distance`.
        """
        if client is not None or out is not None or dask_options:
            return self._distributed("contains", Q, subset, None, client, out, threads, progress, rtol, max_passes,
                                     pool, block, chunk_size, dask_options)
        Qm = as_matrix(Q, "Q", d=self.d, allow_vector=True)
        return self._run(Qm, subset=self._subset(subset), exclude=None, early_exit=True, threads=threads,
                         progress=progress, rtol=rtol, max_passes=max_passes, pool=pool, block=block,
                         chunk_size=chunk_size, desc="contains")

    def leave_one_out(self, indices: Any = None, *, subset: Any = None, exact_distance: bool = False,
                      threads: Optional[int] = None, progress: bool = False, rtol: float = 1e-9,
                      max_passes: int = 1000, pool: int = 64, block: int = 0,
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
        sub = self._subset(subset)
        pool_rows = sub if sub is not None else np.arange(self.n, dtype=np.int64)
        if pool_rows.size < 2:
            raise ValueError("leave_one_out: needs at least 2 rows in the hull (removing one must leave one)")
        if indices is None:
            idx = pool_rows
        else:
            idx = to_numpy(indices, "indices")
            if not np.issubdtype(idx.dtype, np.integer) or idx.ndim != 1:
                raise TypeError(f"indices: expected a 1-D integer array of rows, got dtype {idx.dtype}, "
                                f"shape {idx.shape}")
            if idx.size == 0:
                raise ValueError("indices: is empty")
            if not np.isin(idx, pool_rows).all():
                raise ValueError("indices: every row must belong to the hull (the subset when one is given)")
            idx = np.ascontiguousarray(idx, dtype=np.int64)
        if client is not None or out is not None or dask_options:
            return self._distributed("distance" if exact_distance else "contains", self._X[idx], sub, idx, client,
                                     out, threads, progress, rtol, max_passes, pool, block, chunk_size, dask_options)
        Qm = np.ascontiguousarray(self._X[idx])
        return self._run(Qm, subset=sub, exclude=idx, early_exit=not exact_distance, threads=threads,
                         progress=progress, rtol=rtol, max_passes=max_passes, pool=pool, block=block,
                         chunk_size=chunk_size, desc="leave_one_out")
