"""Hull analyses on a Dask cluster: chunked, checkpointed, resumable, with nothing lost.

The queries of one call are cut into chunks; every chunk is one Dask task against the same
read-only X. X reaches the workers once: from a memory-mapped ``.npy`` on a shared path when
``shared_path`` is given (each worker process maps it once and caches its :class:`~hullscope.Hull`),
otherwise by a single broadcast (``client.scatter(X, broadcast=True)``), again cached per worker
process. Each chunk's result is written by the client, as it arrives, to ``out/chunk-XXXXX.npz``
(through a temporary file and an atomic rename) and recorded with its SHA-256 in
``out/manifest.json``. A rerun with the same arguments skips the chunks on disk whose checksum
matches, recomputes missing or corrupted ones, and returns a result bitwise identical to an
uninterrupted run (query results never depend on chunking or thread counts). An output folder
holding results of other arguments is refused.

Failures: a task that raises is retried (``retries``), a lost worker's tasks are rescheduled by
Dask; a chunk that still fails is reported by id in :class:`ChunkFailures`, after every other chunk
has been computed and written.

Threads: the Dask nanny sets ``OMP_NUM_THREADS=1`` in workers, so every task passes an explicit
thread count to the core (``threads_per_task``, default 1, since each Dask worker thread runs its own
chunk; raise it for workers with one Dask thread and several cores). The choice is logged and
recorded in the manifest.

Examples
--------
>>> from dask.distributed import Client, LocalCluster            # doctest: +SKIP
>>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
>>> r = Hull(X).distance(Q, client=client, out="runs/pixels")     # doctest: +SKIP
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .._progress import progress_bar
from .._validation import as_matrix, writable_dir
from . import engine
from .checkpoint import Manifest, fingerprint, save_arrays
from .options import SolveOptions, validate_subset
from .result import DistanceResult

log = logging.getLogger(__name__)

__all__ = ["run_hull", "release", "distance", "contains", "leave_one_out", "analyze_spaces", "check_workers",
           "local_client", "ChunkFailures", "RunReport"]



class ChunkFailures(RuntimeError):
    """Some chunks failed after their retries. Every other chunk is on disk; a rerun resumes."""

    def __init__(self, failed: Dict[int, str], out: Optional[Path]):
        self.failed = dict(failed)
        self.out = out
        lines = "\n".join(f"  chunk {k}: {v}" for k, v in sorted(failed.items()))
        where = f" The completed chunks are saved in {str(out)!r}; rerun to resume." if out else ""
        super().__init__(f"{len(failed)} chunk(s) failed after retries:\n{lines}\n{where}")


@dataclass
class RunReport:
    """What one distributed call did: chunk ids computed now, reused from disk, and failed."""

    n_chunks: int
    computed: List[int] = field(default_factory=list)
    skipped: List[int] = field(default_factory=list)
    recomputed_corrupt: List[int] = field(default_factory=list)
    failed: Dict[int, str] = field(default_factory=dict)
    threads_per_task: int = 0


# ---- worker side ----------------------------------------------------------------------------------

_WORKER_POINTS: Dict[str, Any] = {}


def _worker_points(key: str, X: Any, shared_path: Optional[str]):
    """(X, point set) on this worker process, built once and cached under ``key``."""
    got = _WORKER_POINTS.get(key)
    if got is None:
        if shared_path is not None:
            X = np.load(shared_path, mmap_mode="r")
        Xm = as_matrix(X, "X")
        got = (Xm, engine.point_set(Xm, threads=1))
        _WORKER_POINTS.clear()  # keep one point set per process: X can be large
        _WORKER_POINTS[key] = got
    return got


def _solve_chunk(key: str, X: Any, shared_path: Optional[str], method: str, Qc: np.ndarray,
                 exclude: Optional[np.ndarray], subset: Optional[np.ndarray], options: SolveOptions) -> dict:
    Xm, ps = _worker_points(key, X, shared_path)
    res = engine.run(ps, Xm, Qc, subset=subset, exclude=exclude, early_exit=(method != "distance"), options=options,
                     method=method)
    return res.to_dict()


def _worker_version() -> str:
    import hullscope

    return hullscope.__version__


# ---- client side ----------------------------------------------------------------------------------

def local_client(n_workers: int = 2, threads_per_worker: int = 1, **kw: Any):
    """A ``Client`` on a new ``LocalCluster`` (the embedded default). Close it when done."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError('hullscope.hull.distributed needs dask: pip install "hullscope[dask]"') from exc
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
                           dashboard_address=None, **kw)
    return Client(cluster)


