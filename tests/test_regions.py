"""Decision regions: the LP engine and every region operation against HiGHS, brute force and closed forms."""
import numpy as np
import pytest
from scipy.optimize import linprog

from hullscope import LinearRegions, _core
from hullscope.regions.results import farkas_gap, lp_upper_bound

from oracles import box_rows as _box_rows, region_qp as _qp_highs


def _bounds(lo, hi):
    return [(None if np.isinf(a) else a, None if np.isinf(b) else b) for a, b in zip(lo, hi)]


def _model(K, d, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(K, d)) * scale, rng.normal(size=K) * 0.3 * scale


DOMAINS = {
    "none": lambda d: None,
    "orthant": lambda d: "orthant",
    "box": lambda d: (-np.ones(d), np.linspace(0.5, 2.0, d)),
}


def _np_domain(reg):
    return reg.lo, reg.hi


# ---------------------------------------------------------------------------------------------------- LP engine
def _random_lp(rng, trial):
    m, n = int(rng.integers(1, 25)), int(rng.integers(1, 25))
    A = rng.normal(size=(m, n))
    b = rng.normal(size=m) * rng.choice([0.1, 1.0, 3.0])
    c = rng.normal(size=n)
    kind = trial % 4
    lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
    if kind == 1:
        lo = np.zeros(n)
    elif kind == 2:
        lo, hi = -rng.uniform(0, 2, n), rng.uniform(0, 2, n)
    elif kind == 3:  # degenerate: many rows through the origin, duplicated rows, a fixed variable
        A = np.vstack([A, A, rng.normal(size=(n + 3, n))])
        b = np.concatenate([np.abs(b), np.abs(b), np.zeros(n + 3)])
        lo, hi = -np.ones(n), np.ones(n)
        lo[0] = hi[0] = 0.25
    return np.ascontiguousarray(A), b, c, lo, hi


def test_lp_engine_matches_highs_with_checked_certificates():
    rng = np.random.default_rng(0)
    seen = set()
    for trial in range(160):
        A, b, c, lo, hi = _random_lp(rng, trial)
        r = _core.lp_solve(A, b, c, lo, hi)
        s = linprog(-c, A_ub=A, b_ub=b, bounds=_bounds(lo, hi), method="highs")
        expect = {0: 0, 2: 1, 3: 2}[s.status]
        assert r["status"] == expect, (trial, r["status"], s.status)
        seen.add(expect)
        x, y = r["x"], r["y"]
        if expect == 0:
            assert abs(r["value"] + s.fun) <= 1e-7 * (1 + abs(s.fun))
            assert np.all(A @ x <= b + 1e-7) and np.all(x >= lo - 1e-12) and np.all(x <= hi + 1e-12)
            assert lp_upper_bound(c, A, b, y, lo, hi) <= r["value"] + 1e-6 * (1 + abs(r["value"]))
        elif expect == 1:
            assert farkas_gap(A, b, y, lo, hi) > 0
        else:
            ray = r["ray"]
            assert c @ ray > 0 and np.all(A @ ray <= 1e-9)
            assert np.all(ray[np.isfinite(lo)] >= -1e-12) and np.all(ray[np.isfinite(hi)] <= 1e-12)
    assert seen == {0, 1, 2}


def test_lp_engine_warm_start_and_dual_path_agree():
    rng = np.random.default_rng(1)
    for _ in range(40):
        n, m = 30, 20
        A = np.ascontiguousarray(rng.normal(size=(m, n)))
        x0 = rng.uniform(-0.5, 0.5, n)
        b = A @ x0 + rng.uniform(0.1, 1.0, m)  # x0 strictly feasible
        c = rng.normal(size=n)
        lo, hi = -np.ones(n), np.ones(n)
        dual = _core.lp_solve(A, b, c, lo, hi)            # boxed, no start: dual simplex
        warm = _core.lp_solve(A, b, c, lo, hi, x0)        # primal from the interior point
        assert dual["status"] == warm["status"] == 0
        assert abs(dual["value"] - warm["value"]) <= 1e-8 * (1 + abs(dual["value"]))


