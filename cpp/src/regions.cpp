// Decision regions of z = W f + b: Chebyshev balls, facet tests, projections (see regions.hpp).
#include "hullscope/regions.hpp"

#include <Eigen/QR>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace hullscope {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

ClassRows class_rows(const RegionModel& M, Index c) {
    const Index K = M.K(), d = M.d();
    ClassRows r;
    r.A.resize(K - 1, d);
    r.g.resize(K - 1);
    Index m = 0;
    for (Index k = 0; k < K; ++k) {
        if (k == c) continue;
        Eigen::RowVectorXd a = M.W.row(k) - M.W.row(c);
        const double g = M.b[c] - M.b[k];
        if (a.squaredNorm() == 0.0 && g >= 0.0) continue;  // identical class (or one that never wins over c)
        r.A.row(m) = a;
        r.g[m] = g;
        r.cls.push_back(k);
        ++m;
    }
    r.A.conservativeResize(m, d);
    r.g.conservativeResize(m);
    return r;
}

ChebyshevResult chebyshev(const RegionModel& M, Index c, const LPOptions& opt) {
    const Index K = M.K(), d = M.d();
    const ClassRows R = class_rows(M, c);
    const Index m = R.A.rows();
    // Change of variables f_i = off_i + s_i r + sigma_i y_i puts one side of each box bound into the
    // variable bounds of y (y_i >= 0); only coordinates bounded on both sides need a row y_i + 2r <= w_i.
    Eigen::VectorXd off = Eigen::VectorXd::Zero(d), s = Eigen::VectorXd::Zero(d), sig = Eigen::VectorXd::Ones(d);
    std::vector<Index> both;
    for (Index i = 0; i < d; ++i) {
        const bool fl = std::isfinite(M.lo[i]), fh = std::isfinite(M.hi[i]);
        if (fl) {
            off[i] = M.lo[i];
            s[i] = 1.0;
            if (fh) both.push_back(i);
        } else if (fh) {
            off[i] = M.hi[i];
            s[i] = -1.0;
            sig[i] = -1.0;
        }
    }
    // One row y_i + 2r <= w_i per coordinate bounded on both sides. (Adding these rows lazily, only
    // when violated, was measured slower: the narrowest coordinates all end up tight.)
    const Index nb = static_cast<Index>(both.size());
    Eigen::MatrixXd A = Eigen::MatrixXd::Zero(m + nb, d + 1);
    Eigen::VectorXd rhs(m + nb), lo(d + 1), hi(d + 1), cost = Eigen::VectorXd::Zero(d + 1);
    for (Index k = 0; k < m; ++k) {
        A.row(k).head(d) = R.A.row(k).cwiseProduct(sig.transpose());
        A(k, d) = R.A.row(k).norm() + R.A.row(k).dot(s);
        rhs[k] = R.g[k] - R.A.row(k).dot(off);
    }
    for (Index t = 0; t < nb; ++t) {
        const Index i = both[t];
        A(m + t, i) = 1.0;
        A(m + t, d) = 2.0;
        rhs[m + t] = M.hi[i] - M.lo[i];
    }
    for (Index i = 0; i < d; ++i) {
        lo[i] = s[i] != 0.0 ? 0.0 : -kInf;
        hi[i] = kInf;
    }
    lo[d] = 0.0;
    hi[d] = kInf;
    cost[d] = 1.0;
    const LPResult lp = solve_lp(A, rhs, cost, lo, hi, nullptr, opt);
    ChebyshevResult out;
    out.iterations = lp.iterations;
    out.y = Eigen::VectorXd::Zero(K);
    out.p = Eigen::VectorXd::Zero(d);
    out.q = Eigen::VectorXd::Zero(d);
    auto to_f = [&](const Eigen::VectorXd& x) {
        Eigen::VectorXd f(d);
        for (Index i = 0; i < d; ++i) f[i] = off[i] + s[i] * x[d] + sig[i] * x[i];
        return f;
    };
    if (lp.status == kLpInfeasible) {
        // Certify emptiness on the plain feasibility problem A f <= g, lo <= f <= hi.
        const LPResult feas = solve_lp(R.A, R.g, Eigen::VectorXd::Zero(d), M.lo, M.hi, nullptr, opt);
        if (feas.status == kLpInfeasible) {
            out.status = kRegionEmpty;
            for (Index k = 0; k < m; ++k) out.y[R.cls[k]] = feas.y[k];
            out.center = Eigen::VectorXd::Constant(d, kNaN);
            out.radius = kNaN;
        } else {
            out.status = feas.status == kLpOptimal ? kRegionFlat : kRegionIterationLimit;
            out.center = feas.x;
            out.radius = 0.0;
        }
        return out;
    }
    if (lp.status == kLpIterationLimit) {
        out.status = kRegionIterationLimit;
        out.center = to_f(lp.x);
        out.radius = lp.x[d];
        return out;
    }
    if (lp.status == kLpUnbounded) {
        // Balls of any radius fit; report a centre whose ball has radius about 1 in the data's scale.
        out.status = kRegionUnboundedBall;
        const double dr = lp.ray[d];
        const double scale = 1.0 + lp.x.head(d).cwiseAbs().maxCoeff();
        const double t = dr > 0 ? std::max(0.0, (scale - lp.x[d]) / dr) : 0.0;
        Eigen::VectorXd x = lp.x + t * lp.ray;
        out.center = to_f(x);
        out.radius = kInf;
        return out;
    }
    out.center = to_f(lp.x);
    out.radius = lp.x[d];
    const double flat_tol = 1e3 * opt.feas_tol * (1.0 + out.center.cwiseAbs().maxCoeff());
    out.status = out.radius > flat_tol ? kRegionFull : kRegionFlat;
    Eigen::VectorXd yk = lp.y.head(m);
    for (Index k = 0; k < m; ++k) out.y[R.cls[k]] = yk[k];
    Eigen::VectorXd aty = R.A.transpose() * yk;
    for (Index t = 0; t < nb; ++t) out.p[both[t]] = lp.y[m + t];
    for (Index i = 0; i < d; ++i) {
        const bool fl = std::isfinite(M.lo[i]), fh = std::isfinite(M.hi[i]);
        if (fl) out.q[i] = std::max(0.0, aty[i] + out.p[i]);
        else if (fh) out.p[i] = std::max(0.0, -aty[i]);
    }
    return out;
}

