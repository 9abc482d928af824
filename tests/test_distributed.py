"""hullscope.hull.distributed on a LocalCluster(n_workers=2, threads_per_worker=1): bitwise equality with
the local call, a worker killed mid-run, resume after interruption, corrupted chunks, refusals."""
from __future__ import annotations

import json
import os
import signal

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
    with pytest.raises(ValueError, match="shared_path"):
        hd.distance(X, Q[:5], client=client, shared_path=str(tmp_path / "missing.npy"), progress=False)
    np.save(tmp_path / "other.npy", X[:10])
    with pytest.raises(ValueError, match="shared_path"):
        hd.distance(X, Q[:5], client=client, shared_path=str(tmp_path / "other.npy"), progress=False)
    with pytest.raises(ValueError, match="client"):
        Hull(X).distance(Q[:3], out=str(tmp_path / "x"))


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
