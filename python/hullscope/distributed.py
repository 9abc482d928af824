"""Deprecated alias of :mod:`hullscope.hull.distributed` (kept for one release)."""
import warnings

from .hull.distributed import *  # noqa: F401,F403
from .hull.distributed import __all__  # noqa: F401

warnings.warn("hullscope.distributed moved to hullscope.hull.distributed; the old name goes in the next release",
              DeprecationWarning, stacklevel=2)
