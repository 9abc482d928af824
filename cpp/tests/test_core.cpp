// C++-level tests of the LP engine and the projection routines, against closed forms.
// Built with -DHULLSCOPE_BUILD_TESTS=ON (tests/test_cpp_core.py builds and runs it); prints
// "N passed, M failed" and exits non-zero on any failure.
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>

#include "hullscope/hull.hpp"
#include "hullscope/lp.hpp"
#include "hullscope/parallel.hpp"
#include "hullscope/regions.hpp"

using namespace hullscope;

static int passed = 0, failed = 0;

static void check(bool ok, const std::string& what) {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        std::printf("FAILED: %s\n", what.c_str());
    }
}

static bool near(double a, double b, double tol = 1e-9) { return std::abs(a - b) <= tol * (1.0 + std::abs(b)); }

static const double kInfD = std::numeric_limits<double>::infinity();

int main() {
    // ---- LP: max x + y s.t. x + 2y <= 4, 3x + y <= 6, x, y >= 0 -> (8/5, 6/5), value 14/5
    {
        Eigen::MatrixXd A(2, 2);
        A << 1, 2, 3, 1;
        Eigen::VectorXd b(2), c(2), lo = Eigen::VectorXd::Zero(2), hi = Eigen::VectorXd::Constant(2, kInfD);
        b << 4, 6;
        c << 1, 1;
        const LPResult r = solve_lp(A, b, c, lo, hi, nullptr);
        check(r.status == kLpOptimal, "lp: optimal");
        check(near(r.value, 2.8) && near(r.x[0], 1.6) && near(r.x[1], 1.2), "lp: vertex (8/5, 6/5)");
        // weak duality: b.y = value with y >= 0 and A^T y >= c
        const Eigen::VectorXd aty = A.transpose() * r.y;
        check(r.y.minCoeff() >= 0 && near(b.dot(r.y), r.value) && aty[0] >= 1 - 1e-9 && aty[1] >= 1 - 1e-9,
              "lp: dual certificate");
    }
    // ---- LP infeasible: x <= -1, x >= 0 (as bounds) -> Farkas y with y.b < inf over the box of (A^T y) x
    {
        Eigen::MatrixXd A(1, 1);
        A << 1;
        Eigen::VectorXd b(1), c(1), lo(1), hi(1);
        b << -1;
        c << 1;
        lo << 0;
        hi << 5;
        const LPResult r = solve_lp(A, b, c, lo, hi, nullptr);
        check(r.status == kLpInfeasible, "lp: infeasible");
        check(r.y.size() == 1 && r.y[0] > 0 && r.y[0] * b[0] < 0.0, "lp: Farkas multipliers");
    }
    // ---- LP unbounded: max x s.t. -x <= 0 -> a ray
    {
        Eigen::MatrixXd A(1, 1);
        A << -1;
        Eigen::VectorXd b = Eigen::VectorXd::Zero(1), c = Eigen::VectorXd::Ones(1);
        Eigen::VectorXd lo = Eigen::VectorXd::Constant(1, -kInfD), hi = Eigen::VectorXd::Constant(1, kInfD);
        const LPResult r = solve_lp(A, b, c, lo, hi, nullptr);
        check(r.status == kLpUnbounded && r.ray.size() == 1 && r.ray[0] > 0, "lp: unbounded with a ray");
    }
    // ---- projection onto a half-plane {x + y <= 1} from (2, 2): closed form (0.5, 0.5), distance 1.5 sqrt 2
    {
        Eigen::MatrixXd R(1, 2);
        R << 1, 1;
        Eigen::VectorXd h(1), f0(2);
        h << 1;
        f0 << 2, 2;
        const ProjectionResult p = project_polyhedron(R, h, 0, f0, 1e-12, 0);
        check(p.converged && near(p.f[0], 0.5) && near(p.f[1], 0.5), "projection: half-plane point");
        check(near(p.distance, 1.5 * std::sqrt(2.0)) && near(p.lower, p.distance, 1e-7), "projection: distance, bound");
    }
    // ---- projection onto the degenerate cone of the reproducer: three rows active in 2-D
    {
        // class 0 of W = [[.75,-.03],[.65,-.65],[.34,1.33],[.47,-.22]], b = [-1.21,1.28,-.54,.66] from (2.06, 1.83)
        const double W[4][2] = {{.75, -.03}, {.65, -.65}, {.34, 1.33}, {.47, -.22}};
        const double bb[4] = {-1.21, 1.28, -.54, .66};
        Eigen::MatrixXd R(3, 2);
        Eigen::VectorXd h(3), f0(2);
        for (int k = 1; k < 4; ++k) {
            R(k - 1, 0) = W[k][0] - W[0][0];
            R(k - 1, 1) = W[k][1] - W[0][1];
            h[k - 1] = bb[0] - bb[k];
        }
        f0 << 2.06, 1.83;
        const ProjectionResult p = project_polyhedron(R, h, 0, f0, 1e-12, 0);
        check(p.converged, "projection: degenerate cone converges");
        check(near(p.distance, 7.70775464, 1e-7), "projection: degenerate cone distance (HiGHS QP 7.70775464)");
        check(((R * p.f - h).array() <= 1e-9).all(), "projection: degenerate cone point is feasible");
    }
    // ---- box / half-space projection: the tie at a corner (inf before the fix) and an unreachable rival
    {
        const double f0[2] = {1.0, 0.6}, a[2] = {-2.0, -4.0}, lo[2] = {0, 0}, hi[2] = {1, 1};
        double x[2];
        const double dist = project_box_halfspace(f0, a, 0.0, lo, hi, 2, x);
        check(near(dist, std::hypot(1.0, 0.6)) && std::abs(x[0]) < 1e-12 && std::abs(x[1]) < 1e-12,
              "box half-space: corner tie reached");
        const double a2[2] = {-1.0, -1.0};
        check(std::isinf(project_box_halfspace(f0, a2, 0.5, lo, hi, 2, x)), "box half-space: unreachable is inf");
        const double a3[2] = {1.0, 0.0};
        check(near(project_box_halfspace(f0, a3, 0.5, lo, hi, 2, x), 0.0), "box half-space: already inside");
    }
    // ---- parallel_for keeps the exception type
    {
        bool got_bad_alloc = false;
        try {
            parallel_for(64, 2, [](Index i) {
                if (i == 17) throw std::bad_alloc();
            });
        } catch (const std::bad_alloc&) {
            got_bad_alloc = true;
        } catch (...) {
        }
        check(got_bad_alloc, "parallel_for: bad_alloc stays bad_alloc");
    }
    // ---- the hull engine on an offset single point: outside by exactly 1e-8
    {
        const double X[3] = {1e6 + 3.0, -1.0, 2.0};
        const double Q[3] = {1e6 + 3.0, -1.0 + 1e-8, 2.0};
        PointSet ps(X, 1, 3, 1);
        SolveOptions opt;
        const SolveResult r = solve_hull(ps, Q, 1, nullptr, 0, nullptr, opt);
        check(r.status[0] == kOutside, "hull: single offset point separated");
        check(r.margin[0] <= r.distance[0] * (1 + 1e-9), "hull: margin never exceeds the distance");
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
