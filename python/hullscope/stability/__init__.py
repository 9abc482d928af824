"""Stability of representations to diffeomorphisms vs noise (D_f, G_f, R_f), layer by layer.

This package holds the max-entropy diffeomorphisms (:mod:`.diffeo`) and the layer-wise observables
(:mod:`.observables`). The scale-detection task, the idealised average-pooling network and the
``hullscope stability`` command are not written yet.
"""
from .diffeo import (apply_fields, deform, jacobian_determinant, noise_like, sample_fields,
                     temperature_for_displacement, temperature_range, typical_displacement)
from .observables import StabilityResult, stability

__all__ = ["apply_fields", "deform", "jacobian_determinant", "noise_like", "sample_fields",
           "temperature_for_displacement", "temperature_range", "typical_displacement", "StabilityResult",
           "stability"]
