"""``hullscope hierarchy sample`` and ``hullscope hierarchy learn``."""
from __future__ import annotations

import argparse
from .._argtypes import nonnegative_int, positive_int, positive_int_list, seed_list


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--v", type=positive_int, default=16, help="vocabulary per level")
    p.add_argument("--m", type=positive_int, default=8, help="synonyms per symbol (<= v^(s-1))")
    p.add_argument("--n-c", type=positive_int, default=8, help="classes (<= v)")
    p.add_argument("--s", type=positive_int, default=2, help="patch size")
    p.add_argument("--L", type=positive_int, default=2, help="levels")
    p.add_argument("--s0", type=nonnegative_int, default=0, help="sparsity: empty slots per informative child (SRHM)")
    p.add_argument("--variant", choices=["subpatch", "ordered"], default="subpatch",
                   help="SRHM layout: each child in its own sub-patch, or the s children in order anywhere")
    p.add_argument("--rules-seed", type=int, default=0, help="seed of the production rules")
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
    pl.add_argument("--arch", choices=["lcn", "cnn", "fcn"], default="lcn",
                    help="locally connected, convolutional or fully connected network")
    pl.add_argument("--P", type=positive_int_list, default=[256, 512, 1024, 2048],
                    help="comma-separated training-set sizes (default 256,512,1024,2048)")
    pl.add_argument("--n-test", type=positive_int, default=1000, help="test data per point of the curve")
    pl.add_argument("--seeds", type=seed_list, default=[0, 1],
                    help="comma-separated training seeds (a list, as in every hullscope command)")
    pl.add_argument("--width", type=positive_int, default=128, help="channels per layer")
    pl.add_argument("--max-epochs", type=positive_int, default=100, help="training budget per network")
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

    from .._json import write_json
    from ..report import provenance
    from .._validation import writable_dir
    from ..hierarchy.rhm import generate, one_hot, p_max, sample_indices

    R = _rules(args)
    total = p_max(R, args.s0, args.variant)
    idx = sample_indices(total, args.P, seed=args.seed)
    X, y = generate(R, idx, args.s0, args.variant)
    out = writable_dir(args.out, "--out")
    np.savez(out / "data.npz", symbols=X, one_hot=one_hot(X, R.v), labels=y,
             indices=np.array([str(i) for i in idx]))
    meta = {"provenance": provenance(seeds=[args.seed, args.rules_seed], data="random hierarchy model",
                                     sizes={"P": int(args.P)}),
            "v": R.v, "m": R.m, "n_c": R.n_c, "s": R.s, "L": R.L, "s0": args.s0, "variant": args.variant,
            "P": args.P, "P_max": int(total), "input_length": int(X.shape[1])}
    write_json(out / "data.json", meta)
    print(f"wrote {args.P} of P_max = {total} data to {out / 'data.npz'}")
    return 0


def run_learn(args) -> int:
    import numpy as np

    from .._json import write_json
    from ..report import provenance
    from .._validation import writable_dir
    from ..hierarchy.learning import estimate_p_star, learning_curve

    R = _rules(args)
    Ps = list(args.P)
    out = writable_dir(args.out, "--out")
    c = learning_curve(R, Ps, s0=args.s0, variant=args.variant, arch=args.arch, width=args.width,
                       n_test=args.n_test, seeds=tuple(args.seeds), max_epochs=args.max_epochs,
                       progress=True)
    est = estimate_p_star(c, args.threshold)
    reached = bool(np.isfinite(est["p_star"]))
    rep = {"provenance": provenance(seeds=list(args.seeds) + [args.rules_seed], data="random hierarchy model",
                                    sizes={"P": [int(p) for p in c.P], "n_test": int(args.n_test)},
                                    model=f"{args.arch}, width {args.width}"),
           "P": c.P.tolist(), "errors": c.errors.tolist(), **est, "p_star_reached": reached,
           "p_star_note": None if reached else f"the test error never fell below {args.threshold} in the P range",
           "prediction_n_c_m_L": R.n_c * R.m ** R.L, "arch": args.arch, "s0": args.s0}
    write_json(out / "learning_curve.json", rep)
    try:
        from .._plot import subplots

        fig, axes = subplots(figsize=(4.5, 3.5))
        ax = axes[0, 0]
        ax.errorbar(c.P, c.errors.mean(1), yerr=c.errors.std(1), marker="o", capsize=3)
        ax.axhline(args.threshold, color="k", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("training data P")
        ax.set_ylabel("test error")
        pst = f"P* = {est['p_star']:.3g}" if reached else f"P* not reached (error > {args.threshold:g})"
        ax.set_title(f"{args.arch}, s0={args.s0}: {pst}", fontsize=10)
        ax.legend(["test error threshold", "mean test error over seeds (bars: std)"][::-1], fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "learning_curve.png", dpi=110)
    except ImportError:
        pass
    for P, e in zip(c.P, c.errors.mean(1)):
        print(f"P = {P:>7}  test error {e:.3f}")
    pst = f"{est['p_star']:.4g}" if reached else "not reached in this P range"
    print(f"P* ({args.threshold:.0%} error) = {pst}; n_c m^L = {R.n_c * R.m ** R.L}")
    return 0