# ---------------------------------------------------------------------------------------------------- Chebyshev
def _cheb_highs(reg, c):
    A, g, _ = reg.halfspaces(c)
    d = reg.d
    nrm = np.linalg.norm(A, axis=1)
    rows, rhs = [np.hstack([A, nrm[:, None]])], [g]
    for i in range(d):
        if np.isfinite(reg.hi[i]):
            e = np.zeros(d + 1); e[i] = 1; e[d] = 1
            rows.append(e[None]); rhs.append([reg.hi[i]])
        if np.isfinite(reg.lo[i]):
            e = np.zeros(d + 1); e[i] = -1; e[d] = 1
            rows.append(e[None]); rhs.append([-reg.lo[i]])
    cost = np.zeros(d + 1); cost[d] = -1
    return linprog(cost, A_ub=np.vstack(rows), b_ub=np.concatenate(rhs), bounds=[(None, None)] * d + [(0, None)],
                   method="highs")


@pytest.mark.parametrize("K", [2, 3, 10, 50])
@pytest.mark.parametrize("d", [2, 3, 16, 64])
@pytest.mark.parametrize("dom", ["none", "orthant", "box"])
def test_chebyshev_matches_highs(K, d, dom):
    W, b = _model(K, d, seed=K * 100 + d)
    reg = LinearRegions(W, b, domain=DOMAINS[dom](d))
    for c, ball in enumerate(reg.chebyshev_balls()):
        s = _cheb_highs(reg, c)
        if s.status == 3:
            assert ball.status == "unbounded"
        elif s.status == 2:
            assert ball.status == "empty"
        else:
            assert s.status == 0
            assert abs(ball.radius + s.fun) <= 1e-7 * (1 + abs(s.fun)), (c, ball.radius, -s.fun)
        assert ball.verify()


def test_chebyshev_flat_and_empty_regions_and_identical_classes():
    # class 2 lives on the line x = 0 (flat); class 3 always loses to class 0 (empty); 4 duplicates 0
    W = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    b = np.array([0.0, 0.0, 0.0, -1.0, 0.0])
    reg = LinearRegions(W, b, domain=(-1, 1))
    balls = reg.chebyshev_balls()
    assert balls[2].status == "flat" and balls[2].radius == pytest.approx(0, abs=1e-9)
    assert balls[3].status == "empty" and not reg.nonempty(3)
    assert balls[0].status == "full" and balls[4].status == "full"
    assert balls[0].radius == pytest.approx(balls[4].radius)
    for ball in balls:
        assert ball.verify()
    adj = reg.adjacency()
    assert adj.verify()
    assert not adj.matrix[0, 4]            # identical classes share their region: not neighbours
    assert adj.matrix[0, 1] and adj.matrix[4, 1]
    assert not adj.matrix[2].any() and not adj.matrix[3].any()   # flat / empty regions have no facets


def test_corrupted_certificates_fail_verification():
    W, b = _model(6, 4, seed=3)
    reg = LinearRegions(W, b, domain=(-1, 1))
    ball = reg.chebyshev_ball(0)
    import dataclasses
    assert not dataclasses.replace(ball, radius=ball.radius * 1.01).verify()
    assert not dataclasses.replace(ball, radius=ball.radius * 0.9).verify()   # no longer optimal
    adj = reg.adjacency()
    assert len(adj.points) > 0
    bad = dataclasses.replace(adj, points=adj.points + 0.05).verify()
    assert not bad and bad.failures
    with pytest.raises(AssertionError):
        bad.raise_if_failed()


# ---------------------------------------------------------------------------------------------------- facets
def _facet_value_highs(reg, c, j):
    A = reg.W - reg.W[c]
    g = reg.b[c] - reg.b
    keep = [k for k in range(reg.K) if k not in (c, j)
            and not (np.all(A[k] == 0) and g[k] >= 0)]
    nj = np.linalg.norm(A[j])
    s = linprog(-A[j], A_ub=A[keep] if keep else None, b_ub=g[keep] if keep else None,
                bounds=_bounds(reg.lo, reg.hi), method="highs")
    if s.status == 3:
        return np.inf
    assert s.status == 0
    return (-s.fun - g[j]) / nj


