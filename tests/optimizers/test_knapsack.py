"""Knapsack: exact DP against brute force and scipy's MILP solver."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from skdfl.optimizers import Knapsack


def brute_force_value(theta, weights, capacity):
    best = -np.inf
    for bits in itertools.product([0, 1], repeat=len(weights)):
        x = np.array(bits)
        if x @ weights <= capacity:
            best = max(best, float(theta @ x))
    return best


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_matches_brute_force(data):
    n = data.draw(st.integers(1, 8))
    weights = np.array(data.draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)))
    capacity = data.draw(st.integers(0, 20))
    theta = np.array(data.draw(st.lists(
        st.lists(st.sampled_from([-2.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.5]), min_size=n, max_size=n),
        min_size=1, max_size=4)))
    x = Knapsack(weights, capacity).solve(theta)
    assert set(np.unique(x)) <= {0.0, 1.0}
    assert np.all(x @ weights <= capacity)
    for row, decision in zip(theta, x):
        assert row @ decision == pytest.approx(brute_force_value(row, weights, capacity))


def test_matches_highs_milp_on_the_energy_sizes():
    rng = np.random.RandomState(0)
    weights = rng.randint(1, 8, size=48)
    theta = rng.uniform(50, 300, size=(5, 48))
    for capacity in (60, 120, 180):
        x = Knapsack(weights, capacity).solve(theta)
        for row, decision in zip(theta, x):
            result = milp(-row, constraints=LinearConstraint(weights[None], ub=capacity),
                          integrality=np.ones(48), bounds=Bounds(0, 1))
            assert row @ decision == pytest.approx(-result.fun, rel=1e-9)


def test_batch_in_several_passes_equals_one_pass(monkeypatch):
    from skdfl.optimizers import _knapsack_dp
    rng = np.random.default_rng(1)
    weights = rng.choice([2, 3, 3, 3, 4, 7, 7], size=20)      # classes of one and of several
    theta = rng.normal(size=(50, 20))
    whole = Knapsack(weights, 25).solve(theta)
    monkeypatch.setattr(_knapsack_dp, "_PASS_ENTRIES", 3 * 26)    # 3 rows per pass
    np.testing.assert_array_equal(Knapsack(weights, 25).solve(theta), whole)


def test_equal_weights_take_the_most_valuable_positive_items():
    theta = np.array([[3.0, -1.0, 5.0, 4.0, 0.5], [-1.0, -2.0, 0.0, 0.5, -3.0]])
    np.testing.assert_array_equal(Knapsack([2] * 5, 7).solve(theta),
                                  [[1, 0, 1, 1, 0], [0, 0, 0, 1, 0]])


def test_capacity_beyond_the_total_weight_takes_every_positive_item():
    theta = np.array([[1.0, -2.0, 3.0]])
    np.testing.assert_array_equal(Knapsack([4, 5, 6], 10 ** 15).solve(theta), [[1, 0, 1]])


def test_too_large_a_table_is_a_clear_error():
    with pytest.raises(ValueError, match="capacity must be at most 10000000 weight units.*"
                       "MixedIntegerProgram"):
        Knapsack([4 * 10 ** 6, 5 * 10 ** 6, 6 * 10 ** 6], 12 * 10 ** 6).solve(np.ones(3))


def test_degenerate_cases():
    theta = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(Knapsack([1, 1, 1], 0).solve(theta), [[0, 0, 0]])
    np.testing.assert_array_equal(Knapsack([1, 1, 1], 3).solve(theta), [[1, 1, 1]])
    np.testing.assert_array_equal(Knapsack([0, 5, 0], 1).solve(-theta), [[0, 0, 0]])
    np.testing.assert_array_equal(Knapsack([0, 5, 0], 1).solve(theta), [[1, 0, 1]])
    np.testing.assert_array_equal(Knapsack([9, 9, 1], 5).solve(theta), [[0, 0, 1]])


def test_torch_in_torch_out_and_float32():
    theta = torch.tensor([[4.0, 5.0, 3.0]], dtype=torch.float32)
    x = Knapsack([3, 4, 2], 5).solve(theta)
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
    assert x.tolist() == [[1.0, 0.0, 1.0]]


@pytest.mark.parametrize("weights, capacity, error, match", [
    ([1.5, 2], 3, ValueError, "weights must be integers"),
    ([-1, 2], 3, ValueError, "weights must be non-negative"),
    ([[[1, 2]]], 3, ValueError, "weights must be a non-empty 1-D array"),
    ([], 3, ValueError, "weights must be a non-empty 1-D array"),
    ([[1, 2]], 3, ValueError, "capacity must be a sequence of n_dims=1"),
    ([1, 2], [3], ValueError, "capacity must be one integer for 1-D weights"),
    ([1, 2], -1, ValueError, "capacity must be >= 0"),
    ([1, 2], 2.5, TypeError, "capacity must be an integer"),
])
def test_bad_parameters(weights, capacity, error, match):
    with pytest.raises(error, match=match):
        Knapsack(weights, capacity).solve(np.ones((1, 2)))


def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    theta = torch.rand(64, 20, dtype=torch.float64)
    knap = Knapsack(np.arange(1, 21) % 7, 25)
    torch.testing.assert_close(knap.solve(theta.cuda()).cpu(), knap.solve(theta))


def test_relaxation_through_the_lp_form_matches_cvxpy():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.RandomState(3)
    weights, capacity, gamma = rng.randint(1, 6, size=7), 9, 0.2
    theta = rng.normal(size=(3, 7))
    x = Knapsack(weights, capacity).relax(torch.as_tensor(theta), gamma).numpy()
    for row, relaxed in zip(theta, x):
        var = cp.Variable(7)
        cp.Problem(cp.Maximize(row @ var - gamma * cp.sum_squares(var)),
                   [weights @ var <= capacity, var >= 0, var <= 1]).solve()

        def value(v, row=row):
            return row @ v - gamma * v @ v

        # feasible, at least as good as the interior-point answer, and close to it
        assert weights @ relaxed <= capacity + 1e-9 and relaxed.min() >= 0
        assert relaxed.max() <= 1
        assert value(relaxed) >= value(var.value) - 1e-9
        np.testing.assert_allclose(relaxed, var.value, atol=1e-3)
        if weights @ relaxed < capacity - 1e-6:  # capacity slack: the box projection
            np.testing.assert_allclose(relaxed, np.clip(row / (2 * gamma), 0, 1), atol=1e-9)
