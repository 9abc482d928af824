"""Diffeomorphisms and D_f / G_f / R_f: closed forms, invariances and bad input."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hullscope.stability import (apply_fields, jacobian_determinant, noise_like, sample_fields,  # noqa: E402
                                 stability, temperature_for_displacement, temperature_range,
                                 typical_displacement)


@pytest.mark.parametrize("c", [3.0, 10.0])
def test_field_vanishes_on_the_border(c):
    T = temperature_range(28, c)[1]
    f = sample_fields(50, 28, T, c, seed=0)
    assert np.abs(f).max() > 0.1
    for edge in (f[:, :, 0, :], f[:, :, -1, :], f[:, :, :, 0], f[:, :, :, -1]):
        assert np.abs(edge).max() < 1e-12


@pytest.mark.parametrize("c", [3.0, 10.0, 30.0])
def test_typical_displacement_matches_formula(c):
    n = 32
    T_min, T_max = temperature_range(n, c)
    for T in (T_min, T_max):
        f = sample_fields(3000, n, T, c, seed=1)
        emp = np.sqrt(np.mean(np.sum(f ** 2, axis=1)))
        assert emp == pytest.approx(typical_displacement(T, c, n, exact=True), rel=0.03)
    # the published continuum formula: half a pixel at T_min, within its approximation error
    assert typical_displacement(T_min, c, n) == pytest.approx(0.5)
    assert typical_displacement(T_min, c, n, exact=True) == pytest.approx(0.5, rel=0.2)
    assert temperature_for_displacement(typical_displacement(T_max, c, n), c, n) == pytest.approx(T_max)


def test_no_overhangs_well_below_T_max():
    for c in (3.0, 10.0, 30.0):
        T_max = temperature_range(28, c)[1]
        det = jacobian_determinant(400, 48, T_max / 10, c, seed=2)
        assert det.min() > 0
        # overhangs do appear as T passes T_max (it bounds the typical, not the largest, gradient)
        frac = [(jacobian_determinant(400, 48, T, c, seed=2).reshape(400, -1).min(1) <= 0).mean()
                for T in (T_max / 4, T_max, 4 * T_max)]
        assert frac[0] <= frac[1] <= frac[2] and frac[2] > 0.5


def test_jacobian_matches_finite_differences():
    n, c = 400, 5.0
    T = temperature_range(28, c)[1]
    f = sample_fields(1, n, T, c, seed=3)[0] / n  # unit-square displacement
    h = 1.0 / (n - 1)
    du = np.gradient(f, h, axis=2)
    dv = np.gradient(f, h, axis=1)
    det_fd = (1 - du[0]) * (1 - dv[1]) - du[1] * dv[0]
    det = jacobian_determinant(1, n, T, c, seed=3)[0]
    np.testing.assert_allclose(det[5:-5, 5:-5], det_fd[5:-5, 5:-5], atol=1e-3)


def test_zero_field_is_identity_and_shift_moves_pixels():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, 1, 10, 10))
    for interp in ("bilinear", "nearest", "gaussian"):
        y = apply_fields(x, np.zeros((3, 2, 10, 10)), interp).numpy()
        if interp == "gaussian":
            assert np.abs(y - x).max() < 0.6  # a blur, not the identity
        else:
            np.testing.assert_allclose(y, x, atol=1e-6)
    f = np.zeros((3, 2, 10, 10))
    f[:, 0] = 1.0  # move everything one column to the right
    y = apply_fields(x, f, "bilinear").numpy()
    np.testing.assert_allclose(y[..., 1:], x[..., :-1], atol=1e-6)


def test_noise_has_the_norm_of_the_diffeo_change():
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(20, 1, 16, 16)).astype(np.float32)
    T = temperature_range(16, 3.0)[1]
    tx = apply_fields(x, sample_fields(20, 16, T, 3.0, seed=4))
    nx = noise_like(x, tx, seed=5)
    d1 = (tx - torch.as_tensor(x)).reshape(20, -1).norm(dim=1)
    d2 = (nx - torch.as_tensor(x)).reshape(20, -1).norm(dim=1)
    np.testing.assert_allclose(d2.numpy(), d1.numpy(), rtol=1e-4)


class Constant(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(1, 3)

    def forward(self, x):
        return self.head(torch.ones(x.shape[0], 1))


class MeanPixel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return self.pool(x).flatten(1)


def blobs(B, n, seed):
    rng = np.random.default_rng(seed)
    g = np.arange(n)
    R, C = np.meshgrid(g, g, indexing="ij")
    out = np.zeros((B, 1, n, n))
    for b in range(B):
        r0, c0 = rng.uniform(n / 3, 2 * n / 3, size=2)
        out[b, 0] = rng.uniform(0.5, 2.0) * np.exp(-((R - r0) ** 2 + (C - c0) ** 2) / (2 * (n / 10) ** 2))
    return out


def test_constant_model_is_perfectly_stable():
    res = stability(Constant(), blobs(30, 16, 0), layers=["head", "output"], seeds=(0, 1))
    for s in ("mean", "median", "sample_median"):
        assert np.all(res.values[s]["D"] == 0) and np.all(res.values[s]["G"] == 0)


def shifts(x, seed):
    """Whole-pixel moves of every image (a bijection of the interior pixels): only moves pixels around."""
    rng = np.random.default_rng(seed)
    B, _, n, _ = x.shape
    f = np.zeros((B, 2, n, n)) + rng.integers(-2, 3, size=(B, 2, 1, 1))
    return apply_fields(x, f, "nearest")


def test_pixel_average_is_insensitive_to_pixel_moves():
    x = blobs(200, 32, 1)
    x[x < 1e-3] = 0.0  # compact support, away from the border: moves never cross it
    res = stability(MeanPixel(), x, layers=["input", "output"], seeds=(0, 1, 2), deform_fn=shifts)
    D_in, D_out = res.mean("D")
    assert D_in > 0.05
    assert D_out < 1e-5  # float32 rounding of the average (the model runs in float32)
    # a smooth diffeomorphism compresses and stretches: the average then moves, D_out > 0
    smooth = stability(MeanPixel(), x, layers=["output"], seeds=(0,))
    assert smooth.mean("D")[0] > 1e-3


def test_bad_input():
    net = MeanPixel()
    with pytest.raises(ValueError, match="c"):
        temperature_range(28, 1.0)
    with pytest.raises(ValueError, match="T"):
        sample_fields(2, 28, 0.0, 3.0)
    with pytest.raises(ValueError, match="at least 2"):
        stability(net, blobs(1, 8, 0))
    with pytest.raises(ValueError, match="all 3 images are identical"):
        stability(net, np.repeat(blobs(1, 8, 0), 3, axis=0))
    with pytest.raises(ValueError, match="shape"):
        stability(net, np.zeros((4, 1, 1, 8, 8)))
    with pytest.raises(ValueError, match="square"):
        stability(net, np.zeros((4, 1, 8, 9)))
    with pytest.raises(ValueError, match="no layer named 'conv9'"):
        stability(net, blobs(4, 8, 0), layers=["conv9"])
    with pytest.raises(ValueError, match="NaN"):
        stability(net, np.full((4, 1, 8, 8), np.nan))
    with pytest.raises(ValueError, match="batchnorm"):
        stability(net, blobs(4, 8, 0), batchnorm="frozen")


def _numpy_observables(f0, ft, fn):
    """D and G of flattened representations, by the three statistics, written out independently."""
    B = f0.shape[0]
    pair = np.array([np.sum((f0[i] - f0[j]) ** 2) for i in range(B) for j in range(i + 1, B)])
    out = {}
    for s in ("mean", "median", "sample_median"):
        vals = []
        for f in (ft, fn):
            d2 = (f - f0) ** 2
            if s == "mean":
                vals.append(d2.sum(1).mean() / pair.mean())
            elif s == "median":          # per-feature median over images, summed over features
                vals.append(np.median(d2, axis=0).sum() / np.median(pair))
            else:
                vals.append(np.median(d2.sum(1)) / np.median(pair))
        out[s] = vals
    return out


def test_observables_match_numpy_for_every_statistic():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 3, 3, padding=1)
    net = torch.nn.Sequential(conv, torch.nn.ReLU())
    x = blobs(25, 12, 3).astype(np.float32)
    T = temperature_range(12, 3.0)[1]
    res = stability(net, x, layers=["0", "output"], T=T, seeds=(7,))
    tx = apply_fields(x, sample_fields(25, 12, T, 3.0, seed=[7, 0]))
    nx = noise_like(x, tx, seed=[7, 1])
    with torch.no_grad():
        for j, f in enumerate((conv, net)):
            f0, ft, fn = (f(torch.as_tensor(v)).reshape(25, -1).double().numpy() for v in (x, tx, nx))
            ref = _numpy_observables(f0, ft, fn)
            for s, (D, G) in ref.items():
                assert np.isclose(res.values[s]["D"][0, j], D, rtol=1e-4), s
                assert np.isclose(res.values[s]["G"][0, j], G, rtol=1e-4), s
                assert np.isclose(res.values[s]["R"][0, j], D / G, rtol=1e-4), s
    rows = res.records()
    assert len(rows) == 3 * 3 * 2
    row = next(r for r in rows if r["layer"] == "output" and r["stat"] == "median" and r["obs"] == "G")
    assert row["mean"] == res.values["median"]["G"][0, 1] and row["std"] == 0.0 and row["n_seeds"] == 1
    # the per-feature median differs from the per-image median: the test can tell them apart
    assert not np.isclose(res.values["median"]["D"][0, 1], res.values["sample_median"]["D"][0, 1], rtol=1e-2)


def test_batchnorm_batch_mode_normalises_each_batch_and_leaves_the_model_alone():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(1, 4, 3, padding=1, bias=False)
    bn = torch.nn.BatchNorm2d(4)
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([5.0, -3.0, 0.5, 2.0]))
        bn.running_var.copy_(torch.tensor([0.1, 9.0, 4.0, 0.5]))
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5, 1.5]))
        bn.bias.copy_(torch.tensor([0.0, 1.0, -1.0, 0.3]))
    net = torch.nn.Sequential(conv, bn).eval()
    before = bn.running_mean.clone()
    x = blobs(30, 10, 4).astype(np.float32)
    res = stability(net, x, layers=["output"], seeds=(2,), batchnorm="batch", batch_size=7)
    run = stability(net, x, layers=["output"], seeds=(2,))
    assert torch.equal(bn.running_mean, before) and bn.track_running_stats
    T = res.T
    tx = apply_fields(x, sample_fields(30, 10, T, 3.0, seed=[2, 0]))
    nx = noise_like(x, tx, seed=[2, 1])

    def batch_normed(v):  # BatchNorm with the whole batch's mean and (biased) variance, in numpy
        with torch.no_grad():
            h = conv(torch.as_tensor(v)).double().numpy()
        mu = h.mean(axis=(0, 2, 3), keepdims=True)
        var = h.var(axis=(0, 2, 3), keepdims=True)
        w = bn.weight.detach().double().numpy()[None, :, None, None]
        b = bn.bias.detach().double().numpy()[None, :, None, None]
        return ((h - mu) / np.sqrt(var + bn.eps) * w + b).reshape(30, -1)

    ref = _numpy_observables(batch_normed(x), batch_normed(tx), batch_normed(nx))
    for s, (D, G) in ref.items():
        assert np.isclose(res.values[s]["D"][0, 0], D, rtol=1e-4), s
        assert np.isclose(res.values[s]["G"][0, 0], G, rtol=1e-4), s
    assert not np.isclose(run.values["mean"]["G"][0, 0], res.values["mean"]["G"][0, 0], rtol=1e-2)
    assert res.meta["batchnorm"] == "batch" and run.meta["batchnorm"] == "running"


@pytest.mark.parametrize("stride,dim", [(2, 1), (2, 2), (1, 1), (1, 2)])
def test_idealized_network_power_laws(stride, dim):
    from hullscope.stability.idealized import fit_exponents, measure, predicted_exponents

    res = measure(stride, dim, seed=0)
    fit = fit_exponents(res)
    pred = predicted_exponents(stride, dim)
    assert abs(fit["D"] - pred["D"]) <= 0.15, (fit, pred)
    assert abs(fit["G"] - pred["G"]) <= 0.15, (fit, pred)
    # and the trends the theory is about: D falls, G rises with depth
    assert res.D[-1] < res.D[0] and res.G[-1] > res.G[0]


def test_scale_detection_labels_and_local_moves():
    from hullscope.stability.scale_task import move_active_pixels, scale_detection

    X, y = scale_detection(200, seed=0)
    assert X.shape == (200, 1, 28, 28) and set(np.unique(y)) == {0, 1} and abs(y.mean() - 0.5) < 0.01
    for img, lab in zip(X, y):
        a, b = np.argwhere(img[0] == 1)
        r = np.linalg.norm(a - b)
        assert (r < 13) if lab == 0 else (r >= 15)
        assert img.sum() == 2
    moved = move_active_pixels(X, seed=1).numpy()
    assert np.all(moved.reshape(200, -1).sum(1) == 2)
    for a_img, b_img in zip(X, moved):
        A = np.argwhere(a_img[0] == 1)
        Bp = np.argwhere(b_img[0] == 1)
        # every new active pixel is within one step of an old one
        assert all(np.abs(A - p).sum(axis=1).min() <= 1 for p in Bp)
    X1, y1 = scale_detection(50, d=128, xi=32, dim=1, seed=2)
    assert X1.shape == (50, 1, 128)
    with pytest.raises(ValueError, match="xi"):
        scale_detection(10, d=28, xi=60)


def test_stability_cli_end_to_end(tmp_path, capsys):
    import json

    from hullscope.cli import main

    out = tmp_path / "stab"
    rc = main(["stability", "--model", "digits-cnn", "--train-epochs", "1", "--n-images", "24", "--seeds", "0",
               "--out", str(out)])
    assert rc == 0
    rep = json.loads((out / "stability.json").read_text())
    assert set(rep["results"]) == {"init", "trained"}
    R = rep["results"]["trained"]["values"]["mean"]["R"][0]
    assert len(R) == len(rep["results"]["trained"]["layers"]) and R[0] == pytest.approx(1.0)
    assert (out / "stability_trained.png").stat().st_size > 5000
    assert (out / "stability_states.png").stat().st_size > 5000
    printed = capsys.readouterr().out
    assert "R_f" in printed and "test accuracy (trained, 450 held-out images)" in printed
    # the reported accuracy is the trained net's on the held-out digits: retrain the same seeded net
    import torch

    from hullscope.datasets import split_digits_images
    from hullscope.models import accuracy, small_cnn, train_classifier

    Xtr, ytr, Xte, yte = split_digits_images()
    torch.manual_seed(0)
    net = train_classifier(small_cnn(), Xtr, ytr, epochs=1, seed=0)
    assert rep["test_accuracy"] == pytest.approx(accuracy(net, Xte, yte), abs=1e-12)
    assert main(["stability", "--model", "nosuch:factory", "--data", "digits", "--out", str(out)]) == 2


def test_stability_cli_mnist_resnet_uses_batch_statistics_at_init(tmp_path, monkeypatch):
    """The MNIST target on a tiny IDX folder: init measured with batch BatchNorm, trained with running."""
    import json

    from test_datasets import make_mnist

    from hullscope.cli import main

    make_mnist(tmp_path)
    monkeypatch.setenv("HULLSCOPE_MNIST", str(tmp_path))
    out = tmp_path / "stab"
    rc = main(["stability", "--model", "mnist-resnet", "--train-epochs", "1", "--train-samples", "12",
               "--n-images", "5", "--seeds", "0", "--layers", "gap,output", "--out", str(out)])
    assert rc == 0
    rep = json.loads((out / "stability.json").read_text())
    assert rep["data"] == "mnist" and rep["n_images"] == 5
    assert rep["results"]["init"]["meta"]["batchnorm"] == "batch"
    assert rep["results"]["trained"]["meta"]["batchnorm"] == "running"
    from hullscope.stability import StabilityResult, plot_states

    res = {k: StabilityResult(**{f: v[f] for f in ("layers", "T", "c", "seeds", "n_images")},
                              values={s: {o: np.asarray(a) for o, a in d.items()} for s, d in v["values"].items()})
           for k, v in rep["results"].items()}
    assert len(plot_states(res).axes) == 3
    with pytest.raises(ValueError, match="stat"):
        plot_states(res, stat="trimmed")
    with pytest.raises(ValueError, match="at least one"):
        plot_states({})
    short = StabilityResult(layers=["input"], T=1.0, c=3.0, seeds=[0], n_images=5,
                            values={"mean": {o: np.ones((1, 1)) for o in "DGR"}})
    with pytest.raises(ValueError, match=r"results\['short'\]: its layers differ"):
        plot_states({**res, "short": short})
    monkeypatch.setenv("HULLSCOPE_MNIST", str(tmp_path / "missing"))
    assert main(["stability", "--model", "mnist-cnn", "--out", str(out)]) == 2


def test_channel_shuffling_keeps_each_filter_slice_and_sweep():
    from hullscope.models import small_cnn
    from hullscope.stability import shuffle_channels, stability_sweep

    torch.manual_seed(0)
    net = small_cnn(width=8)
    sh = shuffle_channels(net, seed=1)
    w0, w1 = net.conv2.weight.detach(), sh.conv2.weight.detach()
    assert not torch.equal(w0, w1)
    for o in range(w0.shape[0]):  # same slices, permuted along the input-channel axis
        a = sorted(map(tuple, w0[o].reshape(w0.shape[1], -1).tolist()))
        b = sorted(map(tuple, w1[o].reshape(w1.shape[1], -1).tolist()))
        assert a == b
    assert torch.equal(net.conv1.weight, sh.conv1.weight)  # one input channel: nothing to permute
    x = blobs(10, 8, 3)
    out = stability_sweep(net, x, [1e-3, 1e-2], seeds=(0,), layers=["output"])
    assert set(out) == {1e-3, 1e-2}
    assert out[1e-2].mean("D")[0] > out[1e-3].mean("D")[0]


# ---- one-dimensional signals ------------------------------------------------------------------------
def bumps_1d(B, n, seed):
    rng = np.random.default_rng(seed)
    g = np.arange(n)
    c0 = rng.uniform(n / 3, 2 * n / 3, size=(B, 1))
    return (rng.uniform(0.5, 2.0, size=(B, 1)) * np.exp(-(g - c0) ** 2 / (2 * (n / 10) ** 2)))[:, None]


@pytest.mark.parametrize("c", [3.0, 10.0])
def test_1d_fields_vanish_at_the_ends_and_match_the_displacement_formula(c):
    from hullscope.stability import sample_fields_1d, temperature_range_1d, typical_displacement_1d

    n = 64
    lo, hi = temperature_range_1d(n, c)
    assert 0 < lo < hi
    T = np.sqrt(lo * hi)
    f = sample_fields_1d(4000, n, T, c, seed=0)
    assert np.abs(f[:, 0]).max() < 1e-9 and np.abs(f[:, -1]).max() < 1e-9
    rms = np.sqrt(np.mean(f ** 2))
    assert rms == pytest.approx(typical_displacement_1d(T, c, n), rel=0.03)
    assert typical_displacement_1d(lo, c, n) == pytest.approx(0.5)


def test_1d_noise_norm_equals_diffeo_norm_and_constant_model_is_stable():
    from hullscope.stability import deform_1d, temperature_range_1d

    x = bumps_1d(50, 64, 0)
    T = temperature_range_1d(64, 3.0)[1]
    y = deform_1d(x, T, 3.0, seed=1)
    z = noise_like(x, y, seed=2, dim=1)
    xt = torch.as_tensor(x, dtype=torch.float32)
    dy = (y - xt).reshape(50, -1).norm(dim=1)
    dz = (z - xt).reshape(50, -1).norm(dim=1)
    assert torch.allclose(dy, dz, rtol=1e-4) and dy.min() > 0

    res = stability(Constant(), x, layers=["head"], seeds=(0,), dim=1)
    assert np.all(res.values["mean"]["D"] == 0) and np.all(res.values["mean"]["G"] == 0)
    with pytest.raises(ValueError, match="dim"):
        stability(Constant(), x, dim=3)
    with pytest.raises(ValueError, match="1-D signals"):
        stability(Constant(), np.zeros((3, 1, 4, 4)), dim=1)


def test_1d_average_is_insensitive_to_moves_and_a_conv_net_runs():
    from hullscope.stability import apply_fields_1d

    x = bumps_1d(60, 64, 3)
    x[x < 1e-3] = 0.0

    class Mean1d(torch.nn.Module):
        def forward(self, x):
            return x.mean(dim=(1, 2), keepdim=False)[:, None]

    def shift(s, seed):
        rng = np.random.default_rng(seed)
        return apply_fields_1d(s, np.zeros((s.shape[0], s.shape[-1])) + rng.integers(-2, 3, (s.shape[0], 1)), "nearest")

    res = stability(Mean1d(), x, layers=["input", "output"], seeds=(0, 1), deform_fn=shift, dim=1)
    D_in, D_out = res.mean("D")
    assert D_in > 0.01 and D_out < 1e-5  # the input moves, its average does not
    net = torch.nn.Sequential(torch.nn.Conv1d(1, 4, 5, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool1d(1))
    r = stability(net, x, seeds=(0,), dim=1)
    assert np.all(np.isfinite(r.mean("R")[1:]))

