// hullscope core: Wolfe's minimum-norm-point method with pooled column generation (see hull.hpp).
#include "hullscope/hull.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <type_traits>
#include <unordered_map>

#include "hullscope/parallel.hpp"
#include "hullscope/pricing.hpp"
#include "hullscope/vec4.hpp"

#include <Eigen/QR>

#ifdef HULLSCOPE_HAVE_OPENMP
#include <omp.h>
#endif

#include <cstdlib>
#include <cstring>
#include <new>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace hullscope {

void* alloc_large(std::size_t bytes) {
    if (bytes == 0) bytes = 1;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    constexpr std::size_t kHuge = std::size_t(2) << 20;
    if (bytes >= kHuge) {
        void* p = std::aligned_alloc(kHuge, (bytes + kHuge - 1) / kHuge * kHuge);
        if (p == nullptr) throw std::bad_alloc();
        // Advice only (ignored where huge pages are off): whole 2 MB pages of the buffer, none past
        // its last byte, so a huge page never fills memory the buffer does not use.
        madvise(p, bytes / kHuge * kHuge, MADV_HUGEPAGE);
        return p;
    }
#endif
    void* p = std::malloc(bytes);
    if (p == nullptr) throw std::bad_alloc();
    return p;
}

void free_large(void* p) noexcept { std::free(p); }

namespace {
constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kInf = std::numeric_limits<double>::infinity();
// A new corral point is affinely dependent (numerically) when the Cholesky pivot falls below
// this fraction of its diagonal entry.
constexpr double kDependentPivot = 1e-13;
// A major iteration that lowers |z|^2 by less than this fraction counts as a stall.
constexpr double kMinProgress = 1e-13;
// A query on a face of the bounding box takes this many times more candidates from each pass (and
// keeps those on its face); other queries use the first `pool` of them, so their answers never
// depend on which queries share the pass.
constexpr int kFacePoolFactor = 4;
// Partial pricing between passes over X (Query::partial_rounds). Every pass adds the query's
// leading candidates to its working set, at most kWorkMax rows (past that the set restarts from the
// pass's candidates): the pool's width (P, or kFacePoolFactor * P on a face), or kPassCand once the
// query is wide (Query::wide: a corral past twice the pool). After the restricted problem of a pass,
// rounds over the working set offer it the set's kPartialTake strongest violators against the new
// z: up to kPartialRounds after a pass that left |z|^2 above kSlowPass times its value before (a cut
// of less than 30%: the slow tail of column generation, where a corral near its final size swaps a
// few rows per pass), and kFastRounds after any other pass of a wide query. The rounds stop before
// they would price more rows than four passes over X (rows of the working set are priced one query
// at a time, against a pass's shared widening: on MNIST a round over 8192 rows costs a few ms, a
// pass for one query 15-25 ms). On MNIST queries deep inside the hull the wide rounds halve the
// passes (a pass there takes hundreds of rows of a corral of 550 from its 64-256 candidates). With
// rows entering four per major cycle (kBlockAdd) a round costs less: 128 violators per round, up to
// 32 rounds, took the passes at k = 200 from 15.5 (max 23) to 12.5 (max 16) and its time down
// 15-25% in interleaved runs, against 64 violators and 16 rounds within two passes' rows; 192
// violators then took the passes at k = 800 from 12 (max 15) to 10 (max 11) and k = 200's time down
// another 10-25% (256 left one k = 200 distance short of the rounding floor).
constexpr int kPassCand = 1024;
constexpr int kWorkMax = 8192;
constexpr double kSlowPass = 0.7;
constexpr int kPartialTake = 192;
constexpr int kPartialRounds = 32;
constexpr int kFastRounds = 2;
constexpr int kRoundBudgetPasses = 4;
// Bytes a query's row cache may spend on one pool of candidate rows (the corral comes on top, at
// most d + 1 rows, no more than the factor R): 4 MB is a face pool of 256 rows up to 2,048 kept
// coordinates, a plain pool of 64 up to 8,192.
constexpr double kCacheBudget = 4.0 * (1 << 20);
// A team of threads takes a sweep of at least this many groups of 4 rows (smaller ones stay on one
// thread: a parallel region costs a few microseconds).
constexpr Index kTeamMin = 8;
// Each major cycle of the restricted problem appends the pool's kBlockAdd strongest violators at
// once (Query::chol_append_block), then runs the minor cycles and recomputes z once. Besides the
// appends and removals themselves, a major cycle costs a back solve over the factor, a sweep of the
// corral's cached rows for z and the pool's prices; entering four rows per cycle shares them, and
// the append's own sweeps of the corral and the factor serve the four rows together. On MNIST
// queries deep inside the hull (corrals of 550-600, k = 800) four rows per cycle cut the major
// cycles from 1,914 to about 510 per query for about 7% more appends, and the thread time of the
// restricted problems from 9.7 to 5.4 G cycles (8 queries); two, six or eight per cycle were
// slower. A cycle that makes no progress is retried with the single strongest violator, the plain
// Wolfe step, before it counts as a stall.
constexpr int kBlockAdd = 4;
}  // namespace

PointSet::PointSet(const double* X, Index n, Index d, int threads, int sparse) : X_(X), n_(n), d_(d) {
    init(X, threads, sparse);
}
PointSet::PointSet(const float* X, Index n, Index d, int threads, int sparse) : Xf_(X), n_(n), d_(d) {
    init(X, threads, sparse);
}

// The CSR copy's offsets from the rows' non-zero counts (cnt[i + 1] for row i, cnt[0] = 0; taken
// over), and room for its entries, which init's second sweep writes.
template <class T>
void PointSet::alloc_sparse(std::vector<Index>&& cnt, UninitVector<T>& val) {
    const Index n = n_;
    sp_ptr_ = std::move(cnt);
    for (Index i = 0; i < n; ++i) sp_ptr_[static_cast<size_t>(i) + 1] += sp_ptr_[static_cast<size_t>(i)];
    const Index nnz = sp_ptr_[static_cast<size_t>(n)];
    sp_idx_.resize(static_cast<size_t>(nnz));
    val.resize(static_cast<size_t>(nnz));
}

template <class T>
void PointSet::init(const T* X, int threads, int sparse) {
    const Index n = n_, d = d_;
    if (n <= 0 || d <= 0) throw std::invalid_argument("X: expected a non-empty (n, d) matrix");
    const int nt = resolve_threads(threads);
    (void)nt;
    // Every statistic is taken of the rows centred on the first row, x'_i = fl(x_i - x_0): the
    // differences are exact (Sterbenz) wherever the data sit far from the origin relative to their
    // spread, so no product below ever cancels against a large offset.
    origin_.assign(X, X + d);  // widened to double
    norm2_.resize(static_cast<size_t>(n));
    xc_.resize(static_cast<size_t>(n));
    lo_.assign(static_cast<size_t>(d), kInf);
    hi_.assign(static_cast<size_t>(d), -kInf);
    centroid_.assign(static_cast<size_t>(d), 0.0);
    // First sweep: the centroid, the bounding box and each row's non-zero count. The threads split
    // the coordinates, not the rows, so each coordinate's sum still takes the rows in order (the same
    // bits for every thread count); each keeps its own sums, so no two write the same cache line.
    // (Everything is allocated before the threads start: an exception inside them could not be
    // caught.) Each part's sums sit at least 8 doubles from the next part's.
    const int parts = static_cast<int>(std::min<Index>(nt, d));
    std::vector<Index> pcnt(static_cast<size_t>(parts) * static_cast<size_t>(n));
    const size_t stride = static_cast<size_t>((d + parts - 1) / parts) + 8;
    std::vector<double> sums(3 * static_cast<size_t>(parts) * stride);
#ifdef HULLSCOPE_HAVE_OPENMP
#pragma omp parallel for num_threads(parts) schedule(static, 1)
#endif
    for (int part = 0; part < parts; ++part) {
        const Index k0 = d * part / parts, k1 = d * (part + 1) / parts, w = k1 - k0;
        double* cen = sums.data() + 3 * static_cast<size_t>(part) * stride;
        double* lo = cen + stride;
        double* hi = lo + stride;
        std::fill(cen, cen + w, 0.0);
        std::fill(lo, lo + w, kInf);
        std::fill(hi, hi + w, -kInf);
        const double* o = origin_.data() + k0;
        Index* pc = pcnt.data() + static_cast<size_t>(part) * static_cast<size_t>(n);
        for (Index i = 0; i < n; ++i) {
            const T* x = X + i * d + k0;
            Index c = 0;
            for (Index k = 0; k < w; ++k) {
                const double v = static_cast<double>(x[k]) - o[k];
                cen[k] += v;
                lo[k] = std::min(lo[k], v);
                hi[k] = std::max(hi[k], v);
                c += x[k] != T(0);
            }
            pc[i] = c;
        }
        std::copy(cen, cen + w, centroid_.begin() + k0);
        std::copy(lo, lo + w, lo_.begin() + k0);
        std::copy(hi, hi + w, hi_.begin() + k0);
    }
    for (Index k = 0; k < d; ++k) centroid_[k] /= static_cast<double>(n);
    std::vector<Index> cnt(static_cast<size_t>(n) + 1, 0);  // non-zeros of row i at cnt[i + 1]
    Index nnz = 0;
    for (Index i = 0; i < n; ++i) {
        Index c = 0;
        for (int part = 0; part < parts; ++part) c += pcnt[static_cast<size_t>(part) * static_cast<size_t>(n) + i];
        cnt[static_cast<size_t>(i) + 1] = c;
        nnz += c;
    }
    std::vector<Index>().swap(pcnt);
    density_ = static_cast<double>(nnz) / (static_cast<double>(n) * static_cast<double>(d));
    const bool fits = d <= 65536;  // column indices are 16-bit
    if (sparse == 1 && !fits) throw std::invalid_argument("sparse: a CSR copy needs d <= 65536");
    T* val = nullptr;
    if (sparse == 1 || (sparse == -1 && fits && density_ <= kSparseDensity)) {
        if constexpr (std::is_same<T, float>::value) {
            alloc_sparse(std::move(cnt), sp_valf_);
            val = sp_valf_.data();
        } else {
            alloc_sparse(std::move(cnt), sp_vald_);
            val = sp_vald_.data();
        }
    }
    // Second sweep: the norms, the products with the centroid and the CSR copy's entries, row by row.
    double mx = 0.0;
#ifdef HULLSCOPE_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) reduction(max : mx)
#endif
    for (Index i = 0; i < n; ++i) {
        const T* x = X + i * d;
        norm2_[i] = dot_shifted(x, x, origin_.data(), d);
        xc_[i] = centred_dot(x, origin_.data(), centroid_.data(), d);
        mx = std::max(mx, norm2_[i]);
        if (val) {
            Index t = sp_ptr_[static_cast<size_t>(i)];
            for (Index k = 0; k < d; ++k)
                if (x[k] != T(0)) {
                    sp_idx_[static_cast<size_t>(t)] = static_cast<std::uint16_t>(k);
                    val[static_cast<size_t>(t)] = x[k];
                    ++t;
                }
        }
    }
    max_norm_ = std::sqrt(mx);
}

namespace {

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HULLSCOPE_X86_DISPATCH 1  // AVX2 builds of the restricted-problem loops, chosen at run time
#endif

// The restricted problem's inner loops: products with corral and pool rows, the point z, and the
// back solve with the corral's factor. Each has one body, compiled twice (the generic x86-64 build,
// and an AVX2 build that does the same operations 4 wide) and chosen once at load time. Every
// product keeps 8 partial sums in a fixed order and no multiply-add is fused, so both builds give
// the same bits. Two variants were measured and rejected, both for the end game of large interior
// corrals on MNIST: fused multiply-adds, and 8 partial sums in the forward triangular solves (which
// stay sequential). Each left final residuals 4-100x above the floor reached without it, and some
// distances unconverged.
using vec4::v4d;

__attribute__((always_inline)) inline double rsum8(v4d a, v4d b) {
    return ((a[0] + b[0]) + (a[1] + b[1])) + ((a[2] + b[2]) + (a[3] + b[3]));
}

// (a - c) . (b - c)
template <class A, class B>
__attribute__((always_inline)) inline double kdot_shift(const A* a, const B* b, const double* c, Index n) {
    v4d s0 = {0, 0, 0, 0}, s1 = {0, 0, 0, 0};
    Index k = 0;
    for (; k + 8 <= n; k += 8) {
        const v4d c0 = vec4::load4(c + k), c1 = vec4::load4(c + k + 4);
        s0 += (vec4::load4(a + k) - c0) * (vec4::load4(b + k) - c0);
        s1 += (vec4::load4(a + k + 4) - c1) * (vec4::load4(b + k + 4) - c1);
    }
    double t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int j = 0; k < n; ++k, ++j) t[j] = (static_cast<double>(a[k]) - c[k]) * (static_cast<double>(b[k]) - c[k]);
    const v4d t0 = {t[0], t[1], t[2], t[3]}, t1 = {t[4], t[5], t[6], t[7]};
    return rsum8(s0 + t0, s1 + t1);
}

