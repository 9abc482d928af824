"""The over-parameterization study as one call: :func:`run_overparam` trains the width and regime families
(checkpointed per model, resumable), measures every model, compares models inside and outside the pixel
training hull, correlates every measure with test error, runs the exact low-dimensional illustration, and
writes report.json, figures and index.html (used by ``hullscope overparam`` and ``bench/overparam.py``)."""
from __future__ import annotations

import hashlib
import math
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._json import write_json
from .agreement import KS, RAY_TS, AgreementSets, build_sets, summarize
from .families import (CONTROL_REGIMES, REGIME_NOTES, REGIMES, ModelSpec, build_model, check_architectures,
                       check_family, check_seeds, check_widths, param_count, predict, regime_family, train_model,
                       width_family)
from .measures import SCALAR_MEASURES, measure_model
from .stats import claim_verdict, correlation_table

__all__ = ["load_data", "check_data", "plan_family", "run_overparam", "DEFAULTS"]

OUTSIDE_SET = "outside (pixel rays, t in (1, 3])"

#: The embedded default (digits) and the full study (MNIST).
DEFAULTS: Dict[str, Dict[str, Any]] = {
    "digits": {"archs": {"cnn": [2, 8, 24], "mlp": [1, 4, 16, 48]}, "seeds": [0, 1], "regime_arch": "mlp",
               "regime_width": 12, "regime_seeds": [0], "max_epochs": 30, "points": 100, "n_train": None,
               "n_test": None, "downsample": 1},
    "mnist": {"archs": {"cnn": [1, 2, 4, 8, 16, 32], "mlp": [1, 2, 4, 8, 16, 32]}, "seeds": [0, 1],
              "regime_arch": "cnn", "regime_width": 16, "regime_seeds": [0, 1], "max_epochs": 40, "points": 200,
              "n_train": 5000, "n_test": 1000, "downsample": 1},
}


