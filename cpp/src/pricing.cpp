// hullscope core: the blocked pricing pass (see pricing.hpp).
//
// The micro-kernel computes a 4-row x 8-column tile of X_rows * Z as plain sequential sums over k
// (one accumulator per output element). Every output element is therefore the same function of
// (x_i, z_b) wherever the row and the column sit in the tile, which is what makes a query's result
// independent of the other queries in flight and of the thread count. An AVX2+FMA build of the
// kernel is selected at run time where the CPU has it; the generic build is plain C++.
#include "hullscope/pricing.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#ifdef HULLSCOPE_HAVE_OPENMP
#include <omp.h>
#endif

namespace hullscope {

namespace {

constexpr int kRowTile = 4;  // rows of the 8-column tile
constexpr int kRowTileMV = 8;  // rows of the matrix-vector tile
constexpr int kRowPad = 8;  // partial row tiles are padded to this
constexpr int kColTile = 8;
constexpr int kRowBlock = 256;  // rows per work item; fixed, so results never depend on threads

// 4 rows x 8 columns held in eight 4-wide accumulators (GCC/Clang vector extensions; lowered to
// two SSE2 registers each in the generic build, to one AVX register with FMA in the AVX2 build).
typedef double v4d __attribute__((vector_size(32)));

#define HULLSCOPE_TILE_BODY(CENTRED)                                                             \
    v4d a00 = {0, 0, 0, 0}, a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,    \
        a31 = a00;                                                                               \
    const T* x0 = xr[0];                                                                         \
    const T* x1 = xr[1];                                                                         \
    const T* x2 = xr[2];                                                                         \
    const T* x3 = xr[3];                                                                         \
    for (Index k = 0; k < d; ++k) {                                                              \
        const double* zk = Zt + k * Bp + c0;                                                     \
        v4d z0, z1;                                                                              \
        __builtin_memcpy(&z0, zk, sizeof(v4d));                                                  \
        __builtin_memcpy(&z1, zk + 4, sizeof(v4d));                                              \
        const double ck = (CENTRED) ? cen[k] : 0.0;                                              \
        const double b0 = static_cast<double>(x0[k]) - ck, b1 = static_cast<double>(x1[k]) - ck;  \
        a00 += b0 * z0;                                                                          \
        a01 += b0 * z1;                                                                          \
        a10 += b1 * z0;                                                                          \
        a11 += b1 * z1;                                                                          \
        const double b2 = static_cast<double>(x2[k]) - ck, b3 = static_cast<double>(x3[k]) - ck;  \
        a20 += b2 * z0;                                                                          \
        a21 += b2 * z1;                                                                          \
        a30 += b3 * z0;                                                                          \
        a31 += b3 * z1;                                                                          \
    }                                                                                            \
    double* t0 = Tout + c0;                                                                      \
    __builtin_memcpy(t0, &a00, sizeof(v4d));                                                     \
    __builtin_memcpy(t0 + 4, &a01, sizeof(v4d));                                                 \
    __builtin_memcpy(t0 + Bp, &a10, sizeof(v4d));                                                \
    __builtin_memcpy(t0 + Bp + 4, &a11, sizeof(v4d));                                            \
    __builtin_memcpy(t0 + 2 * Bp, &a20, sizeof(v4d));                                            \
    __builtin_memcpy(t0 + 2 * Bp + 4, &a21, sizeof(v4d));                                        \
    __builtin_memcpy(t0 + 3 * Bp, &a30, sizeof(v4d));                                            \
    __builtin_memcpy(t0 + 3 * Bp + 4, &a31, sizeof(v4d));

template <class T>
using TileFn = void (*)(const T* const* xr, const double* cen, const double* Zt, Index d, int Bp, int c0, double* Tout);

// x - 0.0 is exact, so the plain tile (ck = 0) gives the same bits as multiplying x itself.
template <class T>
void tile_generic_c(const T* const* xr, const double* cen, const double* Zt, Index d, int Bp, int c0,
                    double* Tout) {
    HULLSCOPE_TILE_BODY(1)
}

template <class T>
void tile_generic_p(const T* const* xr, const double* cen, const double* Zt, Index d, int Bp, int c0,
                    double* Tout) {
    (void)cen;
    HULLSCOPE_TILE_BODY(0)
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HULLSCOPE_X86_DISPATCH 1
template <class T>
__attribute__((target("avx2,fma"))) void tile_avx2_c(const T* const* xr, const double* cen, const double* Zt,
                                                     Index d, int Bp, int c0, double* Tout) {
    HULLSCOPE_TILE_BODY(1)
}
template <class T>
__attribute__((target("avx2,fma"))) void tile_avx2_p(const T* const* xr, const double* cen, const double* Zt,
                                                     Index d, int Bp, int c0, double* Tout) {
    (void)cen;
    HULLSCOPE_TILE_BODY(0)
}
#endif

// One column against 8 rows (the matrix-vector path of a query priced alone). Each row's product is
// the same sequence of multiply-adds over k, in order, as in the 8-column tile, so the two kernels
// give identical bits: rows sit in the lanes of two accumulators, and 4 consecutive elements of 4
// rows are loaded as vectors and transposed in registers so that one vector op serves 4 rows.
template <class T>
__attribute__((always_inline)) inline v4d load4(const T* p) {
    if constexpr (sizeof(T) == sizeof(double)) {
        v4d v;
        __builtin_memcpy(&v, p, sizeof(v4d));
        return v;
    } else {
        typedef float v4f __attribute__((vector_size(16)));
        v4f f;
        __builtin_memcpy(&f, p, sizeof(v4f));
        return __builtin_convertvector(f, v4d);
    }
}

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
        Tout[r * Bp] = acc0[r];                                                                  \
        Tout[(r + 4) * Bp] = acc1[r];                                                            \
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
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
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

bool use_avx2() {
#ifdef HULLSCOPE_X86_DISPATCH
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

const bool g_avx2 = use_avx2();

// The tile with the centre subtracted inside the product, and the plain one (rows as they are).
template <class T>
TileFn<T> tile_for(bool centred) {
#ifdef HULLSCOPE_X86_DISPATCH
    if (g_avx2) return centred ? tile_avx2_c<T> : tile_avx2_p<T>;
#endif
    return centred ? tile_generic_c<T> : tile_generic_p<T>;
}

// The matrix-vector kernel, for a pass with a single column.
template <class T>
TileFn<T> matvec_for(bool centred) {
#ifdef HULLSCOPE_X86_DISPATCH
    if (g_avx2) return centred ? mv_avx2_c<T> : mv_avx2_p<T>;
#endif
    return centred ? mv_generic_c<T> : mv_generic_p<T>;
}

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
    const TileFn<T> tile = single ? matvec_for<T>(in.center != nullptr) : tile_for<T>(in.center != nullptr);
    const int ctile = single ? Bp : kColTile;
    const int rtile = single ? kRowTileMV : kRowTile;

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
        for (auto& o : mine) o.best.reserve(static_cast<size_t>(P) + 1);
        std::vector<double> tileout(static_cast<size_t>(kRowBlock) * Bp);
        std::vector<Index> ids(kRowBlock);
        std::vector<const T*> ptr(kRowBlock);
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
            for (int r = 0; r < nr_pad; r += rtile)
                for (int c0 = 0; c0 < Bp; c0 += ctile) tile(&ptr[r], cen, Zt, d, Bp, c0, tileout.data() + r * Bp);
            for (int b = 0; b < B; ++b) {
                PassOutput& o = mine[b];
                const PassColumn& col = cols[b];
                if (col.mode == PassMode::kPrice) {
                    for (int r = 0; r < nr; ++r) {
                        if (ids[r] == col.exclude) continue;
                        heap_offer(o.best, P, Cand{tileout[r * Bp + b] - col.shift, ids[r]});
                    }
                } else {
                    for (int r = 0; r < nr; ++r) {
                        const Index id = ids[r];
                        if (id == col.exclude) continue;
                        const double t = tileout[r * Bp + b] - col.shift;
                        const double v = in.norm2[id] - 2.0 * t;
                        heap_offer(o.best, P, Cand{v, id});
                        if (v > o.vmax) o.vmax = v;
                        if (in.xc) {
                            const double cv = t - in.xc[id];
                            if (cv > o.cmax) o.cmax = cv;
                        }
                    }
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
        if (static_cast<int>(all.size()) > P) all.resize(static_cast<size_t>(P));
        out[b].best = std::move(all);
    }
}

template void pricing_pass<double>(const PassInput<double>&, const double*, int, const std::vector<PassColumn>&, int,
                                   int, std::vector<PassOutput>&);
template void pricing_pass<float>(const PassInput<float>&, const double*, int, const std::vector<PassColumn>&, int,
                                  int, std::vector<PassOutput>&);

}  // namespace hullscope
