"""D_f, G_f and R_f of a torch model, layer by layer.

For a representation f (a layer's activations, flattened) and a batch of distinct images x:

    D_f = < ||f(tau x) - f(x)||^2 > / < ||f(x) - f(z)||^2 >     (tau: a random diffeomorphism)
    G_f = < ||f(x + eta) - f(x)||^2 > / < ||f(x) - f(z)||^2 >   (eta: noise with ||eta|| = ||tau x - x||)
    R_f = D_f / G_f

The denominator runs over pairs of distinct images of the batch. Three statistics are computed
(``STATS``), each with its own numerator and denominator:

* ``"mean"``: means over images and over pairs (the 2022 layer-by-layer code);
* ``"median"``: the 2021 code's form, sum_k median_x (f_k(x') - f_k(x))^2 (a median over images for
  each feature k, then summed) over the median over pairs of ||f(x) - f(z)||^2;
* ``"sample_median"``: the median over images of ||f(x') - f(x)||^2 over the median over pairs.

The normalisation is :mod:`hullscope.sensitivity`, shared with the hierarchy module. Every seed draws
new diffeomorphisms and new noise; results are reported per seed and as mean +- standard deviation
over seeds.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from .._progress import progress_bar
from .._torch import collect_activations, resolve_layers
from ..sensitivity import pairwise_sq_distance_stat, perturbation_stats, ratio
from .diffeo import (_as_images, _as_signals, _check_c, _check_T, apply_fields, apply_fields_1d, noise_like,
                     sample_fields, sample_fields_1d, temperature_range, temperature_range_1d)

__all__ = ["StabilityResult", "stability", "stability_sweep", "shuffle_channels", "plot_states"]

STATS = ("mean", "median", "sample_median")
# statistic -> (numerator stat, denominator stat) in hullscope.sensitivity
_STAT_FORMS = {"mean": ("mean", "mean"), "median": ("coordinate_median", "median"),
               "sample_median": ("median", "median")}
BATCHNORM_MODES = ("running", "batch")


@dataclass(frozen=True)
class StabilityResult:
    """D, G and R per seed and layer, for each statistic of ``STATS``.

    Attributes
    ----------
    layers : list of str
        Layer names in forward order ('input' first, 'output' last when included).
    values : dict
        ``values[stat][obs]`` is an array of shape (n_seeds, n_layers), stat in
        {'mean', 'median', 'sample_median'} (see the module docstring), obs in {'D', 'G', 'R'}.
    T, c : float
        Temperature and cutoff of the diffeomorphisms.
    seeds : list of int
    n_images : int
    """

    layers: List[str]
    values: Dict[str, Dict[str, np.ndarray]]
    T: float
    c: float
    seeds: List[int]
    n_images: int
    interp: str = "bilinear"
    deformation: str = "max-entropy diffeomorphisms"
    meta: Dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        R = self.mean("R")
        last = f"{R[-1]:.4g}" if len(R) else "n/a"
        return (f"StabilityResult({len(self.layers)} layers, {self.n_images} images, {len(self.seeds)} seeds; "
                f"R_f at {self.layers[-1] if self.layers else '-'}: {last})")

    def mean(self, obs: str = "R", stat: str = "mean") -> np.ndarray:
        """Average over seeds, shape (n_layers,)."""
        return self.values[stat][obs].mean(axis=0)

    def std(self, obs: str = "R", stat: str = "mean") -> np.ndarray:
        """Standard deviation over seeds, shape (n_layers,) (0 with a single seed)."""
        v = self.values[stat][obs]
        return v.std(axis=0, ddof=1) if v.shape[0] > 1 else np.zeros(v.shape[1])

    def records(self) -> List[Dict[str, Any]]:
        """The result in long ("tidy") form: one row per layer, statistic and observable.

        Each row has ``layer``, ``depth`` (position in ``layers``), ``stat``, ``obs`` ('D', 'G' or 'R'),
        ``mean`` and ``std`` over seeds, and ``n_seeds``; ``pandas.DataFrame(res.records())`` makes a table.
        """
        rows = []
        for stat, d in self.values.items():
            for obs in ("D", "G", "R"):
                m, sd = self.mean(obs, stat), self.std(obs, stat)
                for j, name in enumerate(self.layers):
                    rows.append({"layer": name, "depth": j, "stat": stat, "obs": obs, "mean": float(m[j]),
                                 "std": float(sd[j]), "n_seeds": int(d[obs].shape[0])})
        return rows

    def to_dict(self) -> dict:
        return {"layers": self.layers, "T": self.T, "c": self.c, "seeds": self.seeds, "n_images": self.n_images,
                "interp": self.interp, "deformation": self.deformation, "meta": self.meta,
                "values": {s: {o: v.tolist() for o, v in d.items()} for s, d in self.values.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "StabilityResult":
        """Inverse of :meth:`to_dict` (e.g. a result read back from JSON; null values become NaN)."""
        vals = {s: {o: np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=np.float64)
                    for o, rows in obs.items()} for s, obs in d["values"].items()}
        return cls(layers=list(d["layers"]), values=vals, T=float(d["T"]), c=float(d["c"]),
                   seeds=[int(s) for s in d["seeds"]], n_images=int(d["n_images"]),
                   interp=d.get("interp", "bilinear"), deformation=d.get("deformation", "max-entropy diffeomorphisms"),
                   meta=dict(d.get("meta", {})))

    def to_json(self, path: str) -> None:
        with open(path, "w") as fh:
            json.dump(self.to_dict(), fh, indent=1)

    def plot(self, path: Optional[str] = None, stat: str = "mean"):
        """D, G and R against depth with error bars over seeds (log scale). Returns the figure."""
        from .._plot import subplots

        fig, axes = subplots(figsize=(max(5.0, 0.45 * len(self.layers) + 2), 4))
        ax = axes[0, 0]
        x = np.arange(len(self.layers))
        for obs, col in (("D", "tab:blue"), ("G", "tab:orange"), ("R", "tab:green")):
            ax.errorbar(x, self.mean(obs, stat), yerr=self.std(obs, stat), label=f"{obs}_f", color=col,
                        marker="o", capsize=3)
        ax.set_yscale("log")
        ax.set_xticks(x)
        ax.set_xticklabels(self.layers, rotation=60, ha="right", fontsize=8)
        ax.set_ylabel(f"relative sensitivity ({stat})")
        what = (f"diffeomorphisms T={self.T:.3g}, c={self.c:g}" if self.deformation.startswith("max-entropy")
                else self.deformation)
        ax.set_title(f"stability: {what} vs noise of the same norm", fontsize=10)
        ax.legend()
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


def plot_states(results: Dict[str, StabilityResult], path: Optional[str] = None, stat: str = "mean"):
    """D_f, G_f and R_f against depth, one panel each, one line per model state (e.g. init, trained).

    ``results`` maps a label to a :class:`StabilityResult`; all must share the same layers. Error bars
    are the spread over seeds. Returns the figure (written to ``path`` when given).
    """
    from .._plot import subplots

    if not results:
        raise ValueError("results: expected at least one StabilityResult")
    layers = next(iter(results.values())).layers
    for k, r in results.items():
        if r.layers != layers:
            raise ValueError(f"results[{k!r}]: its layers differ from the first result's; cannot share an axis")
        if stat not in r.values:
            raise ValueError(f"stat: expected one of {sorted(r.values)}, got {stat!r}")
    # one panel per observable, stacked so that the layer names are written once, under the last
    fig, axes = subplots(3, 1, figsize=(max(6.0, 0.22 * len(layers) + 2.0), 8.5), sharex=True)
    x = np.arange(len(layers))
    for ax, obs in zip(axes[:, 0], ("D", "G", "R")):
        for k, r in results.items():
            ax.errorbar(x, r.mean(obs, stat), yerr=r.std(obs, stat), label=k, marker="o", ms=3, capsize=2)
        ax.set_yscale("log")
        ax.set_ylabel(f"{obs}_f ({stat})")
        if obs == "R":
            ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    axes[-1, 0].set_xticks(x)
    axes[-1, 0].set_xticklabels(layers, rotation=70, ha="right", fontsize=7)
    axes[-1, 0].set_xlabel("layer (depth)")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def stability(model: Any, images: Any, layers: Union[None, str, Sequence[str]] = None, *,
              T: Optional[float] = None, c: float = 3.0, seeds: Sequence[int] = (0, 1, 2),
              interp: str = "bilinear", device: Any = "cpu", batch_size: int = 256,
              deform_fn: Optional[Callable[[Any, Any], Any]] = None,
              dim: int = 2, batchnorm: str = "running", progress: bool = False) -> StabilityResult:
    """Measure D_f, G_f and R_f of ``model`` at each layer.

    Parameters
    ----------
    model : torch.nn.Module
    images : array or tensor, shape (B, H, W) or (B, C, H, W), square, B >= 2 distinct images
        In the model's input units; B = 500 is typical.
    layers : None, "all", or list of names
        Layer names from ``model.named_modules()``, plus 'input' and 'output'. Default: all leaves.
    T : float, optional
        Temperature. Default: the geometric mean of ``temperature_range(n, c)``.
    c : float
        High-frequency cutoff (> 1).
    seeds : sequence of int
        One draw of diffeomorphisms and noise per seed.
    interp : {"bilinear", "nearest", "gaussian"}
    device : torch device for the forward passes.
    deform_fn : callable (images tensor (B, C, n, n), seed) -> deformed images, optional
        Another family of deformations (e.g. :func:`~hullscope.stability.scale_task.move_active_pixels`);
        default: the max-entropy diffeomorphisms at temperature T and cutoff c.
    dim : {2, 1}
        2: square images. 1: signals of shape (B, n) or (B, C, n), deformed by 1-D max-entropy
        diffeomorphisms (default T: the geometric mean of ``temperature_range_1d(n, c)``).
    batchnorm : {"running", "batch"}
        "running": BatchNorm layers use their running statistics (the model in eval mode).
        "batch": a copy of the model whose BatchNorm layers normalise with the statistics of the batch
        being measured, each of the clean, deformed and noisy batches passed in one forward pass. This
        is how the 2021 measurements treat untrained networks, whose running statistics (0 and 1)
        describe no data; the model passed in is left unchanged.

    Returns
    -------
    StabilityResult
    """
    if dim not in (1, 2):
        raise ValueError(f"dim: expected 1 (signals) or 2 (square images), got {dim!r}")
    _check_model(model)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int (images per forward pass), got {batch_size!r}")
    check = _as_signals if dim == 1 else _as_images
    x = check(images)
    B, n = x.shape[0], x.shape[-1]
    if B < 2:
        raise ValueError(f"images: need at least 2 images for the pairwise denominator, got {B}")
    if bool((x == x[:1]).all()):
        raise ValueError(f"images: all {B} images are identical; the pairwise denominator needs at least "
                         "2 distinct images")
    c = _check_c(c)
    if T is None:
        lo, hi = (temperature_range_1d if dim == 1 else temperature_range)(n, c)
        T = float(np.sqrt(lo * hi))
    T = _check_T(T)
    seeds = _check_seeds(seeds)
    if batchnorm not in BATCHNORM_MODES:
        raise ValueError(f"batchnorm: expected one of {BATCHNORM_MODES}, got {batchnorm!r}")
    names = resolve_layers(model, layers)
    if batchnorm == "batch":
        model = _batch_statistics_copy(model)
        batch_size = B
    model = model.to(device)
    clean = collect_activations(model, x, names, device=device, batch_size=batch_size)
    den_stats = sorted({_STAT_FORMS[s][1] for s in STATS})
    den_by = {d: {L: pairwise_sq_distance_stat(clean[L], d) for L in names} for d in den_stats}
    den = {s: den_by[_STAT_FORMS[s][1]] for s in STATS}
    vals = {s: {o: np.zeros((len(seeds), len(names))) for o in ("D", "G", "R")} for s in STATS}
    with progress_bar(progress, len(seeds), "stability (seeds)", unit="seed") as bar:
        for k, seed in enumerate(seeds):
            if deform_fn is None and dim == 1:
                tx = apply_fields_1d(x, sample_fields_1d(B, n, T, c, seed=[seed, 0]), interp)
            elif deform_fn is None:
                tx = apply_fields(x, sample_fields(B, n, T, c, seed=[seed, 0]), interp)
            else:
                tx = check(deform_fn(x, [seed, 0]), "deform_fn(images)")
                if tx.shape != x.shape:
                    raise ValueError(f"deform_fn: returned shape {tuple(tx.shape)}, expected {tuple(x.shape)}")
            nx = noise_like(x, tx, seed=[seed, 1], dim=dim)
            ft = collect_activations(model, tx, names, device=device, batch_size=batch_size)
            fn = collect_activations(model, nx, names, device=device, batch_size=batch_size)
            num_stats = [_STAT_FORMS[s][0] for s in STATS]
            for j, L in enumerate(names):
                num_d = perturbation_stats(clean[L], ft[L], num_stats)
                num_g = perturbation_stats(clean[L], fn[L], num_stats)
                for s in STATS:
                    D = ratio(num_d[_STAT_FORMS[s][0]], den[s][L])
                    G = ratio(num_g[_STAT_FORMS[s][0]], den[s][L])
                    vals[s]["D"][k, j] = D
                    vals[s]["G"][k, j] = G
                    vals[s]["R"][k, j] = D / G if G > 0 else np.nan
            bar.update(1)
    deformation = ("max-entropy diffeomorphisms" if deform_fn is None
                   else getattr(deform_fn, "__name__", type(deform_fn).__name__))
    return StabilityResult(layers=names, values=vals, T=T, c=c, seeds=seeds, n_images=B, interp=interp,
                           deformation=deformation, meta={"batchnorm": batchnorm})


def _check_model(model: Any, name: str = "model") -> None:
    from .._torch import require_torch

    torch = require_torch()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{name}: expected a torch.nn.Module, got {type(model).__name__}")


def _check_seeds(seeds: Any, name: str = "seeds") -> List[int]:
    """A non-empty list of non-negative int seeds (numpy's generators take no negative seeds)."""
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seeds = [seeds]
    try:
        items = list(seeds)
    except TypeError:
        raise TypeError(f"{name}: expected a sequence of non-negative ints, got {type(seeds).__name__}") from None
    if not items:
        raise ValueError(f"{name}: expected at least one seed")
    out = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name}: expected non-negative ints, got {v!r} ({type(v).__name__})")
        if v < 0:
            raise ValueError(f"{name}: expected non-negative ints, got {int(v)}")
        out.append(int(v))
    return out


