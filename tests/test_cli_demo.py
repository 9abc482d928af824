"""`hullscope demo` end to end: report.json, non-trivial PNG figures and a self-contained index.html."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from hullscope.cli import main  # noqa: E402


def test_demo_writes_a_complete_report(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["demo", "--out", str(out), "--epochs", "3", "--no-progress"]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert set(rep["spaces"]) >= {"pixels", "wavelet details (haar)", "shearlet magnitudes"}
    assert any(k.startswith("last hidden layer") for k in rep["spaces"])
    assert set(rep["tabular_contrast"]) == {"iris", "wine", "breast_cancer"}
    for s in rep["spaces"].values():
        assert 0.0 <= s["fraction_outside"] <= 1.0 and s["n_test"] == 450
    assert 0.0 <= rep["ood"]["auroc"]["hull distance"] <= 1.0
    for png in ("distances.png", "hull_vs_nn.png", "nearest_hull_points.png", "ood_roc.png"):
        assert (out / png).stat().st_size > 10_000, png
    page = (out / "index.html").read_text()
    assert page.count("data:image/png;base64,") == 4 and "wine" in page
    assert "OOD AUROC" in capsys.readouterr().out
    # the baseline: every space row carries the leave-one-out share and the certificates it verified
    for s in list(rep["spaces"].values()) + list(rep["tabular_contrast"].values()):
        assert 0.0 <= s["loo_fraction_outside"] <= 1.0 and s["loo_n"] >= 1 and s["certificates_verified"] >= s["n_test"]
    assert "train outside hull of the others" in page and "The baseline" in page
    assert isinstance(rep["provenance"]["test_accuracy"], float) and rep["provenance"]["seeds"] == [0]
    lo, hi = rep["ood"]["auroc_interval_95"]["hull distance"]
    assert lo <= rep["ood"]["auroc"]["hull distance"] <= hi and rep["ood"]["n_out"] == 450
    import csv

    with open(out / "samples-pixels.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 450 and set(rows[0]) >= {"index", "label", "prediction", "status", "hull_distance",
                                                  "nn_distance", "hull_over_nn", "own_class_weight"}


def test_demo_refuses_an_unwritable_folder(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main(["demo", "--out", str(blocker / "x"), "--pixels-only"]) == 2
    assert "--out: cannot create output folder" in capsys.readouterr().err


def test_demo_pixels_only(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--pixels-only", "--no-progress"]) == 0
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["fraction_outside"] == 1.0 and rep["certificates_verified"] == 450 + 1347  # test + leave-one-out
    assert rep["fraction_train_outside_leave_one_out_hull"] == 1.0 and rep["loo_n"] == 1347
    assert rep["provenance"]["hullscope_version"] and rep["provenance"]["sizes"] == {"n_train": 1347, "n_test": 450}
