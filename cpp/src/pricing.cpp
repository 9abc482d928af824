// hullscope core: the blocked pricing pass (see pricing.hpp).
//
// Every micro-kernel (the packed 6/4/2-row x 8-column kernel of a pass with several columns, the
// 8-row matrix-vector kernel of a pass with one, and their sparse counterparts over a CSR copy of
// X's non-zero entries) computes X_rows * Z as plain sequential sums over k, one accumulator per
// output element; the sparse ones skip the zero terms, which change no sum. Every output element
// is therefore the same function of (x_i, z_b) whichever kernel computes it and wherever the row
// and the column sit in a tile, which is what makes a query's result independent of the other
// queries in flight, of the chunking and of the thread count. An AVX2+FMA build of each kernel is
// selected at run time where the CPU has it; the generic build is plain C++.
#include "hullscope/pricing.hpp"
#include "hullscope/vec4.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#ifdef HULLSCOPE_HAVE_OPENMP
#include <omp.h>
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HULLSCOPE_X86_DISPATCH 1  // AVX2+FMA builds of the kernels, chosen at run time
#endif

#ifndef HULLSCOPE_PACK_ROWS
#define HULLSCOPE_PACK_ROWS 24
#endif

namespace hullscope {

namespace {

constexpr int kRowTileMV = 8;  // rows of the matrix-vector tile
constexpr int kRowPad = 8;  // partial row blocks are padded to this
constexpr int kRowBlock = 256;  // rows per work item (results never depend on it or on threads)
// Rows widened together by the packed kernel: 24 rows x 784 doubles (150 KB) stay in L2 while each
// 8-column panel of Z (50 KB at d = 784) is reused across their 6-row groups.
constexpr int kPackRows = HULLSCOPE_PACK_ROWS;
constexpr int kUnionSkip = 64;  // row groups taken densely after one with too few shared zeros
static_assert(kPackRows % kRowPad == 0, "packed rows come in whole padded groups");

// 4-wide double vectors (vec4.hpp; one AVX register with FMA in the AVX2 build).
using vec4::v4d;
using vec4::load4;

template <class T>
using TileFn = void (*)(const T* const* xr, const double* cen, const double* Zt, Index d, int Bp, int c0, double* Tout);

// One column against 8 rows (the matrix-vector path of a query priced alone). Each row's product is
// the same sequence of multiply-adds over k, in order, as in the packed kernel, so the two kernels
// give identical bits: rows sit in the lanes of two accumulators, and 4 consecutive elements of 4
// rows are loaded as vectors and transposed in registers so that one vector op serves 4 rows.

#define HULLSCOPE_MV_GROUP(R0, R1, R2, R3, ACC, K)                                               \
    {                                                                                            \
        const v4d u0 = __builtin_shufflevector(R0, R1, 0, 4, 2, 6);                              \
        const v4d u1 = __builtin_shufflevector(R0, R1, 1, 5, 3, 7);                              \
        const v4d u2 = __builtin_shufflevector(R2, R3, 0, 4, 2, 6);                              \
        const v4d u3 = __builtin_shufflevector(R2, R3, 1, 5, 3, 7);                              \
        ACC += __builtin_shufflevector(u0, u2, 0, 1, 4, 5) * Zt[(K) * Bp];                       \
        ACC += __builtin_shufflevector(u1, u3, 0, 1, 4, 5) * Zt[((K) + 1) * Bp];                 \
        ACC += __builtin_shufflevector(u0, u2, 2, 3, 6, 7) * Zt[((K) + 2) * Bp];                 \
        ACC += __builtin_shufflevector(u1, u3, 2, 3, 6, 7) * Zt[((K) + 3) * Bp];                 \
    }

#define HULLSCOPE_MV_BODY(CENTRED)                                                               \
    v4d acc0 = {0, 0, 0, 0}, acc1 = acc0;                                                        \
    Index k = 0;                                                                                 \
    for (; k + 4 <= d; k += 4) {                                                                 \
        v4d c4 = {0, 0, 0, 0};                                                                   \
        if (CENTRED) __builtin_memcpy(&c4, cen + k, sizeof(v4d));                                \
        const v4d r0 = load4(xr[0] + k) - c4, r1 = load4(xr[1] + k) - c4;                        \
        const v4d r2 = load4(xr[2] + k) - c4, r3 = load4(xr[3] + k) - c4;                        \
        HULLSCOPE_MV_GROUP(r0, r1, r2, r3, acc0, k)                                              \
        const v4d r4 = load4(xr[4] + k) - c4, r5 = load4(xr[5] + k) - c4;                        \
        const v4d r6 = load4(xr[6] + k) - c4, r7 = load4(xr[7] + k) - c4;                        \
        HULLSCOPE_MV_GROUP(r4, r5, r6, r7, acc1, k)                                              \
    }                                                                                            \
    for (; k < d; ++k) {                                                                         \
        const double ck = (CENTRED) ? cen[k] : 0.0;                                              \
        const v4d b0 = {static_cast<double>(xr[0][k]) - ck, static_cast<double>(xr[1][k]) - ck,  \
                        static_cast<double>(xr[2][k]) - ck, static_cast<double>(xr[3][k]) - ck}; \
        const v4d b1 = {static_cast<double>(xr[4][k]) - ck, static_cast<double>(xr[5][k]) - ck,  \
                        static_cast<double>(xr[6][k]) - ck, static_cast<double>(xr[7][k]) - ck}; \
        acc0 += b0 * Zt[k * Bp];                                                                 \
        acc1 += b1 * Zt[k * Bp];                                                                 \
    }                                                                                            \
    for (int r = 0; r < 4; ++r) {                                                                \
        Tout[r] = acc0[r];                                                                       \
        Tout[r + 4] = acc1[r];                                                                   \
    }

template <class T>
void mv_generic_c(const T* const* xr, const double* cen, const double* Zt, Index d, int Bp, int c0, double* Tout) {
    (void)c0;
    HULLSCOPE_MV_BODY(1)
}
template <class T>
void mv_generic_p(const T* const* xr, const double* cen, const double* Zt, Index d, int Bp, int c0, double* Tout) {
    (void)c0;
    (void)cen;
    HULLSCOPE_MV_BODY(0)
}
#ifdef HULLSCOPE_X86_DISPATCH
template <class T>
__attribute__((target("avx2,fma"))) void mv_avx2_c(const T* const* xr, const double* cen, const double* Zt, Index d,
                                                   int Bp, int c0, double* Tout) {
    (void)c0;
    HULLSCOPE_MV_BODY(1)
}
template <class T>
__attribute__((target("avx2,fma"))) void mv_avx2_p(const T* const* xr, const double* cen, const double* Zt, Index d,
                                                   int Bp, int c0, double* Tout) {
    (void)c0;
    (void)cen;
    HULLSCOPE_MV_BODY(0)
}
#endif

// The packed kernel of a pass with several columns. Rows are widened to double once per pass, the
// centre subtracted (Xw[r*d + k]); each 8-column panel of Z is stored k-major (Zp[k*8 + c]). The
// R x 8 micro-kernel (R = 6, or 4 and 2 for the rest of a group) then broadcasts one widened x per
// row from memory and loads the panel's two vectors: 12 multiply-adds per 8 loads at R = 6, no
// conversion in the inner loop, sequential addresses. Every output element is the sequential sum
// over k of ((double)x_ik - c_k) * z_kb, the same operations in the same order as in the
// matrix-vector kernel, so the kernels give the same bits.
//
// While a chunk's rows are computed, the stored rows of the next chunk are prefetched, a cache line
// or two per step of k (pf: npf rows of rb bytes each): the pass is bound by the read of X, which
// would otherwise stop during the arithmetic. A prefetch changes no value.
typedef void (*PackedFn)(const double* Xw, const double* Zp, Index d, const int* kidx, Index m, int ld,
                         double* Tout, const char* const* pf, int npf, Index rb);

// IDX: only the m elements k = kidx[0] < kidx[1] < ... are summed, those where some row of the group
// is non-zero after centring. A skipped term is 0 * z for every row of the group, and adding it to a
// sum changes nothing, so the indexed kernel gives the dense kernel's bits at m/d of its cost (pixels
// of digits on a blank background: m is about half of d for 6 rows).
template <int R, bool IDX>
__attribute__((always_inline)) inline void packed_body(const double* Xw, const double* Zp, Index d, const int* kidx,
                                                       Index m, int ld, double* Tout, const char* const* pf,
                                                       int npf, Index rb) {
    v4d a[R][2];
    for (int r = 0; r < R; ++r) a[r][0] = a[r][1] = v4d{0, 0, 0, 0};
    // lines per step: enough to cover the next chunk's rows within this group's m steps
    const Index lines = static_cast<Index>(npf) * ((rb + 63) / 64);
    const Index per = m > 0 ? (lines + m - 1) / m : 0;
    int pr = 0;
    Index off = 0;
    for (Index j = 0; j < m; ++j) {
        for (Index t = 0; t < per && pr < npf; ++t) {
            __builtin_prefetch(pf[pr] + off, 0, 3);
            off += 64;
            if (off >= rb) {
                off = 0;
                ++pr;
            }
        }
        const Index k = IDX ? kidx[j] : j;
        v4d z0, z1;
        __builtin_memcpy(&z0, Zp + k * 8, sizeof(v4d));
        __builtin_memcpy(&z1, Zp + k * 8 + 4, sizeof(v4d));
        for (int r = 0; r < R; ++r) {
            const double b = Xw[r * d + k];
            a[r][0] += b * z0;
            a[r][1] += b * z1;
        }
    }
    for (int r = 0; r < R; ++r)
        for (int c = 0; c < 4; ++c) {
            Tout[c * ld + r] = a[r][0][c];
            Tout[(c + 4) * ld + r] = a[r][1][c];
        }
}

template <int R, bool IDX>
void packed_generic(const double* Xw, const double* Zp, Index d, const int* kidx, Index m, int ld, double* Tout,
                    const char* const* pf, int npf, Index rb) {
    packed_body<R, IDX>(Xw, Zp, d, kidx, m, ld, Tout, pf, npf, rb);
}
#ifdef HULLSCOPE_X86_DISPATCH
template <int R, bool IDX>
__attribute__((target("avx2,fma"))) void packed_avx2(const double* Xw, const double* Zp, Index d, const int* kidx,
                                                     Index m, int ld, double* Tout, const char* const* pf,
                                                     int npf, Index rb) {
    packed_body<R, IDX>(Xw, Zp, d, kidx, m, ld, Tout, pf, npf, rb);
}
#endif

// The elements k (ascending) where some of the R widened rows is non-zero; returns their count.
// |a| + |b| + ... is zero exactly when every term is (a sum of non-negative numbers is at least its
// largest term), so the test reads one vectorised sum per k.
template <int R>
__attribute__((always_inline)) inline Index nonzero_union_body(const double* Xw, Index d, double* t, int* kidx) {
    for (Index k = 0; k < d; ++k) {
        double u = 0.0;
        for (int r = 0; r < R; ++r) u += std::fabs(Xw[r * d + k]);
        t[k] = u;
    }
    Index m = 0;
    for (Index k = 0; k < d; ++k) {
        kidx[m] = static_cast<int>(k);
        m += t[k] != 0.0;
    }
    return m;
}
inline Index nonzero_union_generic(const double* Xw, int R, Index d, double* t, int* kidx) {
    return R == 6 ? nonzero_union_body<6>(Xw, d, t, kidx)
                  : (R == 4 ? nonzero_union_body<4>(Xw, d, t, kidx) : nonzero_union_body<2>(Xw, d, t, kidx));
}
#ifdef HULLSCOPE_X86_DISPATCH
__attribute__((target("avx2,fma"))) inline Index nonzero_union_avx2(const double* Xw, int R, Index d, double* t,
                                                                    int* kidx) {
    return R == 6 ? nonzero_union_body<6>(Xw, d, t, kidx)
                  : (R == 4 ? nonzero_union_body<4>(Xw, d, t, kidx) : nonzero_union_body<2>(Xw, d, t, kidx));
}
#endif

// The sparse kernels (PassInput::sparse): each row's non-zero entries, summed in order into the
// row's own accumulators with the dense kernels' operation (acc += x * z), so each output is the
// dense kernel's sum without its zero terms, which change nothing: the same bits. One row's sum is a
// chain of dependent multiply-adds, so L rows run side by side, one per lane; a lane that finishes
// its row takes the block's next. Empty rows give +0, as the dense sums do.
template <class T>
struct SparseLanes {
    // the lane's row: position in the block, next entry, entries left
    int row = -1;
    const std::uint16_t* p = nullptr;
    const T* v = nullptr;
    Index cnt = 0;
};

// Give lane `ln` the block's next non-empty row (writing +0 for empty rows passed over, through
// `zero(r)`); false when the block has no rows left.
template <class T, class Zero>
__attribute__((always_inline)) inline bool sparse_take(const SparseRows<T>& sp, const Index* ids, int nr, int& next,
                                                       SparseLanes<T>& ln, Zero zero) {
    while (next < nr) {
        const Index id = ids[next];
        const Index b = sp.ptr[id], e = sp.ptr[id + 1];
        if (e > b) {
            ln.row = next++;
            ln.p = sp.idx + b;
            ln.v = sp.val + b;
            ln.cnt = e - b;
            return true;
        }
        zero(next++);
    }
    ln.row = -1;
    return false;
}

// L rows in flight against Z held k-major as one V per element k: store(r, sum over row r's entries
// of x * Z[k]). V is an 8-column panel row (V8) or a single column's z_k (double).
template <class T, class V, int L, class Store>
__attribute__((always_inline)) inline void sparse_rows_body(const SparseRows<T>& sp, const Index* ids, int nr,
                                                            const V* Z, Store store) {
    SparseLanes<T> ln[L];
    V acc[L];
    int next = 0, live = 0;
    const auto zero = [&](int r) { store(r, V{}); };
#pragma GCC unroll 8
    for (int l = 0; l < L; ++l) {
        acc[l] = V{};
        live += sparse_take(sp, ids, nr, next, ln[l], zero);
    }
    while (live == L) {
        Index s = ln[0].cnt;
#pragma GCC unroll 8
        for (int l = 1; l < L; ++l) s = std::min(s, ln[l].cnt);
        const std::uint16_t* p[L];
        const T* v[L];
        V a[L];
#pragma GCC unroll 8
        for (int l = 0; l < L; ++l) {
            p[l] = ln[l].p;
            v[l] = ln[l].v;
            a[l] = acc[l];
        }
        for (Index t = 0; t < s; ++t) {
#pragma GCC unroll 8
            for (int l = 0; l < L; ++l) a[l] += static_cast<double>(v[l][t]) * Z[p[l][t]];
        }
#pragma GCC unroll 8
        for (int l = 0; l < L; ++l) {
            acc[l] = a[l];
            ln[l].p += s;
            ln[l].v += s;
            ln[l].cnt -= s;
            if (ln[l].cnt == 0) {
                store(ln[l].row, acc[l]);
                acc[l] = V{};
                if (!sparse_take(sp, ids, nr, next, ln[l], zero)) --live;
            }
        }
    }
    // the block's last rows, one at a time
    for (int l = 0; l < L; ++l) {
        if (ln[l].row < 0) continue;
        V a = acc[l];
        for (Index t = 0; t < ln[l].cnt; ++t) a += static_cast<double>(ln[l].v[t]) * Z[ln[l].p[t]];
        store(ln[l].row, a);
    }
}

// An 8-column panel row of Z (Zp[k*8 + c], c < 8) as two vectors, with the dense kernel's
// operation on each: acc += x * z.
typedef double v4du __attribute__((vector_size(32), aligned(8)));  // Zp's rows are 8-byte aligned
struct V8 {
    v4du lo, hi;
};
__attribute__((always_inline)) inline V8& operator+=(V8& a, const V8& b) {
    a.lo += b.lo;
    a.hi += b.hi;
    return a;
}
__attribute__((always_inline)) inline V8 operator*(double x, const V8& z) { return V8{x * z.lo, x * z.hi}; }

// The 8-column panel: per entry one index, one value and the panel's two vectors, two multiply-adds;
// 4 rows in flight keep 8 chains going.
template <class T>
__attribute__((always_inline)) inline void sparse_panel_body(const SparseRows<T>& sp, const Index* ids, int nr,
                                                             const double* Zp, int ld, double* Tout) {
    sparse_rows_body<T, V8, 4>(sp, ids, nr, reinterpret_cast<const V8*>(Zp), [&](int r, const V8& a) {
        for (int c = 0; c < 4; ++c) {
            Tout[c * ld + r] = a.lo[c];
            Tout[(c + 4) * ld + r] = a.hi[c];
        }
    });
}

// One column (z contiguous: read at a stride of Bp, each z_k would sit on its own cache line): the
// matrix-vector kernel's sums, 8 rows in flight.
template <class T>
__attribute__((always_inline)) inline void sparse_vec_body(const SparseRows<T>& sp, const Index* ids, int nr,
                                                           const double* z, double* Tout) {
    sparse_rows_body<T, double, 8>(sp, ids, nr, z, [&](int r, double a) { Tout[r] = a; });
}

template <class T>
using SparsePanelFn = void (*)(const SparseRows<T>&, const Index*, int, const double*, int, double*);

template <class T>
void sparse_panel_generic(const SparseRows<T>& sp, const Index* ids, int nr, const double* Zp, int ld, double* Tout) {
    sparse_panel_body<T>(sp, ids, nr, Zp, ld, Tout);
}
#ifdef HULLSCOPE_X86_DISPATCH
template <class T>
__attribute__((target("avx2,fma"))) void sparse_panel_avx2(const SparseRows<T>& sp, const Index* ids, int nr,
                                                           const double* Zp, int ld, double* Tout) {
    sparse_panel_body<T>(sp, ids, nr, Zp, ld, Tout);
}
#endif

template <class T>
using SparseVecFn = void (*)(const SparseRows<T>&, const Index*, int, const double*, double*);
template <class T>
void sparse_vec_generic(const SparseRows<T>& sp, const Index* ids, int nr, const double* z, double* Tout) {
    sparse_vec_body<T>(sp, ids, nr, z, Tout);
}
#ifdef HULLSCOPE_X86_DISPATCH
template <class T>
__attribute__((target("avx2,fma"))) void sparse_vec_avx2(const SparseRows<T>& sp, const Index* ids, int nr,
                                                         const double* z, double* Tout) {
    sparse_vec_body<T>(sp, ids, nr, z, Tout);
}
#endif

// Widen rows to double and subtract the centre (Xw[r*d + k]); exact, so any build gives the same values.
template <class T>
__attribute__((always_inline)) inline void widen_rows_body(const T* const* xr, int nr, const double* cen, Index d,
                                                           double* Xw) {
    for (int r = 0; r < nr; ++r) {
        const T* x = xr[r];
        double* w = Xw + static_cast<size_t>(r) * d;
        for (Index k = 0; k < d; ++k) w[k] = static_cast<double>(x[k]) - cen[k];
    }
}
template <class T>
void widen_rows_generic(const T* const* xr, int nr, const double* cen, Index d, double* Xw) {
    widen_rows_body<T>(xr, nr, cen, d, Xw);
}
#ifdef HULLSCOPE_X86_DISPATCH
template <class T>
__attribute__((target("avx2,fma"))) void widen_rows_avx2(const T* const* xr, int nr, const double* cen, Index d,
                                                         double* Xw) {
    widen_rows_body<T>(xr, nr, cen, d, Xw);
}
#endif

bool use_avx2() {
#ifdef HULLSCOPE_X86_DISPATCH
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

const bool g_avx2 = use_avx2();

// The matrix-vector kernel, for a pass with a single column.
template <class T>
TileFn<T> matvec_for(bool centred) {
#ifdef HULLSCOPE_X86_DISPATCH
    if (g_avx2) return centred ? mv_avx2_c<T> : mv_avx2_p<T>;
#endif
    return centred ? mv_generic_c<T> : mv_generic_p<T>;
}

template <int R, bool IDX>
PackedFn packed_for() {
#ifdef HULLSCOPE_X86_DISPATCH
    if (g_avx2) return packed_avx2<R, IDX>;
#endif
    return packed_generic<R, IDX>;
}

template <class T>
SparsePanelFn<T> sparse_panel_for() {
#ifdef HULLSCOPE_X86_DISPATCH
    if (g_avx2) return sparse_panel_avx2<T>;
#endif
    return sparse_panel_generic<T>;
}
template <class T>
SparseVecFn<T> sparse_vec_for() {
#ifdef HULLSCOPE_X86_DISPATCH
    if (g_avx2) return sparse_vec_avx2<T>;
#endif
    return sparse_vec_generic<T>;
}

inline Index nonzero_union(const double* Xw, int R, Index d, double* t, int* kidx) {
#ifdef HULLSCOPE_X86_DISPATCH
    if (g_avx2) return nonzero_union_avx2(Xw, R, d, t, kidx);
#endif
    return nonzero_union_generic(Xw, R, d, t, kidx);
}

template <class T>
void widen_rows(const T* const* xr, int nr, const double* cen, Index d, double* Xw) {
#ifdef HULLSCOPE_X86_DISPATCH
    if (g_avx2) return widen_rows_avx2<T>(xr, nr, cen, d, Xw);
#endif
    widen_rows_generic<T>(xr, nr, cen, d, Xw);
}

// Candidates kept for a column: its own width, or the pass's P.
inline int column_width(const PassColumn& col, int P) { return col.top > 0 ? col.top : P; }

inline void heap_offer(std::vector<Cand>& h, int P, const Cand& c) {
    if (static_cast<int>(h.size()) < P) {
        h.push_back(c);
        std::push_heap(h.begin(), h.end());
    } else if (c < h.front()) {
        std::pop_heap(h.begin(), h.end());
        h.back() = c;
        std::push_heap(h.begin(), h.end());
    }
}

}  // namespace

const char* pricing_kernel_name() {
    return g_avx2 ? "avx2-fma" : "generic";
}

template <class T>
void pricing_pass(const PassInput<T>& in, const double* Zt, int Bp, const std::vector<PassColumn>& cols, int P,
                  int threads, std::vector<PassOutput>& out) {
    const Index d = in.d;
    const Index nrows = in.rows ? in.nrows : in.n;
    const int B = static_cast<int>(cols.size());
    const Index nblocks = (nrows + kRowBlock - 1) / kRowBlock;
    const std::vector<double> zero_row(static_cast<size_t>(d), 0.0);
    const std::vector<T> pad_row(static_cast<size_t>(d), T(0));  // padding rows of a partial tile (never read)
    const double* cen = in.center ? in.center : zero_row.data();
    // A single column (a query alone, or the last one of a batch) takes the matrix-vector kernel: one
    // pass over X at the cost of the column, not of an 8-wide tile that is 7/8 padding.
    const bool single = B == 1;
    const TileFn<T> tile = matvec_for<T>(in.center != nullptr);
    const PackedFn dense_fn[3] = {packed_for<2, false>(), packed_for<4, false>(), packed_for<6, false>()};
    const PackedFn index_fn[3] = {packed_for<2, true>(), packed_for<4, true>(), packed_for<6, true>()};
    // X's non-zero entries, where kept and the rows enter uncentred (the usual case: see hull.cpp).
    const SparseRows<T>* sp = in.center == nullptr ? in.sparse : nullptr;
    const SparsePanelFn<T> sp_panel = sparse_panel_for<T>();
    const SparseVecFn<T> sp_vec = sparse_vec_for<T>();
    // Element indices are kept as int (d below 2^31 always holds for data that fits in memory).
    const bool index_ok = d < (Index(1) << 31);

    // A single column for the sparse kernel, contiguous.
    std::vector<double> z1;
    if (sp && single) {
        z1.resize(static_cast<size_t>(d));
        for (Index k = 0; k < d; ++k) z1[k] = Zt[k * Bp];
    }
    // Z in 8-column panels, each k-major (Zp[panel][k][c]), shared read-only by the threads.
    // Each k's 8 values fill one 64-byte cache line: the panel starts on a line boundary, so neither
    // of a row's two 4-wide loads splits across lines (a split load costs an extra access per entry).
    std::vector<double> Zbuf;
    double* Zp = nullptr;
    if (!single) {
        Zbuf.resize(static_cast<size_t>(d) * Bp + 8);
        const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(Zbuf.data());
        Zp = Zbuf.data() + ((64 - a % 64) % 64) / sizeof(double);
        for (int c0 = 0; c0 < Bp; c0 += 8)
            for (Index k = 0; k < d; ++k)
                for (int c = 0; c < 8; ++c) Zp[static_cast<size_t>(c0) * d + k * 8 + c] = Zt[k * Bp + c0 + c];
    }

    int nt = 1;
#ifdef HULLSCOPE_HAVE_OPENMP
    nt = std::max(1, std::min<int>(threads, static_cast<int>(std::max<Index>(nblocks, 1))));
#endif
    std::vector<std::vector<PassOutput>> partial(static_cast<size_t>(nt), std::vector<PassOutput>(B));

#ifdef HULLSCOPE_HAVE_OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        int tid = 0;
#ifdef HULLSCOPE_HAVE_OPENMP
        tid = omp_get_thread_num();
#endif
        std::vector<PassOutput>& mine = partial[static_cast<size_t>(tid)];
        for (int b = 0; b < B; ++b) mine[b].best.reserve(static_cast<size_t>(column_width(cols[b], P)) + 1);
        std::vector<double> tileout(static_cast<size_t>(kRowBlock) * Bp);  // column-major: [b * kRowBlock + r]
        std::vector<Index> ids(kRowBlock);
        std::vector<const T*> ptr(kRowBlock);
        const bool dense = !single && !sp;
        std::vector<double> Xp(dense ? static_cast<size_t>(kPackRows) * d : 0);
        std::vector<int> kidx(dense ? static_cast<size_t>(kPackRows / 2) * d : 0);
        std::vector<double> usum(dense ? static_cast<size_t>(d) : 0);
        int union_skip = 0;  // row groups to take densely before looking for shared zeros again
        int grp_row[kPackRows / 2], grp_len[kPackRows / 2];
        const char* pf_rows[kPackRows];  // the next chunk's stored rows, to prefetch
        const Index row_bytes = d * static_cast<Index>(sizeof(T));
        Index grp_m[kPackRows / 2];
#ifdef HULLSCOPE_HAVE_OPENMP
#pragma omp for schedule(static)
#endif
        for (Index blk = 0; blk < nblocks; ++blk) {
            const Index r0 = blk * kRowBlock;
            const int nr = static_cast<int>(std::min<Index>(kRowBlock, nrows - r0));
            const int nr_pad = (nr + kRowPad - 1) / kRowPad * kRowPad;
            for (int r = 0; r < nr_pad; ++r) {
                if (r < nr) {
                    const Index id = in.rows ? in.rows[r0 + r] : r0 + r;
                    ids[r] = id;
                    ptr[r] = in.X + id * d;
                } else {
                    ptr[r] = pad_row.data();
                }
            }
            if (sp) {
                if (single)
                    sp_vec(*sp, ids.data(), nr, z1.data(), tileout.data());
                else
                    for (int c0 = 0; c0 < Bp; c0 += 8)
                        sp_panel(*sp, ids.data(), nr, Zp + static_cast<size_t>(c0) * d, kRowBlock,
                                 tileout.data() + static_cast<size_t>(c0) * kRowBlock);
            } else if (single) {
                for (int r = 0; r < nr_pad; r += kRowTileMV) tile(&ptr[r], cen, Zt, d, Bp, 0, tileout.data() + r);
            } else {
                // kPackRows rows widened at a time; each Z panel is then reused across their row groups.
                for (int s0 = 0; s0 < nr_pad; s0 += kPackRows) {
                    const int ns = std::min(kPackRows, nr_pad - s0);
                    widen_rows<T>(&ptr[s0], ns, cen, d, Xp.data());
                    // Row groups of 6 (then 4, 2) and, per group, the elements where any of its rows is non-zero.
                    int ng = 0;
                    for (int g = 0; g < ns; ++ng) {
                        const int rr = ns - g >= 6 ? 6 : (ns - g >= 4 ? 4 : 2);
                        grp_row[ng] = g;
                        grp_len[ng] = rr;
                        if (index_ok && union_skip == 0) {
                            grp_m[ng] = nonzero_union(Xp.data() + static_cast<size_t>(g) * d, rr, d, usum.data(),
                                                      kidx.data() + static_cast<size_t>(ng) * d);
                            // dense rows: stop looking for shared zeros for a while
                            if (grp_m[ng] * 10 >= d * 7) union_skip = kUnionSkip;
                        } else {
                            grp_m[ng] = d;
                            if (union_skip > 0) --union_skip;
                        }
                        g += rr;
                    }
                    // The next chunk's stored rows (the next rows of this block, or the first rows
                    // of the next block when the rows are X's own, in order), shared out over the
                    // row groups of the first panel.
                    int npf = 0;
                    {
                        const int n0 = s0 + ns;
                        const int n1 = std::min(n0 + kPackRows, nr);
                        for (int r = n0; r < n1; ++r) pf_rows[npf++] = reinterpret_cast<const char*>(ptr[r]);
                        if (n0 >= nr && !in.rows && r0 + kRowBlock < nrows) {
                            const Index e = std::min<Index>(r0 + kRowBlock + kPackRows, nrows);
                            for (Index r = r0 + kRowBlock; r < e; ++r)
                                pf_rows[npf++] = reinterpret_cast<const char*>(in.X + r * d);
                        }
                    }
                    for (int c0 = 0; c0 < Bp; c0 += 8)
                        for (int q = 0; q < ng; ++q) {
                            const int l0 = c0 == 0 ? npf * q / ng : 0;
                            const int l1 = c0 == 0 ? npf * (q + 1) / ng : 0;
                            const int g = grp_row[q];
                            const Index m = grp_m[q];
                            // the indexed kernel pays once it skips 3/10 of d (its indexed loads cost more per term)
                            const bool idx = m * 10 < d * 7;
                            const PackedFn f = (idx ? index_fn : dense_fn)[grp_len[q] / 2 - 1];
                            f(Xp.data() + static_cast<size_t>(g) * d, Zp + static_cast<size_t>(c0) * d, d,
                              kidx.data() + static_cast<size_t>(q) * d, idx ? m : d, kRowBlock,
                              tileout.data() + static_cast<size_t>(c0) * kRowBlock + s0 + g, pf_rows + l0, l1 - l0,
                              row_bytes);
                        }
                }
            }
            // Reduce each column (contiguous in tileout). A value above the current P-th best cannot
            // enter, so the heap is touched only for the few that can.
            for (int b = 0; b < B; ++b) {
                PassOutput& o = mine[b];
                const PassColumn& col = cols[b];
                const int Pc = column_width(col, P);
                const double* tc = tileout.data() + static_cast<size_t>(b) * kRowBlock;
                double thr = static_cast<int>(o.best.size()) < Pc ? INFINITY : o.best.front().v;
                if (col.mode == PassMode::kPrice) {
                    for (int r = 0; r < nr; ++r) {
                        const double v = tc[r] - col.shift;
                        if (!(v <= thr) || ids[r] == col.exclude) continue;
                        heap_offer(o.best, Pc, Cand{v, ids[r]});
                        if (static_cast<int>(o.best.size()) >= Pc) thr = o.best.front().v;
                    }
                } else {
                    double vmax = o.vmax, cmax = o.cmax;
                    for (int r = 0; r < nr; ++r) {
                        const Index id = ids[r];
                        if (id == col.exclude) continue;
                        const double t = tc[r] - col.shift;
                        const double v = in.norm2[id] - 2.0 * t;
                        vmax = std::max(vmax, v);
                        if (in.xc) cmax = std::max(cmax, t - in.xc[id]);
                        if (v <= thr) {
                            heap_offer(o.best, Pc, Cand{v, id});
                            if (static_cast<int>(o.best.size()) >= Pc) thr = o.best.front().v;
                        }
                    }
                    o.vmax = vmax;
                    o.cmax = cmax;
                }
            }
        }
    }
    // Merge: the top-P of a union is unique under the (value, index) order, so the order of
    // merging does not matter; maxima are exact.
    out.assign(static_cast<size_t>(B), PassOutput{});
    for (int b = 0; b < B; ++b) {
        std::vector<Cand> all;
        for (int t = 0; t < nt; ++t) {
            const PassOutput& p = partial[static_cast<size_t>(t)][b];
            all.insert(all.end(), p.best.begin(), p.best.end());
            out[b].vmax = std::max(out[b].vmax, p.vmax);
            out[b].cmax = std::max(out[b].cmax, p.cmax);
        }
        std::sort(all.begin(), all.end());
        const int Pc = column_width(cols[b], P);
        if (static_cast<int>(all.size()) > Pc) all.resize(static_cast<size_t>(Pc));
        out[b].best = std::move(all);
    }
}

template void pricing_pass<double>(const PassInput<double>&, const double*, int, const std::vector<PassColumn>&, int,
                                   int, std::vector<PassOutput>&);
template void pricing_pass<float>(const PassInput<float>&, const double*, int, const std::vector<PassColumn>&, int,
                                  int, std::vector<PassOutput>&);

}  // namespace hullscope
