"""Where do test samples sit relative to the training set? Hull analyses in any feature space.

For a space (training features F_train with labels, test features F_test with labels) and every test
sample: the certified verdict (inside / outside / boundary), the distance to conv(F_train), the
distance to the nearest training sample and their ratio, the training samples spanning the nearest
hull point with their labels (and the weight on the sample's own class), and whether the sample
lies in the hull of its own class. Summaries per space: fraction outside, distance distributions
scaled by the typical nearest-neighbour distance, per-class membership.

Also: the out-of-distribution score (hull distance) with its AUROC, and the tabular contrast.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from ._validation import as_matrix

log = logging.getLogger(__name__)

__all__ = ["SpaceAnalysis", "analyze_space", "auroc", "ood_auroc", "tabular_contrast"]


@dataclass(frozen=True)
class SpaceAnalysis:
    """Per-test-sample results and summaries for one feature space.

    Attributes
    ----------
    name : str
    result : hullscope.DistanceResult
        Certified distances of the test samples to conv(F_train).
    own_class_weight : ndarray (B,)
        Weight of the nearest hull point's convex combination on training samples of the test
        sample's own class.
    in_own_class_hull : ndarray of bool (B,)
        Certified inside the hull of the training samples of its own class.
    typical_nn : float
        Median nearest-neighbour distance among training samples (leave-one-out), the scale used to
        report distances.
    summary : dict
    """

    name: str
    result: Any
    own_class_weight: np.ndarray
    in_own_class_hull: np.ndarray
    typical_nn: float
    summary: Dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        s = self.summary
        return (f"SpaceAnalysis({self.name!r}: {s.get('n_test')} test samples in {s.get('dim')}-d, "
                f"{100 * s.get('fraction_outside', float('nan')):.1f}% outside the training hull, "
                f"baseline {100 * s.get('loo_fraction_outside', float('nan')):.1f}%)")



def typical_nn_distance(F: np.ndarray, max_rows: int = 2000, seed: int = 0) -> float:
    """Median distance from a training sample to its nearest other training sample (sampled rows)."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(F.shape[0], size=min(max_rows, F.shape[0]), replace=False)
    sq = np.einsum("ij,ij->i", F, F)
    best = np.full(idx.size, np.inf)
    for a in range(0, F.shape[0], 4096):
        G = F[idx] @ F[a:a + 4096].T
        D = sq[idx, None] - 2 * G + sq[None, a:a + 4096]
        rows = np.arange(idx.size)
        own = (idx >= a) & (idx < a + 4096)
        D[rows[own], idx[own] - a] = np.inf
        best = np.minimum(best, D.min(axis=1))
    return float(np.median(np.sqrt(np.maximum(best, 0.0))))


