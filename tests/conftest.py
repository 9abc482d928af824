"""Shared fixtures: the independent oracles (HiGHS LP/QP, brute force, exact hard-geometry cases)
and seeded generators. The oracle functions live in ``tests/oracles.py`` and ``tests/hardgeom.py``;
the fixtures hand them to tests that prefer injection over imports."""
from __future__ import annotations

import numpy as np
import pytest

import hardgeom
import oracles


@pytest.fixture
def rng():
    """A fresh seeded generator per test (seed 0): tests never share random state."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def lp_member():
    """q in conv(X) by HiGHS feasibility: ``lp_member(X, q) -> bool``."""
    return oracles.lp_member


@pytest.fixture(scope="session")
def qp_distance():
    """Distance to conv(X) by HiGHS's QP: ``qp_distance(X, q) -> float``."""
    return oracles.qp_distance


@pytest.fixture(scope="session")
def brute_distance():
    """Exact distance to conv(X) for tiny n by enumerating supports: ``brute_distance(X, q) -> float``."""
    return oracles.brute_distance


@pytest.fixture(scope="session")
def region_qp():
    """min ||f - f0|| s.t. R f <= h by HiGHS: ``region_qp(R, h, f0, n_eq=0) -> float``."""
    return oracles.region_qp


@pytest.fixture(scope="session")
def hard_case():
    """``hard_case(family, seed) -> (X, Q, D, info)`` with exact distances D (see hardgeom.py)."""
    return hardgeom.make_case
