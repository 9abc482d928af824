"""Figures of :mod:`hullscope.boundaries` (matplotlib Figure objects, no pyplot state)."""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from .._plot import subplots

__all__ = ["plot_ray_strips", "plot_first_change", "plot_flip_scatter", "plot_morph_strips"]


def _cmap(K: int):
    from matplotlib import colormaps

    return colormaps["tab10" if K <= 10 else "tab20"]


def plot_ray_strips(results: Dict[str, Any], path: Optional[str] = None, rows: int = 40, seed: int = 0):
    """Class along each ray as a coloured strip, one row per sample (up to ``rows`` samples with a
    ray, chosen at random and sorted by their first change), one panel per space. The hull is at
    t = 0 and the sample at t = 1 (dashed line)."""
    from matplotlib.patches import Patch

    k = len(results)
    fig, axes = subplots(1, k, figsize=(4.6 * k, 0.12 * rows + 2.0))
    K = max(r.head.K for r in results.values())
    cmap = _cmap(K)
    rng = np.random.default_rng(seed)
    for ax, (name, r) in zip(axes[0], results.items()):
        idx = np.flatnonzero(r.has_ray)
        if idx.size > rows:
            idx = np.sort(rng.choice(idx, rows, replace=False))
        fb = np.where(np.isnan(r.first_before[idx]), 2.0, r.first_before[idx])
        idx = idx[np.argsort(fb, kind="stable")]
        for row, i in enumerate(idx):
            t, cls, _, _ = r.lines.line(int(r.ray_index[i]))
            ends = np.concatenate([[0.0], t, [r.t_max]])
            ax.broken_barh([(ends[j], ends[j + 1] - ends[j]) for j in range(len(cls))], (row, 0.9),
                           facecolors=[cmap(int(c) % cmap.N) for c in cls])
        ax.axvline(0.0, color="k", lw=1.2)
        ax.axvline(1.0, color="k", lw=1.0, ls="--")
        ax.set_xlim(0, r.t_max)
        ax.set_ylim(0, max(1, len(idx)))
        ax.set_yticks([])
        ax.set_xlabel("t   (0: nearest hull point, 1: test sample)")
        s = r.summary()
        ax.set_title(f"{name}\n{100 * s['share_decided_outside']:.0f}% change class before the sample "
                     f"({'exact' if r.exact else 'grid+bisection'})", fontsize=9)
    handles = [Patch(color=cmap(c % cmap.N), label=str(c)) for c in range(K)]
    fig.legend(handles=handles, loc="lower center", ncol=min(K, 10), fontsize=7, title="class", title_fontsize=7)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    if path:
        fig.savefig(path, dpi=110)
    return fig


def plot_first_change(results: Dict[str, Any], path: Optional[str] = None):
    """Histogram of the first class change along the ray (t in (0, 1]: between hull and sample;
    beyond 1: after the sample), per space."""
    k = len(results)
    fig, axes = subplots(1, k, figsize=(4.2 * k, 3.2))
    for ax, (name, r) in zip(axes[0], results.items()):
        first = np.where(np.isfinite(r.first_before), r.first_before, r.first_after)[r.has_ray]
        first = first[np.isfinite(first)]
        ax.hist(first, bins=np.linspace(0, r.t_max, 31), color="tab:blue", alpha=0.8)
        ax.axvline(1.0, color="k", ls="--", lw=1)
        none = int(r.has_ray.sum()) - first.size
        ax.set_title(f"{name}\n({none} rays never change class up to t = {r.t_max:g})", fontsize=9)
        ax.set_xlabel("t of the first class change")
        ax.set_ylabel("test samples")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
    return fig


def plot_flip_scatter(per_image: Dict[str, np.ndarray], path: Optional[str] = None):
    """Pixel flip distance (upper bound) against the exact feature certified radius: each divided by
    its space's hull distance (left) and by its space's typical nearest-neighbour distance (right)."""
    fig, axes = subplots(1, 2, figsize=(9.5, 4.2))
    pairs = [("pixel_flip_over_pixel_hull_distance", "feature_radius_over_feature_hull_distance",
              "/ distance to the training hull (same space)"),
             ("pixel_flip_over_typical_nn", "feature_radius_over_typical_nn",
              "/ typical training NN distance (same space)")]
    for ax, (kx, ky, lab) in zip(axes[0], pairs):
        x, y = np.asarray(per_image[kx], float), np.asarray(per_image[ky], float)
        ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
        ax.scatter(x[ok], y[ok], s=7, alpha=0.5)
        if ok.any():
            lo = min(x[ok].min(), y[ok].min()) * 0.8
            hi = max(x[ok].max(), y[ok].max()) * 1.2
            ax.plot([lo, hi], [lo, hi], "k:", lw=0.8, label="equal")
            ax.legend(fontsize=7)
        ax.axvline(1.0, color="tab:red", lw=0.8)
        ax.axhline(1.0, color="tab:red", lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"pixel flip distance (upper bound)\n{lab}", fontsize=8)
        ax.set_ylabel(f"feature certified radius (exact)\n{lab}", fontsize=8)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
    return fig


def plot_morph_strips(result: Any, images_a: np.ndarray, images_b: np.ndarray, path: Optional[str] = None,
                      pairs: int = 6, frames: int = 9):
    """Images along the pixel morph path of the first ``pairs`` pairs, each labelled with the model's
    class (red: a class that is neither endpoint's)."""
    same = np.flatnonzero(result.same_class)
    diff = np.flatnonzero(~result.same_class)
    half = min(len(diff), max(pairs // 2, pairs - len(same)))
    show = np.concatenate([same[:pairs - half], diff[:half]]).astype(int)  # both kinds of pairs
    M = len(show)
    fig, axes = subplots(max(M, 1), frames, figsize=(1.15 * frames, 1.3 * max(M, 1)))
    ss = np.linspace(0.0, 1.0, frames)
    for row, i in enumerate(show):
        a = np.asarray(images_a[i], float)
        b = np.asarray(images_b[i], float)
        pts = np.stack([(1 - s) * a + s * b for s in ss])
        cls = result.head.classes(pts.reshape(frames, -1))
        img = pts.reshape((frames,) + a.shape)
        for j in range(frames):
            ax = axes[row, j]
            im = img[j]
            im = im[0] if im.ndim == 3 and im.shape[0] == 1 else im
            ax.imshow(im, cmap="gray_r")
            amb = cls[j] not in (result.class_a[i], result.class_b[i])
            kind = "same" if result.same_class[i] else "diff."
            ax.set_title(f"{cls[j]}" if 0 < j < frames - 1 else f"{cls[j]} ({kind})", fontsize=8,
                         color="tab:red" if amb else "k")
            ax.axis("off")
    fig.suptitle("pixel-space morphs (s = 0 ... 1), labelled with the predicted class", fontsize=9)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
    return fig
