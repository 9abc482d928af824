// Dense bounded-variable primal simplex (see lp.hpp for the problem and the certificates).
//
// Form used inside: rows are scaled to unit norm and a slack s_i >= 0 is added to each, so that
// A x + s - t v = b, where t >= 0 is a single artificial column covering the rows that the start
// point violates (v_i = 1 on those rows). The basis has m columns and its inverse is kept
// explicitly (m is the number of rows, at most a few thousand here), updated by a rank-one
// product-form step per pivot and rebuilt from an LU factorisation every `refactor_every` pivots.
//
// Nonbasic variables need not sit at a bound: a free variable, or a variable warm-started at an
// interior value, stays where it is until it enters the basis or runs into one of its bounds. This
// lets a known interior point start phase 2 directly. Pricing is Dantzig's rule with a Harris
// two-pass ratio test; after a run of degenerate pivots the solver switches to Bland's rule, which
// cannot cycle, until a step makes progress again.
#include "hullscope/lp.hpp"

#include <Eigen/LU>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace hullscope {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

class Simplex {
  public:
    Simplex(const Eigen::Ref<const Eigen::MatrixXd>& A, const Eigen::Ref<const Eigen::VectorXd>& b,
            const Eigen::Ref<const Eigen::VectorXd>& lo, const Eigen::Ref<const Eigen::VectorXd>& hi,
            const LPOptions& opt)
        : m_(A.rows()), n_(A.cols()), opt_(opt) {
        rs_.resize(m_);
        As_.resize(m_, n_);
        bs_.resize(m_);
        for (Index i = 0; i < m_; ++i) {
            const double nr = A.row(i).norm();
            rs_[i] = nr > 0 ? 1.0 / nr : 1.0;
            As_.row(i) = A.row(i) * rs_[i];
            bs_[i] = b[i] * rs_[i];
        }
        const Index N = n_ + m_ + 1;
        L_.assign(N, 0.0);
        U_.assign(N, kInf);
        val_.assign(N, 0.0);
        cost_.assign(N, 0.0);
        pos_.assign(N, -1);
        for (Index j = 0; j < n_; ++j) {
            L_[j] = lo[j];
            U_[j] = hi[j];
        }
        v_.assign(m_, 0.0);
        basis_.resize(m_);
    }

    Index tcol() const { return n_ + m_; }

    // Start at x0 (clipped into the bounds) with the all-slack basis. Returns the artificial's value.
    double start(const Eigen::VectorXd* x0) {
        for (Index j = 0; j < n_; ++j) {
            double x = x0 ? (*x0)[j] : 0.0;
            if (!std::isfinite(x)) x = 0.0;
            x = std::min(std::max(x, L_[j]), U_[j]);
            val_[j] = x;
        }
        Eigen::Map<const Eigen::VectorXd> xs(val_.data(), n_);
        Eigen::VectorXd r = bs_ - As_ * xs;
        double t0 = 0.0;
        for (Index i = 0; i < m_; ++i) {
            if (r[i] < -opt_.feas_tol) {
                v_[i] = 1.0;
                t0 = std::max(t0, -r[i]);
            }
        }
        for (Index i = 0; i < m_; ++i) {
            const Index k = n_ + i;
            basis_[i] = k;
            pos_[k] = i;
            val_[k] = std::max(0.0, r[i] + t0 * v_[i]);
        }
        val_[tcol()] = t0;
        Binv_ = Eigen::MatrixXd::Identity(m_, m_);
        since_refactor_ = 0;
        return t0;
    }

    void set_costs(const Eigen::VectorXd* c, double t_cost) {
        std::fill(cost_.begin(), cost_.end(), 0.0);
        if (c)
            for (Index j = 0; j < n_; ++j) cost_[j] = (*c)[j];
        cost_[tcol()] = t_cost;
    }

    // Fix the artificial at zero for phase 2.
    void close_artificial() {
        L_[tcol()] = 0.0;
        U_[tcol()] = 0.0;
        if (pos_[tcol()] < 0) {
            val_[tcol()] = 0.0;
            refactor();
        }
    }

