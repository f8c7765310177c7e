"""Multi-dimensional knapsack: weights (n_dims, n_items), a capacity per dimension."""

import inspect

import numpy as np
import pytest
import torch

from skdfl.optimizers import Knapsack, LinearProgram
from skdfl.optimizers import _knapsack, _knapsack_dp

from .test_knapsack_instance import assert_optimal, brute_force_value, highs_value


@pytest.mark.parametrize("n_dims", [1, 2, 3])
def test_matches_brute_force(n_dims):
    rng = np.random.default_rng(n_dims)
    n, batch = 7, 10
    theta = rng.choice([-1.0, 0.0, 0.5, 1.0, 2.0, 3.5], size=(batch, n))
    weights = rng.integers(0, 5, size=(batch, n_dims, n))
    capacity = rng.integers(0, 12, size=(batch, n_dims))
    knap = Knapsack(weights[0], capacity[0])
    assert_optimal(knap.solve(theta), theta, np.repeat(weights[:1], batch, 0),
                   np.repeat(capacity[:1], batch, 0), brute_force_value)
    assert_optimal(knap.solve(theta, capacity=capacity), theta,
                   np.repeat(weights[:1], batch, 0), capacity, brute_force_value)
    assert_optimal(knap.solve(theta, capacity=capacity, weights=weights), theta, weights,
                   capacity, brute_force_value)
    assert_optimal(knap.solve(theta, weights=weights), theta, weights,
                   np.repeat(capacity[:1], batch, 0), brute_force_value)


def test_matches_highs_on_36_items():
    rng = np.random.default_rng(0)
    theta = rng.uniform(1, 100, size=(5, 36))
    weights = rng.integers(1, 8, size=(5, 2, 36))
    capacity = rng.integers(30, 70, size=(5, 2))
    knap = Knapsack(weights[0], capacity[0])
    assert_optimal(knap.solve(theta, capacity=capacity, weights=weights), theta, weights,
                   capacity, highs_value)


def test_one_dimension_as_2d_equals_the_1d_knapsack():
    rng = np.random.default_rng(1)
    theta = rng.normal(size=(20, 9))
    weights = rng.integers(0, 6, size=9)
    capacity = rng.integers(0, 20, size=20)
    flat, stacked = Knapsack(weights, 11), Knapsack(weights[None], [11])
    for x, y in ((flat.solve(theta), stacked.solve(theta)),
                 (flat.solve(theta, capacity=capacity),
                  stacked.solve(theta, capacity=capacity[:, None]))):
        np.testing.assert_allclose(flat.objective(x, theta), stacked.objective(y, theta),
                                   rtol=1e-12, atol=1e-12)


def test_rows_whose_tables_differ_share_no_oversized_table(monkeypatch):
    # each row's own table fits; their product per dimension would not
    monkeypatch.setattr(_knapsack, "MAX_TABLE_CAPACITY", 100)
    monkeypatch.setattr(_knapsack_dp, "_PASS_ENTRIES", 90)
    theta = np.array([[3.0, 2.0, 1.0, 4.0]] * 4)
    weights = np.array([[[10, 20, 5, 40], [0, 0, 1, 0]], [[0, 1, 0, 1], [10, 20, 5, 40]]] * 2)
    capacity = np.array([[40, 1], [1, 40]] * 2)
    x = Knapsack(weights[0], [1, 1]).solve(theta, capacity=capacity, weights=weights)
    assert_optimal(x, theta, weights, capacity, brute_force_value)


def test_passes_equal_one_pass(monkeypatch):
    rng = np.random.default_rng(2)
    theta = rng.normal(size=(30, 8))
    weights = rng.integers(0, 4, size=(30, 2, 8))
    capacity = rng.integers(0, 9, size=(30, 2))
    knap = Knapsack(weights[0], [5, 5])
    whole = [knap.solve(theta, capacity=capacity), knap.solve(theta, weights=weights),
             knap.solve(theta)]
    monkeypatch.setattr(_knapsack_dp, "_PASS_ENTRIES", 150)
    for x, y in zip(whole, [knap.solve(theta, capacity=capacity),
                            knap.solve(theta, weights=weights), knap.solve(theta)]):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("n_dims", [2, 3])
def test_shared_weights_kernel_equals_the_per_row_kernel(n_dims):
    # Two implementations of the same item-by-item program (strided views of
    # one table; a gather per row): the same decisions bit for bit, ties,
    # zero weights and items too heavy in one dimension included.
    rng = np.random.default_rng(10 + n_dims)
    theta = rng.choice([-1.0, 0.0, 0.5, 1.0, 2.0], size=(60, 12))
    theta[:20] = rng.normal(size=(20, 12))
    weights = rng.integers(0, 5, size=(n_dims, 12))
    weights[0, :2] = 0
    weights[-1, 2] = 30                                   # never fits in the last dimension
    capacity = [9, 6, 4][:n_dims]
    knap = Knapsack(weights, capacity)
    rooms = rng.integers(0, 9, size=(60, n_dims))
    for params in ({}, {"capacity": rooms}):
        x = knap.solve(theta, **params)
        per_row = knap.solve(theta, weights=np.repeat(weights[None], 60, 0), **params)
        np.testing.assert_array_equal(x, per_row)
        assert not x[:, 2].any()
    assert_optimal(knap.solve(theta[:8]), theta[:8], np.repeat(weights[None], 8, 0),
                   np.repeat([capacity], 8, 0), brute_force_value)


