"""Every report a command writes is strict JSON (no NaN/Infinity tokens, numbers stay numbers) and
carries the provenance block a reader needs to cite it."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from hullscope.cli import main  # noqa: E402

PROVENANCE_KEYS = {"hullscope_version", "command", "date_utc", "seeds", "threads", "data", "sizes", "model",
                   "test_accuracy"}


def strict_load(path):
    def refuse(token):
        raise ValueError(f"{path.name}: non-standard JSON token {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


def _numbers_are_numbers(obj, where="report"):
    """No value that is a number written as a string ("0.973", "4096")."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            _numbers_are_numbers(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:50]):
            _numbers_are_numbers(v, f"{where}[{i}]")
    elif isinstance(obj, str):
        try:
            float(obj)
        except ValueError:
            return
        raise AssertionError(f"{where}: the number {obj!r} is written as a string")


def test_strict_load_refuses_nan(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"a": NaN}')
    with pytest.raises(ValueError, match="NaN"):
        strict_load(p)
    with pytest.raises(AssertionError):
        _numbers_are_numbers({"acc": "0.973"})


@pytest.mark.slow
@pytest.mark.parametrize("argv,report", [
    (["demo", "--epochs", "2", "--no-progress"], "report.json"),
    (["demo", "--pixels-only", "--no-progress"], "report.json"),
    (["regions", "--epochs", "2", "--n-test", "40", "--no-progress"], "regions.json"),
    (["boundaries", "--epochs", "2", "--n-test", "8", "--pairs", "2", "--no-progress"], "report.json"),
    (["hierarchy", "sample", "--P", "20", "--v", "4", "--m", "4", "--n-c", "2", "--L", "2"], "data.json"),
    (["hierarchy", "learn", "--P", "20,40", "--v", "4", "--m", "4", "--n-c", "2", "--L", "2", "--n-test", "40",
      "--seeds", "0", "--width", "8", "--max-epochs", "2"], "learning_curve.json"),
    (["stability", "--model", "digits-cnn", "--train-epochs", "1", "--n-images", "20", "--seeds", "0"],
     "stability.json"),
], ids=["demo", "demo-pixels", "regions", "boundaries", "hierarchy-sample", "hierarchy-learn", "stability"])
def test_every_report_is_strict_json_with_provenance(argv, report, tmp_path):
    out = tmp_path / "out"
    assert main([*argv, "--out", str(out)]) == 0
    rep = strict_load(out / report)
    _numbers_are_numbers(rep)
    prov = rep["provenance"]
    missing = PROVENANCE_KEYS - set(prov)
    assert not missing, f"{argv[0]}: provenance lacks {missing}"
    assert prov["hullscope_version"] and prov["date_utc"] and prov["command"].startswith("hullscope")


def test_analyze_report_is_strict_json_with_provenance(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, X_train=rng.normal(size=(60, 5)), y_train=rng.integers(0, 3, 60),
             X_test=rng.normal(size=(20, 5)), y_test=rng.integers(0, 3, 20))
    out = tmp_path / "out"
    assert main(["analyze", str(data), "--out", str(out)]) == 0
    rep = strict_load(out / "report.json")
    _numbers_are_numbers(rep)
    assert PROVENANCE_KEYS <= set(rep["provenance"])
    assert rep["spaces"]["pixels"]["loo_n"] == 60 and rep["spaces"]["pixels"]["certificates_verified"] == 80