    // Column j of [A_s | I | -v] into out.
    void column(Index j, Eigen::VectorXd& out) const {
        if (j < n_) {
            out = As_.col(j);
        } else if (j < n_ + m_) {
            out.setZero(m_);
            out[j - n_] = 1.0;
        } else {
            for (Index i = 0; i < m_; ++i) out[i] = -v_[i];
        }
    }

    void refactor() {
        if (m_ == 0) return;
        // Slack columns are unit vectors, so only the k general basic columns need a dense
        // factorisation: with S the rows whose slack is basic and N the others (|N| = k),
        // B z = r gives z_G = C^-1 r_N (C = the general columns restricted to N) and
        // z_slack(i) = r_i - a_i,G z_G for i in S. Cost O(m k^2 + k^3) instead of O(m^3).
        std::vector<Index> gen, rowsN, rank(m_, -1);
        std::vector<char> slack_row(m_, 0);
        for (Index p = 0; p < m_; ++p) {
            const Index v = basis_[p];
            if (v >= n_ && v < n_ + m_) slack_row[v - n_] = 1;
            else gen.push_back(p);
        }
        for (Index i = 0; i < m_; ++i)
            if (!slack_row[i]) {
                rank[i] = static_cast<Index>(rowsN.size());
                rowsN.push_back(i);
            }
        const Index k = static_cast<Index>(gen.size());
        if (static_cast<Index>(rowsN.size()) != k) throw std::runtime_error("simplex: basis is not square");
        Eigen::MatrixXd C(k, k), G(m_, k);  // G: general basic columns, all rows
        Eigen::VectorXd col(m_);
        for (Index a = 0; a < k; ++a) {
            column(basis_[gen[a]], col);
            G.col(a) = col;
            for (Index r = 0; r < k; ++r) C(r, a) = col[rowsN[r]];
        }
        Eigen::MatrixXd Cinv = k ? Eigen::MatrixXd(C.partialPivLu().inverse()) : Eigen::MatrixXd(0, 0);
        Binv_.setZero(m_, m_);
        for (Index a = 0; a < k; ++a)
            for (Index r = 0; r < k; ++r) Binv_(gen[a], rowsN[r]) = Cinv(a, r);
        // Slack rows: e_i - a_{i,G} C^-1 E_N.
        Eigen::MatrixXd T = k ? Eigen::MatrixXd(G * Cinv) : Eigen::MatrixXd::Zero(m_, 0);  // (m, k)
        for (Index p = 0; p < m_; ++p) {
            const Index v = basis_[p];
            if (v < n_ || v >= n_ + m_) continue;
            const Index i = v - n_;
            Binv_(p, i) = 1.0;
            for (Index r = 0; r < k; ++r) Binv_(p, rowsN[r]) -= T(i, r);
        }
        // Recompute the basic values from the nonbasic ones: x_B = B^-1 (b - N x_N).
        Eigen::VectorXd rhs = bs_;
        Eigen::VectorXd xn(n_);
        for (Index j = 0; j < n_; ++j) xn[j] = pos_[j] < 0 ? val_[j] : 0.0;
        rhs.noalias() -= As_ * xn;
        for (Index i = 0; i < m_; ++i)
            if (pos_[n_ + i] < 0) rhs[i] -= val_[n_ + i];
        if (pos_[tcol()] < 0)
            for (Index i = 0; i < m_; ++i) rhs[i] += v_[i] * val_[tcol()];
        Eigen::VectorXd xb = Binv_ * rhs;
        for (Index i = 0; i < m_; ++i) val_[basis_[i]] = xb[i];
        since_refactor_ = 0;
    }

    Eigen::VectorXd duals() const {
        Eigen::VectorXd cb(m_);
        for (Index i = 0; i < m_; ++i) cb[i] = cost_[basis_[i]];
        return Binv_.transpose() * cb;
    }

