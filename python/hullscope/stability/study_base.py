"""What both stability studies share: the data, input noise, the training loop, checkpoints keyed by
fingerprints, measuring one model, and the HTML/text helpers of their reports."""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._progress import progress_bar
from .._torch import require_torch
from .architectures import check_architecture, has_conv
from .architectures import build as build_architecture
from .observables import StabilityResult, _check_seeds, shuffle_channels, stability
from .._json import atomic_write_bytes
from .stats import dumps, strict_json



DEFAULT_SIGMAS = (0.0, 0.1, 0.3, 1.0)
DEFAULT_NOISE_ARCHITECTURES = ("small_resnet", "lenet")
# a measured drop of R_f counts as "falls with training" when it exceeds this many standard
# deviations of the measurement's spread over seeds (init and trained spreads combined)
FALL_SIGMAS = 2.0


# ---- data ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StudyData:
    """Images (N, C, n, n) float32 and int labels for training and testing, with a name."""
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str


    def __repr__(self) -> str:
        return f"StudyData({self.name!r}: {len(self.X_train)} training, {len(self.X_test)} test images)"
    def __post_init__(self):
        for arg in ("X_train", "X_test"):
            X = getattr(self, arg)
            if not isinstance(X, np.ndarray) or X.ndim != 4 or X.shape[-1] != X.shape[-2] or X.shape[0] < 1:
                raise ValueError(f"{arg}: expected square images of shape (N, C, n, n), got "
                                 f"{getattr(X, 'shape', type(X).__name__)}")
            if not np.all(np.isfinite(X)):
                raise ValueError(f"{arg}: contains NaN or inf")
        for arg, X in (("y_train", self.X_train), ("y_test", self.X_test)):
            y = getattr(self, arg)
            if not isinstance(y, np.ndarray) or y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
                raise ValueError(f"{arg}: expected {X.shape[0]} integer labels, got "
                                 f"{getattr(y, 'shape', type(y).__name__)}")
        if self.X_train.shape[1:] != self.X_test.shape[1:]:
            raise ValueError(f"X_test: image shape {self.X_test.shape[1:]} differs from X_train's "
                             f"{self.X_train.shape[1:]}")

    @property
    def side(self) -> int:
        return int(self.X_train.shape[-1])

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)

    def digest(self, n_train: int, n_probe: int) -> str:
        """A short hash of the training subset, the test set and the probe (for checkpoint keys)."""
        h = hashlib.sha256()
        for a in (self.X_train[:n_train], self.y_train[:n_train], self.X_test, self.y_test):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(str((n_train, n_probe, self.X_train.shape[1:])).encode())
        return h.hexdigest()[:16]


def load_study_data(name: str = "mnist", n_train: int = 10000, n_test: int = 10000) -> StudyData:
    """'mnist' (28x28, the offline IDX files) or 'digits' (scikit-learn's 8x8) as a :class:`StudyData`."""
    if name == "mnist":
        from ..datasets import load_mnist

        d = load_mnist(n_train=n_train, n_test=n_test)
        return StudyData(d.X_train[:, None].astype(np.float32), d.y_train, d.X_test[:, None].astype(np.float32),
                         d.y_test, "mnist")
    if name == "digits":
        from ..datasets import split_digits_images

        Xtr, ytr, Xte, yte = split_digits_images()
        return StudyData(Xtr[:n_train], ytr[:n_train], Xte[:n_test], yte[:n_test], "digits")
    raise ValueError(f"data: expected 'mnist' or 'digits' for a study, got {name!r}")


# ---- noise augmentation -------------------------------------------------------------------------

def check_sigma(sigma: Any, name: str = "sigma") -> float:
    """A finite noise level >= 0, as float."""
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number >= 0 (noise norm relative to the image norm), got "
                        f"{type(sigma).__name__}")
    s = float(sigma)
    if not math.isfinite(s) or s < 0:
        raise ValueError(f"{name}: expected a finite noise level >= 0 (relative to the image norm), got {s}")
    return s


