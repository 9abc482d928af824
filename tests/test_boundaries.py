"""hullscope.boundaries: rays, the pixel attack, morphs and certified-at-scale against independent oracles
(dense scans of 10^5 points, LinearRegions.segment, closed forms, per-point Hull.contains)."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hullscope import Hull, LinearRegions  # noqa: E402
from hullscope.boundaries import (certified_at_scale, choose_pairs, make_head, min_flip, morph,  # noqa: E402
                                  rays)

torch.set_num_threads(1)


def mlp(d_in=5, width=16, K=4, seed=0):
    """A small random ReLU net, weights doubled and biases N(0, 1) so that rays cross several regions."""
    torch.manual_seed(seed)
    nn = torch.nn
    net = nn.Sequential(nn.Linear(d_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                        nn.Linear(width, K))
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.mul_(2.0)
                m.bias.normal_()
    return net


def dense_changes(head, p, u, t_max, n=100_000):
    """Oracle: classes at n evenly spaced t (float64), and the t-intervals where they change."""
    ts = np.linspace(0.0, t_max, n)
    c = head.classes(p[None, :] + ts[:, None] * u[None, :])
    k = np.flatnonzero(c[1:] != c[:-1])
    return ts, c, k


def check_against_scan(res, t_max, n=100_000):
    """Every ray's breakpoints and classes against a dense scan of n points."""
    step = t_max / (n - 1)
    for i in np.flatnonzero(res.has_ray):
        r = res.ray(i)
        k = int(res.ray_index[i])
        ts, c, chg = dense_changes(res.head, res.P[k], res.U[k], t_max, n)
        assert len(chg) == len(r["t"]), (i, ts[chg], r["t"])
        assert list(r["classes"]) == [int(c[0])] + [int(c[j + 1]) for j in chg]
        # the scan's change lies in (ts[j], ts[j+1]]; ours within tol of the true tie
        tol = 0.0 if np.isnan(res.tol) else res.tol
        for t_ours, j in zip(r["t"], chg):
            assert ts[j] - tol - 1e-12 <= t_ours <= ts[j + 1] + tol + 1e-12
        assert step < 1e-4


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    Xtr = rng.normal(size=(40, 5))
    Xte = 2.0 * rng.normal(size=(12, 5))
    yte = rng.integers(0, 4, size=12)
    return Xtr, Xte, yte


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pixel_space_rays_match_a_dense_scan_on_random_nets(toy, seed):
    Xtr, Xte, yte = toy
    net = mlp(seed=seed)
    res = rays(net, Xtr, Xte, yte, t_max=3.0)
    assert res.verify()
    assert res.has_ray.all() and not res.exact
    assert sum(len(res.ray(i)["t"]) for i in range(len(res))) >= 3  # the nets do change class on these rays
    check_against_scan(res, 3.0)
    # the bracket of each breakpoint is at most tol wide and the classes at its ends are the stated ones
    assert np.all(res.lines.hi - res.lines.lo <= res.tol)


def test_earlier_layer_rays_match_a_dense_scan(toy):
    Xtr, Xte, yte = toy
    net = mlp(seed=3)
    res = rays(net, Xtr, Xte, yte, layer="1", t_max=2.5)   # after the first ReLU: rest of the network
    assert res.space == "layer 1" and not res.exact and res.verify()
    check_against_scan(res, 2.5)


def test_scan_engine_on_an_exact_linear_model_matches_segment():
    rng = np.random.default_rng(1)
    W, b = rng.normal(size=(6, 4)), rng.normal(size=6)
    f = lambda F: F @ W.T + b  # noqa: E731  (a callable: the grid + bisection engine)
    Xtr = rng.normal(size=(30, 4))
    Xte = 3.0 * rng.normal(size=(15, 4))
    res = rays(f, Xtr, Xte, t_max=3.0)
    assert not res.exact and res.verify()
    check_against_scan(res, 3.0)
    reg = LinearRegions(W, b)
    n_breaks = 0
    for i in np.flatnonzero(res.has_ray):
        k = int(res.ray_index[i])
        seg = reg.segment(res.P[k], res.P[k] + 3.0 * res.U[k])
        r = res.ray(i)
        assert list(r["classes"]) == list(seg.classes)
        assert np.allclose(r["t"], 3.0 * np.asarray(seg.breaks), atol=res.tol)
        n_breaks += len(r["t"])
    assert n_breaks >= 5


