"""Morphing one test image into another: class changes and ambiguity along the straight path.

For a pair (a, b) the path is ``x(s) = (1 - s) a + s b``, s in [0, 1], in one space:

* in pixel space (or an earlier layer) through the rest of the network, by grid + bisection;
* in the space feeding the final linear layer, exactly (:meth:`LinearRegions.segment` between the
  two feature vectors: the straight morph of the *features*, not the features of the pixel morph).

Reported per pair: the class changes, the classes visited that are neither endpoint's ("ambiguity"),
and, given training data, the share of the path that lies outside the convex hull of the training
points of that space. The segment meets the (convex) hull in one interval; the hull engine decides
membership on a grid of points for all paths at once (:meth:`Hull.contains`, batched), and the two
ends of the interval are bisected to ``hull_tol`` in s, again batched over paths.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ..hull import Verification
from ._net import Head, make_head
from ._trace import Lines, check_lines, exact_lines, grid_of, scan_lines
from .rays import _labels, check_grid, check_inputs, check_tol, space_points

__all__ = ["MorphResult", "morph", "choose_pairs"]


def choose_pairs(y: Any, n_same: int, n_diff: int, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Random index pairs (i, j), i != j: ``n_same`` with equal labels, then ``n_diff`` with different ones."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) < 2:
        raise ValueError(f"y: expected at least 2 labels, got shape {y.shape}")
    for name, v in (("n_same", n_same), ("n_diff", n_diff)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name}: expected an int >= 0, got {v!r}")
    rng = np.random.default_rng(seed)
    out: List[Tuple[int, int]] = []
    for want, same in ((n_same, True), (n_diff, False)):
        got, tries = 0, 0
        while got < want and tries < 1000 * max(1, want):
            i, j = rng.integers(len(y), size=2)
            tries += 1
            if i != j and (y[i] == y[j]) == same:
                out.append((int(i), int(j)))
                got += 1
    a = np.array([p[0] for p in out], np.int64)
    b = np.array([p[1] for p in out], np.int64)
    return a, b


@dataclass(frozen=True, eq=False)
class MorphResult:
    """Class changes along straight paths between pairs of points of one space.

    Attributes (M pairs)
    ----------
    space, method : str
    class_a, class_b : ndarray of int (M,)
        The model's class at each end (float64 evaluation).
    label_a, label_b : ndarray of int (M,) or None
    changes : ndarray of int (M,)
        Number of class changes along the path.
    ambiguous : list of M int arrays
        Classes visited that are neither endpoint's class, in path order.
    lines : Lines
        Breakpoints s (with brackets) and classes of each path (as for rays, with t = s).
    share_outside_hull : ndarray (M,) or None
        Share of the path (in s) outside conv(training points of the space); None without training
        data. Resolution: ``hull_tol`` at the interval's ends, and an interval shorter than one hull grid
        step may be missed entirely (then the share is 1).
    hull_enter, hull_exit : ndarray (M, 2) or None
        Brackets [outside, inside] of where the path enters and [inside, outside] where it leaves the
        hull (NaN when the path never meets it on the grid; an end point inside the hull gives a
        bracket [s, s]).
    """

    space: str
    method: str
    class_a: np.ndarray
    class_b: np.ndarray
    label_a: Optional[np.ndarray]
    label_b: Optional[np.ndarray]
    changes: np.ndarray
    ambiguous: List[np.ndarray] = field(repr=False)
    lines: Lines = field(repr=False)
    share_outside_hull: Optional[np.ndarray] = field(repr=False, default=None)
    hull_enter: Optional[np.ndarray] = field(repr=False, default=None)
    hull_exit: Optional[np.ndarray] = field(repr=False, default=None)
    hull_tol: float = float("nan")
    tol: float = float("nan")
    grid_step: float = float("nan")
    A: np.ndarray = field(repr=False, default=None)
    B: np.ndarray = field(repr=False, default=None)
    head: Head = field(repr=False, default=None)
    hull: Any = field(repr=False, default=None)

    def __len__(self) -> int:
        return int(self.changes.shape[0])

    @property
    def same_class(self) -> np.ndarray:
        """Pairs of the same class: by their labels when given, else by the model's classes."""
        if self.label_a is not None and self.label_b is not None:
            return self.label_a == self.label_b
        return self.class_a == self.class_b

    def summary(self) -> Dict[str, Any]:
        M = len(self)
        amb = np.array([len(a) > 0 for a in self.ambiguous]) if M else np.zeros(0, bool)
        out: Dict[str, Any] = {"space": self.space, "method": self.method, "pairs": M}
        for key, sel in (("same_class", self.same_class), ("different_class", ~self.same_class)):
            n = int(sel.sum())
            out[key] = {
                "pairs": n,
                "mean_changes": float(self.changes[sel].mean()) if n else float("nan"),
                "share_with_changes": float(np.mean(self.changes[sel] > 0)) if n else float("nan"),
                "share_ambiguous": float(amb[sel].mean()) if n else float("nan"),
                "mean_ambiguous_classes": float(np.mean([len(a) for a, s in zip(self.ambiguous, sel) if s]))
                if n else float("nan"),
            }
            if self.share_outside_hull is not None:
                out[key]["median_share_outside_hull"] = (float(np.median(self.share_outside_hull[sel])) if n
                                                         else float("nan"))
        if self.share_outside_hull is not None:
            out["median_share_outside_hull"] = float(np.median(self.share_outside_hull)) if M else float("nan")
            out["share_paths_entirely_outside_hull"] = (float(np.mean(self.share_outside_hull >= 1.0)) if M
                                                        else float("nan"))
        return out

    def records(self) -> List[Dict[str, Any]]:
        rows = []
        for i in range(len(self)):
            t, cls, _, _ = self.lines.line(i)
            rows.append({"class_a": int(self.class_a[i]), "class_b": int(self.class_b[i]),
                         "label_a": None if self.label_a is None else int(self.label_a[i]),
                         "label_b": None if self.label_b is None else int(self.label_b[i]),
                         "breaks": [float(x) for x in t], "classes": [int(c) for c in cls],
                         "ambiguous": [int(c) for c in self.ambiguous[i]],
                         "share_outside_hull": None if self.share_outside_hull is None
                         else float(self.share_outside_hull[i])})
        return rows

    def __repr__(self) -> str:
        s = self.summary()
        amb = np.mean([len(a) > 0 for a in self.ambiguous]) if len(self) else float("nan")
        h = ("" if self.share_outside_hull is None else
             f", median share outside the hull {s['median_share_outside_hull']:.2f}")
        return (f"MorphResult({self.space!r}, {len(self)} pairs: mean {np.mean(self.changes):.2f} class changes, "
                f"{100 * amb:.0f}% ambiguous{h})")

    def verify(self, max_failures: int = 50) -> Verification:
        """Re-check the class sequences (as for rays), the endpoint classes, the ambiguity lists, and
        the hull brackets by re-running :meth:`Hull.contains` at each bracket end."""
        fails: List[str] = []
        M = len(self)
        U = self.B - self.A
        fails += check_lines(self.head, self.A, U, self.lines, 1.0, None if self.head.exact else self.tol,
                             max_failures=max_failures)
        if not np.array_equal(self.head.classes(self.A), self.class_a) or \
                not np.array_equal(self.head.classes(self.B), self.class_b):
            fails.append("endpoint classes differ from the model's")
        for i in range(M):
            t, cls, _, _ = self.lines.line(i)
            if len(t) != self.changes[i]:
                fails.append(f"pair {i}: change count does not match its breakpoints")
            want = [c for c in cls if c not in (self.class_a[i], self.class_b[i])]
            if list(self.ambiguous[i]) != want:
                fails.append(f"pair {i}: ambiguity list does not match its classes")
            if self.head.exact and (cls[0] != self.class_a[i] and len(t) and t[0] > 0):
                fails.append(f"pair {i}: the path does not start in class_a")
        if self.share_outside_hull is not None:
            pts, want, who = [], [], []
            for i in range(M):
                e, x = self.hull_enter[i], self.hull_exit[i]
                if np.isnan(e).any():
                    if self.share_outside_hull[i] != 1.0:
                        fails.append(f"pair {i}: no hull interval but share {self.share_outside_hull[i]}")
                    continue
                share = 1.0 - (0.5 * (x[0] + x[1]) - 0.5 * (e[0] + e[1]))
                if abs(share - self.share_outside_hull[i]) > 1e-12:
                    fails.append(f"pair {i}: share does not match its brackets")
                if e[1] - e[0] > self.hull_tol * 1.0001 or x[1] - x[0] > self.hull_tol * 1.0001 or e[1] > x[0] + 1e-15:
                    fails.append(f"pair {i}: hull brackets wider than hull_tol or out of order")
                for s, inside in ((e[0], e[0] == e[1]), (e[1], True), (x[0], True), (x[1], x[0] == x[1])):
                    pts.append(self.A[i] + s * U[i])
                    want.append(inside)
                    who.append(i)
            if pts:
                st = self.hull.contains(np.array(pts)).status
                got = st != "outside"
                bad = np.flatnonzero(got != np.array(want))
                for k in bad[:max_failures]:
                    fails.append(f"pair {who[k]}: a hull bracket end has the wrong membership ({st[k]})")
        return Verification(ok=not fails, checked=M, failures=tuple(fails[:max_failures + 1]))


