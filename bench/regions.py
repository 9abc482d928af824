"""Benchmark the decision-region engine against the same LPs solved by scipy's HiGHS, in one run.

Prints one JSON object per line (also appended to bench/results/regions.jsonl). The model is a random
last layer ``W ~ N(0, 1/d)``, ``b ~ N(0, 0.1^2)``; the domain is a box of feature ranges
``[0, hi]`` with ``hi ~ U(1, 3)`` (features after a ReLU). Cases:

* ``K=10, d=64`` and ``K=100, d=512``: every Chebyshev ball and the full adjacency (one facet test
  per unordered pair of classes), by hullscope (2 threads and 1 thread) and by HiGHS (``linprog``,
  one LP per ball and per pair: the same LPs, all of them). Verdicts and radii are compared.
* ``K=1000, d=2048``: Chebyshev balls of ``--big-classes`` classes by both (HiGHS takes minutes per
  LP there, so it runs with a time limit per LP, ``--highs-limit``; an LP stopped by the limit makes
  the reported ratio a lower bound; ``--all-big`` also times all 1000 classes with hullscope), and
  ``certified_radius`` for 10,000 points in the box
  (exact box distances) next to the closed form in R^d computed with numpy.

Usage::

    python bench/regions.py --big-classes 2 # all cases (about 20 minutes on 2 cores)
    python bench/regions.py --case small
    python bench/regions.py --case medium --highs-pairs 0   # 0 = all pairs
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
from scipy.optimize import linprog

from hullscope import LinearRegions, build_info


def emit(rec: dict) -> None:
    line = json.dumps(rec)
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
    out = {"case": f"K={K},d={d}", "K": K, "d": d, "domain": "box [0, U(1,3)]"}
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
        "adj_lps": ours_adj.lps, "adj_shortcuts": ours_adj.shortcuts,
        "verdicts_agree": f"{agree}/{len(pairs)}",
        "threads_speedup_adj": times[1][1] / times[2][1],
    })
    emit(out)


def run_big(n_classes: int, all_big: bool, n_points: int = 10_000, highs_limit: float = 300.0) -> None:
    K, d = 1000, 2048
    W, b, lo, hi = model(K, d, seed=0)
    reg = LinearRegions(W, b, domain=(lo, hi), threads=2)
    rec = {"case": "K=1000,d=2048"}
    if n_classes > 0:
        rec.update(_big_chebyshev(reg, W, b, lo, hi, n_classes, all_big, highs_limit))
    _big_radius(reg, W, b, lo, hi, n_points, rec)


def _big_chebyshev(reg, W, b, lo, hi, n_classes, all_big, highs_limit) -> dict:
    from hullscope import _core

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
        rec["cheb_all_1000_hullscope_2t_s"] = time.perf_counter() - t0
        rec["cheb_all_verified"] = all(ball.verify() for ball in balls)
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
    ap.add_argument("--big-classes", type=int, default=2, help="classes timed with HiGHS at K=1000 (0: skip)")
    ap.add_argument("--all-big", action="store_true", help="also time all 1000 Chebyshev balls with hullscope")
    ap.add_argument("--highs-limit", type=float, default=300.0, help="HiGHS time limit per LP in the big case (s)")
    a = ap.parse_args(argv)
    emit({"build": build_info(), "python": sys.version.split()[0]})
    if a.case in ("small", "all"):
        run_case(10, 64, a.highs_pairs)
    if a.case in ("medium", "all"):
        run_case(100, 512, a.highs_pairs)
    if a.case in ("big", "all"):
        run_big(a.big_classes, a.all_big, highs_limit=a.highs_limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
