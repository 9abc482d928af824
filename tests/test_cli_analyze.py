"""`hullscope analyze` on user data and a user model: report, resume from checkpoints, clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from hullscope.cli import main  # noqa: E402


@pytest.fixture()
def data(tmp_path):
    from hullscope.datasets import load_digits

    d = load_digits()
    path = tmp_path / "digits.npz"
    np.savez(path, X_train=d.X_train[:300], y_train=d.y_train[:300], X_test=d.X_test[:30], y_test=d.y_test[:30])
    torch.manual_seed(0)
    from hullscope.models import small_cnn

    wpath = tmp_path / "w.pt"
    torch.save(small_cnn().state_dict(), wpath)
    return path, wpath


def test_analyze_with_model_and_resume(data, tmp_path, capsys):
    path, wpath = data
    out = tmp_path / "rep"
    args = ["analyze", str(path), "--model", "hullscope.models:small_cnn", "--weights", str(wpath),
            "--wavelets", "--out", str(out)]
    assert main(args) == 0
    first = capsys.readouterr().out
    rep = json.loads((out / "report.json").read_text())
    assert set(rep["spaces"]) == {"pixels", "wavelet details (haar)", "layer relu4"}
    assert (out / "index.html").stat().st_size > 20_000
    assert "from checkpoint" not in first
    assert main(args) == 0
    second = capsys.readouterr().out
    assert second.count("(from checkpoint)") == 3
    assert json.loads((out / "report.json").read_text())["spaces"] == rep["spaces"]
    # a different normalisation is a different space: recomputed, and recorded
    assert main(args + ["--normalize", "standardize"]) == 0
    third = capsys.readouterr().out
    assert third.count("(from checkpoint)") == 2
    rep3 = json.loads((out / "report.json").read_text())
    assert "standardize" in rep3["provenance"]["input_normalisation"]
    assert isinstance(rep3["provenance"]["test_accuracy"], float)   # the model's accuracy is reported


def test_analyze_errors(data, tmp_path, capsys):
    path, wpath = data
    bad = tmp_path / "nolabels.npz"
    np.savez(bad, X_train=np.zeros((5, 8, 8)), X_test=np.zeros((2, 8, 8)))
    assert main(["analyze", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "labels are required" in capsys.readouterr().err
    mism = tmp_path / "mism.npz"
    np.savez(mism, X_train=np.zeros((5, 8, 8)), y_train=np.zeros(5), X_test=np.zeros((2, 9, 9)), y_test=np.zeros(2))
    assert main(["analyze", str(mism), "--out", str(tmp_path / "o")]) == 2
    assert "shape" in capsys.readouterr().err
    from hullscope.models import small_resnet

    other = tmp_path / "other.pt"
    torch.save(small_resnet().state_dict(), other)
    assert main(["analyze", str(path), "--model", "hullscope.models:small_cnn", "--weights", str(other),
                 "--out", str(tmp_path / "o")]) == 2
    assert "does not match the model" in capsys.readouterr().err
    assert main(["analyze", str(path), "--model", "hullscope.models:small_cnn", "--weights", str(wpath),
                 "--layers", "conv9", "--out", str(tmp_path / "o")]) == 2
    assert "no layer named 'conv9'" in capsys.readouterr().err
