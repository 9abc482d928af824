// hullscope core: shared types and small numeric helpers.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include <Eigen/Core>

namespace hullscope {

using Index = std::int64_t;
using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Thrown when a caller-supplied interruption check fires (Ctrl-C in Python).
struct Interrupted : std::exception {
    const char* what() const noexcept override { return "interrupted"; }
};

// Number of OpenMP threads to use for `requested` (0 = all available).
int resolve_threads(int requested);
// True when the core was compiled with OpenMP.
bool have_openmp();
// Maximum number of threads OpenMP would use by default.
int max_threads();

// Dot product with a fixed summation order (8 interleaved partial sums, combined pairwise).
// The order depends only on n, never on pointer alignment or on the thread that runs it,
// which is what makes results bitwise reproducible across thread counts and query chunkings.
inline double dot_fixed(const double* a, const double* b, Index n) {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    Index k = 0;
    for (; k + 8 <= n; k += 8) {
        for (int j = 0; j < 8; ++j) s[j] += a[k + j] * b[k + j];
    }
    for (int j = 0; k < n; ++k, ++j) s[j] += a[k] * b[k];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

// (a - c) . (b - c) with the same fixed order.
// a and b may be float32 rows: every element is widened to double before any arithmetic.
template <class A, class B>
inline double dot_shifted(const A* a, const B* b, const double* c, Index n) {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    Index k = 0;
    for (; k + 8 <= n; k += 8) {
        for (int j = 0; j < 8; ++j)
            s[j] += (static_cast<double>(a[k + j]) - c[k + j]) * (static_cast<double>(b[k + j]) - c[k + j]);
    }
    for (int j = 0; k < n; ++k, ++j) s[j] += (static_cast<double>(a[k]) - c[k]) * (static_cast<double>(b[k]) - c[k]);
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

// (a - c) . b with the same fixed order.
template <class A>
inline double centred_dot(const A* a, const double* c, const double* b, Index n) {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    Index k = 0;
    for (; k + 8 <= n; k += 8) {
        for (int j = 0; j < 8; ++j) s[j] += (static_cast<double>(a[k + j]) - c[k + j]) * b[k + j];
    }
    for (int j = 0; k < n; ++k, ++j) s[j] += (static_cast<double>(a[k]) - c[k]) * b[k];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

}  // namespace hullscope
