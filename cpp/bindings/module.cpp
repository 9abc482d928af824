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
#include "hullscope/lp.hpp"
#include "hullscope/regions.hpp"

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

// A point set that keeps the caller's array alive and read-only statistics computed once. X is a
// C-contiguous float64 or float32 array, used in place (float32 is never widened into a copy).
class PyPointSet {
  public:
    PyPointSet(py::array X, int threads, int sparse) : array_(X) {
        if (sparse < -1 || sparse > 1) throw std::invalid_argument("sparse: expected -1 (auto), 0 or 1");
        if (X.ndim() != 2) throw std::invalid_argument("X: expected a 2-D array (n, d)");
        if (X.shape(0) < 1 || X.shape(1) < 1) throw std::invalid_argument("X: expected a non-empty (n, d) array");
        if (!(X.flags() & py::array::c_style))
            throw std::invalid_argument("X: expected a C-contiguous array");
        const Index n = X.shape(0), d = X.shape(1);
        if (X.dtype().is(py::dtype::of<double>())) {
            const double* ptr = static_cast<const double*>(X.data());
            py::gil_scoped_release rel;
            ps_ = std::make_unique<hullscope::PointSet>(ptr, n, d, threads, sparse);
        } else if (X.dtype().is(py::dtype::of<float>())) {
            const float* ptr = static_cast<const float*>(X.data());
            py::gil_scoped_release rel;
            ps_ = std::make_unique<hullscope::PointSet>(ptr, n, d, threads, sparse);
        } else {
            throw py::type_error("X: expected a float64 or float32 array, got " +
                                 py::str(X.dtype()).cast<std::string>());
        }
    }
    const hullscope::PointSet& ps() const { return *ps_; }
    Index n() const { return ps_->n(); }
    Index d() const { return ps_->d(); }
    py::array array() const { return array_; }
    // Address of the first element: tests use it to prove that no copy was made.
    std::uintptr_t data_address() const {
        return ps_->single() ? reinterpret_cast<std::uintptr_t>(ps_->Xf()) : reinterpret_cast<std::uintptr_t>(ps_->X());
    }

  private:
    py::array array_;
    std::unique_ptr<hullscope::PointSet> ps_;
};

