"""Results of the hull engine: :class:`DistanceResult`, its field list, assembly and checks."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._validation import check_int
from .._verification import Verification

__all__ = ["DistanceResult", "MembershipResult", "STATUS_NAMES", "RESULT_FIELDS"]

#: The per-query arrays of a result, as the core returns them and as checkpoints store them.
RESULT_FIELDS = ("status", "distance", "lower", "converged", "nearest", "indptr", "indices", "values", "normal",
                 "offset", "margin", "nn_distance", "nn_index", "tol", "scale", "passes", "iterations")

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
        Full passes over X and Wolfe major iterations spent on each query (a major iteration
        enters up to four rows into the corral at once).
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
        out = {str(s): int(np.sum(self.status == s)) for s in STATUS_NAMES}
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
            # row blocks small enough that neither the block of X nor its products with every
            # hyperplane (rows x planes) exceed 4M entries, however many queries there are
            step = max(1, (1 << 22) // max(1, X.shape[1], planes.size))
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
            if p.X is not first.X and not (p.X.shape == first.X.shape and np.may_share_memory(p.X, first.X)):
                raise ValueError(f"parts: result {k} refers to another point set than result 0; only chunks of "
                                 "the same hull can be joined")
            if not same_subset or p.rtol != first.rtol or p.method != first.method \
                    or (p.exclude is None) != (first.exclude is None):
                raise ValueError(f"parts: result {k} was computed with other options (subset, rtol, method or "
                                 "leave-one-out) than result 0")
        if len(parts) == 1:
            return first
        return cls.from_arrays([p.to_dict() for p in parts], X=first.X, Q=np.concatenate([p.Q for p in parts]),
                               subset=first.subset, method=first.method, rtol=first.rtol,
                               exclude=None if first.exclude is None else np.concatenate([p.exclude for p in parts]))

    @classmethod
    def from_arrays(cls, parts: Sequence[Dict[str, np.ndarray]], *, X: np.ndarray, Q: np.ndarray,
                    subset: Optional[np.ndarray], method: str, rtol: float,
                    exclude: Optional[np.ndarray] = None) -> "DistanceResult":
        """One result from the per-query arrays of consecutive chunks (the core's dicts, or checkpoints).

        ``status`` may be the core's integer codes or names; CSR offsets are re-based chunk by chunk.
        """
        if not parts:
            raise ValueError("parts: expected at least one chunk of arrays")
        missing = [k for k in RESULT_FIELDS if k not in parts[0]]
        if missing:
            raise ValueError(f"parts: chunk arrays lack {missing}")
        offs = np.cumsum([0] + [int(p["indptr"][-1]) for p in parts[:-1]])
        indptr = np.concatenate([parts[0]["indptr"][:1]] + [p["indptr"][1:] + o for p, o in zip(parts, offs)])
        cat = {k: np.concatenate([p[k] for p in parts]) for k in RESULT_FIELDS if k != "indptr"}
        status = cat.pop("status")
        if status.dtype.kind != "U":
            status = STATUS_NAMES[status.astype(np.intp)]
        cat["converged"] = cat["converged"].astype(bool)
        return cls(status=status, indptr=indptr, rtol=rtol, method=method, X=X, Q=Q, subset=subset,
                   exclude=exclude, **cat)

    def records(self) -> List[dict]:
        """One plain dict per query (a tidy table): index, status, distance, lower, converged,
        nn_distance, nn_index, hull/NN ratio, support size, margin, tol, passes."""
        out = []
        for i in range(len(self)):
            nn = float(self.nn_distance[i])
            out.append({"index": i, "status": str(self.status[i]), "distance": float(self.distance[i]),
                        "lower": float(self.lower[i]), "converged": bool(self.converged[i]),
                        "nn_distance": nn, "nn_index": int(self.nn_index[i]),
                        "hull_over_nn": float(self.distance[i]) / nn if nn > 0 else float("nan"),
                        "support_size": int(self.indptr[i + 1] - self.indptr[i]),
                        "margin": float(self.margin[i]), "tol": float(self.tol[i]), "passes": int(self.passes[i])})
        return out

    def to_frame(self):
        """:meth:`records` as a pandas DataFrame (pandas is optional: ImportError with the install line)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("to_frame needs pandas (pip install pandas); records() gives the same rows "
                              "as dicts") from exc
        return pd.DataFrame.from_records(self.records())

    def to_dict(self) -> dict:
        """The core's arrays (:data:`RESULT_FIELDS`) as a dict, for ``np.savez`` checkpoints: per-query arrays
        of length B plus the CSR weights (``indptr`` B + 1, ``indices``/``values`` one entry per support
        row). For a per-query table use :meth:`records` or :meth:`to_frame`."""
        return {k: getattr(self, k) for k in RESULT_FIELDS}


#: :meth:`Hull.contains` returns the same type; the name documents intent.
MembershipResult = DistanceResult
