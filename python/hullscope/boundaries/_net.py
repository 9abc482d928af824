"""The classifier seen from one space: points (N, d) -> logits (N, K), batched.

A :class:`Head` is what the rays, morphs and the attack evaluate. It is one of

* ``linear``: logits ``W f + b`` of a last linear layer (a :class:`~hullscope.LinearRegions`, or a torch
  model seen from the layer that feeds its final ``nn.Linear``). Class sequences along straight lines
  are then exact (:meth:`LinearRegions.segment`);
* ``network``: the rest of a torch model after a named layer (or the whole model on its inputs),
  evaluated on batches of points;
* ``callable``: any function ``(N, d) float64 array -> (N, K) logits``.

Network heads hold two copies of the model: float32 for the dense grid scans and the attack's gradient
steps (fast), float64 for every class that is reported (bisection, endpoints, verification), so that a
breakpoint bracketed to 1e-6 in t is not blurred by float32 rounding.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Optional, Tuple

import numpy as np

__all__ = ["Head", "make_head", "as_points"]


def _torch():
    from .._torch import require_torch

    return require_torch()


def _is_module(model: Any) -> bool:
    try:
        torch = _torch()
    except ImportError:
        return False
    return isinstance(model, torch.nn.Module)


def as_points(X: Any, name: str, d: Optional[int] = None) -> np.ndarray:
    """Rows of X (N, ...) flattened to a finite float64 (N, d) matrix; errors name the argument."""
    from .._validation import as_matrix, to_numpy

    a = to_numpy(X, name)
    if a.ndim < 1:
        raise ValueError(f"{name}: expected an array of samples (N, ...), got a scalar")
    if a.ndim == 1:
        a = a.reshape(1, -1) if d is not None and a.shape[0] == d else a.reshape(-1, 1)
    a = a.reshape(a.shape[0], -1) if a.ndim > 2 else a
    if d is not None and a.ndim == 2 and a.shape[1] != d:
        raise ValueError(f"{name}: expected samples with {d} values each (the space's dimension), got shape "
                         f"{np.shape(X)}")
    return as_matrix(a, name)


class Head:
    """Logits of the classifier as a function of points of one space (see module doc).

    Attributes
    ----------
    kind : {"linear", "network", "callable"}
    d : int
        Dimension of the space (points are rows of length d).
    K : int
        Number of classes.
    space : str
        Human-readable name of the space ("input", "layer relu4", ...).
    W, b : ndarray or None
        The linear layer of a ``linear`` head.
    """

    def __init__(self, kind: str, d: int, K: int, space: str, *, W: Optional[np.ndarray] = None,
                 b: Optional[np.ndarray] = None, fn32: Optional[Callable] = None, fn64: Optional[Callable] = None,
                 shape: Tuple[int, ...] = (), batch_size: int = 512, module32: Any = None,
                 module64: Any = None, device: Any = "cpu") -> None:
        self.kind, self.d, self.K, self.space = kind, int(d), int(K), space
        self.W, self.b = W, b
        self._fn32, self._fn64 = fn32, fn64
        self.shape = tuple(shape)          # the sample shape the network expects
        self.batch_size = int(batch_size)
        self.module32, self.module64 = module32, module64  # whole-input torch models (attack), else None
        self.device = device

    def __repr__(self) -> str:
        return f"Head({self.kind}, space={self.space!r}, d={self.d}, K={self.K})"

    @property
    def exact(self) -> bool:
        return self.kind == "linear"

    def logits(self, F: np.ndarray, *, fast: bool = False) -> np.ndarray:
        """Logits (N, K) float64 of points F (N, d); ``fast`` uses the float32 copy of a network."""
        F = np.asarray(F, dtype=np.float64)
        if F.ndim != 2 or F.shape[1] != self.d:
            raise ValueError(f"F: expected points of shape (N, {self.d}), got {F.shape}")
        if self.kind == "linear":
            return F @ self.W.T + self.b
        fn = self._fn32 if (fast and self._fn32 is not None) else self._fn64
        # moderate batches run faster on CPU than huge ones (activations stay in cache); float64 smaller
        bs = self.batch_size if fn is self._fn32 else max(32, self.batch_size // 4)
        outs = [fn(F[a:a + bs]) for a in range(0, len(F), bs)]
        Z = np.concatenate(outs, axis=0) if outs else np.zeros((0, self.K))
        return Z

    def classes(self, F: np.ndarray, *, fast: bool = False) -> np.ndarray:
        """Predicted class of each row (ties go to the lowest index)."""
        return np.argmax(self.logits(F, fast=fast), axis=1)


def _check_logits(Z: Any, n: int, K: Optional[int] = None) -> np.ndarray:
    Z = np.asarray(Z)
    if Z.ndim != 2 or Z.shape[0] != n or Z.shape[1] < 2 or (K is not None and Z.shape[1] != K):
        want = f"(N, {K})" if K is not None else "(N, K) with K >= 2 classes"
        raise ValueError(f"model: expected logits of shape {want} for N = {n} points, got shape {Z.shape}")
    if not np.issubdtype(Z.dtype, np.number):
        raise TypeError(f"model: expected numeric logits, got dtype {Z.dtype}")
    Z = Z.astype(np.float64)
    if not np.isfinite(Z).all():
        raise ValueError("model: returned NaN or inf logits")
    return Z


def _torch_fn(module: Any, shape: Tuple[int, ...], dtype: Any, device: Any, K: Optional[int]) -> Callable:
    torch = _torch()

    def fn(F: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(F, dtype=dtype).reshape((len(F),) + shape).to(device)
        with torch.no_grad():
            out = module(x)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return _check_logits(out.detach().to("cpu", torch.float64).numpy(), len(F), K)

    return fn


def _replace_fn(model: Any, layer_mod: Any, dummy: Any, out_shape: Tuple[int, ...], dtype: Any, device: Any,
                K: Optional[int]) -> Callable:
    """Rest of the network after ``layer_mod``: run the model on a dummy input with that layer's output
    replaced by the given points (a forward hook returning the replacement)."""
    torch = _torch()

    def fn(F: np.ndarray) -> np.ndarray:
        rep = torch.as_tensor(F, dtype=dtype).reshape((len(F),) + out_shape).to(device)
        h = layer_mod.register_forward_hook(lambda m, i, o: rep)
        try:
            x = dummy.expand((len(F),) + tuple(dummy.shape[1:])).to(device=device, dtype=dtype)
            with torch.no_grad():
                out = model(x)
        finally:
            h.remove()
        if isinstance(out, (tuple, list)):
            out = out[0]
        return _check_logits(out.detach().to("cpu", torch.float64).numpy(), len(F), K)

    return fn


def run_model(module: Any, x: Any, name: str) -> Any:
    """``module(x)`` without gradients; a model that cannot take x is reported against the argument."""
    torch = _torch()
    try:
        with torch.no_grad():
            return module(x)
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        raise ValueError(f"{name}: the model cannot run on inputs of shape {tuple(x.shape)}: "
                         f"{str(exc).splitlines()[0]}") from exc


def make_head(model: Any, example: Any, *, layer: Optional[str] = None, exact: Optional[bool] = None,
              device: Any = "cpu", batch_size: int = 512, name: str = "X") -> Head:
    """The classifier seen from one space.

    Parameters
    ----------
    model : torch.nn.Module, LinearRegions, or callable
        A torch classifier; a :class:`~hullscope.LinearRegions` (points are features, exact); or a
        function mapping points (N, d) float64 to logits (N, K).
    example : array (N, ...)
        A few inputs of the model (torch) or points of the space (callable / LinearRegions), used to
        find shapes and the number of classes.
    layer : str, optional
        Torch models only: the layer whose activations are the space (default: the input).
    exact : bool, optional
        For the layer feeding the final ``nn.Linear``: use the exact linear head (default: yes when the
        model's logits are that linear layer of the features, checked on ``example``).
    """
    from ..regions.core import LinearRegions

    if isinstance(model, LinearRegions):
        if layer not in (None, "input"):
            raise ValueError("layer: a LinearRegions model has one space, its features; leave layer=None")
        return Head("linear", model.d, model.K, "features", W=model.W, b=model.b)
    if _is_module(model):
        return _torch_head(model, example, layer=layer, exact=exact, device=device, batch_size=batch_size,
                           name=name)
    if callable(model):
        if layer not in (None, "input"):
            raise ValueError("layer: only torch models have named layers")
        ex = as_points(example, name)
        Z = _check_logits(model(ex[:2].copy()), min(2, len(ex)))
        fn = lambda F: _check_logits(model(np.ascontiguousarray(F)), len(F), Z.shape[1])  # noqa: E731
        return Head("callable", ex.shape[1], Z.shape[1], "input", fn64=fn, batch_size=batch_size)
    raise TypeError(f"model: expected a torch nn.Module, a LinearRegions or a callable returning logits, got "
                    f"{type(model).__name__}")


def _torch_head(model: Any, example: Any, *, layer: Optional[str], exact: Optional[bool], device: Any,
                batch_size: int, name: str = "X") -> Head:
    torch = _torch()
    from .._torch import collect_activations, resolve_layers
    from ..features.torch_features import final_linear, last_hidden_layer

    ex = example if isinstance(example, torch.Tensor) else torch.as_tensor(np.asarray(example))
    if ex.ndim < 2:
        raise ValueError(f"{name}: expected a batch of model inputs (N, ...), got shape {tuple(ex.shape)}")
    ex = ex[:4].to(torch.float32)
    m32 = copy.deepcopy(model).to(device=device, dtype=torch.float32).eval()
    m64 = copy.deepcopy(model).to(device=device, dtype=torch.float64).eval()
    out = run_model(m32, ex.to(device), name)
    out = out[0] if isinstance(out, (tuple, list)) else out
    Z = _check_logits(out.detach().cpu().numpy(), len(ex))
    K = Z.shape[1]
    shape = tuple(ex.shape[1:])
    if layer in (None, "input"):
        d = int(np.prod(shape))
        return Head("network", d, K, "input", fn32=_torch_fn(m32, shape, torch.float32, device, K),
                    fn64=_torch_fn(m64, shape, torch.float64, device, K), shape=shape, batch_size=batch_size,
                    module32=m32, module64=m64, device=device)
    (layer,) = resolve_layers(model, [layer])
    if layer == "output":
        raise ValueError("layer: 'output' is the logits themselves; pick a hidden layer or the input")
    feats = collect_activations(model, ex, [layer], device=device)[layer]
    d = feats.shape[1]
    want_exact = exact
    try:
        lin_layer = last_hidden_layer(model, ex)
    except ValueError:
        lin_layer = None
    if layer == lin_layer and want_exact is not False:
        _, W, b = final_linear(model)
        ok = np.allclose(feats @ W.T + b, Z, rtol=1e-4, atol=1e-4 * (1 + np.abs(Z).max()))
        if ok:
            return Head("linear", d, K, f"layer {layer}", W=W, b=b)
        if want_exact:
            raise ValueError(f"exact: the logits are not the final nn.Linear of layer {layer!r}'s output")
    elif want_exact:
        raise ValueError(f"exact: only the layer feeding the final nn.Linear ({lin_layer!r}) has exact "
                         f"linear regions, not {layer!r}")
    # the rest of the network after `layer`, with the layer's output shape
    mods32, mods64 = dict(m32.named_modules()), dict(m64.named_modules())
    shapes = {}

    def grab(_m, _i, o):  # returns None: the output is left as it is
        shapes["s"] = tuple((o[0] if isinstance(o, (tuple, list)) else o).shape[1:])

    hk = mods32[layer].register_forward_hook(grab)
    try:
        with torch.no_grad():
            m32(ex[:1].to(device))
    finally:
        hk.remove()
    out_shape = shapes["s"]
    if isinstance(model, torch.nn.Sequential) and layer in dict(model.named_children()):
        idx = list(dict(model.named_children())).index(layer)
        rest32, rest64 = m32[idx + 1:], m64[idx + 1:]
        fn32 = _torch_fn(rest32, out_shape, torch.float32, device, K)
        fn64 = _torch_fn(rest64, out_shape, torch.float64, device, K)
    else:
        dummy = ex[:1]
        fn32 = _replace_fn(m32, mods32[layer], dummy, out_shape, torch.float32, device, K)
        fn64 = _replace_fn(m64, mods64[layer], dummy, out_shape, torch.float64, device, K)
        if len(ex) >= 2:
            # every path from the input to the logits must go through `layer`: with its output fixed,
            # two different inputs must give the same logits
            rep = torch.as_tensor(feats[:1], dtype=torch.float64).reshape((1,) + out_shape).to(device)
            h = mods64[layer].register_forward_hook(lambda m, i, o: rep.expand((2,) + out_shape))
            try:
                with torch.no_grad():
                    o = m64(ex[:2].to(device=device, dtype=torch.float64))
            finally:
                h.remove()
            o = (o[0] if isinstance(o, (tuple, list)) else o).cpu().numpy()
            if not np.allclose(o[0], o[1], rtol=1e-9, atol=1e-9 * (1 + np.abs(o).max())):
                raise ValueError(f"layer: the model's output depends on its input other than through layer "
                                 f"{layer!r} (a skip connection bypasses it); pick a layer every path goes "
                                 "through, or the input")
    return Head("network", d, K, f"layer {layer}", fn32=fn32, fn64=fn64, shape=out_shape, batch_size=batch_size,
                device=device)
