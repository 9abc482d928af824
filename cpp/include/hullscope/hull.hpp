// hullscope core: certified membership and Euclidean distance to the convex hull of a point set.
//
// For each query q the engine solves   min || X^T lambda - q ||  over the simplex
// with Wolfe's minimum-norm-point active-set method (Math. Prog. 11, 1976): the corral S of
// affinely independent rows, its weights, and an updated Cholesky factor of
// Y_S^T Y_S + kappa e e^T (Y_S = rows of S minus q). Columns are generated from a pool: a full
// pricing pass over X (shared by all queries in flight, see pricing.hpp) returns the P most
// violating rows; the restricted problem over S and that pool is solved exactly; the next pass
// either proves optimality over all rows or refills the pool. In the slow tail of a query (a pass
// that cuts |z|^2 by less than 30%), rounds of partial pricing over the query's own working set
// (the leading candidates of its passes) move the corral on before the next full pass; only full
// passes decide optimality. The restricted problem reads its rows from a per-query cache, widened
// and shifted once (y = x - q in double), over the coordinates where some cached row differs from
// q (a query on a face of the bounding box leaves that face's coordinates out while its rows stay
// on it). Both verdicts carry a certificate:
//   inside  : sparse convex weights whose combination reproduces q to the stated residual;
//   outside : a unit normal a and offset beta with a.x_i <= beta for every row and a.q - beta = margin.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "hullscope/common.hpp"
#include "hullscope/pricing.hpp"

namespace hullscope {

// Memory for large buffers that are swept again and again by every pass (the CSR copy): where the
// buffer spans whole 2 MB pages, they are requested as transparent huge pages (Linux, where the
// kernel gives them only on request, its "madvise" setting). Placement only: no value changes. The
// last partial 2 MB of a buffer keeps small pages, so no memory is touched beyond it. (A query's
// factor and cached rows, which come and go with the query, have their own buffers in hull.cpp.)
void* alloc_large(std::size_t bytes);
void free_large(void* p) noexcept;

// The allocator of those buffers. It leaves new elements uninitialised: they are written in full
// right after they are sized (the CSR copy), so their pages are not first zeroed and then written
// again.
template <class T>
struct LargeAllocator {
    using value_type = T;
    template <class U>
    struct rebind {
        using other = LargeAllocator<U>;
    };
    LargeAllocator() = default;
    template <class U>
    LargeAllocator(const LargeAllocator<U>&) noexcept {}
    T* allocate(std::size_t n) { return static_cast<T*>(alloc_large(n * sizeof(T))); }
    void deallocate(T* p, std::size_t) noexcept { free_large(p); }
    template <class U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible<U>::value) {
        ::new (static_cast<void*>(p)) U;
    }
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
    template <class U>
    bool operator==(const LargeAllocator<U>&) const noexcept {
        return true;
    }
    template <class U>
    bool operator!=(const LargeAllocator<U>&) const noexcept {
        return false;
    }
};
template <class T>
using UninitVector = std::vector<T, LargeAllocator<T>>;

// A read-only n x d point set (row-major) with its per-row statistics, computed once. The rows are
// stored as the caller gave them, float64 or float32 (never copied); every product and statistic is
// taken in double after widening each element, so a float32 X gives answers exact for its values.
// Where most entries are zero (pixels of digits on a blank background, rectified features), a CSR
// copy of the non-zero entries is kept beside X and the pricing passes read it instead: the same
// products, the same bits, a fraction of the bytes and the arithmetic.
class PointSet {
  public:
    // sparse: keep a CSR copy of X's non-zero entries beside X (1), never (0), or where d <= 65,536
    // and at most kSparseDensity of the entries are non-zero (-1, the default; see sparse_bytes()).
    PointSet(const double* X, Index n, Index d, int threads, int sparse = -1);
    PointSet(const float* X, Index n, Index d, int threads, int sparse = -1);
    // The largest fraction of non-zero entries for which sparse = -1 keeps the CSR copy: there it
    // takes at most 0.3 * (2 + 4) / 4 = 45% of a float32 X's bytes (0.3 * 10 / 8 = 38% of a float64
    // one), and a pass reads it instead of X.
    static constexpr double kSparseDensity = 0.3;
    bool single() const { return Xf_ != nullptr; }  // float32 storage
    const double* X() const { return X_; }          // null for float32 storage
    const float* Xf() const { return Xf_; }         // null for float64 storage
    Index n() const { return n_; }
    Index d() const { return d_; }
    // Statistics of the rows centred on origin() = x_0 (see PointSet::PointSet).
    const std::vector<double>& origin() const { return origin_; }
    const std::vector<double>& norm2() const { return norm2_; }
    double max_norm() const { return max_norm_; }
    const std::vector<double>& lo() const { return lo_; }
    const std::vector<double>& hi() const { return hi_; }
    const std::vector<double>& centroid() const { return centroid_; }
    const std::vector<double>& xc() const { return xc_; }
    // Fraction of X's entries that are non-zero (-0.0 counts as zero).
    double density() const { return density_; }
    // The CSR copy of X's non-zero entries, or false/null where none is kept.
    bool sparse() const { return !sp_ptr_.empty(); }
    template <class T>
    SparseRows<T> sparse_rows() const;
    // Bytes held by the CSR copy (0 where none is kept).
    std::size_t sparse_bytes() const {
        return sp_ptr_.size() * sizeof(Index) + sp_idx_.size() * sizeof(std::uint16_t) +
               sp_valf_.size() * sizeof(float) + sp_vald_.size() * sizeof(double);
    }

