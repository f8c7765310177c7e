"""LinearProgram: exact solve against HiGHS and brute force, validation, cvxpy interop.

Oracles: HiGHS's interior-point method (``linprog(method="highs-ipm")``) for
the optimal value, a rank test for the vertex property, enumeration of all
matchings for the bipartite matching polytope, and hand-built programs for
``from_cvxpy``.
"""

import itertools
import pickle

import cvxpy as cp
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.optimize import linprog
from sklearn.base import clone

from skdfl.optimizers import LinearProgram


def random_feasible_lp(seed, n=6, m_eq=2, m_ub=4, bounds=(0, 1), sense="maximize"):
    """A random LP with a known interior point (so it is feasible), bounded above."""
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(0.2, 0.8, n)
    A_eq = rng.normal(size=(m_eq, n)) if m_eq else None
    # The last row, sum(x) <= sum(x0) + const, bounds the polytope when x >= lo.
    A_ub = np.vstack([rng.normal(size=(m_ub - 1, n)), np.ones((1, n))])
    return LinearProgram(
        A_eq=A_eq, b_eq=None if A_eq is None else A_eq @ x0,
        A_ub=A_ub, b_ub=A_ub @ x0 + rng.uniform(0.1, 1.0, m_ub),
        bounds=bounds, sense=sense)


def active_rank(lp, x, tol=1e-7):
    """Rank of the constraints active at x: n exactly at a vertex."""
    data = lp._data
    rows = []
    if data.A_eq is not None:
        rows.append(data.A_eq)
    if data.A_ub is not None:
        rows.append(data.A_ub[np.abs(data.A_ub @ x - data.b_ub) <= tol])
    at_bound = (np.abs(x - data.lo) <= tol) | (np.abs(x - data.hi) <= tol)
    rows.append(np.eye(len(x))[at_bound])
    return np.linalg.matrix_rank(np.vstack(rows), tol=1e-9)


def assert_feasible(lp, x, tol=1e-7):
    data = lp._data
    if data.A_eq is not None:
        np.testing.assert_allclose(data.A_eq @ x, data.b_eq, atol=tol)
    if data.A_ub is not None:
        assert np.all(data.A_ub @ x <= data.b_ub + tol)
    assert np.all(x >= data.lo - tol) and np.all(x <= data.hi + tol)


# ---------------------------------------------------------------- exact solve

@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("sense", ["maximize", "minimize"])
def test_solve_matches_highs_ipm_and_returns_vertices(seed, sense):
    bounds = [(0, 1), (0, None), (-1, 2)][seed % 3]
    lp = random_feasible_lp(seed, n=5 + seed % 3, sense=sense, bounds=bounds)
    rng = np.random.default_rng(100 + seed)
    theta = rng.normal(size=(4, lp.n_params))
    x = lp.solve(theta)
    assert x.shape == theta.shape
    sign = 1.0 if sense == "minimize" else -1.0
    for row, t in zip(x, theta):
        d = lp._data
        ref = linprog(sign * t, A_ub=d.A_ub, b_ub=d.b_ub, A_eq=d.A_eq, b_eq=d.b_eq,
                      bounds=d.linprog_bounds, method="highs-ipm")
        assert ref.status == 0
        assert float(row @ t) == pytest.approx(sign * ref.fun, abs=1e-7)
        assert_feasible(lp, row)
        assert active_rank(lp, row) == lp.n_vars


def test_solve_keeps_kind_dtype_and_device():
    lp = LinearProgram(A_ub=[[1.0, 1.0]], b_ub=[1.0], bounds=(0, 1))
    theta32 = torch.tensor([[1.0, 2.0]], dtype=torch.float32)
    x = lp.solve(theta32)
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
    np.testing.assert_array_equal(lp.solve(np.array([2.0, 1.0])), [1.0, 0.0])
    assert lp.objective(np.array([[1.0, 0.0]]), np.array([[2.0, 1.0]]))[0] == 2.0


def brute_force_matching(weights):
    """Best value over all matchings (each node at most once) by enumeration."""
    n_left, n_right = weights.shape
    best = 0.0
    for size in range(1, min(n_left, n_right) + 1):
        for left in itertools.combinations(range(n_left), size):
            for right in itertools.permutations(range(n_right), size):
                best = max(best, sum(weights[i, j] for i, j in zip(left, right)))
    return best


