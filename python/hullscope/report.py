"""The report folder of ``hullscope demo`` and ``hullscope analyze``: report.json (strict JSON, with a
provenance block), one samples CSV per space, PNG figures and a self-contained index.html."""
from __future__ import annotations

import base64
import csv
import datetime
import html
import math
import platform
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from ._json import write_json
from ._plot import subplots
from ._validation import writable_dir

__all__ = ["write_report", "provenance", "write_samples_csv", "COLUMN_DEFINITIONS"]

#: What each column of the space table means (printed under the table).
COLUMN_DEFINITIONS = {
    "dim": "number of features of the space",
    "test outside hull": "share of test samples certified outside conv(training samples) (a separating "
                         "hyperplane with margin > tol)",
    "train outside hull of the others": "the baseline: share of training samples outside the hull of the "
                                        "other training samples (leave-one-out, on n sampled rows)",
    "median hull dist.": "median Euclidean distance from a test sample to the training hull (units of the space)",
    "median NN dist.": "median distance from a test sample to its nearest training sample",
    "median hull/NN": "median of the per-sample ratio hull distance / nearest-neighbour distance",
    "typical training NN dist.": "median distance from a training sample to its nearest other training "
                                 "sample: the unit of distance of the space",
    "weight on own class": "median share of the convex weights of the nearest hull point that falls on "
                           "training samples of the test sample's own class",
    "in own-class hull": "share of test samples certified inside the hull of the training samples of their "
                         "own class",
    "certificates verified": "hull certificates re-checked in numpy (test queries and leave-one-out sample)",
}


def provenance(*, command: Optional[str] = None, seeds: Any = None, rtol: Optional[float] = None,
               threads: Any = None, data: Optional[str] = None, sizes: Optional[Dict[str, int]] = None,
               model: Optional[str] = None, test_accuracy: Optional[float] = None, **extra: Any) -> Dict[str, Any]:
    """The block every report.json and index.html carries: what produced the numbers, so they can be cited.

    ``command`` defaults to this process's command line; the hullscope version, Python, platform and the
    UTC date are added. Extra keywords are kept as given.
    """
    from . import __version__
    from .hull.options import DEFAULTS

    return {"hullscope_version": __version__,
            "command": command if command is not None else " ".join(["hullscope"] + sys.argv[1:]),
            "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "platform": platform.platform(),
            "seeds": seeds, "rtol": DEFAULTS.rtol if rtol is None else rtol,
            "threads": "all cores" if threads in (None, -1, 0) else threads,
            "data": data, "sizes": sizes or {}, "model": model, "test_accuracy": test_accuracy, **extra}


def _clean(v: float, unit: float) -> float:
    """Rounding noise prints as 0: values below 1e-9 of the space's unit of distance."""
    return 0.0 if (v is not None and math.isfinite(v) and abs(v) <= 1e-9 * max(unit, 1e-300)) else v


def _fmt(v: Any, spec: str = ".3g", pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if pct:
        return f"{100 * v:.1f}%"
    return "0" if v == 0 else format(v, spec)


def write_samples_csv(path: Path, a: Any, y_test: Any = None, pred: Any = None) -> None:
    """One row per test sample of a space: index, label, prediction, status, hull distance, NN distance,
    their ratio and the own-class weight."""
    r = a.result
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["index", "label", "prediction", "status", "hull_distance", "nn_distance", "hull_over_nn",
                    "own_class_weight", "in_own_class_hull"])
        for i, rec in enumerate(r.records()):
            lab = "" if y_test is None else int(y_test[i])
            prd = "" if pred is None else int(pred[i])
            ratio = rec["hull_over_nn"]
            w.writerow([i, lab, prd, rec["status"], f"{_clean(rec['distance'], a.typical_nn):.6g}",
                        f"{rec['nn_distance']:.6g}", "" if not math.isfinite(ratio) else f"{ratio:.6g}",
                        f"{a.own_class_weight[i]:.6g}", bool(a.in_own_class_hull[i])])


def _grid(k: int, max_cols: int = 3):
    cols = min(k, max_cols)
    return int(math.ceil(k / cols)), cols


