"""Sample complexity of the (sparse) random hierarchy model on CPU. Prints JSON lines.

For s = 2, L = 2, v = 16, m = 8, n_c = 8 (P_max large enough for disjoint test sets):
* RHM (s0 = 0) with the CNN (width 512, 2 seeds): P* at 10% test error against n_c m^L = 512;
* SRHM s0 in {0, 1, 2} with the LCN: P* against (s0 + 1), and the fitted exponent (prediction ~ L = 2).

Sweeps of the RHM (s0 = 0, CNN) against the law P* ~ n_c m^L:
* ``--sweep m``: v = 16, n_c = 8, s = 2, L = 2, m in {6, 8, 12, 16}; fitted exponent of P* vs m
  (prediction L = 2);
* ``--sweep L``: v = 16, n_c = 8, s = 2, m = 4, L in {2, 3, 4}; fitted exponent of P* vs m^L
  (prediction 1), i.e. P* growing by a factor m per level.

Usage: python bench/hierarchy.py [--width 128 --rhm-width 512 --seeds 1 --max-epochs 60]
       python bench/hierarchy.py --sweep m [--rhm-width 256 --seeds 2]
       python bench/hierarchy.py --sweep L [--rhm-width 256 --seeds 2]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np


def main(argv=None) -> int:
    import torch

    from hullscope.hierarchy import make_rules, p_max, sample_indices
    from hullscope.hierarchy.sensitivity import sensitivities
    from hullscope.hierarchy.learning import estimate_p_star, learning_curve

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=128, help="LCN width")
    ap.add_argument("--rhm-width", type=int, default=512, help="CNN width for the RHM case (the paper's ~512)")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--max-epochs", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    ap.add_argument("--sweep", choices=["s0", "m", "L"], default="s0",
                    help="s0: the SRHM LCN sweep (default); m or L: RHM CNN sweeps against n_c m^L")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.sweep != "s0":
        return sweep_rhm(args)
    R = make_rules(v=16, m=8, n_c=8, s=2, L=2, seed=0)
    seeds = tuple(range(args.seeds))
    t0 = time.perf_counter()
    c = learning_curve(R, [256, 512, 768, 1024, 1536, 2048], arch="cnn", width=args.rhm_width, n_test=1000,
                       seeds=tuple(range(max(2, args.seeds))), max_epochs=100)
    est = estimate_p_star(c)
    print(json.dumps({"case": "rhm_cnn", "P": c.P.tolist(), "test_error_mean": c.errors.mean(1).round(4).tolist(),
                      **est, "prediction_n_c_m_L": 512, "ratio_to_prediction": est["p_star"] / 512,
                      "seconds": time.perf_counter() - t0}), flush=True)
    stars = {}
    for s0 in (0, 1, 2):
        t1 = time.perf_counter()
        cap = min(256 * (s0 + 1) ** 2 * 16, p_max(R, s0) - 1000)  # keep a disjoint test set
        grid = [int(x) for x in np.geomspace(256, cap, 6)]
        sens = []
        probe = sample_indices(p_max(R, s0), 300, seed=99)

        def measure(net, P, seed, s0=s0, probe=probe, sens=sens):
            # the last hidden layer's sensitivity to bottom-level synonyms (S) and positions (D)
            r = sensitivities(net, R, probe, 1, s0=s0, layers=["relu2"])
            sens.append({"P": P, "seed": seed, **{k: round(v["relu2"], 4) for k, v in r.items()}})

        c = learning_curve(R, grid, s0=s0, arch="lcn", width=args.width, n_test=1000, seeds=seeds,
                           max_epochs=args.max_epochs, on_trained=measure)
        est = estimate_p_star(c)
        stars[s0] = est["p_star"]
        print(json.dumps({"case": "srhm_lcn", "s0": s0, "P": c.P.tolist(),
                          "test_error_mean": c.errors.mean(1).round(4).tolist(), **est,
                          "last_hidden_sensitivities": sens, "seconds": time.perf_counter() - t1}), flush=True)
    ok = [s0 for s0 in stars if np.isfinite(stars[s0])]
    if len(ok) >= 2:
        slope = float(np.polyfit(np.log([s0 + 1 for s0 in ok]), np.log([stars[s0] for s0 in ok]), 1)[0])
        print(json.dumps({"case": "fit", "p_star_vs_s0_plus_1_exponent": slope, "prediction": 2}), flush=True)
    print(json.dumps({"total_seconds": time.perf_counter() - t0}), flush=True)
    return 0


def sweep_rhm(args) -> int:
    """P* of the RHM CNN over m (L = 2) or over L (m = 4), fitted against n_c m^L."""
    from hullscope.hierarchy import make_rules, p_max
    from hullscope.hierarchy.learning import estimate_p_star, fit_power_law, learning_curve, predicted_p_star

    t0 = time.perf_counter()
    settings = ([dict(v=16, m=m, n_c=8, s=2, L=2) for m in (6, 8, 12, 16)] if args.sweep == "m"
                else [dict(v=16, m=4, n_c=8, s=2, L=L) for L in (2, 3, 4)])
    preds, stars = [], []
    for kw in settings:
        t1 = time.perf_counter()
        R = make_rules(seed=0, **kw)
        pred = predicted_p_star(kw["n_c"], kw["m"], kw["L"])
        total = p_max(R)
        n_test = int(min(1000, max(100, total // 4)))
        top = int(min(6 * pred, total - n_test))
        grid = sorted({int(x) for x in np.geomspace(max(16, pred / 4), top, 7)})
        c = learning_curve(R, grid, arch="cnn", width=args.rhm_width, n_test=n_test,
                           seeds=tuple(range(args.seeds)), max_epochs=args.max_epochs)
        est = estimate_p_star(c)
        preds.append(pred)
        stars.append(est["p_star"])
        print(json.dumps({"case": f"rhm_cnn_sweep_{args.sweep}", **kw, "P": c.P.tolist(), "n_test": n_test,
                          "test_error_mean": c.errors.mean(1).round(4).tolist(), **est, "prediction": pred,
                          "ratio_to_prediction": est["p_star"] / pred, "seconds": time.perf_counter() - t1}),
              flush=True)
    xs = [kw["m"] for kw in settings] if args.sweep == "m" else preds
    fit = fit_power_law(xs, stars)
    print(json.dumps({"case": f"fit_p_star_vs_{'m' if args.sweep == 'm' else 'n_c_m^L'}", **fit,
                      "prediction": 2 if args.sweep == "m" else 1,
                      "total_seconds": time.perf_counter() - t0}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
