"""MixedIntegerProgram.from_cvxpy against cvxpy's own solve with a MIP solver."""

import numpy as np
import pytest

from skdfl.optimizers import MixedIntegerProgram

cp = pytest.importorskip("cvxpy")
MIP_SOLVER = cp.HIGHS if cp.HIGHS in cp.installed_solvers() else cp.SCIPY


def random_model(seed):
    """Three variables of different shapes and kinds; objective theta @ (affine + offset)."""
    rng = np.random.default_rng(seed)
    X = cp.Variable((2, 3), integer=True)
    y = cp.Variable(3, boolean=True)
    z = cp.Variable(nonneg=True)
    theta = cp.Parameter(4)
    M = rng.integers(-3, 4, size=(4, 6)).astype(float)
    N = rng.integers(-2, 3, size=(4, 3)).astype(float)
    offset = rng.normal(size=4)
    expr = M @ cp.vec(X, order="F") + N @ y + z * np.ones(4) + offset
    objective = (cp.Maximize if seed % 2 else cp.Minimize)(theta @ expr + 1.5)
    constraints = [X >= -1, X <= 2, cp.sum(X, axis=0) <= rng.integers(1, 4, size=3),
                   cp.sum(y) + X[0, 0] >= 0, y[0] + y[1] == 1, z <= 2.5,
                   2 * z - cp.sum(X) <= 3]
    return cp.Problem(objective, constraints), theta, offset


@pytest.mark.parametrize("seed", range(6))
def test_matches_cvxpy_own_solve(seed):
    problem, theta, offset = random_model(seed)
    mip = MixedIntegerProgram.from_cvxpy(problem, theta, mip_rel_gap=0)
    assert mip.n_params == 4 and mip.n_variables == 6 + 3 + 1
    assert mip.sense == ("maximize" if seed % 2 else "minimize")
    values = np.random.default_rng(100 + seed).normal(size=(3, 4))
    x = mip.solve(values)
    for row, decision in zip(values, x):
        theta.value = row
        problem.solve(MIP_SOLVER)
        assert problem.status == "optimal"
        # The constant part (theta @ offset + 1.5) changes no decision: dropped.
        expected = problem.value - row @ offset - 1.5
        assert mip.objective(decision[None], row[None])[0] == pytest.approx(expected, abs=1e-7)


def test_variables_flatten_in_order_column_major():
    X = cp.Variable((2, 2), integer=True)
    y = cp.Variable(2, integer=True)
    theta = cp.Parameter(6)
    # The identity objective: the decision is the variable vector in the documented order.
    problem = cp.Problem(cp.Maximize(theta @ cp.hstack([cp.vec(X, order="F"), y])),
                         [X >= 0, X <= 3, y >= -1, y <= 1, X[0, 1] + X[1, 0] <= 4,
                          cp.sum(y) + X[1, 1] <= 2])
    mip = MixedIntegerProgram.from_cvxpy(problem, theta)
    assert mip.decision_map is None
    assert [v.name() for v in problem.variables()] == [X.name(), y.name()]
    rng = np.random.default_rng(0)
    for row in rng.normal(size=(4, 6)):
        v = mip.solve(row[None])[0]
        X.value, y.value = v[:4].reshape(2, 2, order="F"), v[4:]
        assert all(c.violation().max() <= 1e-9 for c in problem.constraints)
        theta.value = row
        problem.solve(MIP_SOLVER)
        assert row @ v == pytest.approx(problem.value, abs=1e-7)


def test_bounds_and_attributes_become_variable_bounds():
    x = cp.Variable(3, integer=True, bounds=[-1, 4])
    theta = cp.Parameter(3)
    problem = cp.Problem(cp.Maximize(theta @ x), [x[0] <= 2, -x[1] <= 0, cp.sum(x) <= 6])
    mip = MixedIntegerProgram.from_cvxpy(problem, theta, n_jobs=2, time_limit=10)
    assert mip.bounds == [(-1.0, 2.0), (0.0, 4.0), (-1.0, 4.0)]
    assert (mip.n_jobs, mip.time_limit) == (2, 10)
    assert mip.A_ub.shape == (1, 3)
    assert mip.solve(np.array([[1.0, 2.0, -1.0]])).tolist() == [[2.0, 4.0, -1.0]]