def analyze_space(F_train: Any, y_train: Any, F_test: Any, y_test: Any, name: str = "space", *,
                  per_class: bool = True, threads: Optional[int] = None, progress: bool = False,
                  client: Any = None, out: Optional[str] = None, loo_samples: int = 500,
                  seed: int = 0) -> SpaceAnalysis:
    """Hull analysis of one feature space (see module doc).

    Parameters
    ----------
    F_train : (n, d) training features; y_train : (n,) int labels
    F_test : (B, d) test features; y_test : (B,) int labels
    client, out : optional
        Run on a Dask cluster with checkpoints (see :mod:`hullscope.hull.distributed`).
    loo_samples : int
        The baseline: how many training samples (all when there are fewer; seeded choice otherwise)
        are tested against the hull of the other training samples. In high dimension nearly every
        training sample is outside the hull of the others, so "test samples are outside" only
        means something next to this share (``summary['loo_fraction_outside']``).
    seed : int
        Seed of the leave-one-out sample.

    Every certificate (test queries and the leave-one-out sample) is re-checked in numpy; the count
    is ``summary['certificates_verified']`` and a failure raises.
    """
    from .hull import Hull

    Ftr = as_matrix(F_train, "F_train")
    Fte = as_matrix(F_test, "F_test")
    if Fte.shape[1] != Ftr.shape[1]:
        raise ValueError(f"F_test: has {Fte.shape[1]} features but F_train has {Ftr.shape[1]}: "
                         "train and test must live in the same space")
    if y_train is None or y_test is None:
        raise ValueError("y_train, y_test: labels are required (per-class hulls and own-class weights)")
    ytr = np.asarray(y_train)
    yte = np.asarray(y_test)
    if ytr.shape != (Ftr.shape[0],) or yte.shape != (Fte.shape[0],):
        raise ValueError(f"y_train, y_test: expected shapes ({Ftr.shape[0]},) and ({Fte.shape[0]},), "
                         f"got {ytr.shape} and {yte.shape}")
    h = Hull(Ftr)
    res = h.distance(Fte, threads=threads, progress=progress, client=client, out=out)
    own = np.zeros(Fte.shape[0])
    for i in range(Fte.shape[0]):
        idx, w = res.support(i)
        own[i] = float(w[ytr[idx] == yte[i]].sum())
    in_own = np.zeros(Fte.shape[0], dtype=bool)
    if per_class:
        for c in np.unique(yte):
            sel = yte == c
            mask = ytr == c
            if not mask.any():
                continue
            r = h.contains(Fte[sel], subset=mask, threads=threads)
            in_own[sel] = r.status == "inside"
    nn_typ = typical_nn_distance(Ftr)
    # the baseline: training samples against the hull of the other training samples
    n_loo = int(min(int(loo_samples), Ftr.shape[0])) if Ftr.shape[0] >= 2 else 0
    loo_frac = float("nan")
    checked = 0
    if n_loo:
        pick = np.sort(np.random.default_rng(seed).choice(Ftr.shape[0], size=n_loo, replace=False))
        loo = h.leave_one_out(indices=pick, threads=threads)
        v = loo.verify()
        v.raise_if_failed()
        checked += v.checked
        loo_frac = float(np.mean(loo.status == "outside"))
    v = res.verify()
    v.raise_if_failed()
    checked += v.checked
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = res.distance / res.nn_distance
    summary = {
        "n_train": int(Ftr.shape[0]), "n_test": int(Fte.shape[0]), "dim": int(Ftr.shape[1]),
        "fraction_outside": float(np.mean(res.status == "outside")),
        "fraction_boundary": float(np.mean(res.status == "boundary")),
        "median_hull_distance": float(np.median(res.distance)),
        "median_nn_distance": float(np.median(res.nn_distance)),
        "median_hull_over_nn": float(np.nanmedian(ratio)),
        "typical_train_nn_distance": nn_typ,
        "median_hull_distance_over_typical_nn": float(np.median(res.distance) / nn_typ) if nn_typ > 0 else float("nan"),
        "median_support_size": float(np.median(np.diff(res.indptr))),
        "median_own_class_weight": float(np.median(own)),
        "fraction_in_own_class_hull": float(np.mean(in_own)) if per_class else float("nan"),
        "loo_fraction_outside": loo_frac, "loo_n": n_loo,
        "certificates_verified": int(checked),
    }
    return SpaceAnalysis(name, res, own, in_own, nn_typ, summary)