def _hull_interval(hull: Any, A: np.ndarray, U: np.ndarray, n_grid: int, tol: float, threads: Optional[int],
                   progress: bool):
    """Where each segment A + s U meets the hull (an interval, by convexity): grid, then bisection."""
    M, d = A.shape
    ss = np.linspace(0.0, 1.0, n_grid + 1)
    P = (A[:, None, :] + ss[None, :, None] * U[:, None, :]).reshape(-1, d)
    ins = (hull.contains(P, threads=threads, progress=progress).status != "outside").reshape(M, n_grid + 1)
    enter = np.full((M, 2), np.nan)
    exit_ = np.full((M, 2), np.nan)
    any_in = ins.any(axis=1)
    first = np.argmax(ins, axis=1)
    last = n_grid - np.argmax(ins[:, ::-1], axis=1)
    # brackets [out, in] for entering, [in, out] for leaving; an inside end point is its own bracket
    e_lo = np.where(first > 0, ss[np.maximum(first - 1, 0)], 0.0)
    e_hi = ss[first]
    x_lo = ss[last]
    x_hi = np.where(last < n_grid, ss[np.minimum(last + 1, n_grid)], 1.0)
    e_lo = np.where(first == 0, 0.0, e_lo)
    x_hi = np.where(last == n_grid, 1.0, x_hi)
    # bisect both ends of all paths together: a list of (path, lo, hi, lo_is_inside)
    jobs = [(i, e_lo[i], e_hi[i], False) for i in np.flatnonzero(any_in & (first > 0))] + \
           [(i, x_lo[i], x_hi[i], True) for i in np.flatnonzero(any_in & (last < n_grid))]
    if jobs:
        path = np.array([j[0] for j in jobs], np.int64)
        lo = np.array([j[1] for j in jobs], float)
        hi = np.array([j[2] for j in jobs], float)
        lo_in = np.array([j[3] for j in jobs], bool)
        while True:
            act = np.flatnonzero(hi - lo > tol)
            if act.size == 0:
                break
            mid = 0.5 * (lo[act] + hi[act])
            m_in = hull.contains(A[path[act]] + mid[:, None] * U[path[act]], threads=threads).status != "outside"
            to_lo = m_in == lo_in[act]
            lo[act[to_lo]] = mid[to_lo]
            hi[act[~to_lo]] = mid[~to_lo]
        for k, i in enumerate(path):
            if lo_in[k]:
                x_lo[i], x_hi[i] = lo[k], hi[k]
            else:
                e_lo[i], e_hi[i] = lo[k], hi[k]
    enter[any_in] = np.stack([e_lo, e_hi], 1)[any_in]
    exit_[any_in] = np.stack([x_lo, x_hi], 1)[any_in]
    share = np.ones(M)
    share[any_in] = 1.0 - (exit_[any_in].mean(axis=1) - enter[any_in].mean(axis=1))
    return share, enter, exit_


