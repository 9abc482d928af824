"""The shared pairwise normalisation against brute force, including the chunked median path."""
import numpy as np

from hullscope.sensitivity import pairwise_sq_distance_stat, perturbation_stat


def test_pairwise_stats_match_brute_force_in_small_chunks():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(40, 60_000))  # wide rows: the 780 pairs are processed in 2 chunks
    i, j = np.triu_indices(40, k=1)
    brute = np.array([np.sum((F[a] - F[b]) ** 2) for a, b in zip(i, j)])
    assert np.isclose(pairwise_sq_distance_stat(F, "mean"), brute.mean())
    assert np.isclose(pairwise_sq_distance_stat(F, "median"), np.median(brute))
    P = F + 0.1
    assert np.isclose(perturbation_stat(F, P, "median"), 0.01 * F.shape[1])