    // Run the simplex on the current costs. Returns kLpOptimal, kLpUnbounded or kLpIterationLimit.
    int run(Index max_iter, Index& iters, Eigen::VectorXd& ray) {
        const Index N = n_ + m_ + 1;
        Eigen::VectorXd y(m_), dstruct(n_), alpha(m_), col(m_);
        std::vector<double> d(N, 0.0);
        int degenerate_run = 0;
        bool priced = false;  // reduced costs still valid (the basis has not changed since pricing)
        for (;;) {
            if (iters >= max_iter) return kLpIterationLimit;
            if (since_refactor_ >= opt_.refactor_every) {
                refactor();
                priced = false;
            }
            if (!priced) {
            y = duals();
            dstruct.noalias() = -(As_.transpose() * y);
            for (Index j = 0; j < n_; ++j) d[j] = cost_[j] + dstruct[j];
            for (Index i = 0; i < m_; ++i) d[n_ + i] = cost_[n_ + i] - y[i];
            {
                double s = 0.0;
                for (Index i = 0; i < m_; ++i) s += v_[i] * y[i];
                d[tcol()] = cost_[tcol()] + s;
            }
            priced = true;
            }
            const bool bland = degenerate_run > 50;
            Index enter = -1;
            double best = 0.0;
            for (Index j = 0; j < N; ++j) {
                if (pos_[j] >= 0) continue;
                const double dj = d[j];
                const bool up = dj > opt_.opt_tol && val_[j] < U_[j] - opt_.feas_tol;
                const bool down = dj < -opt_.opt_tol && val_[j] > L_[j] + opt_.feas_tol;
                if (!up && !down) continue;
                if (bland) {
                    enter = j;
                    break;
                }
                if (std::abs(dj) > best) {
                    best = std::abs(dj);
                    enter = j;
                }
            }
            if (enter < 0) return kLpOptimal;
            ++iters;
            const double delta = d[enter] > 0 ? 1.0 : -1.0;
            column(enter, col);
            alpha.noalias() = Binv_ * col;
            // Harris pass 1: the largest step allowed with bounds relaxed by feas_tol.
            const double own = delta > 0 ? U_[enter] - val_[enter] : val_[enter] - L_[enter];
            double theta_max = kInf;
            for (Index i = 0; i < m_; ++i) {
                const double rate = -delta * alpha[i];
                if (std::abs(alpha[i]) <= opt_.pivot_tol) continue;
                const Index k = basis_[i];
                double th = kInf;
                if (rate < 0 && L_[k] > -kInf) th = (val_[k] - L_[k] + opt_.feas_tol) / (-rate);
                else if (rate > 0 && U_[k] < kInf) th = (U_[k] + opt_.feas_tol - val_[k]) / rate;
                theta_max = std::min(theta_max, th);
            }
            if (theta_max == kInf && own == kInf) {
                ray.setZero(n_);
                if (enter < n_) ray[enter] = delta;
                for (Index i = 0; i < m_; ++i)
                    if (basis_[i] < n_) ray[basis_[i]] = -delta * alpha[i];
                return kLpUnbounded;
            }
            // Pass 2: among rows whose exact ratio fits under theta_max, the largest pivot.
            Index leave = -1;
            double theta = kInf, big = 0.0;
            for (Index i = 0; i < m_; ++i) {
                const double rate = -delta * alpha[i];
                if (std::abs(alpha[i]) <= opt_.pivot_tol) continue;
                const Index k = basis_[i];
                double th = kInf;
                if (rate < 0 && L_[k] > -kInf) th = std::max(0.0, (val_[k] - L_[k]) / (-rate));
                else if (rate > 0 && U_[k] < kInf) th = std::max(0.0, (U_[k] - val_[k]) / rate);
                if (th > theta_max) continue;
                if (bland) {
                    if (leave < 0 || th < theta || (th == theta && basis_[i] < basis_[leave])) {
                        leave = i;
                        theta = th;
                    }
                } else if (std::abs(alpha[i]) > big) {
                    big = std::abs(alpha[i]);
                    leave = i;
                    theta = th;
                }
            }
            if (own <= theta || leave < 0) {
                // Bound flip: the entering variable reaches its own bound first.
                const double step = std::max(0.0, own);
                val_[enter] = delta > 0 ? U_[enter] : L_[enter];
                for (Index i = 0; i < m_; ++i) val_[basis_[i]] += -delta * alpha[i] * step;
                degenerate_run = step <= 1e-12 ? degenerate_run + 1 : 0;
                continue;  // the basis is unchanged: the reduced costs stay valid

            }
            val_[enter] += delta * theta;
            for (Index i = 0; i < m_; ++i) val_[basis_[i]] += -delta * alpha[i] * theta;
            const Index k = basis_[leave];
            const double rate = -delta * alpha[leave];
            val_[k] = rate < 0 ? L_[k] : U_[k];
            pos_[k] = -1;
            basis_[leave] = enter;
            pos_[enter] = leave;
            // Product-form update of the inverse.
            const double piv = alpha[leave];
            Binv_.row(leave) /= piv;
            alpha[leave] = 0.0;
            Binv_.noalias() -= alpha * Binv_.row(leave);
            ++since_refactor_;
            priced = false;
            degenerate_run = theta <= 1e-12 ? degenerate_run + 1 : 0;
        }
    }

