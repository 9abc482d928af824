"""The model families of the over-parameterization study: the two architectures at a width multiplier,
the named training regimes, and one seeded, checkpointable training run per model.

* **Architectures.** ``cnn``: :func:`hullscope.models.small_cnn` with ``width = m`` channels and a last
  hidden layer of ``4 m`` units; ``mlp``: flatten - linear(4 m) - ReLU - linear(4 m) - ReLU - linear(K)
  (two hidden layers). The width multiplier m sets the parameter count (:func:`param_count`).
* **Regimes.** :data:`REGIMES` names each training configuration (optimiser, learning rate, weight
  decay, batch size, label corruption, input noise, initial scale); every one is a plain dict, so its
  fingerprint keys the checkpoints.
* **Training** (:func:`train_model`) runs epochs until the model fits its training labels (100%
  training accuracy, the labels it was given) or ``max_epochs`` is reached; what it reached is stated
  in the returned log.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Sequence

import numpy as np

from .._torch import require_torch

__all__ = ["ARCHITECTURES", "REGIMES", "DEFAULT_REGIME", "ModelSpec", "build_model", "param_count",
           "check_regimes", "check_widths", "check_family", "check_seeds", "training_labels", "train_model",
           "width_family", "regime_family", "predict"]

ARCHITECTURES = ("cnn", "mlp")

#: The base configuration every regime starts from (SGD with momentum, no weight decay).
_BASE: Dict[str, Any] = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "weight_decay": 0.0, "batch_size": 64,
                         "label_noise": 0.0, "random_labels": False, "input_noise": 0.0, "init_scale": 1.0}

#: Named, reproducible training regimes (each is _BASE with the listed changes).
REGIMES: Dict[str, Dict[str, Any]] = {
    "sgd_small_lr": {"lr": 0.005},
    "sgd_large_lr": {"lr": 0.2},
    "adam": {"optimizer": "adam", "lr": 3e-3, "momentum": 0.0},
    "wd_off": {},
    "wd_on": {"weight_decay": 5e-3},
    "batch_small": {"batch_size": 16},
    "batch_large": {"batch_size": 512},
    "label_noise_20": {"label_noise": 0.2},
    "random_labels": {"random_labels": True},
    "input_noise": {"input_noise": 0.3},
    "large_init": {"init_scale": 4.0},
}
REGIME_NOTES = {
    "sgd_small_lr": "SGD (momentum 0.9), learning rate 0.005",
    "sgd_large_lr": "SGD (momentum 0.9), learning rate 0.2",
    "adam": "Adam, learning rate 3e-3 (as the digits demo trains the small CNN); the width family's regime",
    "wd_off": "SGD (momentum 0.9), learning rate 0.05, no weight decay (the base regime)",
    "wd_on": "the base regime with weight decay 5e-3",
    "batch_small": "the base regime with batch size 16",
    "batch_large": "the base regime with batch size 512",
    "label_noise_20": "the base regime on labels of which 20% are replaced by another class",
    "random_labels": "the base regime on uniformly random labels (the memorisation control)",
    "input_noise": "the base regime with white Gaussian noise (std 0.3 pixel units) added to every "
                   "training batch",
    "large_init": "every initial weight and bias multiplied by 4, learning rate divided by 4^2 "
                  "(the lazy regime: weights move little relative to their size)",
}
DEFAULT_REGIME = "adam"
#: Regimes whose training labels are not the data's labels: controls, reported but set apart.
CONTROL_REGIMES = ("random_labels",)


def regime_config(name: str) -> Dict[str, Any]:
    check_regimes([name])
    cfg = dict(_BASE, **REGIMES[name])
    if cfg["init_scale"] != 1.0:
        cfg["lr"] = cfg["lr"] / cfg["init_scale"] ** 2
    return cfg


# ---------------------------------------------------------------------------------------------- checks
def check_family(family: Any) -> List[str]:
    """'width', 'regime', 'both' or a non-empty list of 'width'/'regime'."""
    if isinstance(family, str):
        fam = ["width", "regime"] if family == "both" else [family]
    else:
        fam = list(family) if family is not None else []
    if not fam:
        raise ValueError("family: expected 'width', 'regime' or 'both', got an empty family")
    bad = [f for f in fam if f not in ("width", "regime")]
    if bad:
        raise ValueError(f"family: expected 'width', 'regime' or 'both', got {bad[0]!r}")
    return list(dict.fromkeys(fam))


def check_regimes(regimes: Any) -> List[str]:
    if isinstance(regimes, str):
        regimes = [regimes]
    regs = list(regimes) if regimes is not None else []
    if not regs:
        raise ValueError("regimes: expected at least one regime name, got none")
    for r in regs:
        if r not in REGIMES:
            raise ValueError(f"regimes: unknown regime {r!r}; known: {', '.join(REGIMES)}")
    return list(dict.fromkeys(regs))


def check_widths(widths: Any, name: str = "widths") -> List[int]:
    ws = list(widths) if widths is not None and not isinstance(widths, (int, float)) else [widths]
    if not ws or ws == [None]:
        raise ValueError(f"{name}: expected at least one width multiplier, got none")
    for w in ws:
        if isinstance(w, bool) or not isinstance(w, (int, np.integer)):
            raise TypeError(f"{name}: expected integer width multipliers >= 1, got {w!r}")
        if w <= 0:
            raise ValueError(f"{name}: expected width multipliers >= 1, got {w}")
    return sorted(dict.fromkeys(int(w) for w in ws))


def check_seeds(seeds: Any) -> List[int]:
    ss = list(seeds) if seeds is not None and not isinstance(seeds, (int, np.integer)) else [seeds]
    if not ss or ss == [None]:
        raise ValueError("seeds: expected at least one seed, got none")
    for s in ss:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"seeds: expected integers >= 0, got {s!r}")
    return list(dict.fromkeys(int(s) for s in ss))


def check_architectures(archs: Any) -> List[str]:
    a = [archs] if isinstance(archs, str) else list(archs or [])
    if not a:
        raise ValueError("architectures: expected at least one of 'cnn', 'mlp', got none")
    for x in a:
        if x not in ARCHITECTURES:
            raise ValueError(f"architectures: expected 'cnn' or 'mlp', got {x!r}")
    return list(dict.fromkeys(a))


# ---------------------------------------------------------------------------------------------- models
def build_model(arch: str, width: int, input_shape: Sequence[int], n_classes: int):
    """An untrained model of the family (torch's default initialisation; seed torch before calling)."""
    torch = require_torch()
    check_architectures([arch])
    check_widths([width], "width")
    if arch == "cnn":
        from ..models import small_cnn

        return small_cnn(in_channels=int(input_shape[0]), n_classes=n_classes, width=width, hidden=4 * width)
    from collections import OrderedDict

    nn = torch.nn
    d = int(np.prod(input_shape))
    h = 4 * width
    return nn.Sequential(OrderedDict([
        ("flatten", nn.Flatten()), ("fc1", nn.Linear(d, h)), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(h, h)), ("relu2", nn.ReLU()), ("classifier", nn.Linear(h, n_classes))]))


