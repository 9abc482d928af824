"""Class sequences along many straight lines ``x(t) = P + t U``, t in [0, t_max].

Two engines, one output format (:class:`Lines`):

* :func:`exact_lines` for a linear head: :meth:`LinearRegions.segment` on each line; breakpoints
  are exact ties between two logits.
* :func:`scan_lines` for any other head: classes on a grid of t values (all lines and grid points in
  one batched pass through the network), then every grid interval whose two ends differ is bisected
  until it is at most ``tol`` wide in t. A midpoint whose class is neither end's splits the interval
  in two, so every change inside a flagged interval is found. A change that leaves a class and comes
  back within one grid interval (equal classes at both ends) is not seen: the grid spacing is the
  resolution of the scan and is reported with the result.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .._progress import progress_bar
from ._net import Head


@dataclass(frozen=True)
class Lines:
    """Breakpoints and classes of L lines in CSR form.

    Line i has breakpoints ``t[indptr[i]:indptr[i+1]]`` (sorted, in (0, t_max)), bracketed by
    ``lo <= t <= hi`` (equal for exact lines) and ``classes[cptr[i]:cptr[i+1]]`` (one more entry than
    breakpoints: the class before the first break, then after each).
    """

    indptr: np.ndarray
    t: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    cptr: np.ndarray
    classes: np.ndarray

    def line(self, i: int):
        a, b = int(self.indptr[i]), int(self.indptr[i + 1])
        c, e = int(self.cptr[i]), int(self.cptr[i + 1])
        return self.t[a:b], self.classes[c:e], self.lo[a:b], self.hi[a:b]

    def __len__(self) -> int:
        return len(self.indptr) - 1


def _pack(per_line: List[tuple]) -> Lines:
    indptr, cptr = [0], [0]
    ts, los, his, cls = [], [], [], []
    for t, lo, hi, c in per_line:
        ts.append(np.asarray(t, float))
        los.append(np.asarray(lo, float))
        his.append(np.asarray(hi, float))
        cls.append(np.asarray(c, np.int64))
        indptr.append(indptr[-1] + len(t))
        cptr.append(cptr[-1] + len(c))
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    return Lines(np.array(indptr, np.int64), cat(ts, float), cat(los, float), cat(his, float),
                 np.array(cptr, np.int64), cat(cls, np.int64))


def exact_lines(head: Head, P: np.ndarray, U: np.ndarray, t_max: float) -> Lines:
    """Exact class sequences for a linear head (``LinearRegions.segment`` from P to P + t_max U)."""
    from ..regions.core import LinearRegions

    reg = LinearRegions(head.W, head.b)
    out = []
    for p, u in zip(P, U):
        seg = reg.segment(p, p + t_max * u)
        t = np.asarray(seg.breaks, float) * t_max
        out.append((t, t, t, np.asarray(seg.classes)))
    return _pack(out)


def grid_of(t_max: float, grid: int) -> np.ndarray:
    """``grid`` intervals on [0, 1] and the same spacing, rounded up, on [1, t_max]; 0, 1, t_max included."""
    inner = np.linspace(0.0, 1.0, grid + 1)
    if t_max <= 1.0:
        return inner
    n_out = int(np.ceil((t_max - 1.0) * grid))
    return np.concatenate([inner, np.linspace(1.0, t_max, n_out + 1)[1:]])


def scan_lines(head: Head, P: np.ndarray, U: np.ndarray, ts: np.ndarray, tol: float, *,
               progress: bool = False, desc: str = "rays", max_points: int = 2_000_000) -> Lines:
    """Grid scan (float32 copy of a network) + bisection (float64) of every class change.

    Parameters
    ----------
    head : Head
    P, U : (L, d)
        Line origins and directions.
    ts : (G,) sorted grid of t values (the first is the start, the last the end).
    tol : float
        Bisection stops when a bracket is at most ``tol`` wide in t.
    max_points : int
        Values (points x d) evaluated per batch of lines, to bound memory.
    """
    L, d = P.shape
    G = len(ts)
    grid_cls = np.empty((L, G), dtype=np.int64)
    per = max(1, max_points // max(1, G * d))
    with progress_bar(progress, L, f"{desc}: grid scan", unit="line") as bar:
        for a in range(0, L, per):
            b = min(L, a + per)
            X = (P[a:b, None, :] + ts[None, :, None] * U[a:b, None, :]).reshape(-1, d)
            grid_cls[a:b] = head.classes(X, fast=True).reshape(b - a, G)
            bar.update(b - a)
    # The reported classes are float64 ones. Both ends of every line and both ends of every flagged
    # interval are re-evaluated in float64; where float64 disagrees with the float32 scan (a grid point
    # within rounding of a tie), the neighbouring intervals are re-flagged and their ends evaluated too,
    # until every interval whose (best known) end classes differ has float64 classes at both ends.
    cls = grid_cls.copy()
    known = np.zeros((L, G), dtype=bool)

    def refine(idx: np.ndarray) -> None:
        X = P[idx[:, 0]] + ts[idx[:, 1], None] * U[idx[:, 0]]
        cls[idx[:, 0], idx[:, 1]] = head.classes(X)
        known[idx[:, 0], idx[:, 1]] = True

    refine(np.concatenate([np.stack([np.arange(L), np.zeros(L, np.int64)], 1),
                           np.stack([np.arange(L), np.full(L, G - 1)], 1)]))
    while True:
        ii, jj = np.nonzero(cls[:, 1:] != cls[:, :-1])
        ends = np.concatenate([np.stack([ii, jj], 1), np.stack([ii, jj + 1], 1)])
        ends = ends[~known[ends[:, 0], ends[:, 1]]] if len(ends) else ends
        if len(ends) == 0:
            break
        refine(np.unique(ends, axis=0))
    exact_cls = {(i, 0): int(cls[i, 0]) for i in range(L)}
    line = ii.astype(np.int64)
    lo = ts[jj].astype(float)
    hi = ts[jj + 1].astype(float)
    clo = cls[ii, jj].astype(np.int64)
    chi = cls[ii, jj + 1].astype(np.int64)
    with progress_bar(progress and len(line) > 0, None, f"{desc}: bisection", unit="step") as bar:
        while True:
            act = np.flatnonzero(hi - lo > tol)
            if act.size == 0:
                break
            mid = 0.5 * (lo[act] + hi[act])
            # guard against a bracket that cannot shrink in floating point
            stuck = (mid <= lo[act]) | (mid >= hi[act])
            if stuck.any():
                act, mid = act[~stuck], mid[~stuck]
                if act.size == 0:
                    break
            cm = head.classes(P[line[act]] + mid[:, None] * U[line[act]])
            to_lo = cm == clo[act]
            to_hi = cm == chi[act]
            third = ~(to_lo | to_hi)
            lo[act[to_lo]] = mid[to_lo]
            hi[act[to_hi & ~to_lo]] = mid[to_hi & ~to_lo]
            if third.any():
                k = act[third]
                # split: [lo, mid] from clo to cm, and a new interval [mid, hi] from cm to chi
                line = np.concatenate([line, line[k]])
                lo = np.concatenate([lo, mid[third]])
                hi_new = hi[k].copy()
                hi[k] = mid[third]
                hi = np.concatenate([hi, hi_new])
                clo = np.concatenate([clo, cm[third]])
                chi_old = chi[k].copy()
                chi[k] = cm[third]
                chi = np.concatenate([chi, chi_old])
            bar.update(int(act.size))
    order = np.lexsort((lo, line))
    line, lo, hi, clo, chi = line[order], lo[order], hi[order], clo[order], chi[order]
    out = []
    starts = np.searchsorted(line, np.arange(L + 1))
    for i in range(L):
        a, b = starts[i], starts[i + 1]
        first = exact_cls[(i, 0)]
        if b == a:
            out.append(([], [], [], [first]))
            continue
        cls = [int(clo[a])] + [int(c) for c in chi[a:b]]
        out.append((0.5 * (lo[a:b] + hi[a:b]), lo[a:b], hi[a:b], cls))
    return _pack(out)


def check_lines(head: Head, P: np.ndarray, U: np.ndarray, lines: Lines, t_max: float, tol: Optional[float],
                rtol: float = 1e-9, max_failures: int = 50) -> List[str]:
    """Re-check a :class:`Lines` in float64: the stated classes at each bracket end (scans) or, for exact
    lines, each piece's class on top at its two ends and its midpoint (within a logit tolerance)."""
    fails: List[str] = []
    for i in range(len(lines)):
        if len(fails) >= max_failures:
            fails.append("... (more failures not listed)")
            break
        t, cls, lo, hi = lines.line(i)
        if len(cls) != len(t) + 1:
            fails.append(f"line {i}: {len(cls)} classes for {len(t)} breakpoints")
            continue
        if np.any(np.diff(t) < 0) or (len(t) and (t[0] < 0 or t[-1] > t_max)):
            fails.append(f"line {i}: breakpoints not sorted in [0, t_max]")
        if np.any(cls[1:] == cls[:-1]):
            fails.append(f"line {i}: a breakpoint between equal classes")
        if head.exact:
            ends = np.concatenate([[0.0], t, [t_max]])
            pts, who = [], []
            for k, c in enumerate(cls):
                for s in (ends[k], ends[k + 1], 0.5 * (ends[k] + ends[k + 1])):
                    pts.append(P[i] + s * U[i])
                    who.append(c)
            Z = head.logits(np.array(pts))
            tl = rtol * (1.0 + np.abs(Z).max())
            bad = Z[np.arange(len(who)), who] < Z.max(axis=1) - tl
            if bad.any():
                fails.append(f"line {i}: a piece's class is not on top at its ends or midpoint")
        else:
            if np.any(hi - lo > tol * (1 + 1e-12)) or np.any(lo > t) or np.any(t > hi):
                fails.append(f"line {i}: a bracket is wider than tol={tol} or does not hold its breakpoint")
            pts = np.concatenate([[P[i]], P[i] + lo[:, None] * U[i], P[i] + hi[:, None] * U[i]]) if len(t) else \
                P[i][None]
            c = head.classes(pts)
            want = np.concatenate([[cls[0]], cls[:-1], cls[1:]]) if len(t) else np.array([cls[0]])
            if not np.array_equal(c, want):
                fails.append(f"line {i}: the classes at the bracket ends are not the stated ones")
    return fails
