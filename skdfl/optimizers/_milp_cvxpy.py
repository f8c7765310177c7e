"""A MixedIntegerProgram's arguments read off a cvxpy model.

cvxpy's own canonicalization does the reading: the model is compiled for its
SCIPY interface (a MIP-capable solver that needs nothing beyond scipy), whose
data hold the constraint rows, the variable bounds and integrality, and, since
the objective is DPP, the linear map from the parameter to the costs of the
variables: that map is ``decision_map``.
"""

import numpy as np
import scipy.sparse as sp


def milp_arguments(problem, parameter):
    """Constructor arguments of the MixedIntegerProgram of ``problem`` (see ``from_cvxpy``)."""
    import cvxpy as cp

    if not isinstance(problem, cp.Problem):
        raise TypeError(f"problem must be a cvxpy.Problem; got {type(problem).__name__}.")
    if not isinstance(parameter, cp.Parameter) or parameter.ndim != 1:
        raise TypeError(f"parameter must be a 1-D cvxpy.Parameter (theta); got {parameter!r}.")
    _check_forms(problem, parameter)
    data = _problem_data(problem, parameter)
    program = data["param_prob"]
    variables = problem.variables()
    # Our variable order: problem.variables(), each flattened column-major
    # (cvxpy's own order); `order` gives each one's column in cvxpy's data.
    columns = program.var_id_to_col
    if any(v.id not in columns for v in variables) or \
            sum(v.size for v in variables) != program.x.size:
        raise ValueError("the variables must be plain vectors or arrays (integer, boolean, "
                         "nonneg, nonpos or bounds attributes only); cvxpy rewrote "
                         f"{[v.name() for v in variables]} into other variables.")
    order = np.concatenate([columns[v.id] + np.arange(v.size) for v in variables])
    decision_map = _decision_map(problem, parameter, program, order)
    A_eq, b_eq = _rows(data["A"], data["b"], order, "equality")
    A_ub, b_ub = _rows(data["G"], data["h"], order, "inequality")
    lo, hi = (np.full(program.x.size, default) if data.get(key) is None else
              np.asarray(data[key], dtype=np.float64)[order]
              for key, default in (("lower_bounds", -np.inf), ("upper_bounds", np.inf)))
    integer = np.zeros(program.x.size, dtype=bool)
    boolean = np.zeros(program.x.size, dtype=bool)
    integer[np.asarray(data["int_vars_idx"], dtype=int).ravel()] = True
    boolean[np.asarray(data["bool_vars_idx"], dtype=int).ravel()] = True
    integer, boolean = integer[order], boolean[order]
    lo[boolean], hi[boolean] = np.maximum(lo[boolean], 0.0), np.minimum(hi[boolean], 1.0)
    A_ub, b_ub, lo, hi = _single_variable_rows_to_bounds(A_ub, b_ub, lo, hi)
    if (lo > hi).any():
        j = int(np.flatnonzero(lo > hi)[0])
        raise ValueError(f"the constraints of problem are infeasible: variable {j} must lie in "
                         f"[{lo[j]:g}, {hi[j]:g}].")
    bounds = [(None if np.isinf(a) else float(a), None if np.isinf(b) else float(b))
              for a, b in zip(lo, hi)]
    sense = "maximize" if isinstance(problem.objective, cp.Maximize) else "minimize"
    return dict(A_eq=A_eq, b_eq=b_eq, A_ub=A_ub, b_ub=b_ub, bounds=bounds,
                integrality=(integer | boolean).astype(int), sense=sense,
                decision_map=decision_map)


