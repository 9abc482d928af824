"""The exact low-dimensional illustration: two fits that agree on the training data, inside and outside its hull.

Random-feature models f(x) = phi(x) . theta with phi_j(x) = sqrt(2 / p) cos(w_j . x + b_j) (random Fourier
features: w_j ~ N(0, s^2 I), b_j ~ U(0, 2 pi), bandwidth s = 8 in 1-D and 4 in 2-D) are fitted to the same
n points in 1-D and in 2-D, for p from below n to far above n:

* **minimum norm**: theta_mn = pinv(Phi) y (``numpy.linalg.lstsq``); checked against the closed form
  Phi^T (Phi Phi^T)^-1 y when p >= n (the minimum-norm interpolant) and (Phi^T Phi)^-1 Phi^T y when p < n;
* **gradient descent** on the squared loss from a random initialisation theta_0 ~ N(0, I), step 1 / s_max^2.
  Its limit is known in closed form: theta_0 + pinv(Phi) (y - Phi theta_0) = theta_mn + (I - pinv(Phi) Phi) theta_0,
  so the two fits differ by g(x) = phi(x) . (I - pinv(Phi) Phi) theta_0, a function that vanishes on every
  training point (for p >= n). How large g is between the training points (inside their hull) and beyond
  them (outside) is what the illustration measures; the hull of the 2-D points is the hull engine's
  (:meth:`Hull.contains` certifies every evaluation point inside or outside).

Densely sampled training points make Phi ill-conditioned, and gradient descent then converges slowly in
the directions of its small singular values: the report gives the gap of the GD iterate after ``gd_steps``
steps *and* of its closed-form limit, with the iterate's distance to that limit and the condition number.

With theta_0 ~ N(0, I), g is a Gaussian process whose variance at x is the noise-free posterior variance of the
kernel k(x, x') = phi(x) . phi(x') given the training points (:func:`gap_variance`): zero on them, small between
them, growing away from the hull.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

__all__ = ["random_features", "min_norm_fit", "closed_form_fit", "gd_fit", "gd_limit", "gap_variance",
           "IllustrationResult", "illustrate", "run_illustration"]


@dataclass(frozen=True)
class RandomFourier:
    """phi_j(x) = sqrt(2 / p) cos(w_j . x + b_j)."""
    W: np.ndarray  # (p, dim)
    b: np.ndarray  # (p,)

    @property
    def p(self) -> int:
        return int(self.W.shape[0])

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, float).reshape(len(X), -1)
        return np.sqrt(2.0 / self.p) * np.cos(X @ self.W.T + self.b)


def random_features(p: int, dim: int, seed: int = 0, bandwidth: float = 2.0) -> RandomFourier:
    """p random Fourier features of R^dim: w_j ~ N(0, bandwidth^2 I), b_j ~ U(0, 2 pi)."""
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
        raise ValueError(f"p: expected an int >= 1 (number of features), got {p!r}")
    if dim not in (1, 2):
        raise ValueError(f"dim: expected 1 or 2, got {dim!r}")
    rng = np.random.default_rng(seed)
    return RandomFourier(bandwidth * rng.standard_normal((p, dim)), rng.uniform(0.0, 2 * np.pi, p))


def min_norm_fit(Phi: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Minimum-norm least-squares coefficients (pinv(Phi) y) by numpy's SVD solver."""
    return np.linalg.lstsq(Phi, y, rcond=None)[0]


