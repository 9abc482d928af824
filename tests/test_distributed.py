"""hullscope.hull.distributed on a LocalCluster(n_workers=2, threads_per_worker=1): bitwise equality with
the local call, a worker killed mid-run, resume after interruption, corrupted chunks, refusals, and X
reaching the workers through a memory-mapped .npy (automatic, in float32 or float64) or a broadcast."""
from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("dask.distributed")

from hullscope import Hull  # noqa: E402
from hullscope.hull import distributed as hd  # noqa: E402

FIELDS = ["status", "distance", "lower", "converged", "nearest", "indptr", "indices", "values", "normal",
          "offset", "margin", "nn_distance", "nn_index", "tol", "passes", "iterations"]


def assert_same(a, b):
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


@pytest.fixture(scope="module")
def client():
    c = hd.local_client(n_workers=2, threads_per_worker=1)
    yield c
    cluster = c.cluster
    c.close()
    cluster.close()


@pytest.fixture(autouse=True)
def private_shared_dir(tmp_path, monkeypatch):
    """shared_path="auto" writes into this test's own folder, and no file check is remembered
    across tests (as in a new process)."""
    d = tmp_path / "shared"
    monkeypatch.setenv(hd.SHARED_DIR_ENV, str(d))
    hd._VERIFIED.clear()
    hd._PROBES.clear()
    return d


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 20))
    Q = np.vstack([rng.dirichlet(np.ones(40), size=60) @ X[:40], rng.normal(size=(60, 20))])
    return X, Q


def test_bitwise_equal_to_local(client, data, tmp_path):
    X, Q = data
    h = Hull(X)
    local = h.distance(Q)
    remote = h.distance(Q, client=client, chunk_size=17, progress=False)
    assert_same(local, remote)
    assert remote.verify()
    # contains and the leave-one-out sweep too, through the module functions
    assert_same(h.contains(Q), hd.contains(X, Q, client=client, chunk_size=25, progress=False))
    idx = np.arange(0, 3000, 50)
    assert_same(h.leave_one_out(idx), hd.leave_one_out(X, idx, client=client, chunk_size=16, progress=False))
    # a shared memory-mapped .npy instead of a broadcast
    path = tmp_path / "X.npy"
    np.save(path, X)
    assert_same(local, hd.distance(X, Q, client=client, shared_path=str(path), chunk_size=30, progress=False))


def test_worker_killed_mid_run(client, data, tmp_path):
    X, Q = data
    local = Hull(X).distance(Q)
    killed = []

    def kill_one(cid):
        if not killed:
            addr = sorted(client.scheduler_info()["workers"])[0]
            pid = client.run(os.getpid, workers=[addr])[addr]
            os.kill(pid, signal.SIGKILL)  # the nanny restarts it; its tasks are rescheduled
            killed.append(addr)

    res, rep = hd.distance(X, Q, client=client, out=str(tmp_path / "run"), chunk_size=8, progress=False,
                           on_chunk_done=kill_one, return_report=True)
    assert killed
    assert_same(local, res)
    assert sorted(rep.computed) == list(range(rep.n_chunks)) and not rep.failed
    client.wait_for_workers(2, timeout=60)


def test_resume_recomputes_only_missing_chunks(client, data, tmp_path):
    X, Q = data
    out = tmp_path / "run"
    done = []

    def interrupt(cid):
        done.append(cid)
        if len(done) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        hd.distance(X, Q, client=client, out=str(out), chunk_size=10, progress=False, on_chunk_done=interrupt)
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["chunks"]) == 5
    res, rep = hd.distance(X, Q, client=client, out=str(out), chunk_size=10, progress=False, return_report=True)
    assert rep.n_chunks == 12
    assert sorted(rep.skipped) == sorted(int(c) for c in manifest["chunks"])
    assert len(rep.computed) == 7
    assert_same(Hull(X).distance(Q), res)
    # a third run computes nothing
    _, rep = hd.distance(X, Q, client=client, out=str(out), chunk_size=10, progress=False, return_report=True)
    assert rep.computed == [] and len(rep.skipped) == 12