def _batch_statistics_copy(model: Any):
    """A copy of ``model`` whose BatchNorm layers normalise with the current batch's statistics."""
    import copy

    from .._torch import require_torch

    torch = require_torch()
    new = copy.deepcopy(model)
    for m in new.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.track_running_stats = False
            m.running_mean = None
            m.running_var = None
            m.num_batches_tracked = None
    return new.eval()


def shuffle_channels(model: Any, seed: int = 0):
    """A copy of ``model`` whose convolutions combine their input channels at random.

    For every ``Conv1d/2d/3d`` and every output filter, the filter's input-channel slices are
    permuted by an independent random permutation (the same for all kernel positions). Each slice
    keeps its spatial profile, so spatial pooling survives, while the learnt combination of
    channels (channel pooling) is destroyed. Grouped convolutions are permuted within groups.
    """
    import copy

    from .._torch import require_torch

    torch = require_torch()
    _check_model(model)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    new = copy.deepcopy(model)
    g = torch.Generator().manual_seed(int(seed))
    with torch.no_grad():
        for m in new.modules():
            if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
                w = m.weight  # (out, in/groups, *kernel)
                cin = w.shape[1]
                for o in range(w.shape[0]):
                    w[o] = w[o][torch.randperm(cin, generator=g)]
    return new


def stability_sweep(model: Any, images: Any, temperatures: Sequence[float], **kw: Any) -> Dict[float, StabilityResult]:
    """:func:`stability` at several temperatures (same images, seeds and layers): {T: result}."""
    if len(temperatures) == 0:
        raise ValueError("temperatures: expected at least one temperature")
    return {float(T): stability(model, images, T=float(T), **kw) for T in temperatures}