// (a - c) . z
template <class A>
__attribute__((always_inline)) inline double kdot_centred(const A* a, const double* c, const double* z, Index n) {
    v4d s0 = {0, 0, 0, 0}, s1 = {0, 0, 0, 0};
    Index k = 0;
    for (; k + 8 <= n; k += 8) {
        s0 += (vec4::load4(a + k) - vec4::load4(c + k)) * vec4::load4(z + k);
        s1 += (vec4::load4(a + k + 4) - vec4::load4(c + k + 4)) * vec4::load4(z + k + 4);
    }
    double t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int j = 0; k < n; ++k, ++j) t[j] = (static_cast<double>(a[k]) - c[k]) * z[k];
    const v4d t0 = {t[0], t[1], t[2], t[3]}, t1 = {t[4], t[5], t[6], t[7]};
    return rsum8(s0 + t0, s1 + t1);
}

// z += l (a - c)
template <class A>
__attribute__((always_inline)) inline void kaxpy_shift(double* z, double l, const A* a, const double* c, Index n) {
    const v4d lv = {l, l, l, l};
    Index k = 0;
    for (; k + 4 <= n; k += 4) {
        v4d zv = vec4::load4(z + k);
        zv += lv * (vec4::load4(a + k) - vec4::load4(c + k));
        __builtin_memcpy(z + k, &zv, sizeof(v4d));
    }
    for (; k < n; ++k) z[k] += l * (static_cast<double>(a[k]) - c[k]);
}

// x -= a * s over n doubles
__attribute__((always_inline)) inline void kaxpy(double* x, const double* a, double s, Index n) {
    const v4d sv = {s, s, s, s};
    Index k = 0;
    for (; k + 4 <= n; k += 4) {
        v4d xv = vec4::load4(x + k);
        xv -= vec4::load4(a + k) * sv;
        __builtin_memcpy(x + k, &xv, sizeof(v4d));
    }
    for (; k < n; ++k) x[k] -= a[k] * s;
}

// a . b over n doubles, n a multiple of 8 (rows of a query's row cache, zero-padded): the same
// lanes and order as kdot_shift, so a row cached as y = x - c gives the same bits.
__attribute__((always_inline)) inline double kdotd(const double* a, const double* b, Index n) {
    v4d s0 = {0, 0, 0, 0}, s1 = {0, 0, 0, 0};
    for (Index k = 0; k < n; k += 8) {
        s0 += vec4::load4(a + k) * vec4::load4(b + k);
        s1 += vec4::load4(a + k + 4) * vec4::load4(b + k + 4);
    }
    return rsum8(s0, s1);
}

// Four products (a_r - c) . z at once, each with kdot_centred's lanes and order (the same bits as
// four kdot_centred calls); c and z are loaded once for the four rows.
template <class A>
__attribute__((always_inline)) inline void kdot_centred4(const A* a0, const A* a1, const A* a2, const A* a3,
                                                         const double* c, const double* z, Index n, double* out) {
    v4d s00 = {0, 0, 0, 0}, s01 = {0, 0, 0, 0}, s10 = {0, 0, 0, 0}, s11 = {0, 0, 0, 0};
    v4d s20 = {0, 0, 0, 0}, s21 = {0, 0, 0, 0}, s30 = {0, 0, 0, 0}, s31 = {0, 0, 0, 0};
    Index k = 0;
    for (; k + 8 <= n; k += 8) {
        const v4d c0 = vec4::load4(c + k), c1 = vec4::load4(c + k + 4);
        const v4d z0 = vec4::load4(z + k), z1 = vec4::load4(z + k + 4);
        s00 += (vec4::load4(a0 + k) - c0) * z0;
        s01 += (vec4::load4(a0 + k + 4) - c1) * z1;
        s10 += (vec4::load4(a1 + k) - c0) * z0;
        s11 += (vec4::load4(a1 + k + 4) - c1) * z1;
        s20 += (vec4::load4(a2 + k) - c0) * z0;
        s21 += (vec4::load4(a2 + k + 4) - c1) * z1;
        s30 += (vec4::load4(a3 + k) - c0) * z0;
        s31 += (vec4::load4(a3 + k + 4) - c1) * z1;
    }
    const A* rows[4] = {a0, a1, a2, a3};
    v4d* acc[4][2] = {{&s00, &s01}, {&s10, &s11}, {&s20, &s21}, {&s30, &s31}};
    for (int r = 0; r < 4; ++r) {
        double t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (Index kk = k, j = 0; kk < n; ++kk, ++j) t[j] = (static_cast<double>(rows[r][kk]) - c[kk]) * z[kk];
        const v4d t0 = {t[0], t[1], t[2], t[3]}, t1 = {t[4], t[5], t[6], t[7]};
        out[r] = rsum8(*acc[r][0] + t0, *acc[r][1] + t1);
    }
}

// x -= a0 s0, then a1 s1, a2 s2, a3 s3, element by element: the same operations in the same order
// as four kaxpy calls (the same bits), with x loaded and stored once for the four rows.
__attribute__((always_inline)) inline void kaxpy4(double* x, const double* a0, const double* a1, const double* a2,
                                                  const double* a3, const double* s, Index n) {
    const v4d s0 = {s[0], s[0], s[0], s[0]}, s1 = {s[1], s[1], s[1], s[1]};
    const v4d s2 = {s[2], s[2], s[2], s[2]}, s3 = {s[3], s[3], s[3], s[3]};
    Index k = 0;
    for (; k + 4 <= n; k += 4) {
        v4d xv = vec4::load4(x + k);
        xv -= vec4::load4(a0 + k) * s0;
        xv -= vec4::load4(a1 + k) * s1;
        xv -= vec4::load4(a2 + k) * s2;
        xv -= vec4::load4(a3 + k) * s3;
        __builtin_memcpy(x + k, &xv, sizeof(v4d));
    }
    for (; k < n; ++k) {
        x[k] -= a0[k] * s[0];
        x[k] -= a1[k] * s[1];
        x[k] -= a2[k] * s[2];
        x[k] -= a3[k] * s[3];
    }
}

// x -= a[0] s[0], then a[1] s[1], ..., a[7] s[7], element by element: the operations and order of
// eight kaxpy calls, or of two kaxpy4 calls (the same bits), with x loaded and stored once for the
// eight rows instead of twice.
__attribute__((always_inline)) inline void kaxpy8(double* x, const double* const* a, const double* s, Index n) {
    v4d sv[8];
    for (int r = 0; r < 8; ++r) sv[r] = v4d{s[r], s[r], s[r], s[r]};
    const double *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5], *a6 = a[6], *a7 = a[7];
    Index k = 0;
    for (; k + 4 <= n; k += 4) {
        v4d xv = vec4::load4(x + k);
        xv -= vec4::load4(a0 + k) * sv[0];
        xv -= vec4::load4(a1 + k) * sv[1];
        xv -= vec4::load4(a2 + k) * sv[2];
        xv -= vec4::load4(a3 + k) * sv[3];
        xv -= vec4::load4(a4 + k) * sv[4];
        xv -= vec4::load4(a5 + k) * sv[5];
        xv -= vec4::load4(a6 + k) * sv[6];
        xv -= vec4::load4(a7 + k) * sv[7];
        __builtin_memcpy(x + k, &xv, sizeof(v4d));
    }
    for (; k < n; ++k)
        for (int r = 0; r < 8; ++r) x[k] -= a[r][k] * s[r];
}

// Four products a_r . b at once (r = 0..3), each with kdotd's lanes and order (so each has the
// bits of its own kdotd call); b is loaded once for the four.
__attribute__((always_inline)) inline void kdot4d(const double* a0, const double* a1, const double* a2, const double* a3,
                                                  const double* b, Index n, double* out) {
    v4d s00 = {0, 0, 0, 0}, s01 = {0, 0, 0, 0}, s10 = {0, 0, 0, 0}, s11 = {0, 0, 0, 0};
    v4d s20 = {0, 0, 0, 0}, s21 = {0, 0, 0, 0}, s30 = {0, 0, 0, 0}, s31 = {0, 0, 0, 0};
    for (Index k = 0; k < n; k += 8) {
        const v4d b0 = vec4::load4(b + k), b1 = vec4::load4(b + k + 4);
        s00 += vec4::load4(a0 + k) * b0;
        s01 += vec4::load4(a0 + k + 4) * b1;
        s10 += vec4::load4(a1 + k) * b0;
        s11 += vec4::load4(a1 + k + 4) * b1;
        s20 += vec4::load4(a2 + k) * b0;
        s21 += vec4::load4(a2 + k + 4) * b1;
        s30 += vec4::load4(a3 + k) * b0;
        s31 += vec4::load4(a3 + k + 4) * b1;
    }
    out[0] = rsum8(s00, s01);
    out[1] = rsum8(s10, s11);
    out[2] = rsum8(s20, s21);
    out[3] = rsum8(s30, s31);
}

// Eight products at once: rows b0 and b1 each against a0..a3 (o0[r] = a_r . b0, o1[r] = a_r . b1),
// over n coordinates, n a multiple of 4 (cached rows are padded to a multiple of 8).
// Each product has one accumulator and takes 4 coordinates per step, its lanes summed pairwise at
// the end: fixed operations and order, but not kdotd's (so not its bits). Each step loads the six
// rows' 4 coordinates once for 8 products: 0.75 loads per product step against 1.25 in kdot4d,
// whose loads bound it. The newcomer rows a_r are pinned in a register each in the AVX2 build
// (`Pin`): left to itself the compiler folds each into both of its multiplies, loading it twice.
constexpr bool kPin_generic = false, kPin_avx2 = true;
template <bool Pin>
__attribute__((always_inline)) inline void kdot4x2(const double* a0, const double* a1, const double* a2, const double* a3,
                                                   const double* b0, const double* b1, Index n, double* o0, double* o1) {
    v4d s00 = {0, 0, 0, 0}, s10 = {0, 0, 0, 0}, s20 = {0, 0, 0, 0}, s30 = {0, 0, 0, 0};
    v4d s01 = {0, 0, 0, 0}, s11 = {0, 0, 0, 0}, s21 = {0, 0, 0, 0}, s31 = {0, 0, 0, 0};
    for (Index k = 0; k < n; k += 4) {
        const v4d x0 = vec4::load4(b0 + k), x1 = vec4::load4(b1 + k);
        const auto row = [&](const double* ar, v4d& sa, v4d& sb) {
            v4d a = vec4::load4(ar + k);
            if constexpr (Pin) asm("" : "+x"(a));
            sa += a * x0;
            sb += a * x1;
        };
        row(a0, s00, s01);
        row(a1, s10, s11);
        row(a2, s20, s21);
        row(a3, s30, s31);
    }
    const auto h = [](v4d v) { return (v[0] + v[1]) + (v[2] + v[3]); };
    o0[0] = h(s00);
    o0[1] = h(s10);
    o0[2] = h(s20);
    o0[3] = h(s30);
    o1[0] = h(s01);
    o1[1] = h(s11);
    o1[2] = h(s21);
    o1[3] = h(s31);
}

// Four forward solves side by side, one per lane: x[4t + r] = (g[4t + r] + kap - sum_{l<t} R(l, t)
// x[4l + r]) / R(t, t) for t in [s, s + N), rows before s solved. Each lane's entry takes its terms in
// the order l = 0, 1, ..., t - 1, as in forward_block (the same bits as one solve per lane), and N
// columns run side by side over one load of each x[4l..4l+4).
template <int N>
__attribute__((always_inline)) inline void kfwd4_block(const double* const* C, double* x, const double* g, double kap,
                                                       Index s) {
    const double* c[N];
    v4d a[N];
    const v4d kv = {kap, kap, kap, kap};
    for (int j = 0; j < N; ++j) {
        c[j] = C[s + j];
        a[j] = vec4::load4(g + 4 * (s + j)) + kv;
    }
    for (Index l = 0; l < s; ++l) {
        const v4d xl = vec4::load4(x + 4 * l);
        for (int j = 0; j < N; ++j) {
            const double cv = c[j][l];
            a[j] -= v4d{cv, cv, cv, cv} * xl;
        }
    }
    for (int j = 0; j < N; ++j) {
        for (int i = 0; i < j; ++i) {
            const double cv = c[j][s + i];
            a[j] -= v4d{cv, cv, cv, cv} * a[i];
        }
        const double dv = c[j][s + j];
        a[j] /= v4d{dv, dv, dv, dv};
    }
    for (int j = 0; j < N; ++j) __builtin_memcpy(x + 4 * (s + j), &a[j], sizeof(v4d));
}

__attribute__((always_inline)) inline void kfwd4(const double* const* C, double* x, const double* g, double kap,
                                                 Index n) {
    Index s = 0;
    for (; s + 8 <= n; s += 8) kfwd4_block<8>(C, x, g, kap, s);
    for (; s + 4 <= n; s += 4) kfwd4_block<4>(C, x, g, kap, s);
    for (; s < n; ++s) kfwd4_block<1>(C, x, g, kap, s);
}

// A non-zero entry of a cached row: its position t among the kept coordinates as p4 = 4 t, and its
// value as X stores it.
template <class T>
struct SpEntry {
    int32_t p4;
    T v;
};