def test_continuous_variables_stay_continuous():
    x = cp.Variable(2)
    k = cp.Variable(integer=True)
    theta = cp.Parameter(3)
    problem = cp.Problem(cp.Maximize(theta @ cp.hstack([x, k])),
                         [x >= 0, cp.sum(x) + k <= 2.5, k >= 0])
    mip = MixedIntegerProgram.from_cvxpy(problem, theta)
    np.testing.assert_array_equal(mip.integrality, [0, 0, 1])
    np.testing.assert_allclose(mip.solve(np.array([[1.0, 0.5, 1.2]])), [[0.5, 0.0, 2.0]])


def _x_theta():
    return cp.Variable(3, integer=True), cp.Parameter(3)


@pytest.mark.parametrize("build, match", [
    (lambda x, t: cp.Problem(cp.Maximize(t @ cp.square(x)), [x <= 1]),
     "objective must be parameter @"),
    (lambda x, t: cp.Problem(cp.Maximize(t @ cp.multiply(t, x)), [x <= 1]),
     "linear in both"),
    (lambda x, t: cp.Problem(cp.Maximize(t @ x + cp.sum(x)), [x <= 1]),
     "every term in the variables must be multiplied by parameter"),
    (lambda x, t: cp.Problem(cp.Maximize(cp.sum(x)), [x <= 1]),
     "does not appear"),
    (lambda x, t: cp.Problem(cp.Maximize(t @ x), [x <= t]),
     "only in the objective"),
    (lambda x, t: cp.Problem(cp.Maximize(t @ x), [x <= cp.Parameter(3, value=np.ones(3))]),
     "only parameter"),
    (lambda x, t: cp.Problem(cp.Maximize(t @ x), [cp.norm(x, 2) <= 2]),
     "affine equalities and inequalities"),
    (lambda x, t: cp.Problem(cp.Maximize(t @ x), [cp.abs(x) <= 2]),
     "affine equalities and inequalities"),
    (lambda x, t: cp.Problem(cp.Maximize(t @ x), [x <= 1, cp.Constant(1) <= 0]),
     "infeasible"),
])
def test_clear_errors(build, match):
    x, theta = _x_theta()
    with pytest.raises(ValueError, match=match):
        MixedIntegerProgram.from_cvxpy(build(x, theta), theta)


def test_rewritten_variables_are_refused():
    S = cp.Variable((2, 2), symmetric=True)
    theta = cp.Parameter(4)
    problem = cp.Problem(cp.Maximize(theta @ cp.vec(S, order="F")), [S <= 1, S >= 0])
    with pytest.raises(ValueError, match="plain vectors or arrays"):
        MixedIntegerProgram.from_cvxpy(problem, theta)


def test_bad_types():
    x, theta = _x_theta()
    problem = cp.Problem(cp.Maximize(theta @ x), [x <= 1])
    with pytest.raises(TypeError, match="cvxpy.Problem"):
        MixedIntegerProgram.from_cvxpy("problem", theta)
    with pytest.raises(TypeError, match="1-D cvxpy.Parameter"):
        MixedIntegerProgram.from_cvxpy(problem, cp.Parameter((3, 1)))
    with pytest.raises(TypeError, match=r"n_jobs, time_limit and mip_rel_gap.*\['sense'\]"):
        MixedIntegerProgram.from_cvxpy(problem, theta, sense="minimize")


def test_the_parameter_value_is_left_as_it_was():
    x, theta = _x_theta()
    problem = cp.Problem(cp.Maximize(theta @ x), [x <= 1, x >= 0])
    MixedIntegerProgram.from_cvxpy(problem, theta)
    assert theta.value is None
    theta.value = np.array([1.0, 2.0, 3.0])
    MixedIntegerProgram.from_cvxpy(problem, theta)
    np.testing.assert_array_equal(theta.value, [1.0, 2.0, 3.0])
