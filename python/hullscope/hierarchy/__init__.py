"""The (Sparse) Random Hierarchy Model. For now: rules, exact counts, sampling by index, decoding and
encoding (:mod:`.rhm`). Matched networks, learning curves and sensitivities are not written yet."""
from .rhm import EMPTY, Rules, decode, generate, make_rules, n_positions, one_hot, p_max, sample_indices

__all__ = ["EMPTY", "Rules", "decode", "generate", "make_rules", "n_positions", "one_hot", "p_max", "sample_indices"]