def test_feature_space_rays_are_exact_and_equal_segment(toy):
    Xtr, Xte, yte = toy
    net = mlp(seed=4)
    res = rays(net, Xtr, Xte, yte, layer="3")             # feeds the final nn.Linear: exact
    assert res.exact and "segment" in res.method and res.verify()
    W = net[4].weight.detach().double().numpy()
    b = net[4].bias.detach().double().numpy()
    reg = LinearRegions(W, b)
    for i in range(len(res)):
        k = int(res.ray_index[i])
        seg = reg.segment(res.P[k], res.P[k] + res.t_max * res.U[k])
        r = res.ray(i)
        assert list(r["classes"]) == list(seg.classes)
        assert np.array_equal(r["t"], np.asarray(seg.breaks) * res.t_max)
    # and the exact engine agrees with the scan engine on the same space (float64 network)
    scan = rays(net, Xtr, Xte, yte, layer="3", exact=False)
    for i in range(len(res)):
        a, s = res.ray(i), scan.ray(i)
        assert list(a["classes"]) == list(s["classes"])
        assert np.allclose(a["t"], s["t"], atol=2e-6)
    check_against_scan(res, res.t_max)


def test_inside_samples_have_no_ray_and_counts_follow_the_breakpoints(toy):
    Xtr, Xte, yte = toy
    Q = np.vstack([Xtr[:5].mean(axis=0), Xte[:5]])   # a convex combination: inside
    res = rays(mlp(seed=0), Xtr, Q, t_max=3.0)
    assert res.status[0] == "inside" and not res.has_ray[0] and res.ray(0) is None
    assert res.class_hull[0] == -1 and res.changes_before[0] == -1 and np.isnan(res.first_before[0])
    assert res.summary()["inside"] == 1 and res.summary()["rays"] == 5
    for i in range(1, 6):
        t = res.ray(i)["t"]
        assert res.changes_before[i] == np.sum(t <= 1) and res.changes_after[i] == np.sum(t > 1)
    assert "RayResult(" in repr(res) and len(repr(res)) < 200


def test_corrupted_ray_results_fail_verification(toy):
    Xtr, Xte, yte = toy
    res = rays(mlp(seed=0), Xtr, Xte, yte)
    k = next(i for i in range(len(res)) if len(res.ray(i)["t"]))
    lines = res.lines
    bad_lo = lines.lo.copy()
    bad_lo[int(lines.indptr[res.ray_index[k]])] -= 0.05           # bracket too wide
    bad = dataclasses.replace(res, lines=dataclasses.replace(lines, lo=bad_lo))
    assert not bad.verify()
    cls = lines.classes.copy()
    cls[int(lines.cptr[res.ray_index[k]])] = (cls[int(lines.cptr[res.ray_index[k]])] + 1) % 4
    assert not dataclasses.replace(res, lines=dataclasses.replace(lines, classes=cls)).verify()
    assert not dataclasses.replace(res, class_sample=(res.class_sample + 1) % 4).verify()


# ------------------------------------------------------------------------------------------ attack
def closed_form(W, b, X):
    Z = X @ W.T + b
    c = Z.argmax(1)
    out = []
    for n in range(len(X)):
        out.append(min((Z[n, c[n]] - Z[n, k]) / np.linalg.norm(W[c[n]] - W[k]) for k in range(len(W)) if k != c[n]))
    return np.array(out)


