"""The (Sparse) Random Hierarchy Model. For now: rules, exact counts, sampling by index, decoding,
encoding, synonym and position resampling, and the exact hierarchical representation (:mod:`.rhm`). Matched networks, learning curves and sensitivities are not written yet."""
from .rhm import (EMPTY, Rules, decode, generate, level_symbols, make_rules, n_positions, one_hot, p_max,
                  resample, sample_indices)

__all__ = ["EMPTY", "Rules", "decode", "generate", "level_symbols", "make_rules", "n_positions", "one_hot", "p_max",
           "resample", "sample_indices"]
