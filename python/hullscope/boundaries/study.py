"""The boundaries study as one call: :func:`run_boundaries` measures rays, certified radii at the scale of
the extrapolation, pixel-space flips and morphs for a model and a data set, and writes report.json, figures
and index.html (used by ``hullscope boundaries`` and ``bench/boundaries.py``)."""
from __future__ import annotations

import datetime
import html
import math
import platform
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .._json import write_json


def digits_images(seed: int = 0):
    """The digits as (N, 1, 8, 8) float32 train/test images with labels (see hullscope.datasets)."""
    from ..datasets import split_digits_images

    return split_digits_images(seed)


def _pixel_range(spec: Optional[str], Xtr: np.ndarray, Xte: np.ndarray) -> Tuple[float, float]:
    if spec is None:
        lo = float(min(Xtr.min(), Xte.min()))
        hi = float(max(Xtr.max(), Xte.max()))
        return (0.0, 1.0) if lo >= 0.0 and hi <= 1.0 else (lo, hi)
    try:
        lo, hi = (float(s) for s in spec.split(","))
    except ValueError:
        raise ValueError(f"--pixel-range: expected 'lo,hi', got {spec!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"--pixel-range: expected finite lo < hi, got {spec!r}")
    return lo, hi


# ---------------------------------------------------------------------------------------------- the run
def run_boundaries(model: Any, Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, yte: np.ndarray, out: Any, *,
                   layers: Optional[List[str]] = None, t_max: float = 3.0, grid: int = 64, tol: float = 1e-6,
                   pairs: int = 40, pixel_range: Tuple[float, float] = (0.0, 1.0), seed: int = 0,
                   threads: Optional[int] = None, device: Any = "cpu", progress: bool = True,
                   meta: Optional[Dict[str, Any]] = None, log: Any = print) -> Dict[str, Any]:
    """Every step of the boundaries report on a trained torch classifier; returns report.json's content.

    Xtr, Xte are model inputs (N, C, H, W) (or (N, d) for non-image models); labels are int arrays.
    report.json is rewritten after each step.
    """
    from .._validation import writable_dir
    from ..extrapolation import typical_nn_distance
    from ..features.torch_features import final_linear, last_hidden_layer
    from ..hull import Hull
    from .attack import min_flip
    from .morph import choose_pairs, morph
    from .plots import plot_first_change, plot_flip_scatter, plot_morph_strips, plot_ray_strips
    from .rays import rays, space_points
    from .scale import certified_at_scale, pixel_vs_feature

    d = writable_dir(out, "--out")
    t_all = time.perf_counter()
    import torch

    from .. import __version__

    prov = {"hullscope": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "n_train": int(len(Xtr)), "n_test": int(len(Xte)), "seed": seed, "threads": threads,
            "t_max": t_max, "grid": grid, "tol": tol, "pairs": pairs, "pixel_range": list(pixel_range)}
    prov.update(meta or {})
    report: Dict[str, Any] = {"provenance": prov, "steps": {}, "rays": {}, "scale_certified": None,
                              "pixel_vs_feature": None, "morph": {}, "verified": {}}
    steps = report["steps"]

    def save():
        report["provenance"]["seconds_so_far"] = time.perf_counter() - t_all
        write_json(d / "report.json", report)

    feat_layer = last_hidden_layer(model, Xte[:2])
    _, W, b = final_linear(model)
    spaces = ["input", feat_layer] + [L for L in (layers or []) if L not in ("input", feat_layer)]
    names = {"input": "pixels", feat_layer: f"last hidden layer ({feat_layer})"}
    ray_res: Dict[str, Any] = {}
    hulls: Dict[str, Any] = {}
    for L in spaces:
        name = names.get(L, f"layer {L}")
        t0 = time.perf_counter()
        Ftr = space_points(model, Xtr, L, "X_train", device=device)
        Fte = space_points(model, Xte, L, "X_test", device=device)
        H = Hull(Ftr, threads=threads)
        hr = H.distance(Fte, threads=threads, progress=progress)
        tnn = typical_nn_distance(Ftr)
        t_hull = time.perf_counter() - t0
        r = rays(model, Xtr, Xte, yte, layer=None if L == "input" else L, t_max=t_max, grid=grid, tol=tol,
                 hull_result=hr, typical_nn=tnn, threads=threads, device=device, progress=progress)
        t_rays = time.perf_counter() - t0 - t_hull
        tv = time.perf_counter()
        v = r.verify()
        steps[f"verify rays and hull certificates ({name})"] = time.perf_counter() - tv
        ray_res[name], hulls[name] = r, (H, hr, tnn, Fte)
        report["rays"][name] = {**r.summary(), "dim": int(Fte.shape[1]), "typical_nn": tnn,
                                "samples": r.records()}
        report["verified"][f"rays {name}"] = {"ok": v.ok, "checked": v.checked, "failures": list(v.failures[:5])}
        steps[f"hull distances ({name})"] = t_hull
        steps[f"rays ({name})"] = t_rays
        s = r.summary()
        log(f"rays in {name} ({r.method}): {s['rays']} of {s['n']} outside the hull; "
            f"{100 * s['share_decided_outside']:.1f}% change class between hull and sample"
            + (f", {100 * s['share_correct_among_decided_outside']:.1f}% of those correct"
               if np.isfinite(s.get("share_correct_among_decided_outside", np.nan)) else "")
            + f"  [{t_hull + t_rays:.1f} s]")
        save()
    fname = names[feat_layer]
    # certified at the scale of the extrapolation (last hidden layer, exact)
    t0 = time.perf_counter()
    _, hr_f, tnn_f, Fte_f = hulls[fname]
    sc = certified_at_scale(W, b, Fte_f, hr_f, tnn_f, y=yte, threads=threads)
    v = sc.verify()
    report["scale_certified"] = {**sc.summary(), "space": fname,
                                 "radius": sc.radius, "radius_over_hull_distance": sc.radius_over_hull,
                                 "radius_over_typical_nn": sc.radius_over_nn}
    report["verified"]["scale_certified"] = {"ok": v.ok, "checked": v.checked, "failures": list(v.failures[:5])}
    steps["certified radii"] = time.perf_counter() - t0
    s = sc.summary()
    log(f"certified radius in {fname}: median {s['median_radius_over_hull_distance']:.3g} x the hull distance, "
        f"{s['median_radius_over_typical_nn']:.3g} x the typical NN distance; "
        f"{100 * s['share_robust_at_scale']:.1f}% robust at the scale of their extrapolation "
        f"({100 * s.get('share_robust_at_scale_and_correct', float('nan')):.1f}% robust and correct)")
    save()
    # the pixel attack beside the exact feature radius
    t0 = time.perf_counter()
    fl = min_flip(model, Xte, pixel_range=pixel_range, device=device, progress=progress)
    v = fl.verify()
    steps["pixel attack (min_flip)"] = time.perf_counter() - t0
    _, hr_p, tnn_p, _ = hulls["pixels"]
    pvf = pixel_vs_feature(fl, np.where(hr_p.status == "inside", 0.0, hr_p.distance), tnn_p, sc)
    report["pixel_vs_feature"] = {**pvf["table"], "pixel_range": list(pixel_range),
                                  "per_image": pvf["per_image"], "pixel_flip_distance": fl.distance,
                                  "flipped_to": fl.flipped_to}
    report["verified"]["min_flip"] = {"ok": v.ok, "checked": v.checked, "failures": list(v.failures[:5])}
    tb = pvf["table"]
    log(f"pixel flips (upper bounds): median {tb['median_pixel_flip_over_typical_nn']:.3g} x the pixel NN distance, "
        f"{tb['median_pixel_flip_over_pixel_hull_distance']:.3g} x the pixel hull distance; "
        f"{100 * tb['share_pixel_flip_below_pixel_hull_distance']:.1f}% flip within their pixel hull distance "
        f"(feature space, exact: {100 * tb['share_feature_radius_below_feature_hull_distance']:.1f}%)"
        f"  [{steps['pixel attack (min_flip)']:.1f} s]")
    save()
    # morphs
    t0 = time.perf_counter()
    ia, ib = choose_pairs(yte, pairs // 2, pairs - pairs // 2, seed=seed)
    m_res = {}
    if len(ia):
        m_res["pixels"] = morph(model, Xte[ia], Xte[ib], labels_a=yte[ia], labels_b=yte[ib], grid=grid, tol=tol,
                                threads=threads, device=device, progress=progress)
        H_f = hulls[fname][0]
        m_res[fname] = morph(model, Xte[ia], Xte[ib], labels_a=yte[ia], labels_b=yte[ib], layer=feat_layer,
                             hull=H_f, threads=threads, device=device, progress=progress)
        for k, m in m_res.items():
            v = m.verify()
            report["morph"][k] = {**m.summary(), "pairs_index": np.stack([ia, ib], 1), "paths": m.records()}
            report["verified"][f"morph {k}"] = {"ok": v.ok, "checked": v.checked, "failures": list(v.failures[:5])}
            s = m.summary()
            log(f"morphs in {k}: same class {s['same_class']['mean_changes']:.2f} changes, "
                f"{100 * s['same_class']['share_ambiguous']:.0f}% ambiguous; different class "
                f"{s['different_class']['mean_changes']:.2f} changes, "
                f"{100 * s['different_class']['share_ambiguous']:.0f}% ambiguous"
                + (f"; median share outside the hull {s['median_share_outside_hull']:.2f}"
                   if "median_share_outside_hull" in s else ""))
    steps["morphs"] = time.perf_counter() - t0
    save()
    # figures and the page
    t0 = time.perf_counter()
    figs = []
    plot_ray_strips(ray_res, str(d / "ray_strips.png"))
    figs.append(("Class along the ray from the nearest hull point (t = 0) through the test sample (t = 1)",
                 d / "ray_strips.png"))
    plot_first_change(ray_res, str(d / "first_change.png"))
    figs.append(("Where the class first changes along the ray", d / "first_change.png"))
    plot_flip_scatter(pvf["per_image"], str(d / "flip_scatter.png"))
    figs.append(("Pixel flip distance (upper bound) against the exact feature certified radius",
                 d / "flip_scatter.png"))
    if "pixels" in m_res and Xte.ndim >= 3:
        plot_morph_strips(m_res["pixels"], Xte[ia], Xte[ib], str(d / "morph_strips.png"))
        figs.append(("Morphing test images in pixel space", d / "morph_strips.png"))
    steps["figures"] = time.perf_counter() - t0
    report["provenance"]["seconds"] = time.perf_counter() - t_all
    report["all_verified"] = all(v["ok"] for v in report["verified"].values())
    save()
    _write_html(d, report, figs)
    return report


def _img_tag(path: Path) -> str:
    import base64

    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.name)}">'


