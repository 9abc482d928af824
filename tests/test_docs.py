"""The examples in docstrings and in the README run and print what they say."""
from __future__ import annotations

import doctest
import pathlib
import re

import hullscope
import hullscope.hull.hull


def test_docstring_examples():
    for mod in (hullscope, hullscope.hull.hull):
        res = doctest.testmod(mod)
        assert res.attempted > 0 and res.failed == 0, mod.__name__


def test_readme_tour_runs(capsys):
    readme = pathlib.Path(__file__).resolve().parents[1] / "README.md"
    code = re.search(r"## Thirty seconds\s+```python\n(.*?)```", readme.read_text(), re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "['inside' 'outside']" in out and "True True" in out and "ok=True" in out


def test_every_public_name_imports():
    for name in hullscope.__all__:
        assert getattr(hullscope, name) is not None, name


def test_readme_regions_snippet_runs_as_written():
    """The README's decision-regions snippet, on a small CNN trained for a few epochs on digits."""
    import numpy as np
    import torch

    from hullscope.datasets import load_digits
    from hullscope.models import small_cnn, train_classifier

    readme = pathlib.Path(__file__).resolve().parents[1] / "README.md"
    code = re.search(r"### Decision regions of the last layer\s+```python\n(.*?)```", readme.read_text(), re.S).group(1)
    d = load_digits(seed=0)
    X_train, X_test = d.X_train.astype(np.float32), d.X_test[:60].astype(np.float32)  # (N, 8, 8): no channel
    torch.manual_seed(0)
    model = train_classifier(small_cnn(), X_train[:, None], d.y_train, epochs=3, seed=0, progress=False)
    ns = {"model": model, "X_train": X_train, "X_test": X_test[:, None]}
    exec(compile(code, "README.md", "exec"), ns)
    assert ns["F_test"].shape == (60, 64)
    assert ns["ball"].status == "full" and ns["ball"].verify()
    cert = ns["reg"].certify(3, ellipsoid=(ns["center"], 0.999 * ns["L"]))
    assert cert.certified and cert.verify()
