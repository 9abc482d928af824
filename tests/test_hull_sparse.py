"""The CSR copy of X's non-zero entries (``Hull(X, sparse=...)``).

Where most entries of X are zero the pricing passes read a CSR copy of the non-zero entries instead
of X. Each product then sums the same non-zero terms, in the same order and with the same operations,
as the dense kernels; a zero term changes no sum, so every answer must be the same bits as with the
copy turned off. These tests compare the two paths bit for bit, on both storage types, through the
packed kernel (several queries in flight), the matrix-vector kernel (a query alone), subsets and
leave-one-out, and check the certificates and the membership against HiGHS.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from hullscope import Hull
from oracles import lp_member


def sparse_data(n=1500, d=96, density=0.15, seed=0, dtype=np.float64):
    """Non-negative rows with about `density` non-zero entries, a few all-zero rows and -0.0 entries."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, d)) * (rng.random((n, d)) < density)
    X[::97] = 0.0                       # empty rows: their products are +0
    X[1::53, ::7] = -0.0                # negative zeros count as zeros
    return X.astype(dtype)


def queries(X, seed=1):
    rng = np.random.default_rng(seed)
    n, d = X.shape
    X64 = X.astype(np.float64)
    inside = np.stack([rng.dirichlet(np.ones(k)) @ X64[rng.choice(n, k, replace=False)] for k in (3, 20, 60, 150)])
    outside = X64[rng.choice(n, 6, replace=False)] + rng.normal(scale=0.3, size=(6, d))
    vertex = X64[[5, 11]]               # on the hull's boundary
    return np.vstack([inside, outside, vertex])


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    assert a.tobytes() == b.tobytes()


def assert_same_answers(r1, r2):
    same_bits(r1.distance, r2.distance)
    same_bits(r1.iterations, r2.iterations)
    same_bits(r1.passes, r2.passes)
    assert list(r1.status) == list(r2.status)
    for name in ("indptr", "indices", "values", "normal", "nearest"):
        if hasattr(r1, name):
            same_bits(getattr(r1, name), getattr(r2, name))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_path_gives_the_dense_bits(dtype):
    X = sparse_data(dtype=dtype)
    Q = queries(X)
    hs, hd = Hull(X, sparse=True), Hull(X, sparse=False)
    assert hs.sparse and not hd.sparse
    assert np.shares_memory(hs.X, X)  # the copy is beside X, not instead of it
    for method in ("distance", "contains"):
        rs, rd = getattr(hs, method)(Q), getattr(hd, method)(Q)
        assert_same_answers(rs, rd)
        assert rs.verify()
    # one query alone takes the matrix-vector kernel
    for j in (0, 2, 5, len(Q) - 1):
        assert_same_answers(hs.distance(Q[j:j + 1]), hd.distance(Q[j:j + 1]))
    # and the answers do not depend on the thread count or on the chunking
    assert_same_answers(hs.distance(Q, threads=1), hd.distance(Q, threads=2))
    assert_same_answers(hs.distance(Q, chunk_size=3), hd.distance(Q))


def test_sparse_path_verdicts_match_highs():
    X = sparse_data(n=400, d=40, density=0.2, seed=3)
    Q = queries(X, seed=4)
    r = Hull(X, sparse=True).contains(Q)
    assert r.verify()
    for j in range(len(Q)):
        assert bool(r.inside[j]) == lp_member(X, Q[j])


def test_sparse_path_on_subsets_and_leave_one_out():
    X = sparse_data(n=600, d=48, density=0.2, seed=5)
    Q = queries(X, seed=6)
    hs, hd = Hull(X, sparse=True), Hull(X, sparse=False)
    sub = np.arange(0, 600, 3)
    assert_same_answers(hs.distance(Q, subset=sub), hd.distance(Q, subset=sub))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ls, ld = hs.leave_one_out(), hd.leave_one_out()
    same_bits(ls.distance, ld.distance)
    assert list(ls.status) == list(ld.status)


def test_many_queries_in_flight_use_several_panels():
    # more than 8 queries in flight: the packed pass runs several 8-column panels
    X = sparse_data(n=800, d=64, seed=7)
    Q = np.vstack([queries(X, seed=s) for s in range(8, 11)])
    assert len(Q) > 16
    assert_same_answers(Hull(X, sparse=True).distance(Q), Hull(X, sparse=False).distance(Q))


def test_automatic_choice_and_its_bytes():
    Xs = sparse_data(n=300, d=50, density=0.1, dtype=np.float32)
    h = Hull(Xs)
    nnz = int(np.count_nonzero(Xs))
    assert h.sparse and h.density == pytest.approx(nnz / Xs.size)
    # 16-bit column indices, values as X stores them, one offset per row and one more
    assert h.sparse_bytes == nnz * (2 + 4) + (300 + 1) * 8
    assert Hull(Xs.astype(np.float64)).sparse_bytes == nnz * (2 + 8) + (300 + 1) * 8
    dense = np.random.default_rng(0).normal(size=(300, 50))
    hd = Hull(dense)
    assert not hd.sparse and hd.sparse_bytes == 0 and hd.density == 1.0
    assert Hull(dense, sparse=True).sparse  # forced
    assert not Hull(Xs, sparse=False).sparse and Hull(Xs, sparse=False).sparse_bytes == 0


def test_forced_on_dense_digits_gives_the_same_bits():
    from sklearn.datasets import load_digits

    X = load_digits().data[:500]  # about half the pixels non-zero: not sparse enough to be automatic
    assert not Hull(X).sparse
    rng = np.random.default_rng(2)
    Q = np.vstack([rng.dirichlet(np.ones(30)) @ X[rng.choice(len(X), 30, replace=False)] for _ in range(4)]
                  + [X[:3] * 1.2])
    assert_same_answers(Hull(X, sparse=True).distance(Q), Hull(X, sparse=False).distance(Q))


def test_bad_sparse_argument():
    X = sparse_data(n=50, d=10)
    with pytest.raises(TypeError, match="sparse"):
        Hull(X, sparse="yes")
    with pytest.raises(ValueError, match="sparse"):
        Hull(np.zeros((2, 65537), dtype=np.float32), sparse=True)
    # automatic: too wide for 16-bit indices, so no copy, and no error
    assert not Hull(np.zeros((2, 65537), dtype=np.float32)).sparse
