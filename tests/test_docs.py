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
