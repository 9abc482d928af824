#include "hullscope/common.hpp"

#include <algorithm>

#ifdef HULLSCOPE_HAVE_OPENMP
#include <omp.h>
#endif

namespace hullscope {

bool have_openmp() {
#ifdef HULLSCOPE_HAVE_OPENMP
    return true;
#else
    return false;
#endif
}

int max_threads() {
#ifdef HULLSCOPE_HAVE_OPENMP
    return std::max(1, omp_get_max_threads());
#else
    return 1;
#endif
}

int resolve_threads(int requested) {
    if (requested < 0) throw std::invalid_argument("threads: expected 0 (all cores) or a positive count");
    if (requested == 0) return max_threads();
#ifdef HULLSCOPE_HAVE_OPENMP
    return requested;
#else
    return 1;
#endif
}

}  // namespace hullscope