def test_corrupted_chunk_is_detected_and_recomputed(client, data, tmp_path):
    X, Q = data
    out = tmp_path / "run"
    first = hd.distance(X, Q, client=client, out=str(out), chunk_size=20, progress=False)
    victim = out / "chunk-00002.npz"
    raw = bytearray(victim.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    victim.write_bytes(bytes(raw))
    (out / "chunk-00004.npz").unlink()
    res, rep = hd.distance(X, Q, client=client, out=str(out), chunk_size=20, progress=False, return_report=True)
    assert sorted(rep.computed) == [2, 4]
    assert sorted(rep.recomputed_corrupt) == [2, 4]
    assert_same(first, res)


def test_refuses_mixed_arguments_and_bad_paths(client, data, tmp_path):
    X, Q = data
    out = tmp_path / "run"
    hd.distance(X, Q[:20], client=client, out=str(out), chunk_size=10, progress=False)
    with pytest.raises(ValueError, match="different arguments"):
        hd.distance(X, Q[:30], client=client, out=str(out), chunk_size=10, progress=False)
    with pytest.raises(ValueError, match="different arguments"):
        hd.contains(X, Q[:20], client=client, out=str(out), chunk_size=10, progress=False)
    np.save(tmp_path / "other.npy", X[:10])
    with pytest.raises(ValueError, match="shared_path"):
        hd.distance(X, Q[:5], client=client, shared_path=str(tmp_path / "other.npy"), progress=False)
    # (out= without a client is no longer refused: test_out_without_a_client_checkpoints_on_a_local_cluster)


def test_failing_chunk_is_reported_by_id_and_nothing_is_lost(client, data, tmp_path):
    X, Q = data
    out = tmp_path / "run"
    # options are validated on the client now; a chunk whose queries the worker's engine refuses
    # (magnitudes above 1e150) fails there, after its retries, while the other chunk is saved
    Qb = Q[:20].copy()
    Qb[10:20] *= 1e200
    with pytest.raises(hd.ChunkFailures) as e:
        hd.distance(X, Qb, client=client, out=str(out), chunk_size=10, progress=False, retries=1)
    assert sorted(e.value.failed) == [1]
    assert "Q" in str(e.value) and "1e+150" in str(e.value)
    assert (out / "chunk-00000.npz").is_file()            # the finished chunk is not lost


def test_version_mismatch_is_refused(client, monkeypatch):
    import hullscope

    monkeypatch.setattr(hullscope, "__version__", "0.0.0-other")
    with pytest.raises(RuntimeError, match="versions"):
        hd.check_workers(client)


def test_analyze_spaces_per_space_checkpoints(client, data, tmp_path):
    X, Q = data
    rng = np.random.default_rng(1)
    P = rng.normal(size=(20, 5))
    spaces = {"raw": (X, Q[:30]), "projected": (X @ P, Q[:30] @ P)}
    out = tmp_path / "spaces"
    summary = hd.analyze_spaces(spaces, client=client, out=str(out), chunk_size=10, progress=False)
    for name, (tr, te) in spaces.items():
        local = Hull(tr).distance(te)
        assert_same(local, summary[name]["result"])
        assert summary[name]["fraction_outside"] == pytest.approx(local.fraction_outside)
        assert (out / name / "manifest.json").is_file()
    with pytest.raises(ValueError, match="spaces"):
        hd.analyze_spaces({}, client=client)


# ---- how X reaches the workers ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_auto_shared_file_is_bitwise_equal_to_local_and_broadcast(client, data, private_shared_dir, dtype):
    X, Q = data
    X = np.ascontiguousarray(X, dtype=dtype)
    local = Hull(X).distance(Q)
    auto, rep = hd.distance(X, Q, client=client, chunk_size=23, progress=False, return_report=True)
    # a LocalCluster's workers read this machine's files: X went through a .npy, in its own dtype
    assert rep.shared_path is not None and rep.shared_path.startswith(str(private_shared_dir.resolve()))
    mm = np.load(rep.shared_path, mmap_mode="r")
    assert mm.dtype == dtype and mm.shape == X.shape and np.array_equal(mm, X)
    cast, crep = hd.distance(X, Q, client=client, shared_path=None, chunk_size=23, progress=False,
                             return_report=True)
    assert crep.shared_path is None
    assert_same(local, auto)
    assert_same(local, cast)
    assert auto.verify()
    # the leave-one-out sweep and contains too
    idx = np.arange(0, X.shape[0], 97)
    assert_same(Hull(X).leave_one_out(idx), hd.leave_one_out(X, idx, client=client, chunk_size=9, progress=False))
    assert_same(Hull(X).contains(Q), Hull(X).contains(Q, client=client, chunk_size=31, progress=False))


def test_float32_x_is_not_copied_on_the_client(client, data, monkeypatch):
    X, Q = data
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    seen = []
    real = hd._shared_file
    monkeypatch.setattr(hd, "_shared_file", lambda c, Xm, sp: seen.append(Xm) or real(c, Xm, sp))
    hd.distance(X32, Q[:10], client=client, progress=False)
    assert seen and seen[0].dtype == np.float32 and np.shares_memory(seen[0], X32)
    # a strided float32 X is made contiguous once, still float32, as Hull does
    Xs = np.asfortranarray(X32)
    res = hd.distance(Xs, Q[:10], client=client, progress=False)
    assert seen[-1].dtype == np.float32 and seen[-1].flags.c_contiguous
    assert_same(Hull(Xs).distance(Q[:10]), res)


def test_shared_file_is_written_once_and_checked_on_reuse(client, data, private_shared_dir):
    X, Q = data
    local = Hull(X).distance(Q[:40])
    _, rep = hd.distance(X, Q[:40], client=client, progress=False, return_report=True)
    path = rep.shared_path
    before = os.stat(path)
    # a second call, and a "new process" (nothing remembered): the file is reused, not rewritten
    for forget in (False, True):
        if forget:
            hd._VERIFIED.clear()
            hd._PROBES.clear()
        res, rep = hd.distance(X, Q[:40], client=client, progress=False, return_report=True)
        assert rep.shared_path == path
        now = os.stat(path)
        assert (now.st_ino, now.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        assert_same(local, res)
    assert len(list(private_shared_dir.glob("X-*.npy"))) == 1
    # the name is only a lookup key: a corrupted file under it is found by the byte check and rewritten
    hd._VERIFIED.clear()
    mm = np.load(path, mmap_mode="r+")
    mm[1234, 5] += 1.0
    mm.flush()
    del mm
    res, rep = hd.distance(X, Q[:40], client=client, progress=False, return_report=True)
    assert rep.shared_path == path and os.stat(path).st_ino != before.st_ino
    assert np.array_equal(np.load(path), X)
    assert_same(local, res)
    assert hd.clear_shared() > X.nbytes and not list(private_shared_dir.glob("X-*.npy"))


def test_explicit_shared_path_written_if_absent_refused_if_different(client, data, tmp_path):
    X, Q = data
    local = Hull(X).distance(Q[:20])
    path = tmp_path / "given" / "X.npy"
    res, rep = hd.distance(X, Q[:20], client=client, shared_path=str(path), progress=False, return_report=True)
    assert rep.shared_path == str(path.resolve()) and np.array_equal(np.load(path), X)
    assert_same(local, res)
    # a folder: the file is named after X inside it
    res, rep = hd.distance(X, Q[:20], client=client, shared_path=tmp_path / "given", progress=False,
                           return_report=True)
    got = Path(rep.shared_path)
    assert got.parent == (tmp_path / "given").resolve() and got.name.startswith("X-")
    assert_same(local, res)
    # the same shape and dtype but one other value: refused, and the user's file is left alone
    other = X.copy()
    other[17, 3] = np.nextafter(other[17, 3], np.inf)
    np.save(tmp_path / "other.npy", other)
    with pytest.raises(ValueError, match=r"shared_path: .*another float64 \(3000, 20\) array"):
        hd.distance(X, Q[:5], client=client, shared_path=str(tmp_path / "other.npy"), progress=False)
    assert np.array_equal(np.load(tmp_path / "other.npy"), other)
    # X in float32 against its float64 file: the dtype is part of "the same X"
    with pytest.raises(ValueError, match="shared_path: .*float64.*expected float32"):
        hd.distance(X.astype(np.float32), Q[:5], client=client, shared_path=str(path), progress=False)
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    with pytest.raises(ValueError, match="shared_path: .*not a readable .npy"):
        hd.distance(X, Q[:5], client=client, shared_path=str(tmp_path / "junk.npy"), progress=False)
    with pytest.raises(TypeError, match="shared_path"):
        hd.distance(X, Q[:5], client=client, shared_path=3, progress=False)


def test_auto_broadcasts_when_workers_cannot_read_the_folder(client, data, monkeypatch, private_shared_dir):
    X, Q = data
    hd.shared_dir().mkdir(parents=True)
    assert hd._workers_read(client, hd.shared_dir()) is True          # a LocalCluster sees the folder
    assert hd._worker_reads(str(private_shared_dir / "absent"), "x") is False
    monkeypatch.setattr(hd, "_workers_read", lambda client, folder: False)  # as workers on other machines
    res, rep = hd.distance(X, Q[:30], client=client, progress=False, return_report=True)
    assert rep.shared_path is None and not list(private_shared_dir.glob("X-*.npy"))
    assert_same(Hull(X).distance(Q[:30]), res)


def test_bad_x_is_refused_on_the_client(client, data):
    X, Q = data
    bad = X.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"X: contains NaN or inf \(first at row 7, column 2\)"):
        hd.distance(bad, Q[:3], client=client, progress=False)
    big = X.astype(np.float32) * np.float32(1e30)
    big[0, 0] = np.float32(3e38)
    with pytest.raises(ValueError, match="X: values of magnitude"):
        hd.distance(big.astype(np.float64) * 1e130, Q[:3], client=client, progress=False)


def test_no_room_for_x_auto_broadcasts_and_a_given_path_is_refused(client, data, monkeypatch, tmp_path,
                                                                    private_shared_dir):
    import shutil
    from collections import namedtuple

    X, Q = data
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(10 * X.nbytes, 10 * X.nbytes, X.nbytes // 2))
    res, rep = hd.distance(X, Q[:10], client=client, progress=False, return_report=True)
    assert rep.shared_path is None and not list(private_shared_dir.glob("X-*.npy"))
    assert_same(Hull(X).distance(Q[:10]), res)
    with pytest.raises(ValueError, match="shared_path: cannot write X to .*free"):
        hd.distance(X, Q[:10], client=client, shared_path=str(tmp_path / "X.npy"), progress=False)
    assert not (tmp_path / "X.npy").exists()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_full_leave_one_out_sends_row_ranges_and_matches_a_closed_form(client, dtype):
    # the 16 vertices of the unit 4-cube are not in the hull of the other points; 40 points strictly
    # inside the cube are: the leave-one-out verdicts are known without any solver
    rng = np.random.default_rng(5)
    corners = np.array(np.meshgrid(*[[0.0, 1.0]] * 4)).reshape(4, -1).T
    X = np.ascontiguousarray(np.vstack([corners, rng.uniform(0.1, 0.9, size=(40, 4))]), dtype=dtype)
    sent = []
    real_submit = client.submit

    def spy(fn, *args, **kw):
        sent.append(args[4])  # the chunk's queries: rows of Q, or (a, b) for X[a:b]
        return real_submit(fn, *args, **kw)

    client.submit = spy
    try:
        res = hd.leave_one_out(X, client=client, chunk_size=7, progress=False)
    finally:
        del client.submit
    assert sent and all(isinstance(q, tuple) for q in sent)
    assert [q for q in sent] == [(a, min(56, a + 7)) for a in range(0, 56, 7)]
    expected = np.array(["outside"] * 16 + ["inside"] * 40)
    np.testing.assert_array_equal(res.status, expected)
    assert res.verify()
    assert_same(Hull(X).leave_one_out(), res)
    # a subset of rows still carries its rows
    idx = np.array([3, 20, 21])
    assert_same(Hull(X).leave_one_out(idx), hd.leave_one_out(X, idx, client=client, progress=False))


def test_x_mapped_from_a_npy_is_used_in_place(client, data, tmp_path, private_shared_dir):
    X, Q = data
    for dtype in (np.float64, np.float32):
        path = tmp_path / f"train-{np.dtype(dtype).name}.npy"
        np.save(path, X.astype(dtype))
        Xmm = np.load(path, mmap_mode="r")
        res, rep = hd.distance(Xmm, Q[:25], client=client, progress=False, return_report=True)
        assert rep.shared_path == str(path.resolve())   # nothing written elsewhere
        assert not private_shared_dir.exists() or not list(private_shared_dir.glob("X-*.npy"))
        assert_same(Hull(X.astype(dtype)).distance(Q[:25]), res)
    # through Hull (which keeps a float64 map as it is)
    res, rep = Hull(np.load(tmp_path / "train-float64.npy", mmap_mode="r")).distance(
        Q[:25], client=client, progress=False, return_report=True)
    assert rep.shared_path == str((tmp_path / "train-float64.npy").resolve())
    # a slice of the map is not the file's array: it goes the usual way
    res, rep = hd.distance(Xmm[:2000], Q[:5], client=client, progress=False, return_report=True)
    assert rep.shared_path is not None and Path(rep.shared_path).parent == private_shared_dir.resolve()


def test_out_without_a_client_checkpoints_on_a_local_cluster(tmp_path):
    rng = np.random.default_rng(31)
    X = np.vstack([rng.normal(size=(150, 5)), 0.1 * rng.normal(size=(10, 5))])  # the last 10 lie inside
    h = Hull(X)
    local = h.leave_one_out()
    out = tmp_path / "loo"
    res, rep = h.leave_one_out(out=str(out), chunk_size=40, return_report=True)
    assert_same(res, local)
    assert sorted(rep.computed) == [0, 1, 2, 3] and rep.skipped == []
    assert (out / "manifest.json").is_file()
    again, rep2 = h.leave_one_out(out=str(out), chunk_size=40, return_report=True)
    assert rep2.computed == [] and sorted(rep2.skipped) == [0, 1, 2, 3]
    assert_same(again, local)
    assert (local.status[-10:] == "inside").all()


@pytest.mark.parametrize("shape,dtype", [((41, 7), np.float32), ((5, 1), np.float32), ((300, 3), np.float64)])
def test_byte_check_finds_a_one_ulp_change_anywhere(tmp_path, shape, dtype):
    """The reuse check compares 8 bytes at a time plus a byte-wise tail (float32 rows of odd width
    leave one): a single element one ulp off, first, last or in the middle, is a different X."""
    X = np.random.default_rng(5).random(shape).astype(dtype)
    path = tmp_path / "X.npy"
    np.save(path, X)
    assert hd._same_bytes(np.load(path, mmap_mode="r"), X)
    for idx in [(0, 0), (shape[0] - 1, shape[1] - 1), (shape[0] // 2, shape[1] // 2)]:
        Y = X.copy()
        Y[idx] = np.nextafter(Y[idx], np.inf, dtype=dtype)
        assert not hd._same_bytes(np.load(path, mmap_mode="r"), Y), idx


def test_worker_builds_one_point_set_for_tasks_that_arrive_together(tmp_path, monkeypatch):
    """Two tasks reaching one worker process at once build its point set once between them (the
    second waits for the first), from the shared file's bytes as they are (float32 stays float32,
    memory-mapped); an array not laid out as the client sends X is validated and converted."""
    import threading
    import time

    X = np.random.default_rng(6).random((50, 4)).astype(np.float32)
    path = tmp_path / "X.npy"
    np.save(path, X)
    built = []
    real = hd.engine.point_set

    def slow_point_set(Xm, threads=1):
        built.append(Xm)
        time.sleep(0.2)  # both tasks are inside _worker_points while the first builds
        return real(Xm, threads=threads)

    monkeypatch.setattr(hd.engine, "point_set", slow_point_set)
    monkeypatch.setattr(hd, "_WORKER_POINTS", {})
    got = []
    tasks = [threading.Thread(target=lambda: got.append(hd._worker_points("k1", None, str(path)))) for _ in range(2)]
    for t in tasks:
        t.start()
    for t in tasks:
        t.join()
    assert len(built) == 1 and len(got) == 2 and got[0] is got[1]
    Xw = got[0][0]
    assert Xw.dtype == np.float32 and isinstance(Xw, np.memmap) and np.array_equal(Xw, X)
    # a Fortran-ordered float64 array (not what the client sends) goes through full validation
    F = np.asfortranarray(X.astype(np.float64))
    Xf, _ = hd._worker_points("k2", F, None)
    assert Xf.flags.c_contiguous and np.array_equal(Xf, F) and len(built) == 2
    F[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        hd._worker_points("k3", F, None)


def _cached_keys():
    from hullscope.hull import distributed as hdw

    return sorted(hdw._WORKER_POINTS)


def test_file_on_disk_is_prefetched_by_every_worker_and_a_stale_prefetch_is_not_used(client, data,
                                                                                      private_shared_dir):
    """With X's file already on disk, every worker starts building its point set from the file while
    the client compares it with X; when the file turns out to hold another array, it is rewritten
    under a new key and the answer is still the local one."""
    import time

    X, Q = data
    local = Hull(X).distance(Q[:30])
    path = private_shared_dir / hd._auto_name(X)
    private_shared_dir.mkdir(parents=True)
    hd._write_npy(path, X)
    key = hd._points_key(path)
    hd._prefetch(client, path)
    deadline = time.time() + 30
    while time.time() < deadline and not all(v == [key] for v in client.run(_cached_keys).values()):
        time.sleep(0.05)
    assert all(v == [key] for v in client.run(_cached_keys).values())
    # another X under the same name: prefetched, then found different by the byte check and rewritten
    Y = X.copy()
    Y[7, 3] = np.nextafter(Y[7, 3], np.inf)
    path.unlink()
    hd._write_npy(path, Y)
    stale = hd._points_key(path)
    res, rep = hd.distance(X, Q[:30], client=client, progress=False, return_report=True)
    assert rep.shared_path == str(path.resolve()) and hd._points_key(path) != stale
    assert np.array_equal(np.load(path), X)
    assert_same(local, res)
