"""Reading a cvxpy linear program into ``LinearProgram``'s linprog-style arguments."""

import numpy as np
import scipy.sparse as sp


def cvxpy_data(problem, parameter):
    """linprog-style arguments of a cvxpy LP whose objective is ``parameter @ x``."""
    import cvxpy as cp

    if not isinstance(problem, cp.Problem):
        raise TypeError(f"problem must be a cvxpy.Problem; got {type(problem).__name__}.")
    if not isinstance(parameter, cp.Parameter) or parameter.ndim != 1:
        raise TypeError("parameter must be a 1-D cvxpy.Parameter (theta); got "
                        f"{parameter!r}.")
    variables = problem.variables()
    if len(variables) != 1 or variables[0].ndim != 1:
        raise ValueError("problem must have exactly one 1-D cvxpy Variable x (the decision); "
                         f"got {[v.name() for v in variables]} with shapes "
                         f"{[v.shape for v in variables]}.")
    x = variables[0]
    if x.attributes.get("boolean") or x.attributes.get("integer"):
        raise ValueError("LinearProgram solves the continuous linear program; declare the "
                         "variable without boolean=True or integer=True.")
    if x.size != parameter.size:
        raise ValueError(f"parameter must have one entry per variable: x has {x.size} "
                         f"entries, parameter has {parameter.size}.")
    for constraint in problem.constraints:
        if any(p.id == parameter.id for p in constraint.parameters()):
            raise ValueError("parameter must appear only in the objective (it is theta); "
                             f"it appears in the constraint {constraint}.")
    sense = _cvxpy_sense(problem, parameter, x)
    eq, ub = _cvxpy_constraints(problem, x)
    A_eq, b_eq = eq
    A_ub, b_ub = ub
    # Inequality rows on a single variable become bounds.
    lo, hi = np.full(x.size, -np.inf), np.full(x.size, np.inf)
    if A_ub is not None:
        single = (A_ub != 0).sum(1) == 1
        for row in np.flatnonzero(single):
            j = int(np.flatnonzero(A_ub[row])[0])
            limit = b_ub[row] / A_ub[row, j] + 0.0   # no negative zeros
            if A_ub[row, j] > 0:
                hi[j] = min(hi[j], limit)
            else:
                lo[j] = max(lo[j], limit)
        A_ub, b_ub = (A_ub[~single], b_ub[~single]) if (~single).any() else (None, None)
    if (lo > hi).any():
        raise ValueError("the constraints of problem are infeasible: a variable's lower "
                         "bound exceeds its upper bound.")
    bounds = [(None if np.isinf(a) else float(a), None if np.isinf(b) else float(b))
              for a, b in zip(lo, hi)]
    return dict(A_eq=A_eq, b_eq=b_eq, A_ub=A_ub, b_ub=b_ub, bounds=bounds, sense=sense)


def _cvxpy_sense(problem, parameter, x):
    """"maximize"/"minimize" after checking that the objective is +-parameter @ x."""
    import cvxpy as cp

    objective = problem.objective
    expr = objective.expr
    if not expr.is_affine() or any(p.id != parameter.id for p in expr.parameters()) \
            or not problem.is_dpp():
        raise ValueError("the objective must be parameter @ x (linear in x, with parameter "
                         f"its only parameter); got {expr}.")
    # The objective is bilinear in (parameter, x) plus terms in one of them:
    # equal to +-theta @ x at random points only if it is exactly that.
    rng = np.random.default_rng(0)
    saved = parameter.value, x.value
    signs = set()
    try:
        for _ in range(3):
            theta, point = _probe_value(parameter, rng), _probe_value(x, rng)
            parameter.value, x.value = theta, point
            value, reference = float(expr.value), float(theta @ point)
            scale = 1e-9 * (1.0 + np.abs(theta) @ np.abs(point))
            signs.add(1.0 if abs(value - reference) <= scale else
                      -1.0 if abs(value + reference) <= scale else 0.0)
    finally:
        parameter.value, x.value = saved
    if len(signs) != 1 or 0.0 in signs:
        raise ValueError(f"the objective must be parameter @ x (or its negative); got {expr}.")
    maximize = isinstance(objective, cp.Maximize)
    return "maximize" if maximize == (signs.pop() > 0) else "minimize"


