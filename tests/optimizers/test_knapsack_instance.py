"""Knapsack with a capacity and weights per instance: brute force, HiGHS, and row-alone solves."""

import itertools

import numpy as np
import pytest
import torch
from scipy.optimize import Bounds, LinearConstraint, milp

from skdfl.optimizers import Knapsack
from skdfl.optimizers import _knapsack, _knapsack_dp


def brute_force_value(theta, weights, capacity):
    """Best value over every subset; weights (n,) or (d, n), capacity scalar or (d,)."""
    weights = np.atleast_2d(weights)
    best = 0.0
    for bits in itertools.product((0, 1), repeat=weights.shape[1]):
        x = np.array(bits)
        if np.all(weights @ x <= capacity):
            best = max(best, float(theta @ x))
    return best


def highs_value(theta, weights, capacity):
    weights = np.atleast_2d(weights)
    result = milp(-theta, constraints=LinearConstraint(weights, ub=capacity),
                  integrality=np.ones(len(theta)), bounds=Bounds(0, 1))
    assert result.status == 0
    return -result.fun


def assert_optimal(x, theta, weights, capacity, oracle):
    assert np.isin(x, (0.0, 1.0)).all()
    for b in range(len(theta)):
        w = np.atleast_2d(weights[b])
        assert np.all(w @ x[b] <= capacity[b]), b
        assert theta[b] @ x[b] == pytest.approx(oracle(theta[b], weights[b], capacity[b]),
                                                rel=1e-9, abs=1e-12), b


@pytest.mark.parametrize("seed", range(4))
def test_per_row_capacity_and_weights_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, batch = 7, 12
    theta = rng.choice([-2.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.5], size=(batch, n))
    weights = rng.integers(0, 7, size=(batch, n))
    capacity = rng.integers(0, 25, size=batch)
    knap = Knapsack(weights[0], 10)
    shared = np.tile(weights[0], (batch, 1))
    assert_optimal(knap.solve(theta, capacity=capacity), theta, shared, capacity,
                   brute_force_value)
    assert_optimal(knap.solve(theta, weights=weights), theta, weights, np.full(batch, 10),
                   brute_force_value)
    assert_optimal(knap.solve(theta, capacity=capacity, weights=weights), theta, weights,
                   capacity, brute_force_value)


@pytest.mark.parametrize("weight_values", [[3, 5, 7], list(range(1, 40))])
def test_per_row_weights_match_highs_on_48_items(weight_values):
    # three values: one step per weight value; many: one step per item
    rng = np.random.default_rng(len(weight_values))
    batch = 6
    theta = rng.uniform(50, 300, size=(batch, 48))
    weights = rng.choice(weight_values, size=(batch, 48))
    capacity = rng.integers(60, 181, size=batch)
    x = Knapsack(weights[0], 120).solve(theta, capacity=capacity, weights=weights)
    assert_optimal(x, theta, weights, capacity, highs_value)


def test_per_row_capacity_matches_highs_on_the_energy_sizes():
    rng = np.random.default_rng(0)
    weights = rng.choice([3, 5, 7], size=48)
    theta = rng.uniform(50, 300, size=(8, 48))
    capacity = rng.integers(60, 181, size=8)
    x = Knapsack(weights, 120).solve(theta, capacity=capacity)
    assert_optimal(x, theta, np.tile(weights, (8, 1)), capacity, highs_value)


def test_each_row_is_solved_as_alone(monkeypatch):
    # the per-value steps give each row the decision of Knapsack(its weights, its capacity),
    # ties and all (one step per item may break ties otherwise)
    monkeypatch.setattr(_knapsack, "_ITEM_OPS", 10 ** 9)             # one step per value
    rng = np.random.default_rng(3)
    theta = rng.choice([0.0, 1.0, 2.0, 2.5], size=(30, 10))        # many ties
    weights = rng.choice([0, 2, 3], size=(30, 10))
    capacity = rng.integers(0, 20, size=30)
    x = Knapsack(weights[0], 5).solve(theta, capacity=capacity, weights=weights)
    for b in range(30):
        alone = Knapsack(weights[b], int(capacity[b])).solve(theta[b:b + 1])
        np.testing.assert_array_equal(x[b:b + 1], alone)


def test_capacity_per_row_equal_to_the_constructor_changes_nothing():
    rng = np.random.default_rng(4)
    weights = rng.choice([2, 3, 3, 4, 7], size=15)
    theta = rng.normal(size=(40, 15))
    knap = Knapsack(weights, 17)
    np.testing.assert_array_equal(knap.solve(theta, capacity=np.full(40, 17)),
                                  knap.solve(theta))


