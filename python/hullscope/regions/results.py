"""Result objects of :mod:`hullscope.regions`, each with a ``verify()`` written in plain numpy.

The verifiers re-derive every claim from the model ``(W, b)``, the box domain ``lo <= f <= hi`` and
the certificate alone; they never call the compiled core. Tolerances are relative to the data's
scale (``scale`` below: the largest finite box bound or point coordinate, at least 1).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .._verification import Checks, Verification

__all__ = ["ChebyshevBall", "FacetSet", "Adjacency", "FacetConstruction", "RadiusResult", "ProjectionResult",
           "Certification", "VolumeShare", "Segment", "lp_upper_bound", "farkas_gap"]


def _rows(W: np.ndarray, b: np.ndarray, c: int):
    """All K rows a_k = w_k - w_c, g_k = b_c - b_k (row c is zero)."""
    return W - W[c], b[c] - b


def _zero_small(v: np.ndarray, y: np.ndarray, A: np.ndarray, rtol: float) -> np.ndarray:
    """Round-off in ``A^T y`` (relative to ``|y|_1 max|A|``) counts as zero on unbounded sides."""
    tol = rtol * (1.0 + float(np.abs(y).sum()) * (float(np.abs(A).max()) if A.size else 0.0))
    return np.where(np.abs(v) <= tol, 0.0, v)


def lp_upper_bound(c: np.ndarray, A: np.ndarray, g: np.ndarray, y: np.ndarray, lo: np.ndarray,
                   hi: np.ndarray, rtol: float = 1e-9) -> float:
    """Weak-duality bound on max c^T x s.t. A x <= g, lo <= x <= hi, from multipliers y >= 0.

    ``g^T y + sum_i sup_{lo_i <= x_i <= hi_i} r_i x_i`` with ``r = c - A^T y``; a reduced cost on an
    unbounded side makes the bound +inf, so a wrong certificate can never prove too much.
    """
    if np.any(y < 0):
        return np.inf
    r = _zero_small(c - A.T @ y, y, A, rtol)
    with np.errstate(invalid="ignore"):
        terms = np.where(r > 0, r * hi, np.where(r < 0, r * lo, 0.0))
    terms = np.where(np.isnan(terms), np.inf, terms)
    return float(g @ y + terms.sum())


def farkas_gap(A: np.ndarray, g: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               rtol: float = 1e-9) -> float:
    """``inf_{lo <= x <= hi} (A^T y)^T x - g^T y``: positive means {A x <= g, lo <= x <= hi} is empty."""
    if np.any(y < 0):
        return -np.inf
    v = _zero_small(A.T @ y, y, A, rtol)
    with np.errstate(invalid="ignore"):
        terms = np.where(v > 0, v * lo, np.where(v < 0, v * hi, 0.0))
    terms = np.where(np.isnan(terms), -np.inf, terms)
    return float(terms.sum() - g @ y)


def logit_tol(m, rtol: float, scale: Optional[float] = None) -> float:
    """Tolerance on logits and row values: ``rtol`` x the feature scale x (1 + max |W|)."""
    return rtol * (m.scale if scale is None else scale) * (1 + float(np.abs(m.W).max()))


def _in_box(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, tol: float) -> bool:
    return bool(np.all(x >= lo - tol) and np.all(x <= hi + tol))


@dataclass(frozen=True)
class ChebyshevBall:
    """Largest Euclidean ball inside ``R_c`` intersected with the box domain.

    Attributes
    ----------
    cls : int
    status : {"full", "flat", "empty", "unbounded", "unconverged"}
        ``full``: radius > 0; ``flat``: the region is non-empty but lower-dimensional (radius 0);
        ``empty``: no point of the domain is classified c; ``unbounded``: balls of any radius fit.
    center : ndarray (d,)
        Ball centre in feature units (NaN when empty).
    radius : float
        In feature units (inf when unbounded, NaN when empty).
    y : ndarray (K,)
        Class-row multipliers: the dual certificate of optimality, or Farkas multipliers when empty.
    p, q : ndarray (d,)
        Multipliers of ``f + r <= hi`` and ``-f + r <= -lo``.
    iterations : int
        Simplex pivots.
    """

    cls: int
    status: str
    center: np.ndarray
    radius: float
    y: np.ndarray
    p: np.ndarray
    q: np.ndarray
    iterations: int
    _model: object = field(repr=False, compare=False, default=None)

    @property
    def nonempty(self) -> bool:
        return self.status in ("full", "flat", "unbounded")

    def verify(self, rtol: float = 1e-7) -> Verification:
        ck = Checks()
        """Check the certificate in numpy; a :class:`~hullscope.Verification` (falsy, with reasons, when it fails)."""
        m = self._model
        W, b, lo, hi = m.W, m.b, m.lo, m.hi
        A, g = _rows(W, b, self.cls)
        nrm = np.linalg.norm(A, axis=1)
        tol = rtol * m.scale
        if self.status == "empty":
            gap = farkas_gap(A, g, self.y, lo, hi)
            ck(gap > tol * max(1.0, float(np.abs(self.y).sum())), f"Farkas certificate fails (gap {gap})")
            return ck.done()
        free = getattr(m, "free", np.ones(len(self.center), dtype=bool))
        x, r = self.center[free], (0.0 if self.status == "unbounded" else self.radius)
        if self.status == "unbounded":
            # the reported centre carries a ball of positive radius: check it strictly inside
            slack = np.min(np.concatenate([(g - A @ x)[nrm > 0] / nrm[nrm > 0], x - lo, hi - x]))
            ck(slack > 0, "centre of an unbounded region is not interior")
            return ck.done()
        viol = A @ x + nrm * r - g
        ck(np.all(viol <= tol * (1 + nrm)), f"ball leaves the region by {viol.max()}")
        ck(_in_box(x, lo + r, hi - r, tol), "ball leaves the box domain")
        if self.status == "unconverged":
            return ck.done()
        # dual: y, p, q >= 0; A^T y + p - q = 0; sum ||a|| y + sum p + sum q >= 1; bound = radius
        y, p, q = self.y, self.p[free], self.q[free]
        ck(np.all(y >= 0) and np.all(p >= 0) and np.all(q >= 0), "negative multipliers")
        ck(np.all(p[~np.isfinite(hi)] == 0) and np.all(q[~np.isfinite(lo)] == 0), "multiplier on a missing bound")
        stat = A.T @ y + p - q
        weight = nrm @ y + p.sum() + q.sum()
        ck(np.abs(stat).max() <= 1e-6 * max(1.0, weight) * (1 + np.abs(W).max()), "dual stationarity fails")
        ck(weight >= 1 - 1e-6, "dual normalisation fails")
        bound = g @ y + np.where(p > 0, hi, 0) @ p - np.where(q > 0, lo, 0) @ q
        # the bound holds for any primal (x, r) up to the stationarity residual times |x|
        slop = np.abs(stat).max() * (np.abs(x).sum() + 1)
        ck(bound / weight <= r + tol + slop, f"dual bound {bound / weight} exceeds radius {r}")
        return ck.done()

    def __repr__(self) -> str:
        return f"ChebyshevBall(class {self.cls}: {self.status}, radius {self.radius:.4g})"

    def as_ellipsoid(self) -> tuple:
        """The ball as ``(center, L)`` for ``certify(c, ellipsoid=...)``, within the domain's affine hull.

        Features fixed by the box (``lo == hi``, e.g. dead ReLU units) hold their value inside the
        domain, so the Chebyshev ball lives in the free coordinates; a full-dimensional ``ball=`` of
        the same radius leaves the domain along the fixed ones and need not be one class there.
        """
        free = getattr(self._model, "free", np.ones(len(self.center), dtype=bool))
        L = np.zeros((len(self.center), int(free.sum())))
        L[np.flatnonzero(free), np.arange(int(free.sum()))] = self.radius
        return self.center, L



@dataclass(frozen=True)
class FacetSet:
    """Which rows of ``R_c`` are facets (within the domain), each with its certificate.

    Attributes
    ----------
    cls : int
    classes : ndarray (K-1,)
        The neighbouring class ``j`` of each row.
    is_facet : ndarray (K-1,) bool
    status : ndarray (K-1,) str
        'facet', 'not_facet', 'not_tested' (region not full-dimensional), 'unconverged'.
    margin : ndarray (K-1,)
        ``max (a_j f - g_j) / ||a_j||`` over ``R_c`` without row j (feature units). For facets found by
        the walk shortcut it is a certified positive lower bound; ``exact=True`` solves every LP.
    points : ndarray (K-1, d)
        For facets, a point of the common facet with ``z_c = z_j`` strictly above every other logit.
    duals : ndarray (K-1, K)
        For non-facets, class multipliers proving ``a_j f <= g_j`` on the rest of ``R_c``.
    """

    cls: int
    classes: np.ndarray
    is_facet: np.ndarray
    status: np.ndarray
    margin: np.ndarray
    points: np.ndarray
    duals: np.ndarray
    lps: int
    shortcuts: int
    _model: object = field(repr=False, compare=False, default=None)

    def verify(self, rtol: float = 1e-7) -> Verification:
        ck = Checks()
        m = self._model
        for t, j in enumerate(self.classes):
            if self.status[t] == "facet":
                _check_facet_point(ck, m, self.cls, int(j), self.points[t], rtol)
            elif self.status[t] == "not_facet":
                _check_nonfacet(ck, m, self.cls, int(j), self.duals[t], rtol)
        return ck.done(len(self.classes))

    def __repr__(self) -> str:
        return (f"FacetSet(class {self.cls}: {int(np.sum(self.status == 'facet'))} facets among {len(self.classes)} "
                f"rows, {self.lps} LPs, {self.shortcuts} by the walk)")



def _same_hyperplane(A: np.ndarray, g: np.ndarray, j: int) -> np.ndarray:
    """Rows of (A, g) that lie on row j's hyperplane, including j (positive multiples)."""
    nrm = np.linalg.norm(A, axis=1)
    nj = nrm[j]
    out = np.zeros(len(A), dtype=bool)
    ok = nrm > 0
    An = np.zeros_like(A)
    An[ok] = A[ok] / nrm[ok, None]
    gn = np.where(ok, g / np.where(ok, nrm, 1.0), 0.0)
    out[ok] = (np.abs(An[ok] - A[j] / nj).max(axis=1) <= 1e-12) & (
        np.abs(gn[ok] - g[j] / nj) <= 1e-12 * (1 + abs(g[j] / nj)))
    out[j] = True
    return out


