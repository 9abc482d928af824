"""Throughput of hullscope.distributed against the local multithreaded call, in one run.

n = 50,000 points in d = 784 (Gaussian), 500 Gaussian queries, ``distance`` (converged, certified).
The local side is ``Hull(X).distance(Q, threads=2)``; the Dask side runs the same call through a
``LocalCluster`` on the same 2 cores, (a) one worker with 2 threads and X broadcast once,
(b) the same with X memory-mapped from a shared ``.npy``, (c) two single-threaded workers with X
broadcast to both. Times include building the hull (and, for Dask, scheduling), but not starting
the cluster. The first Dask call also ships X to the workers (or maps the shared file); later calls
with the same X reuse it, so both are reported. Results are checked bitwise against the local call. Prints JSON lines.

Usage::

    python bench/distributed.py [--n 50000 --d 784 --queries 500]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the `distributed` package that dask imports: keep its folder off sys.path.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

from hullscope import Hull  # noqa: E402
from hullscope.hull import distributed as hd  # noqa: E402


def emit(**kw):
    print(json.dumps(kw), flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--d", type=int, default=784)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.n, args.d))
    Q = rng.normal(size=(args.queries, args.d))

    def local():
        return Hull(X).distance(Q, threads=2)

    t_local, ref = float("inf"), None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ref = local()
        t_local = min(t_local, time.perf_counter() - t0)
    emit(side="local", threads=2, seconds=t_local, queries_per_s=args.queries / t_local,
         passes_median=float(np.median(ref.passes)))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "X.npy"
        np.save(path, X)
        setups = [("1 worker x 2 threads, broadcast", 1, 2, None),
                  ("1 worker x 2 threads, shared .npy", 1, 2, str(path)),
                  ("2 workers x 1 thread, broadcast", 2, 1, None)]
        for label, nw, tpw, shared in setups:
            client = hd.local_client(n_workers=nw, threads_per_worker=tpw)
            try:
                times, res = [], None
                for _ in range(1 + args.repeats):
                    t0 = time.perf_counter()
                    res = hd.distance(X, Q, client=client, shared_path=shared, progress=False)
                    times.append(time.perf_counter() - t0)
                same = all(np.array_equal(getattr(ref, f), getattr(res, f))
                           for f in ("distance", "nearest", "values", "indices", "normal", "status"))
                first, again = times[0], min(times[1:])
                emit(side="dask", setup=label, first_call_seconds=first, repeat_call_seconds=again,
                     queries_per_s_first=args.queries / first, queries_per_s_repeat=args.queries / again,
                     overhead_first_call=first / t_local - 1.0, overhead_repeat_call=again / t_local - 1.0,
                     target_overhead=0.15, bitwise_equal_to_local=same)
            finally:
                cluster = client.cluster
                client.close()
                cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
