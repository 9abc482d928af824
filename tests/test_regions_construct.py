"""Facets by construction (the K = 1000 path of LinearRegions.adjacency) against HiGHS on small cases.

The construction proves a pair adjacent by building a tie point through a right inverse of W; the
pairs it cannot prove go to the Chebyshev/walk/LP path. Every verdict is compared with scipy's HiGHS
solving the facet LP itself, and every certificate (dense or compact) must pass ``verify()``, while
tampered certificates must fail it.
"""
import dataclasses

import numpy as np
import pytest
from scipy.optimize import linprog

from hullscope import LinearRegions, _core


def _model(K, d, bias, seed):
    # the bench's model at small size: W ~ N(0, 1/d), box [0, U(1, 3)]; larger biases make some
    # regions empty or small, so that non-facets and LP fallbacks occur
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(K, d)) / np.sqrt(d)
    b = rng.normal(size=K) * bias
    return W, b, np.zeros(d), rng.uniform(1.0, 3.0, d)


def _highs_value(W, b, lo, hi, c, j):
    """max (a_j f - g_j) / ||a_j|| over the box and the other rows of R_c, by HiGHS."""
    A, g = W - W[c], b[c] - b
    keep = [k for k in range(len(W)) if k not in (c, j)]
    s = linprog(-A[j], A_ub=A[keep], b_ub=g[keep], bounds=list(zip(lo, hi)), method="highs")
    if s.status == 2:
        return -np.inf  # R_c without row j is empty in the box
    assert s.status == 0, s.message
    return (-s.fun - g[j]) / np.linalg.norm(A[j])


def _construct(reg, threads=2):
    v = reg._view
    return _core.region_construct(v.W, v.b, v.lo, v.hi, reg.facet_tol, threads=threads)


CASES = [(20, 40, 0.5, 1), (25, 50, 1.0, 4), (40, 60, 1.5, 6), (12, 16, 1.0, 3)]


@pytest.mark.parametrize("K,d,bias,seed", CASES)
def test_constructed_adjacency_agrees_with_highs(K, d, bias, seed):
    W, b, lo, hi = _model(K, d, bias, seed)
    reg = LinearRegions(W, b, domain=(lo, hi), threads=2)
    adj = reg.adjacency()
    assert adj.verify()
    full = {c for c, ball in enumerate(reg.chebyshev_balls()) if ball.status == "full"}
    checked = 0
    for c in range(K):
        for j in range(c + 1, K):
            if c not in full or j not in full:
                # an empty or flat region has no facet: the construction must never claim one
                assert not adj.matrix[c, j]
                continue
            v = _highs_value(W, b, lo, hi, c, j)
            if abs(v) < 1e-6:
                continue  # on the tolerance: either verdict is acceptable
            assert adj.matrix[c, j] == (v > 0), (c, j, v)
            if adj.matrix[c, j]:
                # constructed margins are certified lower bounds of the LP value
                assert adj.margin[c, j] <= v * (1 + 1e-9) + 1e-9
            checked += 1
    assert checked > 0
    assert adj.constructed > 0


def test_cases_exercise_every_path():
    # together the cases use both passes of the construction, the LP fallback and non-facets
    first = refined = lps = nonfacet = 0
    for K, d, bias, seed in CASES:
        W, b, lo, hi = _model(K, d, bias, seed)
        reg = LinearRegions(W, b, domain=(lo, hi), threads=2)
        con = _construct(reg)
        assert con["applies"]
        first += int(con["proven"])
        refined += int(con["refined"])
        adj = reg.adjacency()
        lps += adj.lps
        nonfacet += int(np.sum(adj.status == "not_facet"))
        assert adj.constructed == int(con["proven"]) + int(con["refined"])
    assert first > 0 and refined > 0 and lps > 0 and nonfacet > 0


def test_generic_last_layer_all_pairs_by_construction_and_highs_sample():
    # K = 1000-style geometry at K = 120, d = 256: every pair is a facet, proved without an LP
    W, b, lo, hi = _model(120, 256, 0.1, 0)
    reg = LinearRegions(W, b, domain=(lo, hi), threads=2)
    adj = reg.adjacency()
    assert adj.lps == 0 and adj.constructed == 120 * 119 // 2
    assert adj.matrix.sum() == 120 * 119 and adj.verify()
    rng = np.random.default_rng(1)
    for _ in range(25):
        c, j = sorted(rng.choice(120, 2, replace=False))
        v = _highs_value(W, b, lo, hi, c, j)
        assert v > 1e-3 and adj.margin[c, j] <= v * (1 + 1e-9)