def test_low_rank_last_layer_has_non_adjacent_pairs_with_certificates(tmp_path):
    # W of rank 2 in 16-d: the regions are cylinders over a planar partition, so many pairs are not
    # neighbours and their dual certificates are exercised.
    rng = np.random.default_rng(12)
    W = rng.normal(size=(12, 2)) @ rng.normal(size=(2, 16))
    b = rng.normal(size=12)
    reg = LinearRegions(W, b, domain=(-np.ones(16), np.ones(16)))
    adj = reg.adjacency()
    assert 0 < len(adj.edges()) < 66 and len(adj.duals) > 0
    assert adj.verify()
    full = [c for c, ball in enumerate(reg.chebyshev_balls()) if ball.status == "full"]
    for c in full:
        for j in full:
            if j > c:
                v = _facet_value_highs(reg, c, j)
                if abs(v) > 1e-6:
                    assert adj.matrix[c, j] == (v > 0)
    fig = adj.plot(str(tmp_path / "adj.png"))
    assert (tmp_path / "adj.png").stat().st_size > 0 and fig is not None


@pytest.mark.parametrize("K,d,dom", [(K, d, "box") for K in (2, 3, 10, 50) for d in (2, 3, 16, 64)]
                         + [(10, 2, "none"), (10, 3, "orthant"), (50, 64, "orthant")])
def test_adjacency_matches_highs(K, d, dom):
    W, b = _model(K, d, seed=7 * K + d)
    reg = LinearRegions(W, b, domain=DOMAINS[dom](d))
    adj = reg.adjacency()
    exact = reg.adjacency(exact=True)
    assert np.array_equal(adj.matrix, exact.matrix)
    full = [c for c, ball in enumerate(reg.chebyshev_balls()) if ball.status in ("full", "unbounded")]
    for c in full:
        for j in full:
            if j <= c:
                continue
            v = _facet_value_highs(reg, c, j)
            if abs(v) < 1e-6:
                continue  # on the tolerance: either verdict is acceptable
            assert adj.matrix[c, j] == (v > 0), (c, j, v)
            if np.isfinite(v):
                assert exact.margin[c, j] == pytest.approx(v, rel=1e-6, abs=1e-7)
    assert adj.verify() and exact.verify()
    assert adj.lps + adj.shortcuts + adj.constructed >= len(full) * (len(full) - 1) // 2


def test_facets_of_one_class_and_thread_independence():
    W, b = _model(20, 8, seed=11)
    reg = LinearRegions(W, b, domain=(-1, 1), threads=1)
    reg2 = LinearRegions(W, b, domain=(-1, 1), threads=2)
    a1, a2 = reg.adjacency(), reg2.adjacency()
    assert np.array_equal(a1.status, a2.status) and np.array_equal(a1.points, a2.points)
    fs = reg.facets(4)
    assert fs.verify()
    assert np.array_equal(fs.is_facet, a1.matrix[4, fs.classes])


