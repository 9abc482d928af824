"""2-D discrete wavelet coefficients as features (PyWavelets, imported lazily)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["wavelet_features"]

SUBBANDS = ("approx", "horizontal", "vertical", "diagonal")


def wavelet_features(images: Any, wavelet: str = "haar", level: int = 1,
                     subbands: Sequence[str] = SUBBANDS, mode: str = "periodization") -> np.ndarray:
    """Flattened 2-D DWT coefficients of each image.

    Parameters
    ----------
    images : array (N, H, W)
    wavelet : any PyWavelets discrete wavelet name ('haar', 'db2', 'sym4', ...)
    level : decomposition level (>= 1)
    subbands : which to keep: 'approx' (the level-``level`` approximation) and the detail bands
        'horizontal', 'vertical', 'diagonal' of every level.
    mode : signal extension mode; 'periodization' makes an orthogonal wavelet's transform orthogonal,
        so distances (and hull geometry) are those of pixel space when every subband is kept.

    Returns
    -------
    ndarray (N, features), float64
    """
    try:
        import pywt
    except ImportError as exc:
        raise ImportError('wavelet features need PyWavelets: pip install "hullscope[wavelets]"') from exc
    from .._validation import to_numpy

    X = np.asarray(to_numpy(images, "images"), dtype=np.float64)
    if X.ndim != 3 or X.shape[0] == 0:
        raise ValueError(f"images: expected a non-empty array of shape (N, H, W), got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("images: contains NaN or inf")
    if wavelet not in pywt.wavelist(kind="discrete"):
        raise ValueError(f"wavelet: {wavelet!r} is not a discrete PyWavelets wavelet")
    if not isinstance(level, (int, np.integer)) or level < 1:
        raise ValueError(f"level: expected an int >= 1, got {level!r}")
    bad = set(subbands) - set(SUBBANDS)
    if bad or not subbands:
        raise ValueError(f"subbands: expected a non-empty subset of {SUBBANDS}, got {list(subbands)}")
    coeffs = pywt.wavedec2(X, wavelet, level=level, mode=mode, axes=(1, 2))
    parts = []
    if "approx" in subbands:
        parts.append(coeffs[0].reshape(len(X), -1))
    for detail in coeffs[1:]:
        for name, band in zip(SUBBANDS[1:], detail):
            if name in subbands:
                parts.append(band.reshape(len(X), -1))
    return np.ascontiguousarray(np.concatenate(parts, axis=1))