def _fmt(v: Any, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if pct:
        return f"{100 * v:.1f}%"
    return f"{v:.3g}" if isinstance(v, float) else html.escape(str(v))


def _write_html(d: Path, report: Dict[str, Any], figs: List[Tuple[str, Path]]) -> None:
    rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(s['method'])}</td><td>{s['rays']}/{s['n']}</td>"
        f"<td>{_fmt(s['share_decided_outside'], True)}</td>"
        f"<td>{_fmt(s.get('share_correct_among_decided_outside'), True)}</td>"
        f"<td>{_fmt(s['first_change_quantiles'].get('0.5'))}</td>"
        f"<td>{_fmt(s['share_change_beyond_sample'], True)}</td>"
        f"<td>{_fmt(s['median_hull_distance_over_typical_nn'])}</td></tr>"
        for k, s in report["rays"].items())
    sc = report["scale_certified"]
    tb = report["pixel_vs_feature"]
    mrows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(m['method'])}</td>"
        f"<td>{_fmt(m['same_class']['mean_changes'])} / {_fmt(m['different_class']['mean_changes'])}</td>"
        f"<td>{_fmt(m['same_class']['share_ambiguous'], True)} / "
        f"{_fmt(m['different_class']['share_ambiguous'], True)}</td>"
        f"<td>{_fmt(m.get('median_share_outside_hull'))}</td></tr>"
        for k, m in report["morph"].items())
    prov = "".join(f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>" for k, v in report["provenance"].items())
    body = "".join(f"<h2>{html.escape(t)}</h2>{_img_tag(p)}" for t, p in figs)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>hullscope boundaries</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}img{{max-width:100%}}h2{{font-size:1.1em;margin-top:2em}}</style>
