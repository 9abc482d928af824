"""A band-limited, cone-adapted discrete shearlet transform (FFT-based, numpy): a Parseval frame.

Construction, on the N x N discrete frequency grid (xi_1, xi_2) with r = max(|xi_1|, |xi_2|) / (N/2):

* **Scales.** With the smooth step nu (Meyer's polynomial), let Phi^2(t) = 1 for t <= 1/2,
  cos^2(pi/2 nu(2t - 1)) for 1/2 < t < 1 and 0 after. The low-pass filter is Phi(r / c) and the band
  of scale j = 0..J-1 is W_j(r) = sqrt(Phi^2(r / (c 2^(j+1))) - Phi^2(r / (c 2^j))), with
  c = 2^(1 - J). The squares telescope: Phi^2(r/c) + sum_j W_j^2 = Phi^2(r / (c 2^J)) = 1.
* **Cones.** The horizontal cone |xi_2| <= |xi_1| and the vertical cone |xi_1| < |xi_2| split the
  plane (the seam is sharp; the classic construction smooths it with boundary shearlets).
* **Shears.** In a cone the slope s = xi_2 / xi_1 (or xi_1 / xi_2) lies in [-1, 1]. At scale j there
  are 2 L_j + 1 shears k = -L_j..L_j, L_j = 2^ceil(j/2) (parabolic scaling: twice the directions
  every other scale), with windows A_k(s) = cos(pi/2 L_j (s - k/L_j)) on |s - k/L_j| <= 1/L_j:
  neighbouring windows are cosine and sine of the same angle, so sum_k A_k^2 = 1 on [-1, 1].

Every filter is real and even in frequency (on even grids each squared filter is averaged with its
mirror image, which keeps the partition), so coefficients are real, and the squared filters sum
to one at every frequency: the coefficient maps satisfy ||x||^2 = sum_f ||c_f||^2 (Parseval), and
x = sum_f psi_f * c_f reconstructs exactly (the frame is its own dual). Both are tested.
"""
from __future__ import annotations

from typing import Any, List, Tuple

import numpy as np

__all__ = ["shearlet_filters", "shearlet_transform", "shearlet_inverse", "shearlet_features"]


def _nu(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x ** 4 * (35 - 84 * x + 70 * x ** 2 - 20 * x ** 3)


def _phi2(t: np.ndarray) -> np.ndarray:
    out = np.cos(0.5 * np.pi * _nu(2 * t - 1)) ** 2
    return np.where(t <= 0.5, 1.0, np.where(t >= 1.0, 0.0, out))


def shearlet_filters(N: int, scales: int = 2) -> Tuple[np.ndarray, List[Tuple[str, int, int]]]:
    """The frame's filters on the unshifted FFT grid of an N x N image.

    Returns (filters of shape (F, N, N), labels [(kind, scale, shear)]) with kind in
    {'lowpass', 'horizontal', 'vertical'}; sum of squares over F is 1 at every frequency.
    """
    if isinstance(N, bool) or not isinstance(N, (int, np.integer)) or N < 4:
        raise ValueError(f"N: expected an image side >= 4, got {N!r}")
    if isinstance(scales, bool) or not isinstance(scales, (int, np.integer)) or scales < 1:
        raise ValueError(f"scales: expected an int >= 1, got {scales!r}")
    f = np.fft.fftfreq(N) * N  # integer frequencies
    X1, X2 = np.meshgrid(f, f, indexing="xy")  # X1 along columns, X2 along rows
    r = np.maximum(np.abs(X1), np.abs(X2)) / (N / 2)
    c = 2.0 ** (1 - scales)
    horiz = np.abs(X2) <= np.abs(X1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s_h = np.where(X1 != 0, X2 / X1, 0.0)
        s_v = np.where(X2 != 0, X1 / X2, 0.0)
    filters = [np.sqrt(_phi2(r / c))]
    labels: List[Tuple[str, int, int]] = [("lowpass", -1, 0)]
    for j in range(scales):
        W = np.sqrt(np.maximum(_phi2(r / (c * 2 ** (j + 1))) - _phi2(r / (c * 2 ** j)), 0.0))
        L = 2 ** int(np.ceil(j / 2))
        for kind, cone, s in (("horizontal", horiz, s_h), ("vertical", ~horiz, s_v)):
            for k in range(-L, L + 1):
                u = s - k / L
                A = np.where(np.abs(u) <= 1.0 / L, np.cos(0.5 * np.pi * L * u), 0.0)
                filters.append(W * A * cone)
                labels.append((kind, j, k))
    F = np.stack(filters)
    # On an even grid the Nyquist row and column are their own mirror images, where xi -> -xi flips
    # the slope's sign but not the frequency. Averaging each squared filter with its mirror makes
    # every filter even (real coefficients) and keeps the squares summing to one.
    mirror = (-np.arange(N)) % N
    F = np.sqrt(0.5 * (F ** 2 + F[:, mirror][:, :, mirror] ** 2))
    return F, labels


def shearlet_transform(images: Any, scales: int = 2) -> np.ndarray:
    """Coefficient maps of images (B, N, N): real array (B, F, N, N)."""
    X = np.asarray(images, dtype=np.float64)
    if X.ndim != 3 or X.shape[1] != X.shape[2]:
        raise ValueError(f"images: expected square images of shape (B, N, N), got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("images: contains NaN or inf")
    filt, _ = shearlet_filters(X.shape[1], scales)
    Xf = np.fft.fft2(X)
    return np.real(np.fft.ifft2(filt[None] * Xf[:, None]))


def shearlet_inverse(coeffs: np.ndarray, scales: int = 2) -> np.ndarray:
    """Reconstruct images (B, N, N) from coefficient maps (B, F, N, N) (the frame is its own dual)."""
    C = np.asarray(coeffs, dtype=np.float64)
    if C.ndim != 4:
        raise ValueError(f"coeffs: expected shape (B, F, N, N), got {C.shape}")
    filt, _ = shearlet_filters(C.shape[2], scales)
    if C.shape[1] != filt.shape[0]:
        raise ValueError(f"coeffs: expected {filt.shape[0]} maps for scales={scales}, got {C.shape[1]}")
    return np.real(np.fft.ifft2((filt[None] * np.fft.fft2(C)).sum(axis=1)))


def shearlet_features(images: Any, scales: int = 2, *, directional_only: bool = False,
                      magnitude: bool = False) -> np.ndarray:
    """Flattened shearlet coefficients (B, F * N * N).

    With all maps and signed coefficients this is a linear isometry of pixel space (Parseval), so
    every distance, and the hull geometry, equals pixel space's. ``directional_only`` drops the
    low-pass map and ``magnitude`` takes |coefficients|: a different, nonlinear space.
    """
    C = shearlet_transform(images, scales)
    if directional_only:
        C = C[:, 1:]
    if magnitude:
        C = np.abs(C)
    return np.ascontiguousarray(C.reshape(C.shape[0], -1))
