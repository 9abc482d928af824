"""Hull analyses on a Dask cluster: chunked, checkpointed, resumable, with nothing lost.

The queries of one call are cut into chunks; every chunk is one Dask task against the same
read-only X. X reaches the workers once, in its own dtype (float32 stays float32):

* from a memory-mapped ``.npy`` when the workers can read this machine's files (``shared_path="auto"``,
  the default: a one-time probe asks every worker to read a small file from :func:`shared_dir`; true
  for a ``LocalCluster`` or workers on a shared file system). X is written there once, under a name
  keyed by its shape, dtype and a hash of sampled rows, and reused by later calls and processes after a
  byte-for-byte check against X. Each worker process maps the file once and caches its point set;
* from a ``.npy`` at a path the user gives (``shared_path="/shared/X.npy"``, written there if absent,
  refused if it holds another array), or from a folder the user gives (the file is named as above);
* otherwise by a single broadcast (``client.scatter(X, broadcast=True)``), again cached per worker
  process (``shared_path=None`` forces it).

Each chunk's result is written by the client, as it arrives, to ``out/chunk-XXXXX.npz``
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

import hashlib
import logging
import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from .._progress import progress_bar
from .._validation import MAX_MAGNITUDE, as_matrix, check_magnitude, to_numpy, writable_dir
from . import engine
from .checkpoint import Manifest, fingerprint, save_arrays
from .options import SolveOptions, validate_subset
from .result import DistanceResult

log = logging.getLogger(__name__)

__all__ = ["run_hull", "release", "distance", "contains", "leave_one_out", "analyze_spaces", "check_workers",
           "local_client", "shared_dir", "clear_shared", "ChunkFailures", "RunReport"]

#: Environment variable naming the folder of ``shared_path="auto"`` (default: a folder under the temp dir).
SHARED_DIR_ENV = "HULLSCOPE_SHARED_DIR"



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
    """What one distributed call did: chunk ids computed now, reused from disk, and failed; and how
    X reached the workers (``shared_path``: the .npy they mapped, None when X was broadcast or
    nothing was computed)."""

    n_chunks: int
    computed: List[int] = field(default_factory=list)
    skipped: List[int] = field(default_factory=list)
    recomputed_corrupt: List[int] = field(default_factory=list)
    failed: Dict[int, str] = field(default_factory=dict)
    threads_per_task: int = 0
    shared_path: Optional[str] = None


# ---- worker side ----------------------------------------------------------------------------------

_WORKER_POINTS: Dict[str, Any] = {}
_WORKER_LOCK = threading.Lock()


def _worker_threads() -> int:
    """Threads of the Dask worker running this task (1 outside a worker)."""
    try:
        from dask.distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return 1


def _worker_points(key: str, X: Any, shared_path: Optional[str]):
    """(X, point set) on this worker process, built once and cached under ``key``.

    X arrives as the client validated it (a C-contiguous float32 or float64 array, finite, within
    the core's magnitude): broadcast, or as a shared file that holds exactly its bytes (the client
    wrote it, or compared it byte for byte). So the worker checks only its layout, not every value
    again, and computes on the same array as the local call. Tasks that reach a worker together
    build its point set once between them, with all of the worker's threads (the point set is the
    same for every thread count).
    """
    got = _WORKER_POINTS.get(key)
    if got is None:
        with _WORKER_LOCK:
            got = _WORKER_POINTS.get(key)
            if got is None:
                if shared_path is not None:
                    X = np.load(shared_path, mmap_mode="r")
                if not (isinstance(X, np.ndarray) and X.dtype in (np.float32, np.float64) and X.ndim == 2
                        and X.flags.c_contiguous):
                    X = as_matrix(X, "X", keep_float32=True)  # not as the client sent it: validate fully
                _WORKER_POINTS.clear()  # keep one point set per process: X can be large
                got = (X, engine.point_set(X, threads=_worker_threads()))
                _WORKER_POINTS[key] = got
    return got


def _solve_chunk(key: str, X: Any, shared_path: Optional[str], method: str, Qc: Union[np.ndarray, Tuple[int, int]],
                 exclude: Optional[np.ndarray], subset: Optional[np.ndarray], options: SolveOptions) -> dict:
    """One chunk of queries: rows of Q, or ``(a, b)`` for the rows X[a:b] (the queries are X itself,
    as in a full leave-one-out sweep: the task carries two integers instead of the rows)."""
    Xm, ps = _worker_points(key, X, shared_path)
    if isinstance(Qc, tuple):
        Qc = Xm[Qc[0]:Qc[1]]
    res = engine.run(ps, Xm, Qc, subset=subset, exclude=exclude, early_exit=(method != "distance"), options=options,
                     method=method)
    return res.to_dict()


def _prefetch_points(path: str, key: str) -> None:
    """A task: map the file at ``path`` and build this worker's point set under ``key`` while the
    client is still comparing the file with X. A file that turns out not to hold X is rewritten
    (a new inode: a new key), so what is built here is used only for the bytes the client checked."""
    _worker_points(key, None, path)


def _worker_reads(path: str, token: str) -> bool:
    """Does this worker see the file the client just wrote (same path, same contents)?"""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(token) + 1) == token.encode()
    except OSError:
        return False


def _worker_checks_npy(path: str, shape: Tuple[int, ...], dtype: str, size: int) -> Optional[str]:
    """None when this worker can map ``path`` as the client's .npy; else why not."""
    try:
        st = os.stat(path)
        if st.st_size != size:
            return f"the file has {st.st_size} bytes here, {size} on the client"
        mm = np.load(path, mmap_mode="r")
        if mm.shape != tuple(shape) or mm.dtype.str != dtype:
            return f"holds {mm.dtype} {mm.shape} here"
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _worker_version() -> str:
    import hullscope

    return hullscope.__version__


