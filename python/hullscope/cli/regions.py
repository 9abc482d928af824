"""``hullscope regions``: partition a classifier's last-layer feature space and certify test points.

Trains the digits CNN (``--model digits-cnn``, the default) or loads ``MODULE:FACTORY`` with
``--weights`` and ``--data`` (a .npz with X_train, y_train, X_test, y_test, or an IDX folder), takes
the features that feed the last linear layer, and writes ``regions.json`` (Chebyshev balls,
adjacency, certified radii of test points, hull-aware counts) and ``adjacency.png``.

Every test point off a tie has a positive certified radius, so "certified" is always stated with the
radius it certifies: ``--radius R`` (feature units; a point counts as certified when every point within
R of it has its class) or ``--radius hull`` (R is each point's own distance to the training hull: robust
at the scale of its extrapolation). Certified-and-correct is reported separately.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from .._argtypes import threads_arg
from .._json import strict_json


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("regions", help="decision regions of the last layer: adjacency, balls, certified radii",
                       description=__doc__.splitlines()[0])
    p.add_argument("--model", default="digits-cnn", help="'digits-cnn' (trained here) or MODULE:FACTORY")
    p.add_argument("--weights", default=None, help="state_dict file for a MODULE:FACTORY model")
    p.add_argument("--data", default=None, help=".npz or IDX folder (required for MODULE:FACTORY)")
    p.add_argument("--domain", default="box", choices=["box", "orthant", "none"],
                   help="feature domain: box of training-feature ranges (default), orthant, or R^d")
    p.add_argument("--epochs", type=int, default=30, help="training epochs for digits-cnn")
    p.add_argument("--n-test", type=int, default=500, help="test points to certify")
    p.add_argument("--radius", default="hull",
                   help="radius that 'certified' refers to: a number (feature units) or 'hull' for each test "
                        "point's distance to the training hull (default)")
    p.add_argument("--threads", type=threads_arg, default=None, help="threads (-1 or omitted: all cores)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="hullscope-regions", help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._validation import writable_dir
    from ..regions.core import LinearRegions

    if args.n_test < 1:
        raise ValueError(f"--n-test: expected a positive integer, got {args.n_test}")
    if args.epochs < 1:
        raise ValueError(f"--epochs: expected a positive integer, got {args.epochs}")
    radius = parse_radius(args.radius)
    out = writable_dir(args.out, "--out")
    if args.model == "digits-cnn":
        from .. import datasets
        from ..models import small_cnn, train_classifier

        split = getattr(datasets, "split_digits_images", None)
        if split is None:  # its older home
            from ..models import split_digits_images as split
        Xtr, ytr, Xte, yte = split()
        model = train_classifier(small_cnn(hidden=64), Xtr, ytr, epochs=args.epochs, seed=0, device=args.device)
    else:
        from ..datasets import load_arrays
        from ..models import load_model

        if args.data is None:
            raise ValueError("--data: required for a MODULE:FACTORY model (.npz or IDX folder)")
        model = load_model(args.model, args.weights, device=args.device)
        Xtr, ytr, Xte, yte = load_arrays(args.data)
        if Xtr.ndim == 3:
            Xtr, Xte = Xtr[:, None], Xte[:, None]
        Xtr, Xte = Xtr.astype(np.float32), Xte.astype(np.float32)
    reg, Ftr = LinearRegions.from_model(model, Xtr, domain=args.domain, device=args.device, threads=args.threads)
    _, Fte = LinearRegions.from_model(model, Xte[:args.n_test], domain="none", device=args.device)
    yte = np.asarray(yte[:args.n_test])
    balls = reg.chebyshev_balls()
    adj = reg.adjacency()
    rad = reg.certified_radius(Fte)
    verified = all(bool(ball.verify()) for ball in balls) and bool(adj.verify()) and bool(rad.verify())
    obc = reg.outside_hull_but_certified(Fte, F_train=Ftr, threads=args.threads,
                                         radius=0.0 if radius == "hull" else radius)
    # the domain's exact radii (the ones reported under certified_radius), against the requested radius
    cert = certified_at(rad.radius, obc.hull_distance, obc.outside, radius, reg.predict(Fte) == yte,
                        domain=args.domain)
    adj.plot(str(out / "adjacency.png"))
    report = {
        "model": args.model, "domain": args.domain, "K": reg.K, "d": reg.d,
        "test_accuracy": float((reg.predict(Fte) == yte).mean()),
        "chebyshev": [{"class": b.cls, "status": b.status, "radius": b.radius} for b in balls],
        "adjacent_pairs": adj.edges(), "facet_lps": adj.lps, "facet_shortcuts": adj.shortcuts,
        "certified_radius": {"median": float(np.median(rad.radius)), "min": float(rad.radius.min()),
                             "values": rad.radius.tolist(), "rival": rad.rival.tolist()},
        "certified": cert,
        "certificates_verified": verified,
    }
    (out / "regions.json").write_text(json.dumps(strict_json(report), indent=1, allow_nan=False))
    print(f"{reg.K} classes in {reg.d}-d features ({args.domain} domain); test accuracy "
          f"{report['test_accuracy']:.3f}")
    print("Chebyshev radii:", " ".join(f"{b.radius:.3g}" for b in balls))
    print(f"adjacency ({len(adj.edges())} of {reg.K * (reg.K - 1) // 2} pairs):")
    for c in range(reg.K):
        print(f"  {c} -> {[j for j in range(reg.K) if adj.matrix[c, j]]}")
    print(f"certified radius of {len(Fte)} test points: median {np.median(rad.radius):.3g}, "
          f"min {rad.radius.min():.3g}")
    what = ("its own distance to the training hull" if radius == "hull" else f"radius {radius:g} (feature units)")
    print(f"certified at {what}: {cert['certified']} of {cert['n']} test points "
          f"({cert['certified_and_correct']} certified and correct; {cert['outside_hull']} outside the training "
          f"hull, {cert['outside_and_certified']} of them certified)")
    if radius == "hull":
        print(f"  certified radius / hull distance: median {cert['median_radius_over_hull_distance']:.3g}")
    print(f"wrote {out / 'regions.json'} and {out / 'adjacency.png'}")
    return 0


def parse_radius(spec: str):
    """``--radius``: 'hull' or a finite number >= 0 (feature units)."""
    if str(spec).strip().lower() == "hull":
        return "hull"
    try:
        r = float(spec)
    except (TypeError, ValueError):
        raise ValueError(f"--radius: expected a number >= 0 (feature units) or 'hull', got {spec!r}") from None
    if not (np.isfinite(r) and r >= 0):
        raise ValueError(f"--radius: expected a finite number >= 0 or 'hull', got {spec!r}")
    return r


def certified_at(radius_exact: np.ndarray, hull_distance: np.ndarray, outside: np.ndarray, radius,
                 correct: np.ndarray, domain: str = "none") -> dict:
    """Counts of test points certified at the given radius ('hull': each point's hull distance): the ball
    of that radius around the point, within the domain, is one class (certified radius strictly larger)."""
    R = hull_distance if radius == "hull" else np.full(len(radius_exact), float(radius))
    cert = radius_exact > R
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(hull_distance > 0, radius_exact / np.where(hull_distance > 0, hull_distance, 1), np.inf)
    fin = ratio[outside & np.isfinite(ratio)]
    return {"radius": radius if radius == "hull" else float(radius),
            "domain": domain,
            "meaning": (f"the ball of radius dist(q, training hull) around q, within the {domain} domain, is one class"
                        if radius == "hull" else f"the ball of radius {float(radius):g} (feature units) around q, "
                        f"within the {domain} domain, is one class"),
            "n": int(len(cert)), "certified": int(cert.sum()), "share_certified": float(cert.mean()),
            "certified_and_correct": int((cert & correct).sum()),
            "share_certified_and_correct": float((cert & correct).mean()),
            "correct": int(correct.sum()), "outside_hull": int(outside.sum()),
            "outside_and_certified": int((outside & cert).sum()),
            "median_radius_over_hull_distance": float(np.median(fin)) if fin.size else None}

