// Batched, OpenMP-parallel drivers of the decision-region operations (see regions.hpp).
//
// Every task writes only its own output slots, and every task's arithmetic is independent of which
// thread runs it, so results are identical for any thread count.
#include <Eigen/Cholesky>
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

// Margins of the two endpoints of a pair {c, j}: ga = z_c - z_j at the first (c leads), gb at the
// second (j leads), and ma, mb: how far the lower of z_c, z_j stays above every other logit.
struct EndMargins {
    double ga, gb, ma, mb;
};
EndMargins end_margins(const Eigen::VectorXd& za, const Eigen::VectorXd& zb, Index c, Index j) {
    double oa = -kInf, ob = -kInf;
    for (Index k = 0; k < za.size(); ++k) {
        if (k == c || k == j) continue;
        oa = std::max(oa, za[k]);
        ob = std::max(ob, zb[k]);
    }
    return {za[c] - za[j], zb[c] - zb[j], std::min(za[c], za[j]) - oa, std::min(zb[c], zb[j]) - ob};
}

}  // namespace

std::vector<ChebyshevResult> chebyshev_all(const RegionModel& M, const std::vector<Index>& classes,
                                           const LPOptions& opt, int threads) {
    std::vector<ChebyshevResult> out(classes.size());
    parallel_for(static_cast<Index>(classes.size()), threads,
                 [&](Index i) { out[i] = chebyshev(M, classes[i], opt); });
    return out;
}

