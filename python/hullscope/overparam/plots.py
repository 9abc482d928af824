"""Figures and the self-contained index.html of the over-parameterization study."""
from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np

from .._plot import subplots

__all__ = ["write_figures", "write_html"]

_PANELS = [("test_error", "test error"), ("feature_share_outside", "test outside feature hull"),
           ("feature_median_hull_over_nn", "median hull dist. / NN dist."),
           ("regions_median_cheb_over_nn", "median Chebyshev radius / typical NN"),
           ("rays_share_decided_outside", "decided outside the hull (rays)"),
           ("scale_share_robust", "robust at the scale of extrapolation"),
           ("disagreement_inside", "disagreement inside pixel hull"),
           ("disagreement_outside", "disagreement on pixel rays (outside)")]


def _num(v: Any) -> float:
    return float(v) if v is not None else float("nan")


def fig_measures_vs_params(report: Dict[str, Any], path: Path) -> bool:
    ag = report["agreement"].get("width")
    models = [m for m in report["models"] if m["family"] == "width"]
    if not models:
        return False
    per = {r["key"]: r for r in (ag["per_model"] if ag else [])}
    n = report["provenance"]["n_train"]
    fig, axes = subplots(2, 4, figsize=(16, 7))
    for ax, (k, title) in zip(axes.ravel(), _PANELS):
        for arch, mk in (("cnn", "o"), ("mlp", "s")):
            ms = [m for m in models if m["arch"] == arch]
            if not ms:
                continue
            x = np.array([m["params"] / n for m in ms])
            y = np.array([_num(per.get(m["key"], {}).get(k, m.get(k))) for m in ms])
            ax.scatter(x, y, marker=mk, label=arch, alpha=0.8)
        ax.set_xscale("log")
        ax.axvline(1.0, color="grey", lw=0.8, ls=":")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("parameters / n (log)")
    axes[0, 0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def _short(g: str) -> str:
    return g.replace("regime without the random-label control", "regime w/o random labels")


def fig_agreement(report: Dict[str, Any], path: Path) -> bool:
    groups = [g for g in report["agreement"] if report["agreement"][g]["sets"]]
    if not groups:
        return False
    fig, axes = subplots(1, 2 * len(groups), figsize=(8.5 * len(groups), 4.4))
    for j, g in enumerate(groups):
        sets = report["agreement"][g]["sets"]
        names = list(sets)
        means = [sets[s]["mean"] for s in names]
        ax = axes[0, 2 * j]
        colors = ["tab:blue" if s.startswith(("knn", "random")) else "tab:red" if s.startswith("outside")
                  else "tab:grey" for s in names]
        ax.barh(range(len(names)), means, color=colors)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels([s.replace(" (pixel rays, t in (1, 3])", " (rays)") for s in names], fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_xlabel("mean pairwise agreement\n(inside blue, outside red, test grey)")
        ax.set_title(_short(g), fontsize=9)
        ax = axes[0, 2 * j + 1]
        ins = [s for s in names if s.startswith(("knn", "random"))]
        out = [s for s in names if s.startswith("outside")]
        if ins and out:
            M = np.asarray(sets[out[0]]["matrix"])
            iu = np.triu_indices(M.shape[0], 1)
            a_in = np.mean([np.asarray(sets[s]["matrix"])[iu] for s in ins], axis=0)
            a_out = M[iu]
            ax.scatter(a_in, a_out, s=12, alpha=0.7)
            lo = float(min(a_in.min(), a_out.min(), 0.9)) - 0.02
            ax.plot([lo, 1], [lo, 1], color="grey", lw=0.8)
        ax.set_xlabel("agreement inside\n(mean over the Dirichlet sets)")
        ax.set_ylabel("agreement outside (pixel rays)")
        ax.set_title(f"{_short(g)}: one dot per model pair", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def fig_correlations(report: Dict[str, Any], path: Path) -> bool:
    groups = [g for g, c in report["correlations"].items() if c]
    if not groups:
        return False
    fig, axes = subplots(1, len(groups), figsize=(5.2 * len(groups), 5.5), sharey=True)
    for ax, g in zip(axes.ravel(), groups):
        c = report["correlations"][g]
        names = list(c)
        rho = np.array([_num(c[k].get("rho")) for k in names])
        lo = np.array([_num(c[k].get("low")) for k in names])
        hi = np.array([_num(c[k].get("high")) for k in names])
        y = np.arange(len(names))
        ok = np.isfinite(rho)
        ax.barh(y[ok], rho[ok], color=["tab:green" if (lo[i] > 0 or hi[i] < 0) else "tab:grey" for i in y[ok]])
        # the percentile interval need not contain rho (ties in the ranks): draw it from low to high
        ax.hlines(y[ok], lo[ok], hi[ok], color="k", lw=1.2)
        ax.plot(lo[ok], y[ok], "k|", hi[ok], y[ok], "k|")
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(y)
        ax.set_yticklabels(names, fontsize=8)
        ax.set_xlim(-1.05, 1.05)
        ax.set_xlabel("Spearman rho with test error (95% bootstrap CI)")
        ax.set_title(_short(g), fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def fig_illustration(ill: Dict[int, Any], path: Path) -> bool:
    if not ill:
        return False
    r1 = ill.get(1)
    r2 = ill.get(2)
    fig, axes = subplots(2, 3, figsize=(15, 8.5))
    if r1 is not None:
        picks = [0, 2, len(r1.ps) - 1]
        x = r1.grid[:, 0]
        for ax, j in zip(axes[0], picks):
            ax.axvspan(r1.X.min(), r1.X.max(), color="tab:blue", alpha=0.08, label="training hull")
            ax.plot(x, r1.f_mn[j], label="minimum norm", lw=1.5)
            ax.plot(x, r1.f_gd[j], label=f"gradient descent, random init ({r1.gd_steps} steps)", lw=1.2, ls="--")
            ax.plot(x, r1.f_lim[j], label="its limit (closed form)", lw=1.0, ls=":")
            ax.scatter(r1.X[:, 0], r1.y, color="k", s=14, zorder=3, label="training points")
            ax.set_ylim(-4, 4)
            ax.set_title(f"1-D, n = {r1.n}, p = {r1.ps[j]} (p/n = {r1.ps[j] / r1.n:g})", fontsize=10)
        axes[0, 0].legend(fontsize=8)
    ax = axes[1, 0]
    for r, mk in ((r1, "o"), (r2, "s")):
        if r is None:
            continue
        pn = np.array(r.ps) / r.n
        ax.plot(pn, r.rms_gap_limit_inside, marker=mk, label=f"{r.dim}-D inside the hull (GD limit)")
        ax.plot(pn, r.rms_gap_limit_outside, marker=mk, ls="--", label=f"{r.dim}-D outside (GD limit)")
        ax.plot(pn, r.rms_gap_inside, marker=mk, ls=":", alpha=0.6, label=f"{r.dim}-D inside (GD iterate)")
        ax.plot(pn, r.rms_gap_outside, marker=mk, ls="-.", alpha=0.6, label=f"{r.dim}-D outside (GD iterate)")
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("p / n")
    ax.set_ylabel("rms of (GD fit - min-norm fit)")
    ax.legend(fontsize=8)
    ax.set_title("where the two fits differ", fontsize=10)
    if r2 is not None:
        j = len(r2.ps) - 1
        g = int(round(math.sqrt(len(r2.grid))))
        gap = np.abs(r2.f_lim[j] - r2.f_mn[j]).reshape(g, g)
        ext = (r2.grid[:, 0].min(), r2.grid[:, 0].max(), r2.grid[:, 1].min(), r2.grid[:, 1].max())
        ax = axes[1, 1]
        im = ax.imshow(gap, origin="lower", extent=ext, cmap="magma")
        fig.colorbar(im, ax=ax, shrink=0.8)
        from scipy.spatial import ConvexHull

        hv = ConvexHull(r2.X).vertices
        ax.plot(*np.vstack([r2.X[hv], r2.X[hv[:1]]]).T, color="c", lw=1)
        ax.scatter(r2.X[:, 0], r2.X[:, 1], s=6, color="w")
        ax.set_title(f"2-D, n = {r2.n}, p = {r2.ps[j]}: |GD limit - min norm|", fontsize=10)
        ax = axes[1, 2]
        ax.imshow(r2.inside.reshape(g, g), origin="lower", extent=ext, cmap="Blues", alpha=0.5)
        ax.scatter(r2.X[:, 0], r2.X[:, 1], s=6, color="k")
        ax.set_title("evaluation points certified inside the hull (Hull.contains)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def write_figures(d: Path, report: Dict[str, Any], ill: Dict[int, Any], sets: Any,
                  X_test: np.ndarray) -> List[Tuple[str, Path]]:
    figs = []
    for fn, name, title in (
            (fig_measures_vs_params, "measures_vs_params.png", "Measures against the parameter count (width family)"),
            (fig_agreement, "agreement.png", "Agreement between models inside against outside the pixel hull"),
            (fig_correlations, "correlations.png", "Spearman correlation of each measure with test error")):
        p = d / name
        if fn(report, p):
            figs.append((title, p))
    p = d / "illustration.png"
    if fig_illustration(ill, p):
        figs.append(("The exact low-dimensional illustration: minimum norm against gradient descent", p))
    return figs


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.name)}">'


def _f(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if pct:
        return f"{100 * v:.1f}%"
    return f"{v:.3g}" if isinstance(v, (float, np.floating)) else html.escape(str(v))


def write_html(d: Path, report: Dict[str, Any], figs: List[Tuple[str, Path]]) -> None:
    mrows = "".join(
        f"<tr><td>{html.escape(m['key'])}</td><td>{m['params']}</td><td>{m['params_over_n']:.3g}</td>"
        f"<td>{html.escape(m['train_log']['stopped'])} ({m['train_log']['epochs']} ep.)</td>"
        f"<td>{_f(m['train_accuracy'], True)}</td><td>{_f(m['test_accuracy'], True)}</td>"
        f"<td>{_f(m['feature_share_outside'], True)}</td><td>{_f(m['feature_median_hull_over_nn'])}</td>"
        f"<td>{_f(m['regions_median_cheb_over_nn'])}</td><td>{m['regions_adjacent_pairs']}</td>"
        f"<td>{_f(m['rays_share_decided_outside'], True)}</td><td>{_f(m['rays_median_first_change'])}</td>"
        f"<td>{_f(m['scale_share_robust'], True)}</td><td>{_f(m['seconds_train'])}</td>"
        f"<td>{_f(m['seconds_measure'])}</td></tr>" for m in report["models"])
    arows = "".join(
        f"<tr><td>{html.escape(g)}</td><td>{len(a['models'])}</td><td>{_f(a['mean_inside'])}</td>"
        f"<td>{_f(a['mean_outside'])}</td><td>{_f(a['mean_test'])}</td></tr>" for g, a in report["agreement"].items())
    crows = ""
    for g, c in report["correlations"].items():
        for k, r in c.items():
            crows += (f"<tr><td>{html.escape(g)}</td><td>{html.escape(k)}</td><td>{_f(r.get('rho'))}</td>"
                      f"<td>[{_f(r.get('low'))}, {_f(r.get('high'))}]</td><td>{r['n']}</td>"
                      f"<td style='text-align:left'>{html.escape(r['sentence'])}</td></tr>")
    claims = "".join(f"<li><b>{html.escape(g)}</b>: " + "; ".join(
        f"<i>{html.escape(k.replace('_', ' '))}</i> {html.escape(v['sentence'])}" for k, v in c.items()) + "</li>"
        for g, c in report["claim"].items())
    defs = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in report["measures"].items())
    regs = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in report["regimes"].items())
    prov = "".join(f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in report["provenance"].items())
    sets = "".join(f"<li>{html.escape(k)}: {v['certified_inside']} of {v['drawn']} certified inside</li>"
                   for k, v in report["sets"].get("certified", {}).items())
    body = "".join(f"<h2>{html.escape(t)}</h2>{_img(p)}" for t, p in figs)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>hullscope overparam</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1250px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:0.85em}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}img{{max-width:100%}}h2{{font-size:1.1em;margin-top:2em}}</style>