def test_compact_certificates_verify_and_catch_tampering(monkeypatch):
    W, b, lo, hi = _model(40, 60, 0.5, 6)
    dense = LinearRegions(W, b, domain=(lo, hi), threads=2).adjacency()
    monkeypatch.setattr(LinearRegions, "dense_points_limit", 0)
    reg = LinearRegions(W, b, domain=(lo, hi), threads=2)
    adj = reg.adjacency()
    con = adj.construction
    assert con is not None and len(con) > 0
    assert np.array_equal(adj.matrix, dense.matrix) and np.array_equal(adj.status, dense.status)
    ver = adj.verify()
    assert ver and ver.checked == len(adj.point_pairs) + len(adj.dual_pairs) + len(con)
    assert adj.verify(algebraic=True)
    # the verifier's logits from the construction's algebra are W p + b up to rounding
    for rows, F, Z in con.chunks(reg, size=100, logits=True):
        assert np.max(np.abs(Z - (F @ W.T + b))) < 1e-11
    # every compact point equals the dense listing of the same pair, and is a tie point of (c, j)
    for c, j in con.pairs[:: max(1, len(con) // 20)]:
        p = adj.point(c, j)
        k = np.flatnonzero((dense.point_pairs[:, 0] == c) & (dense.point_pairs[:, 1] == j))[0]
        assert np.allclose(p, dense.points[k], rtol=0, atol=1e-12)
        z = W @ p + b
        others = np.delete(z, [c, j])
        assert abs(z[c] - z[j]) < 1e-9 and others.max() < z[c] - 1e-3
        assert np.all(p >= lo - 1e-12) and np.all(p <= hi + 1e-12)
    # tampering with any part of the compact certificate is caught
    for bad in (dataclasses.replace(con, level=con.level + 0.3),
                dataclasses.replace(con, weight=np.clip(con.weight + 0.3, 0, 1)),
                dataclasses.replace(con, base=con.base + 0.05),
                dataclasses.replace(con, eps=3 * con.eps),
                dataclasses.replace(con, pairs=np.roll(con.pairs, 1, axis=0))):
        assert not dataclasses.replace(adj, construction=bad).verify()
        assert not dataclasses.replace(adj, construction=bad).verify(algebraic=True)
    # a facet claimed without any point is caught too
    short = dataclasses.replace(con, pairs=con.pairs[1:], level=con.level[1:], weight=con.weight[1:])
    assert not dataclasses.replace(adj, construction=short).verify()
    with pytest.raises(ValueError, match="share no facet"):
        adj.point(3, 3)


def test_construction_is_bitwise_identical_across_thread_counts():
    W, b, lo, hi = _model(40, 60, 0.5, 6)
    reg = LinearRegions(W, b, domain=(lo, hi))
    ref = _construct(reg, threads=1)
    for th in (2, 3):
        r = _construct(reg, threads=th)
        for key in ("V", "base", "status", "level", "weight", "value", "point_pairs", "points"):
            assert np.array_equal(r[key], ref[key], equal_nan=r[key].dtype.kind == "f"), (th, key)
    a1 = LinearRegions(W, b, domain=(lo, hi), threads=1).adjacency()
    a2 = LinearRegions(W, b, domain=(lo, hi), threads=2).adjacency()
    for key in ("status", "margin", "point_pairs", "points", "dual_pairs", "duals"):
        x, y = getattr(a1, key), getattr(a2, key)
        assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), key


def test_construction_without_box_and_when_it_does_not_apply():
    # in R^d with K <= d every pair is adjacent, all by construction
    W, b, _, _ = _model(15, 20, 1.0, 2)
    adj = LinearRegions(W, b).adjacency()
    assert adj.lps == 0 and adj.constructed == 105 and adj.matrix.sum() == 210 and adj.verify()
    # K > d: W has no right inverse; everything goes to the LP path, with the same verdicts as exact
    W, b, lo, hi = _model(12, 5, 0.3, 3)
    reg = LinearRegions(W, b, domain=(lo, hi))
    assert not _construct(reg)["applies"]
    adj = reg.adjacency()
    assert adj.constructed == 0 and adj.construction is None and adj.verify()
    assert np.array_equal(adj.matrix, reg.adjacency(exact=True).matrix)
    # identical classes: G is singular, the construction steps aside
    W2 = np.vstack([W[:3], W[:1]])
    reg2 = LinearRegions(W2, np.r_[b[:3], b[:1]], domain=(lo, hi))
    assert not _construct(reg2)["applies"]
    a2 = reg2.adjacency()
    assert not a2.matrix[0, 3] and a2.verify()


def test_adjacency_todo_mask_is_checked():
    W, b, lo, hi = _model(6, 8, 0.3, 1)
    reg = LinearRegions(W, b, domain=(lo, hi))
    st, rad, cen = reg._cheb_arrays()
    v = reg._view
    with pytest.raises(ValueError, match="todo"):
        _core.region_adjacency(v.W, v.b, v.lo, v.hi, st, rad, cen, reg.facet_tol, todo=np.zeros((5, 6), np.uint8))
    # an empty mask tests nothing
    r = _core.region_adjacency(v.W, v.b, v.lo, v.hi, st, rad, cen, reg.facet_tol, todo=np.zeros((6, 6), np.uint8))
    assert r["lps"] == 0 and np.all(r["status"] == int(_core.FacetStatus.not_tested))