// Four products of each of two sparse rows with four interleaved dense rows: oa[l] = sum_e
// a[e].v nb[a[e].p4 + l] for l < 4 (nb[4t + l] holds row l's coordinate t; a row's entries in
// increasing coordinate order), and ob likewise from b. Each row's entries go four at a time into
// its four accumulators (entry e into e mod 4), the rest into the first, summed (s0 + s1) + (s2 +
// s3) at the end: fixed operations and order whatever row it is paired with (the two only share the
// loop while both have four entries left). Per entry: its value widened and broadcast, one load of
// the four rows' coordinate, a multiply and an add.
template <class T>
__attribute__((always_inline)) inline void kspdot4x2(const SpEntry<T>* a, Index ma, const SpEntry<T>* b, Index mb,
                                                     const double* nb, double* oa, double* ob) {
    struct Acc {
        v4d s0 = {0, 0, 0, 0}, s1 = {0, 0, 0, 0}, s2 = {0, 0, 0, 0}, s3 = {0, 0, 0, 0};
    };
    const auto term = [&](const SpEntry<T>& en) {
        const double x = static_cast<double>(en.v);
        return v4d{x, x, x, x} * vec4::load4(nb + en.p4);
    };
    const auto four = [&](Acc& c, const SpEntry<T>* r) {
        c.s0 += term(r[0]);
        c.s1 += term(r[1]);
        c.s2 += term(r[2]);
        c.s3 += term(r[3]);
    };
    const auto finish = [&](Acc& c, const SpEntry<T>* r, Index e, Index m, double* o) {
        for (; e + 4 <= m; e += 4) four(c, r + e);
        for (; e < m; ++e) c.s0 += term(r[e]);
        const v4d t = (c.s0 + c.s1) + (c.s2 + c.s3);
        __builtin_memcpy(o, &t, sizeof(v4d));
    };
    Acc ca, cb;
    Index e = 0;
    const Index both = std::min(ma, mb);
    for (; e + 4 <= both; e += 4) {
        four(ca, a + e);
        four(cb, b + e);
    }
    finish(ca, a, e, ma, oa);
    if (ob) finish(cb, b, e, mb, ob);
}

#define HULLSCOPE_RK_DEFINE(ATTR, SUF)                                                                     \
    template <class A, class B>                                                                            \
    ATTR double dot_shift_##SUF(const A* a, const B* b, const double* c, Index n) {                        \
        return kdot_shift(a, b, c, n);                                                                     \
    }                                                                                                      \
    template <class A>                                                                                     \
    ATTR double dot_centred_##SUF(const A* a, const double* c, const double* z, Index n) {                 \
        return kdot_centred(a, c, z, n);                                                                   \
    }                                                                                                      \
    template <class A>                                                                                     \
    ATTR void axpy_shift_##SUF(double* z, double l, const A* a, const double* c, Index n) {                \
        kaxpy_shift(z, l, a, c, n);                                                                        \
    }                                                                                                      \
    ATTR void axpyd_##SUF(double* x, const double* a, double s, Index n) { kaxpy(x, a, s, n); }          \
    ATTR double dotd_##SUF(const double* a, const double* b, Index n) { return kdotd(a, b, n); }          \
    template <class A>                                                                                     \
    ATTR void dot_centred4_##SUF(const A* a0, const A* a1, const A* a2, const A* a3, const double* c,      \
                                 const double* z, Index n, double* out) {                                 \
        kdot_centred4(a0, a1, a2, a3, c, z, n, out);                                                       \
    }                                                                                                      \
    ATTR void axpy4d_##SUF(double* x, const double* a0, const double* a1, const double* a2, const double* a3, \
                           const double* s, Index n) {                                                     \
        kaxpy4(x, a0, a1, a2, a3, s, n);                                                                 \
    }                                                                                                      \
    ATTR void dot4d_##SUF(const double* a0, const double* a1, const double* a2, const double* a3,        \
                          const double* b, Index n, double* out) {                                       \
        kdot4d(a0, a1, a2, a3, b, n, out);                                                               \
    }                                                                                                      \
    ATTR void fwd4_##SUF(const double* const* C, double* x, const double* g, double kap, Index n) {     \
        kfwd4(C, x, g, kap, n);                                                                          \
    }                                                                                                      \
    ATTR void axpy8d_##SUF(double* x, const double* const* a, const double* s, Index n) {               \
        kaxpy8(x, a, s, n);                                                                                \
    }                                                                                                      \
    template <class T>                                                                                     \
    ATTR void spdot4x2_##SUF(const SpEntry<T>* a, Index ma, const SpEntry<T>* b, Index mb, const double* nb, \
                             double* oa, double* ob) {                                                     \
        kspdot4x2(a, ma, b, mb, nb, oa, ob);                                                              \
    }                                                                                                      \
    ATTR void dot4x2_##SUF(const double* a0, const double* a1, const double* a2, const double* a3,        \
                           const double* b0, const double* b1, Index n, double* o0, double* o1) {        \
        kdot4x2<kPin_##SUF>(a0, a1, a2, a3, b0, b1, n, o0, o1);                                           \
    }

HULLSCOPE_RK_DEFINE(, generic)
#ifdef HULLSCOPE_X86_DISPATCH
HULLSCOPE_RK_DEFINE(__attribute__((target("avx2"))), avx2)  // no FMA: see above
#endif
#undef HULLSCOPE_RK_DEFINE

bool restricted_avx2() {
#ifdef HULLSCOPE_X86_DISPATCH
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}
const bool g_ravx2 = restricted_avx2();

#ifdef HULLSCOPE_X86_DISPATCH
#define HULLSCOPE_RK_CALL(NAME, ...) (g_ravx2 ? NAME##_avx2(__VA_ARGS__) : NAME##_generic(__VA_ARGS__))
#else
#define HULLSCOPE_RK_CALL(NAME, ...) NAME##_generic(__VA_ARGS__)
#endif

template <class A, class B>
inline double rk_dot_shift(const A* a, const B* b, const double* c, Index n) { return HULLSCOPE_RK_CALL(dot_shift, a, b, c, n); }
template <class A>
inline double rk_dot_centred(const A* a, const double* c, const double* z, Index n) {
    return HULLSCOPE_RK_CALL(dot_centred, a, c, z, n);
}
template <class A>
inline void rk_axpy_shift(double* z, double l, const A* a, const double* c, Index n) {
    HULLSCOPE_RK_CALL(axpy_shift, z, l, a, c, n);
}
inline void rk_axpy(double* x, const double* a, double s, Index n) { HULLSCOPE_RK_CALL(axpyd, x, a, s, n); }
inline double rk_dotd(const double* a, const double* b, Index n) { return HULLSCOPE_RK_CALL(dotd, a, b, n); }
template <class A>
inline void rk_dot_centred4(const A* a0, const A* a1, const A* a2, const A* a3, const double* c, const double* z,
                            Index n, double* out) {
    HULLSCOPE_RK_CALL(dot_centred4, a0, a1, a2, a3, c, z, n, out);
}
inline void rk_axpy4(double* x, const double* a0, const double* a1, const double* a2, const double* a3,
                     const double* s, Index n) {
    HULLSCOPE_RK_CALL(axpy4d, x, a0, a1, a2, a3, s, n);
}
inline void rk_axpy8(double* x, const double* const* a, const double* s, Index n) { HULLSCOPE_RK_CALL(axpy8d, x, a, s, n); }
inline void rk_dot4x2(const double* a0, const double* a1, const double* a2, const double* a3, const double* b0,
                      const double* b1, Index n, double* o0, double* o1) {
    HULLSCOPE_RK_CALL(dot4x2, a0, a1, a2, a3, b0, b1, n, o0, o1);
}
template <class T>
inline void rk_spdot4x2(const SpEntry<T>* a, Index ma, const SpEntry<T>* b, Index mb, const double* nb, double* oa,
                        double* ob) {
    HULLSCOPE_RK_CALL(spdot4x2, a, ma, b, mb, nb, oa, ob);
}
inline void rk_fwd4(const double* const* C, double* x, const double* g, double kap, Index n) {
    HULLSCOPE_RK_CALL(fwd4, C, x, g, kap, n);
}
inline void rk_dot4d(const double* a0, const double* a1, const double* a2, const double* a3, const double* b, Index n,
                     double* out) {
    HULLSCOPE_RK_CALL(dot4d, a0, a1, a2, a3, b, n, out);
}

// Forward solve with the corral's factor: x[s] = (x[s] - sum_{l<s} R(l, s) x[l]) / R(s, s) for s in
// [from, to), x[0..from) already solved; column s of R at C[s]. Each entry's
// sum runs in order l = 0, 1, ..., s-1, as in the plain loop (so the bits are the same), but eight
// entries run side by side: their chains are independent up to the block's own triangle, and eight
// of them keep both adders busy through the one-at-a-time sums (four left half of the adds' latency
// exposed). Returns sum of x[s]^2 over [from, to), in order.
template <int N>
__attribute__((always_inline)) inline void forward_block(const double* const* C, double* x, int s) {
    const double* c[N];
    double a[N];
    for (int j = 0; j < N; ++j) {
        c[j] = C[s + j];
        a[j] = x[s + j];
    }
    for (int l = 0; l < s; ++l) {
        const double xl = x[l];
        for (int j = 0; j < N; ++j) a[j] -= c[j][l] * xl;
    }
    for (int j = 0; j < N; ++j) {
        for (int i = 0; i < j; ++i) a[j] -= c[j][s + i] * a[i];
        a[j] /= c[j][s + j];
    }
    for (int j = 0; j < N; ++j) x[s + j] = a[j];
}

inline double forward_solve(const double* const* C, double* x, int from, int to) {
    int s = from;
    for (; s + 8 <= to; s += 8) forward_block<8>(C, x, s);
    for (; s + 4 <= to; s += 4) forward_block<4>(C, x, s);
    for (; s < to; ++s) forward_block<1>(C, x, s);
    double rr = 0.0;
    for (int t = from; t < to; ++t) rr += x[t] * x[t];
    return rr;
}

enum class Inner { kRestrictedOptimal, kInside, kStalled, kLimit };

// A query's buffer of elements left uninitialised: the kernel maps a page of it only when it is
// first touched, so room reserved ahead (the row slab's, for a full corral and a few pools) costs
// nothing until it is used, and a growing buffer (the factor) is not first zeroed and then written
// again. No huge-page advice: a light query touches only the few small pages it needs (2 MB pages
// would make each of a block's 128 queries take at least one).
template <class E>
struct TouchBuf {
    E* p = nullptr;
    size_t n = 0;      // elements reserved
    size_t bytes = 0;  // of the mapping (Linux, 1 MB and up; else 0)
    TouchBuf() = default;
    TouchBuf(const TouchBuf&) = delete;
    TouchBuf& operator=(const TouchBuf&) = delete;
    ~TouchBuf() { release(p, bytes); }
    // Room for m elements, keeping the first `keep` (keep <= n).
    void reserve(size_t m, size_t keep = 0) {
        if (m <= n) return;
        const size_t want = (m * sizeof(E) + 63) / 64 * 64;
        E* np = nullptr;
        size_t nbytes = 0;
#if defined(__linux__)
        // Mapped on its own: the kernel gives back every page when it is unmapped. From malloc's
        // heap (which serves such sizes once a freed mapping has raised its threshold) a freed
        // reservation would stay with the process, and the next query's touched pages would add
        // to it: 268 MB against 215 MB above X at the peak of the large case.
        if (want >= (size_t(1) << 20)) {
            void* q = mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (q == MAP_FAILED) throw std::bad_alloc();
            np = static_cast<E*>(q);
            nbytes = want;
        }
#endif
        if (np == nullptr) {
            np = static_cast<E*>(std::aligned_alloc(64, want));
            if (np == nullptr) throw std::bad_alloc();
        }
        if (keep) std::memcpy(static_cast<void*>(np), static_cast<const void*>(p), keep * sizeof(E));
        release(p, bytes);
        p = np;
        n = m;
        bytes = nbytes;
    }
    static void release(E* q, size_t nbytes) noexcept {
        if (q == nullptr) return;
#if defined(__linux__)
        if (nbytes) {
            munmap(static_cast<void*>(q), nbytes);
            return;
        }
#endif
        (void)nbytes;
        std::free(q);
    }
    void swap(TouchBuf& o) noexcept {
        std::swap(p, o.p);
        std::swap(n, o.n);
        std::swap(bytes, o.bytes);
    }
    E* data() { return p; }
    const E* data() const { return p; }
};
using TouchBuffer = TouchBuf<double>;

// The state of one query in flight; T is the storage type of X.
template <class T>
struct Query {
    Index id = 0;
    Index exclude = -1;
    Index d = 0;
    const T* X = nullptr;
    std::vector<double> q;  // own aligned copy: arithmetic never depends on the caller's layout
    std::vector<double> qc;  // q - origin: what every product with a centred data row uses
    double qq = 0.0, qnorm = 0.0;  // |qc|^2 and |qc|

