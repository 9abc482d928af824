"""Beyond the hull: where decision boundaries lie between the training hull and each test sample.

* :func:`rays` -- the class along the ray from the nearest training-hull point through each test sample
  (exact in the space feeding the last linear layer, grid + bisection elsewhere);
* :func:`certified_at_scale` -- exact certified radii divided by the hull distance and the typical
  nearest-neighbour distance ("robust at the scale of its extrapolation");
* :func:`min_flip` -- hullscope's own minimum-norm L2 pixel attack (an upper bound on the true minimum);
* :func:`morph` -- classes and ambiguity along straight paths between pairs of images, in pixel and
  feature space, with the share of the feature path outside the training hull.

Every result is a frozen dataclass with ``verify()`` and a short repr. The command
``hullscope boundaries`` runs all of it on digits (see :mod:`hullscope.boundaries.study` and :mod:`hullscope.cli.boundaries`).
"""
from ._net import Head, make_head
from .attack import FlipResult, min_flip
from .morph import MorphResult, choose_pairs, morph
from .rays import RayResult, rays
from .scale import ScaleCertified, certified_at_scale, pixel_vs_feature

__all__ = ["rays", "RayResult", "min_flip", "FlipResult", "morph", "MorphResult", "choose_pairs",
           "certified_at_scale", "ScaleCertified", "pixel_vs_feature", "make_head", "Head"]