def _check_facet_point(ck: Checks, m, c: int, j: int, f: np.ndarray, rtol: float) -> None:
    z = m.W @ f + m.b
    tol = logit_tol(m, rtol)
    ck(_in_box(f, m.lo, m.hi, tol), f"facet point of ({c}, {j}) is outside the domain")
    ck(abs(z[c] - z[j]) <= tol, f"facet point of ({c}, {j}) is not on the tie z_c = z_j")
    # classes identical to c, and classes tying with c on the same hyperplane as j, tie there too
    A, g = _rows(m.W, m.b, c)
    ident = (np.abs(A).sum(axis=1) == 0) & (g == 0)
    skip = _same_hyperplane(A, g, j) | ident
    skip[c] = True
    ck(np.all(z[~skip] < z[c] + tol), f"facet point of ({c}, {j}) is won by another class")


def _check_nonfacet(ck: Checks, m, c: int, j: int, y: np.ndarray, rtol: float) -> None:
    A, g = _rows(m.W, m.b, c)
    if not np.any(A[j]) and g[j] == 0:
        return  # identical classes: one region, no facet between them (by definition)
    keep = ~_same_hyperplane(A, g, j)
    keep[c] = False
    keep &= ~((np.abs(A).sum(axis=1) == 0) & (g >= 0))
    bound = lp_upper_bound(A[j], A[keep], g[keep], y[keep], m.lo, m.hi)
    nj = np.linalg.norm(A[j])
    ck((bound - g[j]) / nj <= m.facet_tol + rtol * m.scale, (
        f"dual bound {(bound - g[j]) / nj} does not prove row {j} of class {c} redundant"))