def _check_forms(problem, parameter):
    from cvxpy.constraints import Equality, Inequality, NonNeg, NonPos, Zero

    expr = problem.objective.expr
    others = [p.name() for p in problem.parameters() if p.id != parameter.id]
    if not any(p.id == parameter.id for p in expr.parameters()):
        raise ValueError(f"the objective must be parameter @ (an affine expression of the "
                         f"variables); parameter {parameter.name()} does not appear in "
                         f"{expr}.")
    if others:
        raise ValueError(f"parameter must be the only parameter of problem (it is theta; "
                         f"other parameters would be frozen at their values); got {others}.")
    for constraint in problem.constraints:
        if any(p.id == parameter.id for p in constraint.parameters()):
            raise ValueError("parameter must appear only in the objective (it is theta); it "
                             f"appears in the constraint {constraint}.")
        if not isinstance(constraint, (Equality, Zero, Inequality, NonPos, NonNeg)) \
                or not all(arg.is_affine() for arg in constraint.args):
            raise ValueError("the constraints must be affine equalities and inequalities; "
                             f"got {constraint}.")
    if not expr.is_affine() or not problem.is_dpp():
        raise ValueError("the objective must be parameter @ (an affine expression of the "
                         f"variables), linear in both; got {expr}.")


def _problem_data(problem, parameter):
    import cvxpy as cp

    saved = parameter.value
    if saved is None:
        parameter.value = np.zeros(parameter.shape)
    try:
        return problem.get_problem_data(cp.SCIPY)[0]
    except cp.error.SolverError as exc:
        raise ValueError(f"problem must be a mixed-integer linear program; cvxpy could not "
                         f"put it in that form: {exc}") from None
    finally:
        parameter.value = saved


def _decision_map(problem, parameter, program, order):
    """``D`` with costs ``D' theta`` of the variables; None for the identity."""
    import cvxpy as cp

    # q maps (parameters, 1) to the costs of the minimized objective and, in
    # its last row, to the constant term (dropped: it changes no decision).
    q = sp.csc_array(program.q)
    start = program.param_id_to_col[parameter.id]
    n = program.x.size
    costs = q[:n][:, start:start + parameter.size].toarray()[order]
    rest = np.delete(q[:n].toarray(), np.arange(start, start + parameter.size), axis=1)
    if np.any(rest != 0):
        raise ValueError("the objective must be parameter @ (an affine expression of the "
                         "variables): every term in the variables must be multiplied by "
                         f"parameter; got {problem.objective.expr}.")
    if not costs.any():
        raise ValueError(f"the objective does not depend on the variables through parameter; "
                         f"got {problem.objective.expr}.")
    # cvxpy minimizes: the costs of a maximization are negated.
    D = (costs if isinstance(problem.objective, cp.Minimize) else -costs).T + 0.0
    if D.shape[0] == D.shape[1] and np.array_equal(D, np.eye(len(D))):
        return None
    return D


def _rows(A, b, order, kind):
    """Sparse rows of ``A v <= b`` (or ``=``) in our variable order; empty rows checked, dropped."""
    if A is None or A.shape[0] == 0:
        return None, None
    A = sp.csr_array(sp.csc_array(A, dtype=np.float64)[:, order])
    A.eliminate_zeros()
    b = np.asarray(b, dtype=np.float64)
    empty = np.diff(A.indptr) == 0
    holds = b[empty] == 0 if kind == "equality" else b[empty] >= 0
    if not holds.all():
        raise ValueError(f"the constraints of problem are infeasible: a constant {kind} does "
                         f"not hold.")
    keep = np.flatnonzero(~empty)
    return (A[keep], b[keep]) if len(keep) else (None, None)


def _single_variable_rows_to_bounds(A_ub, b_ub, lo, hi):
    """Inequality rows on one variable (``x >= 0``, ``x <= 3``) become bounds."""
    if A_ub is None:
        return A_ub, b_ub, lo, hi
    single = np.diff(A_ub.indptr) == 1
    first = A_ub.indptr[:-1][single]
    j, a = A_ub.indices[first], A_ub.data[first]
    limit = b_ub[single] / a + 0.0                      # no negative zeros
    np.minimum.at(hi, j[a > 0], limit[a > 0])
    np.maximum.at(lo, j[a < 0], limit[a < 0])
    keep = np.flatnonzero(~single)
    return (A_ub[keep], b_ub[keep], lo, hi) if len(keep) else (None, None, lo, hi)