FacetResult facets(const RegionModel& M, Index c, const ChebyshevResult& cheb, const std::vector<Index>& targets,
                   double tol, const LPOptions& opt) {
    const Index K = M.K(), d = M.d();
    const Index T = static_cast<Index>(targets.size());
    FacetResult out;
    out.status.assign(T, kFacetNotTested);
    out.value = Eigen::VectorXd::Constant(T, kNaN);
    out.point = RowMatrixXd::Constant(T, d, kNaN);
    out.dual = RowMatrixXd::Zero(T, K);
    if (cheb.status != kRegionFull && cheb.status != kRegionUnboundedBall) return out;
    const ClassRows R = class_rows(M, c);
    const Index m = R.A.rows();
    std::vector<Index> row_of(K, -1);
    for (Index k = 0; k < m; ++k) row_of[R.cls[k]] = k;
    const Eigen::VectorXd& x0 = cheb.center;
    const Eigen::VectorXd Ax0 = R.A * x0;
    const bool exact = tol < 0;
    const double atol = std::abs(tol);
    for (Index t = 0; t < T; ++t) {
        const Index j = targets[t];
        const Index rj = row_of[j];
        if (rj < 0) {  // identical class: the two regions coincide, no facet between them
            out.status[t] = kNotFacet;
            continue;
        }
        const Eigen::VectorXd aj = R.A.row(rj).transpose();
        const double nj = aj.norm();
        const double v0 = Ax0[rj] - R.g[rj];  // < 0: x0 is interior
        // Rows on the same hyperplane as row j (several classes tie with c along one hyperplane)
        // define the same facet: they are left out of row j's test, as row j itself is.
        std::vector<char> same(m, 0);
        same[rj] = 1;
        for (Index k = 0; k < m; ++k) {
            if (k == rj) continue;
            const double nk = R.A.row(k).norm();
            if (nk == 0.0) continue;
            if ((R.A.row(k) / nk - aj.transpose() / nj).cwiseAbs().maxCoeff() <= 1e-12 &&
                std::abs(R.g[k] / nk - R.g[rj] / nj) <= 1e-12 * (1.0 + std::abs(R.g[rj] / nj)))
                same[k] = 1;
        }
        Index msame = 0;
        for (Index k = 0; k < m; ++k) msame += same[k];
        if (!exact) {
            // Shortcut: projected-gradient walk f(s) = clip(x0 + s a_j, lo, hi), along which a_j f
            // grows, until another row of R_c becomes tight. If a_j f - g_j > 0 at that point p, row j
            // is a facet and the segment x0 -> p crosses it at a relative-interior point of the facet.
            // The walk is piecewise linear with one breakpoint per box face reached: O(m d) per row.
            std::vector<std::pair<double, Index>> ev;
            for (Index i = 0; i < d; ++i) {
                if (aj[i] > 0 && std::isfinite(M.hi[i])) ev.push_back({(M.hi[i] - x0[i]) / aj[i], i});
                else if (aj[i] < 0 && std::isfinite(M.lo[i])) ev.push_back({(M.lo[i] - x0[i]) / aj[i], i});
            }
            std::sort(ev.begin(), ev.end());
            Eigen::VectorXd slope = R.A * aj;      // d/ds of each row along the walk
            Eigen::VectorXd rv = Ax0 - R.g;        // row values a_k f - g_k (< 0 at x0)
            double sc = 0.0, block = kInf;
            size_t e = 0;
            for (;;) {
                const double snext = e < ev.size() ? ev[e].first : kInf;
                double hit = kInf;
                for (Index k = 0; k < m; ++k) {
                    if (same[k] || slope[k] <= 0) continue;
                    hit = std::min(hit, sc + std::max(0.0, -rv[k]) / slope[k]);
                }
                if (hit <= snext) {
                    block = hit;
                    break;
                }
                if (e >= ev.size()) break;  // no more faces and no row blocks: unbounded walk
                rv += slope * (snext - sc);
                sc = snext;
                const Index i = ev[e].second;
                slope -= R.A.col(i) * aj[i];
                ++e;
            }
            Eigen::VectorXd pend(d);
            bool unbounded_walk = !std::isfinite(block);
            double send = block;
            if (unbounded_walk) {
                // The walk never blocks: a_j f - g_j grows without bound unless every coordinate froze.
                const double sl = slope[rj];
                send = sl > 0 ? std::max(sc, sc + (nj * nj - rv[rj]) / sl) : sc;
            }
            for (Index i = 0; i < d; ++i) pend[i] = std::min(std::max(x0[i] + send * aj[i], M.lo[i]), M.hi[i]);
            const double v1 = aj.dot(pend) - R.g[rj];
            if (v1 / nj > atol) {
                out.status[t] = kFacet;
                out.value[t] = unbounded_walk ? kInf : v1 / nj;
                const double lam = v0 / (v0 - v1);
                out.point.row(t) = (x0 + lam * (pend - x0)).transpose();
                ++out.shortcuts;
                continue;
            }
        }
        Eigen::MatrixXd Aj(m - msame, d);
        Eigen::VectorXd gj(m - msame);
        for (Index k = 0, r = 0; k < m; ++k) {
            if (same[k]) continue;
            Aj.row(r) = R.A.row(k);
            gj[r] = R.g[k];
            ++r;
        }
        // Boxed domains go to the dual simplex from the box vertex that maximises a_j (no start
        // point); otherwise the primal simplex starts at the Chebyshev centre.
        const bool boxed = M.lo.allFinite() && M.hi.allFinite();
        const LPResult lp = solve_lp(Aj, gj, aj, M.lo, M.hi, boxed ? nullptr : &x0, opt);
        ++out.lps;
        out.iterations += lp.iterations;
        Eigen::VectorXd xw;
        if (lp.status == kLpOptimal) {
            const double val = (lp.value - R.g[rj]) / nj;
            out.value[t] = val;
            if (val > atol) {
                xw = lp.x;
            } else {
                out.status[t] = kNotFacet;
                for (Index k = 0, r = 0; k < m; ++k) {
                    if (same[k]) continue;
                    out.dual(t, R.cls[k]) = lp.y[r++];
                }
                continue;
            }
        } else if (lp.status == kLpUnbounded) {
            const double slope = aj.dot(lp.ray);
            if (!(slope > 0)) {
                out.status[t] = kFacetUnconverged;
                continue;
            }
            out.value[t] = kInf;
            const double tt = std::max(0.0, (R.g[rj] - aj.dot(lp.x) + nj) / slope);
            xw = lp.x + tt * lp.ray;
        } else {
            out.status[t] = kFacetUnconverged;
            continue;
        }
        // The segment x0 -> xw crosses row j inside every other row: a facet point.
        const double v1 = aj.dot(xw) - R.g[rj];
        const double lam = v0 / (v0 - v1);
        out.point.row(t) = (x0 + lam * (xw - x0)).transpose();
        out.status[t] = kFacet;
    }
    return out;
}

