"""Certified membership in, and distance to, the convex hull of a point set (see :mod:`.hull`).

Modules, imports running one way (each imports only those listed after it):

* :mod:`.hull`: :class:`Hull` (``contains``, ``distance``, ``leave_one_out``); imports
  :mod:`.distributed` lazily, only when ``client=`` is given.
* :mod:`.distributed`: the Dask runner; its workers call :mod:`.engine`, never :mod:`.hull`.
* :mod:`.checkpoint`: fingerprints, atomic writes, chunk files, manifests (Dask runs and
  ``hullscope analyze``).
* :mod:`.engine`: the only caller of the core's solver.
* :mod:`.result`: :class:`DistanceResult`, its field list, assembly, ``verify()``.
* :mod:`.options`: :class:`SolveOptions`, the one home of defaults and checks.
"""
from .._verification import ConvergenceWarning, Verification
from .hull import Hull
from .options import DEFAULTS, SolveOptions, check_rtol, validate_subset
from .result import RESULT_FIELDS, STATUS_NAMES, DistanceResult, MembershipResult

__all__ = ["Hull", "DistanceResult", "MembershipResult", "Verification", "ConvergenceWarning", "SolveOptions",
           "DEFAULTS", "STATUS_NAMES", "RESULT_FIELDS", "check_rtol", "validate_subset"]
