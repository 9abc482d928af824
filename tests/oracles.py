"""Independent oracles for the hull tests: scipy's HiGHS LP, HiGHS QP (highspy), brute force."""
from __future__ import annotations

import itertools

import numpy as np


def lp_member(X: np.ndarray, q: np.ndarray) -> bool:
    """q in conv(X) by scipy.optimize.linprog(method='highs') feasibility."""
    from scipy.optimize import linprog

    n = X.shape[0]
    A = np.vstack([X.T, np.ones((1, n))])
    b = np.r_[q, 1.0]
    r = linprog(np.zeros(n), A_eq=A, b_eq=b, bounds=(0, None), method="highs")
    if r.status in (0, 2):
        return r.status == 0
    # HiGHS sometimes ends a pure feasibility problem with status 'unknown'. Fall back to the
    # always-feasible L1 form: min sum(s+ + s-) s.t. X'lam + s+ - s- = q, 1'lam = 1.
    d = X.shape[1]
    A1 = np.hstack([A, np.vstack([np.eye(d), np.zeros((1, d))]), np.vstack([-np.eye(d), np.zeros((1, d))])])
    c = np.r_[np.zeros(n), np.ones(2 * d)]
    r = linprog(c, A_eq=A1, b_eq=b, bounds=(0, None), method="highs")
    if r.status != 0:
        raise RuntimeError(f"linprog failed: {r.message}")
    scale = np.abs(X - q).max()
    return r.fun <= 1e-9 * scale * d


def brute_distance(X: np.ndarray, q: np.ndarray) -> float:
    """Exact distance for tiny n by enumerating every subset of at most d+1 rows."""
    n, d = X.shape
    best = min(float(np.linalg.norm(x - q)) for x in X)
    for k in range(2, min(n, d + 1) + 1):
        for S in itertools.combinations(range(n), k):
            Y = X[list(S)] - q
            G = Y @ Y.T
            M = np.block([[G, np.ones((k, 1))], [np.ones((1, k)), np.zeros((1, 1))]])
            try:
                sol = np.linalg.solve(M, np.r_[np.zeros(k), 1.0])
            except np.linalg.LinAlgError:
                continue
            a = sol[:k]
            if np.all(a >= -1e-12):
                best = min(best, float(np.linalg.norm(Y.T @ a)))
    return best


def qp_distance(X: np.ndarray, q: np.ndarray) -> float:
    """Distance from q to conv(X) by HiGHS's QP solver: min 1/2 lam'(Y Y')lam over the simplex, Y = X - q."""
    import highspy

    n, d = X.shape
    Y = X - q
    G = Y @ Y.T
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", 20.0)
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = 1
    lp.col_cost_ = np.zeros(n)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = inf * np.ones(n)
    lp.row_lower_ = np.array([1.0])
    lp.row_upper_ = np.array([1.0])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(n + 1, dtype=np.int32)
    lp.a_matrix_.index_ = np.zeros(n, dtype=np.int32)
    lp.a_matrix_.value_ = np.ones(n)
    h.passModel(lp)
    hess = highspy.HighsHessian()
    hess.dim_ = n
    hess.format_ = highspy.HessianFormat.kTriangular
    iu = [np.arange(j, n) for j in range(n)]  # lower triangle column-wise
    hess.start_ = np.r_[0, np.cumsum([len(r) for r in iu])].astype(np.int32)
    hess.index_ = np.concatenate(iu).astype(np.int32)
    hess.value_ = np.concatenate([G[j:, j] for j in range(n)])
    h.passHessian(hess)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"HiGHS QP: {h.modelStatusToString(h.getModelStatus())}")
    lam = np.clip(np.asarray(h.getSolution().col_value), 0, None)
    lam /= lam.sum()
    return float(np.linalg.norm(Y.T @ lam))


def region_qp(R, h, f0, n_eq=0):
    """min 1/2 ||f - f0||^2 s.t. R f <= h (first n_eq rows equal), by HiGHS."""
    import highspy

    m, d = R.shape
    hs = highspy.Highs()
    hs.setOptionValue("output_flag", False)
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = d, m
    lp.col_cost_ = -f0
    lp.col_lower_ = np.full(d, -inf)
    lp.col_upper_ = np.full(d, inf)
    lower = np.full(m, -inf)
    lower[:n_eq] = h[:n_eq]
    lp.row_lower_, lp.row_upper_ = lower, h.astype(float)
    Rc = R.T.copy()  # column-wise
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = np.arange(0, m * d + 1, m, dtype=np.int32)
    lp.a_matrix_.index_ = np.tile(np.arange(m, dtype=np.int32), d)
    lp.a_matrix_.value_ = Rc.ravel()
    hs.passModel(lp)
    hess = highspy.HighsHessian()
    hess.dim_ = d
    hess.format_ = highspy.HessianFormat.kTriangular
    hess.start_ = np.arange(d + 1, dtype=np.int32)
    hess.index_ = np.arange(d, dtype=np.int32)
    hess.value_ = np.ones(d)
    hs.passHessian(hess)
    hs.run()
    if hs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"HiGHS QP did not solve: {hs.getModelStatus()}")
    f = np.asarray(hs.getSolution().col_value)
    return np.linalg.norm(f - f0)


def box_rows(reg):
    """The box domain of a LinearRegions as rows: f_i <= hi_i and -f_i <= -lo_i (finite bounds only)."""
    rows, rhs = [], []
    for i in range(reg.d):
        if np.isfinite(reg.hi[i]):
            e = np.zeros(reg.d); e[i] = 1; rows.append(e); rhs.append(reg.hi[i])
        if np.isfinite(reg.lo[i]):
            e = np.zeros(reg.d); e[i] = -1; rows.append(e); rhs.append(-reg.lo[i])
    return np.array(rows).reshape(-1, reg.d), np.array(rhs)