def test_lp_form_has_a_row_per_dimension():
    lp = Knapsack([[3, 4, 2], [1, 1, 4]], [5, 2]).lp_form()
    assert isinstance(lp, LinearProgram)
    np.testing.assert_array_equal(lp.A_ub, [[3, 4, 2], [1, 1, 4]])
    np.testing.assert_array_equal(lp.b_ub, [5, 2])
    theta = np.array([[4.0, 5.0, 3.0]])
    relaxed_optimum = lp.objective(lp.solve(theta), theta)
    exact = Knapsack([[3, 4, 2], [1, 1, 4]], [5, 2])
    assert relaxed_optimum >= exact.objective(exact.solve(theta), theta)


def test_relaxation_through_the_lp_matches_cvxpy():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(3)
    weights, capacity, gamma = rng.integers(1, 6, size=(2, 6)), np.array([8, 6]), 0.3
    theta = rng.normal(size=(2, 6))
    x = Knapsack(weights, capacity).relax(torch.as_tensor(theta), gamma).numpy()
    for row, relaxed in zip(theta, x):
        var = cp.Variable(6)
        cp.Problem(cp.Maximize(row @ var - gamma * cp.sum_squares(var)),
                   [weights @ var <= capacity, var >= 0, var <= 1]).solve()
        np.testing.assert_allclose(relaxed, var.value, atol=1e-4)


def test_relaxation_with_a_capacity_per_row():
    if "b_ub" not in inspect.signature(LinearProgram._relax).parameters:
        pytest.skip("LinearProgram._relax takes no per-instance b_ub on this branch")
    rng = np.random.default_rng(4)
    weights, gamma = rng.integers(1, 6, size=(2, 6)), 0.3
    theta = rng.normal(size=(3, 6))
    capacity = rng.integers(2, 12, size=(3, 2))
    x = Knapsack(weights, [5, 5]).relax(torch.as_tensor(theta), gamma, capacity=capacity)
    for b in range(3):
        alone = Knapsack(weights, capacity[b]).relax(torch.as_tensor(theta[b:b + 1]), gamma)
        torch.testing.assert_close(x[b:b + 1], alone, atol=1e-7, rtol=0)


def test_relaxation_refuses_weights_per_row():
    knap = Knapsack([[1, 2], [2, 1]], [2, 2])
    with pytest.raises(ValueError, match="weights per instance change the matrix"):
        knap.relax(torch.ones(2, 2), 0.5, weights=np.ones((2, 2, 2)))


def test_too_large_a_table_points_to_mixed_integer_programming():
    knap = Knapsack(np.full((2, 4), 10 ** 4), [4000, 4000])
    with pytest.raises(ValueError, match=r"table would hold 1\.601e\+07 entries.*capacity="
                                         r"\[4000, 4000\].*MixedIntegerProgram"):
        knap.solve(np.ones((1, 4)))
    with pytest.raises(ValueError, match=r"capacity must keep the dynamic program's table "
                                         r"within 10000001 entries.*got capacity \[4000, "
                                         r"4000\] with total weight \[40000, 40000\] in row 1"):
        knap.solve(np.ones((2, 4)), capacity=[[10, 10], [4000, 4000]])


@pytest.mark.parametrize("weights, capacity, match", [
    ([[1, 2], [3, 4]], 5, r"capacity must be a sequence of n_dims=2 non-negative integers"),
    ([[1, 2], [3, 4]], [5, 6, 7], r"capacity must be a sequence of n_dims=2"),
    ([[1, 2], [3, 4]], [5, -1], r"capacity must be a sequence of n_dims=2.*got \[5, -1\]"),
    ([[1, 2], [3, 4]], [5, 1.5], r"capacity must be a sequence of n_dims=2.*got \[5.0, 1.5\]"),
    ([[1, 2], [3, -4]], [5, 5], "weights must be non-negative"),
])
def test_bad_parameters(weights, capacity, match):
    with pytest.raises(ValueError, match=match):
        Knapsack(weights, capacity).solve(np.ones((1, 2)))


@pytest.mark.parametrize("params, match", [
    ({"capacity": [5, 6]}, r"capacity must have shape \(2, 2\)"),
    ({"capacity": [[5, 6], [5, -6]]}, "capacity must be >= 0; got -6 in row 1"),
    ({"weights": [[1, 2], [3, 4]]}, r"weights must have shape \(2, 2, 2\)"),
    ({"weights": [[[1, 2], [3, 4]], [[1, 2], [3, 4.5]]]},
     "weights must hold whole numbers; got 4.5 in row 1"),
])
def test_bad_per_row_values(params, match):
    with pytest.raises(ValueError, match=match):
        Knapsack([[1, 2], [3, 4]], [5, 5]).solve(np.ones((2, 2)), **params)
