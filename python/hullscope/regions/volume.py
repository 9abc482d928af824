"""Monte Carlo volume share of each class inside a bounded domain.

Volumes of 64-d polytopes cannot be computed exactly in practice, so the share of the domain's
volume that each class owns is estimated by sampling:

* **box domains:** exact uniform samples; Wilson score intervals per class;
* **conv(F_train) domains:** hit-and-run chains (uniform stationary distribution on the hull). Each
  chord is found by bisection on the hull engine's exact membership test, to a relative precision of
  ``2**-bisections`` of the chord. Intervals come from the spread between independent chains (each
  chain's share is one observation), so autocorrelation within a chain widens them honestly.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .results import VolumeShare

logger = logging.getLogger(__name__)

__all__ = ["volume_share", "wilson_interval"]


def _z(confidence: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(k: np.ndarray, n: float, confidence: float = 0.95):
    """Wilson score interval for k successes out of n (vectorised)."""
    z = _z(confidence)
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return np.clip(mid - half, 0, 1), np.clip(mid + half, 0, 1)


def volume_share(reg: Any, samples: int = 100_000, seed: int = 0, *, confidence: float = 0.95,
                 chains: int = 32, burn_in: int = 50, bisections: int = 24, batch: int = 65_536,
                 progress: bool = False) -> VolumeShare:
    """Share of the domain's volume per class, with confidence intervals.

    Parameters
    ----------
    reg : LinearRegions
        Its domain must be a finite box or a hull (R^d and the orthant have infinite volume).
    samples : int
        Total number of samples (after burn-in, over all chains for hulls).
    seed : int
    confidence : float in (0, 1)
    chains, burn_in, bisections : int
        Hit-and-run settings (hull domains only).
    """
    from .._progress import progress_bar

    if isinstance(samples, (bool, np.bool_)) or not (isinstance(samples, (int, np.integer)) and 1 <= samples <= 10**8):
        raise ValueError(f"samples: expected an int in [1, 1e8] (Monte Carlo error falls as 1/sqrt(samples)), "
                         f"got {samples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: expected a number in (0, 1), got {confidence!r}")
    rng = np.random.default_rng(seed)
    K = reg.K
    if reg.domain_kind == "hull":
        return _hit_and_run(reg, int(samples), rng, confidence, chains, burn_in, bisections, progress)
    if not (np.all(np.isfinite(reg.lo)) and np.all(np.isfinite(reg.hi))):
        raise ValueError("domain: volume shares need a bounded domain (a finite box or a hull); "
                         "R^d and the orthant have infinite volume")
    counts = np.zeros(K, dtype=np.int64)
    done = 0
    with progress_bar(progress, samples, "volume share") as bar:
        while done < samples:
            m = min(batch, samples - done)
            F = reg.lo + (reg.hi - reg.lo) * rng.random((m, reg.d))
            counts += np.bincount(reg.predict(F), minlength=K)
            done += m
            bar.update(m)
    lo, hi = wilson_interval(counts.astype(float), samples, confidence)
    return VolumeShare(counts / samples, lo, hi, samples, float(samples), "exact", confidence)


def _hit_and_run(reg: Any, samples: int, rng: np.random.Generator, confidence: float, chains: int,
                 burn_in: int, bisections: int, progress: bool) -> VolumeShare:
    from .._progress import progress_bar

    H = reg.hull
    X = H.X
    K, d = reg.K, reg.d
    chains = max(2, min(chains, samples))
    steps = -(-samples // chains)
    x = np.tile(X.mean(axis=0), (chains, 1))  # the centroid is inside
    counts = np.zeros((chains, K))
    span = float(np.linalg.norm(reg.hi - reg.lo)) + 1e-300

    def chord_end(x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Largest t in [0, span] with x + t u in the hull, by bisection on exact membership."""
        lo_t, hi_t = np.zeros(len(x)), np.full(len(x), span)
        for _ in range(bisections):
            mid = 0.5 * (lo_t + hi_t)
            ins = H.contains(x + mid[:, None] * u).status == "inside"
            lo_t = np.where(ins, mid, lo_t)
            hi_t = np.where(ins, hi_t, mid)
        return lo_t

    with progress_bar(progress, burn_in + steps, "hit-and-run") as bar:
        for step in range(burn_in + steps):
            u = rng.normal(size=(chains, d))
            u /= np.linalg.norm(u, axis=1, keepdims=True)
            t_hi = chord_end(x, u)
            t_lo = -chord_end(x, -u)
            t = t_lo + (t_hi - t_lo) * rng.random(chains)
            x = x + t[:, None] * u
            if step >= burn_in:
                counts[np.arange(chains), reg.predict(x)] += 1
            bar.update(1)
    per_chain = counts / steps
    share = per_chain.mean(axis=0)
    se = per_chain.std(axis=0, ddof=1) / np.sqrt(chains)
    z = _z(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        ess = np.where(se > 0, share * (1 - share) / np.maximum(se * se, 1e-300), chains * steps)
    lo = np.clip(share - z * se, 0, 1)
    hi = np.clip(share + z * se, 0, 1)
    return VolumeShare(share, lo, hi, chains * steps, float(np.median(ess)), "hit-and-run", confidence)