def test_attack_matches_the_linear_closed_form():
    torch.manual_seed(0)
    lin = torch.nn.Linear(30, 6)                 # logistic regression, written as a torch nn.Linear
    X = np.random.default_rng(0).normal(size=(60, 30))
    r = min_flip(lin, X, pixel_range=None)
    assert r.verify() and r.found.all()
    W, b = lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()
    exact = closed_form(W, b, X)
    assert np.all(np.abs(r.distance / exact - 1) <= 1e-6)
    assert np.all(r.distance >= exact * (1 - 1e-12))             # never below the true minimum
    # the bisection tolerance: the near end keeps the class, the far end flips, at most tol apart
    assert np.all(r.bracket <= r.tol * r.distance * (1 + 1e-9))
    r2 = min_flip(lin, X[:10], pixel_range=None, tol=1e-3)
    assert r2.verify() and np.all(r2.bracket <= 1e-3 * r2.distance * (1 + 1e-9))
    assert np.all(np.abs(r2.distance / exact[:10] - 1) <= 1.001e-3)
    assert "upper bound" in repr(r)


def test_attack_in_a_pixel_box_is_an_upper_bound_on_the_exact_box_distance():
    torch.manual_seed(1)
    lin = torch.nn.Linear(16, 4)
    X = np.random.default_rng(1).uniform(0.2, 0.8, size=(40, 16))
    r = min_flip(lin, X, pixel_range=(0.0, 1.0))
    assert r.verify()
    assert r.perturbed.min() >= 0.0 and r.perturbed.max() <= 1.0
    W, b = lin.weight.detach().double().numpy(), lin.bias.detach().double().numpy()
    box = LinearRegions(W, b, domain=(0.0, 1.0)).certified_radius(X).radius  # exact minimum inside the box
    f = r.found
    assert f.sum() >= 30 and np.all(np.isinf(box[~f]) | ~np.isfinite(r.distance[~f]))
    assert np.all(r.distance[f] >= box[f] * (1 - 1e-9))
    assert np.median(r.distance[f] / box[f]) < 1.05


def test_attack_on_a_cnn_verifies_and_a_tampered_result_does_not():
    from hullscope.boundaries.study import digits_images
    from hullscope.models import small_cnn, train_classifier

    Xtr, ytr, Xte, _ = digits_images()
    net = train_classifier(small_cnn(width=8, hidden=16), Xtr[:300], ytr[:300], epochs=2, seed=0)
    X = Xte[:12]
    r = min_flip(net, X, pixel_range=(0, 1), max_iter=30)
    assert r.verify() and r.found.sum() >= 10 and r.perturbed.shape == X.shape
    assert not dataclasses.replace(r, perturbed=r.inner).verify()          # no class change
    assert not dataclasses.replace(r, distance=r.distance * 0.5).verify()


# ------------------------------------------------------------------------------------------ morph
def test_morph_hull_shares_match_per_point_contains(toy):
    Xtr, Xte, yte = toy
    rng = np.random.default_rng(2)
    Xtr2 = rng.normal(size=(200, 5))
    A = np.vstack([Xte[:4], Xtr2[:2].mean(0, keepdims=True) * 0.5])
    B = np.vstack([-Xte[:4] * 0.3, Xtr2[2:3]])
    m = morph(mlp(seed=1), A, B, X_train=Xtr2, hull_tol=1e-5)
    assert m.verify()
    H = Hull(Xtr2)
    s = np.linspace(0.0, 1.0, 4001)
    met = 0
    for i in range(len(m)):
        st = H.contains(A[i] + s[:, None] * (B[i] - A[i])).status
        dense = float(np.mean(st == "outside"))
        assert abs(dense - m.share_outside_hull[i]) <= 1.5 / 4000 + 2e-5
        met += dense < 1
    assert met >= 3                                  # most paths do cross the hull
    assert m.share_outside_hull[4] < 1 and np.isclose(m.hull_enter[4, 0], 0)   # starts inside


