"""``LinearRegions``: the decision polytopes of a linear last layer ``z = W f + b``.

Class c owns ``R_c = {f : (w_k - w_c) f <= b_c - b_k for all k != c}`` within a domain D: all of
R^d, the orthant ``f >= 0`` (features after a ReLU), a box (explicit, or the per-feature range of
training features), or conv(F_train) (see :mod:`hullscope.regions.hulls`). Regions are closed, so a
tie belongs to both classes; ``predict`` breaks ties towards the lowest index.

Everything is done in inequality form by the compiled core: Chebyshev balls and facet tests are LPs
solved by hullscope's own dense bounded-variable simplex (parallel over classes), distances to
regions and flip points are QPs solved by an active-set method on the dual, and the certified radius
inside a box is an exact breakpoint search. Every result has a ``verify()`` in plain numpy.

Identical classes (equal rows of W and equal biases) have the same region. Their difference row is
zero and is dropped from each other's inequalities, they are never reported adjacent to each other,
and ``predict`` gives the lower index.
"""
from __future__ import annotations

import logging
from typing import Any, Optional, Sequence, Union

import numpy as np

from .._validation import as_matrix, as_vector, resolve_threads, to_numpy
from .results import (Adjacency, Certification, ChebyshevBall, FacetConstruction, FacetSet, ProjectionResult,
                      RadiusResult, Segment, _closed_form_worst)

logger = logging.getLogger(__name__)

__all__ = ["LinearRegions", "box_of"]


def _core():
    from .. import _core as core

    return core


def _names(enum) -> dict:
    """{code: name} of one of the core's status enums."""
    return {int(v): k for k, v in enum.__members__.items()}


_STATUS = _names(_core().RegionStatus)
_FACET = _names(_core().FacetStatus)


def _facet_names(codes: np.ndarray) -> np.ndarray:
    """Facet verdict codes -> names ('facet', 'not_facet', 'not_tested', 'unconverged')."""
    out = np.empty(np.shape(codes), dtype="<U11")
    for code, name in _FACET.items():
        out[codes == code] = name
    return out


def box_of(F: Any, margin: float = 0.0) -> tuple:
    """Per-feature range of ``F`` (N, d) as a box domain ``(lo, hi)``, widened by ``margin`` x range."""
    F = as_matrix(F, "F")
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.integer, np.floating)) \
            or not np.isfinite(margin) or margin < 0:
        raise ValueError(f"margin: expected a finite number >= 0 (a fraction of each feature's range), got {margin!r}")
    lo, hi = F.min(axis=0), F.max(axis=0)
    pad = margin * (hi - lo)
    return lo - pad, hi + pad


class _View:
    """The regions restricted to the domain's free coordinates (what the LPs see)."""

    def __init__(self, reg: "LinearRegions") -> None:
        free = reg.free
        self.free = free
        self.W = np.ascontiguousarray(reg.W[:, free])
        self.b = np.ascontiguousarray(reg.b + reg.W[:, ~free] @ reg.lo[~free])
        self.lo = np.ascontiguousarray(reg.lo[free])
        self.hi = np.ascontiguousarray(reg.hi[free])
        self.K, self.d = self.W.shape
        self.scale = reg.scale
        self.facet_tol = reg.facet_tol
        self.domain_kind = reg.domain_kind


