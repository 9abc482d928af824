"""Maximum-entropy random diffeomorphisms of images, and noise of the same norm.

A displacement field on the unit square [0, 1]^2 (u: column, v: row) is

    tau_k(u, v) = sum_{i, j >= 1, sqrt(i^2 + j^2) < c + 1/2} C^k_ij sin(i pi u) sin(j pi v),  k in {u, v}

with independent C^k_ij ~ N(0, T / (i^2 + j^2)). It vanishes on the border. For an n x n image the
displacement in pixels is n * tau, and the deformed image is x(p - n tau(p)), sampled by bilinear
(default), nearest or Gaussian interpolation, with source coordinates clamped to the image.
Every image gets its own field.

Temperatures (Petrini, Favero, Geiger & Wyart 2021):

* ``T_min = 1 / (pi n^2 ln c)``: a typical displacement of half a pixel;
* ``T_max = 4 / (pi^3 c^2 ln c)``: the largest T without overhangs;
* typical displacement ``delta = (n / 2) sqrt(pi T ln c)`` (root-mean-square over the image of
  ``||n tau||``). This uses the continuum approximation sum_{ij} 1/(i^2+j^2) ~ (pi/2) ln c;
  :func:`typical_displacement` with ``exact=True`` uses the actual mode sum, which is what the sampler
  realises (the two differ by ~10-30% for c <= 10).
"""
from __future__ import annotations

import math
from typing import Any, Optional, Tuple, Union

import numpy as np

from .._torch import require_torch

__all__ = ["temperature_range", "typical_displacement", "temperature_for_displacement", "modes",
           "sample_fields", "apply_fields", "deform", "noise_like", "jacobian_determinant",
           "modes_1d", "temperature_range_1d", "typical_displacement_1d", "sample_fields_1d", "apply_fields_1d",
           "deform_1d"]

SeedLike = Union[None, int, np.random.Generator]


# The cutoff bounds the number of modes, ~ pi (c + 1/2)^2 / 4 per field component: c = 1000 already
# means ~786,000 modes, far beyond what any image grid resolves (modes above the side n alias).
MAX_CUTOFF = 1000.0
# Largest coefficient array (B fields x 2 components x modes, float64) drawn at once.
MAX_COEFFICIENT_BYTES = 2 * 1024 ** 3


def _check_c(c: float) -> float:
    if isinstance(c, bool) or not isinstance(c, (int, float, np.integer, np.floating)):
        raise TypeError(f"c: the cutoff must be a real number, got {type(c).__name__}")
    c = float(c)
    if not math.isfinite(c) or c <= 1.0:
        raise ValueError(f"c: the cutoff must be a finite number > 1 (ln c > 0), got {c}")
    if c > MAX_CUTOFF:
        raise ValueError(f"c: the cutoff must be at most {MAX_CUTOFF:g} (about {_n_modes(MAX_CUTOFF):,} modes "
                         f"per field component; c = {c:g} would need about {_n_modes(c):,.0f}, and an n x n "
                         "grid resolves no mode above n), got {c:g}")
    return c


def _n_modes(c: float) -> float:
    """Approximate number of (i, j) modes with sqrt(i^2 + j^2) < c + 1/2 (a quarter disc)."""
    return math.pi * (c + 0.5) ** 2 / 4.0


def _check_T(T: float) -> float:
    T = float(T)
    if not math.isfinite(T) or T <= 0.0:
        raise ValueError(f"T: the temperature must be a finite number > 0, got {T}")
    return T


