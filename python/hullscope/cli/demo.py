"""``hullscope demo``: where do test samples sit relative to the training set? (digits, embedded)

Splits scikit-learn's 1,797 8x8 digits into train and test, trains the small CNN (seeded, seconds on
2 cores), and asks in pixel space, in wavelet and shearlet spaces and in the CNN's 64-d last hidden
layer:
which test images lie inside the convex hull of the training set, how far outside are the others
(next to their nearest-neighbour distance), which training images span the nearest hull point, and
whether a test image lies in the hull of its own class. Adds the tabular contrast (iris, wine,
breast_cancer) and the hull distance as an out-of-distribution score against pixel-shuffled digits.
Every certificate is verified. Writes report.json, PNG figures and index.html into ``--out``.
"""
from __future__ import annotations

import argparse
import logging
import json
import time
from pathlib import Path

import numpy as np

from .._json import write_json
from .._validation import writable_dir
from .._argtypes import positive_int, threads_arg

WAVELET_DETAILS = ("horizontal", "vertical", "diagonal")


log = logging.getLogger("hullscope.cli.demo")

def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("demo", help="hull analysis of digits (the embedded default data set)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="hullscope-report", help="output folder (default: ./hullscope-report)")
    p.add_argument("--threads", type=threads_arg, default=None, help="OpenMP threads (default: all cores)")
    p.add_argument("--seed", type=int, default=0, help="train/test split seed (default: 0)")
    p.add_argument("--test-fraction", type=float, default=0.25, help="share of images held out (default 0.25)")
    p.add_argument("--epochs", type=positive_int, default=30, help="training epochs of the small CNN (default 30)")
    p.add_argument("--pixels-only", action="store_true", help="only the pixel-space hull analysis (no torch)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def hull_demo(test_fraction: float = 0.25, seed: int = 0, threads=None, progress: bool = True) -> dict:
    """The digits pixel-space hull analysis (no torch) plus the training set's leave-one-out sweep;
    returns a JSON-ready dict. Every certificate is verified."""
    from ..datasets import load_digits
    from ..extrapolation import analyze_space
    from ..report import provenance

    t0 = time.perf_counter()
    ds = load_digits(test_fraction=test_fraction, seed=seed)
    Xtr = ds.X_train.reshape(len(ds.X_train), -1)
    Xte = ds.X_test.reshape(len(ds.X_test), -1)
    a = analyze_space(Xtr, ds.y_train, Xte, ds.y_test, "pixels", threads=threads, progress=progress,
                      loo_samples=len(Xtr), seed=seed)
    return {"provenance": provenance(seeds=[seed], threads=threads, data="scikit-learn digits (8x8), pixels / 16",
                                     sizes={"n_train": int(len(Xtr)), "n_test": int(len(Xte))}),
            "dataset": "digits", "space": "pixels (64-d, values in [0, 1])", **a.summary,
            "fraction_train_outside_leave_one_out_hull": a.summary["loo_fraction_outside"],
            "seconds": time.perf_counter() - t0}


def full_demo(out: str, seed: int = 0, threads=None, progress: bool = True, epochs: int = 30) -> dict:
    """The whole demo (see module doc); returns report.json's content."""
    import torch

    from ..extrapolation import analyze_space, auroc, auroc_interval, tabular_contrast
    from ..features import extract, last_hidden_layer, shearlet_features, wavelet_features
    from ..hull import Hull
    from ..datasets import split_digits_images
    from ..models import accuracy, small_cnn, train_classifier
    from ..report import provenance, write_report

    t0 = time.perf_counter()
    Xtr, ytr, Xte, yte = split_digits_images(seed)
    torch.manual_seed(seed)
    log.info("training the small CNN (%d epochs)", epochs)
    net = train_classifier(small_cnn(), Xtr, ytr, epochs=epochs, seed=seed, progress=progress)
    acc = accuracy(net, Xte, yte)
    layer = last_hidden_layer(net, Xte[:2])
    spaces = {
        "pixels": (Xtr.reshape(len(Xtr), -1), Xte.reshape(len(Xte), -1)),
        # all subbands of an orthogonal wavelet would be a rotation of pixel space (same geometry):
        # the detail subbands alone are a genuinely different space
        "wavelet details (haar)": (wavelet_features(Xtr[:, 0], subbands=WAVELET_DETAILS),
                                   wavelet_features(Xte[:, 0], subbands=WAVELET_DETAILS)),
        # signed shearlet coefficients are an isometry of pixel space (Parseval): same hull geometry.
        # Their magnitudes in the directional bands are a genuinely different space.
        "shearlet magnitudes": (shearlet_features(Xtr[:, 0], directional_only=True, magnitude=True),
                                shearlet_features(Xte[:, 0], directional_only=True, magnitude=True)),
        f"last hidden layer ({layer})": (extract(net, Xtr, layer)[layer], extract(net, Xte, layer)[layer]),
    }
    analyses = {}
    for name, (Ftr, Fte) in spaces.items():
        log.info("space %s: %d features", name, Ftr.shape[1])
        analyses[name] = analyze_space(Ftr, ytr, Fte, yte, name, threads=threads, progress=progress, seed=seed)
    # out-of-distribution: the test digits with their pixels shuffled (same intensities, no digit)
    rng = np.random.default_rng(seed)
    ood_img = np.stack([rng.permutation(x.ravel()).reshape(x.shape) for x in Xte])
    Fh_tr, Fh_te = spaces[f"last hidden layer ({layer})"]
    Fh_ood = extract(net, ood_img, layer)[layer]
    h = Hull(Fh_tr)
    r_in, r_out = h.distance(Fh_te, threads=threads), h.distance(Fh_ood, threads=threads)
    scores = {"hull distance": (r_in.distance, r_out.distance),
              "nearest-neighbour distance": (r_in.nn_distance, r_out.nn_distance)}
    ood = {"name": "pixel-shuffled digits, last hidden layer", "n_in": len(Fh_te), "n_out": len(Fh_ood),
           "auroc": {k: auroc(*v) for k, v in scores.items()},
           "auroc_interval": {k: auroc_interval(*v, seed=seed) for k, v in scores.items()}, "scores": scores}
    log.info("OOD AUROC %s", ood["auroc"])
    tab = tabular_contrast(seed=seed, threads=threads)
    with torch.no_grad():
        pred = net(torch.as_tensor(Xte)).argmax(1).numpy()
    meta = provenance(seeds=[seed], threads=threads,
                      data="scikit-learn digits (8x8), stratified 75/25 split; pixels / 16 in [0, 1]; tabular "
                           "sets standardised by training mean and std",
                      sizes={"n_train": int(len(Xtr)), "n_test": int(len(Xte))},
                      model=f"small CNN (hullscope.models.small_cnn), {epochs} epochs, seed {seed}",
                      test_accuracy=float(acc))
    write_report(out, {"pixels": analyses["pixels"], **{k: v for k, v in analyses.items() if k != "pixels"}},
                 tabular=tab, ood=ood, images={"test": Xte[:, 0], "train": Xtr[:, 0], "y_train": ytr}, meta=meta,
                 predictions=pred, labels=yte)
    rep = json.loads((Path(out) / "report.json").read_text())
    rep["provenance"]["seconds"] = time.perf_counter() - t0
    write_json(Path(out) / "report.json", rep)
    return rep


def run(args: argparse.Namespace) -> int:
    if not 0.0 < args.test_fraction < 1.0:
        raise ValueError(f"--test-fraction: expected a number in (0, 1), got {args.test_fraction}")
    out = writable_dir(args.out, "--out")
    if args.pixels_only:
        summary = hull_demo(args.test_fraction, args.seed, args.threads, progress=not args.no_progress)
        write_json(out / "report.json", summary)
        for k, v in summary.items():
            if isinstance(v, dict):
                continue
            print(f"{k:<44}  {v:.4g}" if isinstance(v, float) else f"{k:<44}  {v}")
        print(f"\nwrote {out / 'report.json'}")
        return 0
    rep = full_demo(str(out), args.seed, args.threads, progress=not args.no_progress, epochs=args.epochs)
    print(f"{'space / data set':<34}{'dim':>5}{'outside':>9}{'baseline':>10}{'hull/NN':>9}{'own-class w':>12}")
    for k, s in list(rep["spaces"].items()) + list(rep["tabular_contrast"].items()):
        print(f"{k:<34}{s['dim']:>5}{100 * s['fraction_outside']:>8.1f}%{100 * s['loo_fraction_outside']:>9.1f}%"
              f"{s['median_hull_over_nn']:>9.3f}{s['median_own_class_weight']:>12.2f}")
    print("baseline: share of training samples outside the hull of the other training samples (leave-one-out)")
    print(f"OOD AUROC ({rep['ood']['name']}): " + ", ".join(f"{k} {v:.3f}" for k, v in rep["ood"]["auroc"].items()))
    print(f"\nwrote {out / 'index.html'}, report.json, samples-*.csv and figures ({rep['provenance']['seconds']:.0f} s)")
    return 0
