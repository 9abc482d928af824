"""The report folder: report.json with every number, PNG figures, and a self-contained index.html."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any, Dict, Optional

import numpy as np

from ._plot import subplots
from ._validation import writable_dir

__all__ = ["write_report"]


def _fig_distances(analyses: Dict[str, Any], path: Path) -> None:
    k = len(analyses)
    fig, axes = subplots(1, k, figsize=(4 * k, 3.2))
    for ax, (name, a) in zip(axes[0], analyses.items()):
        r = a.result
        ax.hist(r.distance / a.typical_nn, bins=30, color="tab:blue", alpha=0.7, label="to the hull")
        ax.hist(r.nn_distance / a.typical_nn, bins=30, color="tab:orange", alpha=0.6, label="to nearest sample")
        ax.set_title(f"{name}: {100 * a.summary['fraction_outside']:.1f}% outside", fontsize=10)
        ax.set_xlabel("distance / typical training NN distance")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _fig_scatter(analyses: Dict[str, Any], path: Path) -> None:
    k = len(analyses)
    fig, axes = subplots(1, k, figsize=(4 * k, 3.4))
    for ax, (name, a) in zip(axes[0], analyses.items()):
        r = a.result
        ax.scatter(r.nn_distance, r.distance, s=6, alpha=0.5)
        m = float(max(r.nn_distance.max(), 1e-12))
        ax.plot([0, m], [0, m], "k--", lw=0.8, label="hull = nearest sample")
        ax.set_xlabel("distance to nearest training sample")
        ax.set_ylabel("distance to training hull")
        ax.set_title(name, fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _fig_nearest_images(a: Any, X_test_img: np.ndarray, X_train_img: np.ndarray, y_train: np.ndarray,
                        path: Path, n: int = 6) -> None:
    r = a.result
    order = np.argsort(r.distance)[:: max(1, len(r) // n)][:n]
    shape = X_test_img.shape[1:]
    fig, axes = subplots(3, n, figsize=(1.8 * n, 5.6))
    for j, i in enumerate(order):
        idx, w = r.support(i)
        top = idx[np.argmax(w)]
        axes[0, j].imshow(X_test_img[i], cmap="gray_r")
        axes[0, j].set_title(f"test #{i}", fontsize=8)
        axes[1, j].imshow(r.nearest[i].reshape(shape), cmap="gray_r")
        axes[1, j].set_title(f"hull point d={r.distance[i]:.2f}", fontsize=8)
        axes[2, j].imshow(X_train_img[top], cmap="gray_r")
        axes[2, j].set_title(f"top weight {w.max():.2f} (label {y_train[top]})", fontsize=7)
        for ax in axes[:, j]:
            ax.axis("off")
    fig.suptitle("test image / nearest point of the training hull / its heaviest training image", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _fig_roc(ood: Dict[str, Any], path: Path) -> None:
    fig, axes = subplots(figsize=(4, 4))
    ax = axes[0, 0]
    for label, (s_in, s_out) in ood["scores"].items():
        thr = np.unique(np.concatenate([s_in, s_out]))[::-1]
        tpr = [np.mean(s_out >= t) for t in thr]
        fpr = [np.mean(s_in >= t) for t in thr]
        ax.plot([0] + fpr + [1], [0] + tpr + [1], label=f"{label} (AUROC {ood['auroc'][label]:.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false positive rate (in-distribution)")
    ax.set_ylabel("true positive rate (OOD)")
    import textwrap

    ax.set_title("\n".join(textwrap.wrap(f"OOD: {ood['name']}", 40)), fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _img_tag(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.name)}">'


def write_report(out: Any, analyses: Dict[str, Any], *, tabular: Optional[Dict[str, Dict[str, float]]] = None,
                 ood: Optional[Dict[str, Any]] = None, images: Optional[Dict[str, np.ndarray]] = None,
                 meta: Optional[Dict[str, Any]] = None) -> Path:
    """Write report.json, figures and index.html into ``out``; return the folder.

    ``analyses``: {space name: SpaceAnalysis}. ``images``: {'test', 'train', 'y_train'} for the
    nearest-hull-point figure of the 'pixels' space. ``ood``: {'name', 'auroc', 'scores'}.
    """
    d = writable_dir(out, "out")
    figs = []
    _fig_distances(analyses, d / "distances.png")
    figs.append(("Distances to the training hull and to the nearest training sample", d / "distances.png"))
    _fig_scatter(analyses, d / "hull_vs_nn.png")
    figs.append(("Hull distance against nearest-neighbour distance", d / "hull_vs_nn.png"))
    if images is not None and "pixels" in analyses:
        _fig_nearest_images(analyses["pixels"], images["test"], images["train"], images["y_train"],
                            d / "nearest_hull_points.png")
        figs.append(("The nearest hull point is itself an image", d / "nearest_hull_points.png"))
    if ood is not None:
        _fig_roc(ood, d / "ood_roc.png")
        figs.append(("Hull distance as an out-of-distribution score", d / "ood_roc.png"))
    report = {"meta": meta or {}, "spaces": {k: a.summary for k, a in analyses.items()},
              "tabular_contrast": tabular or {},
              "ood": None if ood is None else {"name": ood["name"], "auroc": ood["auroc"]}}
    (d / "report.json").write_text(json.dumps(report, indent=2))
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{s['dim']}</td><td>{100 * s['fraction_outside']:.1f}%</td>"
        f"<td>{s['median_hull_distance']:.3g}</td><td>{s['median_nn_distance']:.3g}</td>"
        f"<td>{s['median_hull_over_nn']:.3f}</td><td>{s['median_own_class_weight']:.2f}</td>"
        f"<td>{100 * s['fraction_in_own_class_hull']:.1f}%</td></tr>"
        for k, s in list(report["spaces"].items()) + list(report["tabular_contrast"].items()))
    body = "".join(f"<h2>{html.escape(t)}</h2>{_img_tag(p)}" for t, p in figs)
    meta_html = "".join(f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in (meta or {}).items())
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>hullscope report</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}img{{max-width:100%}}h2{{font-size:1.1em;margin-top:2em}}</style>
</head><body><h1>Where do the test samples sit?</h1>
<p>Every test sample is checked against the convex hull of the training samples, in each space: a
certified verdict (convex weights when inside, a separating hyperplane when outside), its distance to
the hull, and its distance to the nearest training sample. Certificates were re-checked in numpy.</p>
<ul>{meta_html}</ul>
<table><tr><th>space / data set</th><th>dim</th><th>test outside hull</th><th>median hull dist.</th>
<th>median NN dist.</th><th>median hull/NN</th><th>weight on own class</th><th>in own-class hull</th></tr>
{rows}</table>{body}</body></html>"""
    (d / "index.html").write_text(page)
    return d