@dataclass(frozen=True)
class FacetConstruction:
    """Facet points of many class pairs in compact form (a few numbers per pair instead of d).

    Built without an LP (see ``docs/regions.md``): ``V`` (K, d') holds a right inverse of the model's
    weights on the free features, ``V_k`` moving logit k alone; the base point ``base`` has logits
    ``z0 = W base + b``. For the pair ``(c, j)`` with level ``T`` and weight ``lam``::

        dz_k = min(0, T - delta - z0_k) for k != c, j
        x_a = clip(base + V^T dz, lo, hi) with dz_c = T + eps - z0_c, dz_j = T - eps - z0_j
        x_b the same with eps -> -eps
        point = lam x_a + (1 - lam) x_b      (then lifted to all features)

    The points are re-derived from these numbers in numpy and checked like any other facet point;
    nothing computed by the core is trusted (``V`` and ``base`` are just data that name the point).

    Attributes
    ----------
    pairs : ndarray (P, 2)
    level, weight : ndarray (P,)
    base : ndarray (d',), V : ndarray (K, d') on the free features (lo < hi)
    delta, eps : float
    """

    pairs: np.ndarray
    level: np.ndarray
    weight: np.ndarray
    base: np.ndarray
    V: np.ndarray
    delta: float
    eps: float

    def __len__(self) -> int:
        return len(self.pairs)

    def chunks(self, m, size: int = 1024, logits: bool = False):
        """Yield ``(rows, points)``: row indices into ``pairs`` and the facet points (n, d) in full features.

        With ``logits=True`` yield ``(rows, points, Z)`` with the points' logits Z (n, K), formed
        without a product by W per point: ``W x = W base + (W V^T) dz`` for the unclipped endpoints
        (``W V^T`` formed once here), plus ``W (clip(x) - x)`` over the clipped coordinates only, and
        ``z(point) = lam z(x_a) + (1 - lam) z(x_b)``: the same numbers as ``W point + b`` up to rounding.
        """
        view = m._view
        z0 = view.W @ self.base + view.b
        order = np.argsort(-z0, kind="stable")
        zs = z0[order]
        neg = -zs  # ascending
        # rows of V move the features; rows of U = V W^T are the logit changes those moves make
        mats = [self.V] + ([self.V @ view.W.T] if logits else [])
        sums = []
        for M in mats:
            Mo = M[order]
            zero = np.zeros((1, M.shape[1]))
            sums.append((np.vstack([zero, np.cumsum(Mo, axis=0)]),
                         np.vstack([zero, np.cumsum(zs[:, None] * Mo, axis=0)])))
        for s0 in range(0, len(self.pairs), size):
            rows = np.arange(s0, min(s0 + size, len(self.pairs)))
            c, j = self.pairs[rows, 0], self.pairs[rows, 1]
            T = self.level[rows]
            t = T - self.delta
            L = np.searchsorted(neg, -t, side="left")  # classes with z0 > t
            ends = []
            for M, (P1, P2) in zip(mats, sums):
                top = t[:, None] * P1[L] - P2[L]  # sum over the lowered classes of (t - z0_k) M_k
                for k in (c, j):  # c and j are set explicitly, not lowered
                    top -= np.where(z0[k] > t, t - z0[k], 0.0)[:, None] * M[k]
                ends.append([top + (T + sgn * self.eps - z0[c])[:, None] * M[c]
                             + (T - sgn * self.eps - z0[j])[:, None] * M[j] for sgn in (1.0, -1.0)])
            lam = self.weight[rows][:, None]
            xa, xb = self.base + ends[0][0], self.base + ends[0][1]
            ca, cb = np.clip(xa, view.lo, view.hi), np.clip(xb, view.lo, view.hi)
            pts = m._lift(lam * ca + (1.0 - lam) * cb)
            if not logits:
                yield rows, pts
                continue
            za = z0 + ends[1][0] + _clip_logits(view.W, ca - xa)
            zb = z0 + ends[1][1] + _clip_logits(view.W, cb - xb)
            yield rows, pts, lam * za + (1.0 - lam) * zb


