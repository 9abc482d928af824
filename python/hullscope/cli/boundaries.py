"""``hullscope boundaries``: where the decision boundaries lie between the training hull and each test sample.

Default: scikit-learn's digits (8x8, embedded) with the small CNN trained here as in the demo. For each
space (pixels, the CNN's last hidden layer, and any --layers), every test sample's ray from its nearest
training-hull point through the sample (exact in the last hidden layer, grid + bisection elsewhere);
certified radii in the last hidden layer at the scale of the extrapolation; the smallest pixel change
that flips each test image (hullscope's own L2 attack: an upper bound) beside the exact feature radius;
morphs between pairs of test images in pixel and feature space. Writes report.json (strict JSON, with a
provenance block; rewritten after every step, so finished steps survive an interruption), PNG figures
and a self-contained index.html into --out.

Your model: --model MODULE:FACTORY --weights W.pt --data DATA (.npz with X_train, y_train, X_test,
y_test, or an IDX folder). --data with the built-in model trains the small CNN on that data.
"""
from __future__ import annotations

import argparse
import math
import time
from typing import Optional

import numpy as np

from .._argtypes import threads_arg
from .._json import write_json
from ..boundaries.study import _pixel_range, digits_images, run_boundaries

__all__ = ["register", "run"]


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("boundaries", help="decision boundaries between the training hull and test samples",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="digits-cnn",
                   help="'digits-cnn' (the small CNN, trained here) or MODULE:FACTORY returning a torch nn.Module")
    p.add_argument("--weights", default=None, help="state_dict file for a MODULE:FACTORY model")
    p.add_argument("--data", default=None, help=".npz (X_train, y_train, X_test, y_test) or an IDX folder; "
                                                "default: the embedded digits")
    p.add_argument("--layers", default=None,
                   help="comma-separated extra layers for rays (grid + bisection); the last hidden layer is "
                        "always analysed, exactly")
    p.add_argument("--n-test", type=int, default=None, help="use the first N test samples (default: all)")
    p.add_argument("--n-train", type=int, default=None, help="use the first N training samples (default: all)")
    p.add_argument("--pairs", type=int, default=40, help="morph pairs: half of the same class, half not (default 40)")
    p.add_argument("--t-max", type=float, default=3.0, help="rays run over t in [0, t_max] (default 3)")
    p.add_argument("--grid", type=int, default=64, help="scan intervals per unit of t (default 64)")
    p.add_argument("--tol", type=float, default=1e-6, help="bisection tolerance in t (default 1e-6)")
    p.add_argument("--pixel-range", default=None,
                   help="valid pixel values 'lo,hi' for the attack (default: 0,1 when the data lies there, "
                        "else the data's range)")
    p.add_argument("--epochs", type=int, default=30, help="training epochs of the built-in CNN (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, the training and the pairs")
    p.add_argument("--threads", type=threads_arg, default=None,
                   help="threads for the core and torch (-1 or omitted: all cores)")
    p.add_argument("--device", default="cpu", help="torch device")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--out", default="hullscope-boundaries", help="output folder (default ./hullscope-boundaries)")
    p.set_defaults(func=run)


# ---------------------------------------------------------------------------------------------- checks
def _positive(v: Optional[int], flag: str) -> None:
    if v is not None and (isinstance(v, bool) or v < 1):
        raise ValueError(f"{flag}: expected a positive integer, got {v}")


