"""Typed surface of hullscope's compiled core (C++17/Eigen/OpenMP via pybind11).

Arrays must already be float64 (int64 for indices) and C-contiguous: the core never converts or
copies them (a mismatch is a TypeError). The Python layer (hullscope.hull) does the one conversion.
"""
from typing import Callable, Any, Dict, Optional

import numpy as np
import numpy.typing as npt

__version__: str

def build_info() -> Dict[str, Any]: ...

class PointSet:
    def __init__(self, X: npt.NDArray[np.float64] | npt.NDArray[np.float32], threads: int = 0,
                 sparse: int = -1) -> None: ...
    @property
    def dtype(self) -> str: ...
    @property
    def data_address(self) -> int: ...
    @property
    def n(self) -> int: ...
    @property
    def d(self) -> int: ...
    @property
    def array(self) -> npt.NDArray[np.float64] | npt.NDArray[np.float32]: ...
    @property
    def max_norm(self) -> float: ...
    @property
    def density(self) -> float: ...
    @property
    def sparse(self) -> bool: ...
    @property
    def sparse_bytes(self) -> int: ...

class SolveOptions:
    rtol: float
    gap_rtol: float
    early_exit: bool
    max_passes: int
    max_iterations: int
    pool: int
    block: int
    threads: int
    def __init__(self) -> None: ...

def solve(
    points: PointSet,
    Q: npt.NDArray[np.float64],
    subset: Optional[npt.NDArray[np.int64]] = None,
    exclude: Optional[npt.NDArray[np.int64]] = None,
    options: SolveOptions = ...,
    progress: Optional[Callable[[int], None]] = None,
) -> Dict[str, np.ndarray]: ...

# ---- decision regions and the LP engine ----
class LPStatus(int):
    optimal: "LPStatus"
    infeasible: "LPStatus"
    unbounded: "LPStatus"
    iteration_limit: "LPStatus"

class RegionStatus(int):
    full: "RegionStatus"
    empty: "RegionStatus"
    flat: "RegionStatus"
    unbounded: "RegionStatus"
    unconverged: "RegionStatus"

class FacetStatus(int):
    not_tested: "FacetStatus"
    not_facet: "FacetStatus"
    facet: "FacetStatus"
    unconverged: "FacetStatus"

class ProjectionKind:
    region: "ProjectionKind"
    tie: "ProjectionKind"

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

def lp_solve(A: F64, b: F64, c: F64, lo: F64, hi: F64, x_start: Optional[F64] = None, feas_tol: float = 1e-9,
             max_iterations: int = 0) -> Dict[str, Any]: ...
def region_chebyshev(W: F64, b: F64, lo: F64, hi: F64, classes: I64, feas_tol: float = 1e-9,
                     threads: int = 0) -> Dict[str, Any]: ...
def region_facets(W: F64, b: F64, lo: F64, hi: F64, c: int, status: I64, radius: F64, center: F64, tol: float,
                  exact: bool = False, feas_tol: float = 1e-9) -> Dict[str, Any]: ...
def region_adjacency(W: F64, b: F64, lo: F64, hi: F64, status: I64, radius: F64, center: F64, tol: float,
                     exact: bool = False, feas_tol: float = 1e-9, threads: int = 0,
                     todo: Optional[npt.NDArray[np.uint8]] = None) -> Dict[str, Any]: ...
def region_construct(W: F64, b: F64, lo: F64, hi: F64, tol: float, threads: int = 0) -> Dict[str, Any]: ...
def region_project(W: F64, b: F64, lo: F64, hi: F64, F: F64, source: I64, target: I64, mode: ProjectionKind,
                   tol: float = 1e-10, max_iterations: int = 0, threads: int = 0) -> Dict[str, Any]: ...
def region_radius_box(W: F64, b: F64, lo: F64, hi: F64, F: F64, threads: int = 0) -> Dict[str, Any]: ...
