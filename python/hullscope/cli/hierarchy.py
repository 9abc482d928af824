"""``hullscope hierarchy sample`` and ``hullscope hierarchy learn``."""
from __future__ import annotations

import argparse
import json
from .._argtypes import nonnegative_int, positive_int, positive_int_list


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--v", type=positive_int, default=16, help="vocabulary per level")
    p.add_argument("--m", type=positive_int, default=8, help="synonyms per symbol (<= v^(s-1))")
    p.add_argument("--n-c", type=positive_int, default=8, help="classes (<= v)")
    p.add_argument("--s", type=positive_int, default=2, help="patch size")
    p.add_argument("--L", type=positive_int, default=2, help="levels")
    p.add_argument("--s0", type=nonnegative_int, default=0, help="sparsity: empty slots per informative child (SRHM)")
    p.add_argument("--variant", choices=["subpatch", "ordered"], default="subpatch")
    p.add_argument("--rules-seed", type=int, default=0)
    p.add_argument("--out", default="hullscope-hierarchy", help="output folder")


def register(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("hierarchy", help="the (sparse) random hierarchy model: sample data, learning curves")
    hs = p.add_subparsers(dest="hierarchy_command", metavar="ACTION")
    ps = hs.add_parser("sample", help="write P data (symbols, one-hot, labels) as .npz with their exact P_max",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _model_args(ps)
    ps.add_argument("--P", type=positive_int, default=1000, help="number of distinct data (default 1000)")
    ps.add_argument("--seed", type=int, default=0)
    ps.set_defaults(func=run_sample)
    pl = hs.add_parser("learn", help="learning curve and P* of a matched network",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _model_args(pl)
    pl.add_argument("--arch", choices=["lcn", "cnn", "fcn"], default="lcn")
    pl.add_argument("--P", type=positive_int_list, default=[256, 512, 1024, 2048],
                    help="comma-separated training-set sizes (default 256,512,1024,2048)")
    pl.add_argument("--n-test", type=positive_int, default=1000)
    pl.add_argument("--seeds", type=positive_int, default=2)
    pl.add_argument("--width", type=positive_int, default=128)
    pl.add_argument("--max-epochs", type=positive_int, default=100)
    pl.add_argument("--threshold", type=float, default=0.1, help="test error defining P*")
    pl.set_defaults(func=run_learn)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _rules(args):
    from ..hierarchy.rhm import make_rules

    if args.s0 < 0:
        raise ValueError(f"--s0: expected >= 0, got {args.s0}")
    return make_rules(args.v, args.m, args.n_c, args.s, args.L, seed=args.rules_seed)


def run_sample(args) -> int:
    import numpy as np

    from .._validation import writable_dir
    from ..hierarchy.rhm import generate, one_hot, p_max, sample_indices

    R = _rules(args)
    total = p_max(R, args.s0, args.variant)
    idx = sample_indices(total, args.P, seed=args.seed)
    X, y = generate(R, idx, args.s0, args.variant)
    out = writable_dir(args.out, "--out")
    np.savez(out / "data.npz", symbols=X, one_hot=one_hot(X, R.v), labels=y,
             indices=np.array([str(i) for i in idx]))
    meta = {"v": R.v, "m": R.m, "n_c": R.n_c, "s": R.s, "L": R.L, "s0": args.s0, "variant": args.variant,
            "P": args.P, "P_max": str(total), "input_length": int(X.shape[1])}
    (out / "data.json").write_text(json.dumps(meta, indent=1))
    print(f"wrote {args.P} of P_max = {total} data to {out / 'data.npz'}")
    return 0


def run_learn(args) -> int:
    from .._validation import writable_dir
    from ..hierarchy.learning import estimate_p_star, learning_curve

    R = _rules(args)
    Ps = list(args.P)
    out = writable_dir(args.out, "--out")
    c = learning_curve(R, Ps, s0=args.s0, variant=args.variant, arch=args.arch, width=args.width,
                       n_test=args.n_test, seeds=tuple(range(args.seeds)), max_epochs=args.max_epochs,
                       progress=True)
    est = estimate_p_star(c, args.threshold)
    rep = {"P": c.P.tolist(), "errors": c.errors.tolist(), **est, "prediction_n_c_m_L": R.n_c * R.m ** R.L,
           "arch": args.arch, "s0": args.s0}
    (out / "learning_curve.json").write_text(json.dumps(rep, indent=1))
    try:
        from .._plot import subplots

        fig, axes = subplots(figsize=(4.5, 3.5))
        ax = axes[0, 0]
        ax.errorbar(c.P, c.errors.mean(1), yerr=c.errors.std(1), marker="o", capsize=3)
        ax.axhline(args.threshold, color="k", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("training data P")
        ax.set_ylabel("test error")
        ax.set_title(f"{args.arch}, s0={args.s0}: P* = {est['p_star']:.3g}", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / "learning_curve.png", dpi=110)
    except ImportError:
        pass
    for P, e in zip(c.P, c.errors.mean(1)):
        print(f"P = {P:>7}  test error {e:.3f}")
    print(f"P* ({args.threshold:.0%} error) = {est['p_star']:.4g}; n_c m^L = {R.n_c * R.m ** R.L}")
    return 0