def test_brute_force_grid_2d_membership_adjacency_segments():
    rng = np.random.default_rng(5)
    W, b = rng.normal(size=(6, 2)), rng.normal(size=6) * 0.5
    reg = LinearRegions(W, b, domain=(-2, 2))
    n = 700
    xs = np.linspace(-2, 2, n)
    G = np.stack(np.meshgrid(xs, xs), -1).reshape(-1, 2)
    lab = reg.predict(G).reshape(n, n)
    # membership: the inequality description agrees with argmax everywhere on the grid
    for c in range(6):
        A, g, _ = reg.halfspaces(c)
        inside = np.all(G @ A.T <= g + 1e-12, axis=1).reshape(n, n)
        assert np.all(lab[inside] == c) or np.all(np.isclose((G @ W.T + b)[inside.ravel()].max(1),
                                                               (G @ W.T + b)[inside.ravel(), c]))
        assert reg.nonempty(c) == bool((lab == c).any() or inside.any())
    # adjacency: pixel neighbours with different labels along a boundary of several pixels
    pairs = {}
    for a, bb in ((lab[:, :-1], lab[:, 1:]), (lab[:-1], lab[1:])):
        diff = a != bb
        for p, q in zip(a[diff], bb[diff]):
            key = (min(p, q), max(p, q))
            pairs[key] = pairs.get(key, 0) + 1
    adj = reg.adjacency()
    for (p, q), cnt in pairs.items():
        if cnt >= 6:
            assert adj.matrix[p, q], (p, q, cnt)
    for p, q in adj.edges():
        if adj.margin[p, q] > 0.05:
            assert pairs.get((p, q), 0) > 0, (p, q)
    # segments: breakpoints against dense sampling
    for _ in range(20):
        f1, f2 = rng.uniform(-2, 2, 2), rng.uniform(-2, 2, 2)
        seg = reg.segment(f1, f2)
        assert seg.verify()
        ts = np.linspace(0, 1, 20001)
        labs = reg.predict((1 - ts)[:, None] * f1 + ts[:, None] * f2)
        change = ts[1:][labs[1:] != labs[:-1]]
        assert len(change) == len(seg.breaks)
        assert np.allclose(change, seg.breaks, atol=1e-4)
        assert list(dict.fromkeys(labs)) == list(seg.classes)


def test_brute_force_grid_3d_membership_adjacency_segments():
    rng = np.random.default_rng(8)
    W, b = rng.normal(size=(6, 3)), rng.normal(size=6) * 0.5
    reg = LinearRegions(W, b, domain=(-2, 2))
    n = 90
    xs = np.linspace(-2, 2, n)
    G = np.stack(np.meshgrid(xs, xs, xs, indexing="ij"), -1).reshape(-1, 3)
    lab = reg.predict(G).reshape(n, n, n)
    Z = G @ W.T + b
    for c in range(6):
        A, g, _ = reg.halfspaces(c)
        inside = np.all(G @ A.T <= g + 1e-12, axis=1)
        assert np.allclose(Z[inside].max(1), Z[inside, c])          # every member has the top logit
        assert np.all(inside[lab.ravel() == c])                      # every grid point of class c is a member
        if (lab == c).any():
            assert reg.nonempty(c)
    # voxel faces with different labels: pairs with many such faces share a facet
    pairs = {}
    for ax in range(3):
        a = np.moveaxis(lab, ax, 0)
        diff = a[:-1] != a[1:]
        for p, q in zip(a[:-1][diff], a[1:][diff]):
            key = (min(p, q), max(p, q))
            pairs[key] = pairs.get(key, 0) + 1
    adj = reg.adjacency()
    for (p, q), cnt in pairs.items():
        if cnt >= 30:
            assert adj.matrix[p, q], (p, q, cnt)
    for p, q in adj.edges():
        if adj.margin[p, q] > 0.1:
            assert pairs.get((p, q), 0) > 0, (p, q)
    for _ in range(20):
        f1, f2 = rng.uniform(-2, 2, 3), rng.uniform(-2, 2, 3)
        seg = reg.segment(f1, f2)
        assert seg.verify()
        ts = np.linspace(0, 1, 20001)
        labs = reg.predict((1 - ts)[:, None] * f1 + ts[:, None] * f2)
        change = ts[1:][labs[1:] != labs[:-1]]
        assert len(change) == len(seg.breaks) and np.allclose(change, seg.breaks, atol=1e-4)


