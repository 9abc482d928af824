// hullscope core: the 4-wide double vector shared by the run-time-dispatched kernels (pricing.cpp,
// hull.cpp). GCC/Clang vector extensions: lowered to two SSE2 registers in the generic x86-64
// build, to one AVX register in a function compiled with target("avx2").
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
// v4d crosses no call boundary (every helper is always inlined), so GCC's note that returning it
// without AVX changes the ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace hullscope {
namespace vec4 {

typedef double v4d __attribute__((vector_size(32)));

// 4 consecutive elements of p (float32 or float64), widened to double.
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

}  // namespace vec4
}  // namespace hullscope