def morph(model: Any, A: Any, B: Any, *, X_train: Any = None, labels_a: Any = None, labels_b: Any = None,
          layer: Optional[str] = None, exact: Optional[bool] = None, grid: int = 64, tol: float = 1e-6,
          hull: Any = None, hull_grid: int = 64, hull_tol: float = 1e-4, threads: Optional[int] = None,
          device: Any = "cpu", batch_size: int = 512, progress: bool = False) -> MorphResult:
    """Classes along the straight paths from each row of A to the same row of B, in one space.

    Parameters
    ----------
    model : torch.nn.Module, LinearRegions or callable
    A, B : arrays (M, ...)
        Inputs (torch model) or points, paired row by row.
    X_train : array (n, ...), optional
        Training inputs (or points): the share of each path outside their convex hull in this space.
    hull : Hull, optional
        The training hull of this space, if already built (instead of X_train).
    layer, exact : as in :func:`hullscope.boundaries.rays`.
    grid, tol : scan intervals on [0, 1] and bisection tolerance in s (network heads).
    hull_grid, hull_tol : hull membership grid on each path and bisection tolerance of its ends.
    threads : int, optional
        Threads of the hull engine (default: all cores).
    device : torch device
        Where the network runs.
    batch_size : int
        Points per float32 network call (float64 calls take a quarter of it).
    progress : bool
        tqdm progress bars on the scans and the hull computations.
    """
    from ..hull import Hull

    tol = check_tol(tol)
    grid = check_grid(grid)
    hull_grid = check_grid(hull_grid)
    hull_tol = check_tol(hull_tol)
    check_inputs(A, "A")
    check_inputs(B, "B")
    head = make_head(model, A, layer=layer, exact=exact, device=device, batch_size=batch_size, name="A")
    Fa = space_points(model, A, layer, "A", device=device, d=head.d)
    Fb = space_points(model, B, layer, "B", device=device, d=head.d)
    if Fa.shape != Fb.shape:
        raise ValueError(f"B: expected as many rows as A ({len(Fa)}), got {len(Fb)}")
    la = _labels(labels_a, len(Fa), "labels_a")
    lb = _labels(labels_b, len(Fb), "labels_b")
    U = Fb - Fa
    if head.exact:
        lines = exact_lines(head, Fa, U, 1.0)
        method, step, tol_used = "exact (LinearRegions.segment)", float("nan"), float("nan")
    else:
        ts = grid_of(1.0, grid)
        lines = scan_lines(head, Fa, U, ts, tol, progress=progress, desc=f"morph ({head.space})")
        method, step, tol_used = f"grid of {len(ts)} points + bisection to {tol:g} in s", 1.0 / grid, tol
    ca, cb = head.classes(Fa), head.classes(Fb)
    changes = np.diff(lines.indptr)
    amb = []
    for i in range(len(Fa)):
        _, cls, _, _ = lines.line(i)
        amb.append(np.array([c for c in cls if c not in (ca[i], cb[i])], np.int64))
    share = enter = exit_ = None
    H = hull
    if H is None and X_train is not None:
        H = Hull(space_points(model, X_train, layer, "X_train", device=device, d=head.d), threads=threads)
    if H is not None:
        if H.d != head.d:
            raise ValueError(f"hull: dimension {H.d} does not match the space's {head.d}")
        share, enter, exit_ = _hull_interval(H, Fa, U, hull_grid, hull_tol, threads, progress)
    return MorphResult(space=head.space, method=method, class_a=ca, class_b=cb, label_a=la, label_b=lb,
                       changes=changes, ambiguous=amb, lines=lines, share_outside_hull=share, hull_enter=enter,
                       hull_exit=exit_, hull_tol=hull_tol if H is not None else float("nan"), tol=tol_used,
                       grid_step=step, A=Fa, B=Fb, head=head, hull=H)
