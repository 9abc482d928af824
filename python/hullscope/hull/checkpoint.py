"""Checkpoints shared by the Dask runner and ``hullscope analyze``: fingerprints of the inputs,
atomic writes, chunk files with checksums, and a manifest that refuses to mix runs of other arguments."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from .._json import atomic_write_bytes
from .result import RESULT_FIELDS

__all__ = ["MANIFEST", "fingerprint", "atomic_write_bytes", "save_arrays", "load_arrays", "Manifest",
           "file_sha256"]

MANIFEST = "manifest.json"


def sha256_array(h: "hashlib._Hash", a: Optional[np.ndarray]) -> None:
    if a is None:
        h.update(b"<none>")
        return
    a = np.ascontiguousarray(a)
    h.update(str(a.dtype).encode() + str(a.shape).encode())
    h.update(memoryview(a).cast("B"))


def fingerprint(*arrays: Optional[np.ndarray], **meta) -> str:
    """SHA-256 of the arrays (dtype, shape and bytes) and of the JSON of ``meta`` plus the version."""
    from .. import __version__

    h = hashlib.sha256()
    for a in arrays:
        sha256_array(h, a)
    h.update(json.dumps(dict(meta, version=__version__), sort_keys=True, default=str).encode())
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_arrays(path: Path, arrays: dict) -> str:
    """Write ``arrays`` to an .npz atomically; return the file's SHA-256."""
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


class Manifest:
    """``manifest.json`` of a checkpoint folder: the run's fingerprint and each chunk's file and checksum."""

    def __init__(self, out: Path, fingerprint: str, meta: dict):
        self.path = out / MANIFEST
        self.out = out
        if self.path.exists():
            try:
                old = json.loads(self.path.read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"out: {str(self.path)!r} is unreadable or corrupt ({exc}); "
                                 "use another folder or delete it") from exc
            if old.get("fingerprint") != fingerprint:
                raise ValueError(f"out: {str(out)!r} holds results of different arguments "
                                 f"(method {old.get('meta', {}).get('method')!r}, "
                                 f"{old.get('meta', {}).get('n_queries')} queries); refusing to mix them. "
                                 "Use another folder.")
            self.data = old
        else:
            self.data = {"fingerprint": fingerprint, "meta": meta, "chunks": {}}
            self.flush()

    def flush(self) -> None:
        atomic_write_bytes(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode())

    def valid_chunk(self, cid: int) -> Optional[dict]:
        rec = self.data["chunks"].get(str(cid))
        if rec is None:
            return None
        p = self.out / rec["file"]
        if not p.is_file() or file_sha256(p) != rec["sha256"]:
            return None
        return load_arrays(p)

    def record(self, cid: int, fname: str, sha: str, rows: Tuple[int, int]) -> None:
        self.data["chunks"][str(cid)] = {"file": fname, "sha256": sha, "rows": list(rows)}
        self.flush()




def load_arrays(path: Path, fields=RESULT_FIELDS) -> Optional[Dict[str, np.ndarray]]:
    """The ``fields`` of an .npz checkpoint, or None when it is unreadable or lacks one."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in fields}
    except Exception:
        return None
