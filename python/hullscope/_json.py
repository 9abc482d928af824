"""Strict JSON for every file hullscope writes: numpy values become Python values, NaN and inf
become null (never the non-standard ``NaN`` token), and files are replaced atomically."""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["strict_json", "write_json", "dumps", "atomic_write_bytes"]


def strict_json(x: Any) -> Any:
    """Plain-Python copy of x for strict JSON: numpy scalars and arrays converted, NaN/inf -> None."""
    if isinstance(x, dict):
        return {str(k): strict_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [strict_json(v) for v in x]
    if isinstance(x, np.ndarray):
        return strict_json(x.tolist())
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, np.str_):
        return str(x)
    if isinstance(x, Path):
        return str(x)
    return x


def dumps(obj: Any, **kw: Any) -> str:
    """``json.dumps`` of :func:`strict_json` (obj), refusing anything that is not strict JSON."""
    return json.dumps(strict_json(obj), allow_nan=False, **kw)


def write_json(path: Any, obj: Any, indent: int = 1) -> None:
    """Write ``obj`` as strict JSON to ``path`` atomically (a temporary file, then a rename)."""
    atomic_write_bytes(Path(path), dumps(obj, indent=indent).encode())


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, fsync and rename: a
    reader sees the old file or the new one, never a partial one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
