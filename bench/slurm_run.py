"""A hullscope job through SLURM with dask-jobqueue's SLURMCluster, checked bitwise against the local call.

Started by ``bench/slurm_local.sh`` (which brings up a one-node SLURM on this machine and sets
``SLURM_CONF``); it also runs against any SLURM whose ``sbatch`` works from here. Not run in CI.

MNIST pixels (``hullscope.datasets.load_mnist``: 60,000 x 784 training images, float64 in [0, 1]):

* ``distance`` of ``--queries`` test images to the hull of the training images;
* a leave-one-out sweep (``contains``) over ``--loo`` training rows spread over the set.

The local side is ``Hull(X).distance(Q, threads=C)`` / ``Hull(X).leave_one_out(idx, threads=C)`` on the
C cores SLURM gives the job. The SLURM side submits one job (``cores=C``, one worker process with C
Dask threads, one core thread per task) with ``sbatch``, waits for its worker, and runs the same calls:
the first with ``shared_path="auto"`` (X memory-mapped from a ``.npy``, since the worker shares
this machine's files), then a repeat, then one with X broadcast (``shared_path=None``) through a
second client. Every result is compared field by field with the local one. Prints JSON lines.

Usage::

    sudo bash bench/slurm_local.sh [--queries 500 --loo 300 --cores 2 --memory 8GB]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# bench/distributed.py is named like the `distributed` package that dask imports: keep this folder off sys.path.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402

from hullscope import Hull  # noqa: E402
from hullscope._json import dumps  # noqa: E402
from hullscope.datasets import load_mnist  # noqa: E402
from hullscope.hull import distributed as hd  # noqa: E402
from hullscope.hull.result import RESULT_FIELDS  # noqa: E402


def emit(**kw):
    print(dumps(dict(kw, loadavg=list(os.getloadavg()))), flush=True)


def same(a, b) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in RESULT_FIELDS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=500, help="MNIST test images to measure (distance)")
    ap.add_argument("--loo", type=int, default=300, help="training rows in the leave-one-out sweep")
    ap.add_argument("--n-train", type=int, default=None, help="first n training images (default all 60,000)")
    ap.add_argument("--float32", action="store_true", help="X in float32 (as ML features come)")
    ap.add_argument("--cores", type=int, default=os.cpu_count(), help="cores of the SLURM job (and local threads)")
    ap.add_argument("--memory", default="8GB", help="memory of the SLURM job")
    ap.add_argument("--walltime", default="00:30:00")
    ap.add_argument("--queue", default="debug", help="SLURM partition")
    args = ap.parse_args(argv)
    from dask.distributed import Client
    from dask_jobqueue import SLURMCluster

    import hashlib

    import hullscope._core as core

    # the worker loads the core from disk when its job starts: a core rebuilt meanwhile would differ
    sha0 = hashlib.sha256(Path(core.__file__).read_bytes()).hexdigest()[:16]
    ds = load_mnist(n_train=args.n_train, n_test=args.queries)
    X = ds.X_train.reshape(len(ds.X_train), -1)
    X = np.ascontiguousarray(X, dtype=np.float32 if args.float32 else np.float64)
    Q = ds.X_test.reshape(len(ds.X_test), -1)
    idx = np.unique(np.linspace(0, X.shape[0] - 1, args.loo).astype(np.int64))
    emit(data="mnist pixels", n=X.shape[0], d=X.shape[1], dtype=str(X.dtype), queries=len(Q), loo_rows=len(idx),
         cores=args.cores, slurm_conf=os.environ.get("SLURM_CONF"))

    t0 = time.perf_counter()
    h = Hull(X, threads=args.cores)
    ref_d = h.distance(Q)
    t_local_d = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_l = Hull(X, threads=args.cores).leave_one_out(idx)
    t_local_l = time.perf_counter() - t0
    emit(side="local", threads=args.cores, distance_seconds=t_local_d, loo_seconds=t_local_l,
         passes_median=float(np.median(ref_d.passes)), outside=int(np.sum(ref_d.status == "outside")),
         loo_inside=int(np.sum(ref_l.status == "inside")))

    # the .npy of shared_path="auto" goes to a folder of this run, removed at the end
    shared = tempfile.TemporaryDirectory(prefix="hullscope-shared-", dir=".")
    os.environ[hd.SHARED_DIR_ENV] = str(Path(shared.name).resolve())
    t0 = time.perf_counter()
    cluster = SLURMCluster(queue=args.queue, cores=args.cores, processes=1, memory=args.memory,
                           walltime=args.walltime, log_directory="logs", python=sys.executable)
    emit(job_script=cluster.job_script())
    try:
        cluster.scale(jobs=1)
        with Client(cluster) as client:
            client.wait_for_workers(1, timeout=300)
            t_up = time.perf_counter() - t0
            info = client.scheduler_info()["workers"]
            emit(side="slurm", step="worker up (sbatch -> worker registered)", seconds=t_up,
                 workers=[{"host": w["host"], "nthreads": w["nthreads"]} for w in info.values()])

            def timed(label, fn, ref, t_ref):
                t = time.perf_counter()
                res, rep = fn()
                sec = time.perf_counter() - t
                emit(side="slurm", step=label, seconds=sec, ratio_to_local=sec / t_ref,
                     bitwise_equal_to_local=same(ref, res), x_path=rep.shared_path or "broadcast")
                return same(ref, res)

            ok = timed("distance, first call, shared_path='auto'",
                       lambda: h.distance(Q, client=client, progress=False, return_report=True), ref_d, t_local_d)
            ok &= timed("distance, repeat call",
                        lambda: h.distance(Q, client=client, progress=False, return_report=True), ref_d, t_local_d)
            ok &= timed("leave_one_out (contains), same X",
                        lambda: h.leave_one_out(idx, client=client, progress=False, return_report=True),
                        ref_l, t_local_l)
        # a fresh client on the same cluster: nothing of X is cached on its side; X broadcast
        with Client(cluster) as client:
            ok &= timed("distance, first call of a new client, shared_path=None (broadcast)",
                        lambda: h.distance(Q, client=client, shared_path=None, progress=False, return_report=True),
                        ref_d, t_local_d)
    finally:
        cluster.close()
        shared.cleanup()
    import hashlib

    import hullscope._core as core

    emit(all_bitwise_equal=bool(ok),
         core_sha256_end=hashlib.sha256(Path(core.__file__).read_bytes()).hexdigest()[:16], core_sha256_start=sha0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
