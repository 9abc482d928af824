"""float32 storage: Hull keeps a float32 X as it is (no copy) and answers exactly for the stored values.

Every float32 value is exact in float64 and the core widens each element before any product, so a
float32 hull and the float64 hull of the same values must give the same verdicts, the same
distances (to the tolerance; in practice bit for bit) and certificates that verify against the
float32 X.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from hardgeom import FAMILIES, make_case
from hullscope import Hull
from oracles import lp_member


def test_float32_x_is_used_in_place():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 7)).astype(np.float32)
    h = Hull(X)
    assert h.X.dtype == np.float32
    assert np.shares_memory(h.X, X)
    assert h._ps.dtype == "float32"
    assert h._ps.data_address == X.ctypes.data  # the core reads the caller's buffer
    # float64 stays float64, also without a copy
    X64 = X.astype(np.float64)
    h64 = Hull(X64)
    assert h64._ps.dtype == "float64" and h64._ps.data_address == X64.ctypes.data


def test_non_contiguous_float32_is_copied_once_as_float32():
    X = np.random.default_rng(1).normal(size=(7, 300)).astype(np.float32).T  # Fortran order
    h = Hull(X)
    assert h.X.dtype == np.float32 and h.X.flags.c_contiguous
    assert not np.shares_memory(h.X, X)
    np.testing.assert_array_equal(h.X, X)


def test_float32_torch_tensor_shares_memory():
    torch = pytest.importorskip("torch")
    t = torch.randn(300, 5, dtype=torch.float32)
    h = Hull(t)
    assert h.X.dtype == np.float32 and h._ps.data_address == t.data_ptr()


def test_float16_is_widened_to_float64():
    X = np.random.default_rng(2).normal(size=(50, 3)).astype(np.float16)
    h = Hull(X)
    assert h.X.dtype == np.float64
    np.testing.assert_array_equal(h.X, X.astype(np.float64))


@pytest.mark.parametrize("family", FAMILIES)
def test_float32_and_float64_agree_on_hard_geometry(family):
    """The fuzz families (offsets, single points, duplicates, low rank, near-boundary queries),
    stored in float32: same verdicts and distances as the float64 hull of the same values (whose
    exactness test_exactness checks against closed forms and brute force), certificates valid."""
    for seed in range(4):
        X, Q, _, info = make_case(family, seed)
        X32 = X.astype(np.float32)
        Xw = X32.astype(np.float64)  # the values the float32 hull holds, exactly
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # rare unconverged low-rank cases are judged by their bounds
            r32 = Hull(X32).distance(Q)
            r64 = Hull(Xw).distance(Q)
        np.testing.assert_array_equal(r32.status, r64.status)
        close = r32.converged & r64.converged
        np.testing.assert_allclose(r32.distance[close], r64.distance[close], rtol=0, atol=float(np.max(r32.tol)) + 0.0)
        assert r32.verify(), (family, seed, info, r32.verify().failures)


def test_float32_membership_against_highs():
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(120, 6)) * np.array([1, 2, 3, 0.5, 1, 4])).astype(np.float32)
    Xw = X.astype(np.float64)
    Q = np.vstack([rng.dirichlet(np.ones(5), size=6) @ Xw[rng.choice(120, 5, replace=False)],
                   rng.normal(size=(8, 6)) * 3])
    r = Hull(X).contains(Q)
    assert r.verify()
    for i, q in enumerate(Q):
        assert (r.status[i] in ("inside", "boundary")) == lp_member(Xw, q), i


def test_float32_leave_one_out_against_highs():
    rng = np.random.default_rng(4)
    X = np.vstack([rng.normal(size=(50, 3)), 0.2 * rng.normal(size=(40, 3))]).astype(np.float32)
    X = np.vstack([X, X[:2]])  # rows 0 and 1 appear twice: each is inside the hull of the others
    r = Hull(X).leave_one_out()
    assert r.verify(), r.verify().failures
    Xw = X.astype(np.float64)
    for i in range(X.shape[0]):
        member = lp_member(np.delete(Xw, i, axis=0), Xw[i])
        assert (r.status[i] in ("inside", "boundary")) == member, i
    assert r.status[0] == "inside" and r.status[1] == "inside"


def test_float32_bitwise_identical_for_threads_and_chunks():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 12)).astype(np.float32)
    Q = np.vstack([rng.dirichlet(np.ones(30), size=10) @ X[:30].astype(np.float64), 2 * rng.normal(size=(20, 12))])
    h = Hull(X)
    a = h.distance(Q, threads=1)
    b = h.distance(Q, threads=2, chunk_size=7)
    one = h.distance(Q[:6], chunk_size=1)  # every pass prices one column: the matrix-vector kernel
    for f in ("status", "distance", "lower", "margin", "nearest", "normal", "indices", "values"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    for f in ("status", "distance", "lower", "margin", "nearest", "normal"):
        np.testing.assert_array_equal(getattr(one, f), getattr(a, f)[:6], err_msg=f)
    for i in range(6):
        for u, v in zip(one.support(i), a.support(i)):
            np.testing.assert_array_equal(u, v)
    c = Hull(X.astype(np.float64)).distance(Q, threads=2)
    np.testing.assert_array_equal(a.status, c.status)
    np.testing.assert_array_equal(a.distance, c.distance)


def test_float32_nan_is_refused_with_its_position():
    X = np.ones((10, 4), dtype=np.float32)
    X[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"X: contains NaN or inf \(first at row 7, column 2\)"):
        Hull(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hard_interior_queries_against_highs(dtype):
    """Queries deep inside the hull (Dirichlet combinations of k training images, as in
    bench/hull.py --case interior, here on the 8x8 digits), and the same queries pushed outside
    along a direction away from the data: verdicts agree with HiGHS, certificates verify, and
    contains() never does more work than distance() on the same query."""
    from sklearn.datasets import load_digits

    X = np.ascontiguousarray(load_digits().data / 16.0, dtype=dtype)
    Xw = X.astype(np.float64)
    rng = np.random.default_rng(7)
    Q = np.stack([rng.dirichlet(np.ones(k)) @ Xw[rng.choice(len(X), k, replace=False)] for k in (5, 20, 80, 300)])
    far = Q + 0.05 * (Q - Xw.mean(axis=0))  # beyond each combination, away from the centroid
    Q = np.vstack([Q, far])
    h = Hull(X)
    rc, rd = h.contains(Q), h.distance(Q)
    assert rc.verify(), rc.verify().failures
    assert rd.verify(), rd.verify().failures
    assert (rc.status[:4] == "inside").all()
    # deep inside, the distance reaches the rounding floor: the corral's weights reproduce q to
    # well under the tolerance (checked here from the returned support, independently of the core)
    assert rd.converged[:4].all(), rd.status
    for i in range(4):
        lo, hi = rd.indptr[i], rd.indptr[i + 1]
        p = rd.values[lo:hi] @ Xw[rd.indices[lo:hi]]
        assert np.linalg.norm(p - Q[i]) <= 1e-3 * rd.tol[i], (i, np.linalg.norm(p - Q[i]), rd.tol[i])
    for i, q in enumerate(Q):
        member = lp_member(Xw, q)
        assert (rc.status[i] in ("inside", "boundary")) == member, (i, rc.status[i])
        assert (rd.status[i] in ("inside", "boundary")) == member, (i, rd.status[i])
    assert (rc.passes <= rd.passes).all() and (rc.iterations <= rd.iterations).all()


def test_deep_queries_keep_the_working_set_wide():
    """A query whose corral outgrows twice the pool (here pool=8, corrals of about 55 digits) keeps
    each pass's 1,024 leading candidates in its working set and solves the restricted problem over
    them between passes: a handful of passes where a pool of 8 per pass took 12 (up to 18). The
    answers still agree with HiGHS and verify."""
    from sklearn.datasets import load_digits

    X = np.ascontiguousarray(load_digits().data / 16.0)
    rng = np.random.default_rng(1)
    Q = np.stack([rng.dirichlet(np.ones(40)) @ X[rng.choice(len(X), 40, replace=False)] for _ in range(12)])
    h = Hull(X)
    for method in ("contains", "distance"):
        r = getattr(h, method)(Q, pool=8)
        assert r.verify(), r.verify().failures
        assert (r.status == "inside").all() and r.converged.all(), r.status
        assert np.diff(r.indptr).max() > 16  # the corral did outgrow twice the pool
        assert r.passes.max() <= 8, r.passes
    for i in range(3):
        assert lp_member(X, Q[i])


def test_major_iterations_enter_up_to_four_rows():
    """Each major iteration of the restricted problem enters up to four rows at once. So a support
    holds at most the first row plus four per iteration, and deep queries reach supports that one
    row per iteration could not (more rows than iterations plus one). Here, Dirichlet combinations
    of 40 digits end with supports of 52-57 rows after 40-86 major iterations; one row at a time
    took 120-286. The answers verify and agree with HiGHS."""
    from sklearn.datasets import load_digits

    X = np.ascontiguousarray(load_digits().data / 16.0)
    rng = np.random.default_rng(1)
    Q = np.stack([rng.dirichlet(np.ones(40)) @ X[rng.choice(len(X), 40, replace=False)] for _ in range(12)])
    r = Hull(X).distance(Q)
    assert r.verify(), r.verify().failures
    assert (r.status == "inside").all() and r.converged.all(), r.status
    support = np.diff(r.indptr)
    assert (support <= 4 * r.iterations + 1).all(), (support, r.iterations)
    assert (support > r.iterations + 1).sum() >= 2, (support, r.iterations)
    for i in range(2):
        assert lp_member(X, Q[i])


@pytest.mark.parametrize("method", ["contains", "distance"])
def test_query_alone_shares_its_threads_without_changing_a_bit(method):
    """A query alone in its pass gives its threads to its own row sweeps (products with the corral,
    z by blocks of coordinates, pricing the working set). Its answer is the same, bit for bit, with
    1, 2 or 3 threads and inside a batch, where it is priced alongside other queries on one thread.
    The corrals here (about 55 rows of 64 coordinates, plus a point far outside) are large enough for
    every sweep to be split."""
    from sklearn.datasets import load_digits

    X = np.ascontiguousarray(load_digits().data / 16.0)
    rng = np.random.default_rng(7)
    Q = np.stack([rng.dirichlet(np.ones(60)) @ X[rng.choice(len(X), 60, replace=False)] for _ in range(4)]
                 + [X[5] + 0.4])
    batch = getattr(Hull(X, threads=2), method)(Q, pool=8)
    assert batch.verify(), batch.verify().failures
    assert np.diff(batch.indptr)[:4].min() >= 32  # corrals past the size where the sweeps split
    for th in (1, 2, 3):
        h = Hull(X, threads=th)
        for i in range(len(Q)):
            r = getattr(h, method)(Q[i:i + 1], pool=8)
            assert r.status[0] == batch.status[i]
            assert r.distance.tobytes() == batch.distance[i:i + 1].tobytes()
            assert r.indices.tobytes() == batch.indices[batch.indptr[i]:batch.indptr[i + 1]].tobytes()
            assert r.values.tobytes() == batch.values[batch.indptr[i]:batch.indptr[i + 1]].tobytes()
            assert r.nearest.tobytes() == batch.nearest[i:i + 1].tobytes()