    std::vector<Index> S;      // corral rows
    std::vector<double> lam;   // their weights
    // The upper-triangular factor: column j of the factor at Rc[j] (a column of R; entries 0..j
    // used, the rest zero). A removal moves column pointers, not the columns' upper rows. R holds
    // cap columns ldc doubles apart; it is zeroed column by column as the corral first reaches
    // them (zcols columns so far; every position from zcols on still holds the column allocated
    // there, since removals permute positions below k only), so only the columns in use are ever
    // touched.
    TouchBuffer R;
    size_t ldc = 0;
    int zcols = 0;
    std::vector<double*> Rc;
    std::vector<double> u;     // R^{-T} e, kept entry by entry: each is the forward solve's own value
    std::vector<double> gc, gs;  // chol_remove's rotations (scratch)
    int cap = 0, k = 0;
    std::vector<double> z;     // current point minus q
    double zz = 0.0;
    std::vector<Index> pool;   // candidate rows outside S
    // Row cache: every corral and pool row, widened and shifted once, y = x - q, over the query's
    // kept coordinates cc (ascending), zero-padded to ld (a multiple of 8). The restricted problem
    // reads only these rows: contiguous doubles, about 3x faster per product than converting and
    // shifting the stored rows each time, and shorter on a face. A coordinate is left out only
    // while every cached row equals q there exactly (q on a face of the bounding box, and rows on
    // that face), so each product is the full one; a row that differs from q on a left-out
    // coordinate brings coordinates back and the cache is rebuilt (see acquire). Products keep the
    // lanes of the uncached kernels: with every coordinate kept, the bits are theirs (all but the
    // block append's products with the corral, which keep their own fixed order: see kdot4x2).
    std::vector<Index> cc;       // kept coordinates
    std::vector<std::pair<Index, Index>> runs;  // cc as runs of consecutive coordinates: (first, length)
    std::vector<Index> dropped;  // the others, where every cached row equals q
    Index ld = 0;
    TouchBuffer slab;            // slots of ld doubles
    std::vector<double> ynorm;   // |y|^2 of each slot's row (ydot_s(slot, slot)): the entering rule's and the appends'
    // Where X is sparse (at most PointSet::kSparseDensity of its entries non-zero, whether or not
    // the passes read a CSR copy, so that sparse= never changes an answer), each slot also keeps its row's
    // non-zero entries x_t over the kept coordinates (p4 = 4 t, value), and the block append takes
    // its products with the corral as y_a . y_b = x_a . y_b - q . y_b: a sparse row against the
    // four newcomers interleaved (kspdot4x2), about a fifth of the terms on MNIST pixels.
    // A slot's entries sit at sp[slot * ld], sp_n[slot] of them, written when the row first
    // takes part in such a product (sp_n < 0 until then): most cached rows are pool rows that never
    // enter the corral.
    bool sparse_x = false;
    TouchBuf<SpEntry<T>> sp;
    std::vector<Index> sp_n;
    std::vector<double> qk;      // q over the kept coordinates, zero-padded to ld
    std::vector<double> nbuf;    // the block's newcomers interleaved: nbuf[4t + l]
    bool sparse_cache() const { return sparse_x && cached; }
    std::vector<int> free_slots;
    std::vector<int> cs;         // slot of each corral row (parallel to S)
    std::vector<int> ps;         // slot of each pool row (parallel to pool)
    std::vector<double> zc;      // z over the kept coordinates, padded
    std::vector<std::pair<Index, int>> stale;  // (row, slot) of the previous pool, by row; slot -1 once taken
    std::vector<Index> work;   // working set: the leading candidates of every pass so far, sorted

    double scale = 0.0, kappa = 1.0, tol = 0.0, noise = 0.0, inside_thr = 0.0, pad = 0.0;
    double best_margin = -kInf, best_offset = 0.0;
    std::vector<double> best_normal;
    double nn_dist = 0.0;
    Index nn_idx = -1;
    int passes = 0;
    Index iters = 0;
    double last_work = 0.0;  // iterations times corral size in the last pass (a cost estimate)
    int stalls = 0;
    bool refactored = false;
    bool fresh = true, done = false, converged = false, stalled_last = false;
    double zz_stall = 0.0;  // |z|^2 when the restricted problem last stalled
    // A corral of more than twice the pool: a deep query whose passes are limited by the pool's
    // width. Its passes keep kPassCand candidates for the working set, and rounds over the set
    // follow every pass (see kPassCand).
    bool wide = false;
    // Threads for the restricted problem's row sweeps (products with cached rows, z, partial
    // pricing): more than one only for a query alone in its pass, whose threads would otherwise
    // wait. Each sweep splits rows or coordinates without changing any value's operations.
    int team = 1;

    // Coordinates where q sits exactly on the bounding box (q'_p equal to the least or greatest
    // x'_p). Every point of a convex combination equal to q must sit there too, so while the query
    // may be inside, candidates off that face are passed over: the corral grows inside the face
    // instead of taking rows it will have to drop. Only the choice of candidates changes; every
    // verdict is still proved against all rows.
    std::vector<Index> tight;
    std::vector<double> tight_val;
    bool face = false;
    const double* org = nullptr;

    const T* row(Index i) const { return X + i * d; }
    // Is row i on the query's face? Remembered per row: the leading candidates recur from pass to
    // pass, and each check reads hundreds of scattered coordinates. At most 65,536 rows (about
    // 3 MB) are remembered; past that the memory starts again.
    std::unordered_map<Index, bool> face_memo;
    bool on_face(Index i) {
        const auto it = face_memo.find(i);
        if (it != face_memo.end()) return it->second;
        if (face_memo.size() >= (1u << 16)) face_memo.clear();
        const T* x = row(i);
        bool on = true;
        for (size_t t = 0; t < tight.size() && on; ++t)
            on = static_cast<double>(x[tight[t]]) - org[tight[t]] == tight_val[t];
        face_memo.emplace(i, on);
        return on;
    }
    double ydot(Index a, Index b) const { return rk_dot_shift(row(a), row(b), q.data(), d); }
    // z . (x_c - q) in a fixed order
    double price(Index c) const { return rk_dot_centred(row(c), q.data(), z.data(), d); }
    double& Rat(int i, int j) { return Rc[static_cast<size_t>(j)][i]; }

    // Without the cache (rows too long for it) a slot only names its row, and the products read the
    // stored rows as before; with every coordinate kept the two give the same bits.
    bool cached = true;
    std::vector<Index> slot_row;  // the row each slot holds
    const double* yrow(int slot) const { return slab.data() + static_cast<size_t>(slot) * ld; }
    double ydot_s(int a, int b) const {
        if (!cached) return rk_dot_shift(row(slot_row[a]), row(slot_row[b]), q.data(), d);
        return rk_dotd(yrow(a), yrow(b), ld);
    }
    // out[t] = y_{slots[t]} . b for t < m (b: ld doubles, a cached row or zc), four at a time;
    // without the cache, b's row or z read from X as by ydot_s and price_s. The same bits either way.
    void ydots(const int* slots, size_t m, int bslot, double* out) const {
        if (!cached) {
            for (size_t t = 0; t < m; ++t) out[t] = bslot < 0 ? price_s(slots[t]) : ydot_s(slots[t], bslot);
            return;
        }
        const double* b = bslot < 0 ? zc.data() : yrow(bslot);
        const Index m4 = static_cast<Index>(m / 4);
#ifdef HULLSCOPE_HAVE_OPENMP
#pragma omp parallel for num_threads(team) schedule(static) if (team > 1 && m4 >= kTeamMin)
#endif
        for (Index g = 0; g < m4; ++g) {
            const size_t t = static_cast<size_t>(g) * 4;
            rk_dot4d(yrow(slots[t]), yrow(slots[t + 1]), yrow(slots[t + 2]), yrow(slots[t + 3]), b, ld, out + t);
        }
        for (size_t t = static_cast<size_t>(m4) * 4; t < m; ++t) out[t] = rk_dotd(yrow(slots[t]), b, ld);
    }
    double price_s(int slot) const {
        if (!cached) return rk_dot_centred(row(slot_row[slot]), q.data(), z.data(), d);
        return rk_dotd(yrow(slot), zc.data(), ld);
    }

    // An empty cache keeping every coordinate but `drop` (ascending).
    void init_cache(const std::vector<Index>& drop, bool use_cache = true) {
        cached = use_cache;
        dropped = cached ? drop : std::vector<Index>{};
        cc.clear();
        size_t t = 0;
        for (Index j = 0; j < d; ++j) {
            if (t < dropped.size() && dropped[t] == j) {
                ++t;
                continue;
            }
            cc.push_back(j);
        }
        ld = (static_cast<Index>(cc.size()) + 7) / 8 * 8;
        runs.clear();  // cc as runs of consecutive coordinates (start, length)
        for (size_t t = 0; t < cc.size(); ++t) {
            if (!runs.empty() && runs.back().first + runs.back().second == cc[t])
                ++runs.back().second;
            else
                runs.emplace_back(cc[t], 1);
        }
        slot_row.clear();
        ynorm.clear();
        sp_n.clear();
        if (sparse_cache()) {
            qk.assign(static_cast<size_t>(ld), 0.0);
            for (size_t t = 0; t < cc.size(); ++t) qk[t] = q[cc[t]];
        }
        free_slots.clear();
        cs.clear();
        ps.clear();
        stale.clear();  // their slots went with the slab
        zc.assign(static_cast<size_t>(ld), 0.0);
    }
    void fill_slot(int slot, Index i) {
        slot_row[static_cast<size_t>(slot)] = i;
        if (!cached) return;
        const T* x = row(i);
        double* y = slab.data() + static_cast<size_t>(slot) * ld;
        const Index dc = static_cast<Index>(cc.size());
        // y[t] = x[cc[t]] - q[cc[t]], a run of consecutive coordinates at a time (a loop the
        // compiler vectorises; the same operation on each element)
        Index t = 0;
        for (const auto& r : runs) {
            const T* xr = x + r.first;
            const double* qr = q.data() + r.first;
            double* yr = y + t;
            for (Index j = 0; j < r.second; ++j) yr[j] = static_cast<double>(xr[j]) - qr[j];
            t += r.second;
        }
        for (t = dc; t < ld; ++t) y[t] = 0.0;
        if (sparse_cache()) sp_n[static_cast<size_t>(slot)] = -1;
    }
    // The non-zero entries of the row cached in `slot`, over the kept coordinates, in order
    // (branch-free: every entry is written, and only the non-zero ones advance).
    void sparse_entries(int slot) {
        const T* x = row(slot_row[static_cast<size_t>(slot)]);
        SpEntry<T>* out = sp.data() + static_cast<size_t>(slot) * ld;
        Index m = 0, t = 0;
        for (const auto& r : runs) {
            const T* xr = x + r.first;
            for (Index j = 0; j < r.second; ++j) {
                out[m].p4 = static_cast<int32_t>(4 * (t + j));
                out[m].v = xr[j];
                m += xr[j] != T(0) ? 1 : 0;
            }
            t += r.second;
        }
        sp_n[static_cast<size_t>(slot)] = m;
    }
    void fill_slot_norm(int slot, Index i) {
        fill_slot(slot, i);
        ynorm[static_cast<size_t>(slot)] = ydot_s(slot, slot);
    }
    int alloc_slot() {
        if (!free_slots.empty()) {
            const int sl = free_slots.back();
            free_slots.pop_back();
            return sl;
        }
        const int sl = static_cast<int>(slot_row.size());
        slot_row.push_back(-1);
        ynorm.push_back(0.0);
        if (cached && slot_row.size() * static_cast<size_t>(ld) > slab.n) {
            // room for a full corral and a few pools at first; past that, twice the slots (those in
            // use kept)
            const size_t first = static_cast<size_t>(std::min<Index>(d + 1, 1024) + 512);
            const size_t want = std::max(first, 2 * slab.n / static_cast<size_t>(ld));
            slab.reserve(want * static_cast<size_t>(ld), (slot_row.size() - 1) * static_cast<size_t>(ld));
        }
        if (sparse_cache()) {  // the same room in entries
            sp_n.push_back(-1);
            if (slot_row.size() * static_cast<size_t>(ld) > sp.n)
                sp.reserve(slab.n, (slot_row.size() - 1) * static_cast<size_t>(ld));
        }
        return sl;
    }
    void free_slot(int sl) { free_slots.push_back(sl); }
    // A slot holding row i. A row that differs from q on a left-out coordinate first brings
    // coordinates back: while the query still prefers its face (the row is its first corral point,
    // the nearest neighbour, taken before the face pool) just those where it differs; once the
    // query has left its face (rows off it enter one after another), all of them, so the cache is
    // rebuilt at most twice per query.
    int acquire(Index i) {
        if (!dropped.empty()) {
            const T* x = row(i);
            const auto differs = [&](Index j) { return static_cast<double>(x[j]) - q[j] != 0.0; };
            if (std::any_of(dropped.begin(), dropped.end(), differs)) {
                std::vector<Index> keep_drop;
                if (face)
                    for (Index j : dropped)
                        if (!differs(j)) keep_drop.push_back(j);
                rebuild_cache(keep_drop);
            }
        }
        const int sl = alloc_slot();
        fill_slot_norm(sl, i);
        return sl;
    }
    // New kept coordinates: every corral and pool row cached again, z gathered from its full copy
    // (zero on the left-out coordinates, so exact).
    void rebuild_cache(const std::vector<Index>& drop) {
        init_cache(drop);
        for (size_t s = 0; s < S.size(); ++s) {
            cs.push_back(alloc_slot());
            fill_slot_norm(cs.back(), S[s]);
        }
        for (size_t t = 0; t < pool.size(); ++t) {
            ps.push_back(alloc_slot());
            fill_slot_norm(ps.back(), pool[t]);
        }
        if (!z.empty())
            for (size_t t = 0; t < cc.size(); ++t) zc[t] = z[cc[t]];
    }
    // A new pool keeps the cached rows of the previous one that it takes again (a pass's leading
    // candidates change little from pass to pass); release_stale() frees the others.
    void pool_clear() {
        release_stale();
        for (size_t t = 0; t < pool.size(); ++t) stale.emplace_back(pool[t], ps[t]);
        std::sort(stale.begin(), stale.end());
        pool.clear();
        ps.clear();
    }
    void release_stale() {
        for (const auto& e : stale)
            if (e.second >= 0) free_slot(e.second);
        stale.clear();
    }
    void pool_push(Index c) {
        auto it = std::lower_bound(stale.begin(), stale.end(), std::make_pair(c, std::numeric_limits<int>::min()));
        int sl;
        if (it != stale.end() && it->first == c && it->second >= 0) {
            sl = it->second;
            it->second = -1;
        } else {
            sl = acquire(c);
        }
        pool.push_back(c);
        ps.push_back(sl);
    }