@pytest.mark.parametrize("n_left, n_right", [(1, 1), (2, 3), (3, 2), (3, 3)])
def test_bipartite_matching_matches_brute_force(n_left, n_right):
    lp = LinearProgram.bipartite_matching(n_left, n_right)
    assert lp.sense == "maximize" and lp.n_params == n_left * n_right
    rng = np.random.default_rng(n_left * 10 + n_right)
    theta = rng.normal(size=(5, n_left * n_right))
    x = lp.solve(theta)
    assert np.isin(np.round(x, 9), (0.0, 1.0)).all()          # integral polytope
    for row, t in zip(x, theta):
        matrix = row.reshape(n_left, n_right)
        assert (matrix.sum(1) <= 1 + 1e-9).all() and (matrix.sum(0) <= 1 + 1e-9).all()
        assert float(row @ t) == pytest.approx(brute_force_matching(t.reshape(n_left,
                                                                              n_right)))


def test_infeasible_instance_is_named_with_highs_status():
    lp = LinearProgram(A_ub=[[1.0, 1.0], [-1.0, -1.0]], b_ub=[1.0, -2.0])
    with pytest.raises(ValueError, match=r"instance 0 .*infeasible.*HiGHS status 2"):
        lp.solve(np.ones((3, 2)))


def test_unbounded_instance_is_named_with_highs_status():
    lp = LinearProgram(A_ub=[[1.0, -1.0]], b_ub=[1.0])          # x >= 0, x0 <= 1 + x1
    theta = np.array([[-1.0, -1.0], [-1.0, -2.0], [1.0, 1.0]])   # row 2 is unbounded
    with pytest.raises(ValueError, match=r"instance 2 \(row 2 of theta\).*unbounded"
                                         r".*HiGHS status 3"):
        lp.solve(theta)


def test_sparse_matrices_give_the_same_decisions():
    dense = random_feasible_lp(3)
    sparse = LinearProgram(A_eq=sp.csr_matrix(dense.A_eq), b_eq=dense.b_eq,
                           A_ub=sp.coo_array(dense.A_ub), b_ub=dense.b_ub, bounds=(0, 1))
    theta = np.random.default_rng(0).normal(size=(3, 6))
    np.testing.assert_allclose(sparse.solve(theta), dense.solve(theta), atol=1e-9)
    np.testing.assert_allclose(sparse.relax(torch.as_tensor(theta), 0.3),
                               dense.relax(torch.as_tensor(theta), 0.3), atol=1e-9)


# ---------------------------------------------------------------- per-instance data

def per_row_rhs(lp, seed, n_instances, slack=(0.1, 1.0)):
    """Right-hand sides, one per row, each feasible: built around a random interior point."""
    rng = np.random.default_rng(seed)
    d = lp._data
    x0 = rng.uniform(0.2, 0.8, (n_instances, d.n))
    b_eq = None if d.A_eq is None else x0 @ d.A_eq.T
    b_ub = None if d.A_ub is None else x0 @ d.A_ub.T + rng.uniform(*slack, (n_instances,
                                                                           len(d.A_ub)))
    return b_ub, b_eq


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("given", ["b_ub", "b_eq", "both"])
def test_per_row_rhs_solves_each_row_as_highs_does(seed, given):
    lp = random_feasible_lp(seed, n=5, sense=["maximize", "minimize"][seed % 2])
    theta = np.random.default_rng(seed).normal(size=(4, 5))
    b_ub, b_eq = per_row_rhs(lp, seed + 10, 4)
    params = {"b_ub": b_ub, "b_eq": b_eq} if given == "both" else {
        given: b_ub if given == "b_ub" else b_eq}
    x = lp.solve(theta, **params)
    d = lp._data
    for i, (row, t) in enumerate(zip(x, theta)):
        row_ub = params.get("b_ub", [d.b_ub] * 4)[i]
        row_eq = params.get("b_eq", [d.b_eq] * 4)[i]
        ref = linprog(lp.sign * t, A_ub=d.A_ub, b_ub=row_ub, A_eq=d.A_eq, b_eq=row_eq,
                      bounds=d.linprog_bounds, method="highs-ipm")
        assert ref.status == 0
        assert float(row @ t) == pytest.approx(lp.sign * ref.fun, abs=1e-7)
        alone = LinearProgram(A_eq=d.A_eq, b_eq=row_eq, A_ub=d.A_ub, b_ub=row_ub,
                              bounds=lp.bounds, sense=lp.sense)
        assert_feasible(alone, row)
        np.testing.assert_array_equal(row, alone.solve(t))
    np.testing.assert_allclose(lp.objective(x, theta, **params), (x * theta).sum(1))