def test_morph_classes_and_ambiguity_pixel_and_exact_feature(toy):
    Xtr, Xte, yte = toy
    net = mlp(seed=2)
    a, b = choose_pairs(yte, 4, 4, seed=0)
    assert np.all((yte[a] == yte[b])[:4]) and np.all((yte[a] != yte[b])[4:])
    mp = morph(net, Xte[a], Xte[b], labels_a=yte[a], labels_b=yte[b])
    mf = morph(net, Xte[a], Xte[b], labels_a=yte[a], labels_b=yte[b], layer="3", X_train=Xtr)
    assert mp.verify() and mf.verify() and mf.head.exact
    W = net[4].weight.detach().double().numpy()
    bb = net[4].bias.detach().double().numpy()
    reg = LinearRegions(W, bb)
    for i in range(len(mf)):
        seg = reg.segment(mf.A[i], mf.B[i])
        t, cls, _, _ = mf.lines.line(i)
        assert list(cls) == list(seg.classes) and np.array_equal(t, seg.breaks)
        assert list(mf.ambiguous[i]) == [c for c in seg.classes if c not in (mf.class_a[i], mf.class_b[i])]
    for i in range(len(mp)):
        ts, c, chg = dense_changes(mp.head, mp.A[i], mp.B[i] - mp.A[i], 1.0)
        assert mp.changes[i] == len(chg)
        assert set(mp.ambiguous[i]) == set(c.tolist()) - {mp.class_a[i], mp.class_b[i]}
    s = mp.summary()
    assert s["same_class"]["pairs"] == 4 and s["different_class"]["pairs"] == 4


# ------------------------------------------------------------------------------------------ scale
def test_certified_at_scale_matches_the_closed_form(toy):
    Xtr, Xte, yte = toy
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(4, 5)), rng.normal(size=4)
    hr = Hull(Xtr).distance(Xte)
    sc = certified_at_scale(W, b, Xte, hr, 1.7, y=yte)
    assert sc.verify()
    exact = closed_form(W, b, Xte)
    assert np.allclose(sc.radius, exact, rtol=1e-12)
    assert np.array_equal(sc.robust_at_scale, exact > hr.distance)
    assert np.allclose(sc.radius_over_hull, exact / hr.distance)
    assert np.allclose(sc.radius_over_nn, exact / 1.7)
    ok = sc.pred == yte
    s = sc.summary()
    assert s["share_certified_and_correct"] == pytest.approx(np.mean((exact > 0) & ok))
    assert s["share_robust_at_scale_and_correct"] == pytest.approx(np.mean((exact > hr.distance) & ok))
    assert not dataclasses.replace(sc, radius=sc.radius * 1.01).verify()


# ------------------------------------------------------------------------------------------ bad input
def _bad_cases(toy):
    Xtr, Xte, yte = toy
    net = mlp()
    nanX = Xte.copy()
    nanX[0, 0] = np.nan
    one_logit = lambda F: F[:, 0]  # noqa: E731
    lin = torch.nn.Linear(5, 3)
    return [
        ("X_test", lambda: rays(net, Xtr, Xte[:, :3])),
        ("X_train", lambda: rays(lambda F: np.c_[F[:, :1], -F[:, :1]], Xtr[:, :3], Xte)),
        ("X_test", lambda: rays(net, Xtr, nanX)),
        ("model", lambda: rays(one_logit, Xtr, Xte)),
        ("model", lambda: rays(lambda F: np.zeros((len(F) + 1, 3)), Xtr, Xte)),
        ("model", lambda: rays(lambda F: np.full((len(F), 3), np.nan), Xtr, Xte)),
        ("t_max", lambda: rays(net, Xtr, Xte, t_max=1.0)),
        ("t_max", lambda: rays(net, Xtr, Xte, t_max=0.5)),
        ("tol", lambda: rays(net, Xtr, Xte, tol=0)),
        ("grid", lambda: rays(net, Xtr, Xte, grid=1)),
        ("y_test", lambda: rays(net, Xtr, Xte, yte[:3])),
        ("layer", lambda: rays(net, Xtr, Xte, layer="nope")),
        ("X", lambda: min_flip(lin, Xte, pixel_range=(0, 1))),           # out of the declared range
        ("X", lambda: min_flip(lin, np.where(np.isnan(nanX), np.nan, 0.5), pixel_range=(0, 1))),
        ("model", lambda: min_flip(lambda F: F, Xte, pixel_range=None)),
        ("model", lambda: min_flip(torch.nn.Sequential(torch.nn.Linear(5, 1), torch.nn.Flatten(0)), Xte,
                                   pixel_range=None)),
        ("pixel_range", lambda: min_flip(lin, Xte, pixel_range=(1, 0))),
        ("B", lambda: morph(net, Xte[:4], Xte[:3])),
        ("B", lambda: morph(net, Xte[:4], Xte[:4, :2])),
        ("hull_result", lambda: certified_at_scale(np.eye(5)[:3], np.zeros(3), Xte, Hull(Xtr).distance(Xte[:2]), 1.0)),
        ("typical_nn", lambda: certified_at_scale(np.eye(5)[:3], np.zeros(3), Xte, Hull(Xtr).distance(Xte), 0.0)),
        ("n_same", lambda: choose_pairs(yte, -1, 2)),
    ]


