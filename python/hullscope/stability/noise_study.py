"""The noise study: nets trained with additive Gaussian noise on their inputs, D_f, G_f and R_f against
depth before and after training, over training seeds (see :mod:`hullscope.stability.studies`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence


from .._progress import progress_bar
from .architectures import ARCHITECTURES
from .observables import StabilityResult, _check_seeds, plot_states
from .stats import dumps
from .study_base import (_counts, _mean_sd, Checkpoints, DEFAULT_NOISE_ARCHITECTURES, DEFAULT_SIGMAS, FALL_SIGMAS, StudyData,
                         _atomic_write_text, _check_archs, _check_int, _falls, _g, _html_page, _html_pre,
                         _html_table, _measure_kw, _results, _run_one, _stack, _summ, check_sigma, noise_scale,
                         provenance)


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
