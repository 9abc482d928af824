"""Feature extraction matches a hand-written forward pass; wavelet features are an orthogonal transform."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hullscope.features import extract, final_linear, last_hidden_layer, list_layers, wavelet_features  # noqa: E402
from hullscope.models import small_cnn, small_resnet  # noqa: E402


def test_extraction_matches_hand_written_forward():
    torch.manual_seed(0)
    net = small_cnn(width=4, hidden=6)
    x = torch.rand(7, 1, 8, 8)
    f = extract(net, x, ["conv1", "relu2", "hidden", "classifier"])
    with torch.no_grad():
        h1 = torch.nn.functional.conv2d(x, net.conv1.weight, net.conv1.bias, padding=1)
        h2 = torch.relu(torch.nn.functional.conv2d(torch.relu(h1), net.conv2.weight, net.conv2.bias, padding=1))
        h3 = torch.relu(torch.nn.functional.conv2d(torch.nn.functional.avg_pool2d(h2, 2), net.conv3.weight,
                                                   net.conv3.bias, padding=1))
        g = h3.mean(dim=(2, 3))
        hid = g @ net.hidden.weight.T + net.hidden.bias
        out = torch.relu(hid) @ net.classifier.weight.T + net.classifier.bias
    np.testing.assert_allclose(f["conv1"], h1.reshape(7, -1).double().numpy(), atol=1e-6)
    np.testing.assert_allclose(f["relu2"], h2.reshape(7, -1).double().numpy(), atol=1e-6)
    np.testing.assert_allclose(f["hidden"], hid.double().numpy(), atol=1e-6)
    np.testing.assert_allclose(f["classifier"], out.double().numpy(), atol=1e-6)
    assert f["hidden"].dtype == np.float64
    assert "conv1" in list_layers(net)


@pytest.mark.parametrize("make", [small_cnn, small_resnet])
def test_last_hidden_layer_and_final_linear_reproduce_the_logits(make, tmp_path):
    torch.manual_seed(1)
    net = make()
    x = np.random.default_rng(0).uniform(size=(9, 1, 8, 8))
    name = last_hidden_layer(net, x)
    lin, W, b = final_linear(net)
    F = extract(net, x, name, memmap_dir=str(tmp_path))[name]
    assert isinstance(F, np.memmap) and F.shape == (9, 64)
    logits = net.eval()(torch.as_tensor(x, dtype=torch.float32)).detach().double().numpy()
    np.testing.assert_allclose(F @ W.T + b, logits, atol=1e-5)
    with pytest.raises(ValueError, match="no layer named 'nope'.*available"):
        extract(net, x, ["nope"])


def test_wavelet_features_are_orthogonal_and_invertible():
    import pywt

    rng = np.random.default_rng(2)
    X = rng.uniform(size=(5, 16, 16))
    for wav in ("haar", "db2"):
        F = wavelet_features(X, wav, level=2)
        np.testing.assert_allclose(np.linalg.norm(F, axis=1), np.linalg.norm(X.reshape(5, -1), axis=1), rtol=1e-10)
        coeffs = pywt.wavedec2(X, wav, level=2, mode="periodization", axes=(1, 2))
        back = pywt.waverec2(coeffs, wav, mode="periodization", axes=(1, 2))
        np.testing.assert_allclose(back, X, atol=1e-12)
    assert wavelet_features(X, "haar", 1, subbands=["approx"]).shape == (5, 64)
    with pytest.raises(ValueError, match="wavelet"):
        wavelet_features(X, "nosuch")
    with pytest.raises(ValueError, match="subbands"):
        wavelet_features(X, subbands=["up"])
    with pytest.raises(ValueError, match="images"):
        wavelet_features(X[0])


@pytest.mark.parametrize("N,scales", [(8, 2), (28, 3), (33, 3)])
def test_shearlets_are_a_parseval_frame(N, scales):
    from hullscope.features.shearlets import shearlet_filters, shearlet_inverse, shearlet_transform

    F, labels = shearlet_filters(N, scales)
    assert len(labels) == F.shape[0]
    np.testing.assert_allclose((F ** 2).sum(axis=0), 1.0, atol=1e-12)  # squares partition unity
    X = np.random.default_rng(N).normal(size=(4, N, N))
    C = shearlet_transform(X, scales)
    np.testing.assert_allclose((C ** 2).sum(axis=(1, 2, 3)), (X ** 2).sum(axis=(1, 2)), rtol=1e-12)
    np.testing.assert_allclose(shearlet_inverse(C, scales), X, atol=1e-12)


def test_shearlets_are_directional():
    from hullscope.features.shearlets import shearlet_filters, shearlet_transform

    N = 32
    u = np.arange(N)
    wave = np.cos(2 * np.pi * 12 * u / N)[None, :].repeat(N, axis=0)  # varies along columns only
    C = shearlet_transform(wave[None], 3)[0]
    energy = (C ** 2).sum(axis=(1, 2))
    _, labels = shearlet_filters(N, 3)
    along = sum(e for e, (kind, _, k) in zip(energy, labels) if kind == "horizontal" and k == 0)
    assert along > 0.99 * energy.sum()  # all of it in the unsheared horizontal-cone shearlets
    with pytest.raises(ValueError, match="square"):
        shearlet_transform(np.zeros((2, 8, 9)))


def test_signed_shearlet_space_is_an_isometry_of_pixels():
    from hullscope import Hull
    from hullscope.features import shearlet_features

    rng = np.random.default_rng(5)
    X, Q = rng.uniform(size=(60, 8, 8)), rng.uniform(size=(5, 8, 8))
    a = Hull(X.reshape(60, -1)).distance(Q.reshape(5, -1))
    b = Hull(shearlet_features(X)).distance(shearlet_features(Q))
    np.testing.assert_allclose(b.distance, a.distance, rtol=1e-7)
    assert shearlet_features(X, directional_only=True, magnitude=True).min() >= 0
