"""``hullscope overparam``: over-parameterization and the training regime, seen from the training hull.

Trains a width family (the small CNN and a two-hidden-layer MLP at width multipliers from about 0.1x to
over 30x the training-set size in parameters) and a regime family (one width; SGD with a small and a large
learning rate, Adam, weight decay on and off, small and large batches, 20% label noise, random labels,
white-noise input augmentation, a large initialisation), each to 100% training accuracy or the closest
reached. For each model: test and training accuracy; in its last hidden layer the share of test samples
outside the hull of the training features, their hull / nearest-neighbour distance ratio, the Chebyshev
radii and adjacency of the decision regions (box domain); from the rays, the share decided outside the
hull, where the class first changes and the share robust at the scale of the extrapolation. Between every
pair of models of a family: agreement on Dirichlet combinations of training images certified inside the
pixel hull (k = 2, 8, 32 nearest or random images), on points of the pixel rays beyond each test image
(t in (1, 3]) and on the test set. Spearman correlations of every measure with test error (bootstrap 95%
intervals), the verdict on the claim, and the exact low-dimensional illustration (minimum norm against
gradient descent with random features).

Default: the embedded digits with a reduced family (measured: 210 s with one torch thread on a shared
2-core machine). --data mnist runs the full study on MNIST's IDX files (5,000 training and 1,000 test
images unless --n-train / --n-test).
Every model is checkpointed in OUT/checkpoints with a fingerprint of its configuration; a rerun resumes
and trains only what is missing. Writes report.json (strict JSON), PNG figures and a self-contained
index.html into --out.
"""
from __future__ import annotations

import argparse
import time

from .._argtypes import positive_int, positive_int_list, seed_list, threads_arg

__all__ = ["register", "run"]


def _names(text: str):
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("expected comma-separated names, got nothing")
    return parts


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("overparam", help="over-parameterization and training regime vs the training hull",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="digits", choices=("digits", "mnist"),
                   help="digits (embedded, reduced family) or mnist (IDX reader, full study)")
    p.add_argument("--family", default="both", choices=("width", "regime", "both"), help="which families to train")
    p.add_argument("--seeds", type=seed_list, default=None,
                   help="seeds of the width family (default: 0,1)")
    p.add_argument("--regime-seeds", type=seed_list, default=None,
                   help="seeds of the regime family (default: 0 on digits, 0,1 on mnist)")
    p.add_argument("--widths", type=positive_int_list, default=None,
                   help="width multipliers for every architecture (default: digits cnn 2,8,24 and mlp 1,4,16,48; "
                        "mnist 1,2,4,8,16,32 for both)")
    p.add_argument("--archs", type=_names, default=None, help="architectures of the width family: cnn,mlp")
    p.add_argument("--regimes", type=_names, default=None, help="regime names (default: all)")
    p.add_argument("--regime-arch", default=None, choices=("cnn", "mlp"),
                   help="architecture of the regime family (default: mlp on digits, cnn on mnist)")
    p.add_argument("--regime-width", type=positive_int, default=None,
                   help="width multiplier of the regime family (default: 12 on digits, 16 on mnist)")
    p.add_argument("--max-epochs", type=positive_int, default=None,
                   help="stop training there if 100%% training accuracy is not reached "
                        "(default 30 on digits, 40 on mnist)")
    p.add_argument("--n-train", type=positive_int, default=None, help="training subset (mnist default 5000)")
    p.add_argument("--n-test", type=positive_int, default=None, help="test subset (mnist default 1000)")
    p.add_argument("--downsample", type=positive_int, default=1, help="average k x k pixel blocks (default 1: none)")
    p.add_argument("--points", type=positive_int, default=None,
                   help="Dirichlet points per (k, selection) inside the pixel hull (default 100 digits, 200 mnist)")
    p.add_argument("--no-illustration", action="store_true", help="skip the low-dimensional illustration")
    p.add_argument("--threads", type=threads_arg, default=None,
                   help="threads for the hull engine and torch (-1 or omitted: all cores for the engine, "
                        "one thread for torch)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--out", default="hullscope-overparam", help="output folder (default ./hullscope-overparam)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._validation import writable_dir
    from ..overparam.families import check_architectures, check_regimes
    from ..overparam.families import REGIMES
    from ..overparam.study import DEFAULTS, load_data, run_overparam

    if args.threads == -1:
        args.threads = None
    cfg = DEFAULTS[args.data]
    regimes = list(REGIMES) if args.regimes is None else args.regimes
    try:
        check_regimes(regimes)
    except ValueError as exc:
        raise ValueError(f"--{exc}") from None
    if args.archs is not None:
        try:
            check_architectures(args.archs)
        except ValueError as exc:
            raise ValueError(f"--archs: {str(exc).split(': ', 1)[1]}") from None
    if args.widths is not None:
        widths = {a: list(args.widths) for a in (args.archs or list(cfg["archs"]))}
    else:
        widths = {a: cfg["archs"][a] for a in (args.archs or list(cfg["archs"]))}
    out = writable_dir(args.out, "--out")
    import torch

    from .._torch import require_torch

    require_torch()
    # the models are small: torch's intra-op threads cost more than they give, and on a shared machine two
    # threads waiting on each other made training 20x slower; torch runs on --threads only when it is given
    torch.set_num_threads(args.threads if args.threads is not None else 1)
    t0 = time.perf_counter()
    n_train = args.n_train if args.n_train is not None else cfg["n_train"]
    n_test = args.n_test if args.n_test is not None else cfg["n_test"]
    Xtr, ytr, Xte, yte, desc = load_data(args.data, n_train=n_train, n_test=n_test, downsample=args.downsample)
    from ..report import provenance

    seeds = args.seeds if args.seeds is not None else cfg["seeds"]
    regime_seeds = args.regime_seeds if args.regime_seeds is not None else cfg["regime_seeds"]
    meta = provenance(seeds=seeds, threads=args.threads, data=desc,
                      sizes={"n_train": int(len(Xtr)), "n_test": int(len(Xte))}, torch=torch.__version__,
                      widths=widths, regimes=regimes, regime_seeds=regime_seeds,
                      regime_arch=args.regime_arch or cfg["regime_arch"],
                      regime_width=args.regime_width or cfg["regime_width"])
    print(f"{desc}; {args.family} famil{'ies' if args.family == 'both' else 'y'} into {out}")
    rep = run_overparam(Xtr, ytr, Xte, yte, out, family=args.family, widths=widths, seeds=seeds, regimes=regimes,
                        regime_arch=args.regime_arch or cfg["regime_arch"],
                        regime_width=args.regime_width or cfg["regime_width"], regime_seeds=regime_seeds,
                        max_epochs=args.max_epochs or cfg["max_epochs"], points=args.points or cfg["points"],
                        threads=args.threads, progress=not args.no_progress,
                        illustration=not args.no_illustration, meta=meta)
    total = time.perf_counter() - t0
    rep["provenance"]["seconds_total"] = total
    from .._json import write_json

    write_json(out / "report.json", rep)
    print(f"{rep['run']['trained_in_this_run']} models trained, {rep['run']['resumed_records']} from checkpoints; "
          f"all certificates verified: {rep['all_verified']}")
    print(f"wrote {out / 'index.html'}, report.json and figures ({total:.0f} s)")
    return 0 if rep["all_verified"] else 1