_BROADCASTS: Dict[str, Tuple[Tuple, Any]] = {}


def _broadcast(client: Any, Xm: np.ndarray):
    """Ship X to every worker once per client; later calls with the same array reuse it.

    The same array means the same memory, shape and strides (X must not be modified in place while
    a hull uses it, as documented on :class:`hullscope.Hull`). Only the latest X is kept per client.
    """
    ident = (Xm.__array_interface__["data"][0], Xm.shape, Xm.strides)
    cached = _BROADCASTS.get(client.id)
    if cached is not None and cached[0] == ident and cached[1].status == "finished":
        return cached[1]
    if cached is not None:
        client.cancel(cached[1])
    fut = client.scatter(Xm, broadcast=True, hash=False, direct=True)
    _BROADCASTS[client.id] = (ident, fut)
    return fut


def release(client: Any) -> None:
    """Drop the copy of X that :func:`run_hull` keeps on the workers of ``client``."""
    cached = _BROADCASTS.pop(client.id, None)
    if cached is not None:
        client.cancel(cached[1])


def _close(client: Any) -> None:
    """Close a client made by :func:`local_client`, and its cluster."""
    cluster = client.cluster
    client.close()
    if cluster is not None:
        cluster.close()


def check_workers(client: Any) -> Dict[str, str]:
    """Check that every worker imports hullscope at the client's version; return {worker: version}."""
    from .. import __version__

    try:
        versions = client.run(_worker_version)
    except Exception as exc:  # a worker without hullscope raises ImportError inside client.run
        raise RuntimeError(f"client: a worker cannot import hullscope ({type(exc).__name__}: {exc}); "
                           f"install hullscope=={__version__} on every worker") from exc
    if not versions:
        raise RuntimeError("client: the cluster has no workers")
    bad = {w: v for w, v in versions.items() if v != __version__}
    if bad:
        raise RuntimeError(f"client: workers run other hullscope versions than the client ({__version__}): {bad}")
    return versions


