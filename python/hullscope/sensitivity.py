"""Relative sensitivities of a representation: the shared normalisation of D_f, G_f, R_f and S_k.

A perturbation's effect on a representation f is measured relative to how far apart the
representations of *distinct* inputs are:

    sensitivity = < ||f(x') - f(x)||^2 >_x  /  < ||f(x) - f(z)||^2 >_{x != z}

where x' is the perturbed version of x (a diffeomorphism, noise, a synonym exchange, ...). ``< >`` is
the mean or the median, as selected by ``stat``. The numerator also has a per-coordinate form,
``stat="coordinate_median"``: sum_k median_x (f_k(x') - f_k(x))^2, the median taken feature by feature
over the batch and then summed (the statistic of the 2021 diffeomorphism-stability code). The stability (diffeomorphisms vs noise) and the
hierarchy (synonyms, positions) modules both use these functions so that their numbers are comparable.
"""
from __future__ import annotations

from typing import Dict, Literal, Optional, Sequence

import numpy as np

Stat = Literal["mean", "median"]
NumeratorStat = Literal["mean", "median", "coordinate_median"]

__all__ = ["pairwise_sq_distance_stat", "perturbation_stat", "perturbation_stats", "ratio",
           "relative_sensitivity"]

_GRAM_BLOCK = 1 << 24  # Gram-matrix entries computed at once for the all-pairs distances (128 MB of float64)


def _flat(F: np.ndarray, name: str) -> np.ndarray:
    F = np.asarray(F, dtype=np.float64)
    if F.ndim < 1:
        raise ValueError(f"{name}: expected an array of shape (batch, ...), got a scalar")
    F = F.reshape(F.shape[0], -1)
    if not np.isfinite(F).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return F


def _reduce(v: np.ndarray, stat: str) -> float:
    if stat == "mean":
        return float(np.mean(v))
    if stat == "median":
        return float(np.median(v))
    raise ValueError(f"stat: expected 'mean', 'median' or 'coordinate_median', got {stat!r}")


def pairwise_sq_distance_stat(F: np.ndarray, stat: Stat = "mean", *, max_pairs: Optional[int] = None,
                              seed: int = 0) -> float:
    """Mean or median of ||F[i] - F[j]||^2 over distinct pairs i < j.

    Parameters
    ----------
    F : array, shape (batch, ...)
        Representations; trailing axes are flattened. ``batch`` must be at least 2.
    stat : {"mean", "median"}
    max_pairs : int, optional
        Use a seeded random subset of this many pairs (with distinct members) instead of all
        ``batch*(batch-1)/2`` pairs. The mean over all pairs is computed exactly without forming them.
    """
    F = _flat(F, "F")
    B = F.shape[0]
    if B < 2:
        raise ValueError(f"F: the pairwise denominator needs at least 2 distinct inputs, got batch size {B}")
    if stat not in ("mean", "median"):
        raise ValueError(f"stat: expected 'mean' or 'median', got {stat!r}")
    if stat == "mean" and max_pairs is None:
        # sum_{i<j} ||f_i - f_j||^2 = B * sum_i ||f_i - mu||^2  (exact, O(B d))
        c = F - F.mean(axis=0, keepdims=True)
        total = B * float(np.einsum("ij,ij->", c, c))
        return total / (B * (B - 1) / 2)
    if max_pairs is None:
        return _reduce(_all_pair_sq_distances(F), stat)
    rng = np.random.default_rng(seed)
    i = rng.integers(0, B, size=max_pairs)
    j = (i + rng.integers(1, B, size=max_pairs)) % B
    return _reduce(_pair_sq_distances(F, i, j), stat)