# ---------------------------------------------------------------------------------------------- data
def check_data(Xtr: Any, ytr: Any, Xte: Any, yte: Any) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Images (N, C, H, W) float32 and int labels; errors name the argument (one class is refused)."""
    out = []
    for name, X in (("X_train", Xtr), ("X_test", Xte)):
        a = np.asarray(X)
        if a.ndim == 3:
            a = a[:, None]
        if a.ndim != 4 or a.shape[0] == 0:
            raise ValueError(f"{name}: expected a non-empty batch of images (N, C, H, W), got shape {a.shape}")
        if not np.issubdtype(a.dtype, np.number) or not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: expected finite numbers")
        out.append(a.astype(np.float32))
    ys = []
    for name, y, X in (("y_train", ytr, out[0]), ("y_test", yte, out[1])):
        a = np.asarray(y)
        if a.shape != (len(X),) or not np.issubdtype(a.dtype, np.integer) or (a.size and a.min() < 0):
            raise ValueError(f"{name}: expected {len(X)} integer labels >= 0, got shape {a.shape}, dtype {a.dtype}")
        ys.append(a.astype(np.int64))
    if out[0].shape[1:] != out[1].shape[1:]:
        raise ValueError(f"X_test: image shape {out[1].shape[1:]} differs from X_train's {out[0].shape[1:]}")
    if len(np.unique(ys[0])) < 2:
        raise ValueError(f"y_train: the training set has a single class ({int(ys[0][0])}); classifiers, decision "
                         "regions and agreement need at least 2 classes")
    return out[0], ys[0], out[1], ys[1]


def load_data(name: str, *, n_train: Optional[int] = None, n_test: Optional[int] = None, seed: int = 0,
              downsample: int = 1) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """'digits' (embedded, stratified 75/25 split) or 'mnist' (IDX files; the first n_train / n_test images).
    ``downsample=2`` averages 2x2 pixel blocks (MNIST at 14x14)."""
    if name == "digits":
        from ..datasets import split_digits_images

        Xtr, ytr, Xte, yte = split_digits_images(seed)
        desc = "scikit-learn digits (8x8), stratified 75/25 split"
    elif name == "mnist":
        from ..datasets import load_mnist

        d = load_mnist(n_train=n_train, n_test=n_test)
        Xtr, ytr, Xte, yte = d.X_train[:, None], d.y_train, d.X_test[:, None], d.y_test
        desc = "MNIST (28x28, IDX)"
    else:
        raise ValueError(f"data: expected 'digits' or 'mnist', got {name!r}")
    Xtr, ytr = Xtr[:n_train], ytr[:n_train]
    Xte, yte = Xte[:n_test], yte[:n_test]
    if isinstance(downsample, bool) or not isinstance(downsample, (int, np.integer)) or downsample < 1:
        raise ValueError(f"downsample: expected an int >= 1, got {downsample!r}")
    if downsample > 1:
        f = int(downsample)

        def pool(X):
            N, C, H, W = X.shape
            X = X[:, :, :H - H % f, :W - W % f]
            return X.reshape(N, C, H // f, f, W // f, f).mean(axis=(3, 5))

        Xtr, Xte = pool(np.asarray(Xtr, np.float64)), pool(np.asarray(Xte, np.float64))
        desc += f", {f}x{f} block averages ({Xtr.shape[-2]}x{Xtr.shape[-1]})"
    desc += f", first {len(Xtr)} training and {len(Xte)} test images"
    return (*check_data(Xtr, ytr, Xte, yte), desc)


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def plan_family(family: Any, *, archs: Sequence[str] = ("cnn", "mlp"), widths: Any = (1, 4, 12, 48),
                seeds: Sequence[int] = (0, 1), regimes: Sequence[str] = tuple(REGIMES), regime_arch: str = "cnn",
                regime_width: int = 12, regime_seeds: Optional[Sequence[int]] = None,
                max_epochs: int = 60) -> List[ModelSpec]:
    """Every model of the requested families, in training order (bad arguments raise, naming themselves).
    ``widths``: multipliers for every architecture in ``archs``, or a dict architecture -> multipliers."""
    fam = check_family(family)
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, (int, np.integer)) or max_epochs < 1:
        raise ValueError(f"max_epochs: expected an int >= 1, got {max_epochs!r}")
    specs: List[ModelSpec] = []
    if "width" in fam:
        if isinstance(widths, dict):  # per architecture
            if not widths:
                raise ValueError("widths: expected at least one architecture's width multipliers, got none")
            for a, ws in widths.items():
                specs += width_family([a], check_widths(ws), seeds, int(max_epochs))
        else:
            specs += width_family(archs, widths, seeds, int(max_epochs))
    if "regime" in fam:
        check_widths([regime_width], "regime_width")
        check_architectures([regime_arch])
        specs += regime_family(regime_arch, int(regime_width), regimes,
                               seeds if regime_seeds is None else regime_seeds, int(max_epochs))
    return specs


# ---------------------------------------------------------------------------------------------- one model
def _load_or_train(spec: ModelSpec, cspec: Dict[str, Any], ckpt: Any, Xtr, ytr, K: int, progress: bool):
    blob = ckpt.load_weights(spec.key, cspec)
    if blob is not None:
        import torch

        torch.manual_seed(spec.seed)
        model = build_model(spec.arch, spec.width, Xtr.shape[1:], K)
        model.load_state_dict(blob["state_dict"])
        model.eval()
        return model, blob["train_log"], False
    model, tlog = train_model(spec, Xtr, ytr, K, progress=progress)
    ckpt.trained += 1
    ckpt.save_weights(spec.key, cspec, model, tlog)
    return model, tlog, True


def _model_record(spec: ModelSpec, model: Any, tlog: Dict[str, Any], Xtr, ytr, Xte, yte, sets: AgreementSets,
                  K: int, threads: Optional[int], progress: bool) -> Dict[str, Any]:
    t0 = time.perf_counter()
    meas = measure_model(model, Xtr, ytr, Xte, yte, threads=threads, progress=progress)
    preds = {name: predict(model, pts).tolist() for name, pts in sets.all_sets(Xte).items()}
    p = param_count(spec.arch, spec.width, Xtr.shape[1:], K)
    return {"key": spec.key, **spec.to_dict(), "params": p, "params_over_n": p / len(Xtr),
            "log10_params": math.log10(p), "train_log": tlog, **meas,
            "relative_weight_change": tlog["relative_weight_change"],
            "seconds_train": tlog["seconds"], "seconds_measure": time.perf_counter() - t0, "predictions": preds}


# ---------------------------------------------------------------------------------------------- the run
def run_overparam(Xtr: Any, ytr: Any, Xte: Any, yte: Any, out: Any, *, family: Any = "both",
                  archs: Sequence[str] = ("cnn", "mlp"), widths: Any = (1, 4, 12, 48),
                  seeds: Sequence[int] = (0, 1), regimes: Sequence[str] = tuple(REGIMES), regime_arch: str = "cnn",
                  regime_width: int = 12, regime_seeds: Optional[Sequence[int]] = None, max_epochs: int = 60,
                  points: int = 100, threads: Optional[int] = None, progress: bool = True, n_boot: int = 2000,
                  illustration: bool = True, meta: Optional[Dict[str, Any]] = None,
                  after_model: Optional[Callable[[int, ModelSpec, Dict[str, Any]], None]] = None,
                  log: Any = print) -> Dict[str, Any]:
    """Train, measure and compare the families; write report.json, figures and index.html into ``out``.

    Each model is checkpointed in ``out/checkpoints`` (weights, then its measures) under a fingerprint of
    its specification, the data and the agreement sets: a rerun with the same arguments trains only what is
    missing. ``after_model(i, spec, record)`` is called after each model (the tests use it to interrupt a run).
    Returns report.json's content; ``report["run"]`` counts the models trained and resumed in this call.
    """
    from .._progress import progress_bar
    from .._validation import writable_dir
    from ..stability.study_base import Checkpoints

    specs = plan_family(family, archs=archs, widths=widths, seeds=seeds, regimes=regimes, regime_arch=regime_arch,
                        regime_width=regime_width, regime_seeds=regime_seeds, max_epochs=max_epochs)
    Xtr, ytr, Xte, yte = check_data(Xtr, ytr, Xte, yte)
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 1:
        raise ValueError(f"points: expected an int >= 1 (Dirichlet points per inside set), got {points!r}")
    d = writable_dir(out, "out")
    ckpt = Checkpoints(d / "checkpoints")
    K = int(max(ytr.max(), yte.max()) + 1)
    t_all = time.perf_counter()
    import torch

    prov = dict(meta or {})
    prov.update(torch_threads=torch.get_num_threads(), n_train=int(len(Xtr)), n_test=int(len(Xte)),
                families=check_family(family), seeds=check_seeds(seeds), max_epochs=int(max_epochs),
                points_per_inside_set=int(points), ks=list(KS), ray_t=list(RAY_TS))
    report: Dict[str, Any] = {"provenance": prov, "regimes": {r: REGIME_NOTES[r] for r in REGIMES},
                              "measures": SCALAR_MEASURES, "models": [], "agreement": {}, "correlations": {},
                              "claim": {}, "illustration": {}, "sets": {}, "verified": {}, "steps": {}}

    def save():
        report["provenance"]["seconds_so_far"] = time.perf_counter() - t_all
        write_json(d / "report.json", report)

    # the shared point sets: inside (certified Dirichlet combinations), outside (pixel rays), test
    t0 = time.perf_counter()
    log(f"agreement sets: {points} Dirichlet points per (k, selection), pixel rays at t = {list(RAY_TS)}")
    sets = build_sets(Xtr, Xte, m=int(points), seed=0, threads=threads, progress=progress, log=log)
    report["sets"] = {"certified": sets.certified, "test_outside_pixel_hull": sets.n_test_outside,
                      "outside_points": int(len(sets.outside)), "digest": sets.digest}
    report["verified"].update(sets.verified)
    report["steps"]["agreement sets (hull certificates)"] = time.perf_counter() - t0
    data_digest = _digest(Xtr, ytr, Xte, yte)
    save()
    trained_now: List[str] = []
    preds_all: Dict[str, Dict[str, Any]] = {}
    with progress_bar(progress, len(specs), "models", unit="model") as bar:
        for i, spec in enumerate(specs):
            cspec = dict(spec.to_dict(), data=data_digest, sets=sets.digest, n_classes=K)
            rec = ckpt.load_record(spec.key, cspec)
            if rec is None:
                t0 = time.perf_counter()
                model, tlog, fresh = _load_or_train(spec, cspec, ckpt, Xtr, ytr, K, progress)
                if fresh:
                    trained_now.append(spec.key)
                rec = _model_record(spec, model, tlog, Xtr, ytr, Xte, yte, sets, K, threads, progress)
                rec["seconds_total"] = time.perf_counter() - t0
                ckpt.measured += 1
                ckpt.save_record(spec.key, cspec, rec)
                log(f"[{i + 1}/{len(specs)}] {spec.key}: {rec['params']} params ({rec['params_over_n']:.2g} n), "
                    f"{tlog['stopped']} after {tlog['epochs']} epochs; test acc {rec['test_accuracy']:.3f}; "
                    f"train {rec['seconds_train']:.1f} s, measures {rec['seconds_measure']:.1f} s")
            else:
                log(f"[{i + 1}/{len(specs)}] {spec.key}: from checkpoint")
            report["models"].append({k: v for k, v in rec.items() if k not in ("predictions", "spec")})
            report["verified"][f"model {spec.key}"] = {"ok": bool(rec["all_verified"]),
                                                       "checked": len(rec["verified"]), "failures": [
                k for k, v in rec["verified"].items() if not v["ok"]]}
            preds_all[spec.key] = rec["predictions"]
            bar.update(1)
            if after_model is not None:
                after_model(i, spec, rec)
    report["run"] = {"models": len(specs), "trained_in_this_run": len(trained_now),
                     "trained_keys": trained_now, "resumed_records": ckpt.resumed_records,
                     "resumed_weights": ckpt.resumed_weights}
    # agreement, correlations and the claim, per family
    t0 = time.perf_counter()
    inside_sets = list(sets.inside)
    models = report["models"]
    groups = {"width": [m for m in models if m["family"] == "width"],
              "regime": [m for m in models if m["family"] == "regime"]}
    if any(m["regime"] in CONTROL_REGIMES for m in groups["regime"]):
        groups["regime without the random-label control"] = [m for m in groups["regime"]
                                                              if m["regime"] not in CONTROL_REGIMES]
    corr_measures = [m for m in SCALAR_MEASURES]
    for g, ms in groups.items():
        if len(ms) < 2:
            continue
        keys = [m["key"] for m in ms]
        P = {s: np.array([preds_all[k][s] for k in keys]) for s in preds_all[keys[0]]}
        ag = summarize(P, keys)
        dis_in = np.mean([ag["sets"][s]["disagreement_per_model"] for s in inside_sets if s in ag["sets"]], axis=0)
        per = []
        for j, m in enumerate(ms):
            r = {k: m.get(k) for k in corr_measures + ["test_error", "key"]}
            r["disagreement_inside"] = float(dis_in[j])
            for sel in ("knn", "random"):
                ds = [ag["sets"][s]["disagreement_per_model"][j] for s in inside_sets
                      if s.startswith(sel) and s in ag["sets"]]
                r[f"disagreement_inside_{sel}"] = float(np.mean(ds)) if ds else float("nan")
            r["disagreement_outside"] = float(ag["sets"][OUTSIDE_SET]["disagreement_per_model"][j]) \
                if OUTSIDE_SET in ag["sets"] else float("nan")
            r["disagreement_test"] = float(ag["sets"]["test"]["disagreement_per_model"][j])
            per.append(r)
        report["agreement"][g] = {"models": keys, "per_model": per, "sets": ag["sets"],
                                  "mean_inside": float(np.mean([ag["sets"][s]["mean"] for s in inside_sets
                                                                if s in ag["sets"]])),
                                  "mean_outside": ag["sets"].get(OUTSIDE_SET, {}).get("mean"),
                                  "mean_test": ag["sets"]["test"]["mean"]}
        if len(ms) >= 3:
            report["correlations"][g] = correlation_table(per, corr_measures, n_boot=n_boot)
        else:
            report["correlations"][g] = {}
        report["claim"][g] = claim_verdict(ag, report["correlations"][g], inside_sets, OUTSIDE_SET)
        c = report["claim"][g]
        a = report["agreement"][g]
        log(f"{g}: agreement inside {a['mean_inside']:.3f}, outside {a['mean_outside'] or float('nan'):.3f}, "
            f"test {a['mean_test']:.3f}")
        for part in c.values():
            log(f"  {part['sentence']}")
    report["steps"]["agreement and correlations"] = time.perf_counter() - t0
    save()
    # the exact illustration
    ill = {}
    if illustration:
        from .illustration import run_illustration

        t0 = time.perf_counter()
        ill = run_illustration(seed=0, threads=threads)
        report["illustration"] = {f"{k}-D": v.summary() for k, v in ill.items()}
        report["steps"]["illustration"] = time.perf_counter() - t0
        for k, v in ill.items():
            log(f"illustration {k}-D (n = {v.n}), p = {v.ps}: rms (GD limit - min norm) inside the hull "
                + ", ".join(f"{a:.2g}" for a in v.rms_gap_limit_inside) + " vs outside "
                + ", ".join(f"{a:.2g}" for a in v.rms_gap_limit_outside) + f"; GD iterate after {v.gd_steps} "
                "steps: inside " + ", ".join(f"{a:.2g}" for a in v.rms_gap_inside) + " vs outside "
                + ", ".join(f"{a:.2g}" for a in v.rms_gap_outside))
    # figures and the page
    t0 = time.perf_counter()
    from .plots import write_figures, write_html

    figs = write_figures(d, report, ill, sets, Xte)
    report["steps"]["figures"] = time.perf_counter() - t0
    report["provenance"]["seconds"] = time.perf_counter() - t_all
    report["all_verified"] = all(v["ok"] for v in report["verified"].values())
    save()
    write_html(d, report, figs)
    return report