    // Dual simplex with a bound-flipping ratio test, for problems whose structural variables are all
    // boxed (finite lo and hi). It starts at the box vertex that maximises c (dual feasible with the
    // slack basis) and restores primal feasibility row by row. Returns kLpOptimal, kLpInfeasible
    // (dual unbounded; the caller re-solves with the primal method to get a Farkas certificate) or
    // kLpIterationLimit.
    int run_dual(const Eigen::VectorXd& c, Index max_iter, Index& iters) {
        const Index N = n_ + m_ + 1;
        for (Index j = 0; j < n_; ++j) val_[j] = c[j] > 0 ? U_[j] : L_[j];
        L_[tcol()] = U_[tcol()] = val_[tcol()] = 0.0;
        std::fill(v_.begin(), v_.end(), 0.0);
        set_costs(&c, 0.0);
        Eigen::Map<const Eigen::VectorXd> xs(val_.data(), n_);
        Eigen::VectorXd r0 = bs_ - As_ * xs;
        for (Index i = 0; i < m_; ++i) {
            basis_[i] = n_ + i;
            pos_[n_ + i] = i;
            val_[n_ + i] = r0[i];
        }
        for (Index j = 0; j < n_; ++j) pos_[j] = -1;
        pos_[tcol()] = -1;
        Binv_ = Eigen::MatrixXd::Identity(m_, m_);
        since_refactor_ = 0;
        std::vector<double> d(N, 0.0);
        Eigen::VectorXd y(m_), rho(m_), arow(n_), alpha(m_), col(m_), dB(m_), rownorm2(m_);
        auto price = [&]() {
            y = duals();
            arow.noalias() = As_.transpose() * y;
            for (Index j = 0; j < n_; ++j) d[j] = cost_[j] - arow[j];
            for (Index i = 0; i < m_; ++i) d[n_ + i] = -y[i];
            d[tcol()] = 0.0;
            for (Index p = 0; p < m_; ++p) d[basis_[p]] = 0.0;
        };
        price();
        struct Cand {
            double ratio;
            Index j;
            double a;
        };
        std::vector<Cand> cands;
        std::vector<Index> flipped;
        for (;;) {
            if (iters >= max_iter) return kLpIterationLimit;
            if (since_refactor_ >= opt_.refactor_every) {
                refactor();
                price();
            }
            // Leaving row by dual steepest edge: the largest violation^2 / ||row r of B^-1||^2. The
            // weights are exact (read off the explicit inverse), not updated approximations.
            Index r = -1;
            double worst = 0.0;
            bool any = false;
            for (Index p = 0; p < m_; ++p) {
                const Index k = basis_[p];
                const double viol = std::max(L_[k] - val_[k], val_[k] - U_[k]);
                if (viol <= opt_.feas_tol) continue;
                if (!any) {
                    any = true;
                    rownorm2 = Binv_.rowwise().squaredNorm();
                }
                const double score = viol * viol / std::max(rownorm2[p], 1e-300);
                if (score > worst) {
                    worst = score;
                    r = p;
                }
            }
            if (r < 0) return kLpOptimal;
            ++iters;
            const Index kr = basis_[r];
            const double sigma = val_[kr] < L_[kr] ? 1.0 : -1.0;
            const double bound = sigma > 0 ? L_[kr] : U_[kr];
            rho = Binv_.row(r).transpose();
            arow.noalias() = As_.transpose() * rho;
            auto arj = [&](Index j) { return j < n_ ? arow[j] : rho[j - n_]; };
            cands.clear();
            for (Index j = 0; j < n_ + m_; ++j) {
                if (pos_[j] >= 0 || !(U_[j] > L_[j])) continue;
                const double a = arj(j);
                if (std::abs(a) <= opt_.pivot_tol) continue;
                const bool at_upper = val_[j] >= U_[j];
                const bool ok = at_upper ? sigma * a > 0 : sigma * a < 0;
                if (!ok) continue;
                const double dj = at_upper ? std::max(0.0, d[j]) : std::max(0.0, -d[j]);
                cands.push_back({dj / std::abs(a), j, a});
            }
            if (cands.empty()) return kLpInfeasible;
            std::sort(cands.begin(), cands.end(), [](const Cand& p, const Cand& q) {
                return p.ratio < q.ratio || (p.ratio == q.ratio && p.j < q.j);
            });
            double slope = std::abs(val_[kr] - bound);
            Index enter = -1;
            double a_enter = 0.0;
            flipped.clear();
            for (const Cand& cd : cands) {
                const double range = U_[cd.j] - L_[cd.j];
                if (!std::isfinite(range) || slope - std::abs(cd.a) * range < 0) {
                    enter = cd.j;
                    a_enter = cd.a;
                    break;
                }
                slope -= std::abs(cd.a) * range;
                flipped.push_back(cd.j);
            }
            if (enter < 0) return kLpInfeasible;
            const double thetaD = d[enter] / a_enter;
            // Bound flips of the passed candidates, then their effect on the basic values.
            if (!flipped.empty()) {
                dB.setZero();
                for (Index j : flipped) {
                    const double to = val_[j] >= U_[j] ? L_[j] : U_[j];
                    const double dx = to - val_[j];
                    val_[j] = to;
                    if (j < n_) dB.noalias() += As_.col(j) * dx;
                    else dB[j - n_] += dx;
                }
                alpha.noalias() = Binv_ * dB;
                for (Index p = 0; p < m_; ++p) val_[basis_[p]] -= alpha[p];
            }
            for (Index j = 0; j < n_ + m_; ++j)
                if (pos_[j] < 0) d[j] -= thetaD * arj(j);
            column(enter, col);
            alpha.noalias() = Binv_ * col;
            const double piv = alpha[r];
            if (std::abs(piv) <= opt_.pivot_tol) {  // inconsistent after round-off: rebuild and retry
                refactor();
                price();
                continue;
            }
            const double delta = (val_[kr] - bound) / piv;
            val_[enter] += delta;
            for (Index p = 0; p < m_; ++p) val_[basis_[p]] -= delta * alpha[p];
            val_[kr] = bound;
            pos_[kr] = -1;
            basis_[r] = enter;
            pos_[enter] = r;
            d[enter] = 0.0;
            d[kr] = -thetaD;
            Binv_.row(r) /= piv;
            alpha[r] = 0.0;
            Binv_.noalias() -= alpha * Binv_.row(r);
            ++since_refactor_;
        }
    }