# ---------------------------------------------------------------------------------------------------- QPs
@pytest.mark.parametrize("K,d,dom", [(3, 2, "box"), (10, 16, "box"), (10, 16, "none"), (8, 5, "orthant")])
def test_distance_to_class_and_flip_point_match_highs_qp(K, d, dom):
    W, b = _model(K, d, seed=K + 3 * d)
    reg = LinearRegions(W, b, domain=DOMAINS[dom](d))
    rng = np.random.default_rng(2)
    F = rng.uniform(0, 0.8, size=(6, d))
    Bx, bh = _box_rows(reg)
    target = [c for c, ball in enumerate(reg.chebyshev_balls()) if ball.nonempty][-1]
    res = reg.distance_to_class(F, target)
    assert res.converged.all() and res.verify()
    A, g, _ = reg.halfspaces(target)
    for n in range(len(F)):
        ref = _qp_highs(np.vstack([A, Bx]), np.concatenate([g, bh]), F[n])
        assert res.distance[n] == pytest.approx(ref, rel=1e-5, abs=1e-7)
        assert res.lower[n] <= res.distance[n] + 1e-9 and res.lower[n] >= res.distance[n] - 1e-5
    pred = reg.predict(F)
    j = np.array([(p + 1) % K for p in pred])
    fp = reg.flip_point(F, j)
    assert fp.verify()
    for n in np.flatnonzero(fp.converged):
        c = pred[n]
        Ac, gc = reg.W - reg.W[c], reg.b[c] - reg.b
        keep = [k for k in range(K) if k not in (c, j[n])]
        R = np.vstack([Ac[j[n]][None], Ac[keep], Bx])
        h = np.concatenate([[gc[j[n]]], gc[keep], bh])
        ref = _qp_highs(R, h, F[n], n_eq=1)
        assert fp.distance[n] == pytest.approx(ref, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("dom", ["none", "box", "orthant"])
def test_certified_radius_exact(dom):
    W, b = _model(7, 2, seed=21)
    reg = LinearRegions(W, b, domain=DOMAINS[dom](2))
    rng = np.random.default_rng(4)
    F = rng.uniform(-0.9, 0.5, size=(25, 2)) if dom != "orthant" else rng.uniform(0, 0.9, size=(25, 2))
    res = reg.certified_radius(F)
    assert res.verify()
    ang = np.linspace(0, 2 * np.pi, 4000, endpoint=False)
    circle = np.stack([np.cos(ang), np.sin(ang)], 1)
    for f, r, c in zip(F, res.radius, res.pred):
        assert np.isfinite(r)
        inner = f + 0.999 * r * circle
        ins = np.all((inner >= reg.lo) & (inner <= reg.hi), axis=1)
        assert np.all(reg.predict(inner[ins]) == c)
        outer = f + 1.01 * r * circle
        ins = np.all((outer >= reg.lo) & (outer <= reg.hi), axis=1)
        assert np.any(reg.predict(outer[ins]) != c)


def test_certified_radius_box_matches_qp_in_16d():
    W, b = _model(10, 16, seed=8)
    reg = LinearRegions(W, b, domain=(-np.ones(16), np.ones(16)))
    F = np.random.default_rng(9).uniform(-0.5, 0.5, size=(5, 16))
    res = reg.certified_radius(F)
    Bx, bh = _box_rows(reg)
    for n in range(len(F)):
        c = res.pred[n]
        best = np.inf
        for j in range(10):
            if j == c:
                continue
            a = reg.W[j] - reg.W[c]
            best = min(best, _qp_highs(np.vstack([-a[None], Bx]), np.concatenate([[-(reg.b[c] - reg.b[j])], bh]), F[n]))
        assert res.radius[n] == pytest.approx(best, rel=1e-6, abs=1e-8)


# ---------------------------------------------------------------------------------------------------- certify
def test_certify_closed_forms_and_polytope_against_highs():
    W, b = _model(10, 16, seed=13)
    reg = LinearRegions(W, b, domain=(-3, 3))
    ball = reg.chebyshev_ball(2)
    ok = reg.certify(2, ball=(ball.center, 0.99 * ball.radius))
    bad = reg.certify(2, ball=(ball.center, 1.2 * ball.radius))
    assert ok.certified and not bad.certified and ok.verify() and bad.verify()
    h = ball.radius / np.sqrt(16) * 0.99
    assert reg.certify(2, box=(ball.center - h, ball.center + h)).verify()
    L = np.diag(np.full(16, 0.5 * ball.radius))
    e = reg.certify(2, ellipsoid=(ball.center, L))
    assert e.certified and e.verify()
    P = ball.center + 2 * ball.radius * np.random.default_rng(0).normal(size=(30, 16)) / 4
    cp = reg.certify(2, points=P)
    assert cp.certified == bool(np.all(reg.predict(P) == 2)) and cp.verify()
    # polytope: a cross-polytope around the centre, checked against HiGHS per rival
    rng = np.random.default_rng(1)
    for rad in (0.5 * ball.radius, 3 * ball.radius):
        C = np.vstack([np.eye(16), -np.eye(16), rng.normal(size=(40, 16))])
        C /= np.linalg.norm(C, axis=1, keepdims=True)
        e_ = C @ ball.center + rad
        res = reg.certify(2, polytope=(C, e_))
        assert res.verify()
        A, g = reg.W - reg.W[2], reg.b[2] - reg.b
        worst = []
        for j in range(10):
            if j == 2:
                continue
            s = linprog(-A[j], A_ub=C, b_ub=e_, bounds=[(None, None)] * 16, method="highs")
            worst.append(-s.fun - g[j])
        assert res.certified == (max(worst) <= 0)


def test_hull_meets_region_against_highs_feasibility():
    rng = np.random.default_rng(3)
    W, b = _model(5, 6, seed=17)
    reg = LinearRegions(W, b)
    for trial in range(8):
        P = rng.normal(size=(25, 6)) * 0.3 + rng.normal(size=6)
        for j in range(5):
            res = reg.hull_meets_region(P, j)
            A, g, _ = reg.halfspaces(j)
            s = linprog(np.zeros(25), A_ub=A @ P.T, b_ub=g, A_eq=np.ones((1, 25)), b_eq=[1],
                        bounds=[(0, None)] * 25, method="highs")
            if abs(res.depth) > 1e-7:
                assert res.meets == (s.status == 0)
            assert res.verify()


def test_outside_hull_but_certified():
    rng = np.random.default_rng(6)
    Ftr = rng.uniform(0, 1, size=(200, 3))
    Fte = np.vstack([rng.uniform(0.2, 0.8, size=(10, 3)), rng.uniform(1.5, 2.0, size=(10, 3))])
    reg = LinearRegions(np.eye(3), np.zeros(3), domain=Ftr)
    out = reg.outside_hull_but_certified(Fte, radius=0.01)
    assert out.outside[10:].all() and not out.outside[:10].any()
    free = LinearRegions(np.eye(3), np.zeros(3))
    assert np.array_equal(out.certified, free.certified_radius(Fte).radius > 0.01)
    assert out.summary()["outside_and_certified"] == int((out.outside & out.certified).sum())


# ---------------------------------------------------------------------------------------------------- volume
def test_volume_share_box_exact_and_hull_hit_and_run():
    # Class 1 owns x > 0.3 of the unit square: share 0.7.
    W = np.array([[0.0, 0.0], [1.0, 0.0]])
    b = np.array([0.0, -0.3])
    reg = LinearRegions(W, b, domain=(0, 1))
    v = reg.volume_share(samples=40_000, seed=1)
    assert v.low[1] <= 0.7 <= v.high[1] and v.share.sum() == pytest.approx(1)
    # Triangle (0,0), (1,0), (0,1): the part x > 0.5 has area 1/8 of the 1/2 total: share 0.25.
    tri = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    regh = LinearRegions(W, np.array([0.0, -0.5]), domain=tri)
    vh = regh.volume_share(samples=3000, seed=2, chains=30, burn_in=10, bisections=16)
    assert vh.method == "hit-and-run"
    assert vh.low[1] - 0.03 <= 0.25 <= vh.high[1] + 0.03


# ---------------------------------------------------------------------------------------------------- bad input
def test_bad_input_is_refused_clearly():
    W, b = np.ones((3, 2)), np.zeros(3)
    with pytest.raises(ValueError, match="at least 2 classes"):
        LinearRegions(np.ones((1, 2)), np.ones(1))
    with pytest.raises(ValueError, match="b: expected shape"):
        LinearRegions(W, np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        LinearRegions(np.array([[np.nan, 1], [1, 1]]), np.zeros(2))
    with pytest.raises(ValueError, match="inf"):
        LinearRegions(W, np.array([0, np.inf, 0]))
    with pytest.raises(ValueError, match="lo > hi"):
        LinearRegions(W, b, domain=(1, 0))
    with pytest.raises(ValueError, match="orthant"):
        LinearRegions(W, b, domain="positive")
    with pytest.raises(ValueError, match="empty"):
        LinearRegions(W, b, domain=np.zeros((0, 2)))          # an empty set of training features
    with pytest.raises(ValueError, match="domain"):
        LinearRegions(W, b, domain=(np.zeros(3), np.ones(3)))  # box of the wrong dimension
    reg = LinearRegions(np.eye(3)[:, :2], b, domain=(-1, 1))
    with pytest.raises(ValueError, match="out of range"):
        reg.chebyshev_ball(3)
    with pytest.raises(ValueError, match="out of range"):
        reg.distance_to_class(np.zeros((1, 2)), -1)
    with pytest.raises(ValueError, match="columns"):
        reg.certified_radius(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="radius"):
        reg.certify(0, ball=(np.zeros(2), -1.0))
    with pytest.raises(ValueError, match="exactly one"):
        reg.certify(0)
    with pytest.raises(ValueError, match="already classified"):
        reg.flip_point(np.array([[1.0, 0.0]]), 0)
    with pytest.raises(ValueError, match="bounded domain"):
        LinearRegions(W, b).volume_share(samples=10)
    with pytest.raises(ValueError, match="hull"):
        LinearRegions(W, b, domain=np.zeros((3, 2)) + np.eye(3)[:, :2]).chebyshev_ball(0)


def test_box_with_fixed_features_works_in_the_domains_affine_hull():
    # Dead ReLU units give lo == hi in a box of training ranges: the domain is lower-dimensional.
    W, b = _model(8, 6, seed=31)
    lo = np.array([0.0, -1.0, 0.0, -1.0, 0.5, -1.0])
    hi = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 1.0])
    reg = LinearRegions(W, b, domain=(lo, hi))
    free = np.array([1, 3, 5])
    sub = LinearRegions(W[:, free], b + W[:, [0, 2, 4]] @ lo[[0, 2, 4]], domain=(lo[free], hi[free]))
    for ball, ref in zip(reg.chebyshev_balls(), sub.chebyshev_balls()):
        assert ball.status == ref.status and ball.verify()
        if ball.status == "full":
            assert ball.radius == pytest.approx(ref.radius)
            assert np.allclose(ball.center[[0, 2, 4]], lo[[0, 2, 4]])
    adj = reg.adjacency()
    assert np.array_equal(adj.matrix, sub.adjacency().matrix) and adj.verify()
    assert reg.certified_radius(np.tile((lo + hi) / 2, (3, 1))).verify()


def test_regions_cli_end_to_end(tmp_path, capsys):
    import json

    from hullscope.cli import main

    assert main(["regions", "--epochs", "2", "--n-test", "30", "--out", str(tmp_path)]) == 0
    rep = json.loads((tmp_path / "regions.json").read_text())
    assert rep["K"] == 10 and rep["d"] == 64 and len(rep["certified_radius"]["values"]) == 30
    assert (tmp_path / "adjacency.png").stat().st_size > 0
    assert "adjacency" in capsys.readouterr().out


def test_flip_point_to_a_class_that_never_ties_on_top_is_reported_not_converged():
    # On the line, class 1 always separates classes 0 and 2: they never tie on top.
    W = np.array([[1.0, 0.0], [0.0, 0.0], [-1.0, 0.0]])
    reg = LinearRegions(W, np.array([-1.0, 0.0, -1.0]), domain=(-5, 5))
    from hullscope import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="empty target set"):
        r = reg.flip_point(np.array([[3.0, 0.0], [3.0, 1.0]]), [2, 1])
    assert not r.converged[0] and np.isinf(r.distance[0])
    assert r.converged[1] and r.distance[1] == pytest.approx(2.0) and r.verify()