def run_hull(X: Any, Q: Any, *, method: str = "distance", client: Any = None, out: Optional[str] = None,
             subset: Any = None, exclude: Optional[np.ndarray] = None, chunk_size: Optional[int] = None,
             threads_per_task: Optional[int] = None, shared_path: Optional[str] = None, retries: int = 2,
             progress: bool = True, rtol: Optional[float] = None, max_passes: Optional[int] = None,
             pool: Optional[int] = None, block: Optional[int] = None, options: Optional[SolveOptions] = None,
             on_chunk_done: Optional[Callable[[int], None]] = None,
             return_report: bool = False):
    """Run ``Hull(X).distance`` / ``contains`` (or leave-one-out via ``exclude``) over a Dask cluster.

    Parameters
    ----------
    X : array-like, shape (n, d)
        The hull's points (validated and converted once, on the client).
    Q : array-like, shape (B, d)
        Queries.
    method : {"distance", "contains"}
    client : dask.distributed.Client, optional
        Default: a new ``LocalCluster`` with 2 single-threaded worker processes, closed afterwards.
    out : path, optional
        Checkpoint folder (created). Without it nothing is written and nothing can be resumed.
    subset, exclude : optional
        As in :meth:`hullscope.Hull.distance` (``exclude`` gives one row per query to leave out).
    chunk_size : int, optional
        Queries per task (default: about 2 chunks per worker thread, between 16 and 4096 queries).
    threads_per_task : int, optional
        Threads each task's core call uses (default 1: every Dask worker thread runs its own chunk).
    shared_path : path, optional
        A ``.npy`` file readable by every worker at this path, holding exactly X (checked by
        shape and dtype); workers memory-map it instead of receiving a broadcast. Without it X is
        broadcast once per client and kept on the workers for later calls (see :func:`release`).
    retries : int
        Extra attempts for a chunk whose task raises.
    on_chunk_done : callable, optional
        Called on the client with each chunk id once it is safely on disk (for monitoring).
    return_report : bool
        Also return a :class:`RunReport`.
    rtol, max_passes, pool, block, options
        Solver options: a :class:`~hullscope.hull.SolveOptions`, or its fields one by one (defaults
        from :data:`~hullscope.hull.options.DEFAULTS`).

    Returns
    -------
    DistanceResult, or (DistanceResult, RunReport)
        Bitwise identical to the local call with the same arguments.
    """
    if method not in ("distance", "contains"):
        raise ValueError(f"method: expected 'distance' or 'contains', got {method!r}")
    given = {k: v for k, v in dict(rtol=rtol, max_passes=max_passes, pool=pool, block=block).items() if v is not None}
    if options is None:
        options = SolveOptions(**given)
    elif given:
        raise TypeError(f"options: give a SolveOptions or its fields {sorted(given)}, not both")
    Xm = as_matrix(X, "X")
    Qm = as_matrix(Q, "Q", d=Xm.shape[1], allow_vector=True, allow_empty=True)
    sub = validate_subset(subset, Xm.shape[0])
    if isinstance(retries, bool) or not isinstance(retries, (int, np.integer)) or retries < 0:
        raise ValueError(f"retries: expected a non-negative int, got {retries!r}")
    if exclude is not None:
        exclude = np.ascontiguousarray(exclude, dtype=np.int64)
        if exclude.shape != (Qm.shape[0],):
            raise ValueError(f"exclude: expected one row index per query, shape ({Qm.shape[0]},)")
    opts = options.solver_dict()

    own_client = client is None
    if own_client:
        client = local_client()
    try:
        check_workers(client)
        info = client.scheduler_info()
        workers = info.get("workers", {})
        nthreads = [w.get("nthreads", 1) for w in workers.values()] or [1]
        total_threads = int(sum(nthreads))
        if threads_per_task is None:
            # one core thread per Dask worker thread: each worker thread runs its own chunk, so the
            # cores are neither idle nor oversubscribed
            threads_per_task = 1
        if not isinstance(threads_per_task, (int, np.integer)) or threads_per_task < 1:
            raise ValueError(f"threads_per_task: expected a positive int, got {threads_per_task!r}")
        log.info("hullscope.hull.distributed: %d workers, %d core thread(s) per task (workers' OMP_NUM_THREADS "
                 "is ignored: the count is passed explicitly)", len(workers), threads_per_task)
        B = Qm.shape[0]
        if chunk_size is None:
            # about 2 chunks per worker thread: enough to balance and checkpoint, few enough that
            # each core call still prices a full block of queries per pass
            chunk_size = int(np.clip(-(-B // (2 * max(1, total_threads))), 16, 4096))
        if not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise ValueError(f"chunk_size: expected a positive int, got {chunk_size!r}")
        bounds = [(a, min(B, a + chunk_size)) for a in range(0, B, chunk_size)]
        # the fingerprint hashes X and Q (a pass over them): only needed to guard a checkpoint folder
        fp = (fingerprint(Xm, Qm, sub, exclude, method=method, opts=opts, chunk_size=int(chunk_size))
              if out is not None else None)
        report = RunReport(n_chunks=len(bounds), threads_per_task=int(threads_per_task))

        manifest = None
        outp = None
        if out is not None:
            outp = writable_dir(out, "out")
            manifest = Manifest(outp, fp, {"method": method, "n_queries": B, "n": Xm.shape[0], "d": Xm.shape[1],
                                            "chunk_size": int(chunk_size), "threads_per_task": int(threads_per_task),
                                            "opts": opts})

        parts: Dict[int, dict] = {}
        todo = []
        for cid in range(len(bounds)):
            got = manifest.valid_chunk(cid) if manifest is not None else None
            if got is not None:
                parts[cid] = got
                report.skipped.append(cid)
            else:
                if manifest is not None and str(cid) in manifest.data["chunks"]:
                    report.recomputed_corrupt.append(cid)
                    log.warning("chunk %d on disk is missing or corrupt; recomputing it", cid)
                todo.append(cid)

        if todo:
            if shared_path is not None:
                sp = Path(shared_path)
                try:
                    mm = np.load(sp, mmap_mode="r")
                except (OSError, ValueError) as exc:
                    raise ValueError(f"shared_path: cannot read {str(sp)!r} as a .npy array: {exc}") from exc
                if mm.shape != Xm.shape or mm.dtype != np.float64:
                    raise ValueError(f"shared_path: {str(sp)!r} holds {mm.dtype} {mm.shape}, expected float64 "
                                     f"{Xm.shape} (the same X)")
                x_ref, spath = None, str(sp.resolve())
                st = sp.stat()
                key = f"{spath}:{st.st_size}:{st.st_mtime_ns}"
            else:
                x_ref, spath = _broadcast(client, Xm), None
                key = str(x_ref.key)
            from dask.distributed import as_completed

            futures = {}
            for cid in todo:
                a, b = bounds[cid]
                ex = None if exclude is None else exclude[a:b]
                task_opts = SolveOptions(threads=int(threads_per_task), **opts)
                fut = client.submit(_solve_chunk, key, x_ref, spath, method, Qm[a:b], ex, sub, task_opts,
                                    retries=int(retries), pure=False)
                futures[fut] = cid
            with progress_bar(progress, len(bounds), f"hull {method} (chunks)", unit="chunk") as bar:
                bar.update(len(parts))
                for fut in as_completed(list(futures)):
                    cid = futures[fut]
                    try:
                        arrays = fut.result()
                    except Exception as exc:  # retries exhausted, or the worker kept dying
                        report.failed[cid] = f"{type(exc).__name__}: {exc}"
                        log.error("chunk %d failed after retries: %s", cid, exc)
                        continue
                    if manifest is not None:
                        fname = f"chunk-{cid:05d}.npz"
                        sha = save_arrays(outp / fname, arrays)
                        manifest.record(cid, fname, sha, bounds[cid])
                    parts[cid] = arrays
                    report.computed.append(cid)
                    bar.update(1)
                    if on_chunk_done is not None:
                        on_chunk_done(cid)
        if report.failed:
            raise ChunkFailures(report.failed, outp)
        if not bounds:  # no queries: an empty result, as the local call gives
            return engine.run(engine.point_set(Xm, threads=1), Xm, Qm, subset=sub, exclude=exclude,
                              early_exit=method != "distance", options=options, method=method)
        res = DistanceResult.from_arrays([parts[c] for c in range(len(bounds))], X=Xm, Q=Qm, subset=sub,
                                         method=method, rtol=options.rtol, exclude=exclude)
        engine.warn_unconverged(res, options, early_exit=method != "distance", stacklevel=3)
        return (res, report) if return_report else res
    finally:
        if own_client:
            _close(client)


def distance(X: Any, Q: Any, **kw: Any):
    """:func:`run_hull` with ``method="distance"``."""
    return run_hull(X, Q, method="distance", **kw)


def contains(X: Any, Q: Any, **kw: Any):
    """:func:`run_hull` with ``method="contains"``."""
    return run_hull(X, Q, method="contains", **kw)


def leave_one_out(X: Any, indices: Any = None, *, exact_distance: bool = False, **kw: Any):
    """Leave-one-out sweep on a cluster: is x_i inside conv(X without row i)? (see Hull.leave_one_out)."""
    Xm = as_matrix(X, "X")
    if Xm.shape[0] < 2:
        raise ValueError("leave_one_out: needs at least 2 rows in the hull (removing one must leave one)")
    idx = np.arange(Xm.shape[0], dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)
    if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= Xm.shape[0]:
        raise ValueError(f"indices: expected a non-empty 1-D array of rows in [0, {Xm.shape[0]})")
    return run_hull(Xm, np.ascontiguousarray(Xm[idx]), method="distance" if exact_distance else "contains",
                    exclude=idx, **kw)


def analyze_spaces(spaces: Dict[str, Tuple[Any, Any]], *, client: Any = None, out: Optional[str] = None,
                   **kw: Any) -> Dict[str, dict]:
    """Per-space extrapolation analysis on a cluster.

    Parameters
    ----------
    spaces : dict name -> (train, test)
        Train and test features of each space, shapes (n, d_space) and (B, d_space).
    out : path, optional
        Each space checkpoints into ``out/<name>/`` and resumes independently.

    Returns
    -------
    dict name -> {"result": DistanceResult, "fraction_outside", "median_hull_distance",
    "median_nn_distance", "median_hull_over_nn"}
    """
    if not spaces:
        raise ValueError("spaces: expected at least one (train, test) pair")
    own_client = client is None
    if own_client:
        client = local_client()
    try:
        summary = {}
        for name, pair in spaces.items():
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"spaces[{name!r}]: expected a (train, test) pair")
            tr, te = pair
            sub_out = None if out is None else str(Path(out) / name)
            r = run_hull(tr, te, method="distance", client=client, out=sub_out, **kw)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = r.distance / r.nn_distance
            summary[name] = {"result": r, "fraction_outside": r.fraction_outside,
                             "median_hull_distance": float(np.median(r.distance)),
                             "median_nn_distance": float(np.median(r.nn_distance)),
                             "median_hull_over_nn": float(np.nanmedian(ratio))}
        return summary
    finally:
        if own_client:
            _close(client)