</head><body><h1>Beyond the hull: where the decision boundaries lie</h1>
<p>Every test sample outside the training hull gets a ray from its nearest hull point p (t = 0) through
the sample q (t = 1) to t = {_fmt(next(iter(report['rays'].values()))['t_max'])}. In the last hidden layer the class
sequence along it is exact; in pixel space it is scanned on a grid and every change bisected. All
certificates re-checked: <b>{report['all_verified']}</b>.</p>
<ul>{prov}</ul>
<h2>Rays</h2><table><tr><th>space</th><th>method</th><th>rays</th><th>class changes between hull and sample</th>
<th>of those correct</th><th>median first change (t)</th><th>changes beyond the sample</th>
<th>median hull dist. / typical NN</th></tr>{rows}</table>
<h2>Certified at the scale of the extrapolation ({html.escape(sc['space'])}, exact)</h2>
<table><tr><th>median radius / hull distance</th><th>median radius / typical NN</th>
<th>robust at the scale of their extrapolation</th><th>robust and correct</th><th>radius &gt; 0 and correct</th></tr>
<tr><td>{_fmt(sc['median_radius_over_hull_distance'])}</td><td>{_fmt(sc['median_radius_over_typical_nn'])}</td>
<td>{_fmt(sc['share_robust_at_scale'], True)}</td><td>{_fmt(sc.get('share_robust_at_scale_and_correct'), True)}</td>
<td>{_fmt(sc.get('share_certified_and_correct'), True)}</td></tr></table>
<h2>Pixel space against feature space</h2>
<p>Pixel flip distances come from hullscope's own minimum-norm L2 attack: <b>upper bounds</b> on the
smallest flip. Feature radii are exact.</p>
<table><tr><th>median pixel flip / pixel NN</th><th>median feature radius / feature NN</th>
<th>median pixel flip / pixel hull dist.</th><th>median feature radius / feature hull dist.</th>
<th>pixel flip &lt; pixel hull dist.</th><th>feature radius &lt; feature hull dist.</th></tr>
<tr><td>{_fmt(tb['median_pixel_flip_over_typical_nn'])}</td><td>{_fmt(tb['median_feature_radius_over_typical_nn'])}</td>
<td>{_fmt(tb['median_pixel_flip_over_pixel_hull_distance'])}</td>
<td>{_fmt(tb['median_feature_radius_over_feature_hull_distance'])}</td>
<td>{_fmt(tb['share_pixel_flip_below_pixel_hull_distance'], True)}</td>
<td>{_fmt(tb['share_feature_radius_below_feature_hull_distance'], True)}</td></tr></table>
<h2>Morphs</h2><table><tr><th>space</th><th>method</th><th>mean changes (same / different class)</th>
<th>ambiguous (same / different)</th><th>median share outside the hull</th></tr>{mrows}</table>
{body}</body></html>"""
    (d / "index.html").write_text(page)