def closed_form_fit(Phi: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The closed form Phi^T (Phi Phi^T)^-1 y (p >= n: the minimum-norm interpolant) or (Phi^T Phi)^-1 Phi^T y
    (p < n), evaluated through a QR factorisation (Phi^T = QR gives Q R^-T y; Phi = QR gives R^-1 Q^T y), which
    keeps the conditioning of Phi instead of squaring it. Independent of the SVD behind :func:`min_norm_fit`."""
    from scipy.linalg import solve_triangular

    n, p = Phi.shape
    if p >= n:
        Q, R = np.linalg.qr(Phi.T)
        return Q @ solve_triangular(R, y, trans="T")
    Q, R = np.linalg.qr(Phi)
    return solve_triangular(R, Q.T @ y)


def gd_fit(Phi: np.ndarray, y: np.ndarray, theta0: np.ndarray, steps: int) -> np.ndarray:
    """Full-batch gradient descent on 0.5 ||Phi theta - y||^2 from theta0, step 1 / s_max(Phi)^2."""
    lr = 1.0 / np.linalg.norm(Phi, 2) ** 2
    th = np.array(theta0, float)
    for _ in range(int(steps)):
        th -= lr * (Phi.T @ (Phi @ th - y))
    return th


def gd_limit(Phi: np.ndarray, y: np.ndarray, theta0: np.ndarray) -> np.ndarray:
    """Where gradient descent from theta0 converges: theta0 + pinv(Phi) (y - Phi theta0)."""
    return theta0 + min_norm_fit(Phi, y - Phi @ theta0)


def gap_variance(Phi: np.ndarray, Phi_eval: np.ndarray) -> np.ndarray:
    """Variance of phi(x) . (I - P) theta0 over theta0 ~ N(0, I), P the projector on the row space of Phi."""
    Vt = np.linalg.svd(Phi, full_matrices=False)[2]
    s = np.linalg.svd(Phi, compute_uv=False)
    Vt = Vt[s > s[0] * max(Phi.shape) * np.finfo(float).eps]
    proj = Phi_eval @ Vt.T
    return np.maximum(np.einsum("ij,ij->i", Phi_eval, Phi_eval) - np.einsum("ij,ij->i", proj, proj), 0.0)


@dataclass(frozen=True, eq=False)
class IllustrationResult:
    """One dimension's sweep over p. Arrays per p (in ``ps`` order)."""
    dim: int
    n: int
    ps: List[int]
    X: np.ndarray
    y: np.ndarray
    grid: np.ndarray
    inside: np.ndarray
    outside: np.ndarray
    f_mn: np.ndarray = field(repr=False)
    f_gd: np.ndarray = field(repr=False)
    f_lim: np.ndarray = field(repr=False, default=None)
    rms_gap_limit_inside: np.ndarray = field(default=None)
    rms_gap_limit_outside: np.ndarray = field(default=None)
    rms_gap_inside: np.ndarray = field(default=None)
    rms_gap_outside: np.ndarray = field(default=None)
    max_gap_train: np.ndarray = field(default=None)
    mn_vs_closed_form: np.ndarray = field(default=None)
    gd_vs_limit: np.ndarray = field(default=None)
    train_rmse_mn: np.ndarray = field(default=None)
    train_rmse_gd: np.ndarray = field(default=None)
    gd_steps: int = 0
    cond: np.ndarray = field(default=None)

    def summary(self) -> Dict[str, Any]:
        return {"dim": self.dim, "n": self.n, "p": self.ps, "p_over_n": [p / self.n for p in self.ps],
                "gd_steps": self.gd_steps, "condition_number_of_Phi": self.cond,
                "rms_gap_inside_hull": self.rms_gap_inside, "rms_gap_outside_hull": self.rms_gap_outside,
                "rms_gap_of_gd_limit_inside_hull": self.rms_gap_limit_inside,
                "rms_gap_of_gd_limit_outside_hull": self.rms_gap_limit_outside,
                "max_gap_on_training_points": self.max_gap_train,
                "max_rel_diff_min_norm_vs_closed_form": self.mn_vs_closed_form,
                "rel_dist_gd_to_its_closed_form_limit": self.gd_vs_limit,
                "train_rmse_min_norm": self.train_rmse_mn, "train_rmse_gd": self.train_rmse_gd,
                "grid_points_inside": int(self.inside.sum()), "grid_points_outside": int(self.outside.sum())}


def _data(dim: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    if dim == 1:
        X = np.sort(rng.uniform(-1.0, 1.0, n))[:, None]
        y = np.sin(2.5 * X[:, 0]) + 0.3 * X[:, 0]
        grid = np.linspace(-3.0, 3.0, 601)[:, None]
        inside = (grid[:, 0] >= X.min()) & (grid[:, 0] <= X.max())
        return X, y, grid, inside, None
    X = rng.uniform(-1.0, 1.0, (n, 2))
    y = np.sin(2.0 * X[:, 0]) * np.cos(1.5 * X[:, 1])
    g = np.linspace(-3.0, 3.0, 61)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    return X, y, grid, None, g


def illustrate(dim: int, n: int, ps: Sequence[int], *, seed: int = 0, gd_steps: int = 50000,
               bandwidth: float = 6.0, threads: Optional[int] = None) -> IllustrationResult:
    """Fit minimum-norm and GD models for every p; measure their gap inside and outside the training hull."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 3:
        raise ValueError(f"n: expected an int >= 3 training points, got {n!r}")
    if not ps:
        raise ValueError("ps: expected at least one feature count")
    X, y, grid, inside, _ = _data(dim, n, seed)
    if inside is None:
        import warnings

        from .._verification import ConvergenceWarning
        from ..hull import Hull

        with warnings.catch_warnings():  # uncertified grid points are left out of both sides
            warnings.simplefilter("ignore", ConvergenceWarning)
            mem = Hull(X, threads=threads).contains(grid, threads=threads)
        inside = np.asarray(mem.status) == "inside"
        outside = np.asarray(mem.status) == "outside"
    else:
        outside = ~inside
    rng = np.random.default_rng(seed + 1)
    f_mn, f_gd, gi, go, gt, mc, gl, rm, rg, cn = [], [], [], [], [], [], [], [], [], []
    f_lim, li, lo = [], [], []
    for p in ps:
        feat = random_features(int(p), dim, seed=seed + 2 + int(p), bandwidth=bandwidth)
        Phi, Pg = feat(X), feat(grid)
        th_mn = min_norm_fit(Phi, y)
        th_cf = closed_form_fit(Phi, y)
        th0 = rng.standard_normal(int(p))
        th_gd = gd_fit(Phi, y, th0, gd_steps)
        th_lim = gd_limit(Phi, y, th0)
        a, b = Pg @ th_mn, Pg @ th_gd
        f_mn.append(a)
        f_gd.append(b)
        gap = b - a
        c = Pg @ th_lim
        f_lim.append(c)
        li.append(float(np.sqrt(np.mean((c - a)[inside] ** 2))) if inside.any() else float("nan"))
        lo.append(float(np.sqrt(np.mean((c - a)[outside] ** 2))) if outside.any() else float("nan"))
        gi.append(float(np.sqrt(np.mean(gap[inside] ** 2))) if inside.any() else float("nan"))
        go.append(float(np.sqrt(np.mean(gap[outside] ** 2))) if outside.any() else float("nan"))
        gt.append(float(np.max(np.abs(Phi @ th_gd - Phi @ th_mn))))
        mc.append(float(np.linalg.norm(th_mn - th_cf) / max(np.linalg.norm(th_cf), 1e-300)))
        gl.append(float(np.linalg.norm(th_gd - th_lim) / max(np.linalg.norm(th_lim), 1e-300)))
        rm.append(float(np.sqrt(np.mean((Phi @ th_mn - y) ** 2))))
        cn.append(float(np.linalg.cond(Phi)))
        rg.append(float(np.sqrt(np.mean((Phi @ th_gd - y) ** 2))))
    return IllustrationResult(dim=dim, n=n, ps=[int(p) for p in ps], X=X, y=y, grid=grid, inside=inside,
                              outside=outside,
                              f_mn=np.array(f_mn), f_gd=np.array(f_gd), f_lim=np.array(f_lim),
                              rms_gap_limit_inside=np.array(li), rms_gap_limit_outside=np.array(lo),
                              rms_gap_inside=np.array(gi),
                              rms_gap_outside=np.array(go), max_gap_train=np.array(gt),
                              mn_vs_closed_form=np.array(mc), gd_vs_limit=np.array(gl), train_rmse_mn=np.array(rm),
                              train_rmse_gd=np.array(rg), gd_steps=int(gd_steps), cond=np.array(cn))


def run_illustration(*, seed: int = 0, threads: Optional[int] = None,
                     gd_steps: int = 50000) -> Dict[int, IllustrationResult]:
    """The study's illustration: 1-D with n = 20 (bandwidth 8) and 2-D with n = 60 (bandwidth 4), p / n from
    1/2 to 64."""
    out = {}
    for dim, n, bw in ((1, 20, 8.0), (2, 60, 4.0)):
        ps = [n // 2, n, 2 * n, 8 * n, 64 * n]
        out[dim] = illustrate(dim, n, ps, seed=seed, gd_steps=gd_steps, bandwidth=bw, threads=threads)
    return out