def test_per_row_rhs_equal_to_the_constructor_changes_nothing():
    lp = random_feasible_lp(4)
    theta = np.random.default_rng(4).normal(size=(3, 6))
    d = lp._data
    same = lp.solve(theta, b_ub=np.tile(d.b_ub, (3, 1)), b_eq=np.tile(d.b_eq, (3, 1)))
    np.testing.assert_array_equal(same, lp.solve(theta))


def test_per_row_infeasible_or_unbounded_instance_is_named():
    lp = LinearProgram(A_ub=[[1.0, 1.0], [-1.0, -1.0]], b_ub=[1.0, 0.0], bounds=(0, None))
    theta = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"instance 1 \(row 1 of theta\).*infeasible"
                                         r".*HiGHS status 2"):
        lp.solve(theta, b_ub=[[1.0, 0.0], [1.0, -2.0], [1.0, -3.0]])
    box = LinearProgram(A_ub=[[1.0, -1.0]], b_ub=[1.0])
    with pytest.raises(ValueError, match=r"instance 2 \(row 2 of theta\).*unbounded"):
        box.solve(np.array([[-1.0, -1.0]] * 2 + [[1.0, 1.0]]), b_ub=[[1.0], [2.0], [3.0]])


@pytest.mark.parametrize("params, message", [
    (dict(b_eq=[[1.0], [1.0]]), r"b_eq was given per instance, but .* no A_eq"),
    (dict(b_ub=[[1.0, 2.0], [1.0, 2.0]]), r"b_ub must have shape \(2, 1\).*got shape \(2, 2\)"),
    (dict(b_ub=[1.0, 2.0]), r"b_ub must have shape \(2, 1\).*got shape \(2,\)"),
    (dict(b_ub=[[1.0], [np.nan]]), r"b_ub must be finite; got nan in row 1"),
    (dict(b_ub=[[np.inf], [1.0]]), r"b_ub must be finite; got inf in row 0"),
    (dict(b_ub=[["a"], ["b"]]), r"b_ub must hold numbers"),
    (dict(capacity=[1.0, 2.0]), r"'capacity' is not a per-instance parameter.*\['b_ub', "
                                r"'b_eq'\]"),
])
def test_bad_per_row_rhs_names_the_argument_and_row(params, message):
    lp = LinearProgram(A_ub=[[1.0, 1.0]], b_ub=[1.0], bounds=(0, 1))
    theta = np.ones((2, 2))
    for call in (lambda: lp.solve(theta, **params),
                 lambda: lp.relax(torch.as_tensor(theta), 0.5, **params),
                 lambda: lp.objective(theta, theta, **params)):
        with pytest.raises(ValueError, match=message):
            call()


# ---------------------------------------------------------------- validation

def test_init_only_stores_and_clone_pickle_work():
    bad = LinearProgram(A_eq="not a matrix", b_eq=[1.0])           # no error yet
    assert clone(bad).get_params()["A_eq"] == "not a matrix"
    with pytest.raises(ValueError, match="A_eq must be a 2-D numeric array"):
        bad.n_params
    lp = random_feasible_lp(1)
    theta = np.random.default_rng(1).normal(size=(2, 6))
    lp.relax(torch.as_tensor(theta), 0.5)                          # fills the cache
    restored = pickle.loads(pickle.dumps(lp))
    assert "_cache" not in restored.__dict__
    np.testing.assert_allclose(restored.solve(theta), lp.solve(theta))
    np.testing.assert_allclose(clone(lp).relax(torch.as_tensor(theta), 0.5),
                               lp.relax(torch.as_tensor(theta), 0.5), atol=1e-9)


def test_set_params_rebuilds_the_polytope():
    lp = LinearProgram(A_eq=[[1.0, 1.0]], b_eq=[1.0], bounds=(0, 1))
    theta = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    np.testing.assert_allclose(lp.relax(theta, 1.0), [[0.5, 0.5]])
    lp.set_params(b_eq=[2.0])
    np.testing.assert_allclose(lp.relax(theta, 1.0), [[1.0, 1.0]])


