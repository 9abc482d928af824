// hullscope core: a dense bounded-variable primal simplex with certificates.
//
//     maximise  c^T x   subject to   A x <= b,   lo <= x <= hi   (lo/hi may be -inf/+inf)
//
// Every answer carries a certificate that needs no solver to check:
//  * optimal:    a feasible x and row multipliers y >= 0 whose weak-duality bound
//                b^T y + sum_i sup_{lo_i <= x_i <= hi_i} (c - A^T y)_i x_i equals c^T x;
//  * infeasible: y >= 0 with y^T b < inf_{lo <= x <= hi} (A^T y)^T x (Farkas);
//  * unbounded:  a feasible x and a ray r with A r <= 0, r inside the recession cone of the bounds
//                and c^T r > 0.
#pragma once

#include <Eigen/Core>

#include "hullscope/common.hpp"

namespace hullscope {

enum LPStatus : int { kLpOptimal = 0, kLpInfeasible = 1, kLpUnbounded = 2, kLpIterationLimit = 3 };

struct LPOptions {
    double feas_tol = 1e-9;   // primal feasibility tolerance (rows are scaled to unit norm inside)
    double opt_tol = 1e-9;    // reduced-cost tolerance
    double pivot_tol = 1e-9;  // smallest usable pivot element
    Index max_iterations = 0; // 0: 50 (m + n) + 1000
    int refactor_every = 50;  // rebuild the basis inverse from scratch after this many pivots
    bool dual_when_boxed = true;  // all variables boxed and no start point: dual simplex first
};

struct LPResult {
    int status = kLpIterationLimit;
    double value = 0.0;            // c^T x (optimal / iteration limit); +inf when unbounded
    Eigen::VectorXd x;             // (n,) primal point (feasible unless infeasible)
    Eigen::VectorXd y;             // (m,) row multipliers >= 0 (dual bound, or Farkas when infeasible)
    Eigen::VectorXd ray;           // (n,) improving ray when unbounded, else empty
    Index iterations = 0;
    Index phase1_iterations = 0;
};

// Solve the LP above. `A` is (m, n); rows whose norm is zero are allowed (they are constant rows).
// `x_start` (n,) may be given: it is clipped into the bounds and, when it is feasible, phase 1 is
// skipped entirely (warm start from a known interior point).
LPResult solve_lp(const Eigen::Ref<const Eigen::MatrixXd>& A, const Eigen::Ref<const Eigen::VectorXd>& b,
                  const Eigen::Ref<const Eigen::VectorXd>& c, const Eigen::Ref<const Eigen::VectorXd>& lo,
                  const Eigen::Ref<const Eigen::VectorXd>& hi, const Eigen::VectorXd* x_start,
                  const LPOptions& opt = LPOptions());

}  // namespace hullscope
