"""How many Wolfe iterations a query deep inside the MNIST hull needs, by how its candidates are priced.

A reference study in numpy (minutes per query), not a timing of the engine. It answers one question
behind the interior target of ``bench/hull.py --case interior``: are the engine's ~1,400-2,300
iterations per query a property of Wolfe's method on these queries, or of pricing candidates only
at passes over X?

For the first ``--queries`` interior queries of each k (the same Dirichlet combinations and seed as
``bench/hull.py``), Wolfe's minimum-norm-point method runs on the rows of the query's face (rows
equal to q wherever q sits on the data's bounding box: every convex combination equal to q lies
there), over the coordinates where q is off the box, with these pricing rules:

* ``exact``: every iteration enters the most violating row of all, as if each iteration made a pass
  over X;
* ``pool``: column generation as the engine does it, without its working-set rounds: each pass over
  X offers the ``--pool`` most violating rows, and the restricted problem over them and the corral
  is solved to optimality (rows that leave the corral return to the pool) before the next pass;
* ``pool-cap``: the same, but the next pass comes after at most ``--cap`` iterations.

Each line gives iterations (corral entries), passes over X and the final support; then the engine's
own counts for the same queries (``Hull.contains``, 2 threads). The method and its tolerances are
the engine's: the Gram system of the corral plus kappa e e^T with kappa = the largest squared row
norm, entry by the smallest product y.z, minor cycles that step to the first weight that reaches
zero, and the query inside once |z| <= 1e-9 times the largest row norm.

Usage::

    python bench/pricing_bound.py [--ks 50,200,800 --queries 1 --pool 256 --cap 50]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.linalg import cho_factor, cho_solve

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hull import mnist_pixels  # noqa: E402


def emit(**kw) -> None:
    print(json.dumps(kw), flush=True)


class Wolfe:
    """Wolfe's method on the rows Y (n x d, shifted by q) with a caller-driven choice of entering rows.

    The corral's Gram matrix is kept incrementally; its factor is recomputed for each affine minimiser
    (numpy's Cholesky on at most ~d + 1 rows), which is slow but leaves no doubt about the arithmetic.
    """

    def __init__(self, Y: np.ndarray, rtol: float = 1e-9):
        self.Y = Y
        sq = np.einsum("ij,ij->i", Y, Y)
        self.kappa = float(sq.max())
        self.thr = rtol * np.sqrt(self.kappa)
        j0 = int(np.argmin(sq))  # the nearest row: the engine's first corral point
        self.C = [j0]
        self.lam = np.ones(1)
        self.G = np.array([[sq[j0]]])
        self.z = Y[j0].copy()
        self.iters = 0
        self.barred = set()  # rows found numerically dependent on the corral: never offered again

    def inside(self) -> bool:
        return float(np.sqrt(self.z @ self.z)) <= self.thr

    def violates(self, p: float) -> bool:
        zz = float(self.z @ self.z)
        return zz - p > 1e-12 * zz

    def enter(self, j: int) -> list:
        """One major iteration with row j entering; returns the rows that left the corral."""
        Y = self.Y
        g = Y[self.C] @ Y[j]
        G = np.block([[self.G, g[:, None]], [g[None, :], np.array([[Y[j] @ Y[j]]])]])
        C, lam = self.C + [j], np.r_[self.lam, 0.0]
        left = []
        while True:
            try:
                cf = cho_factor(G + self.kappa)
            except np.linalg.LinAlgError:  # numerically dependent: the entering row stays out
                self.barred.add(j)
                return []
            a = cho_solve(cf, np.ones(len(C)))
            a /= a.sum()
            if np.all(a > 0):
                lam = a
                break
            neg = a <= 0
            theta = np.min(lam[neg] / (lam[neg] - a[neg]))
            lam = lam + theta * (a - lam)
            keep = lam > 0
            keep[np.flatnonzero(neg)[np.argmin(lam[neg])]] = False
            left += [c for c, k in zip(C, keep) if not k]
            C = [c for c, k in zip(C, keep) if k]
            G = G[np.ix_(keep, keep)]
            lam = lam[keep] / lam[keep].sum()
        self.C, self.lam, self.G = C, lam, G
        self.z = lam @ Y[C]
        self.iters += 1
        return left


def run_rule(Y: np.ndarray, rule: str, pool_size: int, cap: int, max_iter: int = 20000) -> dict:
    w = Wolfe(Y)
    passes = 0
    t0 = time.perf_counter()
    while not w.inside() and w.iters < max_iter:
        passes += 1
        p = Y @ w.z
        p[w.C] = np.inf
        p[list(w.barred)] = np.inf
        if rule == "exact":
            j = int(np.argmin(p))
            if not w.violates(p[j]):
                break
            w.enter(j)
            continue
        order = np.argsort(p)[:pool_size]
        pool = [int(j) for j in order if w.violates(p[j])]
        if not pool:
            break
        budget = cap if rule == "pool-cap" else max_iter
        inner = 0
        while pool and inner < budget and not w.inside():
            pp = Y[pool] @ w.z
            b = int(np.argmin(pp))
            if not w.violates(pp[b]):
                break
            pool += w.enter(pool.pop(b))
            inner += 1
    return dict(iterations=w.iters, passes=passes, support=len(w.C), inside=bool(w.inside()), barred=len(w.barred),
                seconds=round(time.perf_counter() - t0, 1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ks", default="50,200,800")
    ap.add_argument("--queries", type=int, default=1, help="first queries of each k (8 are drawn, as in bench/hull.py)")
    ap.add_argument("--rules", default="exact,pool,pool-cap")
    ap.add_argument("--pool", type=int, default=256, help="rows each pass offers (the engine's face pool: 4 x 64)")
    ap.add_argument("--cap", type=int, default=50, help="iterations between passes for the pool-cap rule")
    args = ap.parse_args(argv)
    ks = [int(v) for v in args.ks.split(",")]
    X, _, _ = mnist_pixels(np.float32)
    rng = np.random.default_rng(0)  # the draws of bench/hull.py --case interior
    Qs = {k: np.stack([rng.dirichlet(np.ones(k)) @ X[rng.choice(len(X), k, replace=False)].astype(np.float64)
                       for _ in range(8)]) for k in (50, 200, 800)}
    lo, hi = X.min(0), X.max(0)
    from hullscope import Hull

    h = Hull(X, threads=2)
    for k in ks:
        for qi in range(min(args.queries, 8)):
            q = Qs[k][qi]
            tight = (lo < hi) & ((q == lo) | (q == hi))
            on_face = np.all(X[:, tight] == q[tight], axis=1)
            Y = X[on_face][:, ~tight].astype(np.float64) - q[~tight]
            r = h.contains(q, threads=2)
            emit(k=k, query=qi, rule="engine", iterations=int(r.iterations[0]), passes=int(r.passes[0]),
                 support=int(r.indptr[1] - r.indptr[0]), inside=bool(r.inside[0]))
            for rule in args.rules.split(","):
                emit(k=k, query=qi, rule=rule, pool=args.pool if rule != "exact" else None,
                     cap=args.cap if rule == "pool-cap" else None, face_rows=int(on_face.sum()),
                     free_coordinates=int((~tight).sum()), **run_rule(Y, rule, args.pool, args.cap))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