    Index m_, n_;
    LPOptions opt_;
    Eigen::MatrixXd As_;
    Eigen::VectorXd bs_, rs_;
    std::vector<double> L_, U_, val_, cost_, v_;
    std::vector<Index> pos_, basis_;
    Eigen::MatrixXd Binv_;
    int since_refactor_ = 0;
};

}  // namespace

LPResult solve_lp(const Eigen::Ref<const Eigen::MatrixXd>& A, const Eigen::Ref<const Eigen::VectorXd>& b,
                  const Eigen::Ref<const Eigen::VectorXd>& c, const Eigen::Ref<const Eigen::VectorXd>& lo,
                  const Eigen::Ref<const Eigen::VectorXd>& hi, const Eigen::VectorXd* x_start,
                  const LPOptions& opt) {
    const Index m = A.rows(), n = A.cols();
    if (b.size() != m || c.size() != n || lo.size() != n || hi.size() != n)
        throw std::invalid_argument("solve_lp: inconsistent dimensions");
    for (Index j = 0; j < n; ++j)
        if (lo[j] > hi[j]) throw std::invalid_argument("solve_lp: a lower bound exceeds its upper bound");
    if (x_start && x_start->size() != n) throw std::invalid_argument("solve_lp: x_start has the wrong length");
    LPResult res;
    const Index max_iter = opt.max_iterations > 0 ? opt.max_iterations : 50 * (m + n) + 1000;
    bool boxed = !x_start && opt.dual_when_boxed;
    for (Index j = 0; j < n && boxed; ++j) boxed = std::isfinite(lo[j]) && std::isfinite(hi[j]);
    if (boxed) {
        Simplex D(A, b, lo, hi, opt);
        const double cmax = c.size() ? c.cwiseAbs().maxCoeff() : 0.0;
        const double cs = cmax > 0 ? 1.0 / cmax : 1.0;
        Index it = 0;
        if (D.run_dual(c * cs, max_iter, it) == kLpOptimal) {
            D.refactor();
            res.status = kLpOptimal;
            res.iterations = it;
            res.x = Eigen::Map<const Eigen::VectorXd>(D.val_.data(), n);
            for (Index j = 0; j < n; ++j) res.x[j] = std::min(std::max(res.x[j], lo[j]), hi[j]);
            res.y = (D.duals().cwiseMax(0.0).cwiseProduct(D.rs_)) / cs;
            res.value = c.dot(res.x);
            return res;
        }
        // Infeasible or stalled: the primal method below decides, with its certificates.
    }
    Simplex S(A, b, lo, hi, opt);
    const double t0 = S.start(x_start);
    Eigen::VectorXd ray;
    Index iters = 0;
    if (t0 > 0) {
        S.set_costs(nullptr, -1.0);
        const int st = S.run(max_iter, iters, ray);
        res.phase1_iterations = iters;
        if (st == kLpIterationLimit) {
            res.status = kLpIterationLimit;
            res.x = Eigen::Map<const Eigen::VectorXd>(S.val_.data(), n);
            res.y = Eigen::VectorXd::Zero(m);
            res.iterations = iters;
            res.value = c.dot(res.x);
            return res;
        }
        if (S.val_[S.tcol()] > opt.feas_tol) {
            Eigen::VectorXd ys = S.duals();
            res.status = kLpInfeasible;
            res.y = ys.cwiseMax(0.0).cwiseProduct(S.rs_);
            res.x = Eigen::Map<const Eigen::VectorXd>(S.val_.data(), n);
            res.iterations = iters;
            res.value = -kInf;
            return res;
        }
    }
    S.close_artificial();
    const double cmax = c.size() ? c.cwiseAbs().maxCoeff() : 0.0;
    const double cs = cmax > 0 ? 1.0 / cmax : 1.0;
    Eigen::VectorXd c_s = c * cs;
    S.set_costs(&c_s, 0.0);
    const int st = S.run(max_iter, iters, ray);
    // A last clean solve of the basic values before reporting.
    S.refactor();
    res.iterations = iters;
    res.x = Eigen::Map<const Eigen::VectorXd>(S.val_.data(), n);
    // Clip tiny bound violations left by the Harris tolerance.
    for (Index j = 0; j < n; ++j) res.x[j] = std::min(std::max(res.x[j], lo[j]), hi[j]);
    res.y = (S.duals().cwiseMax(0.0).cwiseProduct(S.rs_)) / cs;
    res.status = st;
    if (st == kLpUnbounded) {
        res.ray = ray;
        res.value = kInf;
    } else {
        res.value = c.dot(res.x);
    }
    return res;
}

}  // namespace hullscope
