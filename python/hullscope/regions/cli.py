"""``hullscope regions``: partition a classifier's last-layer feature space and certify test points.

Trains the digits CNN (``--model digits-cnn``, the default) or loads ``MODULE:FACTORY`` with
``--weights`` and ``--data`` (a .npz with X_train, y_train, X_test, y_test, or an IDX folder), takes
the features that feed the last linear layer, and writes ``regions.json`` (Chebyshev balls,
adjacency, certified radii of test points, hull-aware counts) and ``adjacency.png``.
"""
from __future__ import annotations

import argparse
import json

import numpy as np


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
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="hullscope-regions", help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._validation import writable_dir
    from .core import LinearRegions

    out = writable_dir(args.out, "--out")
    if args.n_test < 1:
        raise ValueError(f"--n-test: expected a positive integer, got {args.n_test}")
    if args.model == "digits-cnn":
        from ..models import small_cnn, split_digits_images, train_classifier

        Xtr, ytr, Xte, yte = split_digits_images()
        model = train_classifier(small_cnn(hidden=64), Xtr, ytr, epochs=args.epochs, seed=0, device=args.device)
    else:
        from ..analyze_cli import load_arrays
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
    for ball in balls:
        ball.verify()
    adj.verify()
    rad.verify()
    obc = reg.outside_hull_but_certified(Fte, F_train=Ftr, threads=args.threads)
    adj.plot(str(out / "adjacency.png"))
    report = {
        "model": args.model, "domain": args.domain, "K": reg.K, "d": reg.d,
        "test_accuracy": float((reg.predict(Fte) == yte).mean()),
        "chebyshev": [{"class": b.cls, "status": b.status, "radius": b.radius} for b in balls],
        "adjacent_pairs": adj.edges(), "facet_lps": adj.lps, "facet_shortcuts": adj.shortcuts,
        "certified_radius": {"median": float(np.median(rad.radius)), "min": float(rad.radius.min()),
                             "values": rad.radius.tolist(), "rival": rad.rival.tolist()},
        "outside_hull_but_certified": obc.summary(),
    }
    (out / "regions.json").write_text(json.dumps(report, indent=1))
    print(f"{reg.K} classes in {reg.d}-d features ({args.domain} domain); test accuracy "
          f"{report['test_accuracy']:.3f}")
    print("Chebyshev radii:", " ".join(f"{b.radius:.3g}" for b in balls))
    print(f"adjacency ({len(adj.edges())} of {reg.K * (reg.K - 1) // 2} pairs):")
    for c in range(reg.K):
        print(f"  {c} -> {[j for j in range(reg.K) if adj.matrix[c, j]]}")
    print(f"certified radius of {len(Fte)} test points: median {np.median(rad.radius):.3g}, "
          f"min {rad.radius.min():.3g}")
    print("outside the training hull but certified:", obc.summary())
    print(f"wrote {out / 'regions.json'} and {out / 'adjacency.png'}")
    return 0