    void ensure_cap(int need) {
        if (need > cap) {
            // Twice the columns, but no more than d + 1 (the most an affinely independent corral
            // holds) unless more are needed; the factor's columns copied over in order. Columns
            // nc + 8 doubles apart, nc a multiple of 8: at a power-of-two stride, the columns that
            // the solves and the removals read side by side would share cache sets and alias in
            // the load-store unit.
            const int nc = std::max(need, std::min(std::max(8, 2 * cap), static_cast<int>(d) + 1));
            const size_t nldc = (static_cast<size_t>(nc) + 7) / 8 * 8 + 8;
            TouchBuffer nr;
            nr.reserve(nldc * static_cast<size_t>(nc));
            for (int j = 0; j < k; ++j) {
                double* col = nr.data() + static_cast<size_t>(j) * nldc;
                std::fill(col, col + nldc, 0.0);
                for (int i = 0; i <= j; ++i) col[i] = Rc[static_cast<size_t>(j)][i];
            }
            R.swap(nr);
            ldc = nldc;
            cap = nc;
            zcols = k;
            Rc.resize(static_cast<size_t>(nc));
            for (int j = 0; j < nc; ++j) Rc[static_cast<size_t>(j)] = R.data() + static_cast<size_t>(j) * ldc;
        }
        for (; zcols < need; ++zcols) {
            double* col = Rc[static_cast<size_t>(zcols)];
            std::fill(col, col + ldc, 0.0);
        }
    }

    // Append the row cached in slot sj to the factor of Y_S^T Y_S + kappa e e^T. False when it is
    // affinely dependent.
    bool chol_append(int sj) {
        ensure_cap(k + 1);
        std::vector<double> r(static_cast<size_t>(k));
        ydots(cs.data(), static_cast<size_t>(k), sj, r.data());
        for (int s = 0; s < k; ++s) r[s] += kappa;
        // forward solve R^T r = g (column s of R holds R(0..s, s))
        const double rr = forward_solve(Rc.data(), r.data(), 0, k);
        const double djj = ynorm[static_cast<size_t>(sj)] + kappa;
        const double rho2 = djj - rr;
        if (!(rho2 > kDependentPivot * djj)) return false;
        for (int s = 0; s < k; ++s) Rat(s, k) = r[s];
        Rat(k, k) = std::sqrt(rho2);
        ++k;
        extend_u(k - 1);
        return true;
    }

    // Append the rows cached in slots sl[0..nb) (nb <= kBlockAdd), in order, as nb calls of chol_append
    // would, but with one sweep of the corral's cached rows and one of the factor for all of them:
    // the products with the corral four newcomers against two corral rows per step (kdot4x2: its
    // own fixed order of sums, so these products, and the factor's new columns, are not bitwise
    // chol_append's), and the forward solves R^T x_j = g_j + kappa e side by side, one per vector
    // lane, each with the operations and order of chol_append's. A row affinely dependent on the
    // corral and the block's rows before it is left out, as chol_append would leave it: ok[j] says
    // which entered. Returns how many did.
    int chol_append_block(const int* sl, int nb, bool* ok) {
        const int k0 = k;
        const int ng = (nb + 3) / 4;  // groups of four lanes
        ensure_cap(k0 + nb);
        const size_t gs4 = 4 * static_cast<size_t>(k0);  // one group's entries
        // g4[g*gs4 + 4t + l] = y_t . y_{sl[4g + l]} (lanes past nb repeat row 0)
        g4.resize(ng * gs4);
        x4.resize(ng * gs4);
        int bb[kBlockAdd + 3];
        for (int j = 0; j < 4 * ng; ++j) bb[j] = sl[j < nb ? j : 0];
        if (sparse_cache()) {
            nbuf.resize(4 * static_cast<size_t>(ld));
            for (int g = 0; g < ng; ++g) {
                double qb[4];
                for (int l = 0; l < 4; ++l) {
                    const double* yb = yrow(bb[4 * g + l]);
                    for (Index t = 0; t < ld; ++t) nbuf[4 * static_cast<size_t>(t) + l] = yb[t];
                    qb[l] = rk_dotd(qk.data(), yb, ld);
                }
                double* gg = g4.data() + g * gs4;
                for (int t = 0; t < k0; ++t)
                    if (sp_n[static_cast<size_t>(cs[static_cast<size_t>(t)])] < 0) sparse_entries(cs[static_cast<size_t>(t)]);
#ifdef HULLSCOPE_HAVE_OPENMP
#pragma omp parallel for num_threads(team) schedule(static) if (team > 1 && k0 >= 4 * kTeamMin)
#endif
                for (int t2 = 0; t2 < (k0 + 1) / 2; ++t2) {  // two corral rows side by side (the last alone)
                    const int t = 2 * t2;
                    const size_t sa = static_cast<size_t>(cs[static_cast<size_t>(t)]);
                    const size_t sb = t + 1 < k0 ? static_cast<size_t>(cs[static_cast<size_t>(t + 1)]) : sa;
                    // the next pair's entries, while this pair runs: each row's are a short stream (on
                    // MNIST about 150 entries, 19 cache lines) that the hardware prefetcher would only
                    // pick up halfway through
                    for (int u = t + 2; u < std::min(t + 4, k0); ++u) {
                        const size_t su = static_cast<size_t>(cs[static_cast<size_t>(u)]);
                        const char* b = reinterpret_cast<const char*>(sp.data() + su * ld);
                        const size_t bytes = static_cast<size_t>(sp_n[su]) * sizeof(SpEntry<T>);
                        for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch(b + o);
                    }
                    double oa[4], ob[4];
                    rk_spdot4x2<T>(sp.data() + sa * ld, sp_n[sa], sp.data() + sb * ld, sp_n[sb], nbuf.data(), oa,
                                   t + 1 < k0 ? ob : nullptr);
                    for (int l = 0; l < 4; ++l) gg[4 * static_cast<size_t>(t) + l] = oa[l] - qb[l];
                    if (t + 1 < k0)
                        for (int l = 0; l < 4; ++l) gg[4 * static_cast<size_t>(t + 1) + l] = ob[l] - qb[l];
                }
            }
        } else {
#ifdef HULLSCOPE_HAVE_OPENMP
#pragma omp parallel for num_threads(team) schedule(static) if (team > 1 && k0 >= 4 * kTeamMin)
#endif
        for (int t2 = 0; t2 < (k0 + 1) / 2; ++t2) {  // two corral rows per sweep (the last alone)
            const int t = 2 * t2;
            const int sa = cs[static_cast<size_t>(t)], sb = cs[static_cast<size_t>(t + 1 < k0 ? t + 1 : t)];
            for (int g = 0; g < ng; ++g) {
                double o1[4];
                rk_dot4x2(yrow(bb[4 * g]), yrow(bb[4 * g + 1]), yrow(bb[4 * g + 2]), yrow(bb[4 * g + 3]), yrow(sa),
                          yrow(sb), ld, g4.data() + g * gs4 + static_cast<size_t>(t) * 4, o1);
                if (t + 1 < k0) std::copy(o1, o1 + 4, g4.data() + g * gs4 + static_cast<size_t>(t + 1) * 4);
            }
        }
        }
        for (int g = 0; g < ng; ++g) rk_fwd4(Rc.data(), x4.data() + g * gs4, g4.data() + g * gs4, kappa, k0);
        const auto xe = [&](int j, int t) { return x4[(j / 4) * gs4 + 4 * static_cast<size_t>(t) + (j % 4)]; };
        // The block's own rows of the factor, in chol_append's order: entry a of newcomer j continues
        // the forward solve's sum over the corral with the accepted newcomers before it; a dependent
        // newcomer is skipped.
        double r2[kBlockAdd][kBlockAdd] = {};  // r2[c][a]: entry (k0 + c, k0 + a), accepted a; r2[c][j] in flight
        int acc[kBlockAdd];
        int na = 0;
        for (int j = 0; j < nb; ++j) {
            ok[j] = false;
            for (int a = 0; a < na; ++a) {
                const int i = acc[a];
                double v = ydot_s(sl[i], sl[j]) + kappa;
                for (int t = 0; t < k0; ++t) v -= xe(i, t) * xe(j, t);
                for (int c = 0; c < a; ++c) v -= r2[c][a] * r2[c][j];
                r2[a][j] = v / r2[a][a];
            }
            double rr = 0.0;
            for (int t = 0; t < k0; ++t) rr += xe(j, t) * xe(j, t);
            for (int a = 0; a < na; ++a) rr += r2[a][j] * r2[a][j];
            const double djj = ynorm[static_cast<size_t>(sl[j])] + kappa;
            const double rho2 = djj - rr;
            if (!(rho2 > kDependentPivot * djj)) continue;
            for (int a = 0; a < na; ++a) r2[a][na] = r2[a][j];  // column j moves to position na <= j
            r2[na][na] = std::sqrt(rho2);
            acc[na++] = j;
            ok[j] = true;
        }
        for (int a = 0; a < na; ++a) {
            double* col = Rc[static_cast<size_t>(k0 + a)];
            for (int t = 0; t < k0; ++t) col[t] = xe(acc[a], t);
            for (int c = 0; c <= a; ++c) col[k0 + c] = r2[c][a];
        }
        k = k0 + na;
        if (na) extend_u(k0);
        return na;
    }
    std::vector<double> g4, x4;  // chol_append_block's scratch

    // Rebuild the factor from scratch (clears the rounding that rank-one updates accumulate).
    // Returns false if the corral has become numerically affinely dependent.
    bool refactor() {
        const int kk = k;
        std::vector<Index> keepS = S;
        std::vector<int> keepC = cs;
        k = 0;
        std::fill(R.data(), R.data() + static_cast<size_t>(zcols) * ldc, 0.0);
        std::vector<Index> S2;
        std::vector<int> C2;
        std::vector<double> lam2;
        for (int s = 0; s < kk; ++s) {
            S.assign(S2.begin(), S2.end());
            cs.assign(C2.begin(), C2.end());
            if (chol_append(keepC[s])) {
                S2.push_back(keepS[s]);
                C2.push_back(keepC[s]);
                lam2.push_back(lam[s]);
            } else {
                free_slot(keepC[s]);  // dependent: leaves the corral
            }
        }
        S.swap(S2);
        cs.swap(C2);
        double sum = 0.0;
        for (double l : lam2) sum += l;
        for (double& l : lam2) l /= sum;
        lam.swap(lam2);
        return static_cast<int>(S.size()) == kk;
    }

    // Remove corral position p from the factor (Givens rotations restore triangularity): column l
    // of the factor becomes what column l + 1 was, its rows p..l+1 taking rotations p..l-1 in order
    // and then yielding rotation l, the entries of a row-by-row sweep with the same operations in
    // the same order (the same bits). The columns move by their pointers, so rows above p stay where
    // they are, and each column is rotated in place. One column's rotations are a chain (each takes
    // the entry the one before it wrote), so four columns go through them side by side: the chains
    // overlap instead of each waiting on its multiplies and adds.
    void chol_remove(int p) {
        gc.resize(static_cast<size_t>(k));
        gs.resize(static_cast<size_t>(k));
        double* const freed = Rc[static_cast<size_t>(p)];
        for (int l = p; l + 1 < k; ++l) Rc[static_cast<size_t>(l)] = Rc[static_cast<size_t>(l) + 1];
        constexpr int G = 4;
        for (int l0 = p; l0 + 1 < k; l0 += G) {
            const int g = std::min(G, k - 1 - l0);
            double* col[G];
            double carry[G];  // the entry the column's next rotation takes first (u)
            for (int c = 0; c < g; ++c) {
                col[c] = Rc[static_cast<size_t>(l0 + c)];
                carry[c] = col[c][p];
            }
            // rotations p..l0-1: known to every column of the group
            int j = p;
            if (g == G) {
                for (; j < l0; ++j) {
                    const double cj = gc[j], sj = gs[j];
                    for (int c = 0; c < G; ++c) {
                        const double u = carry[c], v = col[c][j + 1];
                        col[c][j] = cj * u + sj * v;
                        carry[c] = -sj * u + cj * v;
                    }
                }
            } else {
                for (; j < l0; ++j)
                    for (int c = 0; c < g; ++c) {
                        const double u = carry[c], v = col[c][j + 1];
                        col[c][j] = gc[j] * u + gs[j] * v;
                        carry[c] = -gs[j] * u + gc[j] * v;
                    }
            }
            // then each column in turn: the group's own rotations, and the one it yields
            for (int c = 0; c < g; ++c) {
                const int l = l0 + c;
                for (int jj = l0; jj < l; ++jj) {
                    const double u = carry[c], v = col[c][jj + 1];
                    col[c][jj] = gc[jj] * u + gs[jj] * v;
                    carry[c] = -gs[jj] * u + gc[jj] * v;
                }
                const double a = carry[c], b = col[c][l + 1];
                const double h = std::hypot(a, b);
                const double co = h > 0 ? a / h : 1.0, sn = h > 0 ? b / h : 0.0;
                gc[l] = co;
                gs[l] = sn;
                col[c][l] = co * a + sn * b;
                col[c][l + 1] = 0.0;
            }
        }
        // zeroed for reuse: the freed column held rows 0..p (those past its position are zero)
        std::fill(freed, freed + p + 1, 0.0);
        --k;
        Rc[static_cast<size_t>(k)] = freed;
        extend_u(p);
    }