@pytest.mark.parametrize("params, message", [
    (dict(A_eq=[[1.0, 1.0]], b_eq=[1.0], A_ub=[[1.0, 1.0, 1.0]], b_ub=[1.0]),
     r"A_eq and A_ub must have the same number of columns.*got 2 and 3"),
    (dict(A_eq=[[1.0, 1.0]], b_eq=[1.0, 2.0]), r"b_eq must have shape \(1,\).*got shape \(2,\)"),
    (dict(A_ub=[[1.0, 1.0]]), r"A_ub was given without b_ub"),
    (dict(b_ub=[1.0]), r"b_ub was given without A_ub"),
    (dict(A_ub=[1.0, 1.0], b_ub=[1.0]), r"A_ub must be a non-empty 2-D array.*shape \(2,\)"),
    (dict(A_ub=[[1.0, np.nan]], b_ub=[1.0]), r"A_ub must contain only finite values"),
    (dict(A_ub=[[1.0, 1.0]], b_ub=[np.inf]), r"b_ub must contain only finite values"),
    (dict(A_ub=[[1.0, 1.0]], b_ub=[1.0], bounds=[(0, 1)] * 3),
     r"one \(low, high\) pair per variable \(2.*got 3 pairs"),
    (dict(A_ub=[[1.0, 1.0]], b_ub=[1.0], bounds=(2, 1)), r"low <= high.*got \(2.0, 1.0\)"),
    (dict(A_ub=[[1.0, 1.0]], b_ub=[1.0], bounds="wide"), r"bounds must be a pair"),
    (dict(bounds=(0, 1)), r"needs A_eq or A_ub to know the number of variables"),
    (dict(A_ub=[[1.0, 1.0]], b_ub=[1.0], sense="max"), r"sense must be one of"),
])
def test_bad_arguments_give_clear_errors(params, message):
    with pytest.raises(ValueError, match=message):
        LinearProgram(**params).n_params


def test_bounds_sequence_alone_sizes_the_problem():
    lp = LinearProgram(bounds=[(0, 1), (None, 2.0), (-1, None)], sense="minimize")
    assert lp.n_vars == 3
    np.testing.assert_allclose(lp.solve(np.array([[1.0, -1.0, 1.0]])), [[0.0, 2.0, -1.0]])


def test_theta_width_and_sense_errors():
    lp = LinearProgram.bipartite_matching(2, 2)
    with pytest.raises(ValueError, match="theta must have 4 columns"):
        lp.solve(np.ones((1, 3)))
    with pytest.raises(ValueError, match="theta must have 4 columns"):
        lp.relax(torch.ones(1, 5), 0.1)
    with pytest.raises(ValueError, match="gamma must be > 0"):
        lp.relax(torch.ones(1, 4), 0.0)
    with pytest.raises(ValueError, match="n_left must be >= 1"):
        LinearProgram.bipartite_matching(0, 2)
    assert LinearProgram(A_ub=[[1.0]], b_ub=[1.0], sense="minimize").sign == 1.0


# ---------------------------------------------------------------- cvxpy interop

def hand_built_and_cvxpy(seed):
    rng = np.random.default_rng(seed)
    n = 5
    A_eq, A_ub = rng.normal(size=(1, n)), rng.normal(size=(3, n))
    x0 = rng.uniform(0.2, 0.8, n)
    b_eq, b_ub = A_eq @ x0, A_ub @ x0 + 0.5
    hand = LinearProgram(A_eq=A_eq, b_eq=b_eq, A_ub=A_ub, b_ub=b_ub,
                         bounds=[(0, 1)] * 3 + [(0, None), (None, 2.0)], sense="minimize")
    x, theta = cp.Variable(n), cp.Parameter(n)
    constraints = [A_eq @ x == b_eq, A_ub @ x <= b_ub, x[:4] >= 0, x[:3] <= 1, 2 * x[4] <= 4]
    return hand, cp.Problem(cp.Minimize(theta @ x), constraints), theta


