"""``hullscope demo``: the hull engine on scikit-learn's digits (the embedded default).

Splits the 1,797 8x8 digits into train and test, and asks in pixel space: which test images lie
inside the convex hull of the training images, how far outside are the others (next to their
nearest-neighbour distance), which training images span the nearest hull point, and whether a test
image lies in the hull of its own class. Every certificate is verified. Writes ``report.json`` into
``--out`` and prints a summary.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from ._validation import writable_dir


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("demo", help="hull analysis of digits (the embedded default data set)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="hullscope-report", help="output folder (default: ./hullscope-report)")
    p.add_argument("--threads", type=int, default=None, help="OpenMP threads (default: all cores)")
    p.add_argument("--seed", type=int, default=0, help="train/test split seed (default: 0)")
    p.add_argument("--test-fraction", type=float, default=0.25, help="share of images held out (default 0.25)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def hull_demo(test_fraction: float = 0.25, seed: int = 0, threads=None, progress: bool = True) -> dict:
    """Run the digits pixel-space hull analysis and return a JSON-ready dict of results."""
    from .datasets import load_digits
    from .hull import Hull

    t0 = time.perf_counter()
    ds = load_digits(test_fraction=test_fraction, seed=seed)
    Xtr = ds.X_train.reshape(len(ds.X_train), -1)
    Xte = ds.X_test.reshape(len(ds.X_test), -1)
    h = Hull(Xtr)
    res = h.distance(Xte, threads=threads, progress=progress)
    check = res.verify()
    check.raise_if_failed()
    own = np.empty(len(Xte))
    for i in range(len(Xte)):
        idx, w = res.support(i)
        own[i] = float(w[ds.y_train[idx] == ds.y_test[i]].sum())
    in_own = np.zeros(len(Xte), dtype=bool)
    for c in np.unique(ds.y_train):
        sel = ds.y_test == c
        r = h.contains(Xte[sel], subset=ds.y_train == c, threads=threads)
        r.verify().raise_if_failed()
        in_own[sel] = r.status == "inside"
    loo = h.leave_one_out(threads=threads, progress=progress)
    loo.verify().raise_if_failed()
    ratio = res.distance / res.nn_distance
    return {
        "dataset": "digits", "space": "pixels (64-d, values in [0, 1])",
        "n_train": int(len(Xtr)), "n_test": int(len(Xte)), "dim": int(Xtr.shape[1]),
        "fraction_test_outside_hull": float(np.mean(res.status == "outside")),
        "fraction_test_boundary": float(np.mean(res.status == "boundary")),
        "median_hull_distance": float(np.median(res.distance)),
        "median_nn_distance": float(np.median(res.nn_distance)),
        "median_hull_over_nn_distance": float(np.median(ratio)),
        "median_support_size": float(np.median(np.diff(res.indptr))),
        "median_weight_on_own_class": float(np.median(own)),
        "fraction_test_in_own_class_hull": float(np.mean(in_own)),
        "fraction_train_outside_leave_one_out_hull": float(np.mean(loo.status == "outside")),
        "certificates_verified": int(check.checked),
        "seconds": time.perf_counter() - t0,
    }


def run(args: argparse.Namespace) -> int:
    if not 0.0 < args.test_fraction < 1.0:
        raise ValueError(f"--test-fraction: expected a number in (0, 1), got {args.test_fraction}")
    out = writable_dir(args.out, "--out")
    summary = hull_demo(args.test_fraction, args.seed, args.threads, progress=not args.no_progress)
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    width = max(len(k) for k in summary)
    for k, v in summary.items():
        print(f"{k:<{width}}  {v:.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
    print(f"\nwrote {out / 'report.json'}")
    return 0