</head><body><h1>Over-parameterization and the training regime, seen from the training hull</h1>
<p>Models of a family fit the same training set. Do they agree more inside the pixel training hull than just
outside it, and does their disagreement outside (not inside) track test error? All certificates re-checked:
<b>{report.get('all_verified')}</b>.</p>
<h2>The claim</h2><ul>{claims}</ul>
<h2>Agreement (mean over model pairs)</h2><table><tr><th>family</th><th>models</th><th>inside the pixel hull</th>
<th>outside (pixel rays, t in (1, 3])</th><th>test set</th></tr>{arows}</table>
<p>Inside points: {sets}; outside: {report['sets'].get('outside_points')} points on the rays of
{report['sets'].get('test_outside_pixel_hull')} test images outside the pixel hull.</p>
<h2>Which measures predict test error</h2><table><tr><th>family</th><th>measure</th><th>rho</th><th>95% CI</th>
<th>models</th><th>verdict</th></tr>{crows}</table>
<h2>Models</h2><table><tr><th>model</th><th>params</th><th>params / n</th><th>training</th><th>train acc.</th>
<th>test acc.</th><th>test outside feature hull</th><th>hull/NN</th><th>Cheb. radius / NN</th><th>adjacent pairs</th>
<th>decided outside</th><th>median first change</th><th>robust at scale</th><th>train s</th><th>measure s</th></tr>
{mrows}</table>
{body}
<h2>Measures</h2><ul>{defs}</ul><h2>Regimes</h2><ul>{regs}</ul><h2>Provenance</h2><ul>{prov}</ul>
</body></html>"""
    (d / "index.html").write_text(page)
