"""Exactness under adversarial geometry: the reproducers of wrong answers, and a seeded fuzz over
hard-geometry families checked against exact distances (construction, rationals, brute force).

Heavier seeds: ``python bench/fuzz.py``.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from hardgeom import FAMILIES, judge, make_case
from hullscope import Hull, LinearRegions
from oracles import box_rows, region_qp


# ---- hull: offsets, single points, near-boundary points --------------------------------------------
def test_rows_of_offset_data_are_inside_their_own_hull():
    X = np.array([[1000.4, 999.44], [1000.59, 1000.04]])
    r = Hull(X).contains(X[0])
    assert r.status[0] == "inside" and r.distance[0] == 0.0
    assert r.verify()


@pytest.mark.parametrize("offset,spread", [(1e2, 1e-3), (1e3, 1e-3), (1e4, 1.0), (1e8, 1e-4), (-1e6, 1e-2)])
def test_offset_hulls_give_exact_verdicts_and_certificates(offset, spread):
    rng = np.random.default_rng(int(abs(offset)) % 97)
    Y = rng.normal(size=(40, 3))
    X = offset + spread * Y
    r = Hull(X).contains(X)             # every row is in its own hull
    assert (r.status == "inside").all(), r.status
    assert r.verify()
    q = X.mean(axis=0)
    far = X[0] + 10 * spread * np.ones(3)
    r = Hull(X).distance(np.vstack([q, far]))
    assert r.status.tolist()[1] == "outside" and r.verify()
    assert r.lower[1] <= np.linalg.norm(far - X[0])


def test_single_point_hull_separates_a_point_1e8_away():
    X = np.array([[3.0, -1.0, 2.0]])
    q = X[0] + [0, 1e-8, 0]
    r = Hull(X).distance(q[None])
    assert r.status[0] == "outside"
    assert r.margin[0] <= r.distance[0] * (1 + 1e-9)    # a margin can never exceed the distance
    np.testing.assert_allclose(r.distance[0], 1e-8, rtol=1e-6)
    assert r.verify()
    # the same through subset= with one row of a larger set
    X2 = np.vstack([X, [[50.0, 60.0, 70.0]], [[-4.0, 9.0, 1.0]]])
    r = Hull(X2).distance(q[None], subset=[0])
    assert r.status[0] == "outside" and r.verify()
    np.testing.assert_allclose(r.distance[0], 1e-8, rtol=1e-6)


def test_near_boundary_outside_points_converge():
    X = np.array([[0.0, 0], [1, 1]]) / np.sqrt(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # no non-convergence warning may be raised
        r = Hull(X).distance([[0.3 - 3e-9, 0.3 + 3e-9]])
    assert r.status[0] == "outside" and r.converged[0]
    np.testing.assert_allclose(r.distance[0], 3e-9 * np.sqrt(2), rtol=1e-6)
    assert r.verify()


def test_points_2_to_100_tol_off_random_faces_converge(rng):
    total = unconverged = 0
    for _ in range(20):
        d = int(rng.integers(2, 8))
        X = rng.normal(size=(int(rng.integers(d + 1, 40)), d))
        h = Hull(X)
        r = h.distance(5 * rng.normal(size=(1, d)))
        u = (r.Q[0] - r.nearest[0]) / r.distance[0]
        Q = r.nearest[0] + np.outer(rng.uniform(2, 100, size=10) * 1e-9 * r.scale[0], u)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rr = h.distance(Q)
        assert rr.verify()
        total += len(Q)
        unconverged += int(np.sum(~rr.converged))
    assert unconverged <= 0.01 * total, (unconverged, total)


# ---- decision regions: ties on the boundary of the box, active-set QPs ------------------------------
def test_certified_radius_with_a_tie_at_a_corner_of_the_box():
    reg = LinearRegions(np.array([[1.0, 2], [-1, -2]]), np.zeros(2), domain=(np.zeros(2), np.ones(2)))
    r = reg.certified_radius(np.array([[1.0, 0.6]]))
    np.testing.assert_allclose(r.radius[0], np.hypot(1.0, 0.6), rtol=1e-12)   # the tie at the origin
    assert r.verify()


def test_infinite_radius_needs_its_own_certificate():
    import dataclasses

    reg = LinearRegions(np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([0.0, -5.0]), domain=(np.zeros(2), np.ones(2)))
    r = reg.certified_radius(np.array([[0.5, 0.5]]))
    assert r.radius[0] == np.inf and r.verify()             # class 1 can never win in the box
    reg2 = LinearRegions(np.array([[1.0, 2], [-1, -2]]), np.zeros(2), domain=(np.zeros(2), np.ones(2)))
    r2 = reg2.certified_radius(np.array([[1.0, 0.6]]))
    bad = dataclasses.replace(r2, radius=np.array([np.inf]))
    assert not bad.verify()                                  # a rival is reachable: inf is refused


def test_certified_radius_in_the_orthant_matches_a_qp_per_rival():
    rng = np.random.default_rng(3)
    infinite = 0
    for trial in range(40):
        K, d = int(rng.integers(2, 5)), int(rng.integers(2, 4))
        W, b = rng.normal(size=(K, d)), rng.normal(size=K)
        reg = LinearRegions(W, b, domain="orthant")
        F = np.abs(rng.normal(size=(4, d)))
        r = reg.certified_radius(F)
        assert r.verify()
        for n, f in enumerate(F):
            c = int(r.pred[n])
            best = np.inf
            for j in range(K):
                if j == c:
                    continue
                a, t = W[j] - W[c], b[c] - b[j]
                if a.max() <= 0 and t > 0:
                    continue          # z_j >= z_c is impossible in the orthant
                R = np.vstack([-a[None, :], -np.eye(d)])
                best = min(best, region_qp(R, np.r_[-t, np.zeros(d)], f))
            infinite += np.isinf(best)
            if np.isinf(best):
                assert np.isinf(r.radius[n])
            else:
                np.testing.assert_allclose(r.radius[n], best, rtol=1e-6, atol=1e-7)
    assert infinite > 0      # the family exercises the infinite-radius certificate too


def test_distance_to_class_is_right_where_the_dual_active_set_degenerates():
    W = np.array([[.75, -.03], [.65, -.65], [.34, 1.33], [.47, -.22]])
    b = np.array([-1.21, 1.28, -.54, .66])
    r = LinearRegions(W, b).distance_to_class(np.array([2.06, 1.83]), 0)
    z = W @ r.point[0] + b
    assert np.argmax(z) == 0 or abs(z.max() - z[0]) < 1e-9
    np.testing.assert_allclose(r.distance[0], 7.70775464, rtol=1e-7)
    assert r.converged[0] and r.verify()


def test_distance_to_class_in_the_orthant_small_qp():
    W = np.array([[0, 0], [-.16, 1.13], [-1.27, .63], [-.97, -1.15], [.78, -1.83], [-.69, 1.27], [-.54, -2.02],
                  [-1.2, -.11], [1.13, -1.61]])
    b = np.array([-.03, .1, 1.26, .49, -.22, -.42, .73, .09, -.4])
    reg = LinearRegions(W, b, "orthant")
    f0 = np.array([2.25, 1.74])
    r = reg.distance_to_class(f0, 5)
    assert r.converged[0] and (r.point[0] >= -1e-12).all() and r.verify()
    A = np.delete(W - W[5], 5, axis=0)
    g = np.delete(b[5] - b, 5)
    R0, h0 = box_rows(reg)
    np.testing.assert_allclose(r.distance[0], region_qp(np.vstack([A, R0]), np.r_[g, h0], f0), rtol=1e-6)


def test_projection_qps_match_highs_on_random_small_models():
    rng = np.random.default_rng(11)
    checked = 0
    for trial in range(60):
        K, d = int(rng.integers(3, 10)), 2
        W, b = rng.normal(size=(K, d)), rng.normal(size=K)
        reg = LinearRegions(W, b, "orthant" if trial % 2 else None)
        f0 = np.abs(rng.normal(size=d)) * 2
        j = int(rng.integers(0, K))
        if not reg.chebyshev_ball(j).nonempty:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = reg.distance_to_class(f0, j)
        A = np.delete(W - W[j], j, axis=0)
        g = np.delete(b[j] - b, j)
        R0, h0 = box_rows(reg)
        ref = region_qp(np.vstack([A, R0]), np.r_[g, h0], f0)
        assert r.converged[0], (trial, K)
        assert r.verify()
        np.testing.assert_allclose(r.distance[0], ref, rtol=1e-5, atol=1e-6)   # HiGHS QP tolerance
        checked += 1
    assert checked >= 30


# ---- the fuzz: every family, a bounded seed range ---------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_fuzz_hard_geometry_against_exact_distances(family):
    cases = wrong = bad = unconv = queries = 0
    for seed in range(6):
        X, Q, D, info = make_case(family, seed)
        h = Hull(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = [h.distance(Q), h.contains(Q)]
        for k, r in enumerate(res):
            v = r.verify()
            assert v, (info, v.failures[:3])
            w, b, u = judge(r, D)
            wrong += len(w)
            bad += len(b) if k == 0 else 0      # contains: distances are bounds, judged by judge()'s bracket
            unconv += len(u)
            queries += len(Q)
        cases += 1
    assert wrong == 0 and bad == 0, (family, wrong, bad)
    assert unconv <= 0.02 * queries, (family, unconv, queries)


# ---- interruption and python -O ----------------------------------------------------------------------
_SIGINT_SCRIPT = r"""
import os, signal, threading, numpy as np
from hullscope import Hull
# a process started in the background by a non-interactive shell inherits SIGINT ignored, and Python
# then installs no handler: install the interactive one, as a terminal session has it
signal.signal(signal.SIGINT, signal.default_int_handler)
rng = np.random.default_rng(0)
X = rng.normal(size=(40000, 200))
Q = rng.dirichlet(np.ones(300), size=3000) @ X[:300]    # deep interior queries: minutes of work
h = Hull(X)
threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    h.distance(Q, threads=1)
    print("FINISHED")