    // Entries from..k-1 of u = R^{-T} e. Columns before `from` are unchanged since their entries were
    // taken, so u holds exactly what a full forward solve of R^T u = e would give now.
    void extend_u(int from) {
        u.resize(static_cast<size_t>(k));
        for (int s = from; s < k; ++s) u[s] = 1.0;
        forward_solve(Rc.data(), u.data(), from, k);
    }

    // Affine minimiser of the corral: alpha proportional to M^{-1} e, M = Y^T Y + kappa e e^T,
    // i.e. the back solve R alpha = u.
    bool affine_min(std::vector<double>& alpha) {
        alpha.assign(u.begin(), u.begin() + k);
        // Column by column from the last: alpha[s] /= R(s, s), then alpha[0..s) -= R(0..s, s) alpha[s].
        // Eight columns per sweep of alpha, then four, then one: their own triangle first, then every
        // earlier entry takes the group's updates in the column-by-column order (the same bits).
        double* a = alpha.data();
        int s = k - 1;
        for (; s >= 7; s -= 8) {
            const double* c[8];
            for (int j = 0; j < 8; ++j) c[j] = Rc[static_cast<size_t>(s - j)];
            for (int j = 0; j < 8; ++j) {
                for (int i = 0; i < j; ++i) a[s - j] -= c[i][s - j] * a[s - i];
                a[s - j] /= c[j][s - j];
            }
            double sv[8];
            for (int j = 0; j < 8; ++j) sv[j] = a[s - j];
            rk_axpy8(a, c, sv, s - 7);
        }
        for (; s >= 3; s -= 4) {
            const double* c0 = Rc[static_cast<size_t>(s)];
            const double* c1 = Rc[static_cast<size_t>(s - 1)];
            const double* c2 = Rc[static_cast<size_t>(s - 2)];
            const double* c3 = Rc[static_cast<size_t>(s - 3)];
            a[s] /= c0[s];
            a[s - 1] -= c0[s - 1] * a[s];
            a[s - 1] /= c1[s - 1];
            a[s - 2] -= c0[s - 2] * a[s];
            a[s - 2] -= c1[s - 2] * a[s - 1];
            a[s - 2] /= c2[s - 2];
            a[s - 3] -= c0[s - 3] * a[s];
            a[s - 3] -= c1[s - 3] * a[s - 1];
            a[s - 3] -= c2[s - 3] * a[s - 2];
            a[s - 3] /= c3[s - 3];
            const double sv[4] = {a[s], a[s - 1], a[s - 2], a[s - 3]};
            rk_axpy4(a, c0, c1, c2, c3, sv, s - 3);
        }
        for (; s >= 0; --s) {
            const double* col = Rc[static_cast<size_t>(s)];
            a[s] /= col[s];
            rk_axpy(a, col, a[s], s);
        }
        double sum = 0.0;
        for (double a : alpha) sum += a;
        if (!(sum > 0.0) || !std::isfinite(sum)) return false;
        for (double& a : alpha) a /= sum;
        return true;
    }

    // z = sum_s lam_s y_s over the kept coordinates; the full z is zero elsewhere.
    void recompute_z() {
        if (!cached) {
            std::fill(z.begin(), z.end(), 0.0);
            for (int s = 0; s < k; ++s) rk_axpy_shift(z.data(), lam[s], row(S[s]), q.data(), d);
            zz = dot_fixed(z.data(), z.data(), d);
            return;
        }
        std::fill(zc.begin(), zc.end(), 0.0);
        // zc -= y (-lam): the same bits as zc += lam y, through the back solve's kernels, eight rows
        // per sweep of zc (then four, then one). A team splits the coordinates (in blocks of 8): each element still takes
        // the rows in order, so the bits are the same.
        const Index nblk = ld / 8;
        const int parts = team > 1 && k >= 4 * kTeamMin ? static_cast<int>(std::min<Index>(team, nblk)) : 1;
#ifdef HULLSCOPE_HAVE_OPENMP
#pragma omp parallel for num_threads(parts) schedule(static) if (parts > 1)
#endif
        for (int part = 0; part < parts; ++part) {
            const Index b0 = nblk * part / parts * 8, b1 = nblk * (part + 1) / parts * 8;
            double* zp = zc.data() + b0;
            int s = 0;
            for (; s + 8 <= k; s += 8) {
                double nl[8];
                const double* rows[8];
                for (int j = 0; j < 8; ++j) {
                    nl[j] = -lam[s + j];
                    rows[j] = yrow(cs[s + j]) + b0;
                }
                rk_axpy8(zp, rows, nl, b1 - b0);
            }
            for (; s + 4 <= k; s += 4) {
                const double nl[4] = {-lam[s], -lam[s + 1], -lam[s + 2], -lam[s + 3]};
                rk_axpy4(zp, yrow(cs[s]) + b0, yrow(cs[s + 1]) + b0, yrow(cs[s + 2]) + b0, yrow(cs[s + 3]) + b0, nl,
                         b1 - b0);
            }
            for (; s < k; ++s) rk_axpy(zp, yrow(cs[s]) + b0, -lam[s], b1 - b0);
        }
        for (size_t t = 0; t < cc.size(); ++t) z[cc[t]] = zc[t];
        zz = dot_fixed(z.data(), z.data(), d);
    }

    void start_corral(Index j) {
        for (int sl : cs) free_slot(sl);
        cs.clear();
        S.clear();
        cs.push_back(acquire(j));
        S.assign(1, j);
        lam.assign(1, 1.0);
        k = 0;
        // every column back where it was allocated, none zeroed yet
        for (int j = 0; j < cap; ++j) Rc[static_cast<size_t>(j)] = R.data() + static_cast<size_t>(j) * ldc;
        zcols = 0;
        ensure_cap(8);
        Rat(0, 0) = std::sqrt(ynorm[static_cast<size_t>(cs[0])] + kappa);
        k = 1;
        extend_u(0);
        recompute_z();
    }

    void record_hyperplane(const double* a, double offset, double margin) {
        if (margin > best_margin) {
            best_margin = margin;
            best_offset = offset;
            best_normal.assign(a, a + d);
        }
    }

    // Merge the first `m` candidates of a pass into the working set (capped: past the cap the set
    // restarts from this pass's candidates).
    void add_work(const std::vector<Cand>& best, size_t m) {
        m = std::min(m, best.size());
        if (work.size() + m > static_cast<size_t>(kWorkMax)) work.clear();
        for (size_t t = 0; t < m; ++t) work.push_back(best[t].i);
        std::sort(work.begin(), work.end());
        work.erase(std::unique(work.begin(), work.end()), work.end());
    }

    // Partial pricing: between passes over X, price only the working set and solve the restricted
    // problem again on its `take` strongest violators, until it has none, `rounds` run out or the
    // rows priced would pass `budget`. Every verdict and every certificate still comes from a full
    // pass; this only moves the corral on between them. Its candidates come from this query's own
    // passes only, so the answer never depends on which queries share a pass.
    Inner partial_rounds(const SolveOptions& opt, Index max_iter, int rounds, int take, Index budget) {
        Inner r = Inner::kRestrictedOptimal;
        std::vector<Cand> viol;
        std::vector<Index> sortedS;
        std::vector<double> wprice;
        // Only rows that could be taken are priced: on the face while the query keeps to it (each
        // check remembered per row), and outside the corral. The violators, hence the answer, are
        // those of pricing the whole set; at k = 50 on MNIST a third of the set lies off the face.
        std::vector<Index> cand, rows;
        if (face) {
            for (Index c : work)
                if (on_face(c)) cand.push_back(c);
        }
        const std::vector<Index>& pick = face ? cand : work;
        Index priced = 0;
        for (int round = 0; round < rounds && r == Inner::kRestrictedOptimal; ++round) {
            // The budget still counts the whole set, so the rounds taken, hence the answers, are those
            // of pricing every row of it.
            if (priced + static_cast<Index>(work.size()) > budget) break;
            priced += static_cast<Index>(work.size());
            const double thr = std::max(opt.gap_rtol * zz, noise * std::sqrt(zz));
            sortedS.assign(S.begin(), S.end());
            std::sort(sortedS.begin(), sortedS.end());
            rows.clear();
            for (Index c : pick)
                if (!std::binary_search(sortedS.begin(), sortedS.end(), c)) rows.push_back(c);
            viol.clear();
            wprice.resize(rows.size());
            const Index w4 = static_cast<Index>(rows.size() / 4);
#ifdef HULLSCOPE_HAVE_OPENMP
#pragma omp parallel for num_threads(team) schedule(static) if (team > 1 && w4 >= kTeamMin)
#endif
            for (Index g = 0; g < w4; ++g) {
                const size_t t4 = static_cast<size_t>(g) * 4;
                rk_dot_centred4(row(rows[t4]), row(rows[t4 + 1]), row(rows[t4 + 2]), row(rows[t4 + 3]), q.data(), z.data(),
                                d, wprice.data() + t4);
            }
            for (size_t t4 = static_cast<size_t>(w4) * 4; t4 < rows.size(); ++t4) wprice[t4] = price(rows[t4]);
            for (size_t t = 0; t < rows.size(); ++t)
                if (zz - wprice[t] > thr) viol.push_back(Cand{wprice[t], rows[t]});
            if (viol.empty()) break;
            const size_t m = std::min(viol.size(), static_cast<size_t>(take));
            std::partial_sort(viol.begin(), viol.begin() + m, viol.end());
            pool_clear();
            for (size_t t = 0; t < m; ++t) pool_push(viol[t].i);
            release_stale();
            r = restricted_solve(opt, max_iter);
        }
        return r;
    }

    Inner restricted_solve(const SolveOptions& opt, Index max_iter) {
        std::vector<double> alpha, prices, gains;
        std::vector<std::pair<double, Index>> top;  // (-gain, pool position) of the violators
        bool single = false;  // the last block made no progress: take one row this cycle
        for (;;) {
            if (std::sqrt(zz) <= inside_thr) return Inner::kInside;
            prices.resize(pool.size());
            ydots(ps.data(), pool.size(), -1, prices.data());
            // The entering rule: the rows whose segment from the current point lowers |z|^2 the
            // most, (zz - p)^2 / |y - z|^2 for a row at price p = y.z (a violator: zz - p above the
            // threshold). On MNIST queries deep inside the hull it took fewer major cycles than the
            // plain Wolfe rule (least price): 458.5, 582.5 and 501 against 473.5, 586 and 507 at
            // k = 50, 200 and 800 (medians over 8 queries; ranking the working set's violators
            // this way between passes took more passes and cycles). |y - z|^2 >= (zz - p)^2 / zz (Cauchy-
            // Schwarz) also bounds its rounding, so a gain never exceeds zz.
            const double thr = std::max(opt.gap_rtol * zz, noise * std::sqrt(zz));
            gains.resize(pool.size());
            Index best = -1;
            size_t bpos = 0;
            double bestg = 0.0;
            for (size_t t = 0; t < pool.size(); ++t) {
                const double g = zz - prices[t];
                double gain = 0.0;
                if (g > thr) {
                    const double e2 = std::max(ynorm[static_cast<size_t>(ps[t])] - 2.0 * prices[t] + zz, g * g / zz);
                    gain = g * g / e2;
                }
                gains[t] = gain;
                if (gain > bestg || (gain == bestg && gain > 0.0 && pool[t] < best)) {
                    bestg = gain;
                    best = pool[t];
                    bpos = t;
                }
            }
            if (best < 0) return Inner::kRestrictedOptimal;
            if (iters >= max_iter) return Inner::kLimit;
            ++iters;
            // The block: the strongest violators, best first (ties to the lower row), at most
            // kBlockAdd, or the one best when the last block stalled or the rows are not cached.
            int nb = 1;
            size_t blk_pos[kBlockAdd] = {bpos};
            if (!single && cached && kBlockAdd > 1) {
                top.clear();
                for (size_t t = 0; t < pool.size(); ++t)
                    if (gains[t] > 0.0) top.emplace_back(-gains[t], static_cast<Index>(t));
                nb = static_cast<int>(std::min(top.size(), static_cast<size_t>(kBlockAdd)));
                std::partial_sort(top.begin(), top.begin() + nb, top.end(), [&](const auto& a, const auto& b) {
                    return a.first < b.first || (a.first == b.first && pool[a.second] < pool[b.second]);
                });
                for (int j = 0; j < nb; ++j) blk_pos[j] = static_cast<size_t>(top[j].second);
            }
            single = false;
            int blk_slot[kBlockAdd];
            Index blk_row[kBlockAdd];
            for (int j = 0; j < nb; ++j) {
                blk_slot[j] = ps[blk_pos[j]];
                blk_row[j] = pool[blk_pos[j]];
            }
            {  // out of the pool, highest position first
                size_t sp[kBlockAdd];
                std::copy(blk_pos, blk_pos + nb, sp);
                for (int a = 1; a < nb; ++a)  // insertion sort of at most kBlockAdd
                    for (int c = a; c > 0 && sp[c - 1] > sp[c]; --c) std::swap(sp[c - 1], sp[c]);
                for (int j = nb - 1; j >= 0; --j) {
                    pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(sp[j]));
                    ps.erase(ps.begin() + static_cast<std::ptrdiff_t>(sp[j]));
                }
            }
            bool blk_ok[kBlockAdd] = {};
            int added = 0;
            if (nb == 1) {
                blk_ok[0] = chol_append(blk_slot[0]);
                added = blk_ok[0] ? 1 : 0;
            } else {
                added = chol_append_block(blk_slot, nb, blk_ok);
            }
            for (int j = 0; j < nb; ++j) {
                if (!blk_ok[j]) {  // dependent: drop it from the pool
                    free_slot(blk_slot[j]);
                    continue;
                }
                S.push_back(blk_row[j]);
                cs.push_back(blk_slot[j]);
                lam.push_back(0.0);
            }
            if (added == 0) continue;
            const double zz_before = zz;
            // minor cycles
            for (;;) {
                if (!affine_min(alpha)) {
                    // numerically singular corral: drop the newest point if it carries no weight
                    if (!lam.empty() && lam.back() == 0.0) {
                        chol_remove(k - 1);
                        S.pop_back();
                        free_slot(cs.back());
                        cs.pop_back();
                        lam.pop_back();
                    }
                    if (refactored) return Inner::kStalled;
                    refactor();
                    refactored = true;
                    continue;
                }
                bool all_pos = true;
                for (int s = 0; s < k; ++s)
                    if (!(alpha[s] > 0.0)) {
                        all_pos = false;
                        break;
                    }
                if (all_pos) {
                    lam = alpha;
                    break;
                }
                double theta = 1.0;
                int arg = -1;
                for (int s = 0; s < k; ++s) {
                    if (alpha[s] <= 0.0) {
                        const double den = lam[s] - alpha[s];
                        const double t = den > 0.0 ? lam[s] / den : 0.0;
                        if (t < theta || arg < 0) {
                            theta = t;
                            arg = s;
                        }
                    }
                }
                for (int s = 0; s < k; ++s) lam[s] += theta * (alpha[s] - lam[s]);
                lam[arg] = 0.0;
                // A row at weight 0 leaves when it set the step or its affine weight is not positive
                // (rows of the block still at 0 after a step of 0 stay: they pull the corral on).
                for (int s = k - 1; s >= 0; --s) {
                    if (lam[s] <= 0.0 && (s == arg || alpha[s] <= 0.0)) {
                        pool.push_back(S[s]);
                        ps.push_back(cs[s]);
                        chol_remove(s);
                        S.erase(S.begin() + s);
                        cs.erase(cs.begin() + s);
                        lam.erase(lam.begin() + s);
                    }
                }
                double sum = 0.0;
                for (double l : lam) sum += l;
                for (double& l : lam) l /= sum;
            }
            recompute_z();
            if (!(zz < zz_before * (1.0 - kMinProgress)) && added > 1) {
                single = true;  // retry with the plain Wolfe step before counting a stall
            } else if (!(zz < zz_before * (1.0 - kMinProgress))) {
                if (++stalls >= 3) {
                    if (refactored) return Inner::kStalled;
                    refactor();  // one fresh factorisation before giving up
                    recompute_z();
                    refactored = true;
                    stalls = 0;
                }
            } else {
                stalls = 0;
                refactored = false;
            }
        }
    }
};