def _clip_logits(W: np.ndarray, D: np.ndarray) -> np.ndarray:
    """``D @ W.T`` for a mostly-zero D (the clipping moves of a chunk of points)."""
    r, i = np.nonzero(D)
    if len(r) > 0.02 * D.size:
        return D @ W.T
    out = np.zeros((len(D), len(W)))
    np.add.at(out, r, D[r, i][:, None] * W[:, i].T)
    return out


def _facet_points_ok(m, pairs: np.ndarray, F: np.ndarray, rtol: float, detail: bool = False,
                     Z: Optional[np.ndarray] = None):
    """Vectorised facet-point test: in the box, z_c = z_j, and every other logit below z_c (stricter
    than ``_check_facet_point``, which lets classes on the same hyperplane as j tie as well). ``Z``:
    the points' logits when already formed (else ``F @ W.T + b``)."""
    tol = logit_tol(m, rtol)
    Z = F @ m.W.T + m.b if Z is None else Z.copy()
    n = np.arange(len(F))
    c, j = pairs[:, 0], pairs[:, 1]
    zc, zj = Z[n, c], Z[n, j]
    inbox = np.all(F >= m.lo - tol, axis=1) & np.all(F <= m.hi + tol, axis=1)
    Z[n, c] = -np.inf
    Z[n, j] = -np.inf
    ok = inbox & (np.abs(zc - zj) <= tol) & (Z.max(axis=1) < zc + tol)
    return (ok, inbox, zc, zj, Z.max(axis=1)) if detail else ok


def _check_facet_points(ck: Checks, m, pairs: np.ndarray, F: np.ndarray, rtol: float,
                        Z: Optional[np.ndarray] = None) -> None:
    """Vectorised check of constructed facet points (their class rows are linearly independent, so
    no other class can share the hyperplane of j: every other logit must lie strictly below)."""
    ok, inbox, zc, zj, zo = _facet_points_ok(m, pairs, F, rtol, detail=True, Z=Z)
    c, j = pairs[:, 0], pairs[:, 1]
    for r in np.flatnonzero(~ok):
        ck(False, f"constructed facet point of ({c[r]}, {j[r]}) fails: in box {bool(inbox[r])}, "
                  f"|z_c - z_j| = {abs(zc[r] - zj[r]):.3g}, best other - z_c = {zo[r] - zc[r]:.3g}")


