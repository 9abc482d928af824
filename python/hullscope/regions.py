"""Decision regions of a linear last layer (pure numpy/scipy stopgap).

For logits ``z = W f + b`` the region of class ``j`` is the polyhedron
``R_j = {f : (w_i - w_j).f + (b_i - b_j) <= 0 for all i != j}``.

This module currently provides the closed-form certified radius in R^d and
Chebyshev balls of regions intersected with a box, solved with scipy HiGHS.
It also gives facet/adjacency tests (HiGHS LPs) and exact segment class
sequences. The C++ LP engine described in issue 3 is NOT written yet.

Identical classes (duplicate rows of ``(W, b)``): their difference row is
zero, so ties are never strictly resolved; such a pair is ignored when the
rows coincide exactly (the two regions coincide), see ``LinearRegions``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ._validation import as_matrix, as_vector

logger = logging.getLogger(__name__)

__all__ = ["LinearRegions", "ChebyshevBall"]


@dataclass(frozen=True)
class ChebyshevBall:
    """Largest ball inside ``R_j`` intersected with the box domain.

    Attributes
    ----------
    cls : int
        Class index ``j``.
    center : ndarray, shape (d,)
    radius : float
        Euclidean radius (``-inf``-free: 0 when the region has empty interior,
        ``nan`` when the region is empty).
    """

    cls: int
    center: np.ndarray
    radius: float


class LinearRegions:
    """Partition of feature space by ``argmax(W f + b)``.

    Parameters
    ----------
    W : array_like, shape (K, d)
    b : array_like, shape (K,)
    domain : None or tuple (lo, hi) of arrays/scalars, optional
        Box domain; ``None`` means R^d.
    """

    def __init__(self, W: Any, b: Any, domain: Optional[Any] = None) -> None:
        self.W = as_matrix(W, "W")
        K, d = self.W.shape
        if K < 2:
            raise ValueError(f"W: need at least 2 classes (rows), got {K}")
        self.b = as_vector(b, "b", n=K)
        self.K, self.d = K, d
        self.box = None
        if domain is not None:
            lo, hi = domain
            lo = np.broadcast_to(np.asarray(lo, dtype=float), (d,)).copy()
            hi = np.broadcast_to(np.asarray(hi, dtype=float), (d,)).copy()
            if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
                raise ValueError("domain: box bounds must be finite")
            if np.any(lo > hi):
                raise ValueError("domain: box has lo > hi (empty domain)")
            self.box = (lo, hi)

    def _check_class(self, j: int) -> int:
        if not (0 <= int(j) < self.K):
            raise ValueError(f"class index {j} out of range [0, {self.K})")
        return int(j)

    def halfspaces(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``A, beta`` with ``R_j = {f : A f + beta <= 0}`` (zero rows dropped)."""
        j = self._check_class(j)
        idx = np.array([i for i in range(self.K) if i != j])
        A = self.W[idx] - self.W[j]
        beta = self.b[idx] - self.b[j]
        keep = np.linalg.norm(A, axis=1) > 0
        return A[keep], beta[keep]

    def predict(self, F: Any) -> np.ndarray:
        """Class of each row of ``F`` (shape (n, d)); ties go to the lowest index."""
        F = as_matrix(F, "F", d=self.d)
        return np.argmax(F @ self.W.T + self.b, axis=1)

    def certified_radius(self, F: Any) -> np.ndarray:
        """Distance from each point to the boundary of its region in R^d.

        ``min_{i != j} (z_j - z_i) / ||w_j - w_i||`` (closed form; ``inf`` if
        every other class has identical weights and lower bias).
        """
        F = as_matrix(F, "F", d=self.d)
        Z = F @ self.W.T + self.b
        pred = np.argmax(Z, axis=1)
        out = np.empty(len(F))
        for n, j in enumerate(pred):
            diff = np.linalg.norm(self.W - self.W[j], axis=1)
            gap = Z[n, j] - Z[n]
            m = np.arange(self.K) != j
            with np.errstate(divide="ignore"):
                r = np.where(diff[m] > 0, gap[m] / np.where(diff[m] > 0, diff[m], 1), np.inf)
            out[n] = r.min()
        return out

    def chebyshev_ball(self, j: int) -> ChebyshevBall:
        """Chebyshev ball of ``R_j`` within the box domain (requires a box)."""
        from scipy.optimize import linprog

        if self.box is None:
            raise ValueError("domain: chebyshev_ball needs a box domain (R^d regions may be unbounded)")
        A, beta = self.halfspaces(j)
        lo, hi = self.box
        d = self.d
        I = np.eye(d)
        G = np.vstack([A, I, -I])
        h = np.concatenate([-beta, hi, -lo])
        norms = np.linalg.norm(G, axis=1)
        c = np.zeros(d + 1)
        c[-1] = -1.0
        res = linprog(c, A_ub=np.hstack([G, norms[:, None]]), b_ub=h,
                      bounds=[(None, None)] * d + [(0, None)], method="highs")
        if res.status == 2:
            return ChebyshevBall(j, np.full(d, np.nan), float("nan"))
        if res.status != 0:
            raise RuntimeError(f"Chebyshev LP failed: {res.message}")
        return ChebyshevBall(j, res.x[:d].copy(), float(res.x[-1]))

    def is_facet(self, j: int, i: int, tol: float = 1e-9) -> bool:
        """Whether ``R_j`` (within the box, if any) shares a facet with ``R_i``.

        Row ``i`` of ``R_j`` is irredundant iff maximising ``(w_i - w_j).f + b_i - b_j``
        over the other constraints (and the box) exceeds 0, and ``R_j`` has interior.
        """
        from scipy.optimize import linprog

        j, i = self._check_class(j), self._check_class(i)
        if i == j:
            raise ValueError("i and j must differ")
        a = self.W[i] - self.W[j]
        beta = self.b[i] - self.b[j]
        if not np.any(a):
            return False
        # classes identical to i share its region: their rows duplicate row i
        others = [k for k in range(self.K) if k not in (i, j)
                  and not (np.array_equal(self.W[k], self.W[i]) and self.b[k] == self.b[i])]
        A = self.W[others] - self.W[j]
        h = -(self.b[others] - self.b[j])
        bounds = [(None, None)] * self.d if self.box is None else list(zip(*self.box))
        # can row i be violated while the other rows hold? (otherwise it is redundant)
        res = linprog(-a, A_ub=A if len(others) else None, b_ub=h if len(others) else None,
                      bounds=bounds, method="highs")
        if res.status == 2:
            return False
        if res.status == 3:
            val = np.inf
        elif res.status == 0:
            val = -res.fun + beta
        else:
            raise RuntimeError(f"facet LP failed: {res.message}")
        if val <= tol:
            return False
        # the face must have relative interior: Chebyshev ball of {a.f+beta=0} within the others
        G = np.vstack([A, np.eye(self.d), -np.eye(self.d)]) if self.box is not None else A
        hh = np.concatenate([h, self.box[1], -self.box[0]]) if self.box is not None else h
        if len(G) == 0:
            return True
        P = G - np.outer(G @ a, a) / (a @ a)
        norms = np.linalg.norm(P, axis=1)
        c = np.zeros(self.d + 1)
        c[-1] = -1.0
        res2 = linprog(c, A_ub=np.hstack([G, norms[:, None]]), b_ub=hh,
                       A_eq=np.append(a, 0.0)[None], b_eq=[-beta],
                       bounds=[(None, None)] * self.d + [(0, 1.0)], method="highs")
        return res2.status == 0 and -res2.fun > tol

    def adjacency(self) -> np.ndarray:
        """Boolean (K, K) matrix: ``R_i`` and ``R_j`` share a (d-1)-dimensional face."""
        M = np.zeros((self.K, self.K), dtype=bool)
        for j in range(self.K):
            for i in range(j + 1, self.K):
                M[i, j] = M[j, i] = self.is_facet(j, i)
        return M

    def segment(self, p: Any, q: Any) -> tuple[np.ndarray, np.ndarray]:
        """Exact class sequence along ``p + t (q - p)``, ``t`` in [0, 1].

        Returns ``classes`` (m,) and breakpoints ``t`` (m-1,) (ties to lowest index).
        """
        p = as_vector(p, "p", n=self.d)
        q = as_vector(q, "q", n=self.d)
        alpha = self.W @ p + self.b
        gamma = self.W @ (q - p)
        t = 0.0
        # at t=0 break ties toward the class that grows fastest
        top = np.flatnonzero(alpha == alpha.max())
        c = int(top[np.argmax(gamma[top])])
        classes, breaks = [c], []
        while True:
            up = gamma > gamma[c]
            if not np.any(up):
                break
            tk = np.full(self.K, np.inf)
            tk[up] = (alpha[c] - alpha[up]) / (gamma[up] - gamma[c])
            tk[tk < t] = np.inf
            tn = tk.min()
            if not tn < 1.0:
                break
            cand = np.flatnonzero(tk == tn)
            c = int(cand[np.argmax(gamma[cand])])
            t = float(tn)
            classes.append(c)
            breaks.append(t)
        return np.array(classes), np.array(breaks)

    def certify(self, j: int, *, box: Optional[Any] = None, ball: Optional[Any] = None,
                points: Optional[Any] = None) -> bool:
        """Whether a whole set lies in ``R_j`` (closed forms; exactly one set kind).

        ``box=(lo, hi)``: ``max_box a_i.f = a_i.mid + |a_i|.half``; ``ball=(center, r)``:
        ``a_i.c + beta_i + r ||a_i|| <= 0``; ``points`` (n, d): every point (hence
        their convex hull, regions being convex) lies in ``R_j``.
        """
        j = self._check_class(j)
        if sum(x is not None for x in (box, ball, points)) != 1:
            raise ValueError("certify: give exactly one of box, ball, points")
        A, beta = self.halfspaces(j)
        if box is not None:
            lo = as_vector(np.broadcast_to(np.asarray(box[0], float), (self.d,)), "box[0]")
            hi = as_vector(np.broadcast_to(np.asarray(box[1], float), (self.d,)), "box[1]")
            if np.any(lo > hi):
                raise ValueError("box: lo > hi")
            worst = A @ ((lo + hi) / 2) + np.abs(A) @ ((hi - lo) / 2) + beta
        elif ball is not None:
            c = as_vector(ball[0], "ball center", n=self.d)
            r = float(ball[1])
            if not (np.isfinite(r) and r >= 0):
                raise ValueError("ball radius must be finite and >= 0")
            worst = A @ c + beta + r * np.linalg.norm(A, axis=1)
        else:
            P = as_matrix(points, "points", d=self.d)
            worst = (P @ A.T + beta).max(axis=0) if len(A) else np.zeros(0)
        return bool(np.all(worst <= 0))