def param_count(arch: str, width: int, input_shape: Sequence[int], n_classes: int) -> int:
    """Number of trainable parameters (closed form, no torch needed)."""
    check_architectures([arch])
    w, h, K = int(width), 4 * int(width), int(n_classes)
    if arch == "cnn":
        c = int(input_shape[0])
        return (c * w * 9 + w) + (w * w * 9 + w) + (w * 2 * w * 9 + 2 * w) + (2 * w * h + h) + (h * K + K)
    d = int(np.prod(input_shape))
    return (d * h + h) + (h * h + h) + (h * K + K)


@dataclass(frozen=True)
class ModelSpec:
    """One member of a family: what is trained, how, on which seed. ``key`` names its checkpoint."""
    family: str
    arch: str
    width: int
    regime: str
    seed: int
    max_epochs: int

    @property
    def key(self) -> str:
        return f"{self.family}-{self.arch}-w{self.width}-{self.regime}-s{self.seed}"

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def width_family(archs: Sequence[str], widths: Sequence[int], seeds: Sequence[int], max_epochs: int,
                 regime: str = DEFAULT_REGIME) -> List[ModelSpec]:
    return [ModelSpec("width", a, int(w), regime, int(s), int(max_epochs))
            for a in check_architectures(archs) for w in check_widths(widths) for s in check_seeds(seeds)]


