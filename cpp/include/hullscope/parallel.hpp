// hullscope core: the one parallel loop of the core.
//
// parallel_for(n, threads, body) runs body(i) for i in [0, n) on OpenMP threads (dynamic schedule,
// one index at a time) and, after the loop, rethrows the first exception any iteration threw, with
// its type intact (std::exception_ptr): a worker's std::bad_alloc reaches Python as MemoryError and
// an std::invalid_argument as ValueError. No exception ever crosses the OpenMP region boundary.
#pragma once

#include <exception>
#include <mutex>

#include "hullscope/common.hpp"

#ifdef HULLSCOPE_HAVE_OPENMP
#include <omp.h>
#endif

namespace hullscope {

template <class F>
void parallel_for(Index n, int threads, F&& body) {
    std::exception_ptr err;
    std::mutex mu;
    const int nt = resolve_threads(threads);
    (void)nt;
#ifdef HULLSCOPE_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
#endif
    for (Index i = 0; i < n; ++i) {
        try {
            body(i);
        } catch (...) {
            std::lock_guard<std::mutex> lock(mu);
            if (!err) err = std::current_exception();
        }
    }
    if (err) std::rethrow_exception(err);
}

}  // namespace hullscope