# ---------------------------------------------------------------------------------------------- command
def run(args: argparse.Namespace) -> int:
    from .._validation import writable_dir

    if args.threads == -1:
        args.threads = None  # all cores
    for flag in ("n_test", "n_train", "epochs", "grid"):
        _positive(getattr(args, flag), "--" + flag.replace("_", "-"))
    if args.pairs < 0:
        raise ValueError(f"--pairs: expected an integer >= 0, got {args.pairs}")
    if not (math.isfinite(args.t_max) and args.t_max > 1):
        raise ValueError(f"--t-max: expected a number > 1 (t = 1 is the sample), got {args.t_max}")
    if not (0 < args.tol <= 0.01):
        raise ValueError(f"--tol: expected a tolerance in (0, 0.01], got {args.tol}")
    if args.grid < 2:
        raise ValueError(f"--grid: expected an integer >= 2, got {args.grid}")
    builtin = args.model == "digits-cnn"
    if not builtin and args.data is None:
        raise ValueError("--data: required for a MODULE:FACTORY model (.npz or IDX folder)")
    if builtin and args.weights is not None:
        raise ValueError("--weights: only for a MODULE:FACTORY model (digits-cnn is trained here)")
    out = writable_dir(args.out, "--out")
    import torch

    from .._torch import require_torch

    require_torch()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    if args.data is None:
        Xtr, ytr, Xte, yte = digits_images(args.seed)
        data_name = "scikit-learn digits (8x8), stratified 75/25 split"
    else:
        from ..datasets import load_arrays

        Xtr, ytr, Xte, yte = load_arrays(args.data)
        if Xtr.ndim == 3:
            Xtr, Xte = Xtr[:, None], Xte[:, None]
        Xtr, Xte = Xtr.astype(np.float32), Xte.astype(np.float32)
        data_name = str(args.data)
    Xtr, ytr = Xtr[:args.n_train], np.asarray(ytr[:args.n_train]).astype(np.int64)
    Xte, yte = Xte[:args.n_test], np.asarray(yte[:args.n_test]).astype(np.int64)
    prange = _pixel_range(args.pixel_range, Xtr, Xte)
    if Xte.min() < prange[0] or Xte.max() > prange[1]:
        raise ValueError(f"--pixel-range: the test images span [{Xte.min():.4g}, {Xte.max():.4g}], outside "
                         f"{prange}")
    layers = [s.strip() for s in args.layers.split(",") if s.strip()] if args.layers else []

    def check_layers(net):
        if layers:
            from .._torch import resolve_layers

            try:
                resolve_layers(net, layers)
            except ValueError as exc:
                raise ValueError(f"--{exc}") from None

    if builtin:
        from ..models import small_cnn

        check_layers(small_cnn(in_channels=Xtr.shape[1]))  # a wrong name fails before any training
    if builtin:
        from ..models import accuracy, small_cnn, train_classifier

        torch.manual_seed(args.seed)
        model = train_classifier(small_cnn(in_channels=Xtr.shape[1]), Xtr, ytr, epochs=args.epochs, seed=args.seed,
                                 device=args.device, progress=not args.no_progress)
        model_name = f"small CNN trained here ({args.epochs} epochs, seed {args.seed})"
    else:
        from ..models import accuracy, load_model

        model = load_model(args.model, args.weights, device=args.device)
        model_name = args.model
    check_layers(model)
    t_train = time.perf_counter() - t0
    acc = accuracy(model, Xte, yte, device=args.device)
    from ..report import provenance

    meta = provenance(seeds=[args.seed], threads=args.threads, data=data_name,
                      sizes={"n_train": int(len(Xtr)), "n_test": int(len(Xte))}, model=model_name,
                      test_accuracy=float(acc), torch=torch.__version__, input_shape=list(Xtr.shape[1:]),
                      weights=args.weights, t_max=args.t_max, grid=args.grid, tol=args.tol, pairs=args.pairs,
                      pixel_range=list(prange), training_seconds=t_train)
    print(f"{model_name}: test accuracy {acc:.3f} on {len(Xte)} test samples ({t_train:.1f} s)")
    rep = run_boundaries(model, Xtr, ytr, Xte, yte, out, layers=layers, t_max=args.t_max, grid=args.grid,
                         tol=args.tol, pairs=args.pairs, pixel_range=prange, seed=args.seed, threads=args.threads,
                         device=args.device, progress=not args.no_progress, meta=meta)
    total = time.perf_counter() - t0
    rep["provenance"]["seconds_total"] = total
    write_json(out / "report.json", rep)
    print(f"all certificates verified: {rep['all_verified']}")
    print(f"wrote {out / 'index.html'}, report.json and figures ({total:.0f} s)")
    return 0 if rep["all_verified"] else 1