def test_capacity_beyond_the_total_weight_takes_every_positive_item():
    theta = np.array([[1.0, -2.0, 3.0], [2.0, 1.0, -1.0]])
    x = Knapsack([4, 5, 6], 3).solve(theta, capacity=[10 ** 15, 11], weights=[[4, 5, 6],
                                                                                [1, 10, 1]])
    np.testing.assert_array_equal(x, [[1, 0, 1], [1, 1, 0]])


@pytest.mark.parametrize("params", [
    {"capacity": "per row"}, {"weights": "per row"}, {"capacity": "per row",
                                                      "weights": "per row"}])
def test_passes_sorted_by_capacity_equal_one_pass(monkeypatch, params):
    rng = np.random.default_rng(5)
    theta = rng.normal(size=(50, 12))
    given = {"capacity": rng.integers(0, 40, size=50),
             "weights": rng.choice([1, 2, 5], size=(50, 12))}
    given = {name: given[name] for name in params}
    knap = Knapsack(rng.choice([1, 2, 5], size=12), 20)
    whole = knap.solve(theta, **given)
    monkeypatch.setattr(_knapsack_dp, "_PASS_ENTRIES", 64)          # a few rows per pass
    np.testing.assert_array_equal(knap.solve(theta, **given), whole)
    monkeypatch.setattr(_knapsack, "_CLASS_OPS", 10 ** 9)            # one step per item
    assert_optimal(knap.solve(theta, **given), theta,
                   given.get("weights", np.tile(knap.weights, (50, 1))),
                   given.get("capacity", np.full(50, 20)), highs_value)


def test_items_and_weight_values_agree():
    rng = np.random.default_rng(6)
    theta = rng.integers(-3, 9, size=(40, 20)).astype(float)        # exact sums
    weights = rng.choice([0, 1, 4, 6], size=(40, 20))
    capacity = rng.integers(0, 30, size=40)
    rooms = torch.minimum(torch.as_tensor(capacity), torch.as_tensor(weights.sum(1)))
    values = torch.as_tensor(theta)
    by_value = _knapsack_dp.solve_by_row_classes(values, torch.as_tensor(weights), rooms)
    by_item = _knapsack_dp.solve_by_items(values, torch.as_tensor(weights)[:, None],
                                          rooms[:, None])
    np.testing.assert_array_equal((by_value * values).sum(1), (by_item * values).sum(1))
    assert (by_item.numpy() * weights).sum(1).max() <= 30


def test_one_multiset_in_other_orders_is_the_row_classes_decision(monkeypatch):
    # Every row holds the same weights placed differently: the kernel of shared
    # weights on each row's items sorted by weight; with tied values it must pick
    # the very items the weight-value kernel picks, and be optimal.
    monkeypatch.setattr(_knapsack, "_ITEM_OPS", 10 ** 9)              # by weight value
    rng = np.random.default_rng(7)
    base = np.array([0, 2, 2, 3, 3, 3, 5, 1, 2, 3, 5, 2])
    weights = np.stack([rng.permutation(base) for _ in range(30)])
    theta = rng.integers(-1, 4, size=(30, 12)).astype(float)           # many ties
    capacity = rng.integers(0, 34, size=30)
    knap = Knapsack(base, 10)
    x = knap.solve(theta, weights=weights, capacity=capacity)
    assert len(knap._cache["multiset_classes"]) == 1                    # it went that way
    rooms = torch.minimum(torch.as_tensor(capacity), torch.as_tensor(weights.sum(1)))
    by_value = _knapsack_dp.solve_by_row_classes(torch.as_tensor(theta),
                                                 torch.as_tensor(weights), rooms)
    np.testing.assert_array_equal(x, by_value.numpy())
    assert_optimal(x, theta, weights, capacity, brute_force_value)
    # Rows alone, each with its own weights fixed, agree in value.
    for b in range(0, 30, 7):
        alone = Knapsack(weights[b], int(capacity[b])).solve(theta[b:b + 1])
        assert float(alone[0] @ theta[b]) == float(x[b] @ theta[b])


def test_objective_with_params_is_the_value():
    theta = np.array([[4.0, 5.0, 3.0], [1.0, 6.0, -2.0]])
    knap = Knapsack([3, 4, 2], 5)
    params = {"capacity": [4, 9], "weights": [[3, 4, 2], [6, 5, 1]]}
    x = knap.solve(theta, **params)
    np.testing.assert_array_equal(knap.objective(x, theta, **params), (x * theta).sum(1))
    with pytest.raises(ValueError, match="capacity must have shape"):
        knap.objective(x, theta, capacity=[1, 2, 3])


def test_torch_in_torch_out_and_float32():
    theta = torch.tensor([[4.0, 5.0, 3.0], [1.0, 6.0, -2.0]], dtype=torch.float32)
    x = Knapsack([3, 4, 2], 5).solve(theta, capacity=torch.tensor([4, 9]),
                                     weights=torch.tensor([[3, 4, 2], [6, 5, 1]]))
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
    assert x.tolist() == [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]


