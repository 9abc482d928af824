"""RHM / SRHM generator: exact counts by enumeration, valid derivations, disjoint synonyms, seeds, errors."""
from __future__ import annotations

import numpy as np
import pytest

from hullscope.hierarchy import EMPTY, decode, generate, make_rules, one_hot, p_max, sample_indices


@pytest.mark.parametrize("s0,variant", [(0, "subpatch"), (1, "subpatch"), (1, "ordered"), (2, "subpatch")])
def test_p_max_by_full_enumeration_and_every_datum_decodes(s0, variant):
    R = make_rules(v=3, m=2, n_c=2, s=2, L=2, seed=1)
    total = p_max(R, s0, variant)
    X, y = generate(R, range(total), s0, variant)
    assert len({tuple(r) for r in X}) == total  # all distinct: the count is exact
    assert X.shape[1] == (2 * (s0 + 1)) ** 2
    for x, lab in zip(X, y):
        assert decode(R, x, s0, variant) == lab
    # closed form, independently: n_c m^3 (positions per node)^3 for 3 internal nodes
    pos = {"subpatch": (s0 + 1) ** 2, "ordered": {0: 1, 1: 6, 2: 15}[s0]}[variant]
    assert total == 2 * 2 ** 3 * pos ** 3


def test_synonyms_are_disjoint_and_drawn_from_all_tuples():
    R = make_rules(v=4, m=3, n_c=3, s=3, L=3, seed=0)
    for level in R.rules:
        tuples = [t for sym in level for t in sym]
        assert len(tuples) == len(set(tuples))
        assert all(len(sym) == 3 for sym in level)


def test_sparse_tokens_sit_at_valid_positions_and_empty_patches_propagate():
    R = make_rules(v=5, m=3, n_c=2, s=2, L=2, seed=3)
    s0 = 2
    X, y = generate(R, sample_indices(p_max(R, s0), 200, seed=0), s0)
    width = 2 * (s0 + 1)
    for x in X:
        top = x.reshape(width, width)  # level-1 patches (each the expansion of one level-1 position)
        informative_patches = [p for p in top if (p != EMPTY).any()]
        assert len(informative_patches) == 2  # one per informative level-1 symbol; the rest all empty
        for p in informative_patches:
            # one symbol per sub-patch of s0+1 positions
            assert [(p[q * (s0 + 1):(q + 1) * (s0 + 1)] != EMPTY).sum() for q in range(2)] == [1, 1]
    bad = X[0].copy()
    k = int(np.flatnonzero(bad != EMPTY)[0])
    bad[k], bad[k + width] = EMPTY, bad[k]  # move a token into an empty patch
    with pytest.raises(ValueError):
        decode(R, bad, s0)


def test_seeds_reproduce_and_one_hot():
    a = make_rules(6, 2, 3, 2, 3, seed=7)
    b = make_rules(6, 2, 3, 2, 3, seed=7)
    assert a.rules == b.rules and make_rules(6, 2, 3, 2, 3, seed=8).rules != a.rules
    assert sample_indices(10 ** 30, 5, seed=1) == sample_indices(10 ** 30, 5, seed=1)
    X, _ = generate(a, [0, 1, 2], s0=1)
    H = one_hot(X, 6)
    assert H.shape == (3, 6, X.shape[1]) and H.sum() == (X != EMPTY).sum()
    H2 = one_hot(X, 6, empty_channel=True)
    assert np.all(H2.sum(axis=1) == 1)


def test_huge_counts_without_overflow_and_bad_input():
    R = make_rules(v=32, m=8, n_c=10, s=4, L=6, seed=0)
    total = p_max(R, s0=2)
    assert total > 2 ** 64 and isinstance(total, int)
    idx = sample_indices(total, 3, seed=0)
    X, y = generate(R, idx, s0=2)
    assert all(decode(R, x, 2) == c for x, c in zip(X, y))
    with pytest.raises(ValueError, match="m:"):
        make_rules(v=3, m=4, n_c=2, s=2, L=2)
    with pytest.raises(ValueError, match="n_c"):
        make_rules(v=3, m=2, n_c=4, s=2, L=2)
    with pytest.raises(ValueError, match="s0"):
        p_max(make_rules(3, 2, 2, 2, 2), s0=-1)
    with pytest.raises(ValueError, match="P:"):
        sample_indices(10, 11)
    with pytest.raises(ValueError, match="outside"):
        generate(make_rules(3, 2, 2, 2, 2), [10 ** 6])


