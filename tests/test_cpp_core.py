"""Builds the C++ unit tests of the LP engine and the projection routines (cpp/tests/test_core.cpp)
with the project's own CMake, and runs them: closed-form LPs with their certificates, projections
(including the degenerate cone that once reported a wrong 'converged' answer), the box/half-space
tie, parallel_for's exception types, and an offset single-point hull."""
from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_cpp_core_unit_tests(tmp_path):
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not on PATH")
    pybind11 = pytest.importorskip("pybind11")
    build = tmp_path / "build"
    cfg = subprocess.run([cmake, "-S", str(ROOT), "-B", str(build), "-DHULLSCOPE_BUILD_TESTS=ON",
                          "-DCMAKE_BUILD_TYPE=Release", f"-Dpybind11_DIR={pybind11.get_cmake_dir()}"],
                         capture_output=True, text=True, timeout=300)
    assert cfg.returncode == 0, cfg.stdout[-3000:] + cfg.stderr[-3000:]
    bld = subprocess.run([cmake, "--build", str(build), "--target", "hullscope_core_tests", "-j", "2"],
                         capture_output=True, text=True, timeout=900)
    assert bld.returncode == 0, bld.stdout[-3000:] + bld.stderr[-3000:]
    exe = next(p for p in build.rglob("hullscope_core_tests*") if p.is_file() and p.suffix in ("", ".exe"))
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and " 0 failed" in run.stdout, run.stdout + run.stderr