@pytest.mark.parametrize("seed", [0, 1])
def test_from_cvxpy_round_trip_equals_hand_built(seed):
    hand, problem, theta = hand_built_and_cvxpy(seed)
    lp = LinearProgram.from_cvxpy(problem, theta)
    assert lp.sense == "minimize" and lp.n_params == 5
    np.testing.assert_allclose(lp._data.lo, hand._data.lo)
    np.testing.assert_allclose(lp._data.hi, hand._data.hi)
    values = np.random.default_rng(seed).normal(size=(3, 5))
    np.testing.assert_allclose(hand.objective(lp.solve(values), values),
                               hand.objective(hand.solve(values), values), atol=1e-8)
    np.testing.assert_allclose(lp.relax(torch.as_tensor(values), 0.2),
                               hand.relax(torch.as_tensor(values), 0.2), atol=1e-8)
    assert theta.value is None                          # the model is left as it was


def test_from_cvxpy_reads_the_sense_and_variable_attributes():
    x, theta = cp.Variable(3, nonneg=True), cp.Parameter(3)
    theta.value = np.array([1.0, 2.0, 3.0])
    problem = cp.Problem(cp.Minimize(-theta @ x), [cp.sum(x) <= 2, x <= 1])
    lp = LinearProgram.from_cvxpy(problem, theta)
    assert lp.sense == "maximize"                        # min -theta @ x
    np.testing.assert_array_equal(lp._data.lo, 0.0)
    np.testing.assert_array_equal(lp.solve(np.array([[1.0, 2.0, 3.0]])), [[0.0, 1.0, 1.0]])
    np.testing.assert_array_equal(theta.value, [1.0, 2.0, 3.0])
    boxed = cp.Variable(3, bounds=[None, np.array([1.0, 2.0, 3.0])])
    lp = LinearProgram.from_cvxpy(cp.Problem(cp.Maximize(theta @ boxed),
                                             [boxed >= -1, cp.sum(boxed) <= 4]), theta)
    assert lp.get_params()["bounds"] == [(-1.0, 1.0), (-1.0, 2.0), (-1.0, 3.0)]
    np.testing.assert_allclose(lp.solve(np.array([[1.0, 1.5, 2.0]])), [[-1.0, 2.0, 3.0]])


def test_from_cvxpy_matching_equals_the_constructor():
    n_left, n_right = 2, 3
    x, theta = cp.Variable(n_left * n_right), cp.Parameter(n_left * n_right)
    X = cp.reshape(x, (n_left, n_right), order="C")
    problem = cp.Problem(cp.Maximize(cp.sum(cp.multiply(theta, x))),
                         [cp.sum(X, axis=1) <= 1, cp.sum(X, axis=0) <= 1, x >= 0, x <= 1])
    lp = LinearProgram.from_cvxpy(problem, theta)
    ref = LinearProgram.bipartite_matching(n_left, n_right)
    values = np.random.default_rng(0).normal(size=(4, 6))
    np.testing.assert_allclose(lp.relax(torch.as_tensor(values), 0.1),
                               ref.relax(torch.as_tensor(values), 0.1), atol=1e-8)


def test_from_cvxpy_rejects_what_is_not_a_parametric_lp():
    x, y, theta = cp.Variable(2), cp.Variable(2), cp.Parameter(2)
    other = cp.Parameter(2, value=np.ones(2))
    cases = [
        (cp.Problem(cp.Maximize(theta @ x + 1), [x <= 1]), "objective must be parameter @ x"),
        (cp.Problem(cp.Maximize(other @ x), [x <= 1]), "objective must be parameter @ x"),
        (cp.Problem(cp.Maximize(theta @ x), [theta @ x <= 1]), "only in the objective"),
        (cp.Problem(cp.Maximize(theta @ x + theta @ y), [x <= 1]), "exactly one 1-D"),
        (cp.Problem(cp.Maximize(theta @ x), [cp.norm(x) <= 1]), "affine equalities"),
        (cp.Problem(cp.Maximize(cp.sum(x)), [x <= 1]), "objective must be parameter @ x"),
    ]
    for problem, message in cases:
        with pytest.raises(ValueError, match=message):
            LinearProgram.from_cvxpy(problem, theta)
    z = cp.Variable(2, boolean=True)
    with pytest.raises(ValueError, match="boolean=True"):
        LinearProgram.from_cvxpy(cp.Problem(cp.Maximize(theta @ z), [z <= 1]), theta)
    with pytest.raises(ValueError, match="one entry per variable"):
        LinearProgram.from_cvxpy(cp.Problem(cp.Maximize(cp.Parameter(3) @ cp.Variable(3))),
                                 theta)
    with pytest.raises(TypeError, match="cvxpy.Problem"):
        LinearProgram.from_cvxpy("problem", theta)
