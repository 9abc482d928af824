"""The idealised network: constant (averaging) filters and ReLU, where D_k and G_k follow power laws.

Derivation (dimension ``dim`` = 1 or 2, filter size 2 per axis, inputs with isolated active pixels
of value 1, the deformation moves each active pixel by one pixel, the noise has the norm of the
deformation's change):

*Stride 2.* Layer k averages non-overlapping blocks of side 2^k, so an active pixel becomes a
single unit of value A_k = 2^(-dim k). Two distinct images differ in two units:
``||f(x) - f(z)||^2 ~ 2 A_k^2``. A one-pixel move changes the representation only when it crosses a
block border, with probability ~2^(-k), and then by ``2 A_k^2``: **D_k ~ 2^(-k)**. Noise is
rectified by the first ReLU into a positive field of mean mu > 0; averaging keeps that mean and
shrinks the fluctuations, and later ReLUs act as the identity on positive values, so each of the
N 2^(-dim k) units of layer k is off by ~mu: ``||f(x+eta) - f(x)||^2 ~ N 2^(-dim k) mu^2`` and
**G_k ~ 2^(dim k)** (2^k in one dimension, 4^k in two).

*Stride 1.* Repeated averaging spreads an active pixel into a bump of width w_k ~ sqrt(k) and
height A_k ~ w_k^(-dim) (its mass is conserved). A one-pixel move changes it by its gradient:
``||df||^2 ~ A_k^2 w_k^(dim-2)`` against ``||f(x) - f(z)||^2 ~ 2 A_k^2 w_k^dim``, so **D_k ~ 1/k**.
The rectified noise keeps its mean on all ~N units while the signal norm falls as w_k^(-dim), so
**G_k ~ w_k^dim ~ k^(dim/2)** (k^(1/2) in one dimension, k in two).

The published exponents (D_k ~ 2^-k, G_k ~ 2^k; D_k ~ k^-1, G_k ~ k^(1/2)) are the one-dimensional
case. :func:`measure` computes D_k and G_k on such a network and :func:`fit_exponents` fits them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np

from ..sensitivity import relative_sensitivity

__all__ = ["predicted_exponents", "measure", "fit_exponents", "IdealizedResult"]


def predicted_exponents(stride: int, dim: int = 1) -> Dict[str, float]:
    """Exponents of D_k and G_k: in base 2 against depth k (stride 2) or against log k (stride 1)."""
    if stride not in (1, 2) or dim not in (1, 2):
        raise ValueError(f"stride and dim: expected stride in (1, 2) and dim in (1, 2), got {stride}, {dim}")
    return {"D": -1.0, "G": float(dim)} if stride == 2 else {"D": -1.0, "G": dim / 2.0}


@dataclass(frozen=True)
class IdealizedResult:
    """D_k and G_k for layers k = 1..depth of the idealised network."""

    stride: int
    dim: int
    k: np.ndarray
    D: np.ndarray
    G: np.ndarray

    def __repr__(self) -> str:
        return f"IdealizedResult(stride {self.stride}, {self.dim}-D, {len(self.k)} layers)"



def _layer(f: np.ndarray, stride: int, dim: int) -> np.ndarray:
    # stride 1 uses circular padding so that every layer keeps the N units of the input (with
    # 'valid' convolutions the shrinking layer would bias G_k downwards)
    if dim == 1:
        out = 0.5 * (f[:, :-1:stride] + f[:, 1::stride]) if stride == 2 else 0.5 * (f + np.roll(f, -1, axis=1))
    else:
        if stride == 2:
            out = 0.25 * (f[:, 0::2, 0::2] + f[:, 1::2, 0::2] + f[:, 0::2, 1::2] + f[:, 1::2, 1::2])
        else:
            g = f + np.roll(f, -1, axis=1)
            out = 0.25 * (g + np.roll(g, -1, axis=2))
    return np.maximum(out, 0.0)


def measure(stride: int = 2, dim: int = 1, depth: Optional[int] = None, n: Optional[int] = None,
            batch: Optional[int] = None, seed: int = 0) -> IdealizedResult:
    """D_k and G_k of the averaging + ReLU network on images with one active pixel.

    The pixel sits in the central half of the input (stratified over positions); the deformation moves
    it by one pixel, alternating axes and directions; the noise is Gaussian with the deformation's norm.
    """
    predicted_exponents(stride, dim)
    if depth is None:
        depth = {(2, 1): 8, (2, 2): 5, (1, 1): 200, (1, 2): 60}[(stride, dim)]
    if n is None:
        # stride 2: blocks at the last layer (2^depth) stay well below the pixels' separation;
        # stride 1: the bumps (width ~ sqrt(depth)) stay far from each other and from the wrap-around
        n = 2 ** (depth + 5 if dim == 1 else depth + 3) if stride == 2 else (1024 if dim == 1 else 128)
    if batch is None:
        batch = 1024 if dim == 1 else 256
    rng = np.random.default_rng(seed)
    shape = (batch,) + (n,) * dim
    x = np.zeros(shape)
    tx = np.zeros(shape)
    # stratified positions: multiplying 0..batch-1 by an odd number permutes residues modulo every
    # power of two, so pixels sit uniformly within the blocks of every layer (the crossing
    # probability 2^-k behind D_k is then sampled without Bernoulli noise)
    ar = np.arange(batch)
    odd = np.array([40503, 2654435761][:dim], dtype=np.int64)
    offset = rng.integers(0, n // 2, size=dim)
    pos = n // 4 + (offset[None, :] + ar[:, None] * odd[None, :]) % (n // 2)
    seg = ar * (2 * dim) // batch  # 2*dim equal segments: each axis, each direction
    axis = seg % dim
    step = np.where(seg < dim, 1, -1)
    moved = pos.copy()
    moved[np.arange(batch), axis] += step
    b = np.arange(batch)
    x[(b,) + tuple(pos.T)] = 1.0
    tx[(b,) + tuple(moved.T)] = 1.0
    eta = rng.standard_normal(size=shape)
    eta *= np.sqrt(2.0) / np.sqrt(np.sum(eta.reshape(batch, -1) ** 2, axis=1)).reshape((-1,) + (1,) * dim)
    fx, ft, fn = x, tx, x + eta
    D, G = [], []
    for _ in range(depth):
        fx, ft, fn = _layer(fx, stride, dim), _layer(ft, stride, dim), _layer(fn, stride, dim)
        D.append(relative_sensitivity(fx, ft))
        G.append(relative_sensitivity(fx, fn))
    return IdealizedResult(stride, dim, np.arange(1, depth + 1), np.array(D), np.array(G))


def _offset_power_fit(k: np.ndarray, G: np.ndarray, basis) -> float:
    """gamma of the least-squares fit G = a + b * basis(k, gamma), b > 0, over a grid of gamma."""
    best = (np.inf, np.nan)
    for gamma in np.linspace(0.05, 3.0, 591):
        A = np.c_[np.ones_like(k), basis(k, gamma)]
        coef, *_ = np.linalg.lstsq(A, G, rcond=None)
        err = float(np.sum(((A @ coef - G) / G) ** 2))
        if coef[1] > 0 and err < best[0]:
            best = (err, float(gamma))
    return best[1]


def fit_exponents(res: IdealizedResult, k_min: Optional[int] = None) -> Dict[str, float]:
    """Asymptotic exponents of D_k and G_k over layers k >= k_min.

    D: least-squares slope of log2 D_k against k (stride 2) or of log D_k against log k (stride 1).
    G: the derivation gives G_k = a + b 2^(dim k) (stride 2) or a + b k^(dim/2) (stride 1): the
    rectified noise's fluctuations leave an additive constant a that a straight log fit would read as
    a smaller exponent, so gamma is fitted in G_k = a + b 2^(gamma k) or a + b k^gamma (relative
    residuals). Default k_min: 1 for stride 2, max(8, depth / 8) for stride 1.
    """
    if k_min is None:
        k_min = 1 if res.stride == 2 else max(8, int(res.k[-1]) // 8)
    m = res.k >= k_min
    k = res.k[m].astype(float)
    if res.stride == 2:
        return {"D": float(np.polyfit(k, np.log2(res.D[m]), 1)[0]),
                "G": _offset_power_fit(k, res.G[m], lambda t, g: 2.0 ** (g * t))}
    return {"D": float(np.polyfit(np.log(k), np.log(res.D[m]), 1)[0]),
            "G": _offset_power_fit(k, res.G[m], lambda t, g: t ** g)}