AdjacencyResult adjacency(const RegionModel& M, const std::vector<ChebyshevResult>& cheb, double tol,
                          const LPOptions& opt, int threads, const std::vector<char>* todo) {
    const Index K = M.K(), d = M.d();
    std::vector<FacetResult> per(K);
    std::vector<std::vector<Index>> live(K);
    parallel_for(K, threads, [&](Index c) {
        // A pair needs both regions full-dimensional; it is tested once, from the smaller index.
        for (Index j = c + 1; j < K; ++j) {
            if (todo && !(*todo)[c * K + j]) continue;
            if (cheb[c].status != kRegionFull && cheb[c].status != kRegionUnboundedBall) break;
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

ConstructedFacets construct_facets(const RegionModel& M, double tol, int threads) {
    const Index K = M.K(), d = M.d();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    ConstructedFacets out;
    out.status.assign(K * K, kFacetNotTested);
    out.level.assign(K * K, nan);
    out.weight.assign(K * K, nan);
    out.value.assign(K * K, nan);
    if (K < 2 || K > d) return out;  // K > d: W has no right inverse
    // Base point: the box centre (a bound plus the typical half-width where only one side is finite);
    // weights s: the half-widths, so that moves spread over the coordinates in proportion to their room.
    double sigma = 0.0;
    for (Index i = 0; i < d; ++i)
        if (std::isfinite(M.lo[i]) && std::isfinite(M.hi[i])) sigma = std::max(sigma, 0.5 * (M.hi[i] - M.lo[i]));
    if (!(sigma > 0.0)) sigma = 1.0;
    Eigen::VectorXd m(d), s2(d);
    for (Index i = 0; i < d; ++i) {
        const bool fl = std::isfinite(M.lo[i]), fh = std::isfinite(M.hi[i]);
        double s;
        if (fl && fh) {
            m[i] = M.lo[i] + 0.5 * (M.hi[i] - M.lo[i]);
            s = 0.5 * (M.hi[i] - M.lo[i]);
        } else if (fl) {
            m[i] = M.lo[i] + sigma;
            s = sigma;
        } else if (fh) {
            m[i] = M.hi[i] - sigma;
            s = sigma;
        } else {
            m[i] = 0.0;
            s = sigma;
        }
        s2[i] = s * s;
    }
    // V^T = G^{-1} W S^2 with G = W S^2 W^T (K x K). Blocks of rows / columns run in parallel; each
    // block's arithmetic is fixed, so V is the same for any thread count.
    const RowMatrixXd WS = M.W * s2.asDiagonal();
    Eigen::MatrixXd G(K, K);
    const Index nb = 64;
    const Index gblocks = (K + nb - 1) / nb;
    parallel_for(gblocks, threads, [&](Index t) {
        const Index r0 = t * nb, r = std::min(nb, K - r0);
        G.middleRows(r0, r).noalias() = WS.middleRows(r0, r) * M.W.transpose();
    });
    G = 0.5 * (G + G.transpose()).eval();
    Eigen::LLT<Eigen::MatrixXd> llt(G);
    if (llt.info() != Eigen::Success) return out;
    // A nearly singular G (nearly dependent class rows) gives a useless V: refuse it early.
    const Eigen::VectorXd Ld = llt.matrixL().toDenseMatrix().diagonal();
    if (!(Ld.minCoeff() > 1e-6 * Ld.maxCoeff())) return out;
    out.V.resize(K, d);
    const Index cb = 256, cblocks = (d + cb - 1) / cb;
    parallel_for(cblocks, threads, [&](Index t) {
        const Index c0 = t * cb, w = std::min(cb, d - c0);
        out.V.middleCols(c0, w) = llt.solve(Eigen::MatrixXd(WS.middleCols(c0, w)));
    });
    std::vector<double> eblk(gblocks, 0.0);
    parallel_for(gblocks, threads, [&](Index t) {
        const Index r0 = t * nb, r = std::min(nb, K - r0);
        Eigen::MatrixXd E = M.W.middleRows(r0, r) * out.V.transpose();
        for (Index a = 0; a < r; ++a) E(a, r0 + a) -= 1.0;
        eblk[t] = E.cwiseAbs().maxCoeff();
    });
    out.inverse_error = *std::max_element(eblk.begin(), eblk.end());
    if (!(out.inverse_error <= 1e-8)) return out;
    out.applies = true;
    out.base = m;
    const Eigen::VectorXd z0 = M.W * m + M.b;
    double ls = 0.0;
    for (Index k = 0; k < K; ++k) ls = std::max(ls, (M.W.row(k).cwiseProduct(s2.cwiseSqrt().transpose())).norm());
    if (!(ls > 0.0)) ls = 1.0;
    const double delta = 0.02 * ls, eps = 0.5 * delta, mu = 0.25 * delta;
    out.delta = delta;
    out.eps = eps;
    std::vector<Index> ord(K);
    std::iota(ord.begin(), ord.end(), Index(0));
    std::stable_sort(ord.begin(), ord.end(), [&](Index p, Index q) { return z0[p] > z0[q]; });
    const Eigen::MatrixXd Wc = M.W;  // column-major: the column of a clipped coordinate is contiguous
    const double zmag = z0.cwiseAbs().maxCoeff();
    const double atol = std::abs(tol);
    // Water level: T minimises (T - z0_c)^2 + (T - z0_j)^2 + sum_k max(0, z0_k - T + delta)^2 over the
    // other classes k; `low` receives the classes above T - delta (pushed down to it).
    auto water_level = [&](Index c, Index j, std::vector<Index>& low) {
        const double zc = z0[c], zj = z0[j];
        double S = 0.0, T = 0.0;
        low.clear();
        for (Index pos = 0;; ++pos) {
            const Index L = static_cast<Index>(low.size());
            T = (zc + zj + S + static_cast<double>(L) * delta) / static_cast<double>(2 + L);
            while (pos < K && (ord[pos] == c || ord[pos] == j)) ++pos;
            if (pos >= K || z0[ord[pos]] <= T - delta) break;
            low.push_back(ord[pos]);
            S += z0[ord[pos]];
        }
        return T;
    };
    std::vector<Index> proven(K, 0), clipped(K, 0);
    parallel_for(K, threads, [&](Index c) {
        Eigen::VectorXd base(d), x(d), dz = Eigen::VectorXd::Zero(K), za(K), zb(K);
        std::vector<Index> low;
        // Logits at clip(x) for the logit change dz: z0 + dz + W (clip(x) - x); returns whether it clipped.
        auto endpoint = [&](Eigen::VectorXd& z) {
            bool any = false;
            z = z0 + dz;
            for (Index i = 0; i < d; ++i) {
                const double xi = x[i], ci = std::min(std::max(xi, M.lo[i]), M.hi[i]);
                if (ci != xi) {
                    any = true;
                    z.noalias() += (ci - xi) * Wc.col(i);
                }
            }
            return any;
        };
        for (Index j = c + 1; j < K; ++j) {
            const double zc = z0[c], zj = z0[j];
            const double T = water_level(c, j, low);
            base = m;
            double dz1 = 0.0;
            for (Index k : low) {
                dz[k] = T - delta - z0[k];
                dz1 += std::abs(dz[k]);
                base.noalias() += dz[k] * out.V.row(k).transpose();
            }
            const double err = out.inverse_error * (dz1 + std::abs(T - zc) + std::abs(T - zj) + 2 * eps) +
                               1e-11 * (1.0 + zmag + dz1);
            bool any = false;
            dz[c] = T + eps - zc;
            dz[j] = T - eps - zj;
            x = base + dz[c] * out.V.row(c).transpose() + dz[j] * out.V.row(j).transpose();
            any |= endpoint(za);
            dz[c] = T - eps - zc;
            dz[j] = T + eps - zj;
            x = base + dz[c] * out.V.row(c).transpose() + dz[j] * out.V.row(j).transpose();
            any |= endpoint(zb);
            for (Index k : low) dz[k] = 0.0;
            dz[c] = dz[j] = 0.0;
            const auto [ga, gb, ma, mb] = end_margins(za, zb, c, j);
            if (any) ++clipped[c];
            const double nj = (M.W.row(j) - M.W.row(c)).norm();
            if (!(ga >= eps + err && -gb >= eps + err && ma >= mu + err && mb >= mu + err)) continue;
            if (!((-gb - err) / nj > atol)) continue;
            const Index cj = c * K + j, jc = j * K + c;
            out.status[cj] = out.status[jc] = kFacet;
            out.level[cj] = T;
            out.weight[cj] = -gb / (ga - gb);
            out.value[cj] = out.value[jc] = -gb / nj;
            ++proven[c];
        }
    });
    out.proven = std::accumulate(proven.begin(), proven.end(), Index(0));
    out.clipped = std::accumulate(clipped.begin(), clipped.end(), Index(0));

    // Second pass for the pairs the clipping spoiled: each endpoint is solved for exactly, W f + b =
    // its logit targets, by a right inverse restricted to the coordinates not yet at a bound; a
    // coordinate the step pushes out of the box is fixed at that bound (its column leaves G by a
    // rank-one downdate) and the step is redone, until no coordinate leaves the box. The logits of
    // the endpoints are then evaluated directly (W f + b) and the same margins are required. Costs a
    // K x K factorisation per step, so it is given a budget of pairs.
    std::vector<Index> failed;
    for (Index c = 0; c < K; ++c)
        for (Index j = c + 1; j < K; ++j)
            if (out.status[c * K + j] != kFacet) failed.push_back(c * K + j);
    const double kk = static_cast<double>(K);
    const Index budget = static_cast<Index>(std::max(16.0, 1e11 / (kk * kk * kk + kk * kk * static_cast<double>(d))));
    if (failed.size() > static_cast<size_t>(budget)) failed.resize(budget);
    const Index R = static_cast<Index>(failed.size());
    std::vector<char> ok(R, 0);
    RowMatrixXd pts(R, d);
    std::vector<double> val(R, nan);
    parallel_for(R, threads, [&](Index r) {
        const Index c = failed[r] / K, j = failed[r] % K;
        std::vector<Index> low;
        const double T = water_level(c, j, low);
        Eigen::VectorXd tgt = z0;
        for (Index k : low) tgt[k] = T - delta;
        Eigen::VectorXd f[2];
        for (int e = 0; e < 2; ++e) {
            const double sg = e == 0 ? 1.0 : -1.0;
            tgt[c] = T + sg * eps;
            tgt[j] = T - sg * eps;
            Eigen::MatrixXd Gf = G;
            std::vector<char> fixed(d, 0);
            Eigen::VectorXd x = m, sf = s2;
            bool done = false;
            for (int it = 0; it < 50 && !done; ++it) {
                Eigen::LLT<Eigen::MatrixXd> lf(Gf);
                if (lf.info() != Eigen::Success) break;
                const Eigen::VectorXd res = tgt - (M.W * x + M.b);
                const Eigen::VectorXd y = lf.solve(res);
                x.noalias() += sf.cwiseProduct(M.W.transpose() * y);
                done = true;
                for (Index i = 0; i < d; ++i) {
                    if (fixed[i]) continue;
                    const double ci = std::min(std::max(x[i], M.lo[i]), M.hi[i]);
                    if (ci == x[i]) continue;
                    x[i] = ci;
                    fixed[i] = 1;
                    Gf.noalias() -= sf[i] * (Wc.col(i) * Wc.col(i).transpose());
                    sf[i] = 0.0;
                    done = false;
                }
            }
            if (!done) return;
            f[e] = x;
        }
        const Eigen::VectorXd za = M.W * f[0] + M.b, zb = M.W * f[1] + M.b;
        const auto [ga, gb, ma, mb] = end_margins(za, zb, c, j);
        const double err = 1e-11 * (1.0 + za.cwiseAbs().maxCoeff() + zb.cwiseAbs().maxCoeff());
        const double nj = (M.W.row(j) - M.W.row(c)).norm();
        if (!(ga >= eps + err && -gb >= eps + err && ma >= mu + err && mb >= mu + err)) return;
        if (!((-gb - err) / nj > atol)) return;
        const double lam = -gb / (ga - gb);
        pts.row(r) = (lam * f[0] + (1.0 - lam) * f[1]).transpose();
        val[r] = -gb / nj;
        ok[r] = 1;
    });
    Index nr = 0;
    for (Index r = 0; r < R; ++r) nr += ok[r];
    out.points.resize(nr, d);
    for (Index r = 0, q = 0; r < R; ++r) {
        if (!ok[r]) continue;
        const Index c = failed[r] / K, j = failed[r] % K;
        out.point_pairs.push_back(c);
        out.point_pairs.push_back(j);
        out.points.row(q++) = pts.row(r);
        out.status[c * K + j] = out.status[j * K + c] = kFacet;
        out.value[c * K + j] = out.value[j * K + c] = val[r];
    }
    out.refined = nr;
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