namespace {

// Lawson-Hanson on the dual of min 1/2 |f - f0|^2 s.t. R f <= h: fast, but an active set that
// becomes rank-deficient can leave its rows violated (the caller checks the KKT conditions).
ProjectionResult project_dual(const Eigen::Ref<const Eigen::MatrixXd>& R, const Eigen::Ref<const Eigen::VectorXd>& h,
                              Index n_eq, const Eigen::Ref<const Eigen::VectorXd>& f0, double tol,
                              Index max_iterations) {
    const Index rows = R.rows(), d = R.cols();
    ProjectionResult out;
    Eigen::VectorXd rn(rows);
    for (Index i = 0; i < rows; ++i) rn[i] = std::max(R.row(i).norm(), 1e-300);
    Eigen::VectorXd y = Eigen::VectorXd::Zero(rows);
    std::vector<Index> P;
    std::vector<char> inP(rows, 0);
    for (Index i = 0; i < n_eq; ++i) {
        P.push_back(i);
        inP[i] = 1;
    }
    auto solveP = [&](Eigen::VectorXd& z) {
        const Index p = static_cast<Index>(P.size());
        Eigen::MatrixXd RP(p, d);
        Eigen::VectorXd rhs(p);
        for (Index a = 0; a < p; ++a) {
            RP.row(a) = R.row(P[a]);
            rhs[a] = R.row(P[a]).dot(f0) - h[P[a]];
        }
        Eigen::MatrixXd G = RP * RP.transpose();
        z = G.completeOrthogonalDecomposition().solve(rhs);
    };
    Eigen::VectorXd f = f0;
    auto refresh_f = [&]() { f = f0 - R.transpose() * y; };
    Eigen::VectorXd z;
    if (n_eq > 0) {
        solveP(z);
        for (Index a = 0; a < n_eq; ++a) y[P[a]] = z[a];
        refresh_f();
    }
    const Index max_it = max_iterations > 0 ? max_iterations : 20 * (rows + d) + 100;
    Index it = 0;
    for (; it < max_it; ++it) {
        // Most violated inequality row (scaled); the equality rows are always in P.
        Eigen::VectorXd viol = (R * f - h).cwiseQuotient(rn);
        Index t = -1;
        double worst = tol;
        for (Index i = n_eq; i < rows; ++i) {
            if (inP[i]) continue;
            if (viol[i] > worst) {
                worst = viol[i];
                t = i;
            }
        }
        // Equality rows must hold too.
        bool eq_ok = true;
        for (Index i = 0; i < n_eq; ++i)
            if (std::abs(viol[i]) > tol) eq_ok = false;
        if (t < 0) {
            out.converged = eq_ok;
            break;
        }
        P.push_back(t);
        inP[t] = 1;
        for (Index inner = 0; inner < max_it; ++inner) {
            solveP(z);
            const Index p = static_cast<Index>(P.size());
            double alpha = 1.0;
            bool all_pos = true;
            for (Index a = n_eq; a < p; ++a) {
                if (z[a] <= 0) {
                    all_pos = false;
                    const double ya = y[P[a]];
                    alpha = std::min(alpha, ya / (ya - z[a]));
                }
            }
            if (all_pos) {
                for (Index a = 0; a < p; ++a) y[P[a]] = z[a];
                break;
            }
            for (Index a = 0; a < p; ++a) y[P[a]] += alpha * (z[a] - y[P[a]]);
            std::vector<Index> keep;
            for (Index a = 0; a < p; ++a) {
                const Index i = P[a];
                if (a >= n_eq && y[i] <= 1e-15 * (1.0 + y.cwiseAbs().maxCoeff())) {
                    y[i] = 0.0;
                    inP[i] = 0;
                } else {
                    keep.push_back(i);
                }
            }
            P.swap(keep);
        }
        refresh_f();
    }
    out.iterations = it;
    for (Index i = n_eq; i < rows; ++i) y[i] = std::max(0.0, y[i]);
    refresh_f();
    out.f = f;
    out.y = y;
    out.distance = (f - f0).norm();
    const double dual = -0.5 * (f - f0).squaredNorm() + y.dot(R * f0 - h);
    out.lower = std::sqrt(std::max(0.0, 2.0 * dual));
    return out;
}

// The KKT conditions of the projection, checked on every row: f feasible (equalities within tol),
// y >= 0 on inequality rows, f = f0 - R^T y, and complementary slackness.
bool projection_kkt(const Eigen::Ref<const Eigen::MatrixXd>& R, const Eigen::Ref<const Eigen::VectorXd>& h, Index n_eq,
                    const Eigen::Ref<const Eigen::VectorXd>& f0, const ProjectionResult& pr, double tol) {
    const Index rows = R.rows();
    if (!pr.f.allFinite() || !pr.y.allFinite()) return false;
    const Eigen::VectorXd viol = R * pr.f - h;
    for (Index i = 0; i < rows; ++i) {
        const double rn = std::max(R.row(i).norm(), 1e-300);
        if (i < n_eq ? std::abs(viol[i]) > tol * rn : viol[i] > tol * rn) return false;
        if (i >= n_eq && pr.y[i] < 0) return false;
        if (i >= n_eq && pr.y[i] > 0 && viol[i] < -tol * rn * 1e3) return false;
    }
    const Eigen::VectorXd stat = pr.f - f0 + R.transpose() * pr.y;
    return stat.norm() <= tol * (1.0 + f0.norm()) * 1e3;
}

// Primal active-set method (working rows kept linearly independent: a blocking row is never in the
// span of the working rows), started from a feasible point found by the LP engine. Slower than the
// dual method but robust to the degenerate arrangements where that one stalls.
ProjectionResult project_primal(const Eigen::Ref<const Eigen::MatrixXd>& R, const Eigen::Ref<const Eigen::VectorXd>& h,
                                Index n_eq, const Eigen::Ref<const Eigen::VectorXd>& f0, double tol,
                                Index max_iterations) {
    const Index rows = R.rows(), d = R.cols();
    ProjectionResult out;
    out.y = Eigen::VectorXd::Zero(rows);
    out.f = f0;
    // Feasible start: {R f <= h, -R_eq f <= -h_eq}.
    Eigen::MatrixXd A(rows + n_eq, d);
    Eigen::VectorXd b(rows + n_eq);
    A.topRows(rows) = R;
    b.head(rows) = h;
    for (Index i = 0; i < n_eq; ++i) {
        A.row(rows + i) = -R.row(i);
        b[rows + i] = -h[i];
    }
    const Eigen::VectorXd inf = Eigen::VectorXd::Constant(d, std::numeric_limits<double>::infinity());
    // Start from f0 clipped by the LP's phase 1 (the objective pulls nowhere: c = 0).
    const LPResult lp = solve_lp(A, b, Eigen::VectorXd::Zero(d), -inf, inf, nullptr, LPOptions());
    if (lp.status != kLpOptimal) {
        out.distance = out.lower = kInf;
        return out;
    }
    Eigen::VectorXd x = lp.x;
    std::vector<Index> W;
    for (Index i = 0; i < n_eq; ++i) W.push_back(i);
    std::vector<char> inW(rows, 0);
    for (Index i : W) inW[i] = 1;
    const double scale = 1.0 + f0.cwiseAbs().maxCoeff() + x.cwiseAbs().maxCoeff();
    const Index max_it = max_iterations > 0 ? max_iterations : 50 * (rows + d) + 1000;
    Eigen::VectorXd lam;
    Index it = 0;
    for (; it < max_it; ++it) {
        const Eigen::VectorXd g = x - f0;
        Eigen::VectorXd p;
        const Index w = static_cast<Index>(W.size());
        if (w == 0) {
            p = -g;
            lam.resize(0);
        } else {
            Eigen::MatrixXd AT(d, w);
            for (Index a = 0; a < w; ++a) AT.col(a) = R.row(W[a]).transpose();
            Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(AT);
            lam = qr.solve(-g);
            p = -g - AT * lam;
        }
        if (p.norm() <= 1e-13 * scale) {
            // stationary on the working set: optimal when every inequality multiplier is >= 0
            Index worst = -1;
            double wl = -1e-14 * scale;
            for (Index a = 0; a < w; ++a) {
                if (W[a] < n_eq) continue;
                if (lam[a] < wl || (lam[a] == wl && worst >= 0 && W[a] < W[worst])) {
                    wl = lam[a];
                    worst = a;
                }
            }
            if (worst < 0) {
                for (Index a = 0; a < w; ++a) out.y[W[a]] = W[a] < n_eq ? lam[a] : std::max(0.0, lam[a]);
                out.converged = true;
                break;
            }
            inW[W[worst]] = 0;
            W.erase(W.begin() + worst);
            continue;
        }
        double alpha = 1.0;
        Index block = -1;
        const Eigen::VectorXd Rp = R * p, Rx = R * x;
        for (Index i = n_eq; i < rows; ++i) {
            if (inW[i] || !(Rp[i] > 1e-14 * R.row(i).norm() * p.norm())) continue;
            const double step = std::max(0.0, (h[i] - Rx[i]) / Rp[i]);
            if (step < alpha || (step == alpha && block >= 0 && i < block)) {
                alpha = step;
                block = i;
            }
        }
        x += alpha * p;
        if (block >= 0) {
            W.push_back(block);
            inW[block] = 1;
        }
    }
    out.iterations = it;
    out.f = f0 - R.transpose() * out.y;
    if (!out.converged || (out.f - x).norm() > 1e-9 * scale) out.f = x;  // keep the feasible iterate
    out.distance = (out.f - f0).norm();
    const double dual = -0.5 * (R.transpose() * out.y).squaredNorm() + out.y.dot(R * f0 - h);
    out.lower = std::sqrt(std::max(0.0, 2.0 * dual));
    (void)tol;
    return out;
}

}  // namespace

