"""Decision regions of a linear last layer ``z = W f + b`` (see :mod:`hullscope.regions.core`)."""
from .core import LinearRegions, box_of
from .hulls import hull_meets_region, outside_hull_but_certified
from .results import (Adjacency, Certification, ChebyshevBall, FacetConstruction, FacetSet, ProjectionResult,
                      RadiusResult, Segment, VolumeShare)
from .volume import volume_share

__all__ = ["LinearRegions", "box_of", "hull_meets_region", "outside_hull_but_certified", "volume_share",
           "Adjacency", "Certification", "ChebyshevBall", "FacetConstruction", "FacetSet", "ProjectionResult",
           "RadiusResult", "Segment", "VolumeShare"]
