"""``hullscope analyze``: the extrapolation report on your own data and model.

Data: a ``.npz`` with arrays X_train, y_train, X_test, y_test (images (N, H, W) or (N, C, H, W), or
feature rows (N, d)), or an MNIST-style IDX folder. Model (optional): ``module:factory`` plus a
``state_dict`` path; its named layers (default: the last hidden layer) become feature spaces next to
pixels. Each finished space is checkpointed in ``OUT/checkpoints`` with a fingerprint of its inputs,
so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

import argparse
import warnings
from typing import Dict, Tuple

import numpy as np

from .._argtypes import positive_int, threads_arg
from ..datasets import load_arrays
from ..extrapolation import analyze_space_resumable
from .._validation import writable_dir


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("analyze", help="extrapolation report on your data (and model)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help=".npz with X_train, y_train, X_test, y_test; or an IDX folder (MNIST layout)")
    p.add_argument("--model", default=None, help="MODULE:FACTORY returning a torch nn.Module")
    p.add_argument("--weights", default=None, help="state_dict file for --model")
    p.add_argument("--layers", default=None,
                   help="comma-separated layer names for feature spaces (default: the last hidden layer)")
    p.add_argument("--no-pixels", action="store_true", help="skip the raw input space")
    p.add_argument("--normalize", choices=["none", "standardize", "minmax"], default="none",
                   help="input-space normalisation, fitted on the training set and recorded in the report: "
                        "per-feature z-scores, or per-feature scaling to [0, 1]")
    p.add_argument("--wavelets", action="store_true", help="add the wavelet-detail space (images only)")
    p.add_argument("--shearlets", action="store_true", help="add the shearlet-magnitude space (square images)")
    p.add_argument("--n-train", type=positive_int, default=None, help="use the first N training samples")
    p.add_argument("--n-test", type=positive_int, default=None, help="use the first N test samples")
    p.add_argument("--threads", type=threads_arg, default=None, help="OpenMP threads (default: all cores)")
    p.add_argument("--device", default="cpu", help="torch device for feature extraction")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of an untrained --model (given without --weights) and of the leave-one-out sample")
    p.add_argument("--out", default="hullscope-report", help="output folder (default ./hullscope-report)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = writable_dir(args.out, "--out")
    ckpt = writable_dir(out / "checkpoints", "--out")
    Xtr, ytr, Xte, yte = load_arrays(args.data)
    for flag in ("n_train", "n_test"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            raise ValueError(f"--{flag.replace('_', '-')}: expected a positive count, got {v}")
    Xtr, ytr = Xtr[:args.n_train], ytr[:args.n_train]
    Xte, yte = Xte[:args.n_test], yte[:args.n_test]
    spaces: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
    if not args.no_pixels:
        Ptr = Xtr.reshape(len(Xtr), -1).astype(np.float64)
        Pte = Xte.reshape(len(Xte), -1).astype(np.float64)
        if args.normalize == "standardize":
            mu, sd = Ptr.mean(axis=0), Ptr.std(axis=0)
            sd[sd == 0] = 1.0
            Ptr, Pte = (Ptr - mu) / sd, (Pte - mu) / sd
        elif args.normalize == "minmax":
            lo, span = Ptr.min(axis=0), np.ptp(Ptr, axis=0)
            span[span == 0] = 1.0
            Ptr, Pte = (Ptr - lo) / span, (Pte - lo) / span
        spaces["pixels"] = (Ptr, Pte)
    imgs_tr = Xtr if Xtr.ndim == 3 else (Xtr[:, 0] if Xtr.ndim == 4 and Xtr.shape[1] == 1 else None)
    imgs_te = Xte if Xte.ndim == 3 else (Xte[:, 0] if Xte.ndim == 4 and Xte.shape[1] == 1 else None)
    if args.wavelets or args.shearlets:
        if imgs_tr is None:
            raise ValueError("--wavelets/--shearlets: need single-channel images (N, H, W)")
        from ..features import shearlet_features, wavelet_features

        if args.wavelets:
            det = ("horizontal", "vertical", "diagonal")
            spaces["wavelet details (haar)"] = (wavelet_features(imgs_tr, subbands=det),
                                                wavelet_features(imgs_te, subbands=det))
        if args.shearlets:
            spaces["shearlet magnitudes"] = (shearlet_features(imgs_tr, directional_only=True, magnitude=True),
                                             shearlet_features(imgs_te, directional_only=True, magnitude=True))
    acc = None
    pred = None
    if args.weights is not None and args.model is None:
        raise ValueError("--weights: given without --model; say which network the weights belong to "
                         "(--model MODULE:FACTORY)")
    if args.model is not None:
        import torch

        from ..features import extract, last_hidden_layer
        from ..models import accuracy, load_model

        torch.manual_seed(args.seed)
        model = load_model(args.model, args.weights, device=args.device)
        if args.weights is None:
            warnings.warn(f"--model {args.model} without --weights: measuring an untrained network, initialised "
                          f"with seed {args.seed}", UserWarning, stacklevel=2)
        inp_tr = Xtr[:, None] if Xtr.ndim == 3 else Xtr
        inp_te = Xte[:, None] if Xte.ndim == 3 else Xte
        layers = ([s.strip() for s in args.layers.split(",") if s.strip()] if args.layers
                  else [last_hidden_layer(model, inp_te[:2])])
        ftr = extract(model, inp_tr, layers, device=args.device)
        fte = extract(model, inp_te, layers, device=args.device)
        for L in layers:
            spaces[f"layer {L}"] = (ftr[L], fte[L])
        acc = float(accuracy(model, inp_te, yte, device=args.device))
        with torch.no_grad():
            pred = np.concatenate([model(torch.as_tensor(inp_te[a:a + 512], dtype=torch.float32,
                                                        device=args.device)).argmax(1).cpu().numpy()
                                   for a in range(0, len(inp_te), 512)])
        print(f"model {args.model}: test accuracy {100 * acc:.2f}% on {len(yte)} test samples")
    elif args.layers:
        raise ValueError("--layers: needs --model")
    if not spaces:
        raise ValueError("nothing to analyze: --no-pixels without --model, --wavelets or --shearlets")
    from ..report import provenance, write_report

    analyses = {}
    for name, (Ftr, Fte) in spaces.items():
        a, reused = analyze_space_resumable(Ftr, ytr, Fte, yte, name, checkpoint_dir=ckpt, threads=args.threads,
                                            seed=args.seed)
        analyses[name] = a
        print(f"{name}: {100 * a.summary['fraction_outside']:.1f}% of {len(Fte)} test samples outside the "
              f"training hull, median hull/NN distance {a.summary['median_hull_over_nn']:.3f}"
              + (" (from checkpoint)" if reused else ""))
    images = None
    if "pixels" in analyses and imgs_tr is not None:
        images = {"test": imgs_te, "train": imgs_tr, "y_train": ytr}
    meta = provenance(seeds=[args.seed], threads=args.threads, data=str(args.data),
                      sizes={"n_train": int(len(Xtr)), "n_test": int(len(Xte))},
                      model=None if args.model is None else f"{args.model} (weights: {args.weights or 'untrained'})",
                      test_accuracy=acc, input_normalisation=args.normalize + " (fitted on the training set)")
    write_report(out, analyses, images=images, meta=meta, predictions=pred, labels=yte)
    print(f"wrote {out / 'index.html'}")
    return 0