template <class T>
bool in_corral(const Query<T>& Qy, Index c) { return std::find(Qy.S.begin(), Qy.S.end(), c) != Qy.S.end(); }

}  // namespace

namespace {

template <class T>
SolveResult solve_impl(const PointSet& ps, const T* Xs, const double* Q, Index B, const Index* subset, Index nsub,
                       const Index* exclude, const SolveOptions& opt) {
    const Index n = ps.n(), d = ps.d();
    if (B < 0) throw std::invalid_argument("Q: negative number of queries");
    if (subset && nsub <= 0) throw std::invalid_argument("subset: selects no rows of X");
    if (!(opt.rtol > 0.0) || !(opt.rtol < 1.0)) throw std::invalid_argument("rtol: expected a number in (0, 1)");
    if (opt.pool < 1) throw std::invalid_argument("pool: expected a positive candidate count");
    if (opt.max_passes < 1) throw std::invalid_argument("max_passes: expected a positive count");
    if (subset)
        for (Index i = 0; i < nsub; ++i)
            if (subset[i] < 0 || subset[i] >= n) throw std::invalid_argument("subset: row index out of range");
    const int threads = resolve_threads(opt.threads);
    const Index max_iter = opt.max_iterations > 0 ? opt.max_iterations : 100 * (d + 1) + 1000;
    const int block = opt.block > 0 ? opt.block : (d <= 1024 ? 128 : 64);
    const int P = opt.pool;

    // Statistics of the rows considered (the whole set, or the subset), centred on `org`: the first
    // row of the hull. Every product with a data row below is taken of x_i - org (see PointSet).
    const double* org = ps.origin().data();
    const std::vector<double>* lo = &ps.lo();
    const std::vector<double>* hi = &ps.hi();
    const std::vector<double>* cen = &ps.centroid();
    const std::vector<double>* xc = &ps.xc();
    const std::vector<double>* nrm = &ps.norm2();
    std::vector<double> slo, shi, scen, sxc, snorm, sorg;
    double Rmax = ps.max_norm();
    if (subset) {
        sorg.assign(Xs + subset[0] * d, Xs + (subset[0] + 1) * d);
        org = sorg.data();
        slo.assign(static_cast<size_t>(d), kInf);
        shi.assign(static_cast<size_t>(d), -kInf);
        scen.assign(static_cast<size_t>(d), 0.0);
        for (Index t = 0; t < nsub; ++t) {
            const T* x = Xs + subset[t] * d;
            for (Index kk = 0; kk < d; ++kk) {
                const double v = static_cast<double>(x[kk]) - org[kk];
                scen[kk] += v;
                slo[kk] = std::min(slo[kk], v);
                shi[kk] = std::max(shi[kk], v);
            }
        }
        for (Index kk = 0; kk < d; ++kk) scen[kk] /= static_cast<double>(nsub);
        sxc.assign(static_cast<size_t>(n), 0.0);
        snorm.assign(static_cast<size_t>(n), 0.0);
        double mx = 0.0;
        for (Index t = 0; t < nsub; ++t) {
            const T* x = Xs + subset[t] * d;
            sxc[subset[t]] = centred_dot(x, org, scen.data(), d);
            snorm[subset[t]] = dot_shifted(x, x, org, d);
            mx = std::max(mx, snorm[subset[t]]);
        }
        Rmax = std::sqrt(mx);
        lo = &slo;
        hi = &shi;
        cen = &scen;
        xc = &sxc;
        nrm = &snorm;
    }
    double cen_norm = 0.0;
    for (Index kk = 0; kk < d; ++kk) cen_norm += (*cen)[kk] * (*cen)[kk];
    cen_norm = std::sqrt(cen_norm);

    PassInput<T> pin;
    pin.X = Xs;
    pin.n = n;
    pin.d = d;
    pin.rows = subset;
    pin.nrows = subset ? nsub : n;
    pin.norm2 = nrm->data();
    pin.xc = xc->data();
    // Exact in-kernel centring where the origin lies farther from zero than the data spread (there
    // x.z - o.z would cancel beyond what the hyperplane pad covers); elsewhere the per-column shift
    // o.z, subtracted after the product, has rounding within the pad (|x| + |o| <= 2 Rmax + |x'|).
    double onorm = 0.0;
    for (Index kk = 0; kk < d; ++kk) onorm += org[kk] * org[kk];
    const bool exact_centring = std::sqrt(onorm) > Rmax;
    pin.center = exact_centring ? org : nullptr;
    const SparseRows<T> sprows = ps.sparse_rows<T>();
    if (ps.sparse()) pin.sparse = &sprows;

    SolveResult res;
    res.B = B;
    res.d = d;
    res.status.assign(B, kUnconverged);
    res.converged.assign(B, 0);
    res.distance.assign(B, 0.0);
    res.lower.assign(B, 0.0);
    res.margin.assign(B, -kInf);
    res.offset.assign(B, 0.0);
    res.tol.assign(B, 0.0);
    res.scale.assign(B, 0.0);
    res.nn_distance.assign(B, 0.0);
    res.nn_index.assign(B, -1);
    res.passes.assign(B, 0);
    res.iterations.assign(B, 0);
    res.nearest.assign(static_cast<size_t>(B * d), 0.0);
    res.normal.assign(static_cast<size_t>(B * d), 0.0);
    std::vector<std::vector<Index>> sup_i(static_cast<size_t>(B));
    std::vector<std::vector<double>> sup_v(static_cast<size_t>(B));

    std::vector<std::unique_ptr<Query<T>>> active;
    Index next = 0;
    std::vector<double> Zt;
    std::vector<PassColumn> cols;
    std::vector<PassOutput> pout;

    auto finalize = [&](Query<T>& qy) {
        const Index b = qy.id;
        const double res_norm = std::sqrt(qy.zz);
        int8_t st;
        if (qy.best_margin > qy.tol) st = kOutside;
        else if (res_norm <= qy.tol) st = qy.best_margin > 0.0 ? kBoundary : kInside;
        else st = qy.converged ? kBoundary : kUnconverged;
        res.status[b] = st;
        res.converged[b] = qy.converged ? 1 : 0;
        res.distance[b] = res_norm;
        res.lower[b] = st == kInside ? 0.0 : std::max(0.0, std::min(qy.best_margin, res_norm));
        res.margin[b] = qy.best_margin;
        res.offset[b] = qy.best_offset;
        res.tol[b] = qy.tol;
        res.scale[b] = qy.scale;
        res.nn_distance[b] = qy.nn_dist;
        res.nn_index[b] = qy.nn_idx;
        res.passes[b] = qy.passes;
        res.iterations[b] = qy.iters;
        for (Index kk = 0; kk < d; ++kk) res.nearest[b * d + kk] = qy.q[kk] + qy.z[kk];
        if (!qy.best_normal.empty())
            for (Index kk = 0; kk < d; ++kk) res.normal[b * d + kk] = qy.best_normal[kk];
        std::vector<Index> order(static_cast<size_t>(qy.k));
        std::iota(order.begin(), order.end(), 0);
        std::sort(order.begin(), order.end(), [&](Index a, Index c) { return qy.S[a] < qy.S[c]; });
        for (Index o : order) {
            sup_i[b].push_back(qy.S[o]);
            sup_v[b].push_back(qy.lam[o]);
        }
    };

    auto process = [&](Query<T>& qy, const PassOutput& po) {
        ++qy.passes;
        const bool wide = qy.wide;
        qy.add_work(po.best, po.best.size());  // the column kept exactly this query's width
        const Index dd = qy.d;
        if (qy.fresh) {
            qy.fresh = false;
            if (po.best.empty()) throw std::invalid_argument("exclude: leaves no rows in the hull");
            // exact nearest neighbour among the first P candidates ranked by the expanded distance
            const size_t nP = std::min(po.best.size(), static_cast<size_t>(P));
            double best = kInf;
            Index bi = -1;
            for (size_t t = 0; t < nP; ++t) {
                const Cand& c = po.best[t];
                const double dd2 = qy.ydot(c.i, c.i);
                if (dd2 < best || (dd2 == best && c.i < bi)) {
                    best = dd2;
                    bi = c.i;
                }
            }
            qy.nn_idx = bi;
            qy.nn_dist = std::sqrt(best);
            qy.scale = std::max(std::sqrt(std::max(po.vmax + qy.qq, 0.0)), qy.nn_dist);
            const double mag = Rmax + qy.qnorm;
            qy.kappa = qy.scale > 0 ? qy.scale * qy.scale : 1.0;
            qy.tol = opt.rtol * qy.scale;
            qy.noise = 16.0 * kEps * std::sqrt(static_cast<double>(dd)) * mag;
            qy.pad = 4.0 * static_cast<double>(dd + 2) * kEps * mag;
            qy.inside_thr = std::min(qy.tol, std::max(1e-3 * qy.tol, 4.0 * kEps * std::sqrt((double)dd) * mag));
            qy.z.assign(static_cast<size_t>(dd), 0.0);
            // cheap certificates: the centroid direction and the bounding box (centred coordinates)
            {
                std::vector<double> a(static_cast<size_t>(dd));
                double na2 = 0.0, cq = 0.0;
                for (Index kk = 0; kk < dd; ++kk) {
                    a[kk] = qy.qc[kk] - (*cen)[kk];
                    na2 += a[kk] * a[kk];
                    cq += (*cen)[kk] * qy.qc[kk];
                }
                const double na = std::sqrt(na2);
                if (na > 0 && std::isfinite(po.cmax)) {
                    // cmax = max_i x'_i.q' - x'_i.c' carries rounding of the size of each product,
                    // |x'| (|q'| + |c'|), which the division by |q' - c'| magnifies: pad for it.
                    const double padc = qy.pad + 4.0 * static_cast<double>(dd + 2) * kEps * Rmax *
                                                     (qy.qnorm + cen_norm) / na;
                    const double offset = po.cmax / na + padc;
                    const double margin = (qy.qq - cq) / na - offset;
                    for (double& v : a) v /= na;
                    qy.record_hyperplane(a.data(), offset, margin);
                }
                for (Index kk = 0; kk < dd; ++kk) {
                    const double up = qy.qc[kk] - (*hi)[kk], dn = (*lo)[kk] - qy.qc[kk];
                    if (up > qy.best_margin || dn > qy.best_margin) {
                        std::fill(a.begin(), a.end(), 0.0);
                        if (up >= dn) {
                            a[kk] = 1.0;
                            qy.record_hyperplane(a.data(), (*hi)[kk], up);
                        } else {
                            a[kk] = -1.0;
                            qy.record_hyperplane(a.data(), -(*lo)[kk], dn);
                        }
                    }
                }
            }
            {
                // The cache holds the pool and the corral; rows too long for a pool of them to stay
                // within kCacheBudget are read from X instead (high-dimensional inputs).
                const double pool_rows = static_cast<double>(qy.face ? kFacePoolFactor * P : P);
                const double row_bytes = 8.0 * static_cast<double>(dd - static_cast<Index>(qy.face ? qy.tight.size() : 0));
                qy.init_cache(qy.face ? qy.tight : std::vector<Index>{}, pool_rows * row_bytes <= kCacheBudget);
            }
            qy.start_corral(bi);
            if (qy.scale == 0.0) {  // every row equals q
                qy.converged = true;
                qy.done = true;
                return;
            }
            if (opt.early_exit && qy.best_margin > qy.tol) {  // settled: no pool to cache
                qy.done = true;
                return;
            }
            qy.pool_clear();
            if (qy.face) {
                const size_t nF = std::min(po.best.size(), static_cast<size_t>(kFacePoolFactor) * P);
                for (size_t t = 0; t < nF; ++t)
                    if (po.best[t].i != bi && qy.on_face(po.best[t].i)) qy.pool_push(po.best[t].i);
            }
            if (qy.pool.empty()) {
                qy.face = false;
                for (size_t t = 0; t < nP; ++t)
                    if (po.best[t].i != bi) qy.pool_push(po.best[t].i);
            }
        } else {
            const double nz = std::sqrt(qy.zz);
            const double zq = dot_fixed(qy.z.data(), qy.qc.data(), dd);
            const double min_t = po.best.front().v;
            const double m_full = min_t - zq;
            if (nz > 0) {
                std::vector<double> a(qy.z);
                for (double& v : a) v = -v / nz;
                const double offset = -min_t / nz + qy.pad;
                const double margin = -zq / nz - offset;
                qy.record_hyperplane(a.data(), offset, margin);
            }
            const double thr = std::max(opt.gap_rtol * qy.zz, qy.noise * nz);
            if (qy.zz - m_full <= thr) {
                qy.converged = true;
                qy.done = true;
                return;
            }
            if ((opt.early_exit && qy.best_margin > qy.tol) || qy.passes >= opt.max_passes) {
                qy.done = true;
                return;
            }
            qy.pool_clear();
            if (qy.face) {
                const size_t nF = std::min(po.best.size(), static_cast<size_t>(kFacePoolFactor) * P);
                for (size_t t = 0; t < nF; ++t) {
                    const Cand& c = po.best[t];
                    if (qy.zz - (c.v - zq) <= thr) break;  // sorted ascending: the rest are no better
                    if (!in_corral(qy, c.i) && qy.on_face(c.i)) qy.pool_push(c.i);
                }
                // no violator on the face: q is not inside (or the face is exhausted); go on with all rows
                if (qy.pool.empty()) qy.face = false;
            }
            if (!qy.face) {
                const size_t nP = std::min(po.best.size(), static_cast<size_t>(P));
                for (size_t t = 0; t < nP; ++t) {
                    const Cand& c = po.best[t];
                    if (qy.zz - (c.v - zq) <= thr) break;
                    if (!in_corral(qy, c.i)) qy.pool_push(c.i);
                }
            }
            qy.release_stale();
            if (qy.pool.empty()) {  // the only violators are already in the corral: rounding floor
                qy.done = true;
                return;
            }
        }
        const double zz_before = qy.zz;
        Inner r = qy.restricted_solve(opt, max_iter);
        if (r == Inner::kRestrictedOptimal && (wide || qy.zz > kSlowPass * zz_before))
            r = qy.partial_rounds(opt, max_iter, qy.zz > kSlowPass * zz_before ? kPartialRounds : kFastRounds,
                                  kPartialTake, kRoundBudgetPasses * (subset ? nsub : n));
        qy.wide = qy.k > 2 * P;
        // The face is a preference, never a trap: a pass on it that does not cut |z|^2 by a tenth
        // (or a stall) returns the query to all rows.
        if (qy.face && (r == Inner::kStalled || !(qy.zz < 0.9 * zz_before))) qy.face = false;
        switch (r) {
            case Inner::kInside:
                qy.converged = true;
                qy.done = true;
                break;
            case Inner::kRestrictedOptimal:
                qy.stalled_last = false;
                break;
            case Inner::kStalled:
                // A stall at the rounding floor repeats; one on a pool whose violators sit at the
                // noise of z's products (a pool exhausted far from the answer) does not: the next
                // pass brings fresh candidates. A second stall without halving |z|^2 ends the query.
                if (qy.stalled_last && !(qy.zz < 0.5 * qy.zz_stall)) qy.done = true;
                qy.stalled_last = true;
                qy.zz_stall = qy.zz;
                break;
            case Inner::kLimit:
                qy.done = true;
                break;
        }
        // Within tol of q and a pass that no longer halves |z|^2: the rounding floor of an inside
        // query (its weights already certify q to tol). Stop instead of circling there.
        if (!qy.done && std::sqrt(qy.zz) <= qy.tol && !(qy.zz < 0.5 * zz_before)) {
            qy.converged = true;
            qy.done = true;
        }
    };

    Index finished = 0;
    while (next < B || !active.empty()) {
        while (static_cast<int>(active.size()) < block && next < B) {
            auto qy = std::make_unique<Query<T>>();
            qy->id = next;
            qy->exclude = exclude ? exclude[next] : -1;
            qy->d = d;
            qy->X = Xs;
            qy->q.assign(Q + next * d, Q + (next + 1) * d);
            qy->qc.resize(static_cast<size_t>(d));
            for (Index kk = 0; kk < d; ++kk) qy->qc[kk] = qy->q[kk] - org[kk];
            qy->qq = dot_fixed(qy->qc.data(), qy->qc.data(), d);
            qy->qnorm = std::sqrt(qy->qq);
            qy->org = org;
            for (Index kk = 0; kk < d; ++kk) {
                if (!((*lo)[kk] < (*hi)[kk])) continue;  // every row shares this coordinate
                if (qy->qc[kk] == (*lo)[kk] || qy->qc[kk] == (*hi)[kk]) {
                    qy->tight.push_back(kk);
                    qy->tight_val.push_back(qy->qc[kk]);
                }
            }
            qy->face = !qy->tight.empty();
            qy->sparse_x = ps.density() <= PointSet::kSparseDensity;  // of X's values, not of sparse=: the same bits either way
            active.push_back(std::move(qy));
            ++next;
        }
        const int Bact = static_cast<int>(active.size());
        const int Bp = (Bact + 7) / 8 * 8;
        Zt.assign(static_cast<size_t>(d * Bp), 0.0);
        cols.assign(static_cast<size_t>(Bact), PassColumn{});
        for (int b = 0; b < Bact; ++b) {
            Query<T>& qy = *active[b];
            const double* col = qy.fresh ? qy.qc.data() : qy.z.data();
            for (Index kk = 0; kk < d; ++kk) Zt[kk * Bp + b] = col[kk];
            cols[b].mode = qy.fresh ? PassMode::kNearest : PassMode::kPrice;
            cols[b].exclude = qy.exclude;
            cols[b].shift = exact_centring ? 0.0 : dot_fixed(org, col, d);
            // Each column keeps its own query's width, so no answer depends on which queries
            // share the pass.
            const int base = qy.face ? kFacePoolFactor * P : P;
            cols[b].top = qy.wide ? std::max(kPassCand, base) : base;
        }
        int widest = P;
        for (int b = 0; b < Bact; ++b) widest = std::max(widest, cols[b].top);
        pricing_pass(pin, Zt.data(), Bp, cols, widest, threads, pout);

        // A query that stops short of convergence (the rounding floor, a stall or a limit) gets one
        // polishing pass: the outward direction q - p made exactly orthogonal to the corral's affine
        // hull, and its exact maximum over the hull rows. Near a face, the Wolfe iterate's own
        // direction carries rounding of the size of the data's extent and cannot separate q by a
        // few tol; the polished one can, and it brackets the distance to the rounding floor.
        auto polish = [&](Query<T>& qy) {
            if (qy.k < 1 || !(qy.scale > 0)) return;
            if (opt.early_exit && qy.best_margin > qy.tol) return;
            if (std::sqrt(qy.zz) <= qy.tol) return;  // inside: the weights are the certificate
            Eigen::VectorXd v(d);
            for (Index kk = 0; kk < d; ++kk) v[kk] = -qy.z[kk];
            if (qy.k >= 2) {
                Eigen::MatrixXd D(d, qy.k - 1);
                const T* x0 = qy.row(qy.S[0]);
                for (int s = 1; s < qy.k; ++s) {
                    const T* xs = qy.row(qy.S[s]);
                    for (Index kk = 0; kk < d; ++kk)
                        D(kk, s - 1) = static_cast<double>(xs[kk]) - static_cast<double>(x0[kk]);
                }
                Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(D);
                for (int rep = 0; rep < 2; ++rep) {
                    const Eigen::VectorXd c = qr.solve(v);
                    v -= D * c;
                }
            }
            const double nv = v.norm();
            if (!(nv > 0) || !std::isfinite(nv)) return;
            v /= nv;
            double mx = -kInf;
            const Index nr = subset ? nsub : n;
            for (Index t = 0; t < nr; ++t) {
                const Index r = subset ? subset[t] : t;
                if (r == qy.exclude) continue;
                mx = std::max(mx, centred_dot(Xs + r * d, org, v.data(), d));
            }
            const double offset = mx + qy.pad;
            const double margin = dot_fixed(v.data(), qy.qc.data(), d) - offset;
            qy.record_hyperplane(v.data(), offset, margin);
            ++qy.passes;
            if (std::sqrt(qy.zz) - qy.best_margin <= 4.0 * (qy.noise + qy.pad)) qy.converged = true;
        };

        // A query whose processing throws marks the whole call failed; the exception keeps its type.
        // Longest first: the threads take queries in order of their last pass's work (iterations
        // times corral size), so a heavy query does not start last and leave the other threads idle
        // at the end of the pass. The order changes nothing in any query's answer.
        std::vector<Index> order(static_cast<size_t>(Bact));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [&](Index a, Index c) { return active[a]->last_work > active[c]->last_work; });
        const auto step = [&](Index t) {
            Query<T>& qy = *active[order[t]];
            const Index it0 = qy.iters;
            process(qy, pout[order[t]]);
            qy.last_work = static_cast<double>(qy.iters - it0) * qy.k;
            if (qy.done && !qy.converged) polish(qy);
        };
        if (Bact == 1) {
            // a query alone: its own sweeps take the threads (same answer for any thread count)
            active[0]->team = threads;
            step(0);
        } else {
            for (auto& qy : active) qy->team = 1;
            // A query whose last pass took more than twice the work of all the others together
            // (typically the last hard query of a batch, beside a few nearly done) would keep one
            // thread busy while the others wait: it goes first, its sweeps split over every thread
            // (1.2-1.4x faster alone, the same answer), then the rest share the threads. Below
            // twice, running it beside the others finishes sooner.
            Index first = 0;
            if (threads > 1) {
                double rest = 0.0;
                for (Index t = 1; t < Bact; ++t) rest += active[order[t]]->last_work;
                if (active[order[0]]->last_work > 2.0 * rest) {
                    active[order[0]]->team = threads;
                    step(0);
                    active[order[0]]->team = 1;
                    first = 1;
                }
            }
            parallel_for(Bact - first, threads, [&](Index t) { step(t + first); });
        }
        if (opt.interrupted && opt.interrupted()) throw Interrupted();
        std::vector<std::unique_ptr<Query<T>>> keep;
        for (auto& qy : active) {
            if (qy->done) {
                finalize(*qy);
                ++finished;
            } else {
                keep.push_back(std::move(qy));
            }
        }
        active.swap(keep);
        if (opt.on_progress) opt.on_progress(finished);
    }

    res.indptr.assign(static_cast<size_t>(B + 1), 0);
    for (Index b = 0; b < B; ++b) res.indptr[b + 1] = res.indptr[b] + static_cast<Index>(sup_i[b].size());
    res.indices.reserve(static_cast<size_t>(res.indptr[B]));
    res.values.reserve(static_cast<size_t>(res.indptr[B]));
    for (Index b = 0; b < B; ++b) {
        res.indices.insert(res.indices.end(), sup_i[b].begin(), sup_i[b].end());
        res.values.insert(res.values.end(), sup_v[b].begin(), sup_v[b].end());
    }
    return res;
}

}  // namespace

SolveResult solve_hull(const PointSet& ps, const double* Q, Index B, const Index* subset, Index nsub,
                       const Index* exclude, const SolveOptions& opt) {
    if (ps.single()) return solve_impl<float>(ps, ps.Xf(), Q, B, subset, nsub, exclude, opt);
    return solve_impl<double>(ps, ps.X(), Q, B, subset, nsub, exclude, opt);
}

}  // namespace hullscope
