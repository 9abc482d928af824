"""Two studies of stability to diffeomorphisms vs noise across training conditions and architectures.

* :func:`noise_study`: nets trained with additive Gaussian noise on their inputs (``sigma`` relative
  to the training images' root-mean-square norm, see :func:`add_input_noise`), D_f, G_f and R_f
  against depth before and after training, over training seeds.
* :func:`architecture_study`: the zoo of :mod:`.architectures` at several training-set sizes, each
  trained until it fits its training set (or a budget of images seen runs out); per model the test
  error, R_f at the output and at the last hidden layer (at initialisation and trained), the
  channel-shuffled control (:func:`~hullscope.stability.shuffle_channels`), and Spearman's rank
  correlation between R_f and test error with a bootstrap 95% interval.

Every trained model is checkpointed under ``out/checkpoints`` (its weights once trained, then its
complete record once measured), keyed by a fingerprint of everything that determines it (config,
data, measurement settings). A rerun with the same settings trains and measures nothing already done;
a run interrupted between training and measuring resumes from the weights.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._progress import progress_bar
from .._torch import require_torch
from .architectures import ARCHITECTURES, check_architecture, has_conv
from .architectures import build as build_architecture
from .observables import StabilityResult, _check_seeds, plot_states, shuffle_channels, stability
from .stats import bootstrap_spearman, dumps, strict_json

__all__ = ["StudyData", "noise_scale", "check_sigma", "add_input_noise", "train_model", "Checkpoints",
           "noise_study", "architecture_study", "NoiseStudy", "ArchitectureStudy", "load_study_data",
           "provenance", "DEFAULT_SIGMAS", "DEFAULT_NOISE_ARCHITECTURES", "write_noise_outputs",
           "write_architecture_outputs", "plot_scatter", "plot_R_bars", "epochs_for", "fingerprint",
           "noise_report", "architecture_report"]

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
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def provenance(command: Optional[Sequence[str]] = None, **extra: Any) -> Dict[str, Any]:
    """Version, command line, date (UTC), platform and whatever else the caller adds."""
    from .. import __version__

    torch = require_torch()
    return {"hullscope_version": __version__, "torch_version": torch.__version__,
            "numpy_version": np.__version__, "python": platform.python_version(),
            "command": list(sys.argv if command is None else command),
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "torch_threads": torch.get_num_threads(), **extra}


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


# ---- the noise study ----------------------------------------------------------------------------

@dataclass
class NoiseStudy:
    """Records of :func:`noise_study` and their summary.

    ``records``: one per (architecture, sigma, training seed). ``table``: rows with the mean over
    training seeds (and the spread between them) of the test accuracy and of D_f, G_f, R_f at the
    input, the last hidden layer and the output, at initialisation and trained.
    """
    records: List[Dict[str, Any]]
    config: Dict[str, Any]
    provenance: Dict[str, Any]
    counts: Dict[str, int]
    table: List[Dict[str, Any]] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"NoiseStudy({len(self.records)} models, architectures={self.config['architectures']}, "
                f"sigmas={self.config['sigmas']}, trained now {self.counts['trained']})")

    def to_dict(self) -> Dict[str, Any]:
        return {"study": "noise", "config": self.config, "provenance": self.provenance, "counts": self.counts,
                "table": self.table, "records": self.records}

    def states(self, architecture: str) -> Dict[str, StabilityResult]:
        """'init' and 'sigma=...' -> result stacked over training seeds, for plot_states."""
        out: Dict[str, StabilityResult] = {}
        recs = [r for r in self.records if r["architecture"] == architecture]
        out["init"] = _stack([_results(r)["init"] for r in recs if r["sigma"] == recs[0]["sigma"]])
        for s in self.config["sigmas"]:
            rs = [_results(r)["trained"] for r in recs if r["sigma"] == s]
            out[f"trained, sigma={s:g}"] = _stack(rs)
        return out


def noise_study(data: StudyData, *, architectures: Sequence[str] = DEFAULT_NOISE_ARCHITECTURES,
                sigmas: Sequence[float] = DEFAULT_SIGMAS, train_seeds: Sequence[int] = (0, 1),
                n_train: int = 10000, epochs: int = 3, lr: float = 1e-3, batch_size: int = 64,
                n_probe: int = 300, c: float = 3.0, T: Optional[float] = None, seeds: Sequence[int] = (0, 1, 2),
                out: Any = "hullscope-stability-noise", device: Any = "cpu", progress: bool = False,
                command: Optional[Sequence[str]] = None) -> NoiseStudy:
    """Train each architecture with input noise at each ``sigma`` (0: clean) and each training seed.

    Parameters
    ----------
    data : StudyData (MNIST 28x28 for the published claim)
    sigmas : noise levels >= 0; the noise's root-mean-square norm relative to the training images'
        (per-pixel std ``sigma * noise_scale(X_train)``)
    train_seeds : seeds of the weights, batch order and training noise
    n_train, epochs : training images (the first ``n_train``) and epochs (fixed)
    n_probe : test images on which D_f, G_f, R_f are measured (c, T, seeds: see :func:`stability`)
    out : folder; its ``checkpoints`` subfolder holds one checkpoint per model

    Returns
    -------
    NoiseStudy. Depth layers: the input, the architecture's ``depth_layers`` and the output.
    """
    archs = _check_archs(architectures, DEFAULT_NOISE_ARCHITECTURES)
    if isinstance(sigmas, (int, float)):
        sigmas = [sigmas]
    sig = [check_sigma(s, "sigmas") for s in sigmas]
    if not sig:
        raise ValueError("sigmas: expected at least one noise level")
    if len(set(sig)) != len(sig):
        raise ValueError(f"sigmas: duplicate noise levels in {sig}")
    tseeds = _check_seeds(train_seeds, "train_seeds")
    n_train = _check_int(n_train, "n_train", 2)
    if n_train > len(data.y_train):
        raise ValueError(f"n_train: asked for {n_train} training images, the data has {len(data.y_train)}")
    n_probe = _check_int(n_probe, "n_probe", 2)
    if n_probe > len(data.y_test):
        raise ValueError(f"n_probe: asked for {n_probe} probe images, the test set has {len(data.y_test)}")
    epochs = _check_int(epochs, "epochs", 1)
    mkw = _measure_kw(c, T, seeds, device)
    scale = noise_scale(data.X_train[:n_train])
    ckpt = Checkpoints(Path(out) / "checkpoints")
    digest = data.digest(n_train, n_probe)
    records = []
    jobs = [(a, s, ts) for a in archs for ts in tseeds for s in sig]
    with progress_bar(progress, len(jobs), "noise study (models)", unit="model") as bar:
        for a, s, ts in jobs:
            arch = ARCHITECTURES[a]
            layers = ["input", *arch.depth_layers, "output"]
            spec = {"study": "noise", "architecture": a, "sigma": s, "train_seed": ts, "n_train": n_train,
                    "epochs": epochs, "lr": lr, "batch_size": batch_size, "n_probe": n_probe, "data": data.name,
                    "data_digest": digest, "measure": {k: v for k, v in mkw.items() if k != "device"},
                    "layers": layers}
            label = f"noise-{a}-sigma{s:g}-seed{ts}"
            rec = _run_one(label, spec, data, ckpt, train_kw=dict(epochs=epochs, lr=lr, batch_size=batch_size,
                                                                   seed=ts, sigma=s, scale=scale),
                           layers=layers, measure_kw=mkw, shuffled=False, device=device, progress=progress)
            rec["sigma"] = s
            rec["train_seed"] = ts
            records.append(rec)
            bar.update(1)
    config = {"architectures": archs, "sigmas": sig, "train_seeds": tseeds, "n_train": n_train, "epochs": epochs,
              "lr": lr, "batch_size": batch_size, "n_probe": n_probe, "n_test": int(len(data.y_test)),
              "data": data.name, "image_side": data.side, "noise_pixel_std_per_sigma": scale,
              "measure": {k: v for k, v in mkw.items() if k != "device"},
              "noise_definition": "x + sigma * s * N(0, I) per pixel, fresh for every mini-batch, with s the "
                                  "root-mean-square pixel value of the training images: the noise's RMS norm is "
                                  "sigma times the images' RMS norm"}
    study = NoiseStudy(records=records, config=config,
                       provenance=provenance(command, seeds={"train": tseeds, "measure": list(mkw["seeds"])},
                                             data={"name": data.name, "n_train": n_train,
                                                   "n_test": int(len(data.y_test)), "n_probe": n_probe,
                                                   "image_side": data.side}),
                       counts=_counts(ckpt))
    study.table = _noise_table(study)
    return study


def _counts(ckpt: Checkpoints) -> Dict[str, int]:
    return {"trained": ckpt.trained, "measured": ckpt.measured, "resumed_records": ckpt.resumed_records,
            "resumed_weights": ckpt.resumed_weights}


def _mean_sd(v: Sequence[float]) -> Tuple[float, float]:
    a = np.asarray(v, dtype=np.float64)
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


def _noise_table(study: NoiseStudy) -> List[Dict[str, Any]]:
    rows = []
    for a in study.config["architectures"]:
        hidden = ARCHITECTURES[a].last_hidden
        for s in study.config["sigmas"]:
            recs = [r for r in study.records if r["architecture"] == a and r["sigma"] == s]
            row: Dict[str, Any] = {"architecture": a, "sigma": s, "n_seeds": len(recs)}
            row["test_accuracy"], row["test_accuracy_sd"] = _mean_sd([r["test_accuracy"] for r in recs])
            for state in ("init", "trained"):
                res = [_results(r)[state] for r in recs]
                for where in ("input", hidden, "output"):
                    tag = "hidden" if where == hidden else where
                    for o in ("D", "G", "R"):
                        vals = [_summ(x, where)[o] for x in res]
                        row[f"{o}_{tag}_{state}"], row[f"{o}_{tag}_{state}_sd"] = _mean_sd(vals)
            # the claims, on the trained nets (means over training seeds)
            row["D_falls_with_depth"] = row["D_hidden_trained"] < row["D_input_trained"]
            row["G_rises_with_depth"] = row["G_hidden_trained"] > row["G_input_trained"]
            falls = [_falls(_summ(_results(r)["init"], "output"), _summ(_results(r)["trained"], "output"))
                     for r in recs]
            row["R_output_falls_with_training"] = all(falls)
            row["R_output_falls_seeds"] = f"{sum(falls)}/{len(falls)}"
            rows.append(row)
    return rows


# ---- the architecture study ---------------------------------------------------------------------

@dataclass
class ArchitectureStudy:
    """Records of :func:`architecture_study`, the per-model table and the correlations.

    ``table``: one row per (architecture, training-set size). ``correlations``: Spearman's rho between
    R_f of the trained nets and their test error, at the output and at the last hidden layer, over all
    models, within each training-set size, and over the converged models only (when some did not reach
    the target training accuracy), with bootstrap intervals (or the reason there is none).
    """
    records: List[Dict[str, Any]]
    config: Dict[str, Any]
    provenance: Dict[str, Any]
    counts: Dict[str, int]
    table: List[Dict[str, Any]] = field(default_factory=list)
    correlations: Dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        rho = self.correlations.get("output_all", {})
        extra = (f", rho(R_out, error)={rho['rho']:.2f} [{rho['low']:.2f}, {rho['high']:.2f}]"
                 if rho and "rho" in rho else "")
        return f"ArchitectureStudy({len(self.records)} models, trained now {self.counts['trained']}{extra})"

    def to_dict(self) -> Dict[str, Any]:
        return {"study": "architectures", "config": self.config, "provenance": self.provenance,
                "counts": self.counts, "table": self.table, "correlations": self.correlations,
                "records": self.records}


def epochs_for(n_train: int, max_images: int) -> int:
    """Epoch budget for ``n_train`` images when at most ``max_images`` images may be seen in training."""
    return max(1, int(math.ceil(max_images / n_train)))


def architecture_study(data: StudyData, *, architectures: Optional[Sequence[str]] = None,
                       train_sizes: Sequence[int] = (2000, 10000), train_seed: int = 0, max_images: int = 60000,
                       max_epochs: Optional[Sequence[int]] = None,
                       epoch_overrides: Optional[Dict[str, Sequence[int]]] = None,
                       target_train_accuracy: float = 0.995, lr: float = 1e-3, batch_size: int = 64,
                       n_probe: int = 300, c: float = 3.0, T: Optional[float] = None,
                       seeds: Sequence[int] = (0, 1, 2), n_boot: int = 10000, out: Any = "hullscope-stability-arch",
                       device: Any = "cpu", progress: bool = False,
                       command: Optional[Sequence[str]] = None) -> ArchitectureStudy:
    """Train every architecture at every training-set size; relate R_f to the test error.

    Each net trains until its accuracy on its (clean) training set reaches ``target_train_accuracy``,
    or until it has seen ``max_images`` images (``epochs_for(n, max_images)`` epochs), or, when
    ``max_epochs`` is given (one int per training-set size), for at most that many epochs;
    ``epoch_overrides`` maps an architecture name to its own budgets, one per size. The record says
    which happened (``converged``).

    D_f, G_f and R_f are measured on ``n_probe`` test images at the input, the architecture's
    ``depth_layers`` (the last of which is its last hidden layer) and the output: at initialisation
    (BatchNorm on batch statistics), trained, and for a channel-shuffled copy of the trained net
    (conv nets only; BatchNorm on batch statistics, the running ones describing the unshuffled net).
    Nets with BatchNorm are also measured at initialisation with running statistics and trained with
    batch statistics, so that "R_f falls with training" can be checked under one protocol
    (``R_output_falls_batch_bn``, ``R_output_falls_running_bn`` in the table).

    The split of what training does to R_f: ``spatial = R_shuffled / R_init`` (the learnt spatial
    profiles, with the learnt channel combination destroyed) and ``channel = R_trained / R_shuffled``
    (the learnt channel combination), so that ``R_trained / R_init = spatial * channel``; a factor
    below 1 means that part makes the net more stable to diffeomorphisms relative to noise.

    Raises ValueError for an unknown architecture, fewer than 3 models in all (no correlation), or
    bad sizes.
    """
    archs = _check_archs(architectures, list(ARCHITECTURES))
    if isinstance(train_sizes, (int, np.integer)):
        train_sizes = [train_sizes]
    sizes = [_check_int(n, "train_sizes", 2) for n in train_sizes]
    if not sizes or len(set(sizes)) != len(sizes):
        raise ValueError(f"train_sizes: expected distinct training-set sizes, got {list(train_sizes)}")
    if max(sizes) > len(data.y_train):
        raise ValueError(f"train_sizes: {max(sizes)} training images asked for, the data has {len(data.y_train)}")
    if len(archs) * len(sizes) < 3:
        raise ValueError(f"architectures, train_sizes: {len(archs)} architecture(s) x {len(sizes)} size(s) = "
                         f"{len(archs) * len(sizes)} model(s); a rank correlation with test error needs at least 3")
    n_probe = _check_int(n_probe, "n_probe", 2)
    if n_probe > len(data.y_test):
        raise ValueError(f"n_probe: asked for {n_probe} probe images, the test set has {len(data.y_test)}")
    max_images = _check_int(max_images, "max_images", 1)
    if max_epochs is None:
        budget = {n: epochs_for(n, max_images) for n in sizes}
    else:
        if isinstance(max_epochs, (int, np.integer)):
            max_epochs = [max_epochs] * len(sizes)
        if len(max_epochs) != len(sizes):
            raise ValueError(f"max_epochs: expected one epoch budget per training-set size ({len(sizes)}), got "
                             f"{list(max_epochs)}")
        budget = {n: _check_int(e, "max_epochs", 1) for n, e in zip(sizes, max_epochs)}
    arch_budget = {a: dict(budget) for a in archs}
    for a, eps in (epoch_overrides or {}).items():
        if a not in arch_budget:
            raise ValueError(f"epoch_overrides: {a!r} is not among the architectures {archs}")
        if isinstance(eps, (int, np.integer)) or len(eps) != len(sizes):
            raise ValueError(f"epoch_overrides[{a!r}]: expected one epoch budget per training-set size "
                             f"({len(sizes)}), got {eps!r}")
        arch_budget[a] = {n: _check_int(e, f"epoch_overrides[{a!r}]", 1) for n, e in zip(sizes, eps)}
    train_seed = _check_seeds([train_seed], "train_seed")[0]
    n_boot = _check_int(n_boot, "n_boot", 100)
    mkw = _measure_kw(c, T, seeds, device)
    ckpt = Checkpoints(Path(out) / "checkpoints")
    records = []
    jobs = [(a, n) for n in sizes for a in archs]
    with progress_bar(progress, len(jobs), "architecture study (models)", unit="model") as bar:
        for a, n in jobs:
            arch = ARCHITECTURES[a]
            layers = ["input", *arch.depth_layers, "output"]
            ep = arch_budget[a][n]
            spec = {"study": "architectures", "architecture": a, "n_train": n, "train_seed": train_seed,
                    "max_epochs": ep, "target_train_accuracy": target_train_accuracy, "lr": lr,
                    "batch_size": batch_size, "n_probe": n_probe, "data": data.name,
                    "data_digest": data.digest(n, n_probe),
                    "measure": {k: v for k, v in mkw.items() if k != "device"}, "layers": layers}
            label = f"arch-{a}-n{n}-seed{train_seed}"
            rec = _run_one(label, spec, data, ckpt,
                           train_kw=dict(epochs=ep, lr=lr, batch_size=batch_size, seed=train_seed,
                                         target_train_accuracy=target_train_accuracy),
                           layers=layers, measure_kw=mkw, shuffled=True, device=device, progress=progress)
            ctl = _bn_control(label, spec, data, ckpt, layers=layers, measure_kw=mkw, device=device)
            if ctl is not None:
                rec = dict(rec, results=dict(rec["results"], **ctl["results"]))
            records.append(rec)
            bar.update(1)
    config = {"architectures": archs, "train_sizes": sizes, "train_seed": train_seed, "max_images": max_images,
              "max_epochs": {str(n): e for n, e in budget.items()},
              "epoch_overrides": {a: {str(n): e for n, e in b.items()} for a, b in arch_budget.items()
                                  if b != budget},
              "target_train_accuracy": target_train_accuracy, "lr": lr, "batch_size": batch_size,
              "n_probe": n_probe, "n_test": int(len(data.y_test)), "data": data.name, "image_side": data.side,
              "n_boot": n_boot, "fall_criterion": f"R_init - R_trained > {FALL_SIGMAS:g} x the combined spread "
                                                  "over measurement seeds",
              "measure": {k: v for k, v in mkw.items() if k != "device"},
              "architecture_descriptions": {a: {"description": ARCHITECTURES[a].description,
                                                "pooling": ARCHITECTURES[a].pooling,
                                                "batchnorm": ARCHITECTURES[a].batchnorm,
                                                "last_hidden": ARCHITECTURES[a].last_hidden} for a in archs}}
    study = ArchitectureStudy(records=records, config=config,
                              provenance=provenance(command, seeds={"train": [train_seed],
                                                                    "measure": list(mkw["seeds"]),
                                                                    "bootstrap": 0, "channel_shuffle": 0},
                                                    data={"name": data.name, "train_sizes": sizes,
                                                          "n_test": int(len(data.y_test)), "n_probe": n_probe,
                                                          "image_side": data.side}),
                              counts=_counts(ckpt))
    study.table = _arch_table(study)
    study.correlations = _correlations(study.table, sizes, n_boot)
    return study


def _arch_table(study: ArchitectureStudy) -> List[Dict[str, Any]]:
    rows = []
    for r in study.records:
        arch = ARCHITECTURES[r["architecture"]]
        res = _results(r)
        row: Dict[str, Any] = {"architecture": arch.name, "n_train": r["n_train"], "test_error": r["test_error"],
                               "epochs": r["train"]["epochs"], "converged": r["train"]["converged"],
                               "train_accuracy": r["train"]["train_accuracy"][-1],
                               "train_seconds": r["train"].get("seconds"), "pooling": arch.pooling,
                               "batchnorm": arch.batchnorm, "shuffled_test_accuracy": r["shuffled_test_accuracy"]}
        for where, tag in (("output", "output"), (arch.last_hidden, "hidden")):
            for state in ("init", "trained", "shuffled"):
                if state not in res:
                    row[f"R_{tag}_{state}"] = None
                    continue
                s = _summ(res[state], where)
                row[f"R_{tag}_{state}"] = s["R"]
                row[f"R_{tag}_{state}_sd"] = s["R_std"]
                if state == "trained":
                    row[f"D_{tag}_{state}"], row[f"G_{tag}_{state}"] = s["D"], s["G"]
            if "shuffled" in res:
                row[f"spatial_{tag}"] = row[f"R_{tag}_shuffled"] / row[f"R_{tag}_init"]
                row[f"channel_{tag}"] = row[f"R_{tag}_trained"] / row[f"R_{tag}_shuffled"]
            else:
                row[f"spatial_{tag}"] = row[f"channel_{tag}"] = None
        for state in ("shuffled_running_bn", "init_running_bn", "trained_batch_bn"):
            if state in res:  # BatchNorm nets: the other statistics protocol (see architecture_study)
                for where, tag in (("output", "output"), (arch.last_hidden, "hidden")):
                    row[f"R_{tag}_{state}"] = _summ(res[state], where)["R"]
        if "init_running_bn" in res and "trained_batch_bn" in res:
            # does R_f fall under each single protocol? (batch statistics before and after; running ones)
            row["R_output_falls_batch_bn"] = _falls(_summ(res["init"], "output"),
                                                    _summ(res["trained_batch_bn"], "output"))
            row["R_output_falls_running_bn"] = _falls(_summ(res["init_running_bn"], "output"),
                                                      _summ(res["trained"], "output"))
        row["R_output_falls"] = _falls(_summ(res["init"], "output"), _summ(res["trained"], "output"))
        row["R_hidden_falls"] = _falls(_summ(res["init"], arch.last_hidden), _summ(res["trained"], arch.last_hidden))
        row["R_output_init_below_1"] = row["R_output_init"] + FALL_SIGMAS * row["R_output_init_sd"] < 1.0
        rows.append(row)
    return rows


def _correlations(table: List[Dict[str, Any]], sizes: Sequence[int], n_boot: int) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    groups: List[Tuple[str, List[Dict[str, Any]]]] = [("all", table)]
    if len(sizes) > 1:
        groups += [(f"n{n}", [r for r in table if r["n_train"] == n]) for n in sizes]
    conv = [r for r in table if r["converged"]]
    if 0 < len(conv) < len(table):
        groups.append(("converged", conv))
    for tag in ("output", "hidden"):
        for g, rows in groups:
            key = f"{tag}_{g}"
            x = [r[f"R_{tag}_trained"] for r in rows]
            y = [r["test_error"] for r in rows]
            try:
                out[key] = bootstrap_spearman(x, y, n_boot=n_boot, seed=0,
                                              names=(f"R_f at the {tag} (trained)", "test error")).to_dict()
            except ValueError as exc:
                out[key] = {"rho": None, "reason": str(exc), "n": len(rows)}
    return out


# ---- figures, pages -----------------------------------------------------------------------------

def write_noise_outputs(study: NoiseStudy, out: Any) -> List[Path]:
    """Write noise_study.json, one figure per architecture and noise_study.html into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "noise_study.json"]
    _atomic_write_text(files[0], dumps(study.to_dict()))
    figs = []
    for a in study.config["architectures"]:
        p = out / f"noise_{a}.png"
        fig = plot_states(study.states(a), str(p))
        fig.suptitle(f"{a}: trained with input noise (spread over training and measurement seeds)", fontsize=9)
        fig.tight_layout(rect=(0, 0, 1, 0.97))
        fig.savefig(p, dpi=120)
        figs.append(p)
    files += figs
    html = _html_page("hullscope stability: noise-augmented training", study.provenance,
                      _html_table(study.table, ["architecture", "sigma", "test_accuracy", "D_input_trained",
                                                "D_hidden_trained", "G_hidden_trained", "R_output_init",
                                                "R_output_trained", "D_falls_with_depth", "G_rises_with_depth",
                                                "R_output_falls_seeds"]) + _html_pre(noise_report(study)),
                      figs, study.config["noise_definition"])
    files.append(out / "noise_study.html")
    _atomic_write_text(files[-1], html)
    return files