def _check_n(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n: the image side must be an int >= 2, got {n!r}")
    return int(n)


def modes(c: float) -> Tuple[np.ndarray, np.ndarray]:
    """The (i, j) mode pairs with i, j >= 1 and sqrt(i^2 + j^2) < c + 1/2."""
    c = _check_c(c)
    r = np.arange(1, int(c) + 2)
    I, J = np.meshgrid(r, r, indexing="ij")
    keep = np.sqrt(I ** 2 + J ** 2) < c + 0.5
    return I[keep], J[keep]


def temperature_range(n: int, c: float) -> Tuple[float, float]:
    """(T_min, T_max) for n x n images and cutoff c: half-pixel displacement, and no overhangs."""
    n, c = _check_n(n), _check_c(c)
    return 1.0 / (math.pi * n ** 2 * math.log(c)), 4.0 / (math.pi ** 3 * c ** 2 * math.log(c))


def typical_displacement(T: float, c: float, n: int, exact: bool = False) -> float:
    """Root-mean-square displacement, in pixels, of a field at temperature T on n x n images.

    ``exact=False``: the published formula ``(n/2) sqrt(pi T ln c)``. ``exact=True``: the value the
    sampler realises on the pixel grid, ``n sqrt(T/2 * sum 1/(i^2+j^2) * 4 a_n^2)`` with ``a_n`` the
    grid mean of sin^2.
    """
    T, c, n = _check_T(T), _check_c(c), _check_n(n)
    if not exact:
        return 0.5 * n * math.sqrt(math.pi * T * math.log(c))
    i, j = modes(c)
    g = np.linspace(0.0, 1.0, n)
    k = np.arange(1, int(max(i.max(), j.max())) + 1)
    a = np.mean(np.sin(np.pi * np.outer(k, g)) ** 2, axis=1)  # grid mean of sin^2(k pi u), k = 1, 2, ...
    tot = float(np.sum(a[i - 1] * a[j - 1] / (i * i + j * j)))
    return n * math.sqrt(2.0 * T * tot)


def temperature_for_displacement(delta: float, c: float, n: int) -> float:
    """Inverse of the published :func:`typical_displacement`: T = (2 delta / n)^2 / (pi ln c)."""
    delta = float(delta)
    if not math.isfinite(delta) or delta <= 0:
        raise ValueError(f"delta: expected a displacement > 0 in pixels, got {delta}")
    c, n = _check_c(c), _check_n(n)
    return (2.0 * delta / n) ** 2 / (math.pi * math.log(c))


def _coefficients(B: int, T: float, c: float, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    i, j = modes(c)
    need = int(B) * 2 * i.size * 8
    if need > MAX_COEFFICIENT_BYTES:
        raise ValueError(f"B, c: {B} fields with cutoff c = {c:g} ({i.size:,} modes) need {need / 2 ** 30:.1f} GiB "
                         f"of coefficients (limit {MAX_COEFFICIENT_BYTES / 2 ** 30:.0f} GiB); draw fewer fields "
                         "at a time or lower c")
    std = np.sqrt(T / (i ** 2 + j ** 2))
    C = rng.standard_normal(size=(B, 2, i.size)) * std
    return C, i, j


def _field_from(C: np.ndarray, i: np.ndarray, j: np.ndarray, n: int, deriv: Optional[str] = None) -> np.ndarray:
    g = np.linspace(0.0, 1.0, n)
    su = np.sin(np.pi * np.outer(i, g))  # (M, n) in u (columns)
    sv = np.sin(np.pi * np.outer(j, g))  # (M, n) in v (rows)
    if deriv == "u":
        su = np.pi * i[:, None] * np.cos(np.pi * np.outer(i, g))
    elif deriv == "v":
        sv = np.pi * j[:, None] * np.cos(np.pi * np.outer(j, g))
    # tau[b, k, row, col] = sum_m C[b,k,m] sv[m,row] su[m,col]
    return np.einsum("bkm,mr,mc->bkrc", C, sv, su)


def sample_fields(B: int, n: int, T: float, c: float, seed: SeedLike = None) -> np.ndarray:
    """Draw B independent displacement fields, in pixels, shape (B, 2, n, n).

    Channel 0 moves along columns (u), channel 1 along rows (v).
    """
    if isinstance(B, bool) or not isinstance(B, (int, np.integer)) or B < 1:
        raise ValueError(f"B: expected a positive number of fields, got {B!r}")
    n, T, c = _check_n(n), _check_T(T), _check_c(c)
    rng = np.random.default_rng(seed)
    C, i, j = _coefficients(int(B), T, c, rng)
    return n * _field_from(C, i, j, n)


def jacobian_determinant(B: int, n: int, T: float, c: float, seed: SeedLike = None) -> np.ndarray:
    """det of d(p - tau(p))/dp on the unit square for B fields drawn as :func:`sample_fields` with
    the same seed, on an n x n grid (analytic derivatives). Shape (B, n, n); > 0 means no overhang."""
    n, T, c = _check_n(n), _check_T(T), _check_c(c)
    rng = np.random.default_rng(seed)
    C, i, j = _coefficients(int(B), T, c, rng)
    du = _field_from(C, i, j, n, "u")  # d tau_k / du
    dv = _field_from(C, i, j, n, "v")  # d tau_k / dv
    # map (u, v) -> (u - tau_u, v - tau_v)
    return (1 - du[:, 0]) * (1 - dv[:, 1]) - (du[:, 1]) * (dv[:, 0])


def _as_batch(x: Any, name: str, dim: int):
    """Validate a batch of square images (dim=2: (B, H, W) or (B, C, H, W)) or of signals
    (dim=1: (B, n) or (B, C, n)) and return it as a float32 tensor with a channel axis."""
    torch = require_torch()
    kind = "images" if dim == 2 else "signals"
    if x is None:
        raise TypeError(f"{name}: expected an array or tensor of {kind}, got None")
    if isinstance(x, torch.Tensor):
        t = x
    else:
        a = np.asarray(x)
        if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
            raise TypeError(f"{name}: expected real-valued {kind}, got dtype {a.dtype}")
        if not a.dtype.isnative:  # big-endian (or other non-native) data, e.g. read from IDX files
            a = a.astype(a.dtype.newbyteorder("="))
        t = torch.as_tensor(a)
    if not (t.dtype.is_floating_point or t.dtype in (torch.uint8, torch.int32, torch.int64)):
        raise TypeError(f"{name}: expected real-valued {kind}, got dtype {t.dtype}")
    if t.ndim == dim + 1:
        t = t.unsqueeze(1)
    if t.ndim != dim + 2:
        shapes = "(B, H, W) or (B, C, H, W)" if dim == 2 else "(B, n) or (B, C, n)"
        what = "images" if dim == 2 else "1-D signals"
        raise ValueError(f"{name}: expected {what} of shape {shapes}, got shape {tuple(t.shape)}")
    if dim == 2 and t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{name}: diffeomorphisms are defined on square images, got {t.shape[-2]}x{t.shape[-1]}")
    if t.shape[-1] < 2 or t.shape[0] < 1:
        raise ValueError(f"{name}: expected at least one of the {kind} with side >= 2, got shape {tuple(t.shape)}")
    t = t.to(torch.float32)
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return t


def _as_images(x: Any, name: str = "images"):
    return _as_batch(x, name, 2)


def _as_signals(x: Any, name: str = "signals"):
    return _as_batch(x, name, 1)


def apply_fields(images: Any, fields: np.ndarray, interp: str = "bilinear", sigma: float = 0.5):
    """Deform images: out(p) = x(p - field(p)), source clamped to the image.

    Parameters
    ----------
    images : array or tensor, shape (B, H, W) or (B, C, H, W), square
    fields : ndarray, shape (B, 2, n, n), in pixels (channel 0 along columns, 1 along rows)
    interp : {"bilinear", "nearest", "gaussian"}
        Gaussian: a normalised Gaussian-weighted average (std ``sigma`` pixels) of the 5x5 pixels
        around the source point.

    Returns
    -------
    torch.Tensor, shape (B, C, n, n), float32
    """
    torch = require_torch()
    x = _as_images(images)
    B, C, n, _ = x.shape
    f = np.asarray(fields, dtype=np.float64)
    if f.shape != (B, 2, n, n):
        raise ValueError(f"fields: expected shape {(B, 2, n, n)}, got {f.shape}")
    if interp not in ("bilinear", "nearest", "gaussian"):
        raise ValueError(f"interp: expected 'bilinear', 'nearest' or 'gaussian', got {interp!r}")
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    src_c = np.clip(cols[None] - f[:, 0], 0, n - 1)
    src_r = np.clip(rows[None] - f[:, 1], 0, n - 1)
    if interp in ("bilinear", "nearest"):
        grid = np.stack([2 * src_c / (n - 1) - 1, 2 * src_r / (n - 1) - 1], axis=-1)
        g = torch.as_tensor(grid, dtype=torch.float32, device=x.device)
        return torch.nn.functional.grid_sample(x, g, mode=interp, padding_mode="border", align_corners=True)
    if not sigma > 0:
        raise ValueError(f"sigma: expected a positive width in pixels, got {sigma}")
    out = torch.zeros_like(x)
    wsum = torch.zeros((B, 1, n, n), dtype=x.dtype, device=x.device)
    base_r, base_c = np.rint(src_r), np.rint(src_c)
    flat = x.reshape(B, C, n * n)
    for dr in range(-2, 3):
        for dc in range(-2, 3):
            qr = np.clip(base_r + dr, 0, n - 1)
            qc = np.clip(base_c + dc, 0, n - 1)
            w = np.exp(-((qr - src_r) ** 2 + (qc - src_c) ** 2) / (2 * sigma ** 2))
            idx = torch.as_tensor((qr * n + qc).astype(np.int64).reshape(B, 1, n * n), device=x.device)
            vals = torch.gather(flat, 2, idx.expand(B, C, n * n)).reshape(B, C, n, n)
            wt = torch.as_tensor(w[:, None], dtype=x.dtype, device=x.device)
            out += wt * vals
            wsum += wt
    return out / wsum


def deform(images: Any, T: float, c: float = 3.0, seed: SeedLike = None, interp: str = "bilinear"):
    """Apply an independent random diffeomorphism at temperature T to every image (see module doc)."""
    x = _as_images(images)
    fields = sample_fields(x.shape[0], x.shape[-1], T, c, seed)
    return apply_fields(x, fields, interp)


def noise_like(images: Any, deformed: Any, seed: SeedLike = None, dim: int = 2):
    """Gaussian noise rescaled per image to the norm of the diffeomorphism's change.

    Returns ``images + eta`` with ``||eta_b|| = ||deformed_b - images_b||`` for every image b.
    ``dim=1`` takes signals (B, n) or (B, C, n).
    """
    torch = require_torch()
    check = _as_signals if dim == 1 else _as_images
    x = check(images)
    y = check(deformed, "deformed")
    if x.shape != y.shape:
        raise ValueError(f"deformed: expected the shape of images {tuple(x.shape)}, got {tuple(y.shape)}")
    rng = np.random.default_rng(seed)
    eta = torch.as_tensor(rng.standard_normal(size=tuple(x.shape)), dtype=torch.float64)
    target = (y.double() - x.double()).reshape(x.shape[0], -1).norm(dim=1)
    norm = eta.reshape(x.shape[0], -1).norm(dim=1)
    eta = eta * (target / norm).reshape((-1,) + (1,) * (x.ndim - 1))
    return (x.double() + eta).to(torch.float32)


# ---- one-dimensional signals -----------------------------------------------------------------------
# The 1-D field is tau(u) = sum_{1 <= i < c + 1/2} C_i sin(i pi u), C_i ~ N(0, T / i^2), u in [0, 1];
# it vanishes at both ends. In pixels the displacement is n tau. The temperature range is hullscope's
# 1-D analogue of the 2-D one (the papers state the 2-D case): T_min gives a root-mean-square
# displacement of half a pixel (exact mode sum on the grid), and T_max a root-mean-square slope
# |tau'| of 1/2, i.e. T_max = 1 / (2 pi^2 N_c) with N_c modes (overhangs need |tau'| > 1).


def modes_1d(c: float) -> np.ndarray:
    """The modes i >= 1 with i < c + 1/2."""
    c = _check_c(c)
    i = np.arange(1, int(c) + 2)
    return i[i < c + 0.5]


def typical_displacement_1d(T: float, c: float, n: int) -> float:
    """Root-mean-square displacement in pixels of a 1-D field on n samples (exact mode sum)."""
    T, c, n = _check_T(T), _check_c(c), _check_n(n)
    g = np.linspace(0.0, 1.0, n)
    i = modes_1d(c)
    tot = sum(np.mean(np.sin(a * np.pi * g) ** 2) / (a * a) for a in i)
    return n * math.sqrt(T * tot)


def temperature_range_1d(n: int, c: float) -> Tuple[float, float]:
    """(T_min, T_max) for length-n signals: half-pixel displacement; root-mean-square slope 1/2."""
    n, c = _check_n(n), _check_c(c)
    t_min = (0.5 / typical_displacement_1d(1.0, c, n)) ** 2
    return t_min, 1.0 / (2.0 * math.pi ** 2 * modes_1d(c).size)


def sample_fields_1d(B: int, n: int, T: float, c: float, seed: SeedLike = None) -> np.ndarray:
    """Draw B independent 1-D displacement fields, in pixels, shape (B, n)."""
    if isinstance(B, bool) or not isinstance(B, (int, np.integer)) or B < 1:
        raise ValueError(f"B: expected a positive number of fields, got {B!r}")
    n, T, c = _check_n(n), _check_T(T), _check_c(c)
    rng = np.random.default_rng(seed)
    i = modes_1d(c)
    C = rng.standard_normal(size=(int(B), i.size)) * np.sqrt(T / i ** 2)
    g = np.linspace(0.0, 1.0, n)
    return n * C @ np.sin(np.pi * np.outer(i, g))


def apply_fields_1d(signals: Any, fields: np.ndarray, interp: str = "bilinear"):
    """Deform signals (B, C, n): out(p) = x(p - field(p)), linear ('bilinear') or nearest sampling."""
    torch = require_torch()
    x = _as_signals(signals)
    B, C, n = x.shape
    f = np.asarray(fields, dtype=np.float64)
    if f.shape != (B, n):
        raise ValueError(f"fields: expected shape {(B, n)}, got {f.shape}")
    if interp not in ("bilinear", "nearest"):
        raise ValueError(f"interp: expected 'bilinear' or 'nearest' for 1-D signals, got {interp!r}")
    src = np.clip(np.arange(n)[None] - f, 0, n - 1)
    grid = np.stack([2 * src / (n - 1) - 1, np.zeros_like(src)], axis=-1)[:, None]  # (B, 1, n, 2)
    g = torch.as_tensor(grid, dtype=torch.float32, device=x.device)
    out = torch.nn.functional.grid_sample(x[:, :, None], g, mode=interp, padding_mode="border", align_corners=True)
    return out[:, :, 0]


def deform_1d(signals: Any, T: float, c: float = 3.0, seed: SeedLike = None, interp: str = "bilinear"):
    """Apply an independent random 1-D diffeomorphism at temperature T to every signal."""
    x = _as_signals(signals)
    return apply_fields_1d(x, sample_fields_1d(x.shape[0], x.shape[-1], T, c, seed), interp)
