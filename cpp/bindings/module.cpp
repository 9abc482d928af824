// hullscope._core: the only translation unit that includes pybind11.
//
// Matrices cross the boundary without copies: arguments are bound with .noconvert(), so a
// float32, Fortran-order or strided array is a TypeError here (the Python layer converts once, on
// purpose, before calling in). The GIL is released around every heavy call.
#include <pybind11/pybind11.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <vector>

#include "hullscope/common.hpp"
#include "hullscope/hull.hpp"
#include "hullscope/pricing.hpp"

namespace py = pybind11;
using hullscope::Index;

#ifndef HULLSCOPE_VERSION
#define HULLSCOPE_VERSION "dev"
#endif

namespace {

using CArrayD = py::array_t<double, py::array::c_style>;
using CArrayI = py::array_t<std::int64_t, py::array::c_style>;

// Hand a std::vector to numpy without copying it.
template <class T>
py::array_t<T> take(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
    auto* owner = new std::vector<T>(std::move(v));
    py::capsule cap(owner, [](void* p) { delete reinterpret_cast<std::vector<T>*>(p); });
    return py::array_t<T>(shape, owner->data(), cap);
}

// A point set that keeps the caller's array alive and read-only statistics computed once.
class PyPointSet {
  public:
    PyPointSet(CArrayD X, int threads) : array_(X) {
        if (X.ndim() != 2) throw std::invalid_argument("X: expected a 2-D array (n, d)");
        if (X.shape(0) < 1 || X.shape(1) < 1) throw std::invalid_argument("X: expected a non-empty (n, d) array");
        const double* ptr = X.data();
        const Index n = X.shape(0), d = X.shape(1);
        py::gil_scoped_release rel;
        ps_ = std::make_unique<hullscope::PointSet>(ptr, n, d, threads);
    }
    const hullscope::PointSet& ps() const { return *ps_; }
    Index n() const { return ps_->n(); }
    Index d() const { return ps_->d(); }
    CArrayD array() const { return array_; }

  private:
    CArrayD array_;
    std::unique_ptr<hullscope::PointSet> ps_;
};

py::dict solve(const PyPointSet& P, CArrayD Q, std::optional<CArrayI> subset, std::optional<CArrayI> exclude,
               double rtol, double gap_rtol, bool early_exit, int max_passes, Index max_iterations, int pool,
               int block, int threads) {
    const Index d = P.d();
    if (Q.ndim() != 2 || Q.shape(1) != d) throw std::invalid_argument("Q: expected a 2-D array (B, d) matching X");
    const Index B = Q.shape(0);
    const Index* sub = nullptr;
    Index nsub = 0;
    if (subset) {
        if (subset->ndim() != 1) throw std::invalid_argument("subset: expected a 1-D array of row indices");
        sub = subset->data();
        nsub = subset->shape(0);
    }
    const Index* exc = nullptr;
    if (exclude) {
        if (exclude->ndim() != 1 || exclude->shape(0) != B)
            throw std::invalid_argument("exclude: expected one row index (or -1) per query");
        exc = exclude->data();
    }
    hullscope::SolveOptions opt;
    opt.rtol = rtol;
    opt.gap_rtol = gap_rtol;
    opt.early_exit = early_exit;
    opt.max_passes = max_passes;
    opt.max_iterations = max_iterations;
    opt.pool = pool;
    opt.block = block;
    opt.threads = threads;
    hullscope::SolveResult r;
    {
        const double* q = Q.data();
        py::gil_scoped_release rel;
        r = hullscope::solve_hull(P.ps(), q, B, sub, nsub, exc, opt);
    }
    const py::ssize_t b = static_cast<py::ssize_t>(B), dd = static_cast<py::ssize_t>(d);
    const py::ssize_t nnz = static_cast<py::ssize_t>(r.indices.size());
    py::dict out;
    out["status"] = take(std::move(r.status), {b});
    out["converged"] = take(std::move(r.converged), {b});
    out["distance"] = take(std::move(r.distance), {b});
    out["lower"] = take(std::move(r.lower), {b});
    out["margin"] = take(std::move(r.margin), {b});
    out["offset"] = take(std::move(r.offset), {b});
    out["tol"] = take(std::move(r.tol), {b});
    out["scale"] = take(std::move(r.scale), {b});
    out["nn_distance"] = take(std::move(r.nn_distance), {b});
    out["nn_index"] = take(std::move(r.nn_index), {b});
    out["passes"] = take(std::move(r.passes), {b});
    out["iterations"] = take(std::move(r.iterations), {b});
    out["nearest"] = take(std::move(r.nearest), {b, dd});
    out["normal"] = take(std::move(r.normal), {b, dd});
    out["indptr"] = take(std::move(r.indptr), {b + 1});
    out["indices"] = take(std::move(r.indices), {nnz});
    out["values"] = take(std::move(r.values), {nnz});
    return out;
}

void bind_hull(py::module_& m) {
    py::class_<PyPointSet>(m, "PointSet", "Read-only (n, d) float64 point set with per-row statistics.")
        .def(py::init<CArrayD, int>(), py::arg("X").noconvert(), py::arg("threads") = 0)
        .def_property_readonly("n", &PyPointSet::n)
        .def_property_readonly("d", &PyPointSet::d)
        .def_property_readonly("array", &PyPointSet::array)
        .def_property_readonly("max_norm", [](const PyPointSet& p) { return p.ps().max_norm(); });
    m.def("solve", &solve, py::arg("points"), py::arg("Q").noconvert(), py::arg("subset").noconvert() = py::none(),
          py::arg("exclude").noconvert() = py::none(), py::arg("rtol") = 1e-9, py::arg("gap_rtol") = 1e-12,
          py::arg("early_exit") = false, py::arg("max_passes") = 1000, py::arg("max_iterations") = 0,
          py::arg("pool") = 64, py::arg("block") = 0, py::arg("threads") = 0,
          "Minimum-norm point of conv(X) - q for every row q of Q, with certificates.");
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "hullscope's compiled core (C++17/Eigen/OpenMP).";
    m.attr("__version__") = HULLSCOPE_VERSION;
    m.def("build_info", []() {
        py::dict d;
        d["version"] = HULLSCOPE_VERSION;
        d["openmp"] = hullscope::have_openmp();
        d["max_threads"] = hullscope::max_threads();
        d["pricing_kernel"] = hullscope::pricing_kernel_name();
        return d;
    });
    bind_hull(m);
}
