"""Rank correlation with a bootstrap interval, and strict JSON, for the stability studies."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Tuple

import numpy as np

from .._json import dumps as _dumps, strict_json as _strict_json

__all__ = ["rankdata", "spearman", "bootstrap_spearman", "SpearmanResult", "strict_json"]


def rankdata(a: Any) -> np.ndarray:
    """Ranks 1..n of a 1-D array, ties given the average of the ranks they span (float64)."""
    a = np.asarray(a, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(a.size, dtype=np.float64)
    sa = a[order]
    # boundaries of runs of equal values in sorted order
    start = np.flatnonzero(np.r_[True, sa[1:] != sa[:-1]])
    end = np.r_[start[1:], a.size]
    avg = (start + end + 1) / 2.0  # mean of ranks start+1 .. end
    ranks[order] = np.repeat(avg, end - start)
    return ranks


def _check_pairs(x: Any, y: Any, names: Tuple[str, str] = ("x", "y")) -> Tuple[np.ndarray, np.ndarray]:
    xs = []
    for v, name in zip((x, y), names):
        a = np.asarray(v)
        if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) \
                or np.issubdtype(a.dtype, np.complexfloating):
            raise TypeError(f"{name}: expected real numbers, got dtype {a.dtype}")
        a = a.astype(np.float64).ravel()
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: contains NaN or inf ({int((~np.isfinite(a)).sum())} of {a.size} values)")
        xs.append(a)
    if xs[0].size != xs[1].size:
        raise ValueError(f"{names[0]}, {names[1]}: expected paired values, got {xs[0].size} and {xs[1].size}")
    if xs[0].size < 3:
        raise ValueError(f"{names[0]}, {names[1]}: a rank correlation needs at least 3 models (pairs), "
                         f"got {xs[0].size}")
    for a, name in zip(xs, names):
        if np.all(a == a[0]):
            raise ValueError(f"{name}: all {a.size} values are equal; the rank correlation is undefined")
    return xs[0], xs[1]


def _spearman_unchecked(x: np.ndarray, y: np.ndarray) -> float:
    rx, ry = rankdata(x), rankdata(y)
    rx -= rx.mean()
    ry -= ry.mean()
    den = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / den if den > 0 else float("nan")


def spearman(x: Any, y: Any) -> float:
    """Spearman's rank correlation of paired values (Pearson correlation of average ranks).

    Needs at least 3 pairs and neither variable constant (ValueError otherwise).
    """
    x, y = _check_pairs(x, y)
    return _spearman_unchecked(x, y)


@dataclass(frozen=True)
class SpearmanResult:
    """Spearman's rho with a percentile bootstrap interval.

    ``low``/``high``: the ``level`` percentile interval of rho over ``n_boot`` resamples of the pairs
    (with replacement); resamples in which either variable is constant have no rho and are dropped
    (``n_dropped``). ``n``: number of pairs.
    """
    rho: float
    low: float
    high: float
    level: float
    n: int
    n_boot: int
    n_dropped: int
    seed: int

    def __repr__(self) -> str:
        return (f"SpearmanResult(rho={self.rho:.3f}, {100 * self.level:g}% CI [{self.low:.3f}, {self.high:.3f}], "
                f"n={self.n}, n_boot={self.n_boot})")

    def to_dict(self) -> dict:
        return {"rho": self.rho, "low": self.low, "high": self.high, "level": self.level, "n": self.n,
                "n_boot": self.n_boot, "n_dropped": self.n_dropped, "seed": self.seed,
                "method": "percentile bootstrap over models (pairs resampled with replacement)"}


def bootstrap_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """The resampling indices used by :func:`bootstrap_spearman`: shape (n_boot, n)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(n_boot, n))


def bootstrap_spearman(x: Any, y: Any, n_boot: int = 10000, level: float = 0.95, seed: int = 0,
                       names: Tuple[str, str] = ("x", "y")) -> SpearmanResult:
    """Spearman's rho of (x, y) with a percentile bootstrap interval at ``level`` (default 95%).

    Parameters
    ----------
    x, y : 1-D arrays of the same length n >= 3 (one value per model)
    n_boot : number of resamples (>= 100)
    level : coverage of the interval, in (0, 1)
    seed : seed of the resampling
    """
    x, y = _check_pairs(x, y, names)
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 100:
        raise ValueError(f"n_boot: expected an int >= 100 resamples, got {n_boot!r}")
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level: expected a coverage in (0, 1), got {level}")
    idx = bootstrap_indices(x.size, int(n_boot), int(seed))
    rhos = np.array([_spearman_unchecked(x[i], y[i]) if (np.ptp(x[i]) > 0 and np.ptp(y[i]) > 0) else np.nan
                     for i in idx])
    ok = rhos[np.isfinite(rhos)]
    if ok.size < 0.5 * n_boot:
        raise ValueError(f"x, y: only {ok.size} of {n_boot} resamples had a defined rank correlation "
                         "(too few distinct values); no interval")
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(ok, [a, 1.0 - a])
    return SpearmanResult(rho=_spearman_unchecked(x, y), low=float(lo), high=float(hi), level=level, n=int(x.size),
                          n_boot=int(n_boot), n_dropped=int(n_boot - ok.size), seed=int(seed))


def strict_json(obj: Any) -> Any:
    """Plain-Python copy for strict JSON (NaN/inf -> None): :func:`hullscope._json.strict_json`."""
    return _strict_json(obj)


def dumps(obj: Any, **kw: Any) -> str:
    """Strict JSON text: :func:`hullscope._json.dumps`."""
    return _dumps(obj, **kw)