except KeyboardInterrupt:
    print("INTERRUPTED")
"""


def test_ctrl_c_interrupts_a_long_hull_call():
    import subprocess
    import sys

    # the whole call would take minutes; the generous timeout only guards against a hang
    p = subprocess.run([sys.executable, "-c", _SIGINT_SCRIPT], capture_output=True, text=True, timeout=120)
    assert "INTERRUPTED" in p.stdout, (p.stdout, p.stderr[-2000:])


_OPT_SCRIPT = r"""
import dataclasses, numpy as np
from hullscope import Hull, LinearRegions
rng = np.random.default_rng(0)
X = rng.normal(size=(50, 3))
r = Hull(X).distance(X[:2] + 4)
st = r.status.copy(); st[0] = "inside"
assert_free = []
assert_free.append(bool(Hull(X).distance(X[:2] + 4).verify()))
assert_free.append(not dataclasses.replace(r, status=st).verify())
reg = LinearRegions(rng.normal(size=(4, 3)), rng.normal(size=4), domain=(-np.ones(3), np.ones(3)))
ball = [b for b in reg.chebyshev_balls() if b.status == "full"][0]
assert_free.append(bool(ball.verify()))
assert_free.append(not dataclasses.replace(ball, radius=ball.radius * 1.5).verify())
rad = reg.certified_radius(rng.uniform(-1, 1, size=(5, 3)))
assert_free.append(bool(rad.verify()))
assert_free.append(not dataclasses.replace(rad, radius=rad.radius * 0.5).verify())
adj = reg.adjacency()
assert_free.append(bool(adj.verify()))
if len(adj.points):
    assert_free.append(not dataclasses.replace(adj, points=adj.points + 0.3).verify())
print("RESULTS", all(assert_free), assert_free)
"""


def test_verification_still_checks_under_python_O():
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-O", "-c", _OPT_SCRIPT], capture_output=True, text=True, timeout=120)
    assert "RESULTS True" in p.stdout, (p.stdout, p.stderr[-2000:])


def test_verify_max_failures_zero_and_convergence_warning_class():
    import hullscope

    X = np.random.default_rng(2).normal(size=(20, 3))
    r = Hull(X).distance(X[:3] + 4)
    assert r.verify(max_failures=0)                        # a valid result stays valid when listing none
    assert issubclass(hullscope.ConvergenceWarning, RuntimeWarning)
