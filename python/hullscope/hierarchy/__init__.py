"""The (Sparse) Random Hierarchy Model.

Rules, exact counts, sampling by index, decoding, encoding, synonym and position resampling and the
exact hierarchical representation are here (:mod:`.rhm`, numpy only). Matched networks, the trainer,
learning curves, P* estimates and power-law fits are in :mod:`.learning`; per-layer sensitivities in
:mod:`.sensitivity` (both need torch).
"""
from .rhm import (EMPTY, Rules, decode, generate, level_symbols, make_rules, n_positions, one_hot, p_max,
                  resample, sample_indices)

__all__ = ["EMPTY", "Rules", "decode", "generate", "level_symbols", "make_rules", "n_positions", "one_hot", "p_max",
           "resample", "sample_indices"]
