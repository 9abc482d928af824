"""Hull-aware questions: where training hulls and decision regions meet.

* :func:`hull_meets_region` -- does conv(P) meet ``R_j``? One LP over the convex weights of P,
  ``max t`` subject to ``(A P^T) lam + ||a|| t <= g``, ``lam`` in the simplex. Its optimum is the
  *depth* of conv(P) in ``R_j``: the largest distance (feature units) from the region's boundary
  hyperplanes that a point of the hull reaches. Depth >= 0 means they meet (the convex weights are
  the certificate); depth < 0 means they are disjoint (the LP multipliers are the certificate).
* :func:`outside_hull_but_certified` -- test features that lie outside conv(F_train) (decided
  exactly by the hull engine) yet sit in a ball that is certified to be one class.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .._verification import Checks, Verification

from .._validation import as_matrix
from .results import logit_tol, lp_upper_bound

__all__ = ["HullRegionMeeting", "hull_meets_region", "OutsideButCertified", "outside_hull_but_certified"]


@dataclass(frozen=True)
class HullRegionMeeting:
    """Answer of :func:`hull_meets_region`.

    Attributes
    ----------
    cls : int
        The region's class j.
    meets : bool
    depth : float
        ``max over conv(P) of min_k (g_k - a_k f) / ||a_k||`` (feature units; >= 0 iff they meet).
    weights : ndarray (n,)
        Convex weights of the deepest point (>= 0, summing to 1).
    point : ndarray (d,)
        ``P.T @ weights``.
    y : ndarray (m + 2,)
        LP multipliers (class rows, then the two rows of sum(weights) = 1): they bound the depth.
    """

    cls: int
    meets: bool
    depth: float
    weights: np.ndarray
    point: np.ndarray
    y: np.ndarray
    t_cap: float
    P: np.ndarray = field(repr=False)
    _model: object = field(repr=False, compare=False, default=None)

    def verify(self, rtol: float = 1e-7) -> Verification:
        ck = Checks()
        m = self._model
        A, g, _ = m.halfspaces(self.cls)
        nrm = np.linalg.norm(A, axis=1)
        tol = logit_tol(m, rtol)
        lam = self.weights
        ck(np.all(lam >= 0) and abs(lam.sum() - 1) <= 1e-9, "weights are not convex")
        x = self.P.T @ lam
        ck(np.allclose(x, self.point, atol=tol), "point is not P.T @ weights")
        if self.meets:
            ck(np.all(A @ x - g <= tol * (1 + nrm)), "the hull point is not in the region")
            return ck.done()
        M, c, lo, hi, rhs = _depth_lp(self.P, A, g, self.t_cap)
        bound = lp_upper_bound(c, M, rhs, self.y, lo, hi)
        ck(bound < -tol, f"dual bound {bound} does not prove the hull misses the region")
        return ck.done()


def _depth_lp(P: np.ndarray, A: np.ndarray, g: np.ndarray, t_cap: float):
    n = len(P)
    nrm = np.linalg.norm(A, axis=1)
    M = np.zeros((len(A) + 2, n + 1))
    M[:len(A), :n] = A @ P.T
    M[:len(A), n] = nrm
    M[len(A), :n] = 1.0
    M[len(A) + 1, :n] = -1.0
    rhs = np.concatenate([g, [1.0, -1.0]])
    c = np.zeros(n + 1)
    c[n] = 1.0
    lo = np.concatenate([np.zeros(n), [-t_cap]])
    hi = np.concatenate([np.full(n, np.inf), [t_cap]])
    return M, c, lo, hi, rhs


def hull_meets_region(reg: Any, points: Any, j: int) -> HullRegionMeeting:
    """Does conv(points) meet the region of class j (ignoring the model's domain)?

    Parameters
    ----------
    reg : LinearRegions
    points : array_like (n, d), or None for the hull domain's own training features
        E.g. the training features of one class, to ask whether they can be convexly combined into
        a point that the model assigns to class j.
    j : int
    """
    from .. import _core

    j = reg.class_index(j, "j")
    if points is None:
        if reg.hull is None:
            raise ValueError("points: give the points (n, d), or build LinearRegions with a hull domain")
        P = reg.hull.X
    else:
        P = as_matrix(points, "points", d=reg.d)
    A, g, _ = reg.halfspaces(j)
    t_cap = 10.0 * (1.0 + float(np.abs(P).max())) * (1.0 + float(np.abs(g).max() if len(g) else 0.0))
    M, c, lo, hi, rhs = _depth_lp(P, A, g, t_cap)
    r = _core.lp_solve(np.ascontiguousarray(M), rhs, c, lo, hi)
    if r["status"] != _core.LPStatus.optimal:
        raise RuntimeError(f"hull_meets_region: depth LP ended with status {r['status']}")
    lam = np.clip(r["x"][:-1], 0, None)
    lam /= lam.sum()
    depth = float(r["x"][-1])
    return HullRegionMeeting(j, depth >= 0, depth, lam, P.T @ lam, r["y"], t_cap, P, reg)


@dataclass(frozen=True)
class OutsideButCertified:
    """Test features outside conv(F_train) whose class is nevertheless certified.

    Attributes
    ----------
    outside : ndarray (N,) bool
        Exact verdict of the hull engine (boundary counts as outside).
    hull_distance : ndarray (N,)
        Distance to conv(F_train) (feature units; 0 inside).
    radius : ndarray (N,)
        Certified radius in R^d (closed form): the ball of this radius is entirely one class.
    certified : ndarray (N,) bool
        ``radius > threshold``.
    both : ndarray (N,) bool
        Outside the hull and certified: the model extrapolates there, yet robustly.
    """

    outside: np.ndarray
    hull_distance: np.ndarray
    radius: np.ndarray
    certified: np.ndarray
    both: np.ndarray
    threshold: float

    def summary(self) -> dict:
        n = len(self.outside)
        return {"n": n, "outside": int(self.outside.sum()), "certified": int(self.certified.sum()),
                "outside_and_certified": int(self.both.sum()),
                "share_outside_certified": float(self.both.sum() / max(1, self.outside.sum()))}


def outside_hull_but_certified(reg: Any, F_test: Any, *, radius: float = 0.0, hull: Optional[Any] = None,
                               F_train: Optional[Any] = None, threads: Optional[int] = None) -> OutsideButCertified:
    """Which test features fall outside conv(F_train) but inside a certified ball of their class.

    Parameters
    ----------
    reg : LinearRegions
    F_test : array_like (N, d)
    radius : float
        Certification threshold (feature units): a point counts as certified when every point within
        this distance has its class (``radius=0``: strictly inside its region).
    hull, F_train : Hull or (n, d) array, optional
        The training hull (defaults to the regions' hull domain).
    """
    from ..hull import Hull

    if not (np.isfinite(radius) and radius >= 0):
        raise ValueError(f"radius: expected a finite number >= 0, got {radius!r}")
    H = hull if hull is not None else (Hull(F_train) if F_train is not None else reg.hull)
    if H is None:
        raise ValueError("hull: give hull= or F_train=, or build LinearRegions with a hull domain")
    F = as_matrix(F_test, "F_test", d=reg.d, allow_vector=True)
    res = H.distance(F, threads=threads)
    outside = res.status != "inside"
    free = type(reg)(reg.W, reg.b, threads=threads)  # the same regions without a domain
    rad = free.certified_radius(F).radius
    cert = rad > radius
    return OutsideButCertified(outside, np.where(outside, res.distance, 0.0), rad, cert, outside & cert, radius)
