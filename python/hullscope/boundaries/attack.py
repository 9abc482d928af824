"""The smallest pixel change that flips the class, found by hullscope's own minimum-norm L2 attack.

For each image x0 of class c (float64 copy of the model; ties to the lowest index):

1. **DeepFool steps** (float32 gradients): linearise the logit differences ``f_k = z_k - z_c`` and step
   to the nearest linearised boundary, ``r = |f_k| / ||w_k||^2 w_k`` with the k of least
   ``|f_k| / ||w_k||``; accumulate, overshoot by ``overshoot`` and clip to the pixel range, until the
   class changes.
2. **Line search + bisection** along the segment from x0 to that point: the first grid point whose
   class is not c, then bisection until the bracket is ``tol`` wide relative to the distance. The
   returned image is the bracket's far end (class not c); its near end still has class c.
3. **Refinement** (``refine`` rounds): linearise the boundary at the point just found, project x0
   onto that tangent hyperplane, and line-search that new direction; keep it if shorter.

Every candidate stays inside the pixel range (a segment between two images of the range stays in it).
The distance found is an **upper bound** on the true minimum flip distance: a shorter flip may exist in
a direction the attack did not try. For a model linear in the pixels and no pixel range it equals the
closed-form distance to the nearest boundary (tested to 1e-6 relative).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .._progress import progress_bar
from ..hull import Verification

__all__ = ["FlipResult", "min_flip", "check_pixel_range"]


def check_pixel_range(pixel_range: Any) -> Optional[Tuple[float, float]]:
    if pixel_range is None:
        return None
    try:
        lo, hi = (float(v) for v in pixel_range)
    except (TypeError, ValueError):
        raise TypeError(f"pixel_range: expected (lo, hi) or None, got {pixel_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"pixel_range: expected finite lo < hi, got {pixel_range!r}")
    return lo, hi


@dataclass(frozen=True, eq=False)
class FlipResult:
    """Minimum-norm L2 flips of N images found by :func:`min_flip` (upper bounds on the true minimum).

    Attributes
    ----------
    distance : ndarray (N,)
        ``||perturbed - X||`` in pixel units (L2 over all pixels): an upper bound on the smallest change
        that flips the class; inf where no flip was found.
    found : ndarray of bool (N,)
    perturbed : ndarray (N, ...)
        The flipped images (float64; the input where nothing was found).
    inner : ndarray (N, ...)
        The near end of the final bisection bracket: same direction, still the original class.
    original, flipped_to : ndarray of int (N,)
        Class of X and of ``perturbed`` (float64 evaluation; -1 where nothing was found).
    bracket : ndarray (N,)
        ``||perturbed - inner||``: how far beyond the boundary (along the attack's direction) the
        returned image may lie.
    deepfool_steps : ndarray of int (N,)
    pixel_range : (lo, hi) or None
    """

    distance: np.ndarray
    found: np.ndarray
    perturbed: np.ndarray = field(repr=False)
    inner: np.ndarray = field(repr=False)
    original: np.ndarray = field(repr=False)
    flipped_to: np.ndarray = field(repr=False)
    bracket: np.ndarray = field(repr=False)
    deepfool_steps: np.ndarray = field(repr=False)
    pixel_range: Optional[Tuple[float, float]] = None
    tol: float = 1e-7
    X: np.ndarray = field(repr=False, default=None)
    _model: Any = field(repr=False, default=None)

    def __len__(self) -> int:
        return int(self.distance.shape[0])

    def summary(self) -> Dict[str, Any]:
        f = self.found
        return {"n": len(self), "found": int(f.sum()),
                "median_distance": float(np.median(self.distance[f])) if f.any() else float("nan"),
                "median_deepfool_steps": float(np.median(self.deepfool_steps)) if len(self) else float("nan"),
                "bound": "upper bound on the minimum L2 flip distance"}

    def __repr__(self) -> str:
        s = self.summary()
        return (f"FlipResult({s['n']} images, {s['found']} flipped, median L2 distance "
                f"{s['median_distance']:.4g} (upper bound))")

    def verify(self, max_failures: int = 50) -> Verification:
        """Re-run the model (float64 copy): each perturbed image has a class other than the original,
        its bracket's near end keeps the original class, distances match the images, and every image
        lies in the pixel range."""
        fails: List[str] = []
        N = len(self)
        X = self.X.reshape(N, -1)
        Pm = self.perturbed.reshape(N, -1)
        In = self.inner.reshape(N, -1)
        c0 = _classes(self._model, self.X)
        if not np.array_equal(c0, self.original):
            fails.append("the original classes differ from the model's")
        f = self.found
        if f.any():
            cp = _classes(self._model, self.perturbed[f])
            ci = _classes(self._model, self.inner[f])
            bad = np.flatnonzero(cp == self.original[f])
            if bad.size:
                fails.append(f"{bad.size} perturbed images keep their class (first: {np.flatnonzero(f)[bad[0]]})")
            if not np.array_equal(cp, self.flipped_to[f]):
                fails.append("flipped_to differs from the model's class at the perturbed images")
            if np.any(ci != self.original[f]):
                fails.append("a bracket's near end does not keep the original class")
            dist = np.linalg.norm(Pm[f] - X[f], axis=1)
            if not np.allclose(dist, self.distance[f], rtol=1e-9, atol=1e-12):
                fails.append("distance is not ||perturbed - X||")
            br = np.linalg.norm(Pm[f] - In[f], axis=1)
            too_wide = br > self.tol * self.distance[f] * 1.01 + 1e-15
            if not np.allclose(br, self.bracket[f], rtol=1e-6, atol=1e-12) or np.any(too_wide):
                fails.append("a bisection bracket is wider than tol relative to the distance")
            # the near end lies on the segment from X to the perturbed image
            if np.any(np.linalg.norm(In[f] - X[f], axis=1) > dist * (1 + 1e-9)):
                fails.append("a bracket's near end is farther than the perturbed image")
        if self.pixel_range is not None:
            lo, hi = self.pixel_range
            if Pm.min(initial=lo) < lo - 1e-12 or Pm.max(initial=hi) > hi + 1e-12:
                fails.append("a perturbed image leaves the pixel range")
        if np.any(np.isfinite(self.distance[~f])):
            fails.append("a finite distance for an image where no flip was found")
        return Verification(ok=not fails, checked=N, failures=tuple(fails[:max_failures]))


def _classes(module64: Any, X: np.ndarray, batch: int = 128) -> np.ndarray:
    import torch

    p = next(module64.parameters(), None)
    dev = p.device if p is not None else "cpu"
    out = []
    with torch.no_grad():
        for a in range(0, len(X), batch):
            z = module64(torch.as_tensor(np.asarray(X[a:a + batch]), dtype=torch.float64, device=dev))
            z = z[0] if isinstance(z, (tuple, list)) else z
            out.append(z.argmax(1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _grads(module32: Any, x: Any, c: Any):
    """Logits (n, K) and gradients of z_k - z_c (n, K, D) at x (float32)."""
    import torch

    x = x.detach().clone().requires_grad_(True)
    z = module32(x)
    z = z[0] if isinstance(z, (tuple, list)) else z
    K = z.shape[1]
    zc = z.gather(1, c[:, None])[:, 0]
    G = []
    for k in range(K):
        g, = torch.autograd.grad((z[:, k] - zc).sum(), x, retain_graph=k < K - 1)
        G.append(g.reshape(len(x), -1))
    return (z - zc[:, None]).detach(), torch.stack(G, 1).detach()


def _first_exit(m64: Any, x0: np.ndarray, delta: np.ndarray, c0: np.ndarray, tol: float, n_grid: int = 8):
    """For each row, the smallest s in (0, 1] (grid then bisection) where x0 + s delta leaves class c0.

    Returns (lo, hi, ok): x0 + lo delta has class c0, x0 + hi delta does not, hi - lo <= tol * hi.
    Rows whose end point (s = 1) keeps c0 come back with ok False.
    """
    n = len(x0)
    shape = x0.shape[1:]
    flat0, flatd = x0.reshape(n, -1), delta.reshape(n, -1)
    if n_grid > 0:
        ss = np.linspace(0.0, 1.0, n_grid + 1)[1:]
        pts = (flat0[:, None, :] + ss[None, :, None] * flatd[:, None, :]).reshape((-1,) + shape)
        cls = _classes(m64, pts).reshape(n, n_grid)
        leave = cls != c0[:, None]
        ok = leave.any(axis=1)
        j = np.argmax(leave, axis=1)
        hi = np.where(ok, ss[j], 1.0)
        lo = np.where(ok, np.where(j > 0, ss[np.maximum(j - 1, 0)], 0.0), 1.0)
    else:  # the caller knows the bracket already: s in [lo0, 1], passed as x0 = near end
        ok = np.ones(n, bool)
        lo, hi = np.zeros(n), np.ones(n)
    act = np.flatnonzero(ok)
    while act.size:
        act = act[hi[act] - lo[act] > tol * hi[act]]
        if act.size == 0:
            break
        mid = 0.5 * (lo[act] + hi[act])
        stuck = (mid <= lo[act]) | (mid >= hi[act])
        act, mid = act[~stuck], mid[~stuck]
        if act.size == 0:
            break
        c = _classes(m64, (flat0[act] + mid[:, None] * flatd[act]).reshape((-1,) + shape))
        same = c == c0[act]
        lo[act[same]] = mid[same]
        hi[act[~same]] = mid[~same]
    return lo, hi, ok


def min_flip(model: Any, X: Any, *, pixel_range: Any = (0.0, 1.0), max_iter: int = 50, overshoot: float = 0.02,
             refine: int = 3, tol: float = 1e-7, device: Any = "cpu", batch_size: int = 256,
             progress: bool = False) -> FlipResult:
    """Smallest L2 change of each image that changes the model's class (an upper bound; see module doc).

    Parameters
    ----------
    model : torch.nn.Module
        A classifier returning logits (N, K). A float64 copy decides every reported class; a float32
        copy gives the DeepFool gradients.
    X : array or tensor (N, ...)
        Images as the model takes them, inside ``pixel_range``.
    pixel_range : (lo, hi) or None
        The valid pixel values; every candidate is clipped to it. None: unbounded.
    max_iter : int
        DeepFool steps per image.
    overshoot : float
        DeepFool's overshoot (the line search removes it afterwards).
    refine : int
        Tangent-plane refinement rounds after the first boundary point.
    tol : float
        Bisection tolerance, relative to the distance.

    Returns
    -------
    FlipResult
    """
    import copy

    from .._torch import require_torch
    from .._validation import to_numpy
    from ._net import _check_logits, _is_module, run_model

    torch = require_torch()
    if not _is_module(model):
        raise TypeError(f"model: min_flip needs a torch nn.Module (it uses gradients), got {type(model).__name__}")
    rng_ = check_pixel_range(pixel_range)
    for name, v, lo_ in (("max_iter", max_iter, 1), ("batch_size", batch_size, 1), ("refine", refine, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo_:
            raise ValueError(f"{name}: expected an int >= {lo_}, got {v!r}")
    if not (isinstance(overshoot, (int, float)) and 0 < overshoot < 1):
        raise ValueError(f"overshoot: expected a number in (0, 1), got {overshoot!r}")
    if not (isinstance(tol, (int, float)) and 0 < tol <= 1e-2):
        raise ValueError(f"tol: expected a relative tolerance in (0, 0.01], got {tol!r}")
    Xa = to_numpy(X, "X")
    if Xa.ndim < 2 or Xa.shape[0] == 0:
        raise ValueError(f"X: expected a non-empty batch of images (N, ...), got shape {Xa.shape}")
    if not np.issubdtype(Xa.dtype, np.number):
        raise TypeError(f"X: expected numeric images, got dtype {Xa.dtype}")
    Xa = np.ascontiguousarray(Xa, dtype=np.float64)
    if not np.isfinite(Xa).all():
        raise ValueError("X: contains NaN or inf")
    if rng_ is not None and (Xa.min() < rng_[0] or Xa.max() > rng_[1]):
        raise ValueError(f"X: values span [{Xa.min():.4g}, {Xa.max():.4g}], outside the declared pixel_range "
                         f"[{rng_[0]:g}, {rng_[1]:g}]; pass the data's range as pixel_range=(lo, hi), or None")
    m32 = copy.deepcopy(model).to(device=device, dtype=torch.float32).eval()
    m64 = copy.deepcopy(model).to(device=device, dtype=torch.float64).eval()
    z = run_model(m64, torch.as_tensor(Xa[:2], dtype=torch.float64, device=device), "X")
    _check_logits((z[0] if isinstance(z, (tuple, list)) else z).cpu().numpy(), min(2, len(Xa)))
    N = len(Xa)
    shape = Xa.shape[1:]
    D = int(np.prod(shape))
    lo_px, hi_px = rng_ if rng_ is not None else (-np.inf, np.inf)
    c0 = _classes(m64, Xa)
    best = np.full(N, np.inf)
    pert = Xa.copy()
    inner = Xa.copy()
    steps = np.zeros(N, np.int64)

    def clip(v):
        return np.clip(v, lo_px, hi_px)

    coarse = max(tol, 1e-3)

    def consider(rows, cand):
        """Line-search + bisect x0 -> cand for these rows (to a coarse tolerance); keep the shorter flips."""
        delta = cand - Xa[rows]
        lo, hi, ok = _first_exit(m64, Xa[rows], delta, c0[rows], coarse)
        nd = np.linalg.norm(delta.reshape(len(rows), -1), axis=1)
        dist = hi * nd
        better = ok & (dist < best[rows])
        for k in np.flatnonzero(better):
            i = rows[k]
            pert[i] = Xa[i] + hi[k] * delta[k]
            inner[i] = Xa[i] + lo[k] * delta[k]
            best[i] = float(np.linalg.norm((pert[i] - Xa[i]).ravel()))
        return better

    with progress_bar(progress, N, "min_flip", unit="image") as bar:
        for a in range(0, N, batch_size):
            rows = np.arange(a, min(N, a + batch_size))
            x0 = Xa[rows]
            ct = torch.as_tensor(c0[rows], device=device)
            r_tot = np.zeros((len(rows), D))
            cand = x0.copy()
            done = np.zeros(len(rows), bool)
            for it in range(max_iter):
                act = np.flatnonzero(~done)
                if act.size == 0:
                    break
                xt = torch.as_tensor(cand[act], dtype=torch.float32, device=device)
                f, G = _grads(m32, xt, ct[act])
                f, G = f.cpu().double().numpy(), G.cpu().double().numpy()
                nrm = np.linalg.norm(G, axis=2)
                ratio = np.where(nrm > 0, np.abs(f) / np.where(nrm > 0, nrm, 1.0), np.inf)
                ratio[np.arange(len(act)), c0[rows][act]] = np.inf
                k = np.argmin(ratio, axis=1)
                fk = np.abs(f[np.arange(len(act)), k])
                wk = G[np.arange(len(act)), k]
                nk2 = np.maximum(np.einsum("ij,ij->i", wk, wk), 1e-300)
                r_tot[act] += ((fk + 1e-6 * (1 + fk)) / nk2)[:, None] * wk
                cand[act] = clip(x0[act] + (1 + overshoot) * r_tot[act].reshape((-1,) + shape))
                steps[rows[act]] += 1
                flipped = _classes(m64, cand[act]) != c0[rows][act]
                done[act[flipped]] = True
            # images DeepFool did not flip: push further along the accumulated direction
            for s in (2.0, 4.0, 16.0):
                act = np.flatnonzero(~done)
                if act.size == 0:
                    break
                trial = clip(x0[act] + s * (1 + overshoot) * r_tot[act].reshape((-1,) + shape))
                flipped = _classes(m64, trial) != c0[rows][act]
                cand[act[flipped]] = trial[flipped]
                done[act[flipped]] = True
            got = np.flatnonzero(done)
            if got.size:
                consider(rows[got], cand[got])
            # refinement: project x0 onto the boundary's tangent plane at the best point so far
            for _ in range(refine):
                act = rows[np.isfinite(best[rows])]
                if act.size == 0:
                    break
                xb = torch.as_tensor(pert[act], dtype=torch.float32, device=device)
                f, G = _grads(m32, xb, torch.as_tensor(c0[act], device=device))
                f, G = f.cpu().double().numpy(), G.cpu().double().numpy()
                kk = _classes(m64, pert[act])
                n_ = np.arange(len(act))
                fk, wk = f[n_, kk], G[n_, kk]
                nk2 = np.einsum("ij,ij->i", wk, wk)
                okk = nk2 > 0
                if not okk.any():
                    break
                # tangent plane f(xb) + w.(x - xb) = 0; its point nearest x0 is x0 + alpha w
                diff = (Xa[act] - pert[act]).reshape(len(act), -1)
                alpha = -(fk + np.einsum("ij,ij->i", wk, diff)) / np.where(okk, nk2, 1.0)
                trial = clip(Xa[act] + ((1 + overshoot) * alpha)[:, None].reshape((-1,) + (1,) * len(shape))
                             * wk.reshape((-1,) + shape))
                keep = okk & (alpha > 0)
                if not keep.any():
                    break
                improved = consider(act[keep], trial[keep])
                if not improved.any():
                    break
            # final bisection of the kept bracket [inner, pert] to tol relative to the distance
            fin = rows[np.isfinite(best[rows])]
            if fin.size and coarse > tol:
                gap = (pert[fin] - inner[fin]).reshape(len(fin), -1)
                dist0 = np.linalg.norm((inner[fin] - Xa[fin]).reshape(len(fin), -1), axis=1)
                # bisect s in [0, 1] on inner + s (pert - inner); stop when the gap is tol x the distance
                rel = tol * np.maximum(dist0, 1e-300) / np.maximum(np.linalg.norm(gap, axis=1), 1e-300)
                lo_s, hi_s = np.zeros(len(fin)), np.ones(len(fin))
                act = np.flatnonzero(hi_s - lo_s > rel)
                while act.size:
                    mid = 0.5 * (lo_s[act] + hi_s[act])
                    stuck = (mid <= lo_s[act]) | (mid >= hi_s[act])
                    act, mid = act[~stuck], mid[~stuck]
                    if act.size == 0:
                        break
                    pts = inner[fin[act]] + mid.reshape((-1,) + (1,) * len(shape)) * (pert[fin[act]] - inner[fin[act]])
                    same = _classes(m64, pts) == c0[fin[act]]
                    lo_s[act[same]] = mid[same]
                    hi_s[act[~same]] = mid[~same]
                    act = act[hi_s[act] - lo_s[act] > rel[act]]
                g = gap.reshape(inner[fin].shape)
                new_in = inner[fin] + lo_s.reshape((-1,) + (1,) * len(shape)) * g
                new_pt = inner[fin] + hi_s.reshape((-1,) + (1,) * len(shape)) * g
                inner[fin], pert[fin] = new_in, new_pt
                best[fin] = np.linalg.norm((pert[fin] - Xa[fin]).reshape(len(fin), -1), axis=1)
            bar.update(len(rows))
    found = np.isfinite(best)
    flipped_to = np.full(N, -1, np.int64)
    if found.any():
        flipped_to[found] = _classes(m64, pert[found])
    bracket = np.linalg.norm((pert - inner).reshape(N, -1), axis=1)
    return FlipResult(distance=best, found=found, perturbed=pert, inner=inner, original=c0, flipped_to=flipped_to,
                      bracket=bracket, deepfool_steps=steps, pixel_range=rng_, tol=float(tol), X=Xa, _model=m64)
