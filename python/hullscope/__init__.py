"""hullscope: exact, certified geometry of how image classifiers extrapolate.

The public API is re-exported here and loaded lazily, so ``import hullscope`` is cheap and the
optional extras (torch, PyWavelets, dask, matplotlib) are imported only by the functions that use them.

>>> import numpy as np, hullscope
>>> X = np.random.default_rng(0).normal(size=(200, 5))
>>> res = hullscope.Hull(X).contains(np.zeros((1, 5)))
>>> str(res.status[0])
'inside'
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Hull": "hull",
    "DistanceResult": "hull",
    "MembershipResult": "hull",
    "Verification": "hull",
    "ConvergenceWarning": "hull",
    "datasets": None,
    "sensitivity": None,
    "features": None,
    "extrapolation": None,
    "models": None,
    "stability": None,
    "hierarchy": None,
    "distributed": None,  # deprecated alias of hull.distributed
    "report": None,
    "hull": None,
    "LinearRegions": "regions",
    "regions": None,
    "boundaries": None,
}

_DEPRECATED = {"distributed"}  # hullscope.distributed moved to hullscope.hull.distributed
__all__ = sorted(set(_EXPORTS) - _DEPRECATED) + ["__version__", "build_info"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        mod = _EXPORTS[name]
        if mod is None:
            return importlib.import_module(f".{name}", __name__)
        return getattr(importlib.import_module(f".{mod}", __name__), name)
    raise AttributeError(f"module 'hullscope' has no attribute {name!r}")


def build_info() -> dict:
    """How the compiled core was built: version, OpenMP, SIMD kernel in use, max threads."""
    from . import _core
    return dict(_core.build_info())


def __dir__() -> list:
    return __all__