def noise_scale(X: Any) -> float:
    """Root-mean-square pixel value of the images X (any shape (N, ...)): sqrt(mean x^2).

    With per-pixel noise of standard deviation ``sigma * noise_scale(X)`` the noise's root-mean-square
    norm is ``sigma`` times the images' root-mean-square norm (both over the whole image).
    """
    a = np.asarray(X, dtype=np.float64)
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError("X: expected a non-empty set of finite images")
    s = float(np.sqrt(np.mean(a * a)))
    if s == 0.0:
        raise ValueError("X: all images are zero; the noise level relative to their norm is undefined")
    return s


def add_input_noise(images: Any, sigma: float, scale: float, generator: Any = None):
    """``images + sigma * scale * N(0, 1)``, i.i.d. per pixel (a float32 tensor of the same shape).

    Parameters
    ----------
    images : array or tensor (B, ...)
    sigma : noise level >= 0: the noise's root-mean-square norm over the images' (see :func:`noise_scale`)
    scale : root-mean-square pixel value of the training images, :func:`noise_scale`, > 0
    generator : torch.Generator, int seed, or None (torch's global generator)
    """
    torch = require_torch()
    sigma = check_sigma(sigma)
    scale = float(scale)
    if not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale: expected the images' root-mean-square pixel value (> 0), got {scale}")
    x = images if isinstance(images, torch.Tensor) else torch.as_tensor(np.asarray(images, dtype=np.float32))
    x = x.to(torch.float32)
    if sigma == 0.0:
        return x.clone()
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        if generator < 0:
            raise ValueError(f"generator: expected a non-negative seed, got {generator}")
        generator = torch.Generator().manual_seed(int(generator))
    eta = torch.randn(x.shape, generator=generator, dtype=torch.float32)
    return x + (sigma * scale) * eta.to(x.device)


# ---- training -----------------------------------------------------------------------------------

def _accuracy(model, X, y, device, batch_size: int = 512) -> Tuple[float, float]:
    """(accuracy, mean cross-entropy) of ``model`` in eval mode on (X, y)."""
    torch = require_torch()
    model.eval()
    correct, loss = 0, 0.0
    Xt = torch.as_tensor(X)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    with torch.no_grad():
        for a in range(0, Xt.shape[0], batch_size):
            out = model(Xt[a:a + batch_size].to(device)).cpu()
            correct += int((out.argmax(1) == yt[a:a + batch_size]).sum())
            loss += float(torch.nn.functional.cross_entropy(out, yt[a:a + batch_size], reduction="sum"))
    return correct / len(yt), loss / len(yt)


def train_model(model, X: np.ndarray, y: np.ndarray, *, epochs: int, lr: float = 1e-3, batch_size: int = 64,
                seed: int = 0, sigma: float = 0.0, scale: Optional[float] = None,
                target_train_accuracy: Optional[float] = None, device: Any = "cpu",
                progress: bool = False) -> Dict[str, Any]:
    """Train with Adam and cross-entropy, seeded; optionally with additive input noise.

    Each mini-batch gets fresh noise ``sigma * scale * N(0, 1)`` per pixel (:func:`add_input_noise`,
    from a generator seeded by ``seed``). With ``target_train_accuracy`` training stops after the first
    epoch whose accuracy on the clean training set reaches it ("converged"); otherwise after ``epochs``.

    Returns a log: epochs run, clean training accuracy and loss after each epoch, seconds, converged.
    """
    torch = require_torch()
    sigma = check_sigma(sigma)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs: expected an int >= 1, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a learning rate > 0, got {lr!r}")
    if target_train_accuracy is not None and not 0 < float(target_train_accuracy) <= 1:
        raise ValueError(f"target_train_accuracy: expected a fraction in (0, 1], got {target_train_accuracy}")
    if sigma > 0 and scale is None:
        scale = noise_scale(X)
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(int(seed))
    g_noise = torch.Generator().manual_seed(int(seed) + 7919)
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    lossf = torch.nn.CrossEntropyLoss()
    log: Dict[str, Any] = {"epochs": 0, "train_accuracy": [], "train_loss": [], "converged": False,
                           "sigma": sigma, "noise_pixel_std": (sigma * scale) if sigma > 0 else 0.0,
                           "lr": lr, "batch_size": int(batch_size), "seed": int(seed)}
    t0 = time.perf_counter()
    with progress_bar(progress, int(epochs), "training", unit="epoch") as bar:
        for _ in range(int(epochs)):
            model.train()
            perm = torch.randperm(Xt.shape[0], generator=g)
            for a in range(0, Xt.shape[0], batch_size):
                idx = perm[a:a + batch_size]
                xb = Xt[idx]
                if sigma > 0:
                    xb = add_input_noise(xb, sigma, scale, g_noise)
                opt.zero_grad()
                loss = lossf(model(xb.to(device)), yt[idx].to(device))
                loss.backward()
                opt.step()
            acc, tl = _accuracy(model, Xt, yt, device)
            log["epochs"] += 1
            log["train_accuracy"].append(acc)
            log["train_loss"].append(tl)
            bar.update(1)
            if hasattr(bar, "set_postfix_str"):
                bar.set_postfix_str(f"train acc {acc:.4f}")
            if target_train_accuracy is not None and acc >= float(target_train_accuracy):
                log["converged"] = True
                break
    model.eval()
    log["seconds"] = time.perf_counter() - t0
    if target_train_accuracy is None:
        log["converged"] = None  # fixed number of epochs: no convergence criterion
    log["target_train_accuracy"] = target_train_accuracy
    return log


