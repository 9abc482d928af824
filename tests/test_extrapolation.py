"""Hull analyses of feature spaces: certificates, own-class weights, AUROC, tabular contrast, errors."""
from __future__ import annotations

import numpy as np
import pytest

from hullscope.extrapolation import analyze_space, auroc, ood_auroc, tabular_contrast
from oracles import lp_member


def test_auroc_against_pairwise_count():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, size=40).astype(float)  # many ties
    b = rng.integers(2, 8, size=30).astype(float)
    brute = np.mean([(y > x) + 0.5 * (y == x) for x in a for y in b])
    assert auroc(a, b) == pytest.approx(brute)
    assert auroc([0, 1], [2, 3]) == 1.0 and auroc([2, 3], [0, 1]) == 0.0
    with pytest.raises(ValueError, match="non-empty"):
        auroc([], [1.0])


def test_analyze_space_on_a_real_subset_of_digits():
    from hullscope.datasets import load_digits

    d = load_digits()
    Ftr = d.X_train[:400].reshape(400, -1)
    Fte = d.X_test[:40].reshape(40, -1)
    a = analyze_space(Ftr, d.y_train[:400], Fte, d.y_test[:40], "pixels")
    assert a.result.verify(), a.result.verify().failures
    for i in (0, 7, 19):  # verdicts against the LP, own-class weight by hand
        assert (a.result.status[i] == "outside") == (not lp_member(Ftr, Fte[i]))
        idx, w = a.result.support(i)
        assert a.own_class_weight[i] == pytest.approx(w[d.y_train[:400][idx] == d.y_test[i]].sum())
        cls = d.y_train[:400] == d.y_test[i]
        assert a.in_own_class_hull[i] == lp_member(Ftr[cls], Fte[i])
    s = a.summary
    assert s["fraction_outside"] == pytest.approx(np.mean(a.result.status == "outside"))
    assert 0 < s["median_hull_over_nn"] <= 1  # the hull is never farther than the nearest vertex


def test_ood_and_tabular_contrast_run_and_bad_input():
    rng = np.random.default_rng(1)
    Ftr = rng.normal(size=(300, 5))
    res = ood_auroc(Ftr, rng.normal(size=(50, 5)), rng.normal(size=(50, 5)) * 3)
    assert res["auroc_hull_distance"] > 0.8
    tab = tabular_contrast(["iris"])
    assert 0 <= tab["iris"]["fraction_outside"] <= 1
    with pytest.raises(ValueError, match="same space"):
        analyze_space(Ftr, np.zeros(300), rng.normal(size=(3, 4)), np.zeros(3))
    with pytest.raises(ValueError, match="labels"):
        analyze_space(Ftr, None, Ftr[:3], np.zeros(3))
    with pytest.raises(ValueError, match="shapes"):
        analyze_space(Ftr, np.zeros(299), Ftr[:3], np.zeros(3))
