// hullscope core: the pricing pass, the only place that streams over the whole point set.
//
// One pass computes T = (X_rows - 1 center^T) * Z for a block of query directions Z (d x Bp, k-major, Bp a
// multiple of 8), tile by tile, and reduces each column on the fly: the P smallest values with
// their row indices, and optional maxima. No n x B matrix is ever stored.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "hullscope/common.hpp"

namespace hullscope {

// A candidate row with its value. Ordered by (value, index) so that top-P sets are unique
// whatever the partition of the rows between threads.
struct Cand {
    double v;
    Index i;
    bool operator<(const Cand& o) const { return v < o.v || (v == o.v && i < o.i); }
};

// Per-column reduction mode.
enum class PassMode : int {
    kNearest = 0,  // value = |x_i|^2 - 2 x_i.z ; also max(value) and max(x_i.z - xc_i)
    kPrice = 1,    // value = x_i.z
};

struct PassColumn {
    PassMode mode = PassMode::kPrice;
    Index exclude = -1;  // a row to skip for this column (leave-one-out), or -1
    double shift = 0.0;  // subtracted from every x_i.z of this column (center.z when `center` is not given)
    int top = 0;         // candidates kept for this column (0: the pass's P)
};

struct PassOutput {
    std::vector<Cand> best;  // the P (or the column's top) smallest values, sorted ascending
    double vmax = -INFINITY;  // max value (kNearest only)
    double cmax = -INFINITY;  // max over rows of x_i.z - xc_i (kNearest only, when xc given)
};

// The non-zero entries of X, row by row (CSR), kept beside X where most entries are zero (see
// PointSet::sparse). Entry t of row i is X[i, idx[t]] = val[t] for ptr[i] <= t < ptr[i + 1], with
// idx ascending; val holds X's own stored values (never -0.0 or 0.0).
template <class T>
struct SparseRows {
    const Index* ptr = nullptr;          // n + 1 offsets
    const std::uint16_t* idx = nullptr;  // column of each entry (d <= 65,536)
    const T* val = nullptr;              // its value, as X stores it
};

// T is the storage type of X: double, or float (widened to double element by element; every
// product and sum is taken in double, so a float32 X gives exact answers for the stored values).
template <class T>
struct PassInput {
    const T* X = nullptr;        // n x d row-major
    Index n = 0;
    Index d = 0;
    const Index* rows = nullptr;  // optional subset of rows (nrows entries), else all n rows
    Index nrows = 0;
    const double* norm2 = nullptr;  // |x_i|^2 for all n rows
    const double* xc = nullptr;     // optional x_i . c for all rows (may be null)
    // d-vector subtracted from every row inside the product (exact for data far from zero); when null,
    // rows enter as they are and each column's `shift` (center.z) is subtracted afterwards, which is
    // as accurate when the data sit near the origin and costs nothing per element.
    const double* center = nullptr;
    // Optional CSR copy of X's non-zero entries. Used when given and `center` is null: each product
    // then sums the non-zero terms only, in the same order and with the same operations as the dense
    // kernels, and a term 0 * z added to a sum leaves it unchanged, so the results are the same bits.
    const SparseRows<T>* sparse = nullptr;
};

// Run one pass. Zt is d x Bp (k-major: Zt[k*Bp + b]); only the first `cols.size()` columns are
// reduced. `out` is resized to cols.size(). Deterministic for any `threads`.
template <class T>
void pricing_pass(const PassInput<T>& in, const double* Zt, int Bp, const std::vector<PassColumn>& cols, int P,
                  int threads, std::vector<PassOutput>& out);

// Name of the SIMD kernel selected at run time ("avx2-fma" or "generic").
const char* pricing_kernel_name();

}  // namespace hullscope
