"""Activations of any torch model's layers as float64 feature matrices (forward hooks, no_grad, eval).

Works on ``nn.Sequential`` nets, residual nets and user models alike: layers are named as in
``model.named_modules()``.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .._torch import collect_activations, require_torch, resolve_layers

__all__ = ["list_layers", "extract", "final_linear", "last_hidden_layer"]


def list_layers(model: Any) -> List[str]:
    """Every named sub-module (candidates for ``extract``), in definition order."""
    return [n for n, _ in model.named_modules() if n]


def extract(model: Any, X: Any, layers: Union[str, Sequence[str]], *, device: Any = "cpu",
            batch_size: int = 256, memmap_dir: Optional[str] = None) -> Dict[str, np.ndarray]:
    """Activations of ``layers`` for inputs X: {name: (N, features) float64}.

    With ``memmap_dir`` each matrix is written to ``<memmap_dir>/<name>.npy`` and returned
    memory-mapped (read-only), for feature sets larger than memory allows twice.
    """
    names = resolve_layers(model, layers)
    feats = collect_activations(model, X, names, device=device, batch_size=batch_size)
    if memmap_dir is None:
        return feats
    from pathlib import Path

    from .._validation import writable_dir

    d = writable_dir(memmap_dir, "memmap_dir")
    out = {}
    for n, a in feats.items():
        p = Path(d) / (n.replace("/", "_") + ".npy")
        np.save(p, a)
        out[n] = np.load(p, mmap_mode="r")
    return out


def final_linear(model: Any) -> Tuple[str, np.ndarray, np.ndarray]:
    """The model's last ``nn.Linear`` (its classifier): (name, W (K, d), b (K,)) as float64."""
    torch = require_torch()
    last = None
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.Linear):
            last = (name, m)
    if last is None:
        raise ValueError("model: has no nn.Linear layer to serve as the final linear classifier")
    name, m = last
    W = m.weight.detach().cpu().double().numpy()
    b = (m.bias.detach().cpu().double().numpy() if m.bias is not None else np.zeros(W.shape[0]))
    return name, W, b


def last_hidden_layer(model: Any, example: Any) -> str:
    """Name of the layer whose output feeds the final linear layer (found by a forward pass on
    ``example``): the space where the decision regions are polytopes."""
    torch = require_torch()
    lin_name, _, _ = final_linear(model)
    lin = dict(model.named_modules())[lin_name]
    seen: List[Tuple[str, Any]] = []
    captured = {}
    hooks = []
    for name, m in model.named_modules():
        if name and m is not lin and not any(True for _ in m.children()):
            hooks.append(m.register_forward_hook(lambda mod, i, o, n=name: seen.append((n, o))))
    hooks.append(lin.register_forward_hook(lambda mod, i, o: captured.setdefault("input", i[0])))
    try:
        with torch.no_grad():
            model.eval()(torch.as_tensor(np.asarray(example, dtype=np.float32))[:2])
    finally:
        for h in hooks:
            h.remove()
    x = captured.get("input")
    for name, o in reversed(seen):
        if isinstance(o, torch.Tensor) and o.shape[0] == x.shape[0] and o.reshape(o.shape[0], -1).shape == x.shape \
                and torch.equal(o.reshape(x.shape), x):
            return name
    raise ValueError("model: could not identify the layer feeding the final linear layer; pass a layer name")