def auroc(scores_in: Any, scores_out: Any) -> float:
    """Area under the ROC curve for 'out' scoring higher than 'in' (ties count one half)."""
    a = np.asarray(scores_in, dtype=np.float64).ravel()
    b = np.asarray(scores_out, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("scores_in, scores_out: both must be non-empty")
    for name, v in (("scores_in", a), ("scores_out", b)):
        if not np.isfinite(v).all():
            raise ValueError(f"{name}: contains NaN or inf (an AUROC over undefined scores is undefined)")
    try:
        from sklearn.metrics import roc_auc_score
    except ImportError:  # numpy fallback: the Mann-Whitney statistic with average ranks over ties
        allv = np.concatenate([a, b])
        order = np.argsort(allv, kind="mergesort")
        sv = allv[order]
        first = np.r_[True, sv[1:] != sv[:-1]]
        group = np.cumsum(first) - 1
        starts = np.flatnonzero(first)
        ends = np.r_[starts[1:], sv.size] - 1
        ranks = np.empty(allv.size)
        ranks[order] = 0.5 * (starts + ends)[group] + 1
        rb = ranks[a.size:].sum()
        return float((rb - b.size * (b.size + 1) / 2) / (a.size * b.size))
    return float(roc_auc_score(np.r_[np.zeros(a.size), np.ones(b.size)], np.r_[a, b]))


def auroc_interval(scores_in: Any, scores_out: Any, *, n_boot: int = 1000, confidence: float = 0.95,
                   seed: int = 0) -> Tuple[float, float]:
    """Percentile bootstrap interval of :func:`auroc` (both groups resampled with replacement)."""
    a = np.asarray(scores_in, dtype=np.float64).ravel()
    b = np.asarray(scores_out, dtype=np.float64).ravel()
    auroc(a, b)  # validates
    rng = np.random.default_rng(seed)
    vals = np.array([auroc(a[rng.integers(0, a.size, a.size)], b[rng.integers(0, b.size, b.size)])
                     for _ in range(int(n_boot))])
    lo, hi = np.quantile(vals, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(lo), float(hi)


def ood_auroc(F_train: Any, F_in: Any, F_out: Any, *, threads: Optional[int] = None) -> Dict[str, float]:
    """Hull distance in feature space as an out-of-distribution score.

    Returns the AUROC of separating ``F_out`` (out-of-distribution) from ``F_in`` (held-out
    in-distribution) by distance to conv(F_train), next to the same for the nearest-neighbour distance.
    """
    from .hull import Hull

    h = Hull(F_train)
    r_in = h.distance(F_in, threads=threads)
    r_out = h.distance(F_out, threads=threads)
    return {"auroc_hull_distance": auroc(r_in.distance, r_out.distance),
            "auroc_nn_distance": auroc(r_in.nn_distance, r_out.nn_distance),
            "n_in": len(r_in), "n_out": len(r_out)}


def tabular_contrast(names: Sequence[str] = ("iris", "wine", "breast_cancer"), *, seed: int = 0,
                     threads: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    """The hull analysis on scikit-learn's tabular sets (standardised features), per set."""
    from .datasets import load_tabular

    out = {}
    for nm in names:
        d = load_tabular(nm, seed=seed)
        out[nm] = analyze_space(d.X_train, d.y_train, d.X_test, d.y_test, nm, threads=threads).summary
    return out


def analyze_space_resumable(F_train: Any, y_train: Any, F_test: Any, y_test: Any, name: str = "space", *,
                            checkpoint_dir: Any, threads: Optional[int] = None, progress: bool = True,
                            seed: int = 0, loo_samples: int = 500):
    """:func:`analyze_space` with a checkpoint: ``(SpaceAnalysis, reused)``.

    The finished analysis is written atomically to ``checkpoint_dir/<name>.npz`` with a fingerprint
    of the inputs; a later call with the same inputs reads it back instead of recomputing
    (``reused`` is True). A checkpoint of other inputs, or an unreadable one, is recomputed.
    """
    import io
    import json
    from pathlib import Path

    from .hull.checkpoint import atomic_write_bytes, fingerprint, load_arrays
    from .hull.result import RESULT_FIELDS, DistanceResult

    Ftr = as_matrix(F_train, "F_train")
    Fte = as_matrix(F_test, "F_test", d=Ftr.shape[1])
    ytr, yte = np.asarray(y_train), np.asarray(y_test)
    fp = fingerprint(Ftr, ytr, Fte, yte, kind="analyze_space", seed=seed, loo_samples=loo_samples)
    safe = "".join(ch if ch.isalnum() else "_" for ch in name)
    f = Path(checkpoint_dir) / f"{safe}.npz"
    if f.is_file():
        z = load_arrays(f, RESULT_FIELDS + ("fingerprint", "rtol", "own", "in_own", "typical_nn", "summary"))
        if z is not None and str(z["fingerprint"]) == fp:
            res = DistanceResult.from_arrays([z], X=Ftr, Q=Fte, subset=None, method="distance", rtol=float(z["rtol"]))
            return SpaceAnalysis(name, res, z["own"], z["in_own"], float(z["typical_nn"]),
                                 json.loads(str(z["summary"]))), True
    a = analyze_space(Ftr, ytr, Fte, yte, name, threads=threads, progress=progress, seed=seed,
                      loo_samples=loo_samples)
    buf = io.BytesIO()
    np.savez(buf, fingerprint=fp, rtol=a.result.rtol, own=a.own_class_weight, in_own=a.in_own_class_hull,
             typical_nn=a.typical_nn, summary=json.dumps(a.summary), **a.result.to_dict())
    atomic_write_bytes(f, buf.getvalue())
    return a, False
