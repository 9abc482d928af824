"""Hull membership and distance against independent oracles, with every certificate verified."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hullscope import Hull
from oracles import brute_distance, lp_member, qp_distance


def make_queries(X: np.ndarray, rng: np.random.Generator, n_in: int, n_out: int) -> np.ndarray:
    """Random convex combinations (inside) and random, mostly-outside Gaussian points."""
    n, d = X.shape
    ins = []
    for _ in range(n_in):
        k = int(rng.integers(1, min(n, 3 * d) + 1))
        idx = rng.choice(n, size=k, replace=False)
        ins.append(rng.dirichlet(np.ones(k)) @ X[idx])
    c = X.mean(axis=0)
    spread = np.abs(X - c).max()
    outs = c + rng.normal(size=(n_out, d)) * spread * rng.uniform(0.3, 2.0, size=(n_out, 1))
    return np.vstack(ins + [outs])


# (n, d) cases up to n = 2,000 and d = 100, with n < d among them
CASES = [(30, 2), (60, 3), (200, 5), (500, 10), (2000, 20), (1000, 100), (40, 100), (300, 50)]


@pytest.mark.parametrize("n,d", CASES)
def test_membership_agrees_with_highs_lp(n, d):
    rng = np.random.default_rng(n * 1000 + d)
    X = rng.normal(size=(n, d))
    Q = make_queries(X, rng, 20, 20)
    h = Hull(X)
    res = h.contains(Q)
    dist = h.distance(Q)
    assert res.verify(), res.verify().failures
    assert dist.verify(), dist.verify().failures
    for i, q in enumerate(Q):
        member = lp_member(X, q)
        if member:
            assert res.status[i] in ("inside", "boundary"), (i, res.status[i])
            assert dist.status[i] in ("inside", "boundary")
        else:
            assert res.status[i] in ("outside", "boundary"), (i, res.status[i])
            assert dist.status[i] in ("outside", "boundary")
    # these random cases are never within 1e-9 of the boundary
    assert not np.any(res.status == "boundary")
    assert np.all(dist.converged)


@pytest.mark.parametrize("n,d", [(40, 3), (150, 8), (400, 30), (300, 64)])
def test_distance_agrees_with_highs_qp(n, d):
    rng = np.random.default_rng(7 + n + d)
    X = rng.normal(size=(n, d))
    Q = make_queries(X, rng, 5, 12)
    r = Hull(X).distance(Q)
    assert r.verify(), r.verify().failures
    for i, q in enumerate(Q):
        ref = qp_distance(X, q)
        if r.status[i] == "outside":
            assert r.distance[i] == pytest.approx(ref, rel=1e-7)
            # the certified interval contains the reference
            assert r.lower[i] <= ref * (1 + 1e-7)
        else:
            assert ref < 1e-6 * r.scale[i]
            assert r.distance[i] <= r.tol[i]


def test_distance_brute_force_small():
    rng = np.random.default_rng(3)
    for trial in range(30):
        d = int(rng.integers(2, 4))
        n = int(rng.integers(1, 8))
        X = rng.normal(size=(n, d))
        Q = rng.normal(size=(4, d)) * 1.5
        r = Hull(X).distance(Q)
        assert r.verify(), r.verify().failures
        for i, q in enumerate(Q):
            assert r.distance[i] == pytest.approx(brute_distance(X, q), rel=1e-9, abs=1e-12)


def test_nearest_neighbour_in_same_pass():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(700, 12))
    Q = rng.normal(size=(40, 12))
    r = Hull(X).distance(Q)
    D = np.linalg.norm(X[None, :, :] - Q[:, None, :], axis=2)
    np.testing.assert_array_equal(r.nn_index, D.argmin(axis=1))
    np.testing.assert_allclose(r.nn_distance, D.min(axis=1), rtol=1e-12)


# ---- degenerate geometry -------------------------------------------------------------------------

def test_duplicate_points():
    rng = np.random.default_rng(5)
    base = rng.normal(size=(50, 4))
    X = np.repeat(base, 3, axis=0)
    Q = make_queries(base, rng, 10, 10)
    r = Hull(X).distance(Q)
    assert r.verify()
    ref = Hull(base).distance(Q)
    np.testing.assert_allclose(r.distance, ref.distance, rtol=1e-9, atol=1e-12)
    for i, q in enumerate(Q):
        assert (r.status[i] == "inside") == lp_member(base, q)


def test_lower_dimensional_affine_subspace():
    rng = np.random.default_rng(8)
    basis = np.linalg.qr(rng.normal(size=(10, 3)))[0]  # 3-d subspace of R^10
    offset = rng.normal(size=10)
    X = rng.normal(size=(80, 3)) @ basis.T + offset
    inside = rng.dirichlet(np.ones(80), size=10) @ X
    normal_dir = np.linalg.qr(np.c_[basis, rng.normal(size=(10, 1))])[0][:, 3]
    off_plane = inside + 1e-3 * normal_dir  # inside the 3-d hull, 1e-3 off its plane
    h = Hull(X)
    r = h.contains(np.vstack([inside, off_plane]))
    assert r.verify(), r.verify().failures
    assert np.all(r.status[:10] == "inside")
    assert np.all(r.status[10:] == "outside")
    d = h.distance(off_plane)
    np.testing.assert_allclose(d.distance, 1e-3, rtol=1e-6)
    for q in off_plane[:3]:
        assert not lp_member(X, q)


def test_single_point_and_n_less_than_d():
    X = np.array([[1.0, 2.0, 3.0]])
    r = Hull(X).distance([[1.0, 2.0, 3.0], [1.0, 2.0, 4.0]])
    assert list(r.status) == ["inside", "outside"]
    assert r.distance[1] == pytest.approx(1.0)
    assert r.verify()
    rng = np.random.default_rng(2)
    X = rng.normal(size=(5, 50))
    q = X[:3].mean(axis=0)
    r = Hull(X).distance(np.vstack([q, q + 0.1]))
    assert r.status[0] == "inside" and r.status[1] == "outside"
    assert r.distance[1] == pytest.approx(qp_distance(X, q + 0.1), rel=1e-7)
    assert r.verify()


def test_vertices_and_facets_of_a_cube():
    corners = np.array(np.meshgrid(*[[0.0, 1.0]] * 3)).reshape(3, -1).T
    rng = np.random.default_rng(0)
    interior = rng.uniform(0.1, 0.9, size=(20, 3))
    X = np.vstack([corners, interior])
    on_facet = rng.uniform(0, 1, size=(10, 3))
    on_facet[:, 0] = 1.0
    on_edge = np.c_[rng.uniform(0, 1, 5), np.ones(5), np.zeros(5)]
    Q = np.vstack([corners, on_facet, on_edge])
    r = Hull(X).contains(Q)
    assert r.verify(), r.verify().failures
    assert np.all(r.status == "inside")
    for q in Q:
        assert lp_member(X, q)
    # just outside a facet: outside by 1e-6, far beyond the 1e-9 tolerance
    out = on_facet.copy()
    out[:, 0] += 1e-6
    r = Hull(X).distance(out)
    assert np.all(r.status == "outside")
    np.testing.assert_allclose(r.distance, 1e-6, rtol=1e-6)
    # within the tolerance: 'boundary', with both certificates
    hair = on_facet.copy()
    hair[:, 0] += 1e-12
    r = Hull(X).distance(hair)
    assert np.all(r.status == "boundary"), r.status
    assert r.verify(), r.verify().failures


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_tiny_and_huge_coordinates(scale):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 8))
    Q = make_queries(X, rng, 10, 10)
    ref = Hull(X).distance(Q)
    r = Hull(X * scale).distance(Q * scale)
    assert r.verify(), r.verify().failures
    np.testing.assert_array_equal(r.status, ref.status)
    np.testing.assert_allclose(r.distance, ref.distance * scale, rtol=1e-8, atol=1e-12 * scale)


def test_offset_data():
    rng = np.random.default_rng(6)
    X = 1e6 + rng.normal(size=(200, 5))
    Q = make_queries(X - 1e6, rng, 8, 8) + 1e6
    r = Hull(X).distance(Q)
    assert r.verify(), r.verify().failures
    for i, q in enumerate(Q):
        assert (r.status[i] in ("inside", "boundary")) == lp_member(X - 1e6, q - 1e6)


# ---- subsets and leave-one-out -------------------------------------------------------------------

def test_subset_matches_hull_of_the_rows():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(600, 6))
    labels = rng.integers(0, 3, size=600)
    Q = rng.normal(size=(30, 6)) * 0.8
    h = Hull(X)
    for c in range(3):
        mask = labels == c
        r = h.distance(Q, subset=mask)
        assert r.verify(), r.verify().failures
        rows = np.flatnonzero(mask)
        assert np.all(np.isin(r.indices, rows))
        ref = Hull(X[mask]).distance(Q)
        np.testing.assert_allclose(r.distance, ref.distance, rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(r.status, ref.status)
        r2 = h.distance(Q, subset=rows)
        np.testing.assert_array_equal(r2.distance, r.distance)


def test_leave_one_out_against_lp():
    rng = np.random.default_rng(10)
    X = np.vstack([rng.normal(size=(60, 3)), rng.normal(size=(60, 3)) * 0.2])
    X = np.vstack([X, X[:2]])  # duplicates: rows 0 and 1 appear twice
    h = Hull(X)
    r = h.leave_one_out()
    assert r.verify(), r.verify().failures
    for i in range(X.shape[0]):
        member = lp_member(np.delete(X, i, axis=0), X[i])
        assert (r.status[i] in ("inside", "boundary")) == member, i
    assert r.status[0] == "inside" and r.status[1] == "inside"


# ---- certificates, determinism, inputs -----------------------------------------------------------

def test_corrupted_certificates_fail_verify():
    rng = np.random.default_rng(12)
    X = rng.normal(size=(200, 5))
    Q = np.vstack([X[:10].mean(axis=0), 5 * np.ones(5)])
    r = Hull(X).distance(Q)
    assert r.verify()
    vals = r.values.copy()
    vals[0] += 0.05
    assert not dataclasses.replace(r, values=vals).verify()
    normal = r.normal.copy()
    normal[1] = -normal[1]
    assert not dataclasses.replace(r, normal=normal).verify()
    off = r.offset.copy()
    off[1] -= 1.0
    assert not dataclasses.replace(r, offset=off).verify()
    status = r.status.copy()
    status[1] = "inside"
    assert not dataclasses.replace(r, status=status).verify()
    idx = r.indices.copy()
    idx[0] = (idx[0] + 1) % 200
    assert not dataclasses.replace(r, indices=idx).verify()
    v = dataclasses.replace(r, values=vals).verify()
    assert v.failures and "query 0" in v.failures[0]
    with pytest.raises(AssertionError):
        v.raise_if_failed()


def test_bitwise_identical_for_threads_and_chunks():
    rng = np.random.default_rng(13)
    X = rng.normal(size=(3000, 16))
    Q = make_queries(X, rng, 40, 40)
    h = Hull(X)
    a = h.distance(Q, threads=1)
    b = h.distance(Q, threads=2)
    c = h.distance(Q, threads=2, chunk_size=7)
    single = h.distance(Q[17])
    for f in ("distance", "nearest", "values", "indices", "normal", "offset", "margin", "passes"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
        np.testing.assert_array_equal(getattr(a, f), getattr(c, f))
    np.testing.assert_array_equal(single.nearest[0], a.nearest[17])


def test_float32_and_fortran_inputs_are_converted_once():
    rng = np.random.default_rng(14)
    X32 = rng.normal(size=(100, 4)).astype(np.float32)
    Q32 = rng.normal(size=(10, 4)).astype(np.float32)
    ref = Hull(X32.astype(np.float64)).distance(Q32.astype(np.float64))
    r = Hull(X32).distance(Q32)
    np.testing.assert_array_equal(r.distance, ref.distance)
    XF = np.asfortranarray(X32.astype(np.float64))
    h = Hull(XF)
    assert h.X.flags.c_contiguous and h.X.dtype == np.float64 and not h.X.flags.writeable
    np.testing.assert_array_equal(h.distance(np.asfortranarray(Q32)).distance, ref.distance)
    # a float64 C-contiguous X is not copied
    X = rng.normal(size=(50, 3))
    assert np.shares_memory(Hull(X).X, X)
    Xi = rng.integers(0, 5, size=(30, 3))
    assert Hull(Xi).distance(Xi[:2]).status[0] == "inside"


@pytest.mark.parametrize("bad,exc,word", [
    (np.array([[1.0, np.nan], [0.0, 1.0]]), ValueError, "NaN"),
    (np.array([[1.0, np.inf], [0.0, 1.0]]), ValueError, "inf"),
    (np.zeros((0, 3)), ValueError, "empty"),
    (np.zeros(3), ValueError, "2-D"),
    (np.zeros((2, 2, 2)), ValueError, "2-D"),
    (np.array([["a", "b"]]), TypeError, "dtype"),
    (np.array([[1 + 1j, 0]]), TypeError, "dtype"),
    (np.array([[object(), 1]], dtype=object), TypeError, "dtype"),
])
def test_bad_X(bad, exc, word):
    with pytest.raises(exc, match=word) as e:
        Hull(bad)
    assert "X" in str(e.value)


def test_bad_Q_and_options():
    h = Hull(np.random.default_rng(0).normal(size=(20, 3)))
    with pytest.raises(ValueError, match="Q.*3 columns"):
        h.distance(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="Q.*NaN"):
        h.contains(np.array([[0.0, np.nan, 0.0]]))
    empty = h.distance(np.zeros((0, 3)))          # an empty Q is an empty result (not an error)
    assert len(empty) == 0 and empty.indptr.tolist() == [0] and empty.verify()
    with pytest.raises(TypeError, match="n_jobs"):  # unknown keywords never fall into the Dask options
        h.distance(np.zeros(3), n_jobs=2)
    with pytest.raises(TypeError, match="Q"):
        h.distance(np.array([["x", "y", "z"]]))
    with pytest.raises(ValueError, match="subset"):
        h.distance(np.zeros(3), subset=np.zeros(20, dtype=bool))
    with pytest.raises(ValueError, match="subset"):
        h.distance(np.zeros(3), subset=[0, 25])
    with pytest.raises(ValueError, match="rtol"):
        h.distance(np.zeros(3), rtol=0.0)
    with pytest.raises(TypeError, match="threads"):
        h.distance(np.zeros(3), threads=1.5)
    with pytest.raises(ValueError, match="leave_one_out"):
        Hull(np.zeros((1, 3))).leave_one_out()


def test_unconverged_is_reported_with_a_warning():
    rng = np.random.default_rng(15)
    X = rng.normal(size=(2000, 40))
    q = rng.dirichlet(np.ones(2000)) @ X  # deep inside: needs ~41 support points
    with pytest.warns(RuntimeWarning, match="did not converge"):
        r = Hull(X).distance(q, max_passes=1, pool=2)
    assert r.status[0] == "unconverged"
    assert not r.converged[0]
    assert r.verify()  # the weights it holds are still a valid (non-optimal) certificate


def test_core_reports_progress_after_each_pass_and_a_raising_callback_stops_the_solve():
    from hullscope.hull.engine import core, point_set

    rng = np.random.default_rng(21)
    X = rng.normal(size=(400, 6))
    Q = np.vstack([rng.dirichlet(np.ones(30), size=40) @ X[:30], 3 * rng.normal(size=(40, 6))])
    c = core()
    opt = c.SolveOptions()
    opt.block = 8
    seen: list = []
    out = c.solve(point_set(X), Q, None, None, opt, seen.append)
    # one call per pass, counts of finished queries: non-decreasing, ending at all of them
    assert len(seen) >= len(Q) // 8 and seen[-1] == len(Q)
    assert all(a <= b for a, b in zip(seen, seen[1:]))
    plain = c.solve(point_set(X), Q, None, None, opt)
    np.testing.assert_array_equal(out["distance"], plain["distance"])

    class Stop(Exception):
        pass

    def stop(done):
        if done >= 8:
            raise Stop(done)

    with pytest.raises(Stop):
        c.solve(point_set(X), Q, None, None, opt, stop)
    # the interpreter and the point set are fine afterwards
    again = c.solve(point_set(X), Q[:3], None, None, opt)
    np.testing.assert_array_equal(again["distance"], plain["distance"][:3])


def test_progress_bar_counts_every_query(monkeypatch):
    from hullscope.hull import engine

    counts: list = []

    class Bar:
        def update(self, k):
            counts.append(k)

    import contextlib

    @contextlib.contextmanager
    def fake_bar(enabled, total, desc, unit="it"):
        yield Bar()

    monkeypatch.setattr(engine, "progress_bar", fake_bar)
    rng = np.random.default_rng(22)
    X = rng.normal(size=(300, 5))
    Q = 2 * rng.normal(size=(50, 5))
    Hull(X).distance(Q, progress=True, block=8)
    assert sum(counts) == len(Q) and len(counts) > 1 and min(counts) >= 0


def _pixel_like(rng, n, d, density=0.1):
    """Non-negative rows with many exact zeros, like images on a blank background: every coordinate
    is 0 at its least, so a query with a zero there sits on a face of the bounding box."""
    X = rng.uniform(0.05, 1.0, size=(n, d)) * (rng.uniform(size=(n, d)) < density)
    X[:, 0] = rng.uniform(0.5, 1.0, size=n)  # one coordinate never 0: the hull is not on a face there
    return X


def test_queries_on_bounding_box_faces_agree_with_highs():
    """Queries with exact zeros where the data's least value is 0 run on the face's coordinates only
    (the restricted problem's row cache leaves them out) until a row off the face enters: inside
    combinations stay on the face; points pushed outward along it, and points with zeros where
    the nearest hull point has none, bring left-out coordinates back mid-solve. Verdicts and
    distances against HiGHS, certificates by verify(), float32 verdicts and thread/batch bits."""
    rng = np.random.default_rng(29)
    n, d = 400, 24
    X = _pixel_like(rng, n, d)
    Q = []
    for k in (3, 8, 15):  # inside, on the face of their rows' common zeros
        for _ in range(3):
            idx = rng.choice(n, size=k, replace=False)
            Q.append(rng.dirichlet(np.ones(k)) @ X[idx])
    for k in (3, 8, 15):  # on that face, pushed outward along it
        idx = rng.choice(n, size=k, replace=False)
        q = rng.dirichlet(np.ones(k)) @ X[idx]
        Q.append(np.where(q > 0, q * 1.6 + 0.05, 0.0))
    for _ in range(3):  # zeros on half the coordinates and far out on the rest: nearest point off the face
        q = 2.5 * X[rng.choice(n, size=20, replace=False)].mean(axis=0)
        q[rng.choice(np.arange(1, d), size=d // 2, replace=False)] = 0.0
        Q.append(q)
    Q = np.array(Q)
    assert all(np.any(q[1:] == 0.0) for q in Q)  # every query is on some face
    h = Hull(X)
    dist = h.distance(Q)
    cont = h.contains(Q)
    assert dist.verify(), dist.verify().failures
    assert cont.verify(), cont.verify().failures
    assert np.all(dist.converged)
    for i, q in enumerate(Q):
        member = lp_member(X, q)
        assert (dist.status[i] == "inside") == member, (i, dist.status[i])
        assert (cont.status[i] == "inside") == member, (i, cont.status[i])
        ref = qp_distance(X, q)
        if member:
            assert dist.distance[i] <= dist.tol[i]
        else:
            assert dist.distance[i] == pytest.approx(ref, rel=1e-7, abs=1e-9 * dist.scale[i]), i
            assert dist.lower[i] <= ref * (1 + 1e-7)
    assert np.sum(dist.status == "inside") == 9 and np.sum(dist.status == "outside") == 6
    # float32 storage: the same verdicts
    d32 = Hull(X.astype(np.float32)).distance(Q)
    np.testing.assert_array_equal(d32.status, dist.status)
    # bitwise across threads, chunks and a query alone
    b = h.distance(Q, threads=2, chunk_size=5)
    one = h.distance(Q[10])
    for f in ("distance", "nearest", "values", "indices", "normal", "passes", "iterations"):
        np.testing.assert_array_equal(getattr(dist, f), getattr(b, f))
    np.testing.assert_array_equal(one.nearest[0], dist.nearest[10])


def test_long_rows_skip_the_row_cache_and_agree_with_highs():
    """At d = 6,000 a face query's pool of 256 rows would pass the row cache's 4 MB budget, so its
    restricted problem reads the stored rows; a plain query's pool of 64 still fits. Both against
    HiGHS, with certificates verified."""
    rng = np.random.default_rng(31)
    n, d = 60, 6000
    for X in (_pixel_like(rng, n, d, density=0.5), rng.normal(size=(n, d))):
        Q = [rng.dirichlet(np.ones(k)) @ X[rng.choice(n, size=k, replace=False)] for k in (2, 5, 30)]
        Q += [X.mean(axis=0) + 2.0 * (X[i] - X.mean(axis=0)) for i in (0, 1)]  # outside
        Q = np.array(Q)
        r = Hull(X).distance(Q)
        assert r.verify(), r.verify().failures
        assert np.all(r.converged)
        for i, q in enumerate(Q):
            assert (r.status[i] == "inside") == lp_member(X, q), i
            ref = qp_distance(X, q)
            if r.status[i] == "outside":
                assert r.distance[i] == pytest.approx(ref, rel=1e-7), i
            else:
                assert ref < 1e-6 * r.scale[i]
        assert list(r.status) == ["inside"] * 3 + ["outside"] * 2
