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

__all__ = ["as_matrix", "as_vector", "resolve_threads", "to_numpy", "writable_dir"]


def to_numpy(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a numpy array without copying when possible (torch tensors go to CPU)."""
    if isinstance(x, np.ndarray):
        return x
    mod = type(x).__module__
    if mod.startswith("torch"):
        x = x.detach()
        if x.device.type != "cpu":
            x = x.cpu()
        return x.numpy()
    try:
        return np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic containers
        raise TypeError(f"{name}: expected an array-like of numbers, got {type(x).__name__}") from exc


def _check_dtype(a: np.ndarray, name: str) -> None:
    if a.dtype == object or not (np.issubdtype(a.dtype, np.floating)
                                 or np.issubdtype(a.dtype, np.integer)
                                 or a.dtype == np.bool_):
        raise TypeError(f"{name}: expected a real numeric array (float or int), got dtype {a.dtype}")


def as_matrix(x: Any, name: str, *, d: Optional[int] = None, allow_vector: bool = False,
              allow_empty: bool = False) -> np.ndarray:
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
    out = np.ascontiguousarray(a, dtype=np.float64)
    if not np.isfinite(out).all():
        bad = np.argwhere(~np.isfinite(out))[0]
        raise ValueError(f"{name}: contains NaN or inf (first at row {bad[0]}, column {bad[1]})")
    return out


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


def resolve_threads(threads: Optional[int]) -> int:
    """``None`` or ``0`` means all cores (0 is passed to the core as 'OpenMP default')."""
    if threads is None:
        return 0
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads: expected None or a positive int, got {threads!r}")
    if threads < 0:
        raise ValueError(f"threads: expected None or a positive int, got {threads}")
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
