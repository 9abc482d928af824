import numpy as np
import pytest

from hullscope.regions import LinearRegions


def test_certified_radius_matches_brute_force_2d():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(4, 2)), rng.normal(size=4)
    reg = LinearRegions(W, b)
    F = rng.normal(size=(20, 2))
    r = reg.certified_radius(F)
    pred = reg.predict(F)
    ang = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    dirs = np.stack([np.cos(ang), np.sin(ang)], 1)
    for f, rr, p in zip(F, r, pred):
        inside = reg.predict(f + 0.999 * rr * dirs)
        assert np.all(inside == p)
        outside = reg.predict(f + 1.02 * rr * dirs)
        assert np.any(outside != p)


def test_chebyshev_inside_region_and_box():
    rng = np.random.default_rng(1)
    W, b = rng.normal(size=(3, 2)), rng.normal(size=3)
    reg = LinearRegions(W, b, domain=(-2, 2))
    for j in range(3):
        ball = reg.chebyshev_ball(j)
        if np.isnan(ball.radius):
            continue
        ang = np.linspace(0, 2 * np.pi, 500)
        pts = ball.center + 0.999 * ball.radius * np.stack([np.cos(ang), np.sin(ang)], 1)
        assert np.all(reg.predict(pts) == j)
        assert np.all(np.abs(pts) <= 2 + 1e-9)


def test_bad_input():
    with pytest.raises(ValueError):
        LinearRegions(np.ones((1, 2)), np.ones(1))
    with pytest.raises(ValueError):
        LinearRegions(np.ones((3, 2)), np.ones(2))
    with pytest.raises(ValueError):
        LinearRegions(np.ones((3, 2)), np.ones(3), domain=(1, 0))
    with pytest.raises(ValueError):
        LinearRegions(np.ones((3, 2)), np.ones(3)).halfspaces(5)


def test_segment_matches_dense_sampling():
    rng = np.random.default_rng(2)
    W, b = rng.normal(size=(6, 3)), rng.normal(size=6)
    reg = LinearRegions(W, b)
    p, q = rng.normal(size=3) * 3, rng.normal(size=3) * 3
    cls, br = reg.segment(p, q)
    ts = np.linspace(0, 1, 20001)
    lab = reg.predict(p + ts[:, None] * (q - p))
    edges = np.concatenate([[0.0], br, [1.0]])
    for k, c in enumerate(cls):
        m = (ts > edges[k] + 1e-4) & (ts < edges[k + 1] - 1e-4)
        assert np.all(lab[m] == c)
    assert len(cls) == len(np.unique(np.flatnonzero(np.diff(lab)))) + 1


def test_adjacency_matches_grid_2d():
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(5, 2)), rng.normal(size=5)
    reg = LinearRegions(W, b, domain=(-3, 3))
    M = reg.adjacency()
    g = np.linspace(-3, 3, 601)
    X, Y = np.meshgrid(g, g)
    L = reg.predict(np.stack([X.ravel(), Y.ravel()], 1)).reshape(X.shape)
    G = np.zeros_like(M)
    for a, c in [(L[:, :-1], L[:, 1:]), (L[:-1], L[1:])]:
        m = a != c
        G[a[m], c[m]] = True
        G[c[m], a[m]] = True
    np.testing.assert_array_equal(M, G)


def test_certify_box_ball_points_against_sampling():
    rng = np.random.default_rng(4)
    W, b = rng.normal(size=(4, 2)), rng.normal(size=4)
    reg = LinearRegions(W, b)
    seen = set()
    for _ in range(200):
        c = rng.normal(size=2) * 2
        h = rng.uniform(0.01, 0.5, size=2)
        j = int(reg.predict(c[None])[0])
        g = np.linspace(0, 1, 41)
        Xg = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
        pts = c - h + 2 * h * Xg
        truth = bool(np.all(reg.predict(pts) == j))
        ans = reg.certify(j, box=(c - h, c + h))
        assert ans == truth  # the grid contains the box's vertices, where the max is attained
        assert reg.certify(j, points=pts) == truth
        r = reg.certified_radius(c[None])[0]
        assert reg.certify(j, ball=(c, 0.999 * r))
        assert not reg.certify(j, ball=(c, 1.001 * r))
        seen.add(ans)
    assert seen == {True, False}


def test_duplicate_classes_share_one_region():
    rng = np.random.default_rng(5)
    W, b = rng.normal(size=(3, 2)), rng.normal(size=3)
    W = np.vstack([W, W[1]])
    b = np.append(b, b[1])
    reg = LinearRegions(W, b, domain=(-3, 3))
    M = reg.adjacency()
    assert not M[1, 3]
    np.testing.assert_array_equal(np.delete(M[1], [1, 3]), np.delete(M[3], [1, 3]))
    F = rng.uniform(-3, 3, size=(50, 2))
    assert not np.any(reg.predict(F) == 3)  # ties go to the lower index
    assert np.all(np.isfinite(reg.certified_radius(F)))