def regime_family(arch: str, width: int, regimes: Sequence[str], seeds: Sequence[int],
                  max_epochs: int) -> List[ModelSpec]:
    return [ModelSpec("regime", arch, int(width), r, int(s), int(max_epochs))
            for r in check_regimes(regimes) for s in check_seeds(seeds)]


# ---------------------------------------------------------------------------------------------- training
def training_labels(y: np.ndarray, n_classes: int, cfg: Dict[str, Any], seed: int) -> np.ndarray:
    """The labels a regime trains on: the data's, 20% replaced by another class, or all random."""
    y = np.asarray(y, np.int64)
    rng = np.random.default_rng(10_000 + int(seed))
    if cfg["random_labels"]:
        return rng.integers(0, n_classes, size=y.shape).astype(np.int64)
    if cfg["label_noise"] > 0:
        out = y.copy()
        idx = rng.choice(len(y), size=int(round(cfg["label_noise"] * len(y))), replace=False)
        out[idx] = (y[idx] + rng.integers(1, n_classes, size=len(idx))) % n_classes  # always another class
        return out
    return y.copy()


def predict(model: Any, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Predicted classes (eval mode, float32, no grad)."""
    torch = require_torch()
    model.eval()
    out = []
    with torch.no_grad():
        for a in range(0, len(X), batch_size):
            out.append(model(torch.as_tensor(np.asarray(X[a:a + batch_size], np.float32))).argmax(1).numpy())
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def train_model(spec: ModelSpec, X: np.ndarray, y: np.ndarray, n_classes: int, *, progress: bool = False):
    """Train one member: returns (model, log). Stops at 100% accuracy on its training labels, or at
    ``spec.max_epochs``; the log states which, with the epochs and SGD steps used."""
    torch = require_torch()
    from .._progress import progress_bar

    cfg = regime_config(spec.regime)
    labels = training_labels(y, n_classes, cfg, spec.seed)
    torch.manual_seed(spec.seed)
    model = build_model(spec.arch, spec.width, X.shape[1:], n_classes)
    if cfg["init_scale"] != 1.0:
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(cfg["init_scale"])
    w0 = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    if cfg["optimizer"] == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=cfg["momentum"],
                              weight_decay=cfg["weight_decay"])
    Xt = torch.as_tensor(np.asarray(X, np.float32))
    yt = torch.as_tensor(labels)
    g = torch.Generator().manual_seed(spec.seed)
    lossf = torch.nn.CrossEntropyLoss()
    bs = int(cfg["batch_size"])
    t0 = time.perf_counter()
    steps, epochs, fit, diverged, acc, loss_v = 0, 0, False, False, float("nan"), float("nan")
    with progress_bar(progress, spec.max_epochs, f"training {spec.key}", unit="epoch") as bar:
        for ep in range(spec.max_epochs):
            model.train()
            perm = torch.randperm(len(Xt), generator=g)
            tot = 0.0
            for a in range(0, len(Xt), bs):
                idx = perm[a:a + bs]
                xb = Xt[idx]
                if cfg["input_noise"] > 0:
                    xb = xb + cfg["input_noise"] * torch.randn(xb.shape, generator=g)
                opt.zero_grad()
                loss = lossf(model(xb), yt[idx])
                loss.backward()
                opt.step()
                steps += 1
                tot += float(loss.detach()) * len(idx)
            epochs = ep + 1
            loss_v = tot / len(Xt)
            if not math.isfinite(loss_v):
                diverged = True
                break
            acc = float(np.mean(predict(model, X) == labels))
            bar.update(1)
            bar.set_postfix_str(f"train acc {acc:.3f}")
            if acc == 1.0:
                fit = True
                break
    model.eval()
    w1 = torch.cat([p.detach().flatten() for p in model.parameters()])
    rel = float(torch.linalg.vector_norm(w1 - w0) / torch.linalg.vector_norm(w0))
    log = {"epochs": epochs, "steps": steps, "fit_training_labels": fit, "diverged": diverged,
           "train_accuracy_on_training_labels": acc, "final_epoch_loss": loss_v,
           "stopped": ("reached 100% training accuracy" if fit else "diverged (non-finite loss)" if diverged
                       else f"max_epochs={spec.max_epochs} reached at {100 * acc:.2f}% training accuracy"),
           "relative_weight_change": rel, "seconds": time.perf_counter() - t0, "config": cfg,
           "labels_changed": int(np.sum(labels != np.asarray(y)))}
    return model, log
