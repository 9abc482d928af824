"""The pricing pass's kernels give the same bits.

A pass with one column takes the matrix-vector kernel, which sums every element. A pass with several
columns takes the packed kernel, and on rows that share zeros (pixels of digits on a blank
background) its indexed form skips the elements where every row of a 6-row group is zero. Skipping a
term 0 * z must leave each sum unchanged, so answers must be bit for bit the same whichever kernel,
thread count or chunking priced them, and verdicts must match HiGHS.
"""
from __future__ import annotations

import numpy as np
import pytest

from hullscope import Hull
from oracles import lp_member


def stroke_data(n: int, d: int, seed: int, offset: float) -> np.ndarray:
    """Rows that are zero (after `offset`) outside a short random window, plus a few dense rows."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n, d))
    for i in range(n):
        a = rng.integers(0, d - 12)
        w = rng.integers(4, 12)
        X[i, a:a + w] = rng.uniform(0.1, 1.0, size=w)
    dense = rng.choice(n, n // 20, replace=False)
    X[dense] = rng.uniform(0.0, 1.0, size=(len(dense), d))
    X[rng.random(X.shape) < 0.02] = 0.0  # holes inside windows and dense rows
    return X + offset


@pytest.mark.parametrize("offset", [0.0, 100.0])  # data at the origin, and far from it (exact centring)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernels_agree_bitwise_on_rows_with_shared_zeros(offset, dtype):
    X = stroke_data(1500, 160, seed=11, offset=offset).astype(dtype)
    Xw = X.astype(np.float64)
    rng = np.random.default_rng(12)
    inside = np.stack([rng.dirichlet(np.ones(k)) @ Xw[rng.choice(len(X), k, replace=False)] for k in (3, 8, 25, 60)])
    outside = Xw[rng.choice(len(X), 6, replace=False)] + rng.normal(scale=0.3, size=(6, X.shape[1]))
    Q = np.vstack([inside, outside])
    h = Hull(X)
    a = h.distance(Q, threads=1)
    b = h.distance(Q, threads=2, chunk_size=3, block=8)
    one = h.distance(Q, chunk_size=1)  # every pass prices one column: the matrix-vector kernel, no skipping
    for other in (b, one):
        for f in ("status", "distance", "lower", "margin", "nearest", "normal", "passes", "iterations"):
            np.testing.assert_array_equal(getattr(a, f), getattr(other, f), err_msg=f)
    assert a.verify(), a.verify().failures
    assert (a.status[: len(inside)] != "outside").all()
    for i in (0, 3, len(inside), len(Q) - 1):
        assert (a.status[i] != "outside") == lp_member(Xw, Q[i]), i


def test_leave_one_out_on_rows_with_shared_zeros_against_highs():
    X = stroke_data(220, 48, seed=13, offset=0.0).astype(np.float32)
    X = np.vstack([X, 0.5 * (X[:3] + X[3:6])])  # three midpoints: inside the hull of the others
    r = Hull(X).leave_one_out()
    assert r.verify(), r.verify().failures
    r1 = Hull(X).leave_one_out(threads=2, chunk_size=1)
    np.testing.assert_array_equal(r.status, r1.status)
    np.testing.assert_array_equal(r.margin, r1.margin)
    Xw = X.astype(np.float64)
    for i in list(range(0, len(X), 11)) + [len(X) - 3, len(X) - 2, len(X) - 1]:
        assert (r.status[i] in ("inside", "boundary")) == lp_member(np.delete(Xw, i, axis=0), Xw[i]), i
    assert (r.status[-3:] != "outside").all()
