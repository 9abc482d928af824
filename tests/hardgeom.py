"""Hard-geometry families for the hull engine, each query with its true distance known independently.

Every case is (X, Q, D): the hull rows, the queries and the exact distances from the queries to
conv(X), obtained by construction (cubes, simplices, cross-polytopes with a point put at a known
distance off a face) or by brute force over every subset of at most d+1 rows (small random sets,
low-rank sets, duplicates, integer data, single points). Shared by ``tests/test_exactness.py``
(a bounded seed range) and ``bench/fuzz.py`` (many seeds).
"""
from __future__ import annotations

import numpy as np

from oracles import brute_distance

FAMILIES = ("cube", "simplex", "cross", "random", "lowrank", "duplicates", "integer", "single")


def _affine(rng):
    """A random offset and scale: offsets up to 1e8, spreads from 1e-4 to 1e3."""
    offset = 10.0 ** rng.uniform(-1, 8) * rng.choice([-1, 1])
    spread = 10.0 ** rng.uniform(-4, 3)
    return offset, spread


def _off_face(rng, k):
    """k signed relative offsets off a face: 1e-12 .. 1e-2, both sides, and exactly on it."""
    mags = 10.0 ** rng.uniform(-12, -2, size=k)
    sign = rng.choice([-1.0, 1.0], size=k)
    delta = mags * sign
    delta[0] = 0.0
    return delta


def _polytope_case(rng, kind, d, off, spread):
    """Axis-aligned polytope (no rotation), so that the stored data define the truth exactly."""
    from fractions import Fraction as Fr

    if kind == "cube":
        V = np.array(np.meshgrid(*[[0.0, 1.0]] * d)).reshape(d, -1).T
        c = rng.uniform(0.2, 0.8, size=d)
        c[0] = 1.0
        n = np.zeros(d)
        n[0] = 1.0
        inner = rng.uniform(0.1, 0.9, size=(3, d))
    elif kind == "simplex":
        V = np.vstack([np.zeros(d), np.eye(d)])
        c = rng.dirichlet(np.full(d, 5.0))  # on the facet sum(x) = 1, well inside it
        n = np.ones(d) / np.sqrt(d)
        inner = rng.dirichlet(np.full(d + 1, 5.0), size=3) @ V
    else:  # cross-polytope
        V = np.vstack([np.eye(d), -np.eye(d)])
        c = rng.dirichlet(np.full(d, 5.0))  # on the facet sum(x) = 1 of the positive orthant
        n = np.ones(d) / np.sqrt(d)
        inner = 0.5 * rng.uniform(-1, 1, size=(3, d)) / d
    delta = _off_face(rng, 6)
    Q0 = np.vstack([c[None, :] + delta[:, None] * n[None, :], inner, c + 3.0 * n])
    X = off + spread * V
    Q = off + spread * Q0
    # exact distances of the stored (rounded) points, in rational arithmetic
    o = Fr(float(off))
    lo, hi = Fr(float(X.min())) - o, Fr(float(X.max())) - o
    top = Fr(float(X[1 if kind == "simplex" else 0, 0])) - o  # the stored facet: sum(x - off) = top
    D = np.zeros(len(Q))
    for i, q in enumerate(Q):
        qf = [Fr(float(v)) - o for v in q]
        if kind == "cube":
            gap = [max(Fr(0), v - hi, lo - v) for v in qf]
            D[i] = float(np.sqrt(float(sum(g * g for g in gap))))
        elif i < 6 or i == len(Q) - 1:  # off-face and far points: distance to that facet
            D[i] = max(0.0, float(sum(qf) - top) / np.sqrt(d))
        else:
            D[i] = 0.0  # strictly inside
    return X, Q, D


def make_case(family: str, seed: int):
    """One case of ``family`` drawn from ``seed``: (X, Q, D, info)."""
    rng = np.random.default_rng(seed)
    off, spread = _affine(rng)
    if family in ("cube", "simplex", "cross"):
        d = int(rng.integers(2, 6 if family == "cube" else 8))
        X, Q, D = _polytope_case(rng, family, d, off, spread)
        return X, Q, D, dict(family=family, d=d, offset=off, spread=spread)
    if family == "single":
        d = int(rng.integers(1, 6))
        x = off + spread * rng.normal(size=d)
        u = rng.normal(size=d)
        u /= np.linalg.norm(u)
        rel = np.r_[0.0, 10.0 ** rng.uniform(-12, 0, size=5)]
        Q = x + np.outer(rel * np.abs(x).max(), u)
        X = x[None, :]
        from fractions import Fraction as Fr
        D = np.array([np.sqrt(float(sum((Fr(float(a)) - Fr(float(b))) ** 2 for a, b in zip(q, x)))) for q in Q])
        return X, Q, D, dict(family=family, d=d, offset=off, spread=spread)
    d = int(rng.integers(2, 5))
    n = int(rng.integers(d + 1, 10))
    if family == "random":
        Y = rng.normal(size=(n, d))
    elif family == "lowrank":
        Y = rng.normal(size=(n, 2)) @ rng.normal(size=(2, d))
    elif family == "duplicates":
        Y = rng.normal(size=(n, d))
        Y = np.vstack([Y, Y[rng.integers(0, n, size=3)]])
    else:  # integer
        Y = rng.integers(-5, 6, size=(n, d)).astype(float)
        off, spread = float(rng.integers(-10**6, 10**6)), 1.0
    Q0 = np.vstack([rng.dirichlet(np.ones(len(Y)), size=3) @ Y,      # inside
                    rng.normal(size=(4, d)) * 2.0,                     # mostly outside
                    Y[:2]])                                            # vertices
    if family == "integer":
        Q0 = np.round(Q0)
    X = off + spread * Y
    Q = off + spread * Q0
    # distances of the stored points, by brute force in the frame centred on X[0] (the differences
    # are exact where the offset dominates, and carry only rounding of the spread elsewhere)
    D = np.array([brute_distance(X - X[0], q - X[0]) for q in Q])
    return X, Q, D, dict(family=family, d=d, offset=off, spread=spread)


def judge(res, D, slack: float = 2.0):
    """Compare a hull result with the true distances D: lists of wrong verdicts and bad distances.

    A query at true distance D must be 'outside' when D > slack * tol, 'inside' or 'boundary' when
    D <= tol, and may be either near the threshold. Distances of converged queries must match D to
    1e-6 relative or 4 tol. Returns (wrong_verdicts, bad_distances, unconverged) as index lists.
    """
    wrong, bad, unconv = [], [], []
    for i, st in enumerate(res.status):
        tol = float(res.tol[i])
        if st == "unconverged":
            unconv.append(i)
            if not (res.lower[i] <= D[i] * (1 + 1e-9) + tol and res.distance[i] >= D[i] * (1 - 1e-9) - tol):
                bad.append(i)
            continue
        if D[i] > slack * tol and st != "outside":
            wrong.append(i)
        elif D[i] <= tol and st == "outside":
            wrong.append(i)
        if res.converged[i] and abs(res.distance[i] - D[i]) > max(1e-6 * D[i], 4 * tol):
            bad.append(i)
        if res.lower[i] > D[i] * (1 + 1e-9) + tol:
            bad.append(i)
    return wrong, bad, unconv
