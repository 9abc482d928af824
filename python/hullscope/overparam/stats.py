"""Which measures predict generalization: Spearman's rho of each measure against test error across a family,
with a percentile bootstrap 95% interval (:func:`hullscope.stability.stats.bootstrap_spearman`), a sentence
per measure, and the verdict on the claim (agreement inside against outside the hull)."""
from __future__ import annotations

from typing import Any, Dict, List, Sequence

import numpy as np

from ..stability.stats import bootstrap_spearman

__all__ = ["correlation_table", "sentence", "claim_verdict", "paired_difference"]


def sentence(name: str, res: Dict[str, Any]) -> str:
    """One plain sentence on whether the measure predicts test error across the family."""
    if res.get("rho") is None:
        return f"{name}: no correlation ({res.get('reason', 'undefined')})."
    rho, lo, hi = res["rho"], res["low"], res["high"]
    if lo > 0:
        how = "predicts higher test error" + (" strongly" if rho >= 0.7 else "")
    elif hi < 0:
        how = "predicts lower test error" + (" strongly" if rho <= -0.7 else "")
    else:
        how = "does not predict test error here (the interval contains 0)"
    return f"{name}: rho = {rho:+.2f}, 95% CI [{lo:+.2f}, {hi:+.2f}] over {res['n']} models -- {how}."


def correlation_table(records: Sequence[Dict[str, Any]], measures: Sequence[str], *, target: str = "test_error",
                      n_boot: int = 2000, seed: int = 0) -> Dict[str, Dict[str, Any]]:
    """measure -> {rho, low, high, n, sentence} (rho None with a reason when undefined)."""
    out: Dict[str, Dict[str, Any]] = {}
    y = np.array([float(r.get(target, np.nan)) for r in records], float)
    for m in measures:
        x = np.array([float(r[m]) if r.get(m) is not None else np.nan for r in records], float)
        ok = np.isfinite(x) & np.isfinite(y)
        res: Dict[str, Any] = {"n": int(ok.sum())}
        try:
            s = bootstrap_spearman(x[ok], y[ok], n_boot=n_boot, seed=seed, names=(m, target))
            res.update(rho=s.rho, low=s.low, high=s.high, level=s.level, n_boot=s.n_boot, n_dropped=s.n_dropped)
        except ValueError as exc:
            res.update(rho=None, low=None, high=None, reason=str(exc))
        res["sentence"] = sentence(m, res)
        out[m] = res
    return out


def paired_difference(a: Any, b: Any, n_boot: int = 2000, seed: int = 0) -> Dict[str, Any]:
    """Mean of a - b over pairs with a percentile bootstrap 95% interval (pairs resampled), and the share of
    pairs with a > b."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = a - b
    if d.size == 0:
        return {"n": 0, "mean": None, "low": None, "high": None, "share_positive": None}
    rng = np.random.default_rng(seed)
    bs = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(1)
    lo, hi = np.quantile(bs, [0.025, 0.975])
    return {"n": int(d.size), "mean": float(d.mean()), "low": float(lo), "high": float(hi),
            "share_positive": float(np.mean(d > 0))}


def claim_verdict(agreement: Dict[str, Any], corr: Dict[str, Dict[str, Any]], inside_sets: List[str],
                  outside_set: str) -> Dict[str, Any]:
    """The two parts of the claim for one family, each with its evidence and a plain verdict.

    (1) models agree more inside the hull than outside: per model pair, mean agreement over the inside sets
    minus agreement on the outside set; holds when the bootstrap interval of the mean difference is above 0.
    (2) disagreement outside, not inside, tracks test error: holds when the interval of rho(disagreement
    outside, test error) lies above 0 and that of rho(disagreement inside, test error) contains 0 or lies
    below the outside one.
    """
    sets = agreement["sets"]
    out: Dict[str, Any] = {}
    ins = [s for s in inside_sets if s in sets]
    if ins and outside_set in sets:
        M = sets[outside_set]["matrix"].shape[0]
        iu = np.triu_indices(M, 1)
        a_in = np.mean([np.asarray(sets[s]["matrix"])[iu] for s in ins], axis=0)
        a_out = np.asarray(sets[outside_set]["matrix"])[iu]
        pdiff = paired_difference(a_in, a_out)
        holds = pdiff["low"] is not None and pdiff["low"] > 0
        for sel in ("knn", "random"):  # near the data, and deep inside the hull
            ss = [s for s in ins if s.startswith(sel)]
            if ss:
                a_sel = np.mean([np.asarray(sets[s]["matrix"])[iu] for s in ss], axis=0)
                d = paired_difference(a_sel, a_out)
                out[f"agree_more_inside_{sel}"] = {
                    "mean_agreement_inside": float(np.mean(a_sel)) if a_sel.size else None,
                    "mean_agreement_outside": float(np.mean(a_out)) if a_out.size else None,
                    "difference": d, "holds": bool(d["low"] is not None and d["low"] > 0),
                    "sentence": (("holds" if d["low"] is not None and d["low"] > 0 else "does not hold") +
                                 f" for the {sel} sets alone: agreement {np.mean(a_sel):.3f} vs outside "
                                 f"{np.mean(a_out):.3f}, difference {d['mean']:+.3f} (95% CI [{d['low']:+.3f}, "
                                 f"{d['high']:+.3f}])") if a_sel.size else "fewer than 2 models"}
        out["agree_more_inside"] = {
            "mean_agreement_inside": float(np.mean(a_in)) if a_in.size else None,
            "mean_agreement_outside": float(np.mean(a_out)) if a_out.size else None,
            "difference": pdiff, "holds": bool(holds),
            "sentence": ("holds" if holds else "does not hold") +
                        (f": mean agreement inside {np.mean(a_in):.3f} vs outside {np.mean(a_out):.3f} over "
                         f"{pdiff['n']} model pairs, difference {pdiff['mean']:+.3f} "
                         f"(95% CI [{pdiff['low']:+.3f}, {pdiff['high']:+.3f}]; {100 * pdiff['share_positive']:.0f}% "
                         "of pairs agree more inside)" if a_in.size else ": fewer than 2 models")}
    co, ci = corr.get("disagreement_outside", {}), corr.get("disagreement_inside", {})
    if co.get("rho") is not None:
        out_up = co["low"] > 0
        in_flat = ci.get("rho") is None or ci["low"] <= 0 or ci["rho"] < co["low"]
        holds = bool(out_up and in_flat)
        out["outside_tracks_error"] = {
            "rho_outside": co, "rho_inside": ci, "holds": holds,
            "sentence": ("holds" if holds else "does not hold") +
                        f": rho(disagreement outside, test error) = {co['rho']:+.2f} [{co['low']:+.2f}, "
                        f"{co['high']:+.2f}]; rho(disagreement inside, test error) = "
                        + (f"{ci['rho']:+.2f} [{ci['low']:+.2f}, {ci['high']:+.2f}]" if ci.get("rho") is not None
                           else "undefined")}
    else:
        out["outside_tracks_error"] = {"holds": False, "sentence": "not testable: " + co.get("reason", "no data")}
    return out