def _probe_value(leaf, rng):
    """A random value that a cvxpy Variable or Parameter accepts (signs, bounds)."""
    u = rng.uniform(0.5, 1.5, leaf.size)
    attributes = leaf.attributes
    if attributes.get("nonpos") or attributes.get("neg"):
        return -u
    bounds = attributes.get("bounds")
    if bounds is None:
        return u
    lo, hi = (np.broadcast_to(default if b is None else np.asarray(b, dtype=np.float64),
                              leaf.shape).copy() for b, default in zip(bounds, (-np.inf, np.inf)))
    if attributes.get("nonneg") or attributes.get("pos"):
        lo = np.maximum(lo, 0.0)
    t = u - 0.5                                           # in [0, 1)
    both = np.isfinite(lo) & np.isfinite(hi)
    with np.errstate(invalid="ignore"):                   # inf - inf where not selected
        return np.where(both, lo + t * (hi - lo), np.where(np.isfinite(lo), lo + u,
                                                           np.where(np.isfinite(hi), hi - u, u)))


def _cvxpy_constraints(problem, x):
    """``(A_eq, b_eq), (A_ub, b_ub)`` of the constraints, through cvxpy's conic form."""
    import cvxpy as cp
    from cvxpy.constraints import Equality, Inequality, NonNeg, NonPos, Zero

    for constraint in problem.constraints:
        if not isinstance(constraint, (Equality, Zero, Inequality, NonPos, NonNeg)) \
                or not all(arg.is_affine() for arg in constraint.args):
            raise ValueError("the constraints must be affine equalities and inequalities; got "
                             f"{constraint}.")
    # The objective sum(x) keeps every column of x (and its attributes, such as
    # nonneg=True, which cvxpy turns into rows) even if no constraint uses x.
    data = cp.Problem(cp.Minimize(cp.sum(x)), problem.constraints).get_problem_data(
        cp.CLARABEL)[0]
    dims = data["dims"]
    if dims.soc or dims.exp or dims.psd or getattr(dims, "p3d", None):
        raise ValueError("the constraints must be linear; cvxpy's canonical form has cones.")
    A = sp.csr_array(data["A"]).toarray()
    b = np.asarray(data["b"], dtype=np.float64)
    if A.shape[1] != x.size:
        raise ValueError("the constraints must be affine in x alone; cvxpy introduced "
                         f"{A.shape[1] - x.size} auxiliary variables.")
    n_eq = dims.zero
    # Clarabel's form: A x + s = b with s = 0 (equalities) or s >= 0 (inequalities).
    A_eq, b_eq = A[:n_eq], b[:n_eq]
    A_ub, b_ub = A[n_eq:], b[n_eq:]
    for key, sign in (("lower_bounds", -1.0), ("upper_bounds", 1.0)):
        limit = data.get(key)
        if limit is not None:
            limit = np.asarray(limit, dtype=np.float64)
            A_ub = np.vstack([A_ub, sign * np.eye(x.size)])
            b_ub = np.concatenate([b_ub, sign * limit])
    vacuous = b_ub == np.inf
    A_ub, b_ub = A_ub[~vacuous], b_ub[~vacuous]
    keep_eq = np.abs(A_eq).sum(1) > 0
    if (~keep_eq).any() and np.any(b_eq[~keep_eq] != 0):
        raise ValueError("the constraints of problem are infeasible (a constant equality "
                         "does not hold).")
    A_eq, b_eq = A_eq[keep_eq], b_eq[keep_eq]
    return ((A_eq, b_eq) if len(A_eq) else (None, None),
            (A_ub, b_ub) if len(A_ub) else (None, None))
