"""Input validation shared by every public entry point.

Every array that reaches the C++ core goes through :func:`as_matrix` exactly once: it is checked for
a numeric dtype, the expected rank, emptiness and finiteness, and converted with
``np.ascontiguousarray(x, dtype=np.float64)``. That conversion copies only when the input is not
already C-contiguous float64 (float32, integer, Fortran-order or strided inputs are copied once).
Torch tensors are accepted and moved to CPU first.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

__all__ = ["as_matrix", "as_vector", "check_int", "check_magnitude", "resolve_threads", "to_numpy", "writable_dir"]


def to_numpy(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a numpy array without copying when possible (torch tensors go to CPU)."""
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(f"{name}: masked arrays are not supported (the mask would be ignored); pass "
                        f"{name}.filled(value) or drop the masked rows first")
    if isinstance(x, np.ndarray):
        return x
    mod = type(x).__module__
    if mod.startswith("torch"):
        x = x.detach()
        if x.device.type != "cpu":
            x = x.cpu()
        if x.is_floating_point() and x.dtype not in (_torch_dtype("float32"), _torch_dtype("float64")):
            x = x.float()  # bfloat16 / float16 have no numpy equivalent here: widen (exact)
        return x.numpy()
    try:
        return np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{name}: expected a rectangular array of numbers (rows of equal length), got "
                        f"{type(x).__name__}: {exc}") from None


def _torch_dtype(name: str):
    import torch

    return getattr(torch, name)


#: Largest magnitude the core accepts: squared norms of differences must stay finite in float64.
MAX_MAGNITUDE = 1e150


def check_magnitude(a: np.ndarray, name: str, block: Optional[int] = None) -> None:
    """Refuse values whose squares would overflow float64 (|x| > 1e150), reading ``a`` in row blocks."""
    if block is None:
        block = max(1, (1 << 22) // max(1, a.shape[1] if a.ndim == 2 else 1))
    for s in range(0, a.shape[0], block):
        m = float(np.abs(a[s:s + block]).max(initial=0.0))
        if m > MAX_MAGNITUDE:
            raise ValueError(f"{name}: values of magnitude up to {MAX_MAGNITUDE:.0e} are supported (squared distances "
                             f"must stay finite in float64), got {m:.3e}; rescale the data (results scale with it)")


def check_int(value: Any, name: str, *, lo: int = 1, hi: int = 2**31 - 1, allow_none: bool = False) -> Optional[int]:
    """An integer in [lo, hi] (bools and floats refused), or None when allowed."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int in [{lo}, {hi}], got {value!r} ({type(value).__name__})")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name}: expected an int in [{lo}, {hi}], got {value}")
    return int(value)


def _check_dtype(a: np.ndarray, name: str) -> None:
    if a.dtype == object or not (np.issubdtype(a.dtype, np.floating)
                                 or np.issubdtype(a.dtype, np.integer)
                                 or a.dtype == np.bool_):
        raise TypeError(f"{name}: expected a real numeric array (float or int), got dtype {a.dtype}")


def as_matrix(x: Any, name: str, *, d: Optional[int] = None, allow_vector: bool = False,
              allow_empty: bool = False, keep_float32: bool = False) -> np.ndarray:
    """Validate ``x`` as a 2-D finite float64 C-contiguous matrix of shape (rows, d).

    Parameters
    ----------
    x : array-like or torch.Tensor, shape (rows, d)
    name : str
        Argument name used in error messages.
    d : int, optional
        Required number of columns.
    allow_vector : bool
        Accept a 1-D array of length d as a single row.
    allow_empty : bool
        Accept zero rows.
    keep_float32 : bool
        Keep float32 input as float32 (C-contiguous: no copy at all) instead of widening it to float64.
        Every float32 value is exact in float64, so a consumer that widens element by element (the hull
        engine) answers exactly for the stored values at half the memory.
    """
    a = to_numpy(x, name)
    _check_dtype(a, name)
    if allow_vector and a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array of shape (rows, dim), got {a.ndim}-D shape {a.shape}")
    if a.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name}: is empty (shape {a.shape}); at least one row is required")
    if a.shape[1] == 0:
        raise ValueError(f"{name}: has zero columns (shape {a.shape}); points need at least one coordinate")
    if d is not None and a.shape[1] != d:
        raise ValueError(f"{name}: expected {d} columns to match the hull's dimension, got shape {a.shape}")
    dtype = np.float32 if keep_float32 and a.dtype == np.float32 else np.float64
    out = np.ascontiguousarray(a, dtype=dtype)
    check_finite(out, name)
    return out


def check_finite(a: np.ndarray, name: str) -> None:
    """Refuse NaN or inf in a 2-D array, reading it in row blocks (no full-size temporary)."""
    step = max(1, (1 << 22) // max(1, a.shape[1]))
    for s in range(0, a.shape[0], step):
        blk = a[s:s + step]
        if not np.isfinite(blk).all():
            bad = np.argwhere(~np.isfinite(blk))[0]
            raise ValueError(f"{name}: contains NaN or inf (first at row {s + bad[0]}, column {bad[1]})")


def as_vector(x: Any, name: str, *, n: Optional[int] = None) -> np.ndarray:
    """Validate ``x`` as a finite 1-D float64 vector (of length ``n`` if given)."""
    a = to_numpy(x, name)
    _check_dtype(a, name)
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name}: expected length {n}, got {a.shape[0]}")
    out = np.ascontiguousarray(a, dtype=np.float64)
    if not np.isfinite(out).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return out


MAX_THREADS = 4096


def resolve_threads(threads: Optional[int]) -> int:
    """``None``, ``0`` or ``-1`` mean all cores (as ``n_jobs=-1`` in scikit-learn); 0 is passed to the
    core as 'OpenMP default'."""
    if threads is None:
        return 0
    if isinstance(threads, (bool, np.bool_)) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads: expected None, -1 (all cores) or a positive int, got {threads!r}")
    if threads == -1:
        return 0
    if threads < 0 or threads > MAX_THREADS:
        raise ValueError(f"threads: expected None, -1 (all cores) or an int in [1, {MAX_THREADS}], got {threads}")
    return int(threads)


def writable_dir(path: Union[str, "os.PathLike[str]"], name: str) -> Path:
    """Create folder ``path`` if needed and check it is writable; errors name the argument."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PermissionError(f"{name}: cannot create output folder {str(out)!r}: {exc.strerror}") from exc
    if not os.access(out, os.W_OK):
        raise PermissionError(f"{name}: output folder {str(out)!r} is not writable")
    return out
