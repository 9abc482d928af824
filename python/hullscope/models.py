"""Small torch models and a seeded training helper (torch imported lazily).

``small_cnn`` is the digits demo model: 8x8 (or 28x28) grey images, a 64-d last hidden layer
('hidden'), then a linear classifier ('classifier'). ``load_model`` builds a user model from a
``module:factory`` spec and loads a ``state_dict`` with clear errors.
"""
from __future__ import annotations

import importlib
from typing import Any, Optional, Tuple

import numpy as np

from ._torch import require_torch

__all__ = ["small_cnn", "small_resnet", "train_classifier", "accuracy", "load_model"]


def small_cnn(in_channels: int = 1, n_classes: int = 10, width: int = 32, hidden: int = 64):
    """conv(3x3)-ReLU-conv(3x3)-ReLU-avgpool(2)-conv(3x3)-ReLU-global-avgpool-linear(hidden)-ReLU-linear.

    Layer names: conv1, relu1, conv2, relu2, pool, conv3, relu3, gap, flatten, hidden, relu4, classifier.
    """
    torch = require_torch()
    nn = torch.nn
    from collections import OrderedDict

    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(in_channels, width, 3, padding=1)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(width, width, 3, padding=1)), ("relu2", nn.ReLU()),
        ("pool", nn.AvgPool2d(2)),
        ("conv3", nn.Conv2d(width, 2 * width, 3, padding=1)), ("relu3", nn.ReLU()),
        ("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()),
        ("hidden", nn.Linear(2 * width, hidden)), ("relu4", nn.ReLU()),
        ("classifier", nn.Linear(hidden, n_classes)),
    ]))


def small_resnet(in_channels: int = 1, n_classes: int = 10, width: int = 16, hidden: int = 64):
    """A small residual net: stem conv, three residual blocks (the last two downsample by 2), global
    average pooling to a 64-d last hidden layer ('hidden' = the pooled features when width*4 = 64),
    and a linear classifier ('classifier')."""
    torch = require_torch()
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu1 = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.shortcut = (nn.Sequential() if stride == 1 and cin == cout else
                             nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)))
            self.relu2 = nn.ReLU()

        def forward(self, x):
            y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
            return self.relu2(y + self.shortcut(x))

    class SmallResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(width), nn.ReLU())
            self.block1 = Block(width, width, 1)
            self.block2 = Block(width, 2 * width, 2)
            self.block3 = Block(2 * width, 4 * width, 2)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.flatten = nn.Flatten()
            self.hidden = nn.Linear(4 * width, hidden)
            self.relu = nn.ReLU()
            self.classifier = nn.Linear(hidden, n_classes)

        def forward(self, x):
            f = self.flatten(self.gap(self.block3(self.block2(self.block1(self.stem(x))))))
            return self.classifier(self.relu(self.hidden(f)))

    return SmallResNet()


def _as_tensor_images(X: Any, dim: int = 2):
    torch = require_torch()
    t = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X, dtype=np.float32))
    if dim == 1:
        if t.ndim == 2:
            t = t.unsqueeze(1)
        if t.ndim != 3:
            raise ValueError(f"X: expected 1-D signals of shape (N, n) or (N, C, n), got {tuple(t.shape)}")
        return t.float()
    if dim != 2:
        raise ValueError(f"dim: expected 1 (signals) or 2 (images), got {dim!r}")
    if t.ndim == 3:
        t = t.unsqueeze(1)
    if t.ndim != 4:
        raise ValueError(f"X: expected images of shape (N, H, W) or (N, C, H, W), got {tuple(t.shape)}")
    return t.float()


def train_classifier(model: Any, X: Any, y: Any, *, epochs: int = 30, lr: float = 3e-3, batch_size: int = 64,
                     seed: int = 0, device: Any = "cpu", weight_decay: float = 0.0, progress: bool = False,
                     dim: int = 2):
    """Train with Adam and cross-entropy, seeded and deterministic on CPU. Returns the model.

    Parameters
    ----------
    X : images (N, H, W) or (N, C, H, W); with ``dim=1``, signals (N, n) or (N, C, n)
    y : int labels (N,)
    """
    torch = require_torch()
    from ._progress import progress_bar

    Xt = _as_tensor_images(X, dim)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if yt.ndim != 1 or yt.shape[0] != Xt.shape[0]:
        raise ValueError(f"y: expected {Xt.shape[0]} integer labels, got shape {tuple(yt.shape)}")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    lossf = torch.nn.CrossEntropyLoss()
    model.train()
    with progress_bar(progress, epochs, "training", unit="epoch") as bar:
        for _ in range(epochs):
            perm = torch.randperm(Xt.shape[0], generator=g)
            for a in range(0, Xt.shape[0], batch_size):
                idx = perm[a:a + batch_size]
                opt.zero_grad()
                loss = lossf(model(Xt[idx].to(device)), yt[idx].to(device))
                loss.backward()
                opt.step()
            bar.update(1)
    model.eval()
    return model


def accuracy(model: Any, X: Any, y: Any, device: Any = "cpu", dim: int = 2) -> float:
    """Fraction of correctly classified samples (``dim=1`` for 1-D signals)."""
    torch = require_torch()
    Xt = _as_tensor_images(X, dim)
    with torch.no_grad():
        pred = torch.cat([model(Xt[a:a + 512].to(device)).argmax(1).cpu() for a in range(0, Xt.shape[0], 512)])
    return float((pred.numpy() == np.asarray(y)).mean())


def load_model(spec: str, weights: Optional[str] = None, device: Any = "cpu"):
    """Build ``module:factory`` (a callable returning an ``nn.Module``) and load a state_dict.

    Raises clear errors for a bad spec, a missing file, or weights that do not match the model.
    """
    torch = require_torch()
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"model: expected 'module:factory', got {spec!r}")
    modname, fname = spec.split(":", 1)
    try:
        mod = importlib.import_module(modname)
    except ImportError as exc:
        raise ValueError(f"model: cannot import module {modname!r}: {exc}") from exc
    factory = getattr(mod, fname, None)
    if not callable(factory):
        raise ValueError(f"model: {modname!r} has no callable {fname!r}")
    model = factory()
    if weights is not None:
        try:
            state = torch.load(weights, map_location=device, weights_only=True)
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"weights: no file at {weights!r}") from exc
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(f"weights: {weights!r} does not match the model built by {spec!r}: "
                             f"{str(exc).splitlines()[0]}") from exc
    return model.to(device).eval()


def split_digits_images(seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Deprecated alias of :func:`hullscope.datasets.split_digits_images` (kept for one release)."""
    import warnings

    from .datasets import split_digits_images as _split

    warnings.warn("hullscope.models.split_digits_images moved to hullscope.datasets.split_digits_images",
                  DeprecationWarning, stacklevel=2)
    return _split(seed)
