"""Reproduce the stability results: trained CNNs become stable to diffeomorphisms and sensitive to
noise, layer by layer. Prints JSON lines and writes figures to bench/results/.

* Scale detection (2-D, d = 28, xi = 14, gap = 2): a CNN with stride and one without, trained on 4,096
  samples; D_f, G_f, R_f at every layer under the task's local deformation (active pixels moved by
  at most one pixel) at initialisation and after training.
* Scale detection (1-D, d = 128, xi = 32): a 6-block strided 1-D CNN and a 4-block one without
  stride, under the same local moves, before and after training.
* Digits: the small CNN of ``hullscope.models`` under max-entropy diffeomorphisms (c = 3, T = the
  geometric mean of [T_min, T_max]) at initialisation and after training.
* Speed: 500 digits images x all layers of the small ResNet (3 seeds).

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

    from hullscope.models import accuracy, small_cnn, small_resnet, split_digits_images, train_classifier
    from hullscope.stability import stability
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

    Xtr, ytr, Xte, yte = split_digits_images()
    torch.manual_seed(0)
    net = small_cnn()
    r0 = stability(net, Xte[:400], c=3.0, seeds=(0, 1, 2))
    train_classifier(net, Xtr, ytr, epochs=10 if args.quick else 30, seed=0)
    r1 = stability(net, Xte[:400], c=3.0, seeds=(0, 1, 2))
    fig = os.path.join(args.out, "stability_digits_cnn.png")
    r1.plot(fig)
    emit(case="digits_small_cnn", test_accuracy=accuracy(net, Xte, yte), T=r1.T, c=r1.c, layers=r1.layers,
         R_output_init=float(r0.mean("R")[-1]), R_output_trained=float(r1.mean("R")[-1]),
         D_init=r0.mean("D").round(4).tolist(), D_trained=r1.mean("D").round(4).tolist(),
         G_init=r0.mean("G").round(4).tolist(), G_trained=r1.mean("G").round(4).tolist(), figure=fig)

    torch.manual_seed(0)
    res = small_resnet()
    imgs = np.concatenate([Xte, Xtr])[:500]
    t0 = time.perf_counter()
    rr = stability(res, imgs, seeds=(0, 1, 2))
    emit(case="speed_small_resnet", images=500, layers=len(rr.layers), seeds=3,
         seconds=time.perf_counter() - t0, target_seconds=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