ProjectionResult project_polyhedron(const Eigen::Ref<const Eigen::MatrixXd>& R, const Eigen::Ref<const Eigen::VectorXd>& h,
                                    Index n_eq, const Eigen::Ref<const Eigen::VectorXd>& f0, double tol,
                                    Index max_iterations) {
    ProjectionResult pr = project_dual(R, h, n_eq, f0, tol, max_iterations);
    if (pr.converged && projection_kkt(R, h, n_eq, f0, pr, tol)) return pr;
    ProjectionResult pp = project_primal(R, h, n_eq, f0, tol, max_iterations);
    pp.iterations += pr.iterations;
    pp.converged = pp.converged && projection_kkt(R, h, n_eq, f0, pp, tol);
    if (pp.converged || !std::isfinite(pr.lower)) return pp;
    // neither certified: report the feasible point with the better of the two lower bounds
    pp.lower = std::max(pp.lower, std::min(pr.lower, pp.distance));
    return pp;
}

double project_box_halfspace(const double* f0, const double* a, double t, const double* lo, const double* hi,
                             Index d, double* x) {
    double g0 = 0.0, sup = 0.0, slope0 = 0.0, mag = std::abs(t);
    struct Event {
        double mu;
        double dslope;
    };
    std::vector<Event> ev;
    for (Index i = 0; i < d; ++i) {
        const double xi = std::min(std::max(f0[i], lo[i]), hi[i]);
        g0 += a[i] * xi;
        if (a[i] > 0) sup += a[i] * hi[i];
        else if (a[i] < 0) sup += a[i] * lo[i];
        if (a[i] != 0) mag += std::abs(a[i] * (a[i] > 0 ? hi[i] : lo[i]));  // inf only when sup is inf
        if (a[i] == 0) continue;
        // Coordinate i moves (slope a_i^2 in g) for mu in [start, stop].
        double start, stop;
        if (a[i] > 0) {
            start = (lo[i] - f0[i]) / a[i];
            stop = (hi[i] - f0[i]) / a[i];
        } else {
            start = (hi[i] - f0[i]) / a[i];
            stop = (lo[i] - f0[i]) / a[i];
        }
        if (!(stop > 0)) continue;
        const double w = a[i] * a[i];
        if (start <= 0) slope0 += w;
        else ev.push_back({start, w});
        if (std::isfinite(stop)) ev.push_back({stop, -w});
    }
    auto finish = [&](double mu) {
        double s = 0.0;
        for (Index i = 0; i < d; ++i) {
            x[i] = std::min(std::max(f0[i] + mu * a[i], lo[i]), hi[i]);
            s += (x[i] - f0[i]) * (x[i] - f0[i]);
        }
        return std::sqrt(s);
    };
    if (g0 >= t) return finish(0.0);
    // Unreachable only when the box's supremum of a.x falls short of t by more than the rounding of
    // the sum: then sup < t is a certificate that numpy re-checks. A supremum that only touches t
    // (a tie at a corner of the box, e.g. both logits 0 at the origin) is reached below.
    const double err = 4.0 * static_cast<double>(d + 2) * std::numeric_limits<double>::epsilon() * mag;
    if (!(sup >= t - err)) return kInf;
    std::sort(ev.begin(), ev.end(), [](const Event& p, const Event& q) { return p.mu < q.mu; });
    double mu = 0.0, g = g0, slope = slope0;
    for (const Event& e : ev) {
        if (slope > 0 && g + slope * (e.mu - mu) >= t) break;
        g += slope * (e.mu - mu);
        mu = e.mu;
        slope += e.dslope;
    }
    // Every moving coordinate is at its bound: x is the corner attaining the supremum, which reaches t
    // (up to rounding, since sup >= t - err).
    if (!(slope > 0)) return finish(mu);
    return finish(mu + (t - g) / slope);
}

}  // namespace hullscope