def _pair_sq_distances(F: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """||F[i] - F[j]||^2 from exact differences, a bounded block of pairs at a time."""
    # About 256 MB of float64 per block, so a wide layer (e.g. 32 x 32 x 32 activations) never
    # materialises a (pairs, d) array.
    step = max(1, (1 << 25) // max(1, F.shape[1]))
    sq = np.empty(len(i))
    for a in range(0, len(i), step):
        diff = F[i[a:a + step]] - F[j[a:a + step]]
        sq[a:a + step] = np.einsum("ij,ij->i", diff, diff)
    return sq


def _all_pair_sq_distances(F: np.ndarray) -> np.ndarray:
    """||F[i] - F[j]||^2 for all i < j (row-major triu order), from the Gram matrix in row blocks.

    ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b costs a (B, d) x (d, B) product instead of B^2/2
    differences of length d. The expansion loses relative accuracy when ||a - b||^2 is tiny next to
    ||a||^2 + ||b||^2 (near-duplicate inputs), so those pairs are recomputed from exact differences.
    """
    B = F.shape[0]
    C = F - F.mean(axis=0, keepdims=True)   # distances are translation-invariant; centring shrinks norms
    sq_norm = np.einsum("ij,ij->i", C, C)
    out = np.empty(B * (B - 1) // 2)
    rows = max(1, _GRAM_BLOCK // B)          # Gram rows per block
    pos = 0
    for a in range(0, B - 1, rows):
        b = min(B - 1, a + rows)
        G = C[a:b] @ C.T                      # (b - a, B)
        for r in range(a, b):
            g = G[r - a, r + 1:]
            scale = sq_norm[r] + sq_norm[r + 1:]
            sq = np.maximum(scale - 2.0 * g, 0.0)
            # The rounding error of the expansion is at most about d * 1.1e-16 * scale. Below
            # 1e-8 * scale it could exceed 1e-4 of the distance (d up to 1e4): recompute exactly.
            unsafe = np.flatnonzero(sq <= 1e-8 * scale)
            if unsafe.size:
                sq[unsafe] = _pair_sq_distances(F, np.full(unsafe.size, r), r + 1 + unsafe)
            out[pos:pos + sq.size] = sq
            pos += sq.size
    return out


def perturbation_stat(F: np.ndarray, F_pert: np.ndarray, stat: NumeratorStat = "mean") -> float:
    """Mean or median over the batch of ||F_pert[i] - F[i]||^2, or its per-coordinate median form.

    ``stat="coordinate_median"`` returns sum_k median_i (F_pert[i, k] - F[i, k])^2: the median over the
    batch is taken for each feature k separately, then summed over features. For the mean the two
    orders agree; for the median they do not (a perturbation that changes different features in
    different samples has a small per-coordinate median).
    """
    return perturbation_stats(F, F_pert, (stat,))[stat]


def perturbation_stats(F: np.ndarray, F_pert: np.ndarray, stats: Sequence[str]) -> Dict[str, float]:
    """:func:`perturbation_stat` for several statistics at once, from one pass over ``F_pert - F``."""
    for st in stats:
        if st not in ("mean", "median", "coordinate_median"):
            raise ValueError(f"stat: expected 'mean', 'median' or 'coordinate_median', got {st!r}")
    F = _flat(F, "F")
    P = _flat(F_pert, "F_pert")
    if F.shape != P.shape:
        raise ValueError(f"F_pert: expected the shape of F {F.shape}, got {P.shape}")
    sq = P - F
    sq *= sq
    per_image = sq.sum(axis=1) if any(st != "coordinate_median" for st in stats) else None
    return {st: float(np.median(sq, axis=0).sum()) if st == "coordinate_median" else _reduce(per_image, st)
            for st in stats}


def ratio(num: float, den: float) -> float:
    """num / den, with the convention for a representation whose distinct inputs all coincide
    (den = 0): 0 when the perturbation changes nothing either (perfectly stable), else ``nan``."""
    if den == 0.0:
        return 0.0 if num == 0.0 else float("nan")
    return num / den


def relative_sensitivity(F: np.ndarray, F_pert: np.ndarray, stat: Stat = "mean", *,
                         denominator: Optional[float] = None) -> float:
    """perturbation_stat(F, F_pert) / pairwise_sq_distance_stat(F).

    Returns ``nan`` when the denominator is 0 (a representation that maps every input to the same
    point), except that a zero numerator then gives 0: a constant representation is perfectly stable.
    """
    num = perturbation_stat(F, F_pert, stat)
    den = pairwise_sq_distance_stat(F, stat) if denominator is None else float(denominator)
    return ratio(num, den)
