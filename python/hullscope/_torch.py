"""Activations of named layers of any torch model, through forward hooks (torch imported lazily)."""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Union

import numpy as np

__all__ = ["require_torch", "leaf_layers", "resolve_layers", "collect_activations"]

INPUT = "input"
OUTPUT = "output"


def require_torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError('this needs torch: pip install torch (CPU build: pip install "torch==2.13.0"), '
                          'or pip install "hullscope[torch]"') from exc
    return torch


def leaf_layers(model: Any) -> List[str]:
    """Names of the model's leaf modules (those without children), in definition order."""
    return [name for name, m in model.named_modules() if name and not any(True for _ in m.children())]


def resolve_layers(model: Any, layers: Union[None, str, Sequence[str]]) -> List[str]:
    """Validate layer names. ``None`` or ``"all"``: the input, every leaf module and the output."""
    if not hasattr(model, "named_modules"):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    names = dict(model.named_modules())
    if layers is None or layers == "all":
        return [INPUT] + leaf_layers(model) + [OUTPUT]
    if isinstance(layers, str):
        layers = [layers]
    out = []
    for name in layers:
        if name not in (INPUT, OUTPUT) and (name not in names or name == ""):
            avail = ", ".join([INPUT] + [n for n in names if n] + [OUTPUT])
            raise ValueError(f"layers: the model has no layer named {name!r}; available: {avail}")
        out.append(name)
    if not out:
        raise ValueError("layers: expected at least one layer name")
    return out


def collect_activations(model: Any, x: Any, layers: Sequence[str], *, device: Any = "cpu",
                        batch_size: int = 256) -> Dict[str, np.ndarray]:
    """Run ``model`` on ``x`` (batched, eval mode, no grad) and return float64 activations.

    Returns a dict layer name -> array of shape (N, features) (each sample flattened). The model's
    training mode is restored afterwards.
    """
    torch = require_torch()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
    names = dict(model.named_modules())
    store: Dict[str, List[np.ndarray]] = {n: [] for n in layers}
    hooks = []

    def make_hook(name):
        def hook(_mod, _inp, out):
            t = out[0] if isinstance(out, (tuple, list)) else out
            store[name].append(t.detach().to("cpu", torch.float64).reshape(t.shape[0], -1).numpy())
        return hook

    for name in layers:
        if name not in (INPUT, OUTPUT):
            hooks.append(names[name].register_forward_hook(make_hook(name)))
    was_training = model.training
    model.eval()
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError("X: masked arrays are not supported (the mask would be ignored)")
    xt = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if xt.ndim < 1 or xt.shape[0] == 0:
        raise ValueError(f"X: expected a non-empty batch of inputs (N, ...), got shape {tuple(xt.shape)}")
    if (xt.is_floating_point() or xt.is_complex()) and not bool(torch.isfinite(xt).all()):
        raise ValueError("X: contains NaN or inf")
    try:
        with torch.no_grad():
            for a in range(0, xt.shape[0], batch_size):
                xb = xt[a:a + batch_size].to(device=device, dtype=torch.float32)
                out = model(xb)
                if INPUT in store:
                    store[INPUT].append(xb.to("cpu", torch.float64).reshape(xb.shape[0], -1).numpy())
                if OUTPUT in store:
                    o = out[0] if isinstance(out, (tuple, list)) else out
                    store[OUTPUT].append(o.to("cpu", torch.float64).reshape(o.shape[0], -1).numpy())
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    out = {n: np.concatenate(v, axis=0) for n, v in store.items()}
    for n, a in out.items():
        if not np.isfinite(a).all():
            raise ValueError(f"model: layer {n!r} produced NaN or inf activations (the inputs are finite); "
                             "check the weights or the input scale")
    return out
