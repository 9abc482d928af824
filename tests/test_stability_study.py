"""The stability studies: noise augmentation, rank correlation and its bootstrap interval, the
architecture zoo, checkpoint/resume, the command, and bad input (also for the stability API)."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
scipy_stats = pytest.importorskip("scipy.stats")

from hullscope.stability import deform, sample_fields, shuffle_channels, stability, temperature_range  # noqa: E402
from hullscope.stability import studies  # noqa: E402
from hullscope.stability.architectures import ARCHITECTURES, build, has_conv  # noqa: E402
from hullscope.stability.stats import bootstrap_spearman, rankdata, spearman, strict_json  # noqa: E402


# ---- noise augmentation -------------------------------------------------------------------------

def test_noise_scale_is_the_rms_pixel_and_sets_the_relative_norm():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(3000, 1, 12, 12)).astype(np.float32) ** 3
    s = studies.noise_scale(X)
    assert s == pytest.approx(np.sqrt(np.mean(X.astype(np.float64) ** 2)))
    for sigma in (0.1, 0.3, 1.0):
        noisy = studies.add_input_noise(X, sigma, s, generator=5).numpy().astype(np.float64)
        eta = noisy - X
        ratio = np.sqrt(np.mean(np.sum(eta.reshape(3000, -1) ** 2, 1)) / np.mean(np.sum(X.reshape(3000, -1) ** 2, 1)))
        assert ratio == pytest.approx(sigma, rel=0.01)
        assert abs(eta.mean()) < 0.01 * sigma * s * 10  # centred
    # seeded: same seed, same noise; another seed, other noise; sigma = 0 is the identity
    a = studies.add_input_noise(X[:10], 0.3, s, generator=1)
    b = studies.add_input_noise(X[:10], 0.3, s, generator=1)
    c = studies.add_input_noise(X[:10], 0.3, s, generator=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(studies.add_input_noise(X[:4], 1.0, s, g1), studies.add_input_noise(X[:4], 1.0, s, g2))
    np.testing.assert_array_equal(studies.add_input_noise(X[:5], 0.0, s, 1).numpy(), X[:5])


class Recorder(torch.nn.Module):
    """A linear classifier that keeps every input it is trained on."""

    def __init__(self, d):
        super().__init__()
        self.lin = torch.nn.Linear(d, 2)
        self.seen = []

    def forward(self, x):
        if self.training:
            self.seen.append(x.detach().clone())
        return self.lin(x.flatten(1))


def test_training_sees_noise_of_the_requested_norm_and_is_seeded():
    rng = np.random.default_rng(1)
    x0 = rng.uniform(0, 1, size=(1, 10, 10)).astype(np.float32)
    X = np.repeat(x0[None], 200, axis=0)  # one image repeated: what the net sees minus x0 is the noise
    y = np.arange(200) % 2
    runs = []
    for seed in (0, 0, 1):
        net = Recorder(100)
        log = studies.train_model(net, X, y, epochs=2, seed=seed, sigma=0.3, batch_size=50)
        seen = torch.cat(net.seen).double().numpy()
        runs.append(seen)
        eta = seen - x0[None].astype(np.float64)
        ratio = np.sqrt(np.mean(np.sum(eta.reshape(len(eta), -1) ** 2, 1))) / np.linalg.norm(x0)
        assert ratio == pytest.approx(0.3, rel=0.03)
        assert log["epochs"] == 2 and log["noise_pixel_std"] == pytest.approx(0.3 * np.sqrt(np.mean(x0 ** 2.0)))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    # fresh noise for every batch and epoch: no two batches share their noise
    assert not np.allclose(runs[0][:50], runs[0][200:250])


def test_training_stops_at_the_target_accuracy():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 1, 4, 4)).astype(np.float32)
    y = (X.reshape(100, -1)[:, 0] > 0).astype(np.int64)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2))
    log = studies.train_model(net, X, y, epochs=200, lr=0.05, target_train_accuracy=0.9, seed=0)
    assert log["converged"] is True and log["epochs"] < 200 and log["train_accuracy"][-1] >= 0.9
    assert all(a < 0.9 for a in log["train_accuracy"][:-1])


# ---- correlation --------------------------------------------------------------------------------

def test_spearman_matches_scipy_and_the_closed_form():
    rng = np.random.default_rng(3)
    for n in (3, 5, 12, 40):
        x, y = rng.normal(size=n), rng.normal(size=n)
        d = rankdata(x) - rankdata(y)
        closed = 1 - 6 * np.sum(d ** 2) / (n * (n ** 2 - 1))  # no ties
        assert spearman(x, y) == pytest.approx(closed, abs=1e-12)
        assert spearman(x, y) == pytest.approx(scipy_stats.spearmanr(x, y).statistic, abs=1e-12)
    xt = np.array([1, 2, 2, 3, 3, 3, 4, 7.0])
    yt = np.array([2, 1, 4, 4, 3, 9, 9, 8.0])
    np.testing.assert_allclose(rankdata(xt), scipy_stats.rankdata(xt))
    assert spearman(xt, yt) == pytest.approx(scipy_stats.spearmanr(xt, yt).statistic, abs=1e-12)
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)


def test_bootstrap_interval_matches_brute_force():
    rng = np.random.default_rng(4)
    x = rng.normal(size=14)
    y = x + rng.normal(scale=0.8, size=14)
    y[3] = y[5]  # a tie
    res = bootstrap_spearman(x, y, n_boot=600, level=0.9, seed=11)
    # brute force: the documented resampling (numpy's default_rng(seed).integers(0, n, (n_boot, n))),
    # scipy's rank correlation for every resample, percentiles of the defined ones
    idx = np.random.default_rng(11).integers(0, 14, size=(600, 14))
    rhos = []
    for i in idx:
        if np.all(x[i] == x[i][0]) or np.all(y[i] == y[i][0]):
            continue
        rhos.append(scipy_stats.spearmanr(x[i], y[i]).statistic)
    lo, hi = np.quantile(rhos, [0.05, 0.95])
    assert res.rho == pytest.approx(scipy_stats.spearmanr(x, y).statistic, abs=1e-12)
    assert res.low == pytest.approx(lo, abs=1e-12) and res.high == pytest.approx(hi, abs=1e-12)
    assert res.n_dropped == 600 - len(rhos) and res.low < res.rho < res.high
    # perfectly monotone data: every defined resample has rho = 1
    r1 = bootstrap_spearman(np.arange(10.0), np.exp(np.arange(10.0)), n_boot=200)
    assert r1.low == pytest.approx(1.0) and r1.high == pytest.approx(1.0)


def test_correlation_bad_input():
    with pytest.raises(ValueError, match="at least 3 models"):
        spearman([0.5], [0.1])
    with pytest.raises(ValueError, match="at least 3 models"):
        bootstrap_spearman([0.5, 0.2], [0.1, 0.3])
    with pytest.raises(ValueError, match="paired"):
        spearman([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="y: all 4 values are equal"):
        spearman([1, 2, 3, 4], [1, 1, 1, 1])
    with pytest.raises(ValueError, match="x: contains NaN"):
        spearman([1, np.nan, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_spearman([1, 2, 3], [3, 1, 2], n_boot=5)
    with pytest.raises(ValueError, match="level"):
        bootstrap_spearman([1, 2, 3], [3, 1, 2], level=1.5)


def test_strict_json_turns_nan_and_inf_into_null():
    obj = {"a": np.float32(np.nan), "b": [1.0, np.inf, -np.inf], "c": np.arange(3), "d": np.bool_(True),
           "e": {"f": np.float64(2.5)}}
    out = strict_json(obj)
    assert out == {"a": None, "b": [1.0, None, None], "c": [0, 1, 2], "d": True, "e": {"f": 2.5}}
    json.dumps(out, allow_nan=False)


# ---- the zoo ------------------------------------------------------------------------------------

@pytest.mark.parametrize("side", [8, 28])
def test_every_architecture_builds_runs_and_names_its_layers(side):
    assert len(ARCHITECTURES) >= 8
    x = torch.rand(3, 1, side, side)
    for name, arch in ARCHITECTURES.items():
        torch.manual_seed(0)
        net = build(name, side=side)
        assert net(x).shape == (3, 10), name
        mods = dict(net.named_modules())
        for layer in arch.depth_layers:
            assert layer in mods, (name, layer)
        assert arch.last_hidden == arch.depth_layers[-1]
        bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules())
        assert bn == arch.batchnorm, name
        assert has_conv(net) == (name != "fc")
        # the last hidden layer feeds the linear classifier
        feats = {}
        h = mods[arch.last_hidden].register_forward_hook(lambda m, i, o: feats.setdefault("h", o))
        out = net(x)
        h.remove()
        head = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
        torch.testing.assert_close(head(feats["h"].flatten(1)), out)
    # same seed, same weights
    torch.manual_seed(5)
    a = build("lenet")
    torch.manual_seed(5)
    b = build("lenet")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


# ---- studies: resume, outputs, bad input ----------------------------------------------------------

def tiny_data(n_train=120, n_test=40, side=8, seed=0):
    """Two classes of 8x8 images: a bright blob left or right of the centre, plus noise."""
    rng = np.random.default_rng(seed)
    g = np.arange(side)
    R, C = np.meshgrid(g, g, indexing="ij")

    def make(n):
        y = np.arange(n) % 2
        X = np.zeros((n, 1, side, side), dtype=np.float32)
        for i in range(n):
            c0 = (2 if y[i] == 0 else side - 3) + rng.uniform(-0.7, 0.7)
            r0 = side / 2 + rng.uniform(-1.5, 1.5)
            X[i, 0] = np.exp(-((R - r0) ** 2 + (C - c0) ** 2) / 2.0) + 0.05 * rng.uniform(size=(side, side))
        return X, y.astype(np.int64)

    Xtr, ytr = make(n_train)
    Xte, yte = make(n_test)
    return studies.StudyData(Xtr, ytr, Xte, yte, "tiny")


ARCH_KW = dict(architectures=["fc", "lenet", "cnn_strided_bn"], train_sizes=[60], max_images=120, n_probe=12,
               seeds=(0, 1), n_boot=200)


def test_architecture_study_resumes_without_training(tmp_path, monkeypatch):
    data = tiny_data()
    st = studies.architecture_study(data, out=tmp_path, **ARCH_KW)
    assert st.counts["trained"] == 3 and st.counts["resumed_records"] == 0
    assert len(st.table) == 3 and st.correlations["output_all"]["n"] == 3
    row = {r["architecture"]: r for r in st.table}
    # the spatial x channel split multiplies back to the change with training; fc has no conv: no split
    for a in ("lenet", "cnn_strided_bn"):
        assert row[a]["spatial_output"] * row[a]["channel_output"] == pytest.approx(
            row[a]["R_output_trained"] / row[a]["R_output_init"])
        assert row[a]["spatial_output"] == pytest.approx(row[a]["R_output_shuffled"] / row[a]["R_output_init"])
    assert row["fc"]["R_output_shuffled"] is None and row["fc"]["spatial_output"] is None

    def boom(*a, **k):
        raise AssertionError("a rerun must not train")

    monkeypatch.setattr(studies, "train_model", boom)
    again = studies.architecture_study(data, out=tmp_path, **ARCH_KW)
    assert again.counts == {"trained": 0, "measured": 0, "resumed_records": 3, "resumed_weights": 0}
    assert [r["test_error"] for r in again.table] == [r["test_error"] for r in st.table]
    assert again.correlations == st.correlations
    # interrupted after training, before the record: measured again from the saved weights, not retrained
    ck = tmp_path / "checkpoints"
    rec_files = sorted(ck.glob("arch-lenet-*.json"))
    assert len(rec_files) == 1 and len(list(ck.glob("*.pt"))) == 3
    rec_files[0].unlink()
    third = studies.architecture_study(data, out=tmp_path, **ARCH_KW)
    assert third.counts == {"trained": 0, "measured": 1, "resumed_records": 2, "resumed_weights": 1}
    assert {r["architecture"]: r["test_error"] for r in third.table} == {r["architecture"]: r["test_error"]
                                                                          for r in st.table}
    # another configuration is another fingerprint: it trains
    monkeypatch.undo()
    other = studies.architecture_study(data, out=tmp_path, **dict(ARCH_KW, architectures=["fc", "lenet", "cnn_strided"]))
    assert other.counts["trained"] == 1 and other.counts["resumed_records"] == 2
    # outputs: strict JSON with provenance, figures, page
    files = studies.write_architecture_outputs(other, tmp_path)
    doc = json.loads((tmp_path / "architecture_study.json").read_text(),
                     parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert doc["provenance"]["hullscope_version"] and doc["provenance"]["data"]["train_sizes"] == [60]
    assert all(f.is_file() and f.stat().st_size > 0 for f in files)
    assert "architecture_study.html" in [f.name for f in files]
    assert "falls with training" in studies.architecture_report(other)


def test_noise_study_resumes_and_reports(tmp_path, monkeypatch):
    data = tiny_data()
    kw = dict(architectures=["lenet"], sigmas=[0.0, 0.5], train_seeds=[0, 1], n_train=60, epochs=1, n_probe=12,
              seeds=(0,), out=tmp_path)
    st = studies.noise_study(data, **kw)
    assert st.counts["trained"] == 4 and len(st.table) == 2
    # the init measurement does not depend on sigma (same seed, same initial net)
    i0 = [r for r in st.records if r["train_seed"] == 0]
    assert i0[0]["results"]["init"] == i0[1]["results"]["init"]
    monkeypatch.setattr(studies, "train_model", lambda *a, **k: pytest.fail("a rerun must not train"))
    again = studies.noise_study(data, **kw)
    assert again.counts["trained"] == 0 and again.counts["resumed_records"] == 4
    assert again.table == st.table
    states = again.states("lenet")
    assert list(states) == ["init", "trained, sigma=0", "trained, sigma=0.5"]
    assert states["init"].values["mean"]["R"].shape == (2, len(states["init"].layers))  # 2 training seeds
    files = studies.write_noise_outputs(again, tmp_path)
    assert (tmp_path / "noise_lenet.png").is_file() and (tmp_path / "noise_study.html").is_file()
    json.loads(files[0].read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert "sigma" in studies.noise_report(again)


def test_study_bad_input(tmp_path):
    data = tiny_data(n_train=30, n_test=12)
    with pytest.raises(ValueError, match="sigmas: expected a finite noise level >= 0"):
        studies.noise_study(data, sigmas=[0.0, -0.1], n_train=20, out=tmp_path)
    with pytest.raises(ValueError, match="sigma"):
        studies.add_input_noise(data.X_train, -1.0, 1.0)
    with pytest.raises(ValueError, match="sigma"):
        studies.train_model(build("fc", side=8), data.X_train, data.y_train, epochs=1, sigma=float("nan"))
    with pytest.raises(ValueError, match="architectures: unknown architecture 'vgg99'"):
        studies.architecture_study(data, architectures=["fc", "vgg99", "lenet"], out=tmp_path)
    with pytest.raises(ValueError, match="architecture: unknown architecture"):
        build("resnet1000")
    with pytest.raises(ValueError, match="at least 3"):
        studies.architecture_study(data, architectures=["fc"], train_sizes=[20], out=tmp_path)
    with pytest.raises(ValueError, match="epoch_overrides: 'lenet_bn' is not among"):
        studies.architecture_study(data, architectures=["fc", "lenet", "cnn_strided"], train_sizes=[20],
                                   epoch_overrides={"lenet_bn": (1,)}, n_probe=4, out=tmp_path)
    with pytest.raises(ValueError, match="epoch_overrides\\['lenet'\\]: expected one epoch budget per"):
        studies.architecture_study(data, architectures=["fc", "lenet", "cnn_strided"], train_sizes=[20],
                                   epoch_overrides={"lenet": (1, 2)}, n_probe=4, out=tmp_path)
    with pytest.raises(ValueError, match="train_sizes"):
        studies.architecture_study(data, train_sizes=[10 ** 6], out=tmp_path)
    with pytest.raises(ValueError, match="n_probe"):
        studies.noise_study(data, n_train=20, n_probe=10 ** 5, out=tmp_path)
    with pytest.raises(ValueError, match="X_train"):
        studies.StudyData(np.zeros((3, 8, 8)), np.zeros(3, int), np.zeros((3, 1, 8, 8)), np.zeros(3, int), "x")


def _stability_cli(argv):
    """Run ``hullscope stability ARGV`` through its own parser (independent of the other sub-commands)."""
    import argparse

    from hullscope.cli import stability as stability_cli

    parser = argparse.ArgumentParser(prog="hullscope")
    stability_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["stability", *argv])
    return args.func(args)


def test_study_command(tmp_path, capsys):
    rc = _stability_cli(["--study", "noise", "--data", "digits", "--architectures", "lenet", "--noise-levels",
                         "0,0.5", "--train-seeds", "0", "--train-samples", "80", "--train-epochs", "1",
                         "--n-images", "12", "--n-test", "30", "--seeds", "0", "--threads", "1", "--out", str(tmp_path)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "lenet" in text and "holds at sigma" in text and "noise_study.json" in text
    doc = json.loads((tmp_path / "noise_study.json").read_text())
    assert doc["config"]["sigmas"] == [0.0, 0.5] and doc["counts"]["trained"] == 2
    prov = doc["provenance"]
    assert prov["seeds"] == {"train": [0], "measure": [0]} and prov["data"]["n_train"] == 80
    assert prov["hullscope_version"] and prov["date_utc"].endswith("+00:00") and prov["command"].startswith("hullscope")
    with pytest.raises(ValueError, match="--noise-levels: expected comma-separated numbers"):
        _stability_cli(["--study", "noise", "--data", "digits", "--noise-levels", "a,b", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="sigmas: expected a finite noise level >= 0"):
        _stability_cli(["--study", "noise", "--data", "digits", "--noise-levels", "0,-1", "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="unknown architecture 'nope'"):
        _stability_cli(["--study", "architectures", "--data", "digits", "--architectures", "fc,nope",
                        "--out", str(tmp_path)])
    with pytest.raises(ValueError, match="max_epochs: expected one epoch budget per training-set size"):
        _stability_cli(["--study", "architectures", "--data", "digits", "--train-sizes", "100,200",
                        "--max-epochs", "3", "--out", str(tmp_path)])


# ---- bad input to the stability API (issue 13) ----------------------------------------------------

def test_stability_api_bad_input():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(6, 1, 8, 8)).astype(np.float32)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(128, 3))
    for call in (lambda: deform(x, 0.01, c=1e9), lambda: sample_fields(2, 8, 0.01, 1e9),
                 lambda: temperature_range(28, 1e9), lambda: stability(net, x, c=1e9, seeds=(0,))):
        with pytest.raises(ValueError, match="c: the cutoff must be at most 1000"):
            call()
    with pytest.raises(TypeError, match="c: the cutoff must be a real number"):
        sample_fields(2, 8, 0.01, "3")
    with pytest.raises(ValueError, match="B, c: .* GiB"):
        sample_fields(10 ** 6, 8, 1e-3, 200.0)
    with pytest.raises(ValueError, match="batch_size: expected a positive int"):
        stability(net, x, seeds=(0,), batch_size=0)
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module, got NoneType"):
        stability(None, x, seeds=(0,))
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        shuffle_channels(None)
    with pytest.raises(ValueError, match="seeds: expected non-negative ints, got -1"):
        stability(net, x, seeds=(-1,))
    with pytest.raises(ValueError, match="seeds: expected at least one seed"):
        stability(net, x, seeds=())
    with pytest.raises(TypeError, match="images: expected an array or tensor"):
        stability(net, None, seeds=(0,))
    with pytest.raises(TypeError, match="images: expected real-valued images, got dtype <U1"):
        stability(net, np.full((4, 1, 8, 8), "a"), seeds=(0,))
    # big-endian arrays (as read from IDX files) are converted: the same numbers as native ones
    ref = stability(net, x, seeds=(0,), layers=["input", "1", "output"])
    big = stability(net, x.astype(">f4"), seeds=(0,), layers=["input", "1", "output"])
    np.testing.assert_array_equal(big.values["mean"]["R"], ref.values["mean"]["R"])
    np.testing.assert_array_equal(deform(x.astype(">f8"), 0.01, seed=1).numpy(), deform(x, 0.01, seed=1).numpy())
    # bfloat16 tensors are converted to float32 (exactly: every bfloat16 is a float32)
    xb = torch.as_tensor(x).to(torch.bfloat16)
    r16 = stability(net, xb, seeds=(0,), layers=["input", "1", "output"])
    r32 = stability(net, xb.to(torch.float32), seeds=(0,), layers=["input", "1", "output"])
    np.testing.assert_array_equal(r16.values["mean"]["R"], r32.values["mean"]["R"])
