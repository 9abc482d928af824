"""One table of bad inputs over the public entry points and every CLI sub-command.

Each row: a call, the exception type it must raise, and a fragment of the message that names the
offending argument. A row fails if the call succeeds, raises another type, or hides the name.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from hullscope import Hull, LinearRegions, _core
from hullscope.extrapolation import auroc
from hullscope.hierarchy.rhm import make_rules, one_hot
from hullscope.regions import box_of
from hullscope.regions.volume import volume_share

rng = np.random.default_rng(0)
X = rng.normal(size=(30, 3))
H = Hull(X)
RES = H.distance(X[:3] + 5)
REG = LinearRegions(rng.normal(size=(3, 2)), np.zeros(3), domain=(np.zeros(2), np.ones(2)))
REG_FREE = LinearRegions(rng.normal(size=(3, 2)), np.zeros(3))


def _tiny_cnn():
    import torch

    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))


def _torch_bad_model():
    from hullscope.features import extract

    return extract(None, np.zeros((2, 1, 2, 2)), "all")


def _nan_images():
    from hullscope.features import extract

    x = np.zeros((2, 1, 2, 2), dtype=np.float32)
    x[0, 0, 0, 0] = np.nan
    return extract(_tiny_cnn(), x, "all")


def _from_model_one_image():
    return LinearRegions.from_model(_tiny_cnn(), np.zeros((1, 1, 2, 2), dtype=np.float32))


def _extract_batch_zero():
    from hullscope.features import extract

    return extract(_tiny_cnn(), np.zeros((2, 1, 2, 2), dtype=np.float32), "all", batch_size=0)


def _bf16_queries():
    import torch

    return H.distance(torch.tensor(X[:2] + 5, dtype=torch.bfloat16))


def _concat_other_hulls():
    from hullscope import DistanceResult

    other = Hull(X.copy()).distance(X[:2] + 5)
    return DistanceResult.concatenate([RES, other])


ROWS = [
    # (id, call, exception, fragment)
    ("X nan", lambda: Hull(np.array([[np.nan, 1.0]])), ValueError, "X"),
    ("X empty", lambda: Hull(np.zeros((0, 3))), ValueError, "X"),
    ("X overflow", lambda: Hull(np.ones((2, 2)) * 1e200), ValueError, "X"),
    ("X masked", lambda: Hull(np.ma.array(X, mask=np.zeros_like(X, bool))), TypeError, "X"),
    ("X strings", lambda: Hull(np.array([["a", "b"]])), TypeError, "X"),
    ("Q wrong dim", lambda: H.distance(np.ones((2, 4))), ValueError, "Q"),
    ("Q ragged", lambda: H.distance([[1, 2, 3], [1, 2]]), TypeError, "Q"),
    ("Q inf", lambda: H.contains(np.array([[np.inf, 0, 0]])), ValueError, "Q"),
    ("Q overflow", lambda: H.distance(np.ones((1, 3)) * 1e160), ValueError, "Q"),
    ("rtol str", lambda: H.distance(X[:1], rtol="a"), TypeError, "rtol"),
    ("rtol big", lambda: H.distance(X[:1], rtol=0.5), ValueError, "rtol"),
    ("block str", lambda: H.distance(X[:1], block="a"), TypeError, "block"),
    ("chunk float", lambda: H.distance(X[:1], chunk_size=1.5), TypeError, "chunk_size"),
    ("threads huge", lambda: H.distance(X[:1], threads=2 ** 40), ValueError, "threads"),
    ("threads -2", lambda: H.distance(X[:1], threads=-2), ValueError, "threads"),
    ("max_passes huge", lambda: H.distance(X[:1], max_passes=10 ** 12), ValueError, "max_passes"),
    ("pool zero", lambda: H.distance(X[:1], pool=0), ValueError, "pool"),
    ("subset empty", lambda: H.distance(X[:1], subset=[]), (ValueError, TypeError), "subset"),
    ("bf16", _bf16_queries, None, None),   # accepted: widened exactly to float32
    ("support -1", lambda: RES.support(-1), ValueError, "i"),
    ("support float", lambda: RES.support(1.5), TypeError, "i"),
    ("verify max_failures", lambda: RES.verify(max_failures=-1), ValueError, "max_failures"),
    ("concatenate other hull", _concat_other_hulls, ValueError, "parts"),
    ("loo indices float", lambda: H.leave_one_out(indices=np.array([0.5])), TypeError, "indices"),
    ("W nan", lambda: LinearRegions(np.array([[np.nan, 1], [0, 1]]), np.zeros(2)), ValueError, "W"),
    ("b shape", lambda: LinearRegions(np.eye(2), np.zeros(3)), ValueError, "b"),
    ("one class", lambda: LinearRegions(np.ones((1, 2)), np.zeros(1)), ValueError, "W"),
    ("domain list", lambda: LinearRegions(np.eye(2), np.zeros(2), domain=[np.zeros(2), np.ones(2)]), TypeError,
     "domain"),
    ("domain inf inf", lambda: LinearRegions(np.eye(2), np.zeros(2), domain=(np.inf, np.inf)), ValueError, "domain"),
    ("domain -inf", lambda: LinearRegions(np.eye(2), np.zeros(2), domain=(-np.inf, -np.inf)), ValueError, "domain"),
    ("domain point", lambda: LinearRegions(np.eye(2), np.zeros(2), domain=(0, 0)), ValueError, "domain"),
    ("domain lo>hi", lambda: LinearRegions(np.eye(2), np.zeros(2), domain=(1, 0)), ValueError, "domain"),
    ("class 1.5", lambda: REG.chebyshev_ball(1.5), TypeError, "c"),
    ("class True", lambda: REG.chebyshev_ball(True), TypeError, "c"),
    ("class range", lambda: REG.chebyshev_ball(7), ValueError, "c"),
    ("j str", lambda: REG.distance_to_class(np.array([0.5, 0.5]), "a"), TypeError, "j"),
    ("j list", lambda: REG.distance_to_class(np.array([0.5, 0.5]), [0, 1]), ValueError, "j"),
    ("F wrong dim", lambda: REG.certified_radius(np.ones((2, 3))), ValueError, "F"),
    ("box_of margin -1", lambda: box_of(X, margin=-1), ValueError, "margin"),
    ("box_of margin nan", lambda: box_of(X, margin=np.nan), ValueError, "margin"),
    ("volume samples", lambda: volume_share(REG, samples=10 ** 12), ValueError, "samples"),
    ("lp nan", lambda: _core.lp_solve(np.array([[np.nan, 1.0], [0, 1]]), np.ones(2), np.ones(2), -np.ones(2),
                                      np.ones(2), None), ValueError, "A"),
    ("auroc nan", lambda: auroc([0.1, np.nan], [0.3]), ValueError, "scores_in"),
    ("auroc empty", lambda: auroc([], [0.3]), ValueError, "scores_in"),
    ("one_hot negative", lambda: one_hot(np.array([[-3, 1]]), 4), ValueError, "X"),
    ("one_hot v=0", lambda: one_hot(np.array([[0, 1]]), 0), ValueError, "v"),
    ("rules L=40", lambda: make_rules(4, 2, 2, 2, 40), ValueError, "L"),
    ("model None", _torch_bad_model, TypeError, "model"),
    ("extract nan", _nan_images, ValueError, "X"),
    ("extract batch_size 0", _extract_batch_zero, ValueError, "batch_size"),
    ("from_model one image", _from_model_one_image, ValueError, "X"),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_names_the_argument(row):
    _, call, exc, fragment = row
    if exc is None:
        call()
        return
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value).split(":")[0] or str(info.value).startswith(fragment), str(info.value)


def test_wavelet_features_refuse_nan():
    pytest.importorskip("pywt")
    from hullscope.features import wavelet_features

    imgs = np.zeros((2, 4, 4))
    imgs[1, 2, 2] = np.inf
    with pytest.raises(ValueError, match="^images"):
        wavelet_features(imgs)


CLI_ROWS = [
    (["hierarchy", "learn", "--P", "0"], "--P"),
    (["hierarchy", "learn", "--P", "abc"], "--P"),
    (["hierarchy", "sample", "--P", "-5"], "--P"),
    (["hierarchy", "sample", "--L", "0"], "--L"),
    (["demo", "--epochs", "-1"], "--epochs"),
    (["demo", "--threads", "0"], "--threads"),
    (["analyze", "/nonexistent/data.npz"], "not found"),
    (["analyze", "{bad}"], "data"),
    (["analyze", "{empty}"], "data"),
    (["analyze", "{strings}"], "data"),
    (["analyze", "{empty}", "--n-test", "0"], "--n-test"),
    (["regions", "--threads", "-3"], "--threads"),
    (["stability", "--n-images", "1"], "n-images"),
    (["boundaries", "--t-max", "0.5"], "t"),
]


@pytest.mark.parametrize("argv,fragment", CLI_ROWS, ids=[" ".join(r[0]) for r in CLI_ROWS])
def test_cli_bad_input_exits_2_with_a_named_error(argv, fragment, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip archive")
    np.savez(tmp_path / "empty.npz")
    np.savez(tmp_path / "strings.npz", X_train=np.array([["a"], ["b"]]), y_train=np.array([0, 1]),
             X_test=np.array([["a"]]), y_test=np.array([0]))
    argv = [a.format(bad=bad, empty=tmp_path / "empty.npz", strings=tmp_path / "strings.npz") for a in argv]
    p = subprocess.run([sys.executable, "-m", "hullscope.cli", *argv, "--out", str(tmp_path / "out")]
                       if argv[0] not in ("hierarchy",) else [sys.executable, "-m", "hullscope.cli", *argv],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, (p.returncode, p.stdout[-500:], p.stderr[-500:])
    assert "Traceback" not in p.stderr, p.stderr
    assert fragment in p.stderr, p.stderr
