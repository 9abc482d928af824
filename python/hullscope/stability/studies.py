"""Two studies of stability to diffeomorphisms vs noise across training conditions and architectures.

* :func:`noise_study`: nets trained with additive Gaussian noise on their inputs (``sigma`` relative
  to the training images' root-mean-square norm, see :func:`add_input_noise`), D_f, G_f and R_f
  against depth before and after training, over training seeds.
* :func:`architecture_study`: the zoo of :mod:`.architectures` at several training-set sizes, each
  trained until it fits its training set (or a budget of images seen runs out); per model the test
  error, R_f at the output and at the last hidden layer (at initialisation and trained), the
  channel-shuffled control (:func:`~hullscope.stability.shuffle_channels`), and Spearman's rank
  correlation between R_f and test error with a bootstrap 95% interval.

Every trained model is checkpointed under ``out/checkpoints`` (its weights once trained, then its
complete record once measured), keyed by a fingerprint of everything that determines it (config,
data, measurement settings). A rerun with the same settings trains and measures nothing already done;
a run interrupted between training and measuring resumes from the weights.
"""
from .architecture_study import (ArchitectureStudy, architecture_report, architecture_study, epochs_for,
                                 plot_R_bars, plot_scatter, write_architecture_outputs)
from .noise_study import NoiseStudy, noise_report, noise_study, write_noise_outputs
from .study_base import (DEFAULT_NOISE_ARCHITECTURES, DEFAULT_SIGMAS, Checkpoints, StudyData, add_input_noise,
                         check_sigma, fingerprint, load_study_data, noise_scale, provenance, train_model)

__all__ = ["StudyData", "noise_scale", "check_sigma", "add_input_noise", "train_model", "Checkpoints",
           "noise_study", "architecture_study", "NoiseStudy", "ArchitectureStudy", "load_study_data",
           "provenance", "DEFAULT_SIGMAS", "DEFAULT_NOISE_ARCHITECTURES", "write_noise_outputs",
           "write_architecture_outputs", "plot_scatter", "plot_R_bars", "epochs_for", "fingerprint",
           "noise_report", "architecture_report"]
