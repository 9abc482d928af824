"""Benchmark the decision-region engine against the same LPs solved by scipy's HiGHS, in one run.

Prints one JSON object per line (also appended to bench/results/regions.jsonl). The model is a random
last layer ``W ~ N(0, 1/d)``, ``b ~ N(0, 0.1^2)``; the domain is a box of feature ranges
``[0, hi]`` with ``hi ~ U(1, 3)`` (features after a ReLU). Cases:

* ``K=10, d=64`` and ``K=100, d=512``: every Chebyshev ball and the full adjacency (one facet test
  per unordered pair of classes), by hullscope (2 threads and 1 thread) and by HiGHS (``linprog``,
  one LP per ball and per pair: the same LPs, all of them). Verdicts and radii are compared.
* ``K=1000, d=2048`` (``--case big``): the full adjacency (all 499,500 pairs) with hullscope on 2
  threads, its breakdown (the construction's two passes alone, on 2 threads and on 1, bitwise
  compared), ``verify()`` of every certificate (``--verify-algebraic``: also with the logits from the
  construction's algebra), and HiGHS (``linprog``) on ``--highs-pairs-big``
  random pairs (default 200): the same facet LPs, verdicts compared, the per-pair time extrapolated
  to all pairs for the ratio. ``--all-big`` also times the Chebyshev balls of all 1000 classes
  (one LP each); ``--big-classes N`` times N of them against HiGHS with a time limit per LP
  (``--highs-limit``; a stopped LP makes that ratio a lower bound); ``--radius`` times
  ``certified_radius`` for 10,000 points in the box next to the closed form in R^d with numpy.
  Each record carries the load average (``os.getloadavg``) before and after.

Usage::

    python bench/regions.py --case big --all-big      # the K = 1000 record (about 40 minutes on 2 cores)
    python bench/regions.py --case small
    python bench/regions.py --case medium --highs-pairs 0   # 0 = all pairs
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from scipy.optimize import linprog

from hullscope import LinearRegions, build_info
from hullscope._json import dumps


def emit(rec: dict) -> None:
    line = dumps(rec)
    print(line, flush=True)
    os.makedirs(os.path.join(os.path.dirname(__file__), "results"), exist_ok=True)
    with open(os.path.join(os.path.dirname(__file__), "results", "regions.jsonl"), "a") as fh:
        fh.write(line + "\n")


def model(K: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(K, d)) / np.sqrt(d)
    b = rng.normal(size=K) * 0.1
    lo, hi = np.zeros(d), rng.uniform(1.0, 3.0, d)
    return W, b, lo, hi


def highs_chebyshev(W, b, lo, hi, c, time_limit=None):
    K, d = W.shape
    A = np.delete(W - W[c], c, axis=0)
    g = np.delete(b[c] - b, c)
    nrm = np.linalg.norm(A, axis=1)
    I = np.eye(d)
    M = np.vstack([np.hstack([A, nrm[:, None]]), np.hstack([I, np.ones((d, 1))]), np.hstack([-I, np.ones((d, 1))])])
    rhs = np.concatenate([g, hi, -lo])
    cost = np.zeros(d + 1)
    cost[-1] = -1
    opts = {} if time_limit is None else {"time_limit": float(time_limit)}
    s = linprog(cost, A_ub=M, b_ub=rhs, bounds=[(None, None)] * d + [(0, None)], method="highs", options=opts)
    return -s.fun if s.status == 0 else np.nan


def highs_facet(W, b, lo, hi, c, j):
    A = W - W[c]
    g = b[c] - b
    keep = [k for k in range(len(W)) if k not in (c, j)]
    s = linprog(-A[j], A_ub=A[keep], b_ub=g[keep], bounds=list(zip(lo, hi)), method="highs")
    return (-s.fun - g[j]) / np.linalg.norm(A[j])


def run_case(K: int, d: int, highs_pairs: int, seed: int = 0) -> None:
    W, b, lo, hi = model(K, d, seed)
    out = {"case": f"K={K},d={d}", "K": K, "d": d, "domain": "box [0, U(1,3)]", "load_before": os.getloadavg()}
    times = {}
    for threads in (2, 1):
        reg = LinearRegions(W, b, domain=(lo, hi), threads=threads)
        t0 = time.perf_counter()
        balls = reg.chebyshev_balls()
        t1 = time.perf_counter()
        adj = reg.adjacency()
        t2 = time.perf_counter()
        times[threads] = (t1 - t0, t2 - t1)
        if threads == 2:
            ours_balls, ours_adj = balls, adj
            # the lever: the same adjacency without the construction (walk + one LP per pair)
            t0 = time.perf_counter()
            old = reg.adjacency(construct=False)
            out["adj_without_construction_2t_s"] = time.perf_counter() - t0
            out["adj_without_construction_lps_shortcuts"] = [old.lps, old.shortcuts]
            out["adj_same_verdicts_with_without_construction"] = bool(np.array_equal(old.matrix, adj.matrix))
    assert all(ball.verify() for ball in ours_balls) and ours_adj.verify()
    # HiGHS: every Chebyshev LP, and the facet LPs of all pairs (or a random subset of them)
    t0 = time.perf_counter()
    h_rad = np.array([highs_chebyshev(W, b, lo, hi, c) for c in range(K)])
    t_h_cheb = time.perf_counter() - t0
    pairs = [(c, j) for c in range(K) for j in range(c + 1, K)]
    if highs_pairs and highs_pairs < len(pairs):
        rng = np.random.default_rng(1)
        pairs = [pairs[i] for i in rng.choice(len(pairs), highs_pairs, replace=False)]
    t0 = time.perf_counter()
    h_val = np.array([highs_facet(W, b, lo, hi, c, j) for c, j in pairs])
    t_h_pairs = time.perf_counter() - t0
    n_all = K * (K - 1) // 2
    t_h_adj = t_h_pairs * n_all / len(pairs)
    ours_rad = np.array([ball.radius for ball in ours_balls])
    agree = int(sum(ours_adj.matrix[c, j] == (v > ours_adj._model.facet_tol) for (c, j), v in zip(pairs, h_val)))
    out.update({
        "cheb_hullscope_2t_s": times[2][0], "cheb_hullscope_1t_s": times[1][0], "cheb_highs_s": t_h_cheb,
        "cheb_ratio_2t": t_h_cheb / times[2][0], "cheb_ratio_1t": t_h_cheb / times[1][0],
        "cheb_max_rel_diff": float(np.nanmax(np.abs(ours_rad - h_rad) / (1 + np.abs(h_rad)))),
        "adj_hullscope_2t_s": times[2][1], "adj_hullscope_1t_s": times[1][1],
        "adj_highs_s": t_h_adj, "adj_highs_pairs_timed": len(pairs), "adj_highs_extrapolated": len(pairs) < n_all,
        "adj_ratio_2t": t_h_adj / times[2][1], "adj_ratio_1t": t_h_adj / times[1][1],
        "adj_pairs": n_all, "adjacent_pairs": int(ours_adj.matrix.sum() // 2),
        "adj_lps": ours_adj.lps, "adj_shortcuts": ours_adj.shortcuts, "adj_constructed": ours_adj.constructed,
        "verdicts_agree": f"{agree}/{len(pairs)}",
        "threads_speedup_adj": times[1][1] / times[2][1],
    })
    emit(out)


def run_big(n_classes: int, all_big: bool, radius: bool, highs_pairs: int, highs_limit: float = 300.0,
            K: int = 1000, d: int = 2048, verify_algebraic: bool = False) -> None:
    from hullscope import _core

    W, b, lo, hi = model(K, d, seed=0)
    reg = LinearRegions(W, b, domain=(lo, hi), threads=2)
    n_all = K * (K - 1) // 2
    rec = {"case": f"K={K},d={d}", "domain": "box [0, U(1,3)]", "load_before": os.getloadavg()}
    t0 = time.perf_counter()
    adj = reg.adjacency()
    t_adj = time.perf_counter() - t0
    st = adj.status[np.triu_indices(K, 1)]
    rec.update({"adj_pairs": n_all, "adj_hullscope_2t_s": t_adj, "adjacent_pairs": int(np.sum(st == "facet")),
                "not_facet_pairs": int(np.sum(st == "not_facet")), "not_tested_pairs": int(np.sum(st == "not_tested")),
                "adj_constructed": adj.constructed, "adj_lps": adj.lps, "adj_shortcuts": adj.shortcuts,
                "load_after_adjacency": os.getloadavg()})
    # breakdown: the construction alone (first pass + second pass), 2 threads and 1 thread, bitwise
    v = reg._view
    t0 = time.perf_counter()
    c2 = _core.region_construct(v.W, v.b, v.lo, v.hi, reg.facet_tol, threads=2)
    rec["construct_2t_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    c1 = _core.region_construct(v.W, v.b, v.lo, v.hi, reg.facet_tol, threads=1)
    rec["construct_1t_s"] = time.perf_counter() - t0
    rec.update({"construct_first_pass_proved": int(c2["proven"]), "construct_pairs_clipped": int(c2["clipped"]),
                "construct_second_pass_proved": int(c2["refined"]),
                "construct_right_inverse_error": float(c2["inverse_error"]),
                "construct_bitwise_1t_eq_2t": all(
                    np.array_equal(c1[k], c2[k], equal_nan=np.asarray(c1[k]).dtype.kind == "f")
                    for k in ("V", "base", "status", "level", "weight", "value", "point_pairs", "points"))})
    del c1, c2
    t0 = time.perf_counter()
    ver = adj.verify()
    rec.update({"verify_s": time.perf_counter() - t0, "verified": bool(ver), "certificates_checked": ver.checked})
    if verify_algebraic:  # the facet points' logits from the construction's algebra instead of W p + b
        t0 = time.perf_counter()
        rec["verified_algebraic"] = bool(adj.verify(algebraic=True))
        rec["verify_algebraic_s"] = time.perf_counter() - t0
    emit(dict(rec, stage="adjacency"))
    if highs_pairs <= 0:
        return
    # HiGHS: the same facet LPs on a random sample of pairs
    rng = np.random.default_rng(1)
    flat = rng.choice(n_all, highs_pairs, replace=False)
    iu = np.triu_indices(K, 1)
    pairs = [(int(iu[0][f]), int(iu[1][f])) for f in flat]
    h_val, h_t = [], []
    for n, (c, j) in enumerate(pairs):
        t0 = time.perf_counter()
        h_val.append(highs_facet(W, b, lo, hi, c, j))
        h_t.append(time.perf_counter() - t0)
        if (n + 1) % 20 == 0:
            print(f"  HiGHS {n + 1}/{len(pairs)} pairs, {np.mean(h_t):.2f} s per LP", file=sys.stderr, flush=True)
    h_val, h_t = np.array(h_val), np.array(h_t)
    tol = reg.facet_tol
    agree = sum(bool(adj.matrix[c, j]) == bool(val > tol) for (c, j), val in zip(pairs, h_val))
    lower_ok = all(adj.margin[c, j] <= val * (1 + 1e-9) + 1e-9 for (c, j), val in zip(pairs, h_val)
                   if adj.matrix[c, j])
    t_h_all = float(h_t.mean()) * n_all
    rec.update({"highs_pairs_timed": len(pairs), "highs_s": float(h_t.sum()), "highs_s_per_pair": float(h_t.mean()),
                "highs_s_per_pair_min_max": [float(h_t.min()), float(h_t.max())],
                "highs_all_pairs_extrapolated_s": t_h_all, "verdicts_agree": f"{agree}/{len(pairs)}",
                "margins_are_lower_bounds_of_highs": bool(lower_ok),
                "highs_value_min_max": [float(h_val.min()), float(h_val.max())],
                "hullscope_s_per_pair": t_adj / n_all, "adj_ratio_2t": t_h_all / t_adj,
                "load_after_highs": os.getloadavg()})
    emit(dict(rec, stage="adjacency+highs"))
    big = {"case": f"K={K},d={d}", "load_before": os.getloadavg()}
    if n_classes > 0 or all_big:
        big.update(_big_chebyshev(reg, W, b, lo, hi, n_classes, all_big, highs_limit))
        big["load_after_chebyshev"] = os.getloadavg()
        emit(dict(big, stage="chebyshev"))
    if radius:
        _big_radius(reg, W, b, lo, hi, 10_000, {"case": "K=1000,d=2048"})


def _big_chebyshev(reg, W, b, lo, hi, n_classes, all_big, highs_limit) -> dict:
    from hullscope import _core

    rec = {}
    if n_classes > 0:
        classes = list(range(n_classes))
        t0 = time.perf_counter()
        r = _core.region_chebyshev(reg.W, reg.b, reg.lo, reg.hi, np.array(classes, dtype=np.int64), threads=2)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        h_rad = np.array([highs_chebyshev(W, b, lo, hi, c, time_limit=highs_limit) for c in classes])
        t_h = time.perf_counter() - t0
        done = np.isfinite(h_rad)
        # HiGHS LPs stopped at the time limit count with the limit: the ratio is then a lower bound
        rec = {"cheb_classes_timed": n_classes, "cheb_hullscope_2t_s": t_ours,
               "cheb_highs_s": t_h, "cheb_highs_time_limit_s": highs_limit, "cheb_highs_finished": int(done.sum()),
               "cheb_ratio_2t": t_h / t_ours, "cheb_ratio_is_lower_bound": bool(not done.all()),
               "cheb_max_rel_diff": (float(np.max(np.abs(r["radius"][done] - h_rad[done]) / (1 + np.abs(h_rad[done]))))
                                     if done.any() else None)}
    if all_big:
        t0 = time.perf_counter()
        balls = reg.chebyshev_balls()
        rec["cheb_all_classes"] = len(balls)
        rec["cheb_all_hullscope_2t_s"] = time.perf_counter() - t0
        rec["cheb_all_status"] = {s: sum(ball.status == s for ball in balls) for s in sorted({x.status for x in balls})}
        rad = np.array([ball.radius for ball in balls])
        rec["cheb_all_radius_min_median_max"] = [float(np.min(rad)), float(np.median(rad)), float(np.max(rad))]
        t0 = time.perf_counter()
        rec["cheb_all_verified"] = all(ball.verify() for ball in balls)
        rec["cheb_all_verify_s"] = time.perf_counter() - t0
    return rec


def _big_radius(reg, W, b, lo, hi, n_points, rec) -> None:
    K, d = W.shape
    rng = np.random.default_rng(3)
    F = lo + (hi - lo) * rng.random((n_points, d)) * 0.5
    t0 = time.perf_counter()
    rr = reg.certified_radius(F)
    t_box = time.perf_counter() - t0
    t0 = time.perf_counter()
    Z = F @ W.T + b
    pred = Z.argmax(1)
    closed = np.empty(n_points)
    for n in range(n_points):  # numpy closed form in R^d (a lower bound of the box radius)
        nrm = np.linalg.norm(W - W[pred[n]], axis=1)
        gap = Z[n, pred[n]] - Z[n]
        keep = np.arange(K) != pred[n]
        closed[n] = np.min(gap[keep] / nrm[keep])
    t_np = time.perf_counter() - t0
    rec.update({"radius_points": n_points, "radius_box_hullscope_2t_s": t_box, "radius_closed_form_numpy_s": t_np,
                "radius_box_ge_closed_form": bool(np.all(rr.radius >= closed - 1e-9)),
                "radius_box_over_closed_median": float(np.median(rr.radius / closed))})
    free = LinearRegions(W, b, threads=2)
    t0 = time.perf_counter()
    rf = free.certified_radius(F)
    rec["radius_rd_hullscope_2t_s"] = time.perf_counter() - t0
    rec["radius_rd_max_abs_diff_vs_numpy"] = float(np.max(np.abs(rf.radius - closed)))
    emit(rec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["small", "medium", "big", "all"], default="all")
    ap.add_argument("--highs-pairs", type=int, default=0, help="pairs timed with HiGHS (0: all)")
    ap.add_argument("--highs-pairs-big", type=int, default=200,
                    help="pairs solved by HiGHS at K=1000 (0: stop after the adjacency record)")
    ap.add_argument("--verify-algebraic", action="store_true",
                    help="also time verify(algebraic=True) at K=1000")
    ap.add_argument("--big-classes", type=int, default=0, help="Chebyshev balls timed with HiGHS at K=1000 (0: skip)")
    ap.add_argument("--all-big", action="store_true", help="also time all 1000 Chebyshev balls with hullscope")
    ap.add_argument("--radius", action="store_true", help="also time certified_radius at K=1000")
    ap.add_argument("--chebyshev-only", action="store_true",
                    help="big case: only the Chebyshev balls (--big-classes, --all-big), no adjacency")
    ap.add_argument("--highs-limit", type=float, default=300.0, help="HiGHS time limit per LP in the big case (s)")
    a = ap.parse_args(argv)
    emit({"build": build_info(), "python": sys.version.split()[0]})
    if a.case in ("small", "all"):
        run_case(10, 64, a.highs_pairs)
    if a.case in ("medium", "all"):
        run_case(100, 512, a.highs_pairs)
    if a.case in ("big", "all") and a.chebyshev_only:
        W, b, lo, hi = model(1000, 2048, seed=0)
        reg = LinearRegions(W, b, domain=(lo, hi), threads=2)
        big = {"case": "K=1000,d=2048", "load_before": os.getloadavg()}
        big.update(_big_chebyshev(reg, W, b, lo, hi, a.big_classes, a.all_big, a.highs_limit))
        big["load_after_chebyshev"] = os.getloadavg()
        emit(dict(big, stage="chebyshev"))
    elif a.case in ("big", "all"):
        run_big(a.big_classes, a.all_big, a.radius, a.highs_pairs_big, highs_limit=a.highs_limit,
                verify_algebraic=a.verify_algebraic)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