@dataclass(frozen=True)
class Adjacency:
    """Which class pairs share a (d-1)-dimensional boundary within the domain.

    Attributes
    ----------
    matrix : ndarray (K, K) bool, symmetric
    status : ndarray (K, K) str
        'facet' (adjacent), 'not_facet', 'not_tested' (a region not full-dimensional, or the diagonal),
        'unconverged'.
    margin : ndarray (K, K)
        LP value of each tested pair (feature units; a lower bound for shortcut facets).
    point_pairs, points : ndarray (P, 2), (P, d)
        A point of each shared facet (``z_c = z_j`` strictly above the other logits).
    dual_pairs, duals : ndarray (Q, 2), (Q, K)
        Multipliers proving each non-adjacent pair's row redundant (LP of the smaller class index).
    lps, shortcuts : int
        Facet LPs solved, and facets settled by the walk shortcut without an LP.
    constructed : int
        Facets proved by construction through a right inverse of W (no LP, no Chebyshev ball).
    construction : FacetConstruction or None
        Compact facet points of constructed pairs that are not in ``points`` (large K: P x d
        points would not fit in memory); ``point(c, j)`` gives any pair's point either way.
    """

    matrix: np.ndarray
    status: np.ndarray
    margin: np.ndarray
    point_pairs: np.ndarray
    points: np.ndarray
    dual_pairs: np.ndarray
    duals: np.ndarray
    lps: int
    shortcuts: int
    _model: object = field(repr=False, compare=False, default=None)
    constructed: int = 0
    construction: Optional[FacetConstruction] = None

    def point(self, c: int, j: int) -> np.ndarray:
        """A point of the facet shared by classes c and j (``z_c = z_j`` above every other logit)."""
        c, j = (int(c), int(j)) if c < j else (int(j), int(c))
        if not self.matrix[c, j]:
            raise ValueError(f"c, j: classes {c} and {j} share no facet")
        hit = np.flatnonzero((self.point_pairs[:, 0] == c) & (self.point_pairs[:, 1] == j)) \
            if len(self.point_pairs) else np.zeros(0, int)
        if hit.size:
            return self.points[hit[0]]
        con = self.construction
        r = np.flatnonzero((con.pairs[:, 0] == c) & (con.pairs[:, 1] == j))
        sub = FacetConstruction(con.pairs[r], con.level[r], con.weight[r], con.base, con.V, con.delta, con.eps)
        return next(sub.chunks(self._model))[1][0]

    def edges(self) -> list:
        """Sorted list of adjacent pairs ``(i, j)`` with ``i < j``."""
        i, j = np.nonzero(np.triu(self.matrix, 1))
        return list(zip(i.tolist(), j.tolist()))

    def plot(self, path: Optional[str] = None, labels: Optional[list] = None):
        """Draw the adjacency graph (classes on a circle, an edge per shared facet, edge width by
        margin) and the K x K matrix. Saves to ``path`` when given; returns the Figure."""
        from .._plot import subplots

        K = len(self.matrix)
        labels = labels if labels is not None else [str(k) for k in range(K)]
        fig, ax = subplots(1, 2, figsize=(10, 4.8))
        g, mat = ax[0, 0], ax[0, 1]
        ang = 2 * np.pi * np.arange(K) / K
        xy = np.stack([np.cos(ang), np.sin(ang)], 1)
        marg = np.where(np.isfinite(self.margin), self.margin, np.nan)
        top = np.nanmax(marg[self.matrix]) if self.matrix.any() else 1.0
        for i, j in self.edges():
            w = marg[i, j] / top if np.isfinite(marg[i, j]) else 1.0
            g.plot(*xy[[i, j]].T, color="tab:blue", lw=0.5 + 2.5 * w, alpha=0.7)
        g.scatter(*xy.T, s=200, color="white", edgecolor="k", zorder=3)
        for k in range(K):
            g.annotate(labels[k], xy[k], ha="center", va="center", zorder=4)
        g.set_aspect("equal")
        g.axis("off")
        g.set_title(f"{len(self.edges())} adjacent pairs of {K * (K - 1) // 2}\n"
                    "edge width: facet margin (how far the shared facet extends), relative to the widest;\n"
                    "margins proved by the walk shortcut (inf) drawn at full width", fontsize=9)
        shown = np.where(self.matrix, marg, np.nan)
        im = mat.imshow(shown, cmap="viridis")
        fig.colorbar(im, ax=mat, label="facet margin (feature units; blank: not adjacent)")
        mat.set_xlabel("class j")
        mat.set_ylabel("class c")
        mat.set_title("R_c and R_j share a facet")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig

    def verify(self, rtol: float = 1e-7, algebraic: bool = False) -> Verification:
        """Re-check every certificate in numpy. Compact (constructed) facet points are rebuilt from
        their numbers and their logits evaluated as ``W p + b``; ``algebraic=True`` forms the logits
        from the construction's linear algebra instead (see :meth:`FacetConstruction.chunks`; not
        faster in numpy at K = 1000, where rebuilding the points dominates)."""
        ck = Checks()
        m = self._model
        # all dense points at once, strictly (no other class may tie); the few that fail that are
        # checked one by one, where classes on the same hyperplane as j may tie too
        for s0 in range(0, len(self.point_pairs), 1024):
            pp, F = self.point_pairs[s0:s0 + 1024], self.points[s0:s0 + 1024]
            for r in np.flatnonzero(~_facet_points_ok(m, pp, F, rtol)):
                _check_facet_point(ck, m, int(pp[r, 0]), int(pp[r, 1]), F[r], rtol)
        for (c, j), y in zip(self.dual_pairs, self.duals):
            _check_nonfacet(ck, m, int(c), int(j), y, rtol)
        n_con = 0
        if self.construction is not None:
            for out in self.construction.chunks(m, logits=algebraic):
                _check_facet_points(ck, m, self.construction.pairs[out[0]], out[1], rtol,
                                    Z=out[2] if algebraic else None)
            n_con = len(self.construction)
        # every adjacent pair carries a facet point, every non-adjacent tested pair multipliers
        iu = np.triu_indices(len(self.matrix), 1)
        listed = np.zeros(self.matrix.shape, dtype=bool)
        for pp in (self.point_pairs, self.construction.pairs if self.construction is not None else None):
            if pp is not None and len(pp):
                listed[pp[:, 0], pp[:, 1]] = True
        ck(np.array_equal(listed[iu], self.matrix[iu]), "adjacent pairs and facet points do not match")
        ck(np.array_equal(self.matrix, self.matrix.T), "adjacency is not symmetric")
        return ck.done(len(self.point_pairs) + len(self.dual_pairs) + n_con)

    def __repr__(self) -> str:
        return (f"Adjacency({self.matrix.shape[0]} classes, {len(self.edges())} adjacent pairs, {self.lps} LPs, "
                f"{self.shortcuts} by the walk, {self.constructed} by construction)")