# ---- checkpoints --------------------------------------------------------------------------------

def fingerprint(spec: Dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``spec`` (hex)."""
    return hashlib.sha256(json.dumps(strict_json(spec), sort_keys=True).encode()).hexdigest()


class Checkpoints:
    """Per-model weights and records in ``folder``, keyed by ``label`` and the spec's fingerprint.

    ``<label>-<fp>.pt`` holds the trained weights and training log; ``<label>-<fp>.json`` the complete
    record. Both are written atomically (temporary file, then rename), so an interrupted run never
    leaves a half-written checkpoint. ``trained`` / ``measured`` count what this object computed.
    """

    def __init__(self, folder: Any):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.trained = 0
        self.resumed_weights = 0
        self.resumed_records = 0
        self.measured = 0

    def _path(self, label: str, spec: Dict[str, Any], ext: str) -> Path:
        return self.folder / f"{label}-{fingerprint(spec)[:12]}.{ext}"

    def load_record(self, label: str, spec: Dict[str, Any], count: bool = True) -> Optional[Dict[str, Any]]:
        """The complete record saved for (label, spec), or None; ``count``: add it to ``resumed_records``."""
        p = self._path(label, spec, "json")
        if not p.is_file():
            return None
        try:
            rec = json.loads(p.read_text())
        except (OSError, ValueError):
            return None  # unreadable: recompute (the file is replaced atomically)
        if rec.get("fingerprint") != fingerprint(spec):
            return None
        if count:
            self.resumed_records += 1
        return rec

    def save_record(self, label: str, spec: Dict[str, Any], rec: Dict[str, Any]) -> None:
        rec = dict(rec, fingerprint=fingerprint(spec), spec=spec)
        _atomic_write_text(self._path(label, spec, "json"), dumps(rec))

    def load_weights(self, label: str, spec: Dict[str, Any], count: bool = True) -> Optional[Dict[str, Any]]:
        torch = require_torch()
        p = self._path(label, spec, "pt")
        if not p.is_file():
            return None
        try:
            blob = torch.load(p, map_location="cpu", weights_only=True)
        except Exception:  # a damaged file: retrain
            return None
        if not isinstance(blob, dict) or blob.get("fingerprint") != fingerprint(spec):
            return None
        if count:
            self.resumed_weights += 1
        return blob

    def save_weights(self, label: str, spec: Dict[str, Any], model, log: Dict[str, Any]) -> None:
        torch = require_torch()
        p = self._path(label, spec, "pt")
        tmp = p.with_suffix(".pt.tmp")
        torch.save({"fingerprint": fingerprint(spec), "state_dict": model.state_dict(),
                    "train_log": json.loads(dumps(log))}, tmp)
        os.replace(tmp, p)


def _atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(Path(path), text.encode())


def provenance(command: Optional[Sequence[str]] = None, **extra: Any) -> Dict[str, Any]:
    """The shared provenance block (:func:`hullscope.report.provenance`) plus torch's version and threads."""
    from ..report import provenance as _provenance

    torch = require_torch()
    cmd = None if command is None else " ".join(str(c) for c in command)
    return _provenance(command=cmd, torch_version=torch.__version__, numpy_version=np.__version__,
                       torch_threads=torch.get_num_threads(), **extra)


# ---- measuring one model ------------------------------------------------------------------------

def _measure(model, probe, layers, batchnorm, kw) -> StabilityResult:
    return stability(model, probe, layers=layers, batchnorm=batchnorm, **kw)


def _summ(res: StabilityResult, layer: str) -> Dict[str, float]:
    j = res.layers.index(layer)
    return {o: float(res.mean(o)[j]) for o in ("D", "G", "R")} | {
        f"{o}_std": float(res.std(o)[j]) for o in ("D", "G", "R")}


def _falls(init: Dict[str, float], trained: Dict[str, float]) -> bool:
    """R_f falls with training: trained below init by more than FALL_SIGMAS seed spreads."""
    gap = init["R"] - trained["R"]
    spread = math.hypot(init["R_std"], trained["R_std"])
    return bool(gap > FALL_SIGMAS * spread and trained["R"] < init["R"])


def _run_one(label: str, spec: Dict[str, Any], data: StudyData, ckpt: Checkpoints, *, train_kw: Dict[str, Any],
             layers: List[str], measure_kw: Dict[str, Any], shuffled: bool, device: Any,
             progress: bool) -> Dict[str, Any]:
    """Build, measure at init, train (or load), measure trained (and shuffled); checkpointed."""
    rec = ckpt.load_record(label, spec)
    if rec is not None:
        return rec
    torch = require_torch()
    arch = check_architecture(spec["architecture"])
    n_train = spec["n_train"]
    probe = data.X_test[:spec["n_probe"]]
    torch.manual_seed(spec["train_seed"])
    net = build_architecture(arch.name, side=data.side, in_channels=int(data.X_train.shape[1]),
                             n_classes=data.n_classes).to(device)
    res: Dict[str, StabilityResult] = {"init": _measure(net, probe, layers, "batch", measure_kw)}
    blob = ckpt.load_weights(label, spec)
    if blob is not None:
        net.load_state_dict(blob["state_dict"])
        net.eval()
        log = blob["train_log"]
    else:
        log = train_model(net, data.X_train[:n_train], data.y_train[:n_train], device=device,
                          progress=progress, **train_kw)
        ckpt.trained += 1
        ckpt.save_weights(label, spec, net, log)
    res["trained"] = _measure(net, probe, layers, "running", measure_kw)
    if shuffled and has_conv(net):
        sh = shuffle_channels(net, seed=0)
        res["shuffled"] = _measure(sh, probe, layers, "batch" if arch.batchnorm else "running", measure_kw)
        if arch.batchnorm:
            res["shuffled_running_bn"] = _measure(sh, probe, layers, "running", measure_kw)
        sh_acc = _accuracy(sh, data.X_test, data.y_test, device)[0]
    else:
        sh_acc = None
    acc, loss = _accuracy(net, data.X_test, data.y_test, device)
    rec = {"label": label, "architecture": arch.name, "n_train": n_train, "train": log,
           "test_accuracy": acc, "test_error": 1.0 - acc, "test_loss": loss, "n_test": int(len(data.y_test)),
           "shuffled_test_accuracy": sh_acc, "results": {k: r.to_dict() for k, r in res.items()}}
    ckpt.measured += 1
    ckpt.save_record(label, spec, rec)
    return json.loads(dumps(dict(rec, fingerprint=fingerprint(spec), spec=spec)))


def _bn_control(label: str, spec: Dict[str, Any], data: StudyData, ckpt: Checkpoints, *, layers: List[str],
                measure_kw: Dict[str, Any], device: Any) -> Optional[Dict[str, Any]]:
    """For a net with BatchNorm: R_f at initialisation with running statistics and trained with batch
    statistics, so that init and trained can be compared under one protocol (checkpointed too)."""
    arch = check_architecture(spec["architecture"])
    if not arch.batchnorm:
        return None
    cspec = dict(spec, control="batchnorm protocols")
    rec = ckpt.load_record(label + "-bnctl", cspec, count=False)
    if rec is not None:
        return rec
    blob = ckpt.load_weights(label, spec, count=False)
    if blob is None:
        return None
    torch = require_torch()
    probe = data.X_test[:spec["n_probe"]]
    torch.manual_seed(spec["train_seed"])
    net = build_architecture(arch.name, side=data.side, in_channels=int(data.X_train.shape[1]),
                             n_classes=data.n_classes).to(device)
    res = {"init_running_bn": _measure(net, probe, layers, "running", measure_kw)}
    net.load_state_dict(blob["state_dict"])
    net.eval()
    res["trained_batch_bn"] = _measure(net, probe, layers, "batch", measure_kw)
    rec = {"label": label, "results": {k: r.to_dict() for k, r in res.items()}}
    ckpt.save_record(label + "-bnctl", cspec, rec)
    return rec


def _results(rec: Dict[str, Any]) -> Dict[str, StabilityResult]:
    return {k: StabilityResult.from_dict(d) for k, d in rec["results"].items()}


def _measure_kw(c: float, T: Optional[float], seeds: Sequence[int], device: Any) -> Dict[str, Any]:
    return {"c": float(c), "T": None if T is None else float(T), "seeds": _check_seeds(seeds), "device": device}


def _check_archs(architectures: Optional[Sequence[str]], default: Sequence[str]) -> List[str]:
    if architectures is None:
        architectures = default
    if isinstance(architectures, str):
        architectures = [architectures]
    archs = [check_architecture(a, "architectures").name for a in architectures]
    if not archs:
        raise ValueError("architectures: expected at least one architecture name")
    if len(set(archs)) != len(archs):
        raise ValueError(f"architectures: duplicate names in {archs}")
    return archs


def _check_int(v: Any, name: str, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name}: expected an int >= {lo}, got {v!r}")
    return int(v)


def _stack(results: Sequence[StabilityResult]) -> StabilityResult:
    """Several results on the same layers as one, their seeds stacked (spread over all of them)."""
    r0 = results[0]
    vals = {s: {o: np.concatenate([r.values[s][o] for r in results], axis=0) for o in ("D", "G", "R")}
            for s in r0.values}
    seeds = [s for r in results for s in r.seeds]
    return StabilityResult(layers=r0.layers, values=vals, T=r0.T, c=r0.c, seeds=seeds, n_images=r0.n_images,
                           interp=r0.interp, deformation=r0.deformation, meta=dict(r0.meta, stacked=len(results)))


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _html_table(rows: List[Dict[str, Any]], cols: List[str]) -> str:
    import html

    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows)
    return f"<table border=1 cellpadding=3><tr>{head}</tr>{body}</table>"


def _html_pre(text: str) -> str:
    import html

    return f"<h2>Report</h2><pre>{html.escape(text)}</pre>"


def _html_page(title: str, prov: Dict[str, Any], body: str, figs: List[Path], note: str) -> str:
    import html

    imgs = "".join(f'<p><img src="{html.escape(p.name)}" style="max-width:100%"></p>' for p in figs)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(note)}</p>{body}{imgs}"
            f"<h2>Provenance</h2><pre>{html.escape(dumps(prov))}</pre></body></html>")


# ---- text reports -------------------------------------------------------------------------------

def _g(v: Any, width: int = 9, prec: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return f"{'n/a':>{width}}"
    if isinstance(v, bool):
        return f"{'yes' if v else 'no':>{width}}"
    return f"{v:>{width}.{prec}g}"


def _verb(falls: bool) -> str:
    return "falls" if falls else "does not fall"


def _counts(ckpt: Checkpoints) -> Dict[str, int]:
    return {"trained": ckpt.trained, "measured": ckpt.measured, "resumed_records": ckpt.resumed_records,
            "resumed_weights": ckpt.resumed_weights}


def _mean_sd(v: Sequence[float]) -> Tuple[float, float]:
    a = np.asarray(v, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0
