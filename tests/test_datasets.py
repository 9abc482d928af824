"""IDX reading (MNIST layout) from files the test writes itself, and the bundled loaders."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from hullscope.datasets import load_digits, load_mnist, load_tabular, read_idx


def write_idx(path, arr, gz):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f8"): 0x0E}
    head = bytes([0, 0, codes[arr.dtype], arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    data = head + arr.tobytes()
    with (gzip.open if gz else open)(path, "wb") as fh:
        fh.write(data)


def make_mnist(folder, gz=True):
    rng = np.random.default_rng(0)
    sfx = ".gz" if gz else ""
    imgs = {s: rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8) for s, n in (("train", 12), ("t10k", 5))}
    labs = {s: rng.integers(0, 10, size=len(v), dtype=np.uint8) for s, v in imgs.items()}
    for s in imgs:
        write_idx(folder / f"{s}-images-idx3-ubyte{sfx}", imgs[s], gz)
        write_idx(folder / f"{s}-labels-idx1-ubyte{sfx}", labs[s], gz)
    return imgs, labs


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_round_trip(tmp_path, gz):
    imgs, labs = make_mnist(tmp_path, gz)
    d = load_mnist(tmp_path, n_test=3)
    np.testing.assert_array_equal(d.X_train, imgs["train"] / 255.0)
    np.testing.assert_array_equal(d.y_test, labs["t10k"][:3])
    assert d.X_test.shape == (3, 28, 28) and d.X_train.dtype == np.float64
    f = tmp_path / "x.idx"
    write_idx(f, np.arange(6, dtype=">f8").reshape(2, 3), False)
    np.testing.assert_array_equal(read_idx(f), np.arange(6.0).reshape(2, 3))


def test_idx_errors(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)
    trunc = tmp_path / "trunc"
    write_idx(trunc, np.zeros((4, 2), np.uint8), False)
    trunc.write_bytes(trunc.read_bytes()[:-1])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(trunc)
    with pytest.raises(FileNotFoundError, match="no IDX"):
        read_idx(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="train-images"):
        load_mnist(tmp_path)


def test_bundled_sets():
    d = load_digits()
    assert d.X_train.shape[1:] == (8, 8) and 0 <= d.X_train.min() and d.X_train.max() <= 1
    assert len(d.X_train) + len(d.X_test) == 1797 and d.n_classes == 10
    t = load_tabular("wine")
    np.testing.assert_allclose(t.X_train.mean(axis=0), 0, atol=1e-12)
    with pytest.raises(ValueError, match="name"):
        load_tabular("titanic")