def test_resampling_and_synonym_sensitivity_of_the_true_representation():
    from hullscope.hierarchy import level_symbols, resample
    from hullscope.sensitivity import relative_sensitivity

    R = make_rules(v=6, m=4, n_c=3, s=2, L=3, seed=2)
    s0 = 1
    idx = sample_indices(p_max(R, s0), 300, seed=4)
    X, y = generate(R, idx, s0)
    reps = [one_hot(lv, R.v if k < R.L else R.n_c).reshape(len(X), -1) for k, lv in
            enumerate(level_symbols(R, X, s0))]
    for level in (1, 2, 3):
        Xs, ys = generate(R, resample(R, idx, level, "synonyms", s0, seed=1), s0)
        np.testing.assert_array_equal(ys, y)  # synonyms never change the class
        reps_s = [one_hot(lv, R.v if k < R.L else R.n_c).reshape(len(X), -1) for k, lv in
                  enumerate(level_symbols(R, Xs, s0))]
        S = [relative_sensitivity(a, b) for a, b in zip(reps, reps_s)]
        # the exact representation is insensitive at and above the exchanged level, not below it
        assert all(S[k] == 0 for k in range(level, R.L + 1)), (level, S)
        assert all(S[k] > 0.05 for k in range(level)), (level, S)
    Xp, _ = generate(R, resample(R, idx, 2, "positions", s0, seed=3), s0)
    lv_p = level_symbols(R, Xp, s0)
    lv = level_symbols(R, X, s0)
    assert not np.array_equal(lv_p[0], lv[0]) and np.array_equal(lv_p[2], lv[2])
    with pytest.raises(ValueError, match="positions"):
        resample(R, idx, 1, "positions", 0)
    # a constant network has zero sensitivity (0 / 0 resolved to 0 by the shared normalisation)
    const = np.ones((len(X), 5))
    assert relative_sensitivity(const, const.copy()) == 0.0


def test_matched_networks_shapes_training_and_p_star():
    torch = pytest.importorskip("torch")
    from hullscope.hierarchy.learning import (LearningCurve, estimate_p_star, fcn, hierarchical_net,
                                              train_to_loss, test_error)

    R = make_rules(v=4, m=2, n_c=2, s=2, L=2, seed=0)
    s0 = 1
    X, y = generate(R, range(p_max(R, s0)), s0)
    H = one_hot(X, R.v)
    for net in (hierarchical_net(R, s0, width=16, shared=True), hierarchical_net(R, s0, width=16, shared=False),
                fcn(R, s0, width=16)):
        out = net(torch.as_tensor(H[:5]))
        assert out.shape == (5, R.n_c)
    lcn = hierarchical_net(R, s0, width=32, shared=False)
    assert lcn.layer1.weight.shape[0] == 4  # 4 positions at the first layer, each with its own weights
    info = train_to_loss(lcn, H, y, target_loss=1e-2, max_epochs=200, lr=3e-3)
    assert info["reached"] and test_error(lcn, H, y) == 0.0
    curve = LearningCurve(np.array([10, 100, 1000]), np.array([[0.5, 0.5], [0.2, 0.3], [0.0, 0.05]]), {})
    est = estimate_p_star(curve, 0.1)
    # mean errors 0.5, 0.25, 0.025: crossing at log-linear interpolation 1/3 of the way from 100 to 1000
    assert est["p_star"] == pytest.approx(100 * 10 ** ((0.25 - 0.1) / (0.25 - 0.025)))
    assert len(est["per_seed"]) == 2