def test_an_empty_batch():
    assert Knapsack([1, 2], 2).solve(np.zeros((0, 2)), capacity=np.zeros(0)).shape == (0, 2)


@pytest.mark.parametrize("params, match", [
    ({"capacity": [3, 4, 5]}, r"capacity must have shape \(2,\)"),
    ({"capacity": [[3], [4]]}, r"capacity must have shape \(2,\)"),
    ({"capacity": [3, -1]}, "capacity must be >= 0; got -1 in row 1"),
    ({"capacity": [3.5, 2]}, "capacity must hold whole numbers; got 3.5 in row 0"),
    ({"capacity": [3, np.nan]}, "capacity must be finite; got nan in row 1"),
    ({"weights": [[1, 2, 3], [1, 2, 3]]}, r"weights must have shape \(2, 2\)"),
    ({"weights": [[1, 2], [1, -2]]}, "weights must be >= 0; got -2 in row 1"),
    ({"weights": [[1, 2], [1, 2.5]]}, "weights must hold whole numbers; got 2.5 in row 1"),
    ({"size": [1, 2]}, "'size' is not a per-instance parameter of Knapsack"),
])
def test_bad_per_row_values(params, match):
    with pytest.raises(ValueError, match=match):
        Knapsack([1, 2], 2).solve(np.ones((2, 2)), **params)


def test_too_large_a_table_names_capacity_and_the_first_bad_row():
    knap = Knapsack([4 * 10 ** 6, 5 * 10 ** 6, 6 * 10 ** 6], 100)
    with pytest.raises(ValueError, match=r"capacity must keep the dynamic program's table within "
                                         r"10000001 entries.*got capacity 12000000 with total "
                                         r"weight 15000000 in row 1 .*MixedIntegerProgram"):
        knap.solve(np.ones((3, 3)), capacity=[10, 12 * 10 ** 6, 13 * 10 ** 6])
    with pytest.raises(ValueError, match="in row 0"):
        Knapsack([1, 1, 1], 10 ** 8).solve(np.ones((1, 3)), weights=[[10 ** 7, 10 ** 7, 1]])


def test_cuda_matches_cpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rng = np.random.default_rng(7)
    theta = torch.as_tensor(rng.normal(size=(64, 20)))
    params = {"capacity": torch.as_tensor(rng.integers(0, 40, size=64)),
              "weights": torch.as_tensor(rng.choice([1, 3, 4], size=(64, 20)))}
    knap = Knapsack(np.arange(1, 21) % 7, 25)
    for given in ({"capacity": params["capacity"]}, params):
        on_gpu = knap.solve(theta.cuda(), **{k: v.cuda() for k, v in given.items()})
        torch.testing.assert_close(on_gpu.cpu(), knap.solve(theta, **given))


def test_pool_feasible_checks_each_row_against_every_decision():
    rng = np.random.default_rng(8)
    decisions = torch.as_tensor(rng.integers(0, 2, size=(9, 5)), dtype=torch.float64)
    for knap, params in (
            (Knapsack([1, 2, 3, 4, 5], 6), {"capacity": rng.integers(0, 12, size=4)}),
            (Knapsack([1, 2, 3, 4, 5], 6), {"weights": rng.integers(0, 5, size=(4, 5))}),
            (Knapsack([[1, 2, 3, 4, 5], [5, 4, 3, 2, 1]], [6, 6]),
             {"capacity": rng.integers(0, 12, size=(4, 2)),
              "weights": rng.integers(0, 5, size=(4, 2, 5))})):
        checked = knap.check_params(params, 4)
        feasible = knap.pool_feasible(decisions, **checked)
        assert feasible.shape == (4, 9) and feasible.dtype == torch.bool
        weights = np.broadcast_to(params.get("weights", knap.weights),
                                  (4, *np.shape(knap.weights)))
        capacity = np.broadcast_to(params.get("capacity", knap.capacity),
                                   (4, *np.shape(knap.capacity)))
        for b in range(4):
            for p in range(9):
                load = np.atleast_2d(weights[b]) @ decisions[p].numpy()
                assert bool(feasible[b, p]) == bool(np.all(load <= capacity[b]))
    assert Knapsack([1, 2], 2).pool_feasible(decisions[:, :2]) is None


def test_a_constructor_capacity_too_large_for_a_table_is_fine_when_overridden():
    knap = Knapsack([4 * 10 ** 6, 5 * 10 ** 6, 6 * 10 ** 6, 3], 12 * 10 ** 6)
    theta = np.array([[1.0, 2.0, 3.0, 4.0]])
    with pytest.raises(ValueError, match="capacity must be at most 10000000"):
        knap.solve(theta)
    np.testing.assert_array_equal(knap.solve(theta, capacity=[10]), [[0, 0, 0, 1]])