class LinearRegions:
    """Partition of a feature domain by ``argmax(W f + b)``.

    Parameters
    ----------
    W : array_like, shape (K, d)
        Last-layer weights (K classes, d features); numpy or torch.
    b : array_like, shape (K,)
        Biases.
    domain : None, "orthant", (lo, hi), or a Hull / (n, d) array of training features
        ``None``: R^d. ``"orthant"``: f >= 0. ``(lo, hi)``: a box (scalars or (d,) arrays; use
        :func:`box_of` for the range of training features; infinite bounds are allowed).
        A :class:`hullscope.Hull` or an (n, d) array: conv(F_train), for the hull-aware questions.
    threads : int, optional
        OpenMP threads for the core (default: all cores). Results do not depend on it.

    Examples
    --------
    >>> import numpy as np
    >>> from hullscope import LinearRegions
    >>> reg = LinearRegions(np.eye(3), np.zeros(3), domain=(0, 1))
    >>> reg.adjacency().edges()
    [(0, 1), (0, 2), (1, 2)]
    """

    #: Facet margins (feature units, relative to ``scale``) at or below this count as "not a facet".
    facet_rtol = 1e-7
    #: Constructed facet points are listed densely in ``Adjacency.points`` up to this many numbers
    #: (pairs x d); beyond it they stay compact in ``Adjacency.construction``.
    dense_points_limit = 2 ** 22

    def __init__(self, W: Any, b: Any, domain: Any = None, *, threads: Optional[int] = None) -> None:
        self.W = as_matrix(W, "W")
        K, d = self.W.shape
        if K < 2:
            raise ValueError(f"W: need at least 2 classes (rows), got {K}")
        b_arr = to_numpy(b, "b")
        if np.ndim(b_arr) != 1 or len(b_arr) != K:
            raise ValueError(f"b: expected shape ({K},) to match W's {K} rows, got shape {np.shape(b_arr)}")
        self.b = as_vector(b_arr, "b", n=K)
        self.K, self.d = K, d
        self.threads = resolve_threads(threads)
        self.hull = None
        self.domain_kind = "none"
        lo, hi = np.full(d, -np.inf), np.full(d, np.inf)
        if domain is None:
            pass
        elif isinstance(domain, str):
            if domain != "orthant":
                raise ValueError(f"domain: expected None, 'orthant', (lo, hi) or training features, got {domain!r}")
            lo = np.zeros(d)
            self.domain_kind = "orthant"
        elif isinstance(domain, list):
            raise TypeError("domain: a list is ambiguous (a box (lo, hi), or the hull of its rows?); pass a tuple "
                            "(lo, hi) for a box, or an (n, d) array (or a Hull) of training features for their hull")
        elif isinstance(domain, tuple) and len(domain) == 2:
            lo, hi = (self._bound(x, f"domain[{i}]") for i, x in enumerate(domain))
            if np.any(lo == np.inf) or np.any(hi == -np.inf):
                raise ValueError("domain: a box bound of +inf below or -inf above leaves no feature value; "
                                 "expected lo < +inf and hi > -inf in every feature")
            if np.any(lo > hi):
                k = int(np.argmax(lo > hi))
                raise ValueError(f"domain: box has lo > hi at feature {k} ({lo[k]} > {hi[k]}): the domain is empty")
            if np.all(lo == hi):
                raise ValueError("domain: the box is a single point (lo == hi in every feature): it holds one "
                                 "feature vector and no regions to partition; widen it (e.g. box_of(F, margin=...))")
            self.domain_kind = "box"
        else:
            from ..hull import Hull

            self.hull = domain if isinstance(domain, Hull) else Hull(as_matrix(domain, "domain", d=d))
            if self.hull.d != d:
                raise ValueError(f"domain: hull dimension {self.hull.d} does not match W's {d} features")
            X = self.hull.X
            lo, hi = X.min(axis=0), X.max(axis=0)  # the hull's bounding box, used to bound LPs
            self.domain_kind = "hull"
        self.lo, self.hi = np.ascontiguousarray(lo, float), np.ascontiguousarray(hi, float)
        finite = np.concatenate([self.lo[np.isfinite(self.lo)], self.hi[np.isfinite(self.hi)]])
        self.scale = float(max(1.0, np.abs(finite).max() if finite.size else 1.0))
        self._cheb: Optional[dict] = None
        # Features fixed by the domain (lo == hi, e.g. dead ReLU units in a box of training ranges)
        # make the domain lower-dimensional. Chebyshev balls and facets are then computed in the
        # domain's affine hull: those coordinates are substituted into the biases.
        self.free = ~(self.lo == self.hi)
        self._view = _View(self)

    def _lift(self, Xc: np.ndarray) -> np.ndarray:
        """Points of the compact (free-coordinate) problem back in full feature coordinates."""
        Xc = np.atleast_2d(Xc)
        out = np.tile(np.where(self.free, 0.0, self.lo), (len(Xc), 1))
        out[:, self.free] = Xc
        return out

    @classmethod
    def from_model(cls, model: Any, X: Any, *, domain: str = "box", device: Any = "cpu",
                   threads: Optional[int] = None) -> tuple:
        """Regions of a torch classifier's last linear layer, over the features of inputs X.

        Parameters
        ----------
        model : torch.nn.Module
            Its last ``nn.Linear`` is the classifier; the input of that layer is the feature space.
        X : array_like or tensor, (N, ...)
            Inputs (e.g. training images) whose features define the domain. A 3-D numpy array
            (N, H, W) is taken as grey images and given a channel axis, (N, 1, H, W).
        domain : {"box", "orthant", "hull", "none"}
            ``box``: the per-feature range of the features; ``hull``: their convex hull.

        Returns
        -------
        (LinearRegions, ndarray (N, d))
            The regions and the features of X (float64).
        """
        from .._torch import collect_activations
        from ..features.torch_features import final_linear, last_hidden_layer

        kinds = ("box", "orthant", "hull", "none")
        if domain not in kinds:
            raise ValueError(f"domain: expected one of {kinds}, got {domain!r}")
        _, W, b = final_linear(model)
        if np.ndim(X) == 3 and not hasattr(X, "detach"):
            X = np.asarray(X)[:, None]  # (N, H, W) grey images: add the channel axis a conv net expects
        layer = last_hidden_layer(model, X)
        F = collect_activations(model, X, [layer], device=device)[layer]
        if domain == "box" and len(F) < 2:
            raise ValueError(f"X: the box domain is the range of the features of X, and {len(F)} sample gives a "
                             "single point; pass at least 2 samples (e.g. the training set)")
        dom = {"box": box_of(F) if domain == "box" else None, "orthant": "orthant", "hull": F,
               "none": None}[domain]
        return cls(W, b, domain=dom, threads=threads), F

    def _bound(self, x: Any, name: str) -> np.ndarray:
        a = np.asarray(to_numpy(x, name), dtype=float)
        if a.ndim > 1 or (a.ndim == 1 and len(a) != self.d):
            raise ValueError(f"{name}: expected a scalar or shape ({self.d},), got shape {a.shape}")
        a = np.broadcast_to(a, (self.d,)).astype(float)
        if np.any(np.isnan(a)):
            raise ValueError(f"{name}: contains NaN")
        return a

    # ------------------------------------------------------------------ basics
    @property
    def facet_tol(self) -> float:
        return self.facet_rtol * self.scale

    def __repr__(self) -> str:
        return f"LinearRegions(K={self.K} classes, d={self.d} features, domain={self.domain_kind})"

    def class_index(self, c: Any, name: str = "c") -> int:
        """``c`` checked as a class index in [0, K) (ints only: 1.5 and True are refused); ``name`` names it in errors."""
        if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, np.integer)):
            if isinstance(c, np.ndarray) and c.ndim == 0 and np.issubdtype(c.dtype, np.integer):
                c = int(c)
            else:
                raise TypeError(f"{name}: expected an int class index, got {c!r} ({type(c).__name__})")
        ci = int(c)
        if not 0 <= ci < self.K:
            raise ValueError(f"{name}: class index {ci} out of range [0, {self.K})")
        return ci

    def _features(self, F: Any, name: str = "F") -> np.ndarray:
        return as_matrix(F, name, d=self.d, allow_vector=True)

    def logits(self, F: Any) -> np.ndarray:
        """``F @ W.T + b`` for F of shape (N, d) -> (N, K)."""
        return self._features(F) @ self.W.T + self.b

    def predict(self, F: Any) -> np.ndarray:
        """Class of each row of ``F`` (N, d) -> (N,); ties go to the lowest index."""
        return np.argmax(self.logits(F), axis=1)

    def halfspaces(self, c: int) -> tuple:
        """``(A, g, classes)`` with ``R_c = {f : A f <= g}`` (before the domain); identical classes dropped."""
        c = self.class_index(c)
        A = self.W - self.W[c]
        g = self.b[c] - self.b
        keep = np.ones(self.K, dtype=bool)
        keep[c] = False
        keep &= ~((np.abs(A).sum(axis=1) == 0) & (g >= 0))
        return A[keep], g[keep], np.flatnonzero(keep)

    def _need_box_domain(self, what: str) -> None:
        if self.domain_kind == "hull":
            raise ValueError(f"{what}: not available for a conv(F_train) domain (it has no inequality form); "
                             "use domain=box_of(F_train) for a box, or the hull-aware methods "
                             "(nonempty, hull_meets_region, outside_hull_but_certified, volume_share)")

    # ------------------------------------------------------------------ LPs
    def chebyshev_balls(self) -> list:
        """Chebyshev ball of every class (one LP per class, parallel over classes). Cached."""
        self._need_box_domain("chebyshev_ball")
        if self._cheb is None:
            core = _core()
            v = self._view
            self._cheb = core.region_chebyshev(v.W, v.b, v.lo, v.hi,
                                               np.arange(self.K, dtype=np.int64), threads=self.threads)
            bad = np.flatnonzero(self._cheb["status"] == _core().RegionStatus.unconverged)
            if bad.size:
                logger.warning("Chebyshev LP hit its iteration limit for classes %s", bad.tolist())
        ch = self._cheb
        centers = self._lift(ch["center"])
        p, q = np.zeros((self.K, self.d)), np.zeros((self.K, self.d))
        p[:, self.free], q[:, self.free] = ch["p"], ch["q"]
        return [ChebyshevBall(c, _STATUS[int(ch["status"][c])], centers[c], float(ch["radius"][c]),
                              ch["y"][c], p[c], q[c], int(ch["iterations"][c]), self._view)
                for c in range(self.K)]

    def chebyshev_ball(self, c: int) -> ChebyshevBall:
        """Largest ball inside ``R_c`` and the domain: centre, radius (feature units), certificate.

        ``status`` says whether the region is full-dimensional, flat (non-empty, no interior), empty
        (with a Farkas certificate) or unbounded (balls of any radius fit, only without a box).
        """
        c = self.class_index(c)
        return self.chebyshev_balls()[c]

    def nonempty(self, c: int) -> bool:
        """Whether some point of the domain is classified c (ties included)."""
        c = self.class_index(c)
        if self.domain_kind == "hull":
            return self.hull_meets_region(None, c).meets
        return self.chebyshev_ball(c).nonempty

    def _cheb_arrays(self):
        self.chebyshev_balls()
        ch = self._cheb
        return ch["status"].astype(np.int64), ch["radius"], ch["center"]

    def facets(self, c: int, *, exact: bool = False) -> FacetSet:
        """Which rows of ``R_c`` are facets within the domain (one LP per row, warm-started).

        Before each LP, a projected-gradient walk ``clip(x0 + s a_j, lo, hi)`` from the Chebyshev
        centre x0 runs until another row becomes tight; if ``a_j f > g_j`` there, row j is a facet
        without an LP (the crossing point is the certificate). ``exact=True`` solves every LP
        instead, so ``margin`` is the exact LP value throughout.
        """
        c = self.class_index(c)
        self._need_box_domain("facets")
        st, rad, cen = self._cheb_arrays()
        v = self._view
        r = _core().region_facets(v.W, v.b, v.lo, v.hi, c, st, rad, cen, self.facet_tol, exact)
        status = _facet_names(r["status"])
        return FacetSet(c, r["targets"], status == "facet", status, r["value"], self._lift(r["point"]), r["dual"],
                        int(r["lps"]), int(r["shortcuts"]), self)

    def adjacency(self, *, exact: bool = False, progress: bool = False, construct: bool = True) -> Adjacency:
        """Which class pairs share a (d-1)-dimensional boundary inside the domain.

        One facet test per unordered pair of full-dimensional regions, parallel over classes. Returns
        an :class:`Adjacency` whose ``matrix`` is the K x K boolean adjacency.

        Unless ``exact`` (or ``construct=False``), the pairs are first proved by construction: a right
        inverse V of W (K <= d, independent class rows) moves any set of logits exactly, so a tie
        point of c and j above every other class is built in O(d) per pair and checked after
        clipping to the box. Only the pairs it cannot prove go to the Chebyshev balls of their
        classes, the projected-gradient walk and one LP each. ``exact=True`` solves every LP.
        """
        self._need_box_domain("adjacency")
        core = _core()
        v = self._view
        K = self.K
        con = None
        todo = None
        if not exact and construct:
            con = core.region_construct(v.W, v.b, v.lo, v.hi, self.facet_tol, threads=self.threads)
            if con["applies"]:
                todo = np.triu(con["status"] != int(core.FacetStatus.facet), 1).astype(np.uint8)
            else:
                con = None
        if todo is None:
            st, rad, cen = self._cheb_arrays()
            r = core.region_adjacency(v.W, v.b, v.lo, v.hi, st, rad, cen, self.facet_tol, exact,
                                      threads=self.threads)
        else:
            need = np.flatnonzero(todo.any(axis=0) | todo.any(axis=1))
            st, rad, cen = self._cheb_subset(need)
            r = core.region_adjacency(v.W, v.b, v.lo, v.hi, st, rad, cen, self.facet_tol, exact,
                                      threads=self.threads, todo=todo)
        status_codes = r["status"]
        value = r["value"]
        construction = None
        n_con = 0
        point_pairs, points = r["point_pairs"], self._lift(r["points"]) if len(r["points"]) else np.zeros((0, self.d))
        if con is not None:
            done = con["status"] == int(core.FacetStatus.facet)
            status_codes = np.where(done, con["status"], status_codes)
            value = np.where(done, con["value"], value)
            # pairs of the second pass carry dense points; the first pass's are compact
            if len(con["points"]):
                point_pairs = np.vstack([point_pairs.reshape(-1, 2), con["point_pairs"]])
                points = np.vstack([points, self._lift(con["points"])])
                done = done.copy()
                done[con["point_pairs"][:, 0], con["point_pairs"][:, 1]] = False
            ci, cj = np.nonzero(np.triu(done, 1))
            n_con = len(ci) + len(con["points"])
            construction = FacetConstruction(np.stack([ci, cj], 1).astype(np.int64), con["level"][ci, cj],
                                             con["weight"][ci, cj], con["base"], con["V"], float(con["delta"]),
                                             float(con["eps"]))
            if len(ci) * self.d <= self.dense_points_limit:
                # small enough: list the constructed points like the LP path's, sorted by pair
                extra = np.vstack([F for _, F in construction.chunks(self)]) if len(ci) else np.zeros((0, self.d))
                pp = np.vstack([point_pairs.reshape(-1, 2), construction.pairs])
                pts = np.vstack([points, extra])
                o = np.lexsort((pp[:, 1], pp[:, 0]))
                point_pairs, points = pp[o], pts[o]
                construction = None
        status = _facet_names(status_codes)
        if np.any(status == "unconverged"):
            logger.warning("%d facet LPs did not converge", int((status == "unconverged").sum()) // 2)
        return Adjacency(status == "facet", status, value, point_pairs, points, r["dual_pairs"],
                         r["duals"], int(r["lps"]), int(r["shortcuts"]), self, constructed=n_con,
                         construction=construction)

    def _cheb_subset(self, classes: np.ndarray):
        """Chebyshev status, radius and centre arrays (K entries) with only ``classes`` computed (the
        others 'unconverged'), unless all balls are cached already."""
        if self._cheb is not None or len(classes) == self.K:
            return self._cheb_arrays()
        v = self._view
        st = np.full(self.K, int(_core().RegionStatus.unconverged), dtype=np.int64)
        rad = np.full(self.K, np.nan)
        cen = np.zeros((self.K, v.d))
        if len(classes):
            ch = _core().region_chebyshev(v.W, v.b, v.lo, v.hi, np.ascontiguousarray(classes, dtype=np.int64),
                                          threads=self.threads)
            st[classes], rad[classes], cen[classes] = ch["status"], ch["radius"], ch["center"]
        return st, rad, cen

    # ------------------------------------------------------------------ distances
    def certified_radius(self, F: Any) -> RadiusResult:
        """Exact distance from each feature vector to the nearest differently-classified point of D.

        Without a domain this is the closed form ``min_j (z_c - z_j) / ||w_c - w_j||``; inside a box
        or the orthant it is ``min_j dist(f, {z_j >= z_c} in D)``, each term an exact projection onto
        a box cut by a half-space (rivals are visited nearest-first and pruned by the closed form).
        """
        self._need_box_domain("certified_radius")
        F = self._features(F)
        r = _core().region_radius_box(self.W, self.b, self.lo, self.hi, F, threads=self.threads)
        return RadiusResult(r["radius"], r["pred"], r["rival"], r["point"], F, self)

    def distance_to_class(self, F: Any, j: Union[int, Sequence[int]]) -> ProjectionResult:
        """Nearest point of ``R_j`` (within the domain) to each row of F: an active-set QP per row.

        ``j`` is one class or one per row. Returns a :class:`ProjectionResult` with the points,
        distances (feature units) and dual lower bounds.
        """
        return self._project(F, j, kind="class")

    def flip_point(self, F: Any, j: Union[int, Sequence[int]]) -> ProjectionResult:
        """Nearest tie point between each row's predicted class c and class j.

        The point minimises ``||f - f0||`` subject to ``z_c(f) = z_j(f) >= z_k(f)`` for every other
        k, inside the domain (a convex QP). Rows whose predicted class is j are refused.
        """
        return self._project(F, j, kind="flip")

    def _project(self, F: Any, j: Any, kind: str) -> ProjectionResult:
        self._need_box_domain("distance_to_class" if kind == "class" else "flip_point")
        F = self._features(F)
        N = len(F)
        ja = np.asarray(j)
        if ja.dtype == np.bool_ or not np.issubdtype(ja.dtype, np.integer):
            raise TypeError(f"j: expected an int class index or one int per row of F, got {j!r}")
        if ja.ndim > 1 or (ja.ndim == 1 and len(ja) != N):
            raise ValueError(f"j: expected one class or {N} classes (one per row of F), got shape {ja.shape}")
        tj = np.broadcast_to(ja, (N,)).astype(np.int64)
        for t in np.unique(tj):
            self.class_index(t, "j")
        src = self.predict(F).astype(np.int64)
        if kind == "flip":
            same = np.flatnonzero(src == tj)
            if same.size:
                raise ValueError(f"j: row {same[0]} is already classified {tj[same[0]]}; a flip point needs "
                                 "a different class")
        # Empty target regions have no nearest point: refuse them with the LP's verdict.
        if kind == "class":
            for t in np.unique(tj):
                if not self.chebyshev_ball(int(t)).nonempty:
                    raise ValueError(f"j: the region of class {t} is empty within the domain")
        r = _core().region_project(self.W, self.b, self.lo, self.hi, F, np.ascontiguousarray(src),
                                   np.ascontiguousarray(tj), _core().ProjectionKind.tie if kind == "flip" else _core().ProjectionKind.region,
                                   threads=self.threads)
        conv = r["converged"].astype(bool)
        if not conv.all():
            empty = int(np.sum(~conv & np.isinf(r["distance"])))
            msg = (f"{int((~conv).sum())} of {N} projections did not converge: {empty} have an empty target set "
                   "(the classes never tie on top in the domain; distance inf), the others hit the active-set "
                   "iteration limit (point feasible, distance bracketed by .lower)")
            logger.warning(msg)
            import warnings

            from .._verification import ConvergenceWarning

            warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        return ProjectionResult(r["point"], r["distance"], r["lower"], conv, r["y"], src, tj, kind, F, self)

    # ------------------------------------------------------------------ sets
    def certify(self, c: int, *, box: Any = None, ball: Any = None, ellipsoid: Any = None, points: Any = None,
                polytope: Any = None) -> Certification:
        """Prove that a whole set lies in ``R_c``, or return a counterexample with its margin.

        Give exactly one set: ``box=(lo, hi)``; ``ball=(center, radius)``; ``ellipsoid=(center, L)``
        meaning ``{center + L u : ||u|| <= 1}`` with L of shape (d, k); ``points=P`` (n, d), i.e. their
        convex hull; ``polytope=(C, e)`` meaning ``{f : C f <= e}`` (one LP per rival class). The set
        is intersected with nothing: the domain does not shrink it.
        """
        c = self.class_index(c)
        given = [(k, v) for k, v in dict(box=box, ball=ball, ellipsoid=ellipsoid, points=points,
                                          polytope=polytope).items() if v is not None]
        if len(given) != 1:
            raise ValueError("certify: give exactly one of box=, ball=, ellipsoid=, points=, polytope=")
        kind, raw = given[0]
        A = self.W - self.W[c]
        g = self.b[c] - self.b
        nrm = np.linalg.norm(A, axis=1)
        active = nrm > 0
        worst = np.full(self.K, -np.inf)
        counter = None
        duals = None
        if kind == "box":
            lo, hi = (self._bound(x, f"box[{i}]") for i, x in enumerate(raw))
            if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
                raise ValueError("box: bounds must be finite")
            if np.any(lo > hi):
                raise ValueError("box: lo > hi (empty set)")
            data = (lo, hi)
        elif kind == "ball":
            center = as_vector(raw[0], "ball[0] (center)", n=self.d)
            rr = float(raw[1])
            if not (np.isfinite(rr) and rr >= 0):
                raise ValueError(f"ball[1] (radius): expected a finite number >= 0, got {raw[1]!r}")
            data = (center, rr)
        elif kind == "ellipsoid":
            center = as_vector(raw[0], "ellipsoid[0] (center)", n=self.d)
            L = as_matrix(raw[1], "ellipsoid[1] (L)")
            if L.shape[0] != self.d:
                raise ValueError(f"ellipsoid[1] (L): expected shape ({self.d}, k), got {L.shape}")
            data = (center, L)
        elif kind == "points":
            data = (as_matrix(points, "points", d=self.d),)
        else:
            C = as_matrix(raw[0], "polytope[0] (C)", d=self.d)
            e = as_vector(raw[1], "polytope[1] (e)", n=len(C))
            data = (C, e)
        if kind != "polytope":
            worst[active] = _closed_form_worst(kind, data, A[active], g[active]) / nrm[active]
            j = int(np.argmax(worst))
            if worst[j] > 0:
                counter = self._maximiser(kind, data, A[j])
        else:
            C, e = data
            core = _core()
            duals = np.zeros((self.K, len(C)))
            inf = np.full(self.d, np.inf)
            for j in np.flatnonzero(active):
                r = core.lp_solve(C, e, np.ascontiguousarray(A[j]), -inf, inf)
                if r["status"] == _core().LPStatus.infeasible:  # empty set: certified vacuously, Farkas multipliers kept
                    raise ValueError("polytope: the set {f : C f <= e} is empty")
                if r["status"] == _core().LPStatus.unbounded:
                    worst[j] = np.inf
                    counter = r["x"] + r["ray"] * max(1.0, (g[j] - A[j] @ r["x"] + nrm[j]) / (A[j] @ r["ray"]))
                    break
                if r["status"] == _core().LPStatus.iteration_limit:
                    raise RuntimeError(f"certify: the LP for class {j} hit its iteration limit")
                worst[j] = (r["value"] - g[j]) / nrm[j]
                duals[j] = r["y"]
                if worst[j] > 0 and counter is None:
                    counter = r["x"]
        margin = float(worst.max())
        certified = counter is None and margin <= 0
        return Certification(c, bool(certified), kind, worst, counter, margin, duals, data, self)

    @staticmethod
    def _maximiser(kind: str, data: tuple, a: np.ndarray) -> np.ndarray:
        """A point of the set maximising a . f (closed forms)."""
        if kind == "box":
            lo, hi = data
            return np.where(a > 0, hi, lo)
        if kind == "ball":
            center, r = data
            return center + r * a / np.linalg.norm(a)
        if kind == "ellipsoid":
            center, L = data
            u = L.T @ a
            nu = np.linalg.norm(u)
            return center + (L @ u / nu if nu > 0 else 0.0)
        (P,) = data
        return P[int(np.argmax(P @ a))].copy()

    # ------------------------------------------------------------------ paths
    def segment(self, f1: Any, f2: Any) -> Segment:
        """Exact class sequence along ``(1 - t) f1 + t f2`` with breakpoints (see :class:`Segment`)."""
        f1 = as_vector(f1, "f1", n=self.d)
        f2 = as_vector(f2, "f2", n=self.d)
        alpha = self.W @ f1 + self.b
        gamma = self.W @ (f2 - f1)
        t = 0.0
        top = np.flatnonzero(alpha == alpha.max())
        c = int(top[np.argmax(gamma[top])])  # a tie at t=0 goes to the class that grows fastest
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
            t = float(max(tn, t))
            classes.append(c)
            breaks.append(t)
        return Segment(np.array(classes), np.array(breaks), f1, f2, self)

    def segments(self, F1: Any, F2: Any) -> list:
        """:meth:`segment` for every row pair of F1, F2 (N, d)."""
        F1 = self._features(F1, "F1")
        F2 = self._features(F2, "F2")
        if F1.shape != F2.shape:
            raise ValueError(f"F2: expected the shape of F1 {F1.shape}, got {F2.shape}")
        return [self.segment(a, b) for a, b in zip(F1, F2)]

    # ------------------------------------------------------------------ more
    def volume_share(self, samples: int = 100_000, seed: int = 0, **kw: Any):
        """Monte Carlo share of the domain per class; see :func:`hullscope.regions.volume.volume_share`."""
        from .volume import volume_share

        return volume_share(self, samples=samples, seed=seed, **kw)

    def hull_meets_region(self, points: Any, j: int):
        """Does conv(points) meet ``R_j``? See :func:`hullscope.regions.hulls.hull_meets_region`."""
        from .hulls import hull_meets_region

        return hull_meets_region(self, points, j)

    def outside_hull_but_certified(self, F_test: Any, radius: float = 0.0, **kw: Any):
        """Test features outside conv(F_train) yet certified in their class; see :mod:`hulls`."""
        from .hulls import outside_hull_but_certified

        return outside_hull_but_certified(self, F_test, radius=radius, **kw)
