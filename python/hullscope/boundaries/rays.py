"""Rays from the training hull through each test sample: where does the class change?

For a test sample q of one space, p is its nearest point of the training hull (from
:meth:`Hull.distance`) and u = q - p. Along ``r(t) = p + t u``, t in [0, t_max] (t = 0 on the hull,
t = 1 the sample), the model's class is followed:

* in the space that feeds the final linear layer, exactly (:meth:`LinearRegions.segment`);
* in pixel space or any earlier layer, by the rest of the network on a grid of t, with every class
  change bisected to ``tol`` in t (see :mod:`hullscope.boundaries._trace`).

A sample inside the training hull (or on its boundary, within the engine's tolerance) has no ray; it
is reported as such.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from ..hull import Verification
from ._net import Head, as_points, make_head
from ._trace import Lines, check_lines, exact_lines, grid_of, scan_lines

__all__ = ["RayResult", "rays", "space_points", "check_inputs", "check_t_max", "check_tol", "check_grid"]


def check_t_max(t_max: Any) -> float:
    try:
        t = float(t_max)
    except (TypeError, ValueError):
        raise TypeError(f"t_max: expected a number > 1, got {t_max!r}") from None
    if not (np.isfinite(t) and t > 1.0):
        raise ValueError(f"t_max: expected a finite number > 1 (t = 1 is the sample itself), got {t_max!r}")
    return t


def check_tol(tol: Any) -> float:
    try:
        t = float(tol)
    except (TypeError, ValueError):
        raise TypeError(f"tol: expected a number in (0, 0.01], got {tol!r}") from None
    if not (0.0 < t <= 0.01):
        raise ValueError(f"tol: expected a bisection tolerance in (0, 0.01], got {tol!r}")
    return t


def check_grid(grid: Any) -> int:
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 2:
        raise ValueError(f"grid: expected an int >= 2 (grid intervals on [0, 1]), got {grid!r}")
    return int(grid)


def _labels(y: Any, n: int, name: str) -> Optional[np.ndarray]:
    if y is None:
        return None
    from .._validation import to_numpy

    a = to_numpy(y, name)
    if a.shape != (n,):
        raise ValueError(f"{name}: expected {n} labels (one per sample), got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        if np.issubdtype(a.dtype, np.floating) and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
            a = a.astype(np.int64)
        else:
            raise TypeError(f"{name}: expected integer class labels, got dtype {a.dtype}")
    return a.astype(np.int64)


def check_inputs(X: Any, name: str) -> None:
    """A non-empty batch of finite numbers (N, ...); errors name the argument."""
    from .._validation import to_numpy

    a = to_numpy(X, name)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise TypeError(f"{name}: expected a numeric array, got dtype {a.dtype}")
    if a.ndim < 1 or a.shape[0] == 0:
        raise ValueError(f"{name}: expected a non-empty batch of samples (N, ...), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or inf")


def space_points(model: Any, X: Any, layer: Optional[str], name: str, *, device: Any = "cpu",
                 d: Optional[int] = None) -> np.ndarray:
    """Points of the space: a torch model's ``layer`` activations of inputs X (flattened inputs for
    ``layer=None``), or X itself (flattened) for a LinearRegions or callable model."""
    from ._net import _is_module

    if _is_module(model) and layer not in (None, "input"):
        from .._torch import collect_activations

        from .._validation import to_numpy

        xa = to_numpy(X, name)
        if xa.ndim < 2 or xa.shape[0] == 0:
            raise ValueError(f"{name}: expected a non-empty batch of model inputs (N, ...), got shape {xa.shape}")
        if not np.isfinite(xa).all():
            raise ValueError(f"{name}: contains NaN or inf")
        return as_points(collect_activations(model, xa, [layer], device=device)[layer], name, d)
    return as_points(X, name, d)


@dataclass(frozen=True, eq=False)
class RayResult:
    """Class changes along the rays from the training hull through each test sample, in one space.

    Attributes (B test samples, R of them with a ray)
    ----------
    space : str
    method : str
        "exact (LinearRegions.segment)" or "grid of G points on [0, t_max] + bisection to tol".
    status : ndarray of str (B,)
        The hull engine's verdict: 'outside' samples have a ray; 'inside', 'boundary' (within the
        engine's tolerance of the hull) and 'unconverged' ones have none.
    has_ray : ndarray of bool (B,)
    hull_distance, nn_distance : ndarray (B,)
        Distance to the training hull and to the nearest training sample (units of the space).
    typical_nn : float
        Median nearest-neighbour distance among training samples (the space's scale).
    class_sample : ndarray of int (B,)
        The model's class at q (float64 evaluation).
    class_hull : ndarray of int (B,)
        The class at p, the nearest hull point (-1 without a ray).
    label : ndarray of int (B,) or None
    first_before, first_after : ndarray (B,)
        t of the first class change in (0, 1] (between the hull and the sample) and in (1, t_max];
        NaN when there is none (or no ray).
    changes_before, changes_after : ndarray of int (B,)
        Number of class changes in (0, 1] and in (1, t_max] (-1 without a ray).
    lines : Lines
        Breakpoints (with brackets) and class sequences of the R rays (see :class:`Lines`).
    ray_index : ndarray of int (B,)
        Row of ``lines``, ``P``, ``U`` for each sample (-1 without a ray).
    P, U : ndarray (R, d)
        Ray origins (nearest hull points) and directions q - p.
    t_max, tol : float
        Ray length and bisection tolerance in t (NaN for exact rays).
    grid_step : float
        Spacing of the scan grid in t (NaN for exact rays): changes that leave and come back within
        one grid step are not resolved.
    """

    space: str
    method: str
    status: np.ndarray
    has_ray: np.ndarray
    hull_distance: np.ndarray
    nn_distance: np.ndarray
    typical_nn: float
    class_sample: np.ndarray
    class_hull: np.ndarray
    label: Optional[np.ndarray]
    first_before: np.ndarray
    first_after: np.ndarray
    changes_before: np.ndarray
    changes_after: np.ndarray
    lines: Lines = field(repr=False)
    ray_index: np.ndarray = field(repr=False)
    P: np.ndarray = field(repr=False)
    U: np.ndarray = field(repr=False)
    t_max: float = 3.0
    tol: float = float("nan")
    grid_step: float = float("nan")
    Q: np.ndarray = field(repr=False, default=None)
    hull_result: Any = field(repr=False, default=None)
    head: Head = field(repr=False, default=None)

    def __len__(self) -> int:
        return int(self.status.shape[0])

    @property
    def exact(self) -> bool:
        return self.head is not None and self.head.exact

    @property
    def decided_outside(self) -> np.ndarray:
        """Samples whose class changes at least once between the hull (t = 0) and the sample (t = 1)."""
        return self.has_ray & (self.changes_before > 0)

    def ray(self, i: int) -> Dict[str, Any]:
        """Sample i's ray: breakpoints t, their brackets and the classes between them (None without a ray)."""
        r = int(self.ray_index[i])
        if r < 0:
            return None
        t, cls, lo, hi = self.lines.line(r)
        return {"t": t, "classes": cls, "bracket": (lo, hi)}

    def summary(self) -> Dict[str, Any]:
        """Per-space summary as plain Python numbers (NaN where undefined)."""
        n = len(self)
        R = int(self.has_ray.sum())
        dec = self.decided_outside
        out: Dict[str, Any] = {
            "space": self.space, "method": self.method, "n": n, "rays": R,
            "inside": int(np.sum(self.status == "inside")), "boundary": int(np.sum(self.status == "boundary")),
            "unconverged": int(np.sum(self.status == "unconverged")),
            "t_max": self.t_max, "tol": self.tol, "grid_step": self.grid_step,
            "share_decided_outside": float(dec.sum() / R) if R else float("nan"),
            "share_hull_class_differs": float(np.mean(self.class_hull[self.has_ray] != self.class_sample[self.has_ray]))
            if R else float("nan"),
            "share_change_beyond_sample": float(np.mean(self.changes_after[self.has_ray] > 0)) if R else float("nan"),
            "mean_changes_before": float(np.mean(self.changes_before[self.has_ray])) if R else float("nan"),
            "mean_changes_after": float(np.mean(self.changes_after[self.has_ray])) if R else float("nan"),
            "max_changes_before": int(self.changes_before.max()) if R else 0,
        }
        fb = self.first_before[dec]
        qs = ("0.1", "0.25", "0.5", "0.75", "0.9")
        out["first_change_quantiles"] = {q: float(np.quantile(fb, float(q))) for q in qs} if fb.size else {}
        fa = self.first_after[self.has_ray & np.isfinite(self.first_after)]
        out["first_change_after_median"] = float(np.median(fa)) if fa.size else float("nan")
        if self.label is not None:
            ok = self.class_sample == self.label
            out["accuracy"] = float(ok.mean()) if n else float("nan")
            out["share_correct_among_decided_outside"] = float(ok[dec].mean()) if dec.any() else float("nan")
            nd = self.has_ray & ~dec
            out["share_correct_among_not_decided"] = float(ok[nd].mean()) if nd.any() else float("nan")
        out["median_hull_distance_over_typical_nn"] = (float(np.median(self.hull_distance) / self.typical_nn)
                                                       if n and self.typical_nn > 0 else float("nan"))
        return out

    def records(self) -> List[Dict[str, Any]]:
        """One dict per sample (for report.json)."""
        rows = []
        for i in range(len(self)):
            r = self.ray(i)
            rows.append({
                "status": str(self.status[i]), "hull_distance": float(self.hull_distance[i]),
                "class_sample": int(self.class_sample[i]), "class_hull": int(self.class_hull[i]),
                "label": None if self.label is None else int(self.label[i]),
                "first_before": float(self.first_before[i]), "first_after": float(self.first_after[i]),
                "changes_before": int(self.changes_before[i]), "changes_after": int(self.changes_after[i]),
                "breaks": None if r is None else [float(x) for x in r["t"]],
                "classes": None if r is None else [int(x) for x in r["classes"]],
            })
        return rows

    def __repr__(self) -> str:
        s = self.summary()
        dec = s["share_decided_outside"]
        how = "exact" if self.exact else f"grid+bisection, tol {self.tol:g}"
        return (f"RayResult({self.space!r}, {s['n']} samples: {s['rays']} rays, {s['inside']} inside; "
                f"{100 * dec:.1f}% change class between hull and sample; {how})")

    def verify(self, max_failures: int = 50) -> Verification:
        """Re-check in numpy/float64: the hull certificates, every ray's origin and direction, the classes
        at bracket ends (scans) or on each exact piece, and the per-sample counts."""
        fails: List[str] = []
        checked = 0
        if self.hull_result is not None:
            hv = self.hull_result.verify(max_failures=max_failures)
            checked += hv.checked
            fails += [f"hull: {f}" for f in hv.failures]
        idx = np.flatnonzero(self.has_ray)
        if not np.array_equal(self.ray_index[idx], np.arange(len(idx))) or np.any(self.ray_index[~self.has_ray] != -1):
            fails.append("ray_index does not enumerate the samples with a ray")
        if self.hull_result is not None and len(idx):
            if not np.allclose(self.P, self.hull_result.nearest[idx], rtol=0, atol=0):
                fails.append("ray origins are not the hull engine's nearest points")
            if not np.allclose(self.P + self.U, self.Q[idx], rtol=1e-12, atol=1e-12 * (1 + np.abs(self.Q).max())):
                fails.append("p + u is not the sample")
            if np.any(self.status[idx] != "outside"):
                fails.append("a ray was traced for a sample that is not certified outside")
        if self.head is not None:
            c = self.head.classes(self.Q)
            if not np.array_equal(c, self.class_sample):
                fails.append(f"class_sample differs from the model at {int(np.sum(c != self.class_sample))} samples")
            fails += check_lines(self.head, self.P, self.U, self.lines, self.t_max,
                                 None if self.exact else self.tol, max_failures=max_failures)
        for k, i in enumerate(idx):
            t, cls, _, _ = self.lines.line(k)
            nb = int(np.sum(t <= 1.0))
            if nb != self.changes_before[i] or len(t) - nb != self.changes_after[i]:
                fails.append(f"sample {i}: change counts do not match its breakpoints")
            if cls[0] != self.class_hull[i] or cls[nb] != self.class_sample[i] and not self.exact:
                fails.append(f"sample {i}: classes at the hull or the sample do not match the ray")
            checked += 1
        return Verification(ok=not fails, checked=checked, failures=tuple(fails[:max_failures + 1]))


def rays(model: Any, X_train: Any, X_test: Any, y_test: Any = None, *, layer: Optional[str] = None,
         exact: Optional[bool] = None, t_max: float = 3.0, grid: int = 64, tol: float = 1e-6,
         hull_result: Any = None, typical_nn: Optional[float] = None, threads: Optional[int] = None,
         device: Any = "cpu", batch_size: int = 512, progress: bool = False) -> RayResult:
    """Follow the model's class along the ray from the training hull through each test sample.

    Parameters
    ----------
    model : torch.nn.Module, LinearRegions or callable
        See :func:`hullscope.boundaries.make_head`. For a LinearRegions or a callable, X_train and
        X_test are points of its space.
    X_train, X_test : arrays (n, ...), (B, ...)
        Training and test inputs (torch model) or points.
    y_test : int array (B,), optional
        Labels, for the share of correct classifications among samples decided outside the hull.
    layer : str, optional
        Torch models: the space is this layer's activations (default: the input). The layer that
        feeds the final nn.Linear gives exact rays.
    exact : bool, optional
        Force (True) or refuse (False) the exact linear engine; default: exact where available.
    t_max : float > 1
        Rays run over t in [0, t_max] (t = 0 the nearest hull point, t = 1 the sample).
    grid : int
        Scan intervals on [0, 1] (the same spacing continues to t_max); network heads only.
    tol : float
        Bisection tolerance in t; network heads only.
    hull_result : DistanceResult, optional
        Distances of the test points to the training hull in this space, if already computed.
    typical_nn : float, optional
        The space's typical nearest-neighbour distance among training samples (computed if omitted).
    threads : int, optional
        Threads of the hull engine (default: all cores).
    device : torch device
        Where the network runs.
    batch_size : int
        Points per float32 network call (float64 calls take a quarter of it).
    progress : bool
        tqdm progress bars on the scans and the hull computations.

    Returns
    -------
    RayResult
    """
    from ..extrapolation import typical_nn_distance
    from ..hull import Hull

    t_max = check_t_max(t_max)
    tol = check_tol(tol)
    grid = check_grid(grid)
    check_inputs(X_test, "X_test")
    check_inputs(X_train, "X_train")
    head = make_head(model, X_test, layer=layer, exact=exact, device=device, batch_size=batch_size, name="X_test")
    Fte = space_points(model, X_test, layer, "X_test", device=device, d=head.d)
    y = _labels(y_test, len(Fte), "y_test")
    Ftr = None
    if hull_result is None or typical_nn is None:
        Ftr = space_points(model, X_train, layer, "X_train", device=device, d=head.d)
    if hull_result is None:
        hull_result = Hull(Ftr, threads=threads).distance(Fte, threads=threads, progress=progress)
    elif len(hull_result) != len(Fte) or hull_result.nearest.shape[1] != head.d:
        raise ValueError(f"hull_result: expected a DistanceResult for {len(Fte)} points of dimension {head.d}")
    B = len(Fte)
    status = np.asarray(hull_result.status)
    has = status == "outside"
    idx = np.flatnonzero(has)
    P = np.ascontiguousarray(hull_result.nearest[idx])
    U = np.ascontiguousarray(Fte[idx] - P)
    if head.exact:
        lines = exact_lines(head, P, U, t_max)
        method, grid_step, tol_used = "exact (LinearRegions.segment)", float("nan"), float("nan")
    else:
        ts = grid_of(t_max, grid)
        lines = scan_lines(head, P, U, ts, tol, progress=progress, desc=f"rays ({head.space})")
        method = f"grid of {len(ts)} points on [0, {t_max:g}] + bisection to {tol:g} in t"
        grid_step, tol_used = 1.0 / grid, tol
    cs = head.classes(Fte)
    ch = np.full(B, -1, np.int64)
    fb, fa = np.full(B, np.nan), np.full(B, np.nan)
    nb, na = np.full(B, -1, np.int64), np.full(B, -1, np.int64)
    ray_index = np.full(B, -1, np.int64)
    for k, i in enumerate(idx):
        t, cls, _, _ = lines.line(k)
        ray_index[i] = k
        ch[i] = cls[0]
        before = t <= 1.0
        nb[i], na[i] = int(before.sum()), int((~before).sum())
        if before.any():
            fb[i] = float(t[before][0])
        if (~before).any():
            fa[i] = float(t[~before][0])
    if typical_nn is None:
        typical_nn = typical_nn_distance(Ftr)
    return RayResult(space=head.space, method=method, status=status, has_ray=has,
                     hull_distance=np.where(status == "inside", 0.0, hull_result.distance),
                     nn_distance=np.asarray(hull_result.nn_distance), typical_nn=float(typical_nn),
                     class_sample=cs, class_hull=ch, label=y, first_before=fb, first_after=fa, changes_before=nb,
                     changes_after=na, lines=lines, ray_index=ray_index, P=P, U=U, t_max=t_max, tol=tol_used,
                     grid_step=grid_step, Q=Fte, hull_result=hull_result, head=head)
