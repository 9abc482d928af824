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

import numpy as np

from .._argtypes import threads_arg
from .._json import write_json
from .._argtypes import positive_int


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("regions", help="decision regions of the last layer: adjacency, balls, certified radii",
                       description=__doc__.splitlines()[0])
    p.add_argument("--model", default="digits-cnn", help="'digits-cnn' (trained here) or MODULE:FACTORY")
    p.add_argument("--weights", default=None, help="state_dict file for a MODULE:FACTORY model")
    p.add_argument("--data", default=None, help=".npz or IDX folder (required for MODULE:FACTORY)")
    p.add_argument("--domain", default="box", choices=["box", "orthant", "none"],
                   help="feature domain: box of training-feature ranges (default), orthant, or R^d")
    p.add_argument("--epochs", type=positive_int, default=30, help="training epochs for digits-cnn")
    p.add_argument("--n-test", type=positive_int, default=500, help="test points to certify")
    p.add_argument("--seed", type=int, default=0, help="seed of the training (digits-cnn) or of an untrained model")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--radius", default="hull",
                   help="radius that 'certified' refers to: a number (feature units) or 'hull' for each test "
                        "point's distance to the training hull (default)")
    p.add_argument("--threads", type=threads_arg, default=None, help="threads (-1 or omitted: all cores)")
    p.add_argument("--device", default="cpu", help="torch device")
    p.add_argument("--out", default="hullscope-regions", help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._validation import writable_dir
    from ..regions.core import LinearRegions

    from .._progress import progress_bar
    from ..report import provenance

    radius = parse_radius(args.radius)
    if args.weights is not None and args.model == "digits-cnn":
        raise ValueError("--weights: given without --model MODULE:FACTORY; the built-in digits-cnn is trained here")
    out = writable_dir(args.out, "--out")
    if args.model == "digits-cnn":
        from ..datasets import split_digits_images
        from ..models import small_cnn, train_classifier

        Xtr, ytr, Xte, yte = split_digits_images()
        model = train_classifier(small_cnn(hidden=64), Xtr, ytr, epochs=args.epochs, seed=args.seed,
                                 device=args.device, progress=not args.no_progress)
    else:
        from ..datasets import load_arrays
        from ..models import load_model

        if args.data is None:
            raise ValueError("--data: required for a MODULE:FACTORY model (.npz or IDX folder)")
        import torch

        torch.manual_seed(args.seed)
        model = load_model(args.model, args.weights, device=args.device)
        if args.weights is None:
            import warnings

            warnings.warn(f"--model {args.model} without --weights: the regions of an untrained network, "
                          f"initialised with seed {args.seed}", UserWarning, stacklevel=2)
        Xtr, ytr, Xte, yte = load_arrays(args.data)
        if Xtr.ndim == 3:
            Xtr, Xte = Xtr[:, None], Xte[:, None]
        Xtr, Xte = Xtr.astype(np.float32), Xte.astype(np.float32)
    steps = ["features", "Chebyshev balls", "adjacency", "certified radii", "training hull", "certificates"]
    with progress_bar(not args.no_progress, len(steps), "regions", unit="step") as bar:
        reg, Ftr = LinearRegions.from_model(model, Xtr, domain=args.domain, device=args.device,
                                            threads=args.threads)
        _, Fte = LinearRegions.from_model(model, Xte[:args.n_test], domain="none", device=args.device)
        yte = np.asarray(yte[:args.n_test])
        bar.update(1)
        balls = reg.chebyshev_balls()
        bar.update(1)
        adj = reg.adjacency()
        bar.update(1)
        rad = reg.certified_radius(Fte)
        bar.update(1)
        obc = reg.outside_hull_but_certified(Fte, F_train=Ftr, threads=args.threads,
                                             radius=0.0 if radius == "hull" else radius)
        bar.update(1)
        checks = [ball.verify() for ball in balls] + [adj.verify(), rad.verify()]
        verified = all(bool(v) for v in checks)
        n_checked = int(sum(v.checked for v in checks))
        bar.update(1)
    # the domain's exact radii (the ones reported under certified_radius), against the requested radius
    cert = certified_at(rad.radius, obc.hull_distance, obc.outside, radius, reg.predict(Fte) == yte,
                        domain=args.domain)
    adj.plot(str(out / "adjacency.png"))
    acc = float((reg.predict(Fte) == yte).mean())
    report = {
        "provenance": provenance(seeds=[args.seed], threads=args.threads,
                                 data="scikit-learn digits (8x8)" if args.model == "digits-cnn" else str(args.data),
                                 sizes={"n_train": int(len(Ftr)), "n_test": int(len(Fte))},
                                 model=args.model if args.model != "digits-cnn" else
                                 f"small CNN (digits-cnn), {args.epochs} epochs, seed {args.seed}",
                                 test_accuracy=acc),
        "model": args.model, "domain": args.domain, "K": reg.K, "d": reg.d,
        "test_accuracy": acc,
        "chebyshev": [{"class": b.cls, "status": b.status, "radius": b.radius} for b in balls],
        "adjacent_pairs": adj.edges(), "facet_lps": adj.lps, "facet_shortcuts": adj.shortcuts,
        "certified_radius": {"median": float(np.median(rad.radius)), "min": float(rad.radius.min()),
                             "values": rad.radius.tolist(), "rival": rad.rival.tolist()},
        "certified": cert,
        "certificates_verified": verified, "certificates_checked": n_checked,
    }
    write_json(out / "regions.json", report)
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

