// Batched, OpenMP-parallel drivers of the decision-region operations (see regions.hpp).
//
// Every task writes only its own output slots, and every task's arithmetic is independent of which
// thread runs it, so results are identical for any thread count.
#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>
#include <numeric>

#include "hullscope/parallel.hpp"
#include "hullscope/regions.hpp"

#ifdef HULLSCOPE_HAVE_OPENMP
#include <omp.h>
#endif

namespace hullscope {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

std::vector<ChebyshevResult> chebyshev_all(const RegionModel& M, const std::vector<Index>& classes,
                                           const LPOptions& opt, int threads) {
    std::vector<ChebyshevResult> out(classes.size());
    parallel_for(static_cast<Index>(classes.size()), threads,
                 [&](Index i) { out[i] = chebyshev(M, classes[i], opt); });
    return out;
}

AdjacencyResult adjacency(const RegionModel& M, const std::vector<ChebyshevResult>& cheb, double tol,
                          const LPOptions& opt, int threads) {
    const Index K = M.K(), d = M.d();
    std::vector<FacetResult> per(K);
    std::vector<std::vector<Index>> live(K);
    parallel_for(K, threads, [&](Index c) {
        // A pair needs both regions full-dimensional; it is tested once, from the smaller index.
        for (Index j = c + 1; j < K; ++j) {
            const int sj = cheb[j].status;
            if (sj == kRegionFull || sj == kRegionUnboundedBall) live[c].push_back(j);
        }
        if (!live[c].empty()) per[c] = facets(M, c, cheb[c], live[c], tol, opt);
    });
    AdjacencyResult out;
    out.status.assign(K * K, kFacetNotTested);
    out.value.assign(K * K, std::numeric_limits<double>::quiet_NaN());
    Index P = 0, Q = 0;
    for (Index c = 0; c < K; ++c) {
        for (size_t t = 0; t < live[c].size(); ++t) {
            if (per[c].status[t] == kFacet) ++P;
            else if (per[c].status[t] == kNotFacet) ++Q;
        }
    }
    out.points.resize(P, d);
    out.duals.resize(Q, K);
    Index p = 0, q = 0;
    for (Index c = 0; c < K; ++c) {
        out.lps += per[c].lps;
        out.shortcuts += per[c].shortcuts;
        out.iterations += per[c].iterations;
        for (size_t t = 0; t < live[c].size(); ++t) {
            const Index j = live[c][t];
            const int st = per[c].status[t];
            out.status[c * K + j] = out.status[j * K + c] = st;
            out.value[c * K + j] = out.value[j * K + c] = per[c].value[t];
            if (st == kFacet) {
                out.point_pairs.push_back(c);
                out.point_pairs.push_back(j);
                out.points.row(p++) = per[c].point.row(t);
            } else if (st == kNotFacet) {
                out.dual_pairs.push_back(c);
                out.dual_pairs.push_back(j);
                out.duals.row(q++) = per[c].dual.row(t);
            }
        }
    }
    return out;
}

void project_batch(const RegionModel& M, const Eigen::Ref<const RowMatrixXd>& F, const Index* source,
                   const Index* target, ProjectionKind mode, double tol, Index max_iterations, int threads, double* f_out,
                   double* dist, double* lower, std::int8_t* converged, double* y_out, Index* iterations) {
    const Index K = M.K(), d = M.d(), N = F.rows();
    std::vector<Index> hi_rows, lo_rows;
    for (Index i = 0; i < d; ++i) {
        if (std::isfinite(M.hi[i])) hi_rows.push_back(i);
        if (std::isfinite(M.lo[i])) lo_rows.push_back(i);
    }
    parallel_for(N, threads, [&](Index n) {
        const Index j = target[n];
        const Index c = mode == kToTie ? source[n] : j;
        // Rows: [tie row (mode 1)] class rows, then f_i <= hi_i, then -f_i <= -lo_i.
        std::vector<Index> slot;  // output slot of each row
        Index rows = (mode == kToTie ? 1 : 0) + K - 1 + static_cast<Index>(hi_rows.size() + lo_rows.size());
        Eigen::MatrixXd R = Eigen::MatrixXd::Zero(rows, d);
        Eigen::VectorXd h(rows);
        Index r = 0;
        if (mode == kToTie) {
            R.row(r) = M.W.row(j) - M.W.row(c);
            h[r] = M.b[c] - M.b[j];
            slot.push_back(j);
            ++r;
        }
        for (Index k = 0; k < K; ++k) {
            if (k == c || (mode == kToTie && k == j)) continue;
            Eigen::RowVectorXd a = M.W.row(k) - M.W.row(c);
            const double g = M.b[c] - M.b[k];
            if (a.squaredNorm() == 0.0 && g >= 0.0) continue;
            R.row(r) = a;
            h[r] = g;
            slot.push_back(k);
            ++r;
        }
        for (Index i : hi_rows) {
            R(r, i) = 1.0;
            h[r] = M.hi[i];
            slot.push_back(K + i);
            ++r;
        }
        for (Index i : lo_rows) {
            R(r, i) = -1.0;
            h[r] = -M.lo[i];
            slot.push_back(K + d + i);
            ++r;
        }
        R.conservativeResize(r, d);
        h.conservativeResize(r);
        const Eigen::VectorXd f0 = F.row(n).transpose();
        const double scale = 1.0 + f0.cwiseAbs().maxCoeff();
        if (mode == kToTie) {
            // The tie set can be empty (c and j never tie on top inside the domain): decide that by
            // an LP first, since the dual of an infeasible projection has no bounded optimum.
            Eigen::MatrixXd Rf(r - static_cast<Index>(hi_rows.size() + lo_rows.size()) + 1, d);
            const Index mc = Rf.rows() - 1;
            Rf.topRows(mc) = R.topRows(mc);
            Rf.row(mc) = -R.row(0);
            Eigen::VectorXd hf(mc + 1);
            hf.head(mc) = h.head(mc);
            hf[mc] = -h[0];
            LPOptions o;
            const LPResult feas = solve_lp(Rf, hf, Eigen::VectorXd::Zero(d), M.lo, M.hi, nullptr, o);
            if (feas.status == kLpInfeasible) {
                Eigen::Map<Eigen::VectorXd>(f_out + n * d, d).setConstant(std::numeric_limits<double>::quiet_NaN());
                dist[n] = kInf;
                lower[n] = kInf;
                converged[n] = 0;
                iterations[n] = feas.iterations;
                std::fill(y_out + n * (K + 2 * d), y_out + (n + 1) * (K + 2 * d), 0.0);
                return;
            }
        }
        const ProjectionResult pr = project_polyhedron(R, h, mode == kToTie ? 1 : 0, f0, tol * scale, max_iterations);
        Eigen::Map<Eigen::VectorXd>(f_out + n * d, d) = pr.f;
        dist[n] = pr.distance;
        lower[n] = pr.lower;
        converged[n] = pr.converged ? 1 : 0;
        iterations[n] = pr.iterations;
        double* yrow = y_out + n * (K + 2 * d);
        std::fill(yrow, yrow + K + 2 * d, 0.0);
        for (Index a = 0; a < r; ++a) yrow[slot[a]] = pr.y[a];
    });
}

void certified_radius_box(const RegionModel& M, const Eigen::Ref<const RowMatrixXd>& F, int threads, Index* pred,
                          double* radius, Index* rival, double* point) {
    const Index K = M.K(), d = M.d(), N = F.rows();
    parallel_for(N, threads, [&](Index n) {
        const Eigen::VectorXd f0 = F.row(n).transpose();
        Eigen::VectorXd z = M.W * f0 + M.b;
        Index c = 0;
        for (Index k = 1; k < K; ++k)
            if (z[k] > z[c]) c = k;
        // Lower bounds from the unconstrained distances; visit rivals nearest first and stop as soon
        // as the bound passes the best exact distance found.
        std::vector<std::pair<double, Index>> order;
        for (Index j = 0; j < K; ++j) {
            if (j == c) continue;
            const double na = (M.W.row(j) - M.W.row(c)).norm();
            if (na == 0.0) continue;  // identical class: shares the region, never a boundary
            order.push_back({std::max(0.0, (z[c] - z[j]) / na), j});
        }
        std::sort(order.begin(), order.end());
        double best = kInf;
        Index who = -1;
        Eigen::VectorXd x(d), xb = Eigen::VectorXd::Constant(d, std::numeric_limits<double>::quiet_NaN());
        Eigen::VectorXd a(d);
        for (const auto& o : order) {
            if (o.first >= best) break;
            const Index j = o.second;
            a = (M.W.row(j) - M.W.row(c)).transpose();
            const double t = M.b[c] - M.b[j];
            const double dj = project_box_halfspace(f0.data(), a.data(), t, M.lo.data(), M.hi.data(), d, x.data());
            if (dj < best) {
                best = dj;
                who = j;
                xb = x;
            }
        }
        pred[n] = c;
        radius[n] = best;
        rival[n] = who;
        Eigen::Map<Eigen::VectorXd>(point + n * d, d) = xb;
    });
}

}  // namespace hullscope
