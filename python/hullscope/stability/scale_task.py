"""The scale-detection task (Tomasini, Petrini, Cagnetta & Wyart 2022) and its CNNs.

2-D: a d x d image (default d = 28) with two active pixels of value 1. Class 0: their Euclidean
distance is below xi - gap/2; class 1: at least xi + gap/2 (defaults xi = 14, gap = 2). Pairs in
between are never drawn. Classes are balanced. 1-D: a length-d signal (default 128, xi = 32).

Its deformation is local: each active pixel moves by at most one pixel (to a 4-neighbour, or stays),
staying inside the image and off the other pixel (:func:`move_active_pixels`). The noise for G_f has
the same norm as that change.
"""
from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from .._torch import require_torch

__all__ = ["scale_detection", "move_active_pixels", "scale_cnn"]


def scale_detection(P: int, d: int = 28, xi: float = 14.0, gap: float = 2.0, dim: int = 2,
                    seed: Any = 0) -> Tuple[np.ndarray, np.ndarray]:
    """P images (P, 1, d, d) (or (P, 1, d) for dim=1) float32 and balanced labels (P,) int64."""
    if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or P < 2:
        raise ValueError(f"P: expected an int >= 2 samples, got {P!r}")
    if dim not in (1, 2):
        raise ValueError(f"dim: expected 1 or 2, got {dim}")
    if not (0 < gap / 2 < xi) or xi + gap / 2 >= d * (np.sqrt(2) if dim == 2 else 1):
        raise ValueError(f"xi, gap: need 0 < gap/2 < xi and xi + gap/2 below the largest distance in a "
                         f"size-{d} input, got xi={xi}, gap={gap}")
    rng = np.random.default_rng(seed)
    labels = np.arange(P) % 2
    rng.shuffle(labels)
    shape = (P, 1) + (d,) * dim
    X = np.zeros(shape, dtype=np.float32)
    for i, lab in enumerate(labels):
        while True:
            a = rng.integers(0, d, size=dim)
            b = rng.integers(0, d, size=dim)
            r = float(np.linalg.norm(a - b))
            if r > 0 and ((lab == 0 and r < xi - gap / 2) or (lab == 1 and r >= xi + gap / 2)):
                break
        X[(i, 0) + tuple(a)] = 1.0
        X[(i, 0) + tuple(b)] = 1.0
    return X, labels.astype(np.int64)


def move_active_pixels(images: Any, seed: Any = 0):
    """Move every active (non-zero) pixel by at most one pixel: to a random 4-neighbour or nowhere.

    Moves that would leave the image or land on another active pixel are replaced by staying put.
    Works on (B, 1, d, d) and (B, 1, d) arrays or tensors; returns a float32 tensor.
    """
    torch = require_torch()
    x = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    x = np.array(x, dtype=np.float32)
    dim = x.ndim - 2
    if dim not in (1, 2):
        raise ValueError(f"images: expected shape (B, 1, d) or (B, 1, d, d), got {x.shape}")
    rng = np.random.default_rng(seed)
    steps = [np.zeros(dim, int)]
    for ax in range(dim):
        for s in (-1, 1):
            e = np.zeros(dim, int)
            e[ax] = s
            steps.append(e)
    out = np.zeros_like(x)
    d = x.shape[2:]
    for b in range(x.shape[0]):
        act = np.argwhere(x[b, 0] != 0)
        taken = {tuple(p) for p in act}
        for p in act:
            q = p + steps[rng.integers(0, len(steps))]
            if np.any(q < 0) or np.any(q >= np.array(d)) or (tuple(q) in taken and tuple(q) != tuple(p)):
                q = p
            taken.discard(tuple(p))
            taken.add(tuple(q))
            out[(b, 0) + tuple(q)] = x[(b, 0) + tuple(p)]
    return torch.as_tensor(out)


def scale_cnn(stride: bool = True, width: int = 32, depth: int = 4, d: int = 28, dim: int = 2):
    """A small CNN for the task: ``depth`` blocks conv(3x3, or 3 in 1-D)-ReLU (stride 2 with
    ``stride``, else stride 1: no spatial pooling before the end), then global max pooling and a
    linear 2-class readout. ``dim=1`` builds the 1-D version. Layer names: conv{k}, relu{k}, gmp,
    flatten, readout."""
    torch = require_torch()
    nn = torch.nn
    from collections import OrderedDict

    if dim not in (1, 2):
        raise ValueError(f"dim: expected 1 or 2, got {dim!r}")
    Conv = nn.Conv2d if dim == 2 else nn.Conv1d
    Pool = nn.AdaptiveMaxPool2d if dim == 2 else nn.AdaptiveMaxPool1d
    layers = []
    c_in = 1
    for k in range(1, depth + 1):
        layers.append((f"conv{k}", Conv(c_in, width, 3, stride=2 if stride else 1, padding=1)))
        layers.append((f"relu{k}", nn.ReLU()))
        c_in = width
    layers += [("gmp", Pool(1)), ("flatten", nn.Flatten()), ("readout", nn.Linear(width, 2))]
    return nn.Sequential(OrderedDict(layers))