# ---- client side ----------------------------------------------------------------------------------

def local_client(n_workers: int = 2, threads_per_worker: int = 1, **kw: Any):
    """A ``Client`` on a new ``LocalCluster`` (the embedded default). Close it when done.

    The dashboard takes a free port (``:0``), so several local clusters can run at once. Worker
    processes are spawned: a script that calls this (or a ``Hull`` method with ``out=`` and no
    client) must guard its top level with ``if __name__ == "__main__":``.
    """
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError('hullscope.hull.distributed needs dask: pip install "hullscope[dask]"') from exc
    kw.setdefault("dashboard_address", ":0")
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True, **kw)
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


def _points(X: Any) -> np.ndarray:
    """Validate X on the client without changing it: a 2-D C-contiguous float32 or float64 array is
    kept as it is (no copy), any other input is converted once as :class:`~hullscope.Hull` converts
    it (``as_matrix`` keeping float32). Finite values up to the core's magnitude, checked in row
    blocks (no temporary the size of X)."""
    a = to_numpy(X, "X")
    if not (a.dtype in (np.float32, np.float64) and a.ndim == 2 and a.flags.c_contiguous
            and a.shape[0] > 0 and a.shape[1] > 0):
        out = as_matrix(a, "X", keep_float32=True)  # converted once, as Hull converts it
        check_magnitude(out, "X")
        return out
    if _ident(a) in _VALIDATED:  # the same array as in an earlier call (X must not change in place)
        return a
    step = max(1, (1 << 22) // a.shape[1])
    for s in range(0, a.shape[0], step):
        blk = a[s:s + step]
        m = float(np.abs(blk).max())
        if not np.isfinite(m):
            r, c = np.argwhere(~np.isfinite(blk))[0]
            raise ValueError(f"X: contains NaN or inf (first at row {s + r}, column {c})")
        if m > MAX_MAGNITUDE:
            raise ValueError(f"X: values of magnitude up to {MAX_MAGNITUDE:.0e} are supported (squared distances "
                             f"must stay finite in float64), got {m:.3e}; rescale the data (results scale with it)")
    if len(_VALIDATED) > 16:
        _VALIDATED.clear()
    _VALIDATED.add(_ident(a))
    return a


#: identities of the arrays _points has checked in this process
_VALIDATED: set = set()


def shared_dir() -> Path:
    """The folder where ``shared_path="auto"`` writes X: ``$HULLSCOPE_SHARED_DIR``, else a per-user
    folder under the system's temp dir. Files there are a cache: :func:`clear_shared` deletes them."""
    env = os.environ.get(SHARED_DIR_ENV)
    if env:
        return Path(env)
    who = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"hullscope-{who}" / "shared"


def clear_shared(folder: Union[str, "os.PathLike[str]", None] = None) -> int:
    """Delete the X files that ``shared_path="auto"`` (or a folder given as ``shared_path``) wrote
    in ``folder`` (default :func:`shared_dir`); return the bytes freed. Workers that still map a file
    keep reading it until they drop their point set (POSIX semantics)."""
    d = Path(folder) if folder is not None else shared_dir()
    freed = 0
    for f in list(d.glob("X-*.npy")) + list(d.glob(".X-*.tmp")):
        try:
            freed += f.stat().st_size
            f.unlink()
        except FileNotFoundError:
            pass
    _VERIFIED.clear()
    return freed


def _ident(Xm: np.ndarray) -> Tuple:
    """The same array in memory: address, shape, strides, dtype (X must not change in place)."""
    return (Xm.__array_interface__["data"][0], Xm.shape, Xm.strides, Xm.dtype.str)


def _auto_name(Xm: np.ndarray) -> str:
    """A file name for X: shape, dtype and a SHA-256 of 257 evenly spaced rows (a lookup key, not a
    proof: a file found under it is compared with X byte for byte before use)."""
    h = hashlib.sha256(f"{Xm.dtype.str}{Xm.shape}".encode())
    rows = np.unique(np.linspace(0, Xm.shape[0] - 1, 257).astype(np.int64))
    h.update(memoryview(np.ascontiguousarray(Xm[rows])).cast("B"))
    n, d = Xm.shape
    return f"X-{n}x{d}-{Xm.dtype.name}-{h.hexdigest()[:24]}.npy"


def _backing_npy(Xm: np.ndarray) -> Optional[Path]:
    """The .npy file X is a memory map of (``np.load(path, mmap_mode=...)``, the whole array), or None."""
    b = Xm
    while b is not None and not (isinstance(b, np.memmap) and getattr(b, "filename", None)):
        b = b.base if isinstance(b.base, np.ndarray) else None
    if b is None or _ident(b)[:2] != _ident(Xm)[:2] or b.dtype != Xm.dtype:
        return None
    path = Path(b.filename)
    try:
        head = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    if head.offset != b.offset or head.shape != Xm.shape or head.dtype != Xm.dtype:
        return None
    return path


def _same_bytes(mm: np.ndarray, Xm: np.ndarray) -> bool:
    """Byte-for-byte equality of two arrays of one shape and dtype, read in row blocks (compared 8
    bytes at a time: half the time of a byte-wise compare on a 376 MB X)."""
    step = max(1, (1 << 24) // max(1, Xm.shape[1] * Xm.itemsize))
    for s in range(0, Xm.shape[0], step):
        a = np.ascontiguousarray(mm[s:s + step]).reshape(-1).view(np.uint8)
        b = np.ascontiguousarray(Xm[s:s + step]).reshape(-1).view(np.uint8)
        m = a.size // 8 * 8
        if not (np.array_equal(a[:m].view(np.uint64), b[:m].view(np.uint64)) and np.array_equal(a[m:], b[m:])):
            return False
    return True


def _write_npy(path: Path, Xm: np.ndarray) -> None:
    """Write X as a .npy in its own dtype through a temporary file and a rename: workers and other
    processes see the whole file or none. (No fsync: a file found later is checked against X.)"""
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(Xm))
            raw = memoryview(Xm).cast("B")
            for s in range(0, len(raw), 16 << 20):  # 16 MB writes: steadier than one write of all of X
                fh.write(raw[s:s + (16 << 20)])
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


#: (X identity, path, inode, size, mtime) of files already checked to hold X in this process
_VERIFIED: Dict[Tuple, bool] = {}


def _file_state(path: Path) -> Optional[Tuple[int, int, int]]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _points_key(path: Path) -> Optional[str]:
    """The key a worker keeps the point set of the file at ``path`` under: path and file state."""
    state = _file_state(path)
    return None if state is None else f"{path.resolve()}:{state[0]}:{state[1]}:{state[2]}"


def _prefetch(client: Any, path: Path) -> None:
    """Start every worker building its point set from ``path`` now (one task per worker, not
    waited for), so that it overlaps the client's byte check of the same file."""
    from dask.distributed import fire_and_forget

    key = _points_key(path)
    if key is None:
        return
    for w in client.scheduler_info().get("workers", {}):
        fire_and_forget(client.submit(_prefetch_points, str(path.resolve()), key, workers=[w],
                                      allow_other_workers=False, pure=False))


def _holds(path: Path, Xm: np.ndarray) -> Tuple[bool, str]:
    """Does the .npy at ``path`` hold exactly X? (verdict, what it holds instead)."""
    state = _file_state(path)
    key = (_ident(Xm), str(path), state)
    if _VERIFIED.get(key):
        return True, ""
    try:
        mm = np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        return False, f"is not a readable .npy array ({exc})"
    if mm.shape != Xm.shape or mm.dtype != Xm.dtype:
        return False, f"holds {mm.dtype} {mm.shape}, expected {Xm.dtype} {Xm.shape} (the same X, in its own dtype)"
    if not _same_bytes(mm, Xm):
        return False, f"holds another {mm.dtype} {mm.shape} array than X"
    if len(_VERIFIED) > 16:
        _VERIFIED.clear()
    _VERIFIED[key] = True
    return True, ""


_PROBES: Dict[Tuple, bool] = {}


def _workers_read(client: Any, folder: Path) -> bool:
    """Can every worker of ``client`` read a file the client writes in ``folder``? Asked once per
    client, folder and set of workers: a small probe file with a random token."""
    workers = frozenset(client.scheduler_info().get("workers", {}))
    key = (client.id, str(folder), workers)
    got = _PROBES.get(key)
    if got is None:
        token = uuid.uuid4().hex
        probe = folder / f".probe-{token}"
        try:
            probe.write_text(token)
            got = bool(workers) and all(client.run(_worker_reads, str(probe), token).values())
        except OSError:
            got = False
        finally:
            if probe.exists():
                probe.unlink()
        _PROBES[key] = got
    return got


def _shared_file(client: Any, Xm: np.ndarray, shared_path: Any) -> Optional[Path]:
    """The .npy the workers map for this call, or None to broadcast X.

    ``"auto"``: a file in :func:`shared_dir` when every worker reads that folder, else None.
    A folder: a file named after X in it. A file path: that file (written when absent). The
    last two must be readable by every worker.
    """
    if shared_path is None:
        return None
    auto = isinstance(shared_path, str) and shared_path == "auto"
    if auto:
        own = _backing_npy(Xm)
        if own is not None and _holds(own, Xm)[0]:
            size = own.stat().st_size
            found = client.run(_worker_checks_npy, str(own.resolve()), Xm.shape, Xm.dtype.str, size)
            if found and all(v is None for v in found.values()):
                return own.resolve()  # X is a map of a .npy every worker reads: nothing to write
        folder = shared_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.info("shared_path='auto': cannot create %s (%s); broadcasting X", folder, exc)
            return None
        if not _workers_read(client, folder):
            log.info("shared_path='auto': the workers do not see %s; broadcasting X", folder)
            return None
        path = folder / _auto_name(Xm)
    elif isinstance(shared_path, (str, os.PathLike)):
        path = Path(shared_path)
        if path.is_dir():
            path = path / _auto_name(Xm)
    else:
        raise TypeError(f"shared_path: expected 'auto', None, or a path to a .npy file or a folder, got "
                        f"{type(shared_path).__name__}")
    named_here = auto or path.name == _auto_name(Xm)
    write = not path.exists()
    if not write:
        if named_here and (_ident(Xm), str(path), _file_state(path)) not in _VERIFIED:
            # the workers build from the file while the client checks it (only under X's own name:
            # a file given by path that turns out different is refused, not rewritten)
            _prefetch(client, path)
        ok, why = _holds(path, Xm)
        if not ok:
            if not named_here:
                raise ValueError(f"shared_path: {str(path)!r} {why}; give the file of this X, another path "
                                 f"(it is written there), or shared_path='auto'")
            log.warning("shared file %s %s; rewriting it", path, why)
            write = True
    if write:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(path.parent).free
            if free < Xm.nbytes + (256 << 20):  # keep 256 MB spare: X must not fill the disk
                raise OSError(f"{free / 2**30:.2f} GiB free in {str(path.parent)!r}, X needs "
                              f"{Xm.nbytes / 2**30:.2f} GiB")
            _write_npy(path, Xm)
        except OSError as exc:
            if auto:
                log.warning("shared_path='auto': cannot write X to %s (%s); broadcasting X", path, exc)
                return None
            raise ValueError(f"shared_path: cannot write X to {str(path)!r}: {exc}") from exc
    state = _file_state(path)
    _VERIFIED[(_ident(Xm), str(path), state)] = True
    if not auto:
        size = state[1]
        bad = {w: why for w, why in client.run(_worker_checks_npy, str(path.resolve()), Xm.shape, Xm.dtype.str,
                                                 size).items() if why is not None}
        if bad:
            raise ValueError(f"shared_path: workers cannot map {str(path)!r}: {bad}; give a path every worker "
                             f"reads, or shared_path='auto' (which broadcasts X when they cannot)")
    return path.resolve()


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
        raise RuntimeError("client: the cluster has no workers (yet): a job-queue cluster starts them after "
                           "cluster.scale(...) once its jobs run; call client.wait_for_workers(1) first")
    bad = {w: v for w, v in versions.items() if v != __version__}
    if bad:
        raise RuntimeError(f"client: workers run other hullscope versions than the client ({__version__}): {bad}")
    return versions


def run_hull(X: Any, Q: Any, *, method: str = "distance", client: Any = None, out: Optional[str] = None,
             subset: Any = None, exclude: Optional[np.ndarray] = None, chunk_size: Optional[int] = None,
             threads_per_task: Optional[int] = None, shared_path: Any = "auto", retries: int = 2,
             progress: bool = True, rtol: Optional[float] = None, max_passes: Optional[int] = None,
             pool: Optional[int] = None, block: Optional[int] = None, options: Optional[SolveOptions] = None,
             on_chunk_done: Optional[Callable[[int], None]] = None,
             return_report: bool = False):
    """Run ``Hull(X).distance`` / ``contains`` (or leave-one-out via ``exclude``) over a Dask cluster.

    Parameters
    ----------
    X : array-like, shape (n, d)
        The hull's points, validated once on the client. A C-contiguous float32 or float64 array
        is kept as it is (float32 stays float32, in the shared file and on the wire); other input is
        converted to float64 once.
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
    shared_path : "auto", None, or a path
        How X reaches the workers (once per client; later calls with the same X reuse it).
        ``"auto"`` (default): when every worker reads files the client writes in :func:`shared_dir`
        (a ``LocalCluster``, or workers on a shared file system with ``$HULLSCOPE_SHARED_DIR`` set
        there), X is written once to a ``.npy`` in its own dtype and the workers memory-map it; a
        file already there is reused after a byte-for-byte check. Otherwise X is broadcast.
        A path to a ``.npy`` file: the workers map it; it is written if absent and must hold exactly
        X (same dtype, shape and bytes), else ValueError. A path to a folder: as ``"auto"`` but in
        that folder, and required. ``None``: always broadcast (``client.scatter``); the copy stays on
        the workers for later calls (see :func:`release`).
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
    Xm = _points(X)
    # the queries are X itself (a full leave-one-out sweep): no copy, and tasks name rows instead of carrying them
    q_is_x = isinstance(Q, np.ndarray) and _ident(Q) == _ident(Xm)
    Qm = Xm if q_is_x else as_matrix(Q, "Q", d=Xm.shape[1], allow_vector=True, allow_empty=True)
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
            sp = _shared_file(client, Xm, shared_path)
            if sp is not None:
                x_ref, spath = None, str(sp)
                report.shared_path = spath
                key = _points_key(sp)
                log.info("hullscope.hull.distributed: workers memory-map X from %s", spath)
            else:
                x_ref, spath = _broadcast(client, Xm), None
                key = str(x_ref.key)
                log.info("hullscope.hull.distributed: X broadcast to the workers")
            from dask.distributed import as_completed

            futures = {}
            for cid in todo:
                a, b = bounds[cid]
                ex = None if exclude is None else exclude[a:b]
                task_opts = SolveOptions(threads=int(threads_per_task), **opts)
                qc = (a, b) if q_is_x else Qm[a:b]
                fut = client.submit(_solve_chunk, key, x_ref, spath, method, qc, ex, sub, task_opts,
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
            Xc = as_matrix(Xm, "X", keep_float32=True)  # as Hull stores it
            return engine.run(engine.point_set(Xc, threads=1), Xc, Qm, subset=sub, exclude=exclude,
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
    Xm = _points(X)
    if Xm.shape[0] < 2:
        raise ValueError("leave_one_out: needs at least 2 rows in the hull (removing one must leave one)")
    idx = np.arange(Xm.shape[0], dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64)
    if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= Xm.shape[0]:
        raise ValueError(f"indices: expected a non-empty 1-D array of rows in [0, {Xm.shape[0]})")
    every = idx.size == Xm.shape[0] and np.array_equal(idx, np.arange(Xm.shape[0]))
    Q = Xm if every else np.ascontiguousarray(Xm[idx])  # every row in order: the queries are X itself
    return run_hull(Xm, Q, method="distance" if exact_distance else "contains", exclude=idx, **kw)


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
