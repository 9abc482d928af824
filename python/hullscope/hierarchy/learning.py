"""Networks matched to the hierarchy, a trainer that stops at a target loss, and learning curves.

* :func:`hierarchical_net`: L layers of filter = stride = s(s0+1) over the one-hot input (channels v,
  or v+1 with an empty channel), ReLU, width ``width``, then a linear read-out to n_c classes. With
  ``shared=True`` it is a CNN (``nn.Conv1d``); with ``shared=False`` a locally connected network
  (LCN: separate weights at every position). PyTorch's default (fan-in uniform) initialisation.
* :func:`fcn`: a fully connected baseline.
* :func:`train_to_loss`: Adam on cross-entropy until the training loss is below a target.
* :func:`learning_curve` and :func:`estimate_p_star`: test error against the number of training
  data P, over seeds, and the P* where it crosses a threshold (default 10%), with its spread.
* :func:`fit_power_law` and :func:`predicted_p_star`: fit P* against (s0+1), m or L in log-log and
  compare with the predicted laws.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Sequence

import numpy as np

from .._torch import require_torch
from .rhm import Rules, generate, one_hot, p_max, sample_indices

__all__ = ["hierarchical_net", "fcn", "train_to_loss", "test_error", "learning_curve", "estimate_p_star",
           "LearningCurve", "fit_power_law", "predicted_p_star"]


def _local_layer(torch, n_pos: int, c_in: int, c_out: int, w: int):
    class Local(torch.nn.Module):
        """Locally connected 1-D layer: filter = stride = w, separate weights at each of n_pos positions."""

        def __init__(self):
            super().__init__()
            bound = 1.0 / math.sqrt(c_in * w)
            self.weight = torch.nn.Parameter(torch.empty(n_pos, c_out, c_in * w).uniform_(-bound, bound))
            self.bias = torch.nn.Parameter(torch.empty(n_pos, c_out).uniform_(-bound, bound))

        def forward(self, x):  # (B, C, n_pos * w)
            B = x.shape[0]
            patches = x.reshape(B, x.shape[1], n_pos, w).permute(0, 2, 1, 3).reshape(B, n_pos, -1)
            out = torch.einsum("bnk,nok->bon", patches, self.weight) + self.bias.T[None]
            return out

    return Local()


def hierarchical_net(rules: Rules, s0: int = 0, width: int = 256, shared: bool = True,
                     empty_channel: bool = False):
    """CNN (``shared``) or LCN matched to the model: layer k reads patches of s(s0+1) positions."""
    torch = require_torch()
    from collections import OrderedDict

    w = rules.s * (s0 + 1)
    d = w ** rules.L
    c = rules.v + (1 if empty_channel else 0)
    layers = []
    for k in range(1, rules.L + 1):
        n_pos = d // w ** k
        layer = (torch.nn.Conv1d(c, width, w, stride=w) if shared else _local_layer(torch, n_pos, c, width, w))
        layers += [(f"layer{k}", layer), (f"relu{k}", torch.nn.ReLU())]
        c = width
    layers += [("flatten", torch.nn.Flatten()), ("readout", torch.nn.Linear(width, rules.n_c))]
    return torch.nn.Sequential(OrderedDict(layers))


def fcn(rules: Rules, s0: int = 0, width: int = 256, depth: int = 2, empty_channel: bool = False):
    """Fully connected baseline on the flattened one-hot input."""
    torch = require_torch()
    from collections import OrderedDict

    d = (rules.s * (s0 + 1)) ** rules.L * (rules.v + (1 if empty_channel else 0))
    layers = [("flatten", torch.nn.Flatten())]
    c = d
    for k in range(1, depth + 1):
        layers += [(f"layer{k}", torch.nn.Linear(c, width)), (f"relu{k}", torch.nn.ReLU())]
        c = width
    layers.append(("readout", torch.nn.Linear(c, rules.n_c)))
    return torch.nn.Sequential(OrderedDict(layers))


def train_to_loss(model: Any, X: np.ndarray, y: np.ndarray, *, target_loss: float = 1e-3, lr: float = 1e-3,
                  batch_size: int = 128, max_epochs: int = 300, seed: int = 0, device: Any = "cpu",
                  optimizer: str = "adam", momentum: float = 0.9) -> Dict[str, Any]:
    """Cross-entropy training until the full-batch training loss is below ``target_loss`` (or
    ``max_epochs``). ``optimizer``: ``"adam"`` (default) or ``"sgd"`` (with ``momentum``; the
    papers train with SGD, typically with a larger ``lr`` such as 0.1). Returns
    {'epochs', 'train_loss', 'reached'}."""
    torch = require_torch()
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer: expected 'adam' or 'sgd', got {optimizer!r}")
    if not (lr > 0 and np.isfinite(lr)):
        raise ValueError(f"lr: expected a positive number, got {lr!r}")
    torch.manual_seed(seed)
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    model = model.to(device)
    opt = (torch.optim.Adam(model.parameters(), lr=lr) if optimizer == "adam"
           else torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum))
    lossf = torch.nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(seed)
    loss = float("inf")
    for epoch in range(1, max_epochs + 1):
        model.train()
        perm = torch.randperm(len(Xt), generator=g)
        for a in range(0, len(Xt), batch_size):
            idx = perm[a:a + batch_size]
            opt.zero_grad()
            lossf(model(Xt[idx].to(device)), yt[idx].to(device)).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            loss = float(lossf(model(Xt.to(device)), yt.to(device)))
        if loss < target_loss:
            return {"epochs": epoch, "train_loss": loss, "reached": True}
    return {"epochs": max_epochs, "train_loss": loss, "reached": False}


def test_error(model: Any, X: np.ndarray, y: np.ndarray, device: Any = "cpu") -> float:
    torch = require_torch()
    with torch.no_grad():
        pred = model.eval()(torch.as_tensor(X, dtype=torch.float32).to(device)).argmax(1).cpu().numpy()
    return float(np.mean(pred != np.asarray(y)))


@dataclass(frozen=True)
class LearningCurve:
    """Test errors, shape (len(P), n_seeds), at training-set sizes P."""

    P: np.ndarray
    errors: np.ndarray
    meta: Dict[str, Any]

    def __repr__(self) -> str:
        return (f"LearningCurve({len(self.P)} training-set sizes {int(self.P[0])}..{int(self.P[-1])}, "
                f"{self.errors.shape[1]} seeds; mean test error {self.errors.mean(1)[0]:.3f} -> {self.errors.mean(1)[-1]:.3f})")



def learning_curve(rules: Rules, Ps: Sequence[int], *, s0: int = 0, variant: str = "subpatch",
                   arch: str = "lcn", width: int = 256, n_test: int = 2000, seeds: Sequence[int] = (0, 1),
                   target_loss: float = 1e-3, max_epochs: int = 300, device: Any = "cpu",
                   on_trained: Any = None, progress: bool = False) -> LearningCurve:
    """Train ``arch`` ('lcn', 'cnn' or 'fcn') on P data for every P in ``Ps`` and seed, and measure the
    test error on ``n_test`` other data (train and test sets are disjoint). ``on_trained(net, P, seed)``
    is called after each training (e.g. to measure sensitivities)."""
    from .._progress import progress_bar

    total = p_max(rules, s0, variant)
    Pmax = max(Ps)
    if Pmax + n_test > total:
        raise ValueError(f"Ps: the largest P ({Pmax}) plus n_test ({n_test}) exceeds the {total} distinct data")
    if arch not in ("lcn", "cnn", "fcn"):
        raise ValueError(f"arch: expected 'lcn', 'cnn' or 'fcn', got {arch!r}")
    errors = np.zeros((len(Ps), len(seeds)))
    with progress_bar(progress, len(Ps) * len(seeds), f"learning curve ({arch})", unit="run") as bar:
        for j, seed in enumerate(seeds):
            idx = sample_indices(total, Pmax + n_test, seed=1000 + seed)
            Xall, yall = generate(rules, idx, s0, variant)
            Hall = one_hot(Xall, rules.v)
            Hte, yte = Hall[Pmax:], yall[Pmax:]
            for i, P in enumerate(Ps):
                net = (fcn(rules, s0, width) if arch == "fcn" else
                       hierarchical_net(rules, s0, width, shared=(arch == "cnn")))
                train_to_loss(net, Hall[:P], yall[:P], target_loss=target_loss, max_epochs=max_epochs,
                              seed=seed, device=device)
                errors[i, j] = test_error(net, Hte, yte, device)
                if on_trained is not None:
                    on_trained(net, P, seed)
                bar.update(1)
    return LearningCurve(np.asarray(Ps), errors, {"arch": arch, "s0": s0, "width": width, "n_test": n_test})


def estimate_p_star(curve: LearningCurve, threshold: float = 0.1) -> Dict[str, float]:
    """P* where the test error first falls below ``threshold``, by log-linear interpolation between
    the bracketing P, for the seed-averaged curve and for each seed (spread). NaN if never crossed."""
    def cross(err: np.ndarray) -> float:
        logP = np.log(curve.P.astype(float))
        for i in range(1, len(err)):
            if err[i - 1] > threshold >= err[i]:
                f = (err[i - 1] - threshold) / (err[i - 1] - err[i])
                return float(np.exp(logP[i - 1] + f * (logP[i] - logP[i - 1])))
        return float(curve.P[0]) if err[0] <= threshold else float("nan")

    per_seed = np.array([cross(curve.errors[:, j]) for j in range(curve.errors.shape[1])])
    ok = per_seed[np.isfinite(per_seed)]
    return {"p_star": cross(curve.errors.mean(axis=1)),
            "log_std": float(np.std(np.log(ok), ddof=1)) if ok.size > 1 else float("nan"),
            "per_seed": per_seed.tolist()}


def fit_power_law(x: Sequence[float], y: Sequence[float], *, n_boot: int = 1000, seed: int = 0) -> Dict[str, Any]:
    """Least-squares fit of ``y = A x^k`` in log-log space.

    Parameters
    ----------
    x, y : sequences of positive numbers (at least 2 points; NaN/inf pairs are dropped with their x)

    Returns
    -------
    dict with ``exponent`` k, ``prefactor`` A, ``exponent_se`` (the regression's standard error;
    NaN with 2 points) and ``exponent_boot`` (2.5%, 97.5%) bootstrap percentiles over the points
    (NaN with fewer than 3 points).
    """
    xa = np.asarray(x, dtype=float)
    ya = np.asarray(y, dtype=float)
    if xa.shape != ya.shape or xa.ndim != 1:
        raise ValueError(f"x, y: expected two 1-D sequences of the same length, got {xa.shape} and {ya.shape}")
    ok = np.isfinite(xa) & np.isfinite(ya)
    if np.any((xa[ok] <= 0) | (ya[ok] <= 0)):
        raise ValueError("x, y: a power law needs positive values")
    lx, ly = np.log(xa[ok]), np.log(ya[ok])
    if lx.size < 2 or np.ptp(lx) == 0:
        raise ValueError("x: need at least 2 finite points with distinct x to fit a power law")
    k, a = np.polyfit(lx, ly, 1)
    out: Dict[str, Any] = {"exponent": float(k), "prefactor": float(np.exp(a)), "n_points": int(lx.size),
                           "exponent_se": float("nan"), "exponent_boot": [float("nan"), float("nan")]}
    if lx.size > 2:
        res = ly - (k * lx + a)
        out["exponent_se"] = float(np.sqrt(res @ res / (lx.size - 2) / np.sum((lx - lx.mean()) ** 2)))
        rng = np.random.default_rng(seed)
        ks = []
        for _ in range(n_boot):
            i = rng.integers(0, lx.size, lx.size)
            if np.ptp(lx[i]) > 0:
                ks.append(np.polyfit(lx[i], ly[i], 1)[0])
        out["exponent_boot"] = [float(np.percentile(ks, 2.5)), float(np.percentile(ks, 97.5))]
    return out


def predicted_p_star(n_c: int, m: int, L: int, s: int = 2, s0: int = 0, arch: str = "cnn") -> float:
    """The papers' sample-complexity laws, up to their O(1) constants.

    RHM (s0 = 0): ``n_c m^L``. SRHM: LCN ``s^(L/2) (s0+1)^L n_c m^L``; CNN ``(s0+1)^2 n_c m^L``
    (the CNN constant C_1 is not given in closed form and is taken as 1 here).
    """
    base = float(n_c) * float(m) ** L
    if s0 == 0 and arch == "cnn":
        return base
    if arch == "lcn":
        return float(s) ** (L / 2) * float(s0 + 1) ** L * base
    if arch == "cnn":
        return float(s0 + 1) ** 2 * base
    raise ValueError(f"arch: expected 'lcn' or 'cnn', got {arch!r}")