@dataclass(frozen=True)
class RadiusResult:
    """Distance from each point to the nearest point of the domain with a different decision.

    Attributes
    ----------
    radius : ndarray (N,)
        Feature units; every point of the domain closer than this has the same class (ties count as
        a different decision). ``inf`` when no other class can win inside the domain.
    pred : ndarray (N,)
        Predicted class (ties to the lowest index).
    rival : ndarray (N,)
        The class that wins (ties) at the nearest boundary point (-1 when radius is inf).
    point : ndarray (N, d)
        That nearest boundary point (the witness: ``z_rival >= z_pred`` there).
    """

    radius: np.ndarray
    pred: np.ndarray
    rival: np.ndarray
    point: np.ndarray
    F: np.ndarray = field(repr=False)
    _model: object = field(repr=False, compare=False, default=None)

    def verify(self, rtol: float = 1e-7) -> Verification:
        ck = Checks()
        """Witness check (upper bound) plus, without a domain, the closed form (exactness)."""
        m = self._model
        tol = logit_tol(m, rtol)
        for n in range(len(self.radius)):
            if not np.isfinite(self.radius[n]):
                # an infinite radius needs its own certificate: no rival reaches z_c anywhere in the
                # domain, i.e. sup over the box of (w_j - w_c).f < b_c - b_j for every j != c
                c = int(self.pred[n])
                ck(self.radius[n] == np.inf, f"radius {n} is {self.radius[n]!r}")
                for j in range(m.K):
                    if j == c:
                        continue
                    a, t = m.W[j] - m.W[c], m.b[c] - m.b[j]
                    if not np.any(a):
                        ck(t >= 0, f"radius {n}: class {j} wins everywhere, yet the radius is inf")
                        continue
                    with np.errstate(invalid="ignore"):
                        sup = np.sum(np.where(a > 0, a * m.hi, 0.0)) + np.sum(np.where(a < 0, a * m.lo, 0.0))
                    ck(sup < t, f"radius {n} is inf but class {j} reaches z_{c} in the domain (sup {sup} >= {t})")
                continue
            x, c, j = self.point[n], self.pred[n], self.rival[n]
            z = m.W @ x + m.b
            ck(z[j] >= z[c] - tol, f"witness {n} does not reach the rival class")
            ck(_in_box(x, m.lo, m.hi, tol), f"witness {n} leaves the domain")
            ck(abs(np.linalg.norm(x - self.F[n]) - self.radius[n]) <= tol, f"witness {n} distance mismatch")
        if m.domain_kind == "none":
            Z = self.F @ m.W.T + m.b
            for n in range(len(self.radius)):
                c = self.pred[n]
                nrm = np.linalg.norm(m.W - m.W[c], axis=1)
                ok = nrm > 0
                closed = np.min((Z[n, c] - Z[n, ok]) / nrm[ok]) if ok.any() else np.inf
                ck(abs(closed - self.radius[n]) <= tol * (1 + abs(closed)), f"radius {n} is not the closed form")
        return ck.done(len(self.radius))

    def __repr__(self) -> str:
        fin = self.radius[np.isfinite(self.radius)]
        med = f"{np.median(fin):.4g}" if fin.size else "n/a"
        return (f"RadiusResult({len(self.radius)} points, median radius {med}, "
                f"{int(np.sum(~np.isfinite(self.radius)))} infinite)")



