"""The shared pairwise normalisation against brute force, including the chunked median path."""
import numpy as np
import pytest

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


def test_coordinate_median_sums_per_feature_medians():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(9, 5))
    P = F.copy()
    P[np.arange(5), np.arange(5)] += 3.0   # image i changes only feature i: a sparse perturbation
    brute = sum(np.median([(P[i, k] - F[i, k]) ** 2 for i in range(9)]) for k in range(5))
    assert np.isclose(perturbation_stat(F, P, "coordinate_median"), brute)
    assert brute == 0.0                      # each feature changes in 1 of 9 images: median 0
    assert np.isclose(perturbation_stat(F, P, "median"), 9.0)  # yet the median image moved by 3
    with pytest.raises(ValueError, match="coordinate_median"):
        perturbation_stat(F, P, "trimmed")
