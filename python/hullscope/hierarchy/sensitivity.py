"""Layer-wise sensitivities of a network on hierarchical data: synonyms (S), positions (D), noise (G).

For a batch of data x, layer representation f and a level l:

* S_l: x' = x with every node at level l re-drawing its synonym (:func:`~.rhm.resample`);
* D_l: x' = x with the children of those nodes moved (SRHM, s0 > 0);
* G: x' = x + Gaussian noise of the norm of the synonym change, per datum;

each measured as < ||f(x') - f(x)||^2 > / < ||f(x) - f(z)||^2 > with the shared normalisation of
:mod:`hullscope.sensitivity` (the same as D_f, G_f in :mod:`hullscope.stability`).
"""
from __future__ import annotations

from typing import Any, Dict, Sequence

import numpy as np

from .._torch import collect_activations, resolve_layers
from ..sensitivity import relative_sensitivity
from .rhm import Rules, generate, one_hot, resample

__all__ = ["sensitivities"]


def sensitivities(model: Any, rules: Rules, indices: Sequence[int], level: int, *, s0: int = 0,
                  variant: str = "subpatch", layers=None, stat: str = "mean", seed: int = 0,
                  device: Any = "cpu") -> Dict[str, Dict[str, float]]:
    """{'S': {layer: value}, 'G': {...}, and 'D' when s0 > 0} for exchanges at ``level``."""
    idx = [int(i) for i in indices]
    if len(idx) < 2:
        raise ValueError("indices: need at least 2 data for the pairwise denominator")
    names = resolve_layers(model, layers)
    X, _ = generate(rules, idx, s0, variant)
    H = one_hot(X, rules.v)
    base = collect_activations(model, H, names, device=device)
    pert = {"S": one_hot(generate(rules, resample(rules, idx, level, "synonyms", s0, variant, seed), s0,
                                  variant)[0], rules.v)}
    if s0 > 0:
        pert["D"] = one_hot(generate(rules, resample(rules, idx, level, "positions", s0, variant, seed + 1), s0,
                                     variant)[0], rules.v)
    rng = np.random.default_rng(seed)
    eta = rng.standard_normal(size=H.shape).astype(np.float32)
    change = np.linalg.norm((pert["S"] - H).reshape(len(H), -1), axis=1)
    eta *= (change / np.linalg.norm(eta.reshape(len(H), -1), axis=1))[:, None, None]
    pert["G"] = H + eta
    out = {}
    for key, Hp in pert.items():
        fp = collect_activations(model, Hp, names, device=device)
        out[key] = {n: relative_sensitivity(base[n], fp[n], stat) for n in names}
    return out