def _fig_distances(analyses: Dict[str, Any], path: Path) -> None:
    rows, cols = _grid(len(analyses))
    fig, axes = subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows))
    flat = axes.ravel()
    for ax, (name, a) in zip(flat, analyses.items()):
        r = a.result
        h, n = r.distance / a.typical_nn, r.nn_distance / a.typical_nn
        bins = np.linspace(0.0, float(max(h.max(), n.max(), 1e-12)), 31)   # the same bins for both
        ax.hist(h, bins=bins, color="tab:blue", alpha=0.7, label="to the training hull")
        ax.hist(n, bins=bins, color="tab:orange", alpha=0.6, label="to the nearest training sample")
        ax.set_title("\n".join(textwrap.wrap(f"{name}: {100 * a.summary['fraction_outside']:.1f}% outside "
                                             f"(baseline {_fmt(a.summary.get('loo_fraction_outside'), pct=True)})",
                                             45)), fontsize=10)
        ax.set_xlabel("distance / typical training NN distance")
        ax.set_ylabel("test samples")
        ax.legend(fontsize=8)
    for ax in flat[len(analyses):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _fig_scatter(analyses: Dict[str, Any], path: Path) -> None:
    rows, cols = _grid(len(analyses))
    fig, axes = subplots(rows, cols, figsize=(4.6 * cols, 3.8 * rows))
    flat = axes.ravel()
    for ax, (name, a) in zip(flat, analyses.items()):
        r = a.result
        ax.scatter(r.nn_distance, r.distance, s=6, alpha=0.5)
        m = float(max(r.nn_distance.max(), 1e-12))
        ax.plot([0, m], [0, m], "k--", lw=0.8, label="hull = nearest sample")
        ax.set_xlabel("distance to nearest training sample")
        ax.set_ylabel("distance to training hull")
        ax.set_title("\n".join(textwrap.wrap(name, 40)), fontsize=10)
        ax.legend(fontsize=8)
    for ax in flat[len(analyses):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _fig_nearest_images(a: Any, X_test_img: np.ndarray, X_train_img: np.ndarray, y_train: np.ndarray,
                        path: Path, y_test: Any = None, pred: Any = None, n: int = 6) -> str:
    """Test images at evenly spaced ranks of their hull distance; returns how they were picked."""
    r = a.result
    order = np.argsort(r.distance)[:: max(1, len(r) // n)][:n]
    shape = X_test_img.shape[1:]
    fig, axes = subplots(3, n, figsize=(1.9 * n, 6.0))
    for j, i in enumerate(order):
        idx, w = r.support(i)
        top = idx[np.argmax(w)]
        lab = "" if y_test is None else f" true {int(y_test[i])}"
        prd = "" if pred is None else f" pred {int(pred[i])}"
        axes[0, j].imshow(X_test_img[i], cmap="gray_r")
        axes[0, j].set_title(f"test #{i}\n{lab}{prd}".strip(), fontsize=8)
        axes[1, j].imshow(r.nearest[i].reshape(shape), cmap="gray_r")
        axes[1, j].set_title(f"hull point, d={_fmt(_clean(float(r.distance[i]), a.typical_nn), '.2f')}", fontsize=8)
        axes[2, j].imshow(X_train_img[top], cmap="gray_r")
        axes[2, j].set_title(f"weight {w.max():.2f}, label {y_train[top]}", fontsize=8)
        for ax in axes[:, j]:
            ax.axis("off")
    how = (f"{len(order)} test images at evenly spaced ranks of their hull distance (nearest to farthest, every "
           f"{max(1, len(r) // n)}th); rows: the test image (true and predicted class), the nearest point of the "
           "training hull, the training image with the largest convex weight (its label)")
    fig.suptitle("test image / nearest point of the training hull / its heaviest training image", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return how


def _fig_roc(ood: Dict[str, Any], path: Path) -> None:
    fig, axes = subplots(figsize=(5, 4.6))
    ax = axes[0, 0]
    n_in = n_out = 0
    for label, (s_in, s_out) in ood["scores"].items():
        s_in, s_out = np.asarray(s_in), np.asarray(s_out)
        n_in, n_out = len(s_in), len(s_out)
        thr = np.unique(np.concatenate([s_in, s_out]))[::-1]
        # counts at or above each threshold, by sorting: O(n log n)
        tpr = (len(s_out) - np.searchsorted(np.sort(s_out), thr, side="left")) / len(s_out)
        fpr = (len(s_in) - np.searchsorted(np.sort(s_in), thr, side="left")) / len(s_in)
        lo, hi = ood["auroc_interval"][label]
        ax.plot(np.r_[0, fpr, 1], np.r_[0, tpr, 1],
                label=f"{label}: AUROC {ood['auroc'][label]:.3f} [{lo:.3f}, {hi:.3f}]")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel(f"false positive rate ({n_in} in-distribution test samples)")
    ax.set_ylabel(f"true positive rate ({n_out} OOD samples)")
    ax.set_title("\n".join(textwrap.wrap(f"OOD: {ood['name']} (95% bootstrap intervals)", 45)), fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _img_tag(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.name)}">'


def _space_row(name: str, s: Dict[str, Any]) -> str:
    unit = s.get("typical_train_nn_distance") or 1.0
    loo = s.get("loo_fraction_outside")
    loo_txt = "n/a" if loo is None or (isinstance(loo, float) and math.isnan(loo)) else \
        f"{100 * loo:.1f}% (n={s.get('loo_n')})"
    own_hull = s.get("fraction_in_own_class_hull")
    cells = [html.escape(name), str(s["dim"]), _fmt(s["fraction_outside"], pct=True), loo_txt,
             _fmt(_clean(s["median_hull_distance"], unit)), _fmt(s["median_nn_distance"]),
             _fmt(_clean(s["median_hull_over_nn"], 1.0), ".3f"), _fmt(s.get("typical_train_nn_distance")),
             _fmt(s["median_own_class_weight"], ".2f"), _fmt(own_hull, pct=True),
             str(s.get("certificates_verified", "n/a"))]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


_HEADER = ("<tr><th>" + "</th><th>".join(["space"] + list(COLUMN_DEFINITIONS)) + "</th></tr>")


def write_report(out: Any, analyses: Dict[str, Any], *, tabular: Optional[Dict[str, Dict[str, float]]] = None,
                 ood: Optional[Dict[str, Any]] = None, images: Optional[Dict[str, np.ndarray]] = None,
                 meta: Optional[Dict[str, Any]] = None, predictions: Optional[Dict[str, Any]] = None,
                 labels: Any = None) -> Path:
    """Write report.json, samples-<space>.csv, figures and index.html into ``out``; return the folder.

    ``analyses``: {space name: SpaceAnalysis}. ``images``: {'test', 'train', 'y_train'} for the
    nearest-hull-point figure of the 'pixels' space. ``ood``: {'name', 'auroc', 'auroc_interval',
    'scores'}. ``meta``: the provenance block (see :func:`provenance`). ``labels``: the test labels and
    ``predictions``: {space: predicted classes} (or one array for all spaces) for the samples tables.
    """
    d = writable_dir(out, "out")
    figs: List[tuple] = []
    _fig_distances(analyses, d / "distances.png")
    figs.append(("Distances to the training hull and to the nearest training sample",
                 "Histograms over test samples, same bins for both; distances divided by the space's typical "
                 "training nearest-neighbour distance.", d / "distances.png"))
    _fig_scatter(analyses, d / "hull_vs_nn.png")
    figs.append(("Hull distance against nearest-neighbour distance", "One point per test sample; on the dashed "
                 "line the nearest hull point is a single training sample.", d / "hull_vs_nn.png"))
    pred_of = (lambda name: predictions.get(name) if isinstance(predictions, dict) else predictions)
    if images is not None and "pixels" in analyses:
        how = _fig_nearest_images(analyses["pixels"], images["test"], images["train"], images["y_train"],
                                  d / "nearest_hull_points.png", y_test=labels, pred=pred_of("pixels"))
        figs.append(("The nearest hull point is itself an image", how, d / "nearest_hull_points.png"))
    if ood is not None:
        _fig_roc(ood, d / "ood_roc.png")
        figs.append(("Hull distance as an out-of-distribution score",
                     "ROC curves of separating OOD samples from held-out in-distribution test samples by their "
                     "distance; intervals from 1,000 bootstrap resamples.", d / "ood_roc.png"))
    csvs = {}
    for name, a in analyses.items():
        safe = "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")
        f = d / f"samples-{safe}.csv"
        write_samples_csv(f, a, labels, pred_of(name))
        csvs[name] = f.name
    report = {"provenance": meta or {}, "column_definitions": COLUMN_DEFINITIONS,
              "spaces": {k: a.summary for k, a in analyses.items()}, "samples_csv": csvs,
              "tabular_contrast": tabular or {},
              "ood": None if ood is None else {"name": ood["name"], "auroc": ood["auroc"],
                                               "auroc_interval_95": ood.get("auroc_interval"),
                                               "n_in": ood.get("n_in"), "n_out": ood.get("n_out")}}
    write_json(d / "report.json", report)
    rows = "".join(_space_row(k, s) for k, s in report["spaces"].items())
    tab_rows = "".join(_space_row(k, s) for k, s in report["tabular_contrast"].items())
    captions = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in COLUMN_DEFINITIONS.items())
    body = "".join(f"<h2>{html.escape(t)}</h2><p class=cap>{html.escape(c)}</p>{_img_tag(p)}" for t, c, p in figs)
    prov = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                   for k, v in (meta or {}).items())
    tab_html = "" if not tab_rows else f"""<h2>Tabular data sets (the contrast)</h2>
<p>Small tabular sets, where deep learning has no edge, each split 75/25 and standardised.</p>
<table>{_HEADER}{tab_rows}</table>"""
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>hullscope report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;font-size:0.9em}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}img{{max-width:100%}}h2{{font-size:1.1em;margin-top:2em}}
.cap{{color:#555;font-size:0.9em}}table.prov td{{text-align:left}}</style>
</head><body><h1>Where do the test samples sit?</h1>
<p>Every test sample is checked against the convex hull of the training samples, in each space: a
certified verdict (convex weights when inside, a separating hyperplane when outside), its distance to
the hull, and its distance to the nearest training sample. Every certificate was re-checked in numpy.</p>
<table>{_HEADER}{rows}</table>
<p><b>The baseline.</b> In high dimension almost every training sample already lies outside the hull of
the other training samples, so "test samples lie outside the training hull" only says something when the
test share exceeds the leave-one-out share of the training samples (column 4), and distances are read in
units of the typical training nearest-neighbour distance.</p>
<ul class=cap>{captions}</ul>
{tab_html}
{body}
<h2>Provenance</h2><table class=prov>{prov}</table>
<p class=cap>Per-sample tables: {", ".join(html.escape(v) for v in csvs.values())}.</p>
</body></html>"""
    (d / "index.html").write_text(page)
    return d
