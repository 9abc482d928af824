"""Certified at the scale of the extrapolation, and pixel-space flips against feature-space radii.

In the feature space that feeds a linear last layer every test point off a tie has a positive
certified radius (the exact distance to the nearest point of another class), so "certified" alone
says nothing. What matters is the radius *compared with how far the point extrapolates*: the
certified radius divided by the distance to the training hull, and by the typical nearest-neighbour
distance among training features. A point whose ball of radius dist(q, hull) is a single class is
**robust at the scale of its extrapolation** (radius > hull distance; a tie on the sphere counts as
a different class).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from ..hull import Verification

__all__ = ["ScaleCertified", "certified_at_scale", "pixel_vs_feature"]


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.where(a > 0, np.inf, np.nan))


def _med(x: np.ndarray) -> float:
    x = x[np.isfinite(x)] if x.size else x
    return float(np.median(x)) if x.size else float("nan")


@dataclass(frozen=True, eq=False)
class ScaleCertified:
    """Exact certified radii in R^d of the feature space, set against the extrapolation distance.

    Attributes (N points)
    ----------
    radius : ndarray (N,)
        Exact distance (feature units) from each point to the nearest point of R^d with a different
        decision (``min_j (z_c - z_j) / ||w_c - w_j||``).
    pred, rival : ndarray of int (N,)
        Predicted class and the class reached at that distance.
    hull_distance : ndarray (N,)
        Distance to the training hull (0 inside).
    typical_nn : float
        Median nearest-neighbour distance among training features.
    radius_over_hull, radius_over_nn : ndarray (N,)
        The two scale-free ratios (inf where the hull distance is 0 and the radius positive).
    robust_at_scale : ndarray of bool (N,)
        ``radius > hull_distance``: the ball of radius dist(q, hull) around q is one class.
    label : ndarray or None
    """

    radius: np.ndarray
    pred: np.ndarray
    rival: np.ndarray
    hull_distance: np.ndarray
    outside: np.ndarray
    typical_nn: float
    radius_over_hull: np.ndarray
    radius_over_nn: np.ndarray
    robust_at_scale: np.ndarray
    label: Optional[np.ndarray] = None
    F: np.ndarray = field(repr=False, default=None)
    W: np.ndarray = field(repr=False, default=None)
    b: np.ndarray = field(repr=False, default=None)

    def __len__(self) -> int:
        return int(self.radius.shape[0])

    def summary(self) -> Dict[str, Any]:
        n = len(self)
        out = self.outside
        s: Dict[str, Any] = {
            "n": n, "outside": int(out.sum()),
            "share_certified_radius_positive": float(np.mean(self.radius > 0)) if n else float("nan"),
            "median_radius": _med(self.radius),
            "median_radius_over_hull_distance": _med(self.radius_over_hull[out]),
            "median_radius_over_typical_nn": _med(self.radius_over_nn),
            "share_robust_at_scale": float(np.mean(self.robust_at_scale[out])) if out.any() else float("nan"),
            "share_vulnerable_within_extrapolation": float(np.mean(~self.robust_at_scale[out])) if out.any()
            else float("nan"),
        }
        if self.label is not None:
            ok = self.pred == self.label
            s["accuracy"] = float(ok.mean()) if n else float("nan")
            s["share_certified_and_correct"] = float(np.mean((self.radius > 0) & ok)) if n else float("nan")
            s["share_robust_at_scale_and_correct"] = (float(np.mean(self.robust_at_scale[out] & ok[out]))
                                                      if out.any() else float("nan"))
        return s

    def __repr__(self) -> str:
        s = self.summary()
        return (f"ScaleCertified({s['n']} points: median radius/hull distance "
                f"{s['median_radius_over_hull_distance']:.3g}, {100 * s['share_robust_at_scale']:.1f}% robust at "
                "the scale of their extrapolation)")

    def verify(self, rtol: float = 1e-9) -> Verification:
        """Recompute the closed form in numpy and check the ratios and flags."""
        fails: List[str] = []
        Z = self.F @ self.W.T + self.b
        for n in range(len(self)):
            c = int(np.argmax(Z[n]))
            if c != self.pred[n]:
                fails.append(f"point {n}: predicted class differs")
                continue
            nrm = np.linalg.norm(self.W - self.W[c], axis=1)
            ok = nrm > 0
            ok[c] = False
            r = np.where(ok, (Z[n, c] - Z[n]) / np.where(ok, nrm, 1.0), np.inf)
            closed = float(r.min())
            tol = rtol * (1 + np.abs(Z[n]).max()) / nrm[ok].min() if ok.any() else 0.0
            if not (closed == self.radius[n] or abs(closed - self.radius[n]) <= tol):
                fails.append(f"point {n}: radius {self.radius[n]!r} is not the closed form {closed!r}")
        with np.errstate(invalid="ignore"):
            if not np.array_equal(self.robust_at_scale, self.radius > self.hull_distance):
                fails.append("robust_at_scale is not radius > hull distance")
        return Verification(ok=not fails, checked=len(self), failures=tuple(fails[:50]))


def certified_at_scale(W: Any, b: Any, F_test: Any, hull_result: Any, typical_nn: float,
                       y: Any = None, threads: Optional[int] = None) -> ScaleCertified:
    """Exact certified radii of the test features (closed form in R^d, via ``LinearRegions``) divided
    by their distances to the training hull and by the typical nearest-neighbour distance.

    Parameters
    ----------
    W, b : the last linear layer (K, d), (K,)
    F_test : (N, d) test features
    hull_result : DistanceResult of F_test against the training features' hull
    typical_nn : float > 0
    y : labels (N,), optional
    """
    from .._validation import as_matrix
    from ..regions.core import LinearRegions
    from .rays import _labels

    reg = LinearRegions(W, b, threads=threads)
    F = as_matrix(F_test, "F_test", d=reg.d, allow_vector=True)
    if len(hull_result) != len(F):
        raise ValueError(f"hull_result: expected a result for {len(F)} points, got {len(hull_result)}")
    if not (np.isfinite(typical_nn) and typical_nn > 0):
        raise ValueError(f"typical_nn: expected a positive distance, got {typical_nn!r}")
    r = reg.certified_radius(F)
    outside = np.asarray(hull_result.status) != "inside"
    hd = np.where(outside, hull_result.distance, 0.0)
    radius = np.asarray(r.radius, float)
    return ScaleCertified(radius=radius, pred=np.asarray(r.pred), rival=np.asarray(r.rival), hull_distance=hd,
                          outside=outside, typical_nn=float(typical_nn), radius_over_hull=_ratio(radius, hd),
                          radius_over_nn=radius / typical_nn, robust_at_scale=radius > hd,
                          label=_labels(y, len(F), "y"), F=F, W=reg.W, b=reg.b)


def pixel_vs_feature(flip: Any, pixel_hull_distance: np.ndarray, pixel_typical_nn: float,
                     feat: ScaleCertified) -> Dict[str, Any]:
    """The table of section "pixel space against feature space": per-image ratios and their summary.

    ``flip`` is a :class:`FlipResult` of the same test images (its distances are upper bounds).
    """
    n = len(flip)
    if len(feat) != n or len(pixel_hull_distance) != n:
        raise ValueError("flip, pixel_hull_distance, feat: expected results for the same test images")
    d_px = np.asarray(flip.distance, float)
    hd_px = np.asarray(pixel_hull_distance, float)
    px_nn = d_px / pixel_typical_nn
    px_hull = _ratio(d_px, hd_px)
    f_nn = feat.radius_over_nn
    f_hull = feat.radius_over_hull
    found = np.asarray(flip.found)
    per = {"pixel_flip_over_typical_nn": px_nn, "pixel_flip_over_pixel_hull_distance": px_hull,
           "feature_radius_over_typical_nn": f_nn, "feature_radius_over_feature_hull_distance": f_hull}
    out_px = hd_px > 0
    table = {
        "n": n, "flips_found": int(found.sum()),
        "median_pixel_flip_distance": _med(d_px[found]),
        "median_pixel_flip_over_typical_nn": _med(px_nn[found]),
        "median_pixel_flip_over_pixel_hull_distance": _med(px_hull[found & out_px]),
        "median_feature_radius_over_typical_nn": _med(f_nn),
        "median_feature_radius_over_feature_hull_distance": _med(f_hull[feat.outside]),
        "share_pixel_flip_below_pixel_hull_distance": float(np.mean(d_px < hd_px)) if n else float("nan"),
        "share_feature_radius_below_feature_hull_distance": float(np.mean(feat.radius < feat.hull_distance))
        if n else float("nan"),
        "note": "pixel flip distances are upper bounds (our own L2 attack); feature radii are exact",
    }
    return {"table": table, "per_image": per}