@dataclass(frozen=True)
class ProjectionResult:
    """Nearest points in a polyhedron (distance to a class region, or flip points).

    Attributes
    ----------
    point : ndarray (N, d)
    distance : ndarray (N,)
        ``||point - F||`` (feature units).
    lower : ndarray (N,)
        Certified lower bound ``sqrt(2 * dual value)`` from the multipliers ``y``.
    converged : ndarray (N,) bool
        False also where the target set is empty (flip points of classes that never tie on top
        inside the domain: distance and lower are then inf, point is NaN).
    y : ndarray (N, K + 2d)
        Multipliers: one per class row (the flip tie row sits in the target's slot), then ``f <= hi``,
        then ``-f <= -lo``.
    source, target : ndarray (N,)
    kind : {"class", "flip"}
    """

    point: np.ndarray
    distance: np.ndarray
    lower: np.ndarray
    converged: np.ndarray
    y: np.ndarray
    source: np.ndarray
    target: np.ndarray
    kind: str
    F: np.ndarray = field(repr=False)
    _model: object = field(repr=False, compare=False, default=None)

    def verify(self, rtol: float = 1e-6) -> Verification:
        ck = Checks()
        m = self._model
        K, d = m.K, m.d
        for n in range(len(self.distance)):
            if not self.converged[n]:
                continue
            f0, x, y = self.F[n], self.point[n], self.y[n]
            c = self.source[n] if self.kind == "flip" else self.target[n]
            j = self.target[n]
            A, g = _rows(m.W, m.b, c)
            scale = 1 + np.abs(f0).max()
            tol = logit_tol(m, rtol, scale)
            viol = A @ x - g
            if self.kind == "flip":
                ck(abs(viol[j]) <= tol, f"flip point {n} is not on the tie")
                viol = np.delete(viol, j)
            ck(np.all(viol <= tol), f"point {n} leaves the region")
            ck(_in_box(x, m.lo, m.hi, tol), f"point {n} leaves the domain")
            yc, yh, yl = y[:K], y[K:K + d], y[K + d:]
            free = np.zeros(K, dtype=bool)
            if self.kind == "flip":
                free[j] = True
            ck(np.all(yc[~free] >= 0) and np.all(yh >= 0) and np.all(yl >= 0), "negative multiplier")
            hi = np.where(np.isfinite(m.hi), m.hi, 0.0)
            lo = np.where(np.isfinite(m.lo), m.lo, 0.0)
            Rty = A.T @ yc + yh - yl
            h_y = g @ yc + hi @ yh - lo @ yl
            dual = -0.5 * Rty @ Rty + yc @ (A @ f0) + yh @ f0 - yl @ f0 - h_y
            lower = np.sqrt(max(0.0, 2 * dual))
            dist = np.linalg.norm(x - f0)
            ck(abs(dist - self.distance[n]) <= tol, f"distance {n} mismatch")
            ck(lower >= dist - 1e-5 * scale, f"dual bound {lower} does not match distance {dist} ({n})")
        return ck.done(len(self.distance))

    def __repr__(self) -> str:
        fin = self.distance[np.isfinite(self.distance)]
        med = f"{np.median(fin):.4g}" if fin.size else "n/a"
        return (f"ProjectionResult({self.kind}, {len(self.distance)} points, median distance {med}, "
                f"{int(np.sum(~self.converged))} not converged)")



@dataclass(frozen=True)
class Certification:
    """Whether a set S lies inside ``R_c`` (within the domain), with the proof or a counterexample.

    Attributes
    ----------
    cls : int
    certified : bool
    kind : str
        Set type: box, ball, ellipsoid, points, polytope.
    worst : ndarray (K,)
        ``max_{f in S} (a_j f - g_j) / ||a_j||`` per rival class j (feature units; -inf for j = c and
        identical classes). The set is certified iff every entry is <= 0.
    counterexample : ndarray (d,) or None
        A point of S in another class's region (``z_j >= z_c``) when not certified.
    margin : float
        ``max_j worst_j``: how far S reaches past the boundary (<= 0 when certified).
    duals : ndarray (K, m) or None
        Polytope sets: multipliers over the set's rows proving each bound.
    """

    cls: int
    certified: bool
    kind: str
    worst: np.ndarray
    counterexample: Optional[np.ndarray]
    margin: float
    duals: Optional[np.ndarray]
    set_data: tuple = field(repr=False)
    _model: object = field(repr=False, compare=False, default=None)

    def verify(self, rtol: float = 1e-7) -> Verification:
        ck = Checks()
        m = self._model
        c = self.cls
        A, g = _rows(m.W, m.b, c)
        nrm = np.linalg.norm(A, axis=1)
        tol = logit_tol(m, rtol)
        if not self.certified:
            x = self.counterexample
            z = m.W @ x + m.b
            ck(np.max(np.delete(z, c)) >= z[c] - tol, "counterexample stays in the class")
            ck(_set_contains(self.kind, self.set_data, x, tol), "counterexample is not in the set")
            return ck.done()
        active = nrm > 0
        if self.kind == "polytope":
            C, e = self.set_data
            for j in np.flatnonzero(active):
                bound = lp_upper_bound(A[j], C, e, self.duals[j], np.full(m.d, -np.inf), np.full(m.d, np.inf))
                ck(bound - g[j] <= tol * (1 + nrm[j]), f"polytope bound fails for class {j}")
            return ck.done()
        worst = _closed_form_worst(self.kind, self.set_data, A[active], g[active])
        ck(np.all(worst <= tol), "closed-form bound is positive")
        return ck.done()

    def __repr__(self) -> str:
        verdict = "certified" if self.certified else f"not certified (margin {self.margin:.4g})"
        return f"Certification(class {self.cls}, {self.kind}: {verdict})"



