"""hullscope.overparam: agreement against brute force, certified Dirichlet points, the illustration against its
closed form, resume after an interruption, bad input, and the command on a tiny family."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from hullscope.hull import Hull  # noqa: E402
from hullscope.overparam import agreement as ag  # noqa: E402
from hullscope.overparam import illustration as il  # noqa: E402
from hullscope.overparam.families import REGIMES, ModelSpec, param_count, train_model  # noqa: E402
from hullscope.overparam.stats import claim_verdict, correlation_table  # noqa: E402
from hullscope.overparam.study import check_data, plan_family, run_overparam  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    """200 digits for training and 60 for testing (8x8)."""
    from hullscope.datasets import split_digits_images

    Xtr, ytr, Xte, yte = split_digits_images(0)
    return Xtr[:200], ytr[:200], Xte[:60], yte[:60]


# ---------------------------------------------------------------------------------------------- agreement
def test_agreement_matrix_matches_brute_force_count():
    rng = np.random.default_rng(0)
    P = rng.integers(0, 4, size=(5, 137))
    P[1] = P[0]  # one identical pair
    A = ag.agreement_matrix(P)
    for i in range(5):
        for j in range(5):
            same = 0
            for t in range(P.shape[1]):
                same += int(P[i, t] == P[j, t])
            assert A[i, j] == same / P.shape[1]
    assert A[0, 1] == 1.0
    off = [A[i, j] for i in range(5) for j in range(5) if i != j]
    assert ag.mean_offdiagonal(A) == pytest.approx(sum(off) / len(off), abs=1e-15)
    dis = ag.disagreement_per_model(A)
    for i in range(5):
        assert dis[i] == pytest.approx(1 - np.mean([A[i, j] for j in range(5) if j != i]), abs=1e-15)
    with pytest.raises(ValueError, match="preds"):
        ag.agreement_matrix(np.zeros((3, 0)))


def test_dirichlet_points_are_certified_inside_and_certificates_check_in_numpy():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 6))
    H = Hull(X)
    for mode in ("knn", "random"):
        for k in (2, 8):
            P, rows, W = ag.dirichlet_points(X, k, 12, mode, seed=3)
            assert rows.shape == (12, k) and np.all(W >= 0) and np.allclose(W.sum(1), 1)
            assert np.allclose(np.einsum("mk,mkd->md", W, X[rows]), P)
            if mode == "knn":  # the anchor's k - 1 nearest rows, by brute force
                for r in rows:
                    d = np.linalg.norm(X - X[r[0]], axis=1)
                    d[r[0]] = np.inf
                    assert set(r[1:]) == set(np.argsort(d)[:k - 1])
            res = H.contains(P)
            assert np.all(res.status == "inside"), (mode, k, res.status)
            for i in range(len(P)):  # the certificate, re-checked by hand: convex weights reproducing the point
                idx, w = res.support(i)
                assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-12
                assert np.linalg.norm(X[idx].T @ w - P[i]) <= res.tol[i]
            assert res.verify().ok
    with pytest.raises(ValueError, match="k"):
        ag.dirichlet_points(X, 41, 3, "knn")
    with pytest.raises(ValueError, match="mode"):
        ag.dirichlet_points(X, 2, 3, "nearest")


def test_ray_points_lie_beyond_the_sample_at_t_times_its_hull_distance():
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 1, (30, 5))
    Q = rng.uniform(0, 1, (8, 5)) + 1.0
    H = Hull(X)
    dq = H.distance(Q)
    assert np.all(dq.status == "outside")
    R = ag.ray_points(dq.nearest, Q, ag.RAY_TS)
    dr = H.distance(R)
    want = np.repeat(dq.distance, len(ag.RAY_TS)) * np.tile(ag.RAY_TS, len(Q))
    assert np.all(dr.status == "outside")
    assert np.allclose(dr.distance, want, rtol=1e-6, atol=1e-9)


def test_build_sets_certifies_every_used_point(tiny):
    Xtr, _, Xte, _ = tiny
    s = ag.build_sets(Xtr, Xte, m=6, ks=(2, 8))
    assert set(s.inside) == {"knn k=2", "knn k=8", "random k=2", "random k=8"}
    H = Hull(Xtr.reshape(len(Xtr), -1).astype(np.float64))
    for name, pts in s.inside.items():
        assert len(pts) == len(s.inside64[name]) == s.certified[name]["certified_inside"] <= 6
        assert np.array_equal(pts.reshape(len(pts), -1), s.inside64[name].astype(np.float32))
        res = H.contains(s.inside64[name])
        assert np.all(res.status == "inside")
        for i in range(len(res)):  # the certificate by hand: convex weights of training images reproducing it
            idx, w = res.support(i)
            assert np.all(w >= 0) and abs(w.sum() - 1) < 1e-12
            assert np.linalg.norm(H.X[idx].T @ w - s.inside64[name][i]) <= res.tol[i]
    assert all(v["ok"] for v in s.verified.values())
    assert len(s.outside) == len(ag.RAY_TS) * s.n_test_outside


# ---------------------------------------------------------------------------------------------- illustration
def test_min_norm_fit_matches_the_closed_form_and_gd_its_limit():
    rng = np.random.default_rng(0)
    X = np.sort(rng.uniform(-1, 1, 8))[:, None]
    y = np.sin(2 * X[:, 0])
    for p in (4, 64):
        Phi = il.random_features(p, 1, seed=p, bandwidth=8.0)(X)  # condition number < 10
        th = il.min_norm_fit(Phi, y)
        pinv = np.linalg.pinv(Phi)
        assert np.allclose(th, pinv @ y, rtol=1e-8, atol=1e-10)
        assert np.allclose(th, il.closed_form_fit(Phi, y), rtol=1e-8, atol=1e-10)
        if p >= len(X):  # the textbook form of the minimum-norm interpolant
            assert np.allclose(th, Phi.T @ np.linalg.solve(Phi @ Phi.T, y), rtol=1e-6, atol=1e-8)
            assert np.allclose(Phi @ th, y, atol=1e-9)
        th0 = rng.standard_normal(p)
        lim = il.gd_limit(Phi, y, th0)
        assert np.allclose(lim, th + (np.eye(p) - pinv @ Phi) @ th0, atol=1e-8)
        th_gd = il.gd_fit(Phi, y, th0, steps=20_000)
        assert np.linalg.norm(th_gd - lim) <= 1e-6 * np.linalg.norm(lim)


def test_illustration_coincides_on_training_points_and_below_n_everywhere():
    r = il.illustrate(1, 8, [4, 128], seed=0, gd_steps=20_000, bandwidth=8.0)
    s = r.summary()
    assert s["p"] == [4, 128]
    assert max(s["max_rel_diff_min_norm_vs_closed_form"]) < 1e-8
    # p < n: a unique least-squares fit, GD from any start reaches it: the fits coincide everywhere
    assert s["rms_gap_inside_hull"][0] < 1e-6 and s["rms_gap_outside_hull"][0] < 1e-6
    # p >> n: both interpolate, so they coincide on the training points, and differ away from them
    assert s["max_gap_on_training_points"][1] < 1e-5
    assert s["rel_dist_gd_to_its_closed_form_limit"][1] < 1e-5
    gap = r.f_gd[1] - r.f_mn[1]
    assert np.sqrt(np.mean(gap[r.outside] ** 2)) == pytest.approx(s["rms_gap_outside_hull"][1])
    assert s["rms_gap_outside_hull"][1] > 1e-2
    with pytest.raises(ValueError, match="p"):
        il.random_features(0, 1)
    with pytest.raises(ValueError, match="dim"):
        il.random_features(3, 3)


# ---------------------------------------------------------------------------------------------- stats
def test_correlation_table_sentences_and_claim_verdict(tmp_path):
    recs = [{"test_error": e, "up": e * 2 + 1, "flat": 1.0} for e in np.linspace(0.1, 0.5, 8)]
    t = correlation_table(recs, ["up", "flat"], n_boot=200)
    assert t["up"]["rho"] == pytest.approx(1.0) and t["up"]["low"] == pytest.approx(1.0)
    assert "predicts higher test error" in t["up"]["sentence"]
    assert t["flat"]["rho"] is None and "equal" in t["flat"]["sentence"]
    A_in = np.array([[1, .9, .95], [.9, 1, .92], [.95, .92, 1]])
    A_out = np.array([[1, .5, .6], [.5, 1, .55], [.6, .55, 1]])
    sets = {"knn k=2": {"matrix": A_in}, "out": {"matrix": A_out}}
    v = claim_verdict({"sets": sets}, {}, ["knn k=2"], "out")
    assert v["agree_more_inside"]["holds"]
    assert v["agree_more_inside"]["mean_agreement_inside"] == pytest.approx((.9 + .95 + .92) / 3)
    assert v["agree_more_inside"]["mean_agreement_outside"] == pytest.approx((.5 + .6 + .55) / 3)
    assert not v["outside_tracks_error"]["holds"]
    # a percentile interval that does not contain rho (ties) still draws
    from hullscope.overparam.plots import fig_correlations

    rep = {"correlations": {"width": {"m": {"rho": -0.31, "low": -0.56, "high": -0.35, "n": 26}}}}
    assert fig_correlations(rep, tmp_path / "c.png") and (tmp_path / "c.png").stat().st_size > 0


# ---------------------------------------------------------------------------------------------- the families
def test_param_count_matches_torch_and_training_states_what_it_reached(tiny):
    from hullscope.overparam.families import build_model

    for arch in ("cnn", "mlp"):
        for w in (1, 3):
            m = build_model(arch, w, (1, 8, 8), 10)
            assert sum(p.numel() for p in m.parameters()) == param_count(arch, w, (1, 8, 8), 10)
    Xtr, ytr, _, _ = tiny
    _, log = train_model(ModelSpec("width", "mlp", 16, "adam", 0, 40), Xtr, ytr, 10)
    assert log["fit_training_labels"] and log["stopped"] == "reached 100% training accuracy"
    _, log = train_model(ModelSpec("regime", "mlp", 1, "label_noise_20", 0, 1), Xtr, ytr, 10)
    assert log["labels_changed"] == 40 and log["epochs"] == 1 and "max_epochs=1" in log["stopped"]


def test_resume_after_an_interruption_trains_only_the_missing_models(tiny, tmp_path):
    Xtr, ytr, Xte, yte = tiny
    kw = dict(family="both", archs=("mlp",), widths=(1, 2), seeds=(0,), regimes=("adam", "wd_on"), regime_arch="mlp",
              regime_width=2, max_epochs=2, points=4, progress=False, illustration=False, n_boot=200,
              log=lambda s: None)
    seen = []

    def crash_after_first(i, spec, rec):
        seen.append(spec.key)
        if i == 0:
            raise KeyboardInterrupt("simulated kill between models")

    with pytest.raises(KeyboardInterrupt):
        run_overparam(Xtr, ytr, Xte, yte, tmp_path, after_model=crash_after_first, **kw)
    assert seen == ["width-mlp-w1-adam-s0"]
    rep = run_overparam(Xtr, ytr, Xte, yte, tmp_path, **kw)
    keys = [m["key"] for m in rep["models"]]
    assert keys == ["width-mlp-w1-adam-s0", "width-mlp-w2-adam-s0", "regime-mlp-w2-adam-s0", "regime-mlp-w2-wd_on-s0"]
    assert rep["run"]["trained_in_this_run"] == 3 and rep["run"]["resumed_records"] == 1
    assert "width-mlp-w1-adam-s0" not in rep["run"]["trained_keys"]
    assert rep["all_verified"]
    again = run_overparam(Xtr, ytr, Xte, yte, tmp_path, **kw)
    assert again["run"]["trained_in_this_run"] == 0 and again["run"]["resumed_records"] == 4
    assert [m["test_accuracy"] for m in again["models"]] == [m["test_accuracy"] for m in rep["models"]]
    changed = run_overparam(Xtr, ytr, Xte, yte, tmp_path, **dict(kw, max_epochs=3, family="width"))
    assert changed["run"]["trained_in_this_run"] == 2  # another configuration: another fingerprint
    # the measures of a model, against direct computations
    from hullscope.overparam.families import predict

    m0 = rep["models"][0]
    assert 0 <= m0["feature_share_outside"] <= 1 and m0["params"] == param_count("mlp", 1, (1, 8, 8), 10)
    ag_w = rep["agreement"]["width"]
    assert ag_w["models"] == keys[:2]
    assert ag_w["sets"]["test"]["matrix"][0][0] == 1.0
    # strict JSON on disk
    text = (tmp_path / "report.json").read_text()
    json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert (tmp_path / "index.html").is_file()
    del predict


# ---------------------------------------------------------------------------------------------- bad input
def test_bad_input_names_the_argument(tiny):
    Xtr, ytr, Xte, yte = tiny
    with pytest.raises(ValueError, match="^family"):
        plan_family([])
    with pytest.raises(ValueError, match="^family"):
        plan_family("depth")
    with pytest.raises(ValueError, match="^regimes.*'sgd_huge_lr'"):
        plan_family("regime", regimes=["adam", "sgd_huge_lr"])
    with pytest.raises(ValueError, match="^regimes"):
        plan_family("regime", regimes=[])
    with pytest.raises(ValueError, match="^widths"):
        plan_family("width", widths=[4, 0])
    with pytest.raises(ValueError, match="^widths"):
        plan_family("width", widths=[-2])
    with pytest.raises(ValueError, match="^widths"):
        plan_family("width", widths=[])
    with pytest.raises(ValueError, match="^regime_width"):
        plan_family("regime", regime_width=0)
    with pytest.raises(ValueError, match="^seeds"):
        plan_family("width", seeds=[-1])
    with pytest.raises(ValueError, match="^y_train.*single class"):
        check_data(Xtr, np.zeros_like(ytr), Xte, yte)
    with pytest.raises(ValueError, match="^y_train.*single class"):
        run_overparam(Xtr, np.full_like(ytr, 3), Xte, yte, "/nonexistent-never-created", family="width",
                      progress=False)
    assert set(REGIMES) >= {"sgd_small_lr", "sgd_large_lr", "adam", "wd_on", "wd_off", "batch_small", "batch_large",
                            "label_noise_20", "random_labels", "input_noise", "large_init"}


def test_cli_bad_input_exits_2_naming_the_flag(capsys, tmp_path):
    from hullscope.cli import main

    assert main(["overparam", "--regimes", "adam,nope", "--out", str(tmp_path)]) == 2
    assert "--regimes" in capsys.readouterr().err
    assert main(["overparam", "--widths", "4,0", "--out", str(tmp_path)]) == 2
    assert "--widths" in capsys.readouterr().err
    assert main(["overparam", "--family", "none", "--out", str(tmp_path)]) == 2
    assert "--family" in capsys.readouterr().err


def test_cli_runs_a_tiny_family(tmp_path, capsys):
    from hullscope.cli import main

    out = tmp_path / "o"
    rc = main(["overparam", "--family", "regime", "--regimes", "adam,sgd_large_lr,random_labels",
               "--regime-width", "2", "--max-epochs", "2", "--n-train", "150", "--n-test", "40", "--points", "3",
               "--no-illustration", "--no-progress", "--threads", "1", "--out", str(out)])
    assert rc == 0, capsys.readouterr()
    rep = json.loads((out / "report.json").read_text(),
                     parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert [m["regime"] for m in rep["models"]] == ["adam", "sgd_large_lr", "random_labels"]
    assert "regime" in rep["agreement"] and "regime" in rep["correlations"]
    page = (out / "index.html").read_text()
    assert "src=\"data:image/png;base64," in page and "http" not in page