  private:
    template <class T>
    void init(const T* X, int threads, int sparse);
    template <class T>
    void alloc_sparse(std::vector<Index>&& cnt, UninitVector<T>& val);
    const double* X_ = nullptr;
    const float* Xf_ = nullptr;
    Index n_, d_;
    std::vector<double> norm2_;
    double max_norm_ = 0.0;
    std::vector<double> origin_, lo_, hi_, centroid_, xc_;
    double density_ = 1.0;
    std::vector<Index> sp_ptr_;
    UninitVector<std::uint16_t> sp_idx_;
    UninitVector<float> sp_valf_;
    UninitVector<double> sp_vald_;
};

template <>
inline SparseRows<float> PointSet::sparse_rows<float>() const {
    return SparseRows<float>{sp_ptr_.data(), sp_idx_.data(), sp_valf_.data()};
}
template <>
inline SparseRows<double> PointSet::sparse_rows<double>() const {
    return SparseRows<double>{sp_ptr_.data(), sp_idx_.data(), sp_vald_.data()};
}

enum Status : std::int8_t { kInside = 0, kOutside = 1, kBoundary = 2, kUnconverged = 3 };

struct SolveOptions {
    double rtol = 1e-9;       // tolerance relative to the query's scale max_i |x_i - q|
    double gap_rtol = 1e-12;  // stop when |z|^2 - min_i z.y_i <= gap_rtol |z|^2 (or below rounding)
    bool early_exit = false;  // membership only: stop once the verdict is certified
    int max_passes = 1000;    // full passes over X per query
    Index max_iterations = 0;  // Wolfe major iterations per query (0: 100 (d+1) + 1000)
    int pool = 64;            // candidates taken from each pass
    int block = 0;            // queries in flight (0: automatic)
    int threads = 0;          // 0: all cores
    // Called between passes (on the calling thread, outside parallel regions); returning true
    // abandons the solve with hullscope::Interrupted (the bindings check Python's signals here).
    std::function<bool()> interrupted;
    // Called between passes, like `interrupted`, with the number of queries of this call finished so
    // far (progress bars); optional.
    std::function<void(Index)> on_progress;
};

// Results for B queries (arrays of length B, or B x d row-major, or CSR for the weights).
struct SolveResult {
    Index B = 0, d = 0;
    std::vector<std::int8_t> status;
    std::vector<std::uint8_t> converged;  // distance solved to the gap tolerance
    std::vector<double> distance;   // |p - q| of the returned nearest point p
    std::vector<double> lower;      // certified lower bound on the distance (max(margin, 0))
    std::vector<double> margin;     // a.q - beta of the best separating hyperplane (-inf if none)
    std::vector<double> offset;     // beta
    std::vector<double> tol;        // absolute tolerance used
    std::vector<double> scale;      // max_i |x_i - q| over the rows considered
    std::vector<double> nn_distance;
    std::vector<Index> nn_index;
    std::vector<std::int32_t> passes;
    std::vector<std::int64_t> iterations;
    std::vector<double> nearest;  // B x d
    std::vector<double> normal;   // B x d (zeros when no hyperplane)
    std::vector<Index> indptr;    // B + 1
    std::vector<Index> indices;
    std::vector<double> values;
};

// Solve for the rows of Q (B x d row-major). `subset` (nsub row ids, sorted or not) restricts the
// hull to those rows; `exclude` (length B, or null) removes one row per query (leave-one-out).
SolveResult solve_hull(const PointSet& ps, const double* Q, Index B, const Index* subset, Index nsub,
                       const Index* exclude, const SolveOptions& opt);

}  // namespace hullscope
