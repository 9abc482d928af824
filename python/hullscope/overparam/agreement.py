"""Where models agree: points inside the pixel-space training hull, just outside it, and the test set.

* **Inside** (:func:`dirichlet_points`): convex combinations of k training images with Dirichlet(1, ..., 1)
  weights, the k images being an anchor and its k - 1 nearest training neighbours ("knn") or k images drawn
  at random ("random"), for k in {2, 8, 32}. They lie in the hull by construction; the hull engine
  certifies each one independently (:meth:`Hull.contains`, whose certificate -- convex weights that
  reproduce the point within tol -- is re-checked by :meth:`MembershipResult.verify`). Only certified
  points are used. The certified points are the float64 combinations (``inside64``); the models evaluate
  them rounded to float32, a relative change below 6e-8 (a combination of few images lies on a face of
  the hull, so the rounded point itself may sit a rounding error outside).
* **Just outside** (:func:`ray_points`): for every test image q certified outside the pixel hull, with p its
  nearest hull point, the points p + t (q - p) at t in (1, 3] (beyond the sample, away from the hull).
* **The test set** itself.

:func:`agreement_matrix` gives, for M models' predictions on one set, the M x M matrix of the share of points
on which two models assign the same class.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._verification import ConvergenceWarning

__all__ = ["dirichlet_points", "ray_points", "agreement_matrix", "AgreementSets", "build_sets", "KS",
           "RAY_TS", "mean_offdiagonal", "disagreement_per_model"]

KS = (2, 8, 32)
RAY_TS = (1.25, 1.5, 2.0, 2.5, 3.0)


def dirichlet_points(X: np.ndarray, k: int, m: int, mode: str, seed: int = 0,
                     alpha: float = 1.0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """m convex combinations of k rows of X (flattened): (points (m, d), rows (m, k), weights (m, k)).

    ``mode="knn"``: an anchor row drawn at random and its k - 1 nearest other rows (Euclidean);
    ``mode="random"``: k distinct rows drawn at random. Weights ~ Dirichlet(alpha, ..., alpha).
    """
    Xf = np.asarray(X, np.float64).reshape(len(X), -1)
    n = len(Xf)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k: expected an int >= 1, got {k!r}")
    if k > n:
        raise ValueError(f"k: expected at most {n} (the number of training images), got {k}")
    if mode not in ("knn", "random"):
        raise ValueError(f"mode: expected 'knn' or 'random', got {mode!r}")
    rng = np.random.default_rng(seed)
    rows = np.empty((m, k), np.int64)
    if mode == "random":
        for i in range(m):
            rows[i] = rng.choice(n, size=k, replace=False)
    else:
        anchors = rng.integers(0, n, size=m)
        sq = np.einsum("ij,ij->i", Xf, Xf)
        for i, a in enumerate(anchors):
            d2 = sq - 2.0 * Xf @ Xf[a] + sq[a]
            d2[a] = -np.inf  # the anchor comes first
            rows[i] = np.argsort(d2, kind="stable")[:k]
    W = rng.dirichlet(np.full(k, float(alpha)), size=m)
    P = np.einsum("mk,mkd->md", W, Xf[rows])
    return P, rows, W


def ray_points(P: np.ndarray, Q: np.ndarray, ts: Sequence[float] = RAY_TS) -> np.ndarray:
    """Points p + t (q - p) for every row pair and every t: shape (len(P) * len(ts), d), t varying fastest."""
    P = np.asarray(P, np.float64)
    Q = np.asarray(Q, np.float64)
    t = np.asarray(ts, np.float64)
    return (P[:, None, :] + t[None, :, None] * (Q - P)[:, None, :]).reshape(-1, P.shape[1])


def agreement_matrix(preds: Any) -> np.ndarray:
    """preds (M, N) class predictions of M models on N points -> (M, M) share of points with equal classes."""
    A = np.asarray(preds)
    if A.ndim != 2 or A.shape[1] == 0:
        raise ValueError(f"preds: expected predictions of shape (models, points) with points > 0, got {A.shape}")
    M = A.shape[0]
    out = np.ones((M, M))
    for i in range(M):
        out[i] = np.mean(A[i][None, :] == A, axis=1)
    return out


def mean_offdiagonal(A: np.ndarray) -> float:
    M = A.shape[0]
    if M < 2:
        return float("nan")
    return float((A.sum() - np.trace(A)) / (M * (M - 1)))


def disagreement_per_model(A: np.ndarray) -> np.ndarray:
    """1 - the mean agreement of each model with the other models."""
    M = A.shape[0]
    if M < 2:
        return np.full(M, np.nan)
    return 1.0 - (A.sum(1) - np.diag(A)) / (M - 1)


@dataclass(frozen=True, eq=False)
class AgreementSets:
    """The point sets, in model-input shape, with what certifies them.

    ``inside``: set name ('knn k=2', ...) -> points (m, C, H, W) in float32, only those certified inside;
    ``inside64``: the same points as certified (float64, flattened).
    ``outside``: points on the pixel rays at t in RAY_TS; ``ray_t``: their t; ``test``: the test images.
    ``certified``: per inside set, how many of the drawn points the hull engine certified inside (of how many).
    """
    inside: Dict[str, np.ndarray]
    inside64: Dict[str, np.ndarray]
    outside: np.ndarray
    ray_t: np.ndarray
    certified: Dict[str, Dict[str, int]]
    n_test_outside: int
    verified: Dict[str, Any]
    digest: str
    membership: Dict[str, Any] = field(repr=False, default_factory=dict)

    def all_sets(self, X_test: np.ndarray) -> Dict[str, np.ndarray]:
        return {**self.inside, "outside (pixel rays, t in (1, 3])": self.outside, "test": X_test}


def build_sets(Xtr: np.ndarray, Xte: np.ndarray, *, m: int = 100, ks: Sequence[int] = KS,
               ts: Sequence[float] = RAY_TS, seed: int = 0, threads: Optional[int] = None,
               progress: bool = False, log: Any = None) -> AgreementSets:
    """Draw and certify the inside sets, and trace the pixel rays for the outside set (shared by all models)."""
    import hashlib

    from ..hull import Hull

    shape = Xtr.shape[1:]
    Xf = np.asarray(Xtr, np.float64).reshape(len(Xtr), -1)
    Qf = np.asarray(Xte, np.float64).reshape(len(Xte), -1)
    H = Hull(Xf, threads=threads)
    inside: Dict[str, np.ndarray] = {}
    inside64: Dict[str, np.ndarray] = {}
    cert: Dict[str, Dict[str, int]] = {}
    ver: Dict[str, Any] = {}
    memb: Dict[str, Any] = {}
    for mode in ("knn", "random"):
        for j, k in enumerate(ks):
            name = f"{mode} k={k}"
            if k > len(Xf):
                continue
            P, _, _ = dirichlet_points(Xf, int(k), m, mode, seed=seed + 101 * j + (0 if mode == "knn" else 7))

            with warnings.catch_warnings():  # uncertified points are counted and left out
                warnings.simplefilter("ignore", ConvergenceWarning)
                res = H.contains(P, threads=threads, progress=progress)
            v = res.verify()
            ok = np.asarray(res.status) == "inside"
            inside[name] = P[ok].reshape((-1,) + shape).astype(np.float32)
            inside64[name] = P[ok]
            cert[name] = {"drawn": int(len(P)), "certified_inside": int(ok.sum())}
            ver[f"membership {name}"] = {"ok": bool(v.ok), "checked": int(v.checked), "failures": list(v.failures[:3])}
            memb[name] = res
            if log:
                log(f"  {name}: {int(ok.sum())} of {len(P)} Dirichlet points certified inside the pixel hull")
    with warnings.catch_warnings():  # only test images certified outside get a ray
        warnings.simplefilter("ignore", ConvergenceWarning)
        dr = H.distance(Qf, threads=threads, progress=progress)
    v = dr.verify()
    ver["pixel hull distances of the test images"] = {"ok": bool(v.ok), "checked": int(v.checked),
                                                      "failures": list(v.failures[:3])}
    out_idx = np.flatnonzero(np.asarray(dr.status) == "outside")
    R = ray_points(dr.nearest[out_idx], Qf[out_idx], ts)
    h = hashlib.sha256()
    for a in (Xf, Qf, R, *[inside[k] for k in sorted(inside)]):
        h.update(np.ascontiguousarray(a).tobytes())
    return AgreementSets(inside=inside, inside64=inside64, outside=R.reshape((-1,) + shape).astype(np.float32),
                         ray_t=np.tile(np.asarray(ts, float), len(out_idx)), certified=cert,
                         n_test_outside=int(len(out_idx)), verified=ver, digest=h.hexdigest()[:16],
                         membership=memb)


def summarize(preds: Dict[str, np.ndarray], keys: List[str]) -> Dict[str, Any]:
    """Agreement matrices and their means for each set; ``preds``: set -> (M, N) predictions."""
    out: Dict[str, Any] = {"models": keys, "sets": {}}
    for s, P in preds.items():
        if P.shape[1] == 0:
            continue
        A = agreement_matrix(P)
        out["sets"][s] = {"matrix": A, "mean": mean_offdiagonal(A), "points": int(P.shape[1]),
                          "disagreement_per_model": disagreement_per_model(A)}
    return out
