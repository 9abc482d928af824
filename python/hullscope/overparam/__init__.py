"""Over-parameterization and the training regime, seen from the training hull.

Models that fit the same training set equally well: do they agree inside the training hull and differ
outside it, and does how they differ outside track generalization?

* :mod:`~hullscope.overparam.families` -- the width family (small CNN and two-hidden-layer MLP at width
  multipliers), the named training regimes, seeded training to 100% training accuracy (or the closest reached);
* :mod:`~hullscope.overparam.measures` -- per-model measures in the last hidden layer (hull, ``LinearRegions``
  over the box domain, exact rays, certified radii at the scale of the extrapolation);
* :mod:`~hullscope.overparam.agreement` -- Dirichlet points certified inside the pixel hull, points on the pixel
  rays beyond each test image, agreement matrices;
* :mod:`~hullscope.overparam.stats` -- Spearman correlations with bootstrap intervals, the claim's verdict;
* :mod:`~hullscope.overparam.illustration` -- the exact low-dimensional illustration (minimum norm against
  gradient descent with random features);
* :mod:`~hullscope.overparam.study` -- :func:`run_overparam`, used by ``hullscope overparam``.
"""
from .agreement import agreement_matrix, build_sets, dirichlet_points, ray_points
from .families import REGIMES, ModelSpec, build_model, param_count, train_model
from .illustration import closed_form_fit, gd_fit, gd_limit, illustrate, min_norm_fit, run_illustration
from .measures import SCALAR_MEASURES, measure_model
from .stats import claim_verdict, correlation_table
from .study import check_data, load_data, plan_family, run_overparam

__all__ = ["REGIMES", "ModelSpec", "build_model", "param_count", "train_model", "measure_model", "SCALAR_MEASURES",
           "dirichlet_points", "ray_points", "agreement_matrix", "build_sets", "correlation_table", "claim_verdict",
           "illustrate", "run_illustration", "min_norm_fit", "closed_form_fit", "gd_fit", "gd_limit",
           "load_data", "check_data", "plan_family", "run_overparam"]
