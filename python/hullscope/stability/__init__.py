"""Stability of representations to diffeomorphisms vs noise (D_f, G_f, R_f), layer by layer.

* :mod:`.diffeo`: max-entropy diffeomorphisms, temperatures, same-norm noise;
* :mod:`.observables`: D_f, G_f, R_f for any torch model, per layer, mean and medians, over seeds;
* :mod:`.scale_task`: the scale-detection task, its local deformation and CNNs with and without stride;
* :mod:`.idealized`: the averaging + ReLU network and its power laws;
* :mod:`.architectures`: a zoo of small classifiers (FC, LeNet-style, strided/unstrided, GAP, ResNet, +-BatchNorm);
* :mod:`.studies`: noise-augmented training and the architecture study (checkpointed, resumable);
* :mod:`.stats`: Spearman correlation with a bootstrap interval, strict JSON;
* :mod:`.cli`: the ``hullscope stability`` command.
"""
from .diffeo import (apply_fields, apply_fields_1d, deform, deform_1d, jacobian_determinant, noise_like,
                     sample_fields, sample_fields_1d, temperature_for_displacement, temperature_range,
                     temperature_range_1d, typical_displacement, typical_displacement_1d)
from .observables import StabilityResult, plot_states, shuffle_channels, stability, stability_sweep

__all__ = ["apply_fields", "deform", "jacobian_determinant", "noise_like", "sample_fields",
           "temperature_for_displacement", "temperature_range", "typical_displacement", "StabilityResult",
           "stability", "stability_sweep", "shuffle_channels", "apply_fields_1d", "deform_1d", "sample_fields_1d",
           "temperature_range_1d", "typical_displacement_1d", "plot_states"]