def test_network_sensitivities_constant_and_exact():
    torch = pytest.importorskip("torch")
    from hullscope.hierarchy.sensitivity import sensitivities

    R = make_rules(v=5, m=3, n_c=3, s=2, L=2, seed=1)
    idx = sample_indices(p_max(R, 1), 120, seed=0)

    class Const(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = torch.nn.Linear(1, 3)

        def forward(self, x):
            return self.head(torch.ones(x.shape[0], 1))

    res = sensitivities(Const(), R, idx, 1, s0=1, layers=["head"])
    assert res["S"]["head"] == 0 and res["D"]["head"] == 0 and res["G"]["head"] == 0

    class Identity(torch.nn.Module):
        def forward(self, x):
            return x

    res = sensitivities(Identity(), R, idx, 1, s0=1, layers=["input"])
    assert res["S"]["input"] > 0 and res["D"]["input"] > 0 and res["G"]["input"] > 0


def test_hierarchy_cli(tmp_path, capsys):
    import json

    from hullscope.cli import main

    assert main(["hierarchy", "sample", "--v", "4", "--m", "2", "--n-c", "2", "--s0", "1", "--P", "50",
                 "--out", str(tmp_path)]) == 0
    z = np.load(tmp_path / "data.npz")
    assert z["one_hot"].shape == (50, 4, 16) and json.loads((tmp_path / "data.json").read_text())["P_max"] == 2 * 2 ** 3 * 4 ** 3
    assert main(["hierarchy", "sample", "--v", "3", "--m", "4", "--out", str(tmp_path)]) == 2
    assert "m:" in capsys.readouterr().err
    assert main(["hierarchy", "learn", "--v", "4", "--m", "2", "--n-c", "2", "--s0", "1", "--P", "16,64", "--n-test", "64",
                 "--seeds", "1", "--width", "16", "--max-epochs", "20", "--out", str(tmp_path)]) == 0
    rep = json.loads((tmp_path / "learning_curve.json").read_text())
    assert rep["P"] == [16, 64] and len(rep["errors"]) == 2
    assert (tmp_path / "learning_curve.png").stat().st_size > 5000


def test_whitening_and_resampling_at_and_above_a_level():
    from hullscope.hierarchy import level_symbols, resample

    R = make_rules(v=5, m=3, n_c=3, s=2, L=3, seed=5)
    idx = sample_indices(p_max(R, 1), 200, seed=1)
    X, y = generate(R, idx, 1)
    W = one_hot(X, R.v, whiten=True)
    inf = X != EMPTY
    np.testing.assert_allclose(W.sum(axis=1)[inf], 0, atol=1e-6)           # centred
    np.testing.assert_allclose(np.linalg.norm(W, axis=1)[inf], 1, rtol=1e-6)  # unit norm
    assert np.all(W.sum(axis=1)[~inf] == 0) and np.all(np.abs(W).sum(axis=1)[~inf] == 0)
    lv = level_symbols(R, X, 1)
    Xa, ya = generate(R, resample(R, idx, 2, "synonyms", 1, seed=2, and_above=True), 1)
    np.testing.assert_array_equal(ya, y)
    la = level_symbols(R, Xa, 1)
    assert not np.array_equal(la[2], lv[2])  # level-2 symbols changed too (level-3 nodes re-drew)
    Xo, _ = generate(R, resample(R, idx, 2, "synonyms", 1, seed=2), 1)
    np.testing.assert_array_equal(level_symbols(R, Xo, 1)[2], lv[2])  # without: level 2 kept


def test_power_law_fit_recovers_exponents_and_predicted_laws():
    from hullscope.hierarchy.learning import fit_power_law, predicted_p_star

    x = np.array([1.0, 2.0, 3.0, 4.0])
    f = fit_power_law(x, 5.0 * x ** 2.0)
    assert f["exponent"] == pytest.approx(2.0) and f["prefactor"] == pytest.approx(5.0)
    assert f["exponent_se"] == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(0)
    xs = np.geomspace(1, 100, 30)
    noisy = fit_power_law(xs, 3.0 * xs ** 1.5 * np.exp(rng.normal(0, 0.05, 30)))
    assert abs(noisy["exponent"] - 1.5) < 3 * noisy["exponent_se"] + 0.02
    lo, hi = noisy["exponent_boot"]
    assert lo < 1.5 < hi
    # a NaN P* (threshold never crossed) is dropped, not propagated
    assert fit_power_law([1, 2, 3], [1.0, np.nan, 9.0])["exponent"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([1, 2], [1, -1])
    with pytest.raises(ValueError, match="at least 2"):
        fit_power_law([1, 1], [1, 2])
    assert predicted_p_star(8, 8, 2) == 512
    assert predicted_p_star(8, 8, 2, s0=1, arch="lcn") == pytest.approx(2 * 4 * 512)
    assert predicted_p_star(8, 8, 2, s0=2, arch="cnn") == pytest.approx(9 * 512)


def test_sgd_trainer_reaches_the_target_loss_on_a_tiny_rhm():
    pytest.importorskip("torch")
    from hullscope.hierarchy import generate, make_rules, one_hot, p_max, sample_indices
    from hullscope.hierarchy.learning import hierarchical_net, train_to_loss

    R = make_rules(v=4, m=3, n_c=2, s=2, L=2, seed=0)
    X, y = generate(R, sample_indices(p_max(R), 32, seed=0))
    net = hierarchical_net(R, width=32)
    info = train_to_loss(net, one_hot(X, R.v), y, target_loss=1e-2, lr=0.1, optimizer="sgd", max_epochs=500)
    assert info["reached"] and info["train_loss"] < 1e-2
    with pytest.raises(ValueError, match="optimizer"):
        train_to_loss(net, one_hot(X, R.v), y, optimizer="rmsprop")
