// hullscope core: decision regions of a linear last layer z = W f + b.
//
// Class c owns R_c = {f : (w_k - w_c) f <= b_c - b_k for all k != c} intersected with a box domain
// lo <= f <= hi (entries may be infinite: R^d is lo = -inf, hi = +inf; the orthant is lo = 0).
// Everything works in inequality form with LPs (solve_lp), an active-set QP and closed forms,
// and every answer carries a certificate that the Python layer re-checks in numpy.
#pragma once

#include <Eigen/Core>
#include <vector>

#include "hullscope/common.hpp"
#include "hullscope/lp.hpp"

namespace hullscope {

struct RegionModel {
    Eigen::Ref<const RowMatrixXd> W;      // (K, d)
    Eigen::Ref<const Eigen::VectorXd> b;  // (K,)
    Eigen::Ref<const Eigen::VectorXd> lo; // (d,)
    Eigen::Ref<const Eigen::VectorXd> hi; // (d,)
    Index K() const { return W.rows(); }
    Index d() const { return W.cols(); }
};

// Rows of R_c as A f <= g, one per class k != c whose row is not identically zero with g >= 0
// (identical classes give 0 <= 0 and are dropped; a zero row with g < 0 is kept: it makes R_c empty).
struct ClassRows {
    Eigen::MatrixXd A;          // (m, d)
    Eigen::VectorXd g;          // (m,)
    std::vector<Index> cls;     // (m,) the class k of each row
};
ClassRows class_rows(const RegionModel& M, Index c);

enum RegionStatus : int { kRegionFull = 0, kRegionEmpty = 1, kRegionFlat = 2, kRegionUnboundedBall = 3,
                          kRegionIterationLimit = 4 };

struct ChebyshevResult {
    int status = kRegionIterationLimit;
    double radius = 0.0;        // Euclidean radius of the largest ball in R_c and the box; inf if unbounded
    Eigen::VectorXd center;     // (d,)
    Eigen::VectorXd y;          // (K,) multipliers of the class rows (dual bound / Farkas when empty)
    Eigen::VectorXd p, q;       // (d,) multipliers of f_i + r <= hi_i and -f_i + r <= -lo_i
    Index iterations = 0;
};
ChebyshevResult chebyshev(const RegionModel& M, Index c, const LPOptions& opt);

// Facet test of rows `targets` of class c (all k != c when empty), warm-started from the class's
// What a projection projects onto.
enum ProjectionKind : int { kToRegion = 0, kToTie = 1 };

// Facet verdicts (FacetStatus).
enum FacetStatus : int { kFacetNotTested = -1, kNotFacet = 0, kFacet = 1, kFacetUnconverged = 3 };

// Chebyshev centre. status: kFacet, kNotFacet, kFacetNotTested (region not full-dimensional / skipped),
// 3 iteration limit.
struct FacetResult {
    std::vector<int> status;    // (T,)
    Eigen::VectorXd value;      // (T,) max over R_c without row j of (a_j f - g_j)/||a_j||
    RowMatrixXd point;          // (T, d) a relative-interior point of the common facet (facets), else NaN
    RowMatrixXd dual;           // (T, K) class multipliers proving max <= 0 (non-facets), else 0
    Index lps = 0, shortcuts = 0, iterations = 0;
};
FacetResult facets(const RegionModel& M, Index c, const ChebyshevResult& cheb, const std::vector<Index>& targets,
                   double tol, const LPOptions& opt);

// Projection of f0 onto {f : R f <= h, first n_eq rows hold with equality} by an active-set
// (Lawson-Hanson) method on the dual. Returns false when it did not converge.
struct ProjectionResult {
    bool converged = false;
    Eigen::VectorXd f;          // (d,)
    Eigen::VectorXd y;          // (rows,) multipliers, >= 0 on inequality rows
    double distance = 0.0;      // ||f - f0||
    double lower = 0.0;         // sqrt(2 * dual value), a certified lower bound on the distance
    Index iterations = 0;
};
ProjectionResult project_polyhedron(const Eigen::Ref<const Eigen::MatrixXd>& R, const Eigen::Ref<const Eigen::VectorXd>& h,
                                    Index n_eq, const Eigen::Ref<const Eigen::VectorXd>& f0, double tol,
                                    Index max_iterations);

// Exact distance from f0 to {f in box : a f >= t} (the projection, found by a breakpoint search).
// Returns +inf (and leaves x unset) when that set is empty.
double project_box_halfspace(const double* f0, const double* a, double t, const double* lo, const double* hi,
                             Index d, double* x);

// ---- batched drivers, parallel over classes / pairs / points with OpenMP -------------------------

std::vector<ChebyshevResult> chebyshev_all(const RegionModel& M, const std::vector<Index>& classes,
                                           const LPOptions& opt, int threads);

// Facet test of every unordered pair {c, j} (run from the smaller index), given every class's
// Chebyshev result. status/value are (K, K) row-major and symmetric; facet points and non-facet
// duals (each (K,), for the LP of the smaller class) are listed per pair.
struct AdjacencyResult {
    std::vector<int> status;
    std::vector<double> value;
    std::vector<Index> point_pairs;  // (P, 2)
    RowMatrixXd points;              // (P, d)
    std::vector<Index> dual_pairs;   // (Q, 2)
    RowMatrixXd duals;               // (Q, K)
    Index lps = 0, shortcuts = 0, iterations = 0;
};
// `todo` (K * K, optional): test only the pairs {c, j} (c < j) with todo[c * K + j] != 0; the others stay
// kFacetNotTested and need no Chebyshev result.
AdjacencyResult adjacency(const RegionModel& M, const std::vector<ChebyshevResult>& cheb, double tol,
                          const LPOptions& opt, int threads, const std::vector<char>* todo = nullptr);

// Facets of every pair by construction, without an LP. With a right inverse V of W (W V = I, taken
// minimal in the box-weighted norm sum_i (df_i / s_i)^2, s_i the box half-width), any logit change dz is
// realised exactly by the move V dz. For the pair {c, j} (c < j) with level T:
//   dz_k = min(0, T - delta - z0_k) for k != c, j (classes above the level are pushed down to it),
//   endpoint a: dz_c = T + eps - z0_c, dz_j = T - eps - z0_j;  endpoint b: the same with eps -> -eps,
//   x_a = clip(base + V dz_a, lo, hi), x_b likewise, and the facet point p = lam x_a + (1 - lam) x_b,
// where z0 = W base + b, T minimises |dz|^2 (a water level found in O(#lowered classes)) and lam makes
// z_c(p) = z_j(p). A pair is proved when, after the clipping, z_c > z_j at x_a, z_j > z_c at x_b and both
// beat every other class by at least (delta - eps) / 2 at both endpoints: then p is a tie point of c and
// j strictly above every other logit, inside the box (the logits are linear in f, so the margins carry
// over to p). Cost O((L + 6) d + K) per pair, L the number of lowered classes, against one LP of K rows
// and d columns. Pairs the clipping spoils get a second pass (below); what is left goes to the LP path.
struct ConstructedFacets {
    bool applies = false;       // false: W has no well-conditioned right inverse (K > d, dependent rows)
    Eigen::VectorXd base;       // (d,)
    RowMatrixXd V;              // (K, d): row k is column k of the right inverse (W V^T = I)
    double delta = 0.0, eps = 0.0, inverse_error = 0.0;  // inverse_error: max |W V^T - I|
    std::vector<int> status;    // (K * K), symmetric: kFacet for proved pairs, else kFacetNotTested
    std::vector<double> level, weight, value;  // (K * K) T, lam, lower bound of the LP value (slot c < j)
    Index proven = 0, clipped = 0;  // pairs proved in the first pass; pairs whose endpoints needed clipping
    // Second pass (pairs the clipping spoiled): endpoints solved exactly on the coordinates left free,
    // with coordinates that leave the box fixed at their bounds; their facet points are listed densely.
    Index refined = 0;
    std::vector<Index> point_pairs;  // (refined, 2), c < j
    RowMatrixXd points;              // (refined, d)
};
ConstructedFacets construct_facets(const RegionModel& M, double tol, int threads);

// Projection of every row of F (N, d) onto a polyhedron per row:
//   kToRegion: the region of class target[i] (distance to class);
//   kToTie:    the tie set {z_c = z_j >= z_k} with c = source[i], j = target[i] (flip point).
// Output y is (N, K + 2d): class-row multipliers by class (kToTie: the tie row in slot j), then
// multipliers of f <= hi and of -f <= -lo.
void project_batch(const RegionModel& M, const Eigen::Ref<const RowMatrixXd>& F, const Index* source,
                   const Index* target, ProjectionKind mode, double tol, Index max_iterations, int threads, double* f_out,
                   double* dist, double* lower, std::int8_t* converged, double* y_out, Index* iterations);

// Exact distance from each row of F to the nearest point of the box with a different decision
// (ties count as different): min over j != c of dist(f, {z_j >= z_c} in box). Writes the predicted
// class c (ties to the lowest index), the radius, the rival class j and the nearest point.
void certified_radius_box(const RegionModel& M, const Eigen::Ref<const RowMatrixXd>& F, int threads, Index* pred,
                          double* radius, Index* rival, double* point);

}  // namespace hullscope
