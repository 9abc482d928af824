"""The per-model measures of the over-parameterization study, each re-checked by its ``verify()``.

In the model's last hidden layer (the space that feeds the final linear layer):

* ``feature_share_outside`` -- share of test samples certified outside the hull of the training features
  (samples whose verdict the engine could not certify count as not outside; their number is recorded);
* ``feature_median_hull_over_nn`` -- median over those samples of hull distance / nearest-training-feature
  distance;
* ``regions_*`` -- the decision regions of the last linear layer over the box domain of the training
  features (:meth:`LinearRegions.from_model`, ``domain="box"``): the Chebyshev radius of every class
  region (its largest inscribed ball, in units of the typical nearest-neighbour distance among training
  features), how many regions are full-dimensional, and how many class pairs share a facet (adjacency);
* ``rays_*`` -- from :func:`hullscope.boundaries.rays` (exact in this space): share of the test samples
  outside the hull whose class changes between the nearest hull point and the sample
  ("decided outside"), and quantiles of where (t in (0, 1]) the class first changes;
* ``scale_share_robust`` -- from :func:`hullscope.boundaries.certified_at_scale`: share of the samples
  outside the hull whose exact certified radius exceeds their hull distance.
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, Optional

import numpy as np

from .._verification import ConvergenceWarning

__all__ = ["measure_model", "SCALAR_MEASURES"]

#: Scalar per-model measures that enter the correlation table, with their one-line definitions.
SCALAR_MEASURES: Dict[str, str] = {
    "log10_params": "log10 of the number of trainable parameters",
    "train_error": "1 - accuracy on the clean training labels",
    "feature_share_outside": "share of test samples outside the hull of the training features (last hidden layer)",
    "feature_median_hull_over_nn": "median hull distance / nearest-neighbour distance of those test features",
    "regions_median_cheb_over_nn": "median Chebyshev radius of the class regions (box domain) / typical "
                                   "training nearest-neighbour distance",
    "regions_full": "number of full-dimensional class regions in the box domain",
    "regions_adjacent_pairs": "number of class pairs whose regions share a facet in the box domain",
    "rays_share_decided_outside": "share of rays (test samples outside the feature hull) whose class changes "
                                  "between the hull and the sample",
    "rays_median_first_change": "median t of the first class change along those rays (0 = hull, 1 = sample)",
    "scale_share_robust": "share of test samples outside the feature hull whose exact certified radius "
                          "exceeds their hull distance",
    "relative_weight_change": "||w_trained - w_init|| / ||w_init||",
    "disagreement_inside": "mean over the other models of the family of the share of pixel-hull points "
                           "(Dirichlet combinations, all k and both selections) classified differently",
    "disagreement_inside_knn": "the same on the k-nearest-neighbour Dirichlet sets only (near the data)",
    "disagreement_inside_random": "the same on the random-image Dirichlet sets only (deep in the hull)",
    "disagreement_outside": "the same on the pixel rays at t in (1, 3]",
    "disagreement_test": "the same on the test images",
}


def _f(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v


def measure_model(model: Any, Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, yte: np.ndarray, *,
                  threads: Optional[int] = None, progress: bool = False) -> Dict[str, Any]:
    """Every hull, region and ray measure of one trained model; plain numbers plus verification flags."""
    from ..boundaries import certified_at_scale, rays
    from ..extrapolation import typical_nn_distance
    from ..features.torch_features import final_linear, last_hidden_layer
    from ..hull import Hull
    from ..regions import LinearRegions
    from .._torch import collect_activations
    from .families import predict

    out: Dict[str, Any] = {}
    pred_tr = predict(model, Xtr)
    pred_te = predict(model, Xte)
    out["train_accuracy"] = float(np.mean(pred_tr == ytr))
    out["train_error"] = 1.0 - out["train_accuracy"]
    out["test_accuracy"] = float(np.mean(pred_te == yte))
    out["test_error"] = 1.0 - out["test_accuracy"]
    layer = last_hidden_layer(model, Xte[:2])
    out["feature_layer"] = layer
    Ftr = collect_activations(model, Xtr, [layer])[layer]
    Fte = collect_activations(model, Xte, [layer])[layer]
    out["feature_dim"] = int(Ftr.shape[1])
    with warnings.catch_warnings():  # non-convergence is counted in the record, not warned about per model
        warnings.simplefilter("ignore", ConvergenceWarning)
        hr = Hull(Ftr, threads=threads).distance(Fte, threads=threads, progress=progress)
    out["feature_hull_unconverged"] = int(np.sum(~np.asarray(hr.converged)))
    out["feature_hull_status_counts"] = {k: int(np.sum(np.asarray(hr.status) == k))
                                         for k in ("inside", "outside", "boundary", "unconverged")}
    tnn = float(typical_nn_distance(Ftr))
    outside = np.asarray(hr.status) == "outside"
    out["feature_typical_nn"] = tnn
    out["feature_share_outside"] = float(outside.mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = hr.distance[outside] / hr.nn_distance[outside]
    ratio = ratio[np.isfinite(ratio)]
    out["feature_median_hull_over_nn"] = float(np.median(ratio)) if ratio.size else float("nan")
    hv = hr.verify()
    checks = {"hull (test features)": hv}
    # decision regions of the last linear layer over the box of the training features
    out["feature_dead"] = bool(np.all(np.ptp(Ftr, axis=0) == 0))
    if out["feature_dead"]:
        # every training feature vector is the same point (e.g. all units dead): no regions to partition
        out.update(regions_status=None, regions_cheb_radius=None, regions_full=float("nan"),
                   regions_median_cheb_over_nn=float("nan"), regions_adjacent_pairs=float("nan"),
                   regions_adjacency=None,
                   regions_note="the training features span a single point (all units constant): no regions")
    else:
        reg, _ = LinearRegions.from_model(model, Xtr, domain="box", threads=threads)
        balls = reg.chebyshev_balls()
        radii = np.array([b.radius if b.status == "full" else 0.0 for b in balls], float)
        status = [b.status for b in balls]
        adj = reg.adjacency()
        checks["adjacency"] = adj.verify()
        checks.update({f"chebyshev ball {c}": b.verify() for c, b in enumerate(balls)})
        out["regions_status"] = status
        out["regions_cheb_radius"] = radii.tolist()
        full = np.array([s == "full" for s in status])
        out["regions_full"] = int(full.sum())
        out["regions_median_cheb_over_nn"] = float(np.median(radii[full]) / tnn) if full.any() and tnn > 0 \
            else float("nan")
        out["regions_adjacent_pairs"] = int(len(adj.edges()))
        out["regions_adjacency"] = adj.matrix.astype(int).tolist()
    # rays, exact in this space, and certified radii at the scale of the extrapolation
    r = rays(model, Xtr, Xte, yte, layer=layer, hull_result=hr, typical_nn=tnn, threads=threads)
    rv = r.verify()
    s = r.summary()
    out["rays_n"] = int(s["rays"])
    out["rays_share_decided_outside"] = _f(s["share_decided_outside"])
    q = s.get("first_change_quantiles") or {}
    out["rays_first_change_quantiles"] = {k: _f(v) for k, v in q.items()}
    out["rays_median_first_change"] = _f(q.get("0.5"))
    fb = r.first_before[r.decided_outside]
    out["rays_first_change_hist"] = np.histogram(fb, bins=10, range=(0.0, 1.0))[0].tolist()
    out["rays_share_correct_among_decided_outside"] = _f(s.get("share_correct_among_decided_outside"))
    _, W, b = final_linear(model)
    checks["rays"] = rv
    if tnn > 0:
        sc = certified_at_scale(W, b, Fte, hr, tnn, y=yte, threads=threads)
        checks["certified radii"] = sc.verify()
        ss = sc.summary()
        out["scale_share_robust"] = _f(ss["share_robust_at_scale"])
        out["scale_median_radius_over_hull"] = _f(ss["median_radius_over_hull_distance"])
    else:  # half the training features coincide with another: no scale to compare against
        out["scale_share_robust"] = out["scale_median_radius_over_hull"] = float("nan")
    out["verified"] = {k: {"ok": bool(v.ok), "checked": int(v.checked), "failures": list(v.failures[:3])}
                       for k, v in checks.items()}
    out["all_verified"] = all(v.ok for v in checks.values())
    return out