def write_architecture_outputs(study: ArchitectureStudy, out: Any) -> List[Path]:
    """Write architecture_study.json, the scatter plot, the R_f bar chart and architecture_study.html into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "architecture_study.json"]
    _atomic_write_text(files[0], dumps(study.to_dict()))
    figs = [out / "architectures_scatter.png", out / "architectures_R.png"]
    plot_scatter(study, figs[0])
    plot_R_bars(study, figs[1])
    files += figs
    corr = "<ul>" + "".join(
        f"<li>{k}: rho = {_fmt(v.get('rho'))} [{_fmt(v.get('low'))}, {_fmt(v.get('high'))}] (n = {v.get('n')})</li>"
        for k, v in study.correlations.items()) + "</ul>"
    cols = ["architecture", "n_train", "test_error", "epochs", "converged", "R_output_init", "R_output_trained",
            "R_output_shuffled", "R_hidden_init", "R_hidden_trained", "R_hidden_shuffled", "spatial_output",
            "channel_output", "R_output_falls"]
    html = _html_page("hullscope stability: architectures", study.provenance,
                      "<h2>Spearman rho(R_f trained, test error), bootstrap 95%</h2>" + corr
                      + _html_table(study.table, cols) + _html_pre(architecture_report(study)), figs, "")
    files.append(out / "architecture_study.html")
    _atomic_write_text(files[-1], html)
    return files


def plot_scatter(study: ArchitectureStudy, path: Any = None):
    """Test error against R_f of the trained nets, at the output and at the last hidden layer."""
    from .._plot import subplots

    fig, axes = subplots(1, 2, figsize=(11, 4.5))
    sizes = study.config["train_sizes"]
    markers = ["o", "s", "^", "D", "v"]
    for ax, tag in zip(axes[0], ("output", "hidden")):
        for k, n in enumerate(sizes):
            rows = [r for r in study.table if r["n_train"] == n]
            x = [r[f"R_{tag}_trained"] for r in rows]
            y = [100 * r["test_error"] for r in rows]
            ax.scatter(x, y, marker=markers[k % len(markers)], label=f"{n} training images")
            for r, xi, yi in zip(rows, x, y):
                ax.annotate(r["architecture"], (xi, yi), fontsize=6, xytext=(3, 2), textcoords="offset points")
        c = study.correlations.get(f"{tag}_all", {})
        ttl = (f"Spearman rho = {c['rho']:.2f} [{c['low']:.2f}, {c['high']:.2f}]" if c.get("rho") is not None
               else "no correlation")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"R_f at the {'output' if tag == 'output' else 'last hidden layer'} (trained)")
        ax.set_ylabel("test error (%)")
        ax.set_title(ttl, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_R_bars(study: ArchitectureStudy, path: Any = None):
    """R_f at the output per model: at initialisation, trained and channel-shuffled (log scale)."""
    from .._plot import subplots

    rows = study.table
    fig, axes = subplots(figsize=(max(7.0, 0.5 * len(rows) + 2), 4.5))
    ax = axes[0, 0]
    x = np.arange(len(rows))
    w = 0.27
    for k, (state, col) in enumerate((("init", "tab:grey"), ("trained", "tab:green"), ("shuffled", "tab:purple"))):
        v = [r[f"R_output_{state}"] if r[f"R_output_{state}"] is not None else np.nan for r in rows]
        ax.bar(x + (k - 1) * w, v, w, label=state if state != "shuffled" else "trained, channels shuffled",
               color=col)
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{r['architecture']}\n{r['n_train']}" for r in rows], rotation=70, ha="right", fontsize=7)
    ax.set_ylabel("R_f at the output")
    ax.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


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


def noise_report(study: NoiseStudy) -> str:
    """The noise study as a plain-text table, with what holds."""
    cfg = study.config
    lines = [f"noise-augmented training: {cfg['data']} {cfg['image_side']}x{cfg['image_side']}, "
             f"{cfg['n_train']} training images, {cfg['epochs']} epochs, training seeds {cfg['train_seeds']}, "
             f"{cfg['n_probe']} probe images, measurement seeds {cfg['measure']['seeds']}",
             f"sigma: noise RMS norm / image RMS norm (per-pixel std = sigma x {cfg['noise_pixel_std_per_sigma']:.4f})",
             "values: mean over training seeds; D, G at the input, the last hidden layer (hid) and the output (out)",
             f"{'architecture':<14}{'sigma':>6}{'test acc':>9}{'D in':>9}{'D hid':>9}{'D out':>9}{'G hid':>9}"
             f"{'G out':>9}{'R out 0':>9}{'R out T':>9}  D falls  G rises  R falls"]
    for r in study.table:
        lines.append(f"{r['architecture']:<14}{r['sigma']:>6g}{_g(r['test_accuracy'], 9, 4)}{_g(r['D_input_trained'])}"
                     f"{_g(r['D_hidden_trained'])}{_g(r['D_output_trained'])}{_g(r['G_hidden_trained'])}"
                     f"{_g(r['G_output_trained'])}{_g(r['R_output_init'])}{_g(r['R_output_trained'])}"
                     f"  {_g(r['D_falls_with_depth'], 7)}  {_g(r['G_rises_with_depth'], 7)}"
                     f"  {r['R_output_falls_seeds']:>7}")
    lines.append("(R out 0: at initialisation, BatchNorm on batch statistics; R out T: trained. 'R falls' counts "
                 f"training seeds where R_f at the output fell by more than {FALL_SIGMAS:g} seed spreads.)")
    for a in cfg["architectures"]:
        rows = [r for r in study.table if r["architecture"] == a]
        ok = [f"{r['sigma']:g}" for r in rows if r["D_falls_with_depth"] and r["G_rises_with_depth"]
              and r["R_output_falls_with_training"]]
        bad = [f"{r['sigma']:g}" for r in rows if f"{r['sigma']:g}" not in ok]
        lines.append(f"{a}: the picture (D falls, G rises with depth; R_f at the output falls with training) holds "
                     f"at sigma = {', '.join(ok) or 'none'}" + (f"; not at sigma = {', '.join(bad)}" if bad else ""))
    c = study.counts
    lines.append(f"models: {len(study.records)} ({c['trained']} trained now, {c['resumed_records']} resumed from "
                 f"checkpoints, {c['resumed_weights']} from saved weights)")
    return "\n".join(lines)


def architecture_report(study: ArchitectureStudy) -> str:
    """The architecture study as plain-text tables, the correlations and where R_f falls."""
    cfg = study.config
    lines = [f"architectures: {cfg['data']} {cfg['image_side']}x{cfg['image_side']}, training sizes "
             f"{cfg['train_sizes']}, train until {100 * cfg['target_train_accuracy']:g}% training accuracy or "
             f"at most {', '.join(f'{e} epochs ({n})' for n, e in cfg['max_epochs'].items())}"
             + "".join(f" ({a}: {', '.join(f'{e} ({n})' for n, e in b.items())})"
                       for a, b in cfg.get("epoch_overrides", {}).items()) + ", "
             f"{cfg['n_probe']} probe images, test error on {cfg['n_test']} images",
             f"{'architecture':<18}{'n':>6}{'ep':>4}{'conv':>5}{'test err':>9}{'R out 0':>9}{'R out T':>9}"
             f"{'R out sh':>9}{'R hid 0':>9}{'R hid T':>9}{'R hid sh':>9}{'spatial':>9}{'channel':>9}  falls"]
    for r in study.table:
        lines.append(f"{r['architecture']:<18}{r['n_train']:>6}{r['epochs']:>4}{'yes' if r['converged'] else 'no':>5}"
                     f"{_g(r['test_error'], 9, 3)}{_g(r['R_output_init'])}{_g(r['R_output_trained'])}"
                     f"{_g(r['R_output_shuffled'])}{_g(r['R_hidden_init'])}{_g(r['R_hidden_trained'])}"
                     f"{_g(r['R_hidden_shuffled'])}{_g(r['spatial_output'])}{_g(r['channel_output'])}"
                     f"  {'yes' if r['R_output_falls'] else 'no'}")
    lines.append("(0: initialisation, BatchNorm on batch statistics; T: trained; sh: trained, conv channels shuffled. "
                 "spatial = R out sh / R out 0, channel = R out T / R out sh, spatial x channel = R out T / R out 0: "
                 "a factor < 1 is stability that part brings.)")
    lines.append("Spearman rho between R_f of the trained nets and test error (percentile bootstrap "
                 f"{cfg['n_boot']} resamples, 95%):")
    for k, v in study.correlations.items():
        if v.get("rho") is None:
            lines.append(f"  {k:<14} n/a: {v.get('reason')}")
        else:
            lines.append(f"  {k:<14} rho = {v['rho']:+.3f}  [{v['low']:+.3f}, {v['high']:+.3f}]  (n = {v['n']})")
    for tag, name in (("output", "at the output"), ("hidden", "at the last hidden layer")):
        falls = sorted({f"{r['architecture']}" for r in study.table if r[f"R_{tag}_falls"]})
        every = [a for a in cfg["architectures"]
                 if all(r[f"R_{tag}_falls"] for r in study.table if r["architecture"] == a)]
        never = [a for a in cfg["architectures"]
                 if not any(r[f"R_{tag}_falls"] for r in study.table if r["architecture"] == a)]
        lines.append(f"R_f {name} falls with training at every size for: {', '.join(every) or 'none'}; "
                     f"at no size for: {', '.join(never) or 'none'}"
                     + (f"; at some sizes for: {', '.join(a for a in falls if a not in every)}"
                        if set(falls) - set(every) else ""))
    bn_rows = [r for r in study.table if "R_output_falls_batch_bn" in r]
    if bn_rows:
        lines.append("BatchNorm nets under one statistics protocol (R out: init -> trained):")
        for r in bn_rows:
            lines.append(f"  {r['architecture']:<18}{r['n_train']:>6}  batch statistics {r['R_output_init']:.3g} -> "
                         f"{r['R_output_trained_batch_bn']:.3g} ({_verb(r['R_output_falls_batch_bn'])})"
                         f";  running statistics {r['R_output_init_running_bn']:.3g} -> {r['R_output_trained']:.3g} "
                         f"({_verb(r['R_output_falls_running_bn'])})")
    robust = [a for a in cfg["architectures"]
              if all(r["R_output_falls"] and r.get("R_output_falls_batch_bn", True) and
                     r.get("R_output_falls_running_bn", True) for r in study.table if r["architecture"] == a)]
    unconv = {r["architecture"] for r in study.table if not r["converged"]}
    lines.append("R_f at the output falls with training at every size and under every BatchNorm statistics "
                 "protocol for: " + (", ".join(a + (" (did not reach the target training accuracy)" if a in unconv
                                                    else "") for a in robust) or "none"))
    below = [a for a in cfg["architectures"] if any(r["R_output_init_below_1"] for r in study.table
                                                      if r["architecture"] == a)]
    above = [a for a in cfg["architectures"] if a not in below]
    lines.append(f"R_f at the output below 1 at initialisation (by more than {FALL_SIGMAS:g} seed spreads): "
                 + ("; ".join(f"{a} ({ARCHITECTURES[a].pooling})" for a in below) or "none")
                 + ". Not below 1: " + ("; ".join(f"{a} ({ARCHITECTURES[a].pooling})" for a in above) or "none"))
    lines.append("(pooling theory: pooling rectified activations, by a max or a global average, shifts every unit "
                 "of the noisy representation upwards coherently, raising G_f, and tolerates small displacements, "
                 "lowering D_f; subsampling by stride and dense readouts do neither, and BatchNorm on batch "
                 "statistics largely removes the coherent shift again)")
    c = study.counts
    lines.append(f"models: {len(study.records)} ({c['trained']} trained now, {c['resumed_records']} resumed from "
                 f"checkpoints, {c['resumed_weights']} from saved weights)")
    return "\n".join(lines)
