"""The shared pairwise normalisation against brute force: the Gram-matrix median path, its exact
recomputation of near-duplicate pairs, and the chunked random-pair path."""
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


def test_all_pair_distances_keep_near_duplicates_exact():
    # Points far from the origin and 1e-6 apart: ||a||^2 + ||b||^2 - 2 a.b cancels to noise here, so
    # these pairs must come from exact differences.
    rng = np.random.default_rng(2)
    base = 1e3 + rng.normal(size=(1, 50))
    F = np.concatenate([base + 1e-6 * rng.normal(size=(12, 50)), 1e3 + rng.normal(size=(3, 50))])
    i, j = np.triu_indices(len(F), k=1)
    brute = np.array([np.sum((F[a] - F[b]) ** 2) for a, b in zip(i, j)])
    assert np.median(brute) < 1e-9            # most pairs are near-duplicates: the median is one of them
    assert np.isclose(pairwise_sq_distance_stat(F, "median"), np.median(brute), rtol=1e-6, atol=0)
    sub = pairwise_sq_distance_stat(F, "median", max_pairs=200, seed=3)
    assert sub > 0 and np.isfinite(sub)


def test_all_pair_distances_in_many_gram_blocks(monkeypatch):
    from scipy.spatial.distance import pdist

    import hullscope.sensitivity as sens

    monkeypatch.setattr(sens, "_GRAM_BLOCK", 50)    # 50 // 23 = 2 rows per block: 11 blocks
    F = np.random.default_rng(4).normal(size=(23, 6))
    F[7] = F[19]                                    # an exact duplicate pair
    got = sens._all_pair_sq_distances(F)
    assert np.allclose(got, pdist(F, "sqeuclidean"), rtol=1e-12, atol=0)
    assert np.isclose(sens.pairwise_sq_distance_stat(F, "median"), np.median(pdist(F, "sqeuclidean")))


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