def test_bad_input_gets_a_clear_error_naming_the_argument(toy):
    for name, call in _bad_cases(toy):
        with pytest.raises((ValueError, TypeError)) as e:
            call()
        assert name in str(e.value), (name, str(e.value))


def test_a_skip_connection_around_the_layer_is_refused(toy):
    Xtr, Xte, _ = toy

    class Skip(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Linear(5, 5)
            self.relu = torch.nn.ReLU()
            self.head = torch.nn.Linear(5, 3)

        def forward(self, x):
            return self.head(self.relu(self.a(x)) + x)

    torch.manual_seed(0)
    with pytest.raises(ValueError, match="layer"):
        make_head(Skip(), Xte, layer="relu")


# ------------------------------------------------------------------------------------------ CLI
def _strict_load(path):
    def bad(c):
        raise ValueError(f"non-strict JSON constant {c}")
    return json.loads(path.read_text(), parse_constant=bad)


def test_cli_default_end_to_end_small(tmp_path, capsys):
    from hullscope.cli import main

    out = tmp_path / "b"
    assert main(["boundaries", "--epochs", "3", "--n-test", "16", "--pairs", "4", "--threads", "1",
                 "--no-progress", "--out", str(out)]) == 0
    rep = _strict_load(out / "report.json")
    assert rep["all_verified"] is True
    prov = rep["provenance"]
    for k in ("hullscope", "command", "date_utc", "seed", "n_train", "n_test", "data", "test_accuracy"):
        assert k in prov
    assert prov["n_test"] == 16
    assert set(rep["rays"]) == {"pixels", "last hidden layer (relu4)"}
    assert rep["rays"]["last hidden layer (relu4)"]["method"].startswith("exact")
    assert len(rep["rays"]["pixels"]["samples"]) == 16
    assert "share_robust_at_scale" in rep["scale_certified"]
    assert "upper bound" in rep["pixel_vs_feature"]["note"]
    assert set(rep["morph"]) == {"pixels", "last hidden layer (relu4)"}
    for f in ("ray_strips.png", "first_change.png", "flip_scatter.png", "morph_strips.png"):
        assert (out / f).stat().st_size > 5000
    page = (out / "index.html").read_text()
    assert "data:image/png;base64" in page and "upper bounds" in page
    assert "change class between hull and sample" in capsys.readouterr().out


@pytest.mark.parametrize("argv, flag", [
    (["--threads", "0"], "--threads"), (["--threads", "-2"], "--threads"), (["--t-max", "1"], "--t-max"),
    (["--n-test", "0"], "--n-test"), (["--tol", "0"], "--tol"), (["--pixel-range", "1,0"], "--pixel-range"),
    (["--model", "hullscope.models:small_cnn"], "--data"), (["--weights", "w.pt"], "--weights"),
    (["--layers", "nope"], "--layers"),
])
def test_cli_bad_arguments_fail_before_any_work(tmp_path, capsys, argv, flag):
    from hullscope.cli import main

    assert main(["boundaries", "--out", str(tmp_path / "x"), *argv]) == 2
    err = capsys.readouterr().err
    assert flag in err


@pytest.mark.parametrize("argv, flag", [(["--threads", "0"], "--threads"), (["--threads", "-2"], "--threads"),
                                        (["--radius", "-1"], "--radius"), (["--radius", "x"], "--radius")])
def test_regions_cli_bad_arguments_fail_before_training(tmp_path, capsys, argv, flag):
    from hullscope.cli import main

    assert main(["regions", "--out", str(tmp_path / "x"), *argv]) == 2
    assert flag in capsys.readouterr().err


def test_regions_cli_states_the_radius_it_certifies(tmp_path, capsys):
    from hullscope.cli import main

    out = tmp_path / "r"
    assert main(["regions", "--epochs", "2", "--n-test", "40", "--threads", "1", "--radius", "hull",
                 "--out", str(out)]) == 0
    rep = _strict_load(out / "regions.json")
    c = rep["certified"]
    assert c["radius"] == "hull" and "dist(q, training hull)" in c["meaning"]
    rad = np.array(rep["certified_radius"]["values"])
    assert c["certified_and_correct"] <= c["certified"] <= c["n"] == 40
    assert c["certified_and_correct"] <= c["correct"]
    text = capsys.readouterr().out
    assert "certified at its own distance to the training hull" in text
    out2 = tmp_path / "r2"
    big = float(rad.max()) * 10 + 1
    assert main(["regions", "--epochs", "2", "--n-test", "40", "--threads", "1", "--radius", str(big),
                 "--out", str(out2)]) == 0
    c2 = _strict_load(out2 / "regions.json")["certified"]
    assert c2["radius"] == big and c2["certified"] == 0     # nothing is certified at a radius beyond every radius
    assert f"radius {big:g}" in capsys.readouterr().out


def test_cli_user_model_with_an_extra_layer(tmp_path, capsys):
    from hullscope.cli import main
    from hullscope.datasets import load_digits
    from hullscope.models import small_cnn

    d = load_digits()
    data = tmp_path / "d.npz"
    np.savez(data, X_train=d.X_train[:200], y_train=d.y_train[:200], X_test=d.X_test[:8], y_test=d.y_test[:8])
    torch.manual_seed(0)
    torch.save(small_cnn().state_dict(), tmp_path / "w.pt")
    out = tmp_path / "o"
    assert main(["boundaries", "--model", "hullscope.models:small_cnn", "--weights", str(tmp_path / "w.pt"),
                 "--data", str(data), "--layers", "pool", "--pairs", "2", "--threads", "1", "--no-progress",
                 "--out", str(out)]) == 0
    rep = _strict_load(out / "report.json")
    assert rep["all_verified"] is True and rep["provenance"]["model"] == "hullscope.models:small_cnn"
    assert rep["rays"]["layer pool"]["method"].startswith("grid") and rep["rays"]["layer pool"]["dim"] == 512
    assert rep["provenance"]["pixel_range"] == [0.0, 1.0]


def test_scan_follows_float64_where_the_float32_scan_puts_a_boundary_elsewhere():
    """The grid is scanned with a fast copy and every reported class comes from the float64 one: here the
    fast copy's boundary sits two grid steps away from the true one, and the scan must still report the
    true breakpoint (and no change where only the fast copy sees one)."""
    from hullscope.boundaries._net import Head
    from hullscope.boundaries._trace import check_lines, grid_of, scan_lines

    def logits(shift):  # class 1 wins beyond t = shift, class 0 before; class 2 never
        return lambda F: np.stack([np.zeros(len(F)), F[:, 0] - shift, np.full(len(F), -1.0)], 1)

    head = Head("network", 1, 3, "toy", fn32=logits(0.535), fn64=logits(0.505))
    P, U = np.zeros((1, 1)), np.ones((1, 1))
    ts = grid_of(1.0, 64)
    lines = scan_lines(head, P, U, ts, 1e-7)
    t, cls, lo, hi = lines.line(0)
    assert list(cls) == [0, 1] and abs(t[0] - 0.505) <= 1e-7
    assert not check_lines(head, P, U, lines, 1.0, 1e-7)
    # a fast copy that sees a change the float64 model does not have: nothing is reported
    head2 = Head("network", 1, 3, "toy", fn32=logits(0.535), fn64=logits(2.0))
    t2, cls2, _, _ = scan_lines(head2, P, U, ts, 1e-7).line(0)
    assert len(t2) == 0 and list(cls2) == [0]