def _closed_form_worst(kind: str, data: tuple, A: np.ndarray, g: np.ndarray) -> np.ndarray:
    """max over the set of a_j f - g_j, for each row (closed forms)."""
    if kind == "box":
        lo, hi = data
        return A @ ((lo + hi) / 2) + np.abs(A) @ ((hi - lo) / 2) - g
    if kind == "ball":
        center, r = data
        return A @ center + r * np.linalg.norm(A, axis=1) - g
    if kind == "ellipsoid":
        center, L = data  # {center + L u : ||u|| <= 1}
        return A @ center + np.linalg.norm(A @ L, axis=1) - g
    if kind == "points":
        (P,) = data
        return (P @ A.T).max(axis=0) - g
    raise ValueError(kind)


def _set_contains(kind: str, data: tuple, x: np.ndarray, tol: float) -> bool:
    if kind == "box":
        lo, hi = data
        return bool(np.all(x >= lo - tol) and np.all(x <= hi + tol))
    if kind == "ball":
        center, r = data
        return bool(np.linalg.norm(x - center) <= r + tol)
    if kind == "ellipsoid":
        center, L = data
        u = np.linalg.lstsq(L, x - center, rcond=None)[0]
        return bool(np.linalg.norm(L @ u - (x - center)) <= tol and np.linalg.norm(u) <= 1 + 1e-7)
    if kind == "points":
        (P,) = data
        return bool(np.min(np.linalg.norm(P - x, axis=1)) <= tol)  # counterexamples are vertices
    if kind == "polytope":
        C, e = data
        return bool(np.all(C @ x <= e + tol * (1 + np.abs(C).max())))
    raise ValueError(kind)


@dataclass(frozen=True)
class Segment:
    """Exact class sequence along ``f(t) = (1 - t) f1 + t f2``, ``t`` in [0, 1].

    ``classes[k]`` holds on ``[breaks[k-1], breaks[k]]`` (with ``breaks[-1] = 0`` and
    ``breaks[len] = 1``); at each breakpoint the two neighbouring classes tie. Each class appears at
    most once (regions are convex).
    """

    classes: np.ndarray
    breaks: np.ndarray
    f1: np.ndarray = field(repr=False)
    f2: np.ndarray = field(repr=False)
    _model: object = field(repr=False, compare=False, default=None)

    def verify(self, rtol: float = 1e-9) -> Verification:
        ck = Checks()
        m = self._model
        ts = np.concatenate([[0.0], self.breaks, [1.0]])
        ck(np.all(np.diff(ts) >= 0), "breakpoints are not sorted")
        ck(len(set(self.classes.tolist())) == len(self.classes), "a class appears twice")
        tol = rtol * (1 + np.abs(m.W @ self.f1 + m.b).max() + np.abs(m.W @ self.f2 + m.b).max())
        for k, c in enumerate(self.classes):
            for t in (ts[k], ts[k + 1], 0.5 * (ts[k] + ts[k + 1])):
                z = m.W @ ((1 - t) * self.f1 + t * self.f2) + m.b
                ck(z[c] >= z.max() - tol, f"class {c} does not win at t={t}")
        return ck.done(len(self.classes))

    def __repr__(self) -> str:
        return f"Segment(classes {self.classes.tolist()}, breaks {np.round(self.breaks, 6).tolist()})"



@dataclass(frozen=True)
class VolumeShare:
    """Monte Carlo share of the domain's volume per class.

    Attributes
    ----------
    share : ndarray (K,)
    low, high : ndarray (K,)
        Wilson score intervals at the requested confidence (for hit-and-run samples the interval
        uses the effective sample size from the chain's autocorrelation, so it is wider).
    samples : int
    effective_samples : float
    method : {"exact", "hit-and-run"}
    """

    share: np.ndarray
    low: np.ndarray
    high: np.ndarray
    samples: int
    effective_samples: float
    method: str
    confidence: float

    def __repr__(self) -> str:
        top = np.argsort(self.share)[::-1][:3]
        best = ", ".join(f"{int(k)}: {self.share[k]:.3f}" for k in top)
        return f"VolumeShare({self.method}, {self.samples} samples; largest shares {best})"

