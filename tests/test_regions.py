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
