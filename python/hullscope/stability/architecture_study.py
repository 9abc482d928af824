"""The architecture study: a zoo of nets at several training-set sizes, test error against R_f with
Spearman's correlation and a bootstrap interval (see :mod:`hullscope.stability.studies`)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .._progress import progress_bar
from .architectures import ARCHITECTURES
from .observables import _check_seeds
from .stats import bootstrap_spearman, dumps
from .study_base import (_counts, Checkpoints, FALL_SIGMAS, StudyData, _atomic_write_text, _bn_control, _check_archs,
                         _check_int, _falls, _fmt, _g, _html_page, _html_pre, _html_table, _measure_kw, _results,
                         _run_one, _summ, _verb, provenance)


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