py::dict solve(const PyPointSet& P, CArrayD Q, std::optional<CArrayI> subset, std::optional<CArrayI> exclude,
               hullscope::SolveOptions opt, std::optional<py::function> progress) {
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
    // Ctrl-C: Python's signal handlers run between passes (a pass takes milliseconds to a fraction
    // of a second), instead of only when the whole call returns.
    opt.interrupted = []() {
        py::gil_scoped_acquire gil;
        return PyErr_CheckSignals() != 0;
    };
    // Progress: the number of queries finished so far, after each pass (an exception raised by the
    // callable ends the solve and propagates).
    if (progress) {
        py::function f = *progress;
        opt.on_progress = [f](Index done) {
            py::gil_scoped_acquire gil;
            f(done);
        };
    }
    hullscope::SolveResult r;
    try {
        const double* q = Q.data();
        py::gil_scoped_release rel;
        r = hullscope::solve_hull(P.ps(), q, B, sub, nsub, exc, opt);
    } catch (const hullscope::Interrupted&) {
        throw py::error_already_set();  // the KeyboardInterrupt (or the handler's exception) is set
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
    py::class_<PyPointSet>(m, "PointSet", "Read-only (n, d) float64 or float32 point set with per-row statistics.")
        .def(py::init<py::array, int, int>(), py::arg("X").noconvert(), py::arg("threads") = 0, py::arg("sparse") = -1)
        .def_property_readonly("dtype", [](const PyPointSet& p) { return p.ps().single() ? "float32" : "float64"; })
        .def_property_readonly("data_address", &PyPointSet::data_address)
        .def_property_readonly("n", &PyPointSet::n)
        .def_property_readonly("d", &PyPointSet::d)
        .def_property_readonly("array", &PyPointSet::array)
        .def_property_readonly("max_norm", [](const PyPointSet& p) { return p.ps().max_norm(); })
        .def_property_readonly("density", [](const PyPointSet& p) { return p.ps().density(); })
        .def_property_readonly("sparse", [](const PyPointSet& p) { return p.ps().sparse(); })
        .def_property_readonly("sparse_bytes", [](const PyPointSet& p) { return p.ps().sparse_bytes(); });
    py::class_<hullscope::SolveOptions>(m, "SolveOptions", "Options of solve() (the core's struct, bound once).")
        .def(py::init<>())
        .def_readwrite("rtol", &hullscope::SolveOptions::rtol)
        .def_readwrite("gap_rtol", &hullscope::SolveOptions::gap_rtol)
        .def_readwrite("early_exit", &hullscope::SolveOptions::early_exit)
        .def_readwrite("max_passes", &hullscope::SolveOptions::max_passes)
        .def_readwrite("max_iterations", &hullscope::SolveOptions::max_iterations)
        .def_readwrite("pool", &hullscope::SolveOptions::pool)
        .def_readwrite("block", &hullscope::SolveOptions::block)
        .def_readwrite("threads", &hullscope::SolveOptions::threads);
    m.def("solve", &solve, py::arg("points"), py::arg("Q").noconvert(), py::arg("subset").noconvert() = py::none(),
          py::arg("exclude").noconvert() = py::none(), py::arg("options") = hullscope::SolveOptions(),
          py::arg("progress") = py::none(),
          "Distances to / membership in the hull of `points` for the rows of Q (see hull.hpp); `progress`, "
          "if given, is called after each pass with the number of queries finished so far.");
}


// ---- decision regions and the LP engine ---------------------------------------------------------

using hullscope::RowMatrixXd;
using RowMap = Eigen::Map<const RowMatrixXd>;
using VecMap = Eigen::Map<const Eigen::VectorXd>;

RowMap row_map(const CArrayD& a, const char* name, py::ssize_t cols = -1) {
    if (a.ndim() != 2 || (cols >= 0 && a.shape(1) != cols))
        throw std::invalid_argument(std::string(name) + ": expected a 2-D array with the model's feature dimension");
    return RowMap(a.data(), a.shape(0), a.shape(1));
}
VecMap vec_map(const CArrayD& a, const char* name, py::ssize_t n) {
    if (a.ndim() != 1 || a.shape(0) != n)
        throw std::invalid_argument(std::string(name) + ": expected a 1-D array of length " + std::to_string(n));
    return VecMap(a.data(), a.shape(0));
}

struct Model {
    RowMap W;
    VecMap b, lo, hi;
    hullscope::RegionModel rm() const { return hullscope::RegionModel{W, b, lo, hi}; }
};
Model make_model(const CArrayD& W, const CArrayD& b, const CArrayD& lo, const CArrayD& hi) {
    RowMap Wm = row_map(W, "W");
    return Model{Wm, vec_map(b, "b", W.shape(0)), vec_map(lo, "lo", W.shape(1)), vec_map(hi, "hi", W.shape(1))};
}

template <class M>
CArrayD to_array(const M& mat) {
    CArrayD out({static_cast<py::ssize_t>(mat.rows()), static_cast<py::ssize_t>(mat.cols())});
    Eigen::Map<RowMatrixXd>(out.mutable_data(), mat.rows(), mat.cols()) = mat;
    return out;
}
CArrayD to_vec(const Eigen::VectorXd& v) {
    CArrayD out(static_cast<py::ssize_t>(v.size()));
    std::copy(v.data(), v.data() + v.size(), out.mutable_data());
    return out;
}

hullscope::LPOptions lp_options(double feas_tol, Index max_iterations) {
    hullscope::LPOptions o;
    o.feas_tol = feas_tol;
    o.opt_tol = feas_tol;
    o.max_iterations = max_iterations;
    return o;
}

py::dict lp_solve(CArrayD A, CArrayD b, CArrayD c, CArrayD lo, CArrayD hi, std::optional<CArrayD> x_start,
                  double feas_tol, Index max_iterations) {
    RowMap Am = row_map(A, "A");
    const py::ssize_t m = A.shape(0), n = A.shape(1);
    VecMap bm = vec_map(b, "b", m), cm = vec_map(c, "c", n), lm = vec_map(lo, "lo", n), hm = vec_map(hi, "hi", n);
    Eigen::VectorXd xs;
    if (x_start) xs = vec_map(*x_start, "x_start", n);
    if (!Am.allFinite()) throw std::invalid_argument("A: contains NaN or inf");
    if (!bm.allFinite()) throw std::invalid_argument("b: contains NaN or inf");
    if (!cm.allFinite()) throw std::invalid_argument("c: contains NaN or inf");
    if (lm.hasNaN() || hm.hasNaN()) throw std::invalid_argument("lo, hi: contain NaN");
    if (x_start && !xs.allFinite()) throw std::invalid_argument("x_start: contains NaN or inf");
    hullscope::LPResult r;
    {
        py::gil_scoped_release rel;
        Eigen::MatrixXd Ac = Am;
        r = hullscope::solve_lp(Ac, bm, cm, lm, hm, x_start ? &xs : nullptr, lp_options(feas_tol, max_iterations));
    }
    py::dict out;
    out["status"] = r.status;
    out["value"] = r.value;
    out["x"] = to_vec(r.x);
    out["y"] = to_vec(r.y);
    out["ray"] = r.ray.size() ? py::object(to_vec(r.ray)) : py::object(py::none());
    out["iterations"] = r.iterations;
    out["phase1_iterations"] = r.phase1_iterations;
    return out;
}

py::dict pack_chebyshev(const std::vector<hullscope::ChebyshevResult>& res, Index K, Index d) {
    const py::ssize_t k = static_cast<py::ssize_t>(res.size());
    CArrayI status(k), iters(k);
    CArrayD radius(k), center({k, (py::ssize_t)d}), y({k, (py::ssize_t)K}), p({k, (py::ssize_t)d}), q({k, (py::ssize_t)d});
    for (py::ssize_t i = 0; i < k; ++i) {
        status.mutable_data()[i] = res[i].status;
        iters.mutable_data()[i] = res[i].iterations;
        radius.mutable_data()[i] = res[i].radius;
        std::copy(res[i].center.data(), res[i].center.data() + d, center.mutable_data() + i * d);
        std::copy(res[i].y.data(), res[i].y.data() + K, y.mutable_data() + i * K);
        std::copy(res[i].p.data(), res[i].p.data() + d, p.mutable_data() + i * d);
        std::copy(res[i].q.data(), res[i].q.data() + d, q.mutable_data() + i * d);
    }
    py::dict out;
    out["status"] = status;
    out["radius"] = radius;
    out["center"] = center;
    out["y"] = y;
    out["p"] = p;
    out["q"] = q;
    out["iterations"] = iters;
    return out;
}

std::vector<hullscope::ChebyshevResult> unpack_chebyshev(const CArrayI& status, const CArrayD& radius,
                                                         const CArrayD& center, Index K, Index d) {
    if (status.ndim() != 1 || status.shape(0) != K || radius.ndim() != 1 || radius.shape(0) != K ||
        center.ndim() != 2 || center.shape(0) != K || center.shape(1) != d)
        throw std::invalid_argument("chebyshev: expected one status, radius and centre per class");
    std::vector<hullscope::ChebyshevResult> v(K);
    for (Index i = 0; i < K; ++i) {
        v[i].status = static_cast<int>(status.data()[i]);
        v[i].radius = radius.data()[i];
        v[i].center = VecMap(center.data() + i * d, d);
    }
    return v;
}

py::dict region_chebyshev(CArrayD W, CArrayD b, CArrayD lo, CArrayD hi, CArrayI classes, double feas_tol, int threads) {
    Model mo = make_model(W, b, lo, hi);
    const Index K = W.shape(0), d = W.shape(1);
    std::vector<Index> cls(classes.data(), classes.data() + classes.size());
    for (Index c : cls)
        if (c < 0 || c >= K) throw std::invalid_argument("classes: index out of range");
    std::vector<hullscope::ChebyshevResult> res;
    {
        py::gil_scoped_release rel;
        res = hullscope::chebyshev_all(mo.rm(), cls, lp_options(feas_tol, 0), threads);
    }
    return pack_chebyshev(res, K, d);
}

py::dict region_facets(CArrayD W, CArrayD b, CArrayD lo, CArrayD hi, Index c, CArrayI status, CArrayD radius,
                       CArrayD center, double tol, bool exact, double feas_tol) {
    Model mo = make_model(W, b, lo, hi);
    const Index K = W.shape(0), d = W.shape(1);
    if (c < 0 || c >= K) throw std::invalid_argument("c: class index out of range");
    auto cheb = unpack_chebyshev(status, radius, center, K, d);
    std::vector<Index> targets;
    for (Index j = 0; j < K; ++j)
        if (j != c) targets.push_back(j);
    hullscope::FacetResult r;
    {
        py::gil_scoped_release rel;
        r = hullscope::facets(mo.rm(), c, cheb[c], targets, exact ? -tol : tol, lp_options(feas_tol, 0));
    }
    py::dict out;
    CArrayI st(static_cast<py::ssize_t>(r.status.size())), tg(static_cast<py::ssize_t>(targets.size()));
    std::copy(r.status.begin(), r.status.end(), st.mutable_data());
    std::copy(targets.begin(), targets.end(), tg.mutable_data());
    out["targets"] = tg;
    out["status"] = st;
    out["value"] = to_vec(r.value);
    out["point"] = to_array(r.point);
    out["dual"] = to_array(r.dual);
    out["lps"] = r.lps;
    out["shortcuts"] = r.shortcuts;
    out["iterations"] = r.iterations;
    return out;
}

py::dict region_adjacency(CArrayD W, CArrayD b, CArrayD lo, CArrayD hi, CArrayI status, CArrayD radius,
                          CArrayD center, double tol, bool exact, double feas_tol, int threads,
                          std::optional<py::array_t<std::uint8_t, py::array::c_style>> todo) {
    Model mo = make_model(W, b, lo, hi);
    const Index K = W.shape(0), d = W.shape(1);
    auto cheb = unpack_chebyshev(status, radius, center, K, d);
    std::vector<char> tv;
    if (todo) {
        if (todo->ndim() != 2 || todo->shape(0) != K || todo->shape(1) != K)
            throw std::invalid_argument("todo: expected a (K, K) uint8 mask of the pairs to test");
        tv.assign(todo->data(), todo->data() + K * K);
    }
    hullscope::AdjacencyResult r;
    {
        py::gil_scoped_release rel;
        r = hullscope::adjacency(mo.rm(), cheb, exact ? -tol : tol, lp_options(feas_tol, 0), threads,
                                 todo ? &tv : nullptr);
    }
    const py::ssize_t k = K, P = r.points.rows(), Q = r.duals.rows();
    py::dict out;
    out["status"] = take(std::move(r.status), {k, k});
    out["value"] = take(std::move(r.value), {k, k});
    out["point_pairs"] = take(std::move(r.point_pairs), {P, 2});
    out["points"] = to_array(r.points);
    out["dual_pairs"] = take(std::move(r.dual_pairs), {Q, 2});
    out["duals"] = to_array(r.duals);
    out["lps"] = r.lps;
    out["shortcuts"] = r.shortcuts;
    out["iterations"] = r.iterations;
    return out;
}

py::dict region_construct(CArrayD W, CArrayD b, CArrayD lo, CArrayD hi, double tol, int threads) {
    Model mo = make_model(W, b, lo, hi);
    const Index K = W.shape(0);
    hullscope::ConstructedFacets r;
    {
        py::gil_scoped_release rel;
        r = hullscope::construct_facets(mo.rm(), tol, threads);
    }
    const py::ssize_t k = K;
    py::dict out;
    out["applies"] = r.applies;
    out["base"] = to_vec(r.base);
    out["V"] = to_array(r.V);
    out["delta"] = r.delta;
    out["eps"] = r.eps;
    out["inverse_error"] = r.inverse_error;
    out["status"] = take(std::move(r.status), {k, k});
    out["level"] = take(std::move(r.level), {k, k});
    out["weight"] = take(std::move(r.weight), {k, k});
    out["value"] = take(std::move(r.value), {k, k});
    out["proven"] = r.proven;
    out["clipped"] = r.clipped;
    out["refined"] = r.refined;
    const py::ssize_t R = r.points.rows();
    out["point_pairs"] = take(std::move(r.point_pairs), {R, 2});
    out["points"] = to_array(r.points);
    return out;
}

py::dict region_project(CArrayD W, CArrayD b, CArrayD lo, CArrayD hi, CArrayD F, CArrayI source, CArrayI target,
                        hullscope::ProjectionKind mode, double tol, Index max_iterations, int threads) {
    Model mo = make_model(W, b, lo, hi);
    const Index K = W.shape(0), d = W.shape(1);
    RowMap Fm = row_map(F, "F", d);
    const Index N = F.shape(0);
    if (source.ndim() != 1 || source.shape(0) != N || target.ndim() != 1 || target.shape(0) != N)
        throw std::invalid_argument("source/target: expected one class index per row of F");
    for (Index i = 0; i < N; ++i) {
        const Index s = source.data()[i], t = target.data()[i];
        if (s < 0 || s >= K || t < 0 || t >= K) throw std::invalid_argument("source/target: class index out of range");
        if (mode == hullscope::kToTie && s == t) throw std::invalid_argument("flip point: the target class equals the source class");
    }
    std::vector<double> f(N * d), dist(N), lower(N), y(N * (K + 2 * d));
    std::vector<std::int8_t> conv(N);
    std::vector<Index> iters(N);
    {
        py::gil_scoped_release rel;
        hullscope::project_batch(mo.rm(), Fm, source.data(), target.data(), mode, tol, max_iterations, threads,
                                 f.data(), dist.data(), lower.data(), conv.data(), y.data(), iters.data());
    }
    const py::ssize_t n = N, dd = d, yy = K + 2 * d;
    py::dict out;
    out["point"] = take(std::move(f), {n, dd});
    out["distance"] = take(std::move(dist), {n});
    out["lower"] = take(std::move(lower), {n});
    out["converged"] = take(std::move(conv), {n});
    out["y"] = take(std::move(y), {n, yy});
    out["iterations"] = take(std::move(iters), {n});
    return out;
}

py::dict region_radius_box(CArrayD W, CArrayD b, CArrayD lo, CArrayD hi, CArrayD F, int threads) {
    Model mo = make_model(W, b, lo, hi);
    const Index d = W.shape(1);
    RowMap Fm = row_map(F, "F", d);
    const Index N = F.shape(0);
    std::vector<double> radius(N), point(N * d);
    std::vector<Index> rival(N), pred(N);
    {
        py::gil_scoped_release rel;
        hullscope::certified_radius_box(mo.rm(), Fm, threads, pred.data(), radius.data(), rival.data(), point.data());
    }
    py::dict out;
    out["pred"] = take(std::move(pred), {(py::ssize_t)N});
    out["radius"] = take(std::move(radius), {(py::ssize_t)N});
    out["rival"] = take(std::move(rival), {(py::ssize_t)N});
    out["point"] = take(std::move(point), {(py::ssize_t)N, (py::ssize_t)d});
    return out;
}

void bind_regions(py::module_& m) {
    // The core's status codes, named once (arithmetic: they compare equal to the ints in result dicts).
    py::enum_<hullscope::LPStatus>(m, "LPStatus", py::arithmetic(), "Outcome of lp_solve.")
        .value("optimal", hullscope::kLpOptimal)
        .value("infeasible", hullscope::kLpInfeasible)
        .value("unbounded", hullscope::kLpUnbounded)
        .value("iteration_limit", hullscope::kLpIterationLimit);
    py::enum_<hullscope::RegionStatus>(m, "RegionStatus", py::arithmetic(), "Outcome of a Chebyshev-ball LP.")
        .value("full", hullscope::kRegionFull)
        .value("empty", hullscope::kRegionEmpty)
        .value("flat", hullscope::kRegionFlat)
        .value("unbounded", hullscope::kRegionUnboundedBall)
        .value("unconverged", hullscope::kRegionIterationLimit);
    py::enum_<hullscope::FacetStatus>(m, "FacetStatus", py::arithmetic(), "Verdict of a facet test.")
        .value("not_tested", hullscope::kFacetNotTested)
        .value("not_facet", hullscope::kNotFacet)
        .value("facet", hullscope::kFacet)
        .value("unconverged", hullscope::kFacetUnconverged);
    py::enum_<hullscope::ProjectionKind>(m, "ProjectionKind", "What region_project projects onto.")
        .value("region", hullscope::kToRegion)
        .value("tie", hullscope::kToTie);
    m.def("lp_solve", &lp_solve, py::arg("A").noconvert(), py::arg("b").noconvert(), py::arg("c").noconvert(),
          py::arg("lo").noconvert(), py::arg("hi").noconvert(), py::arg("x_start").noconvert() = py::none(),
          py::arg("feas_tol") = 1e-9, py::arg("max_iterations") = 0,
          "max c^T x s.t. A x <= b, lo <= x <= hi by the dense bounded-variable simplex, with certificates.");
    m.def("region_chebyshev", &region_chebyshev, py::arg("W").noconvert(), py::arg("b").noconvert(),
          py::arg("lo").noconvert(), py::arg("hi").noconvert(), py::arg("classes").noconvert(),
          py::arg("feas_tol") = 1e-9, py::arg("threads") = 0,
          "Chebyshev balls of the given classes within the box [lo, hi]: status (RegionStatus), radius, centre and\n"
          "the LP's multipliers, one LP per class, in parallel over classes.");
    m.def("region_facets", &region_facets, py::arg("W").noconvert(), py::arg("b").noconvert(),
          py::arg("lo").noconvert(), py::arg("hi").noconvert(), py::arg("c"), py::arg("status").noconvert(),
          py::arg("radius").noconvert(), py::arg("center").noconvert(), py::arg("tol"), py::arg("exact") = false,
          py::arg("feas_tol") = 1e-9,
          "Which rows of class c's region are facets within the box: status (FacetStatus), LP value, a facet point\n"
          "per facet and dual multipliers per non-facet (exact=False lets a projected-gradient walk prove facets).");
    m.def("region_adjacency", &region_adjacency, py::arg("W").noconvert(), py::arg("b").noconvert(),
          py::arg("lo").noconvert(), py::arg("hi").noconvert(), py::arg("status").noconvert(),
          py::arg("radius").noconvert(), py::arg("center").noconvert(), py::arg("tol"), py::arg("exact") = false,
          py::arg("feas_tol") = 1e-9, py::arg("threads") = 0, py::arg("todo").noconvert() = py::none(),
          "Facet tests of every class pair (one LP per unordered pair; only the pairs c < j with todo[c, j] != 0\n"
          "when a (K, K) uint8 mask is given): (K, K) FacetStatus and values, facet points and dual certificates,\n"
          "in parallel over classes.");
    m.def("region_construct", &region_construct, py::arg("W").noconvert(), py::arg("b").noconvert(),
          py::arg("lo").noconvert(), py::arg("hi").noconvert(), py::arg("tol"), py::arg("threads") = 0,
          "Facets of every class pair by construction through a right inverse V of W (no LP): applies, base point,\n"
          "V (K, d), delta, eps, and per pair (K, K) status (facet / not_tested), level T, weight lam and a lower\n"
          "bound of the LP value; see regions.hpp.");
    m.def("region_project", &region_project, py::arg("W").noconvert(), py::arg("b").noconvert(),
          py::arg("lo").noconvert(), py::arg("hi").noconvert(), py::arg("F").noconvert(),
          py::arg("source").noconvert(), py::arg("target").noconvert(), py::arg("mode"), py::arg("tol") = 1e-10,
          py::arg("max_iterations") = 0, py::arg("threads") = 0,
          "Nearest point of each row of F in the region of class target (mode=ProjectionKind.region) or on the tie\n"
          "of classes source and target (ProjectionKind.tie), within the box: an active-set QP with its KKT check\n"
          "and a primal fallback; points, distances, dual lower bounds and multipliers.");
    m.def("region_radius_box", &region_radius_box, py::arg("W").noconvert(), py::arg("b").noconvert(),
          py::arg("lo").noconvert(), py::arg("hi").noconvert(), py::arg("F").noconvert(), py::arg("threads") = 0,
          "Exact certified radius of each row of F in the box: prediction, radius (inf with the certificate that no\n"
          "rival reaches the prediction in the box), the rival and the nearest boundary point.");
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
    bind_regions(m);
}
