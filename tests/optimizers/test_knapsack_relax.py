"""The knapsack's own relaxation against the generic LP relaxation, cvxpy and finite differences."""

import numpy as np
import pytest
import torch

from skdfl.optimizers import Knapsack, LinearProgram
from tests._oracles import central_difference


def generic(theta, gamma, weights, capacity):
    """The LinearProgram relaxation of one row (the QP kernel of skdfl.optimizers)."""
    lp = LinearProgram(A_ub=np.asarray(weights, dtype=float)[None], b_ub=[float(capacity)],
                       bounds=(0, 1), sense="maximize")
    return lp.relax(torch.as_tensor(theta, dtype=torch.float64)[None], gamma)[0]


def random_instances(seed, batch=6, n=8):
    rng = np.random.default_rng(seed)
    theta = rng.normal(scale=2.0, size=(batch, n))
    weights = rng.integers(0, 6, size=(batch, n))
    weights[:, 0] = np.maximum(weights[:, 0], 1)       # some weight in every row
    capacity = rng.integers(0, 20, size=batch)
    return theta, weights, capacity


@pytest.mark.parametrize("gamma", [0.05, 0.5, 3.0])
@pytest.mark.parametrize("seed", range(3))
def test_per_row_matches_the_generic_lp_relaxation(gamma, seed):
    theta, weights, capacity = random_instances(seed)
    x = Knapsack(weights[0], 7).relax(torch.as_tensor(theta), gamma, capacity=capacity,
                                      weights=weights)
    for b in range(len(theta)):
        torch.testing.assert_close(x[b], generic(theta[b], gamma, weights[b], capacity[b]),
                                   atol=1e-7, rtol=0)


def test_shared_weights_match_the_generic_lp_relaxation():
    theta, weights, capacity = random_instances(7)
    knap = Knapsack(weights[0], 9)
    for x, caps in ((knap.relax(torch.as_tensor(theta), 0.2), [9] * len(theta)),
                    (knap.relax(torch.as_tensor(theta), 0.2, capacity=capacity), capacity)):
        for b in range(len(theta)):
            torch.testing.assert_close(x[b], generic(theta[b], 0.2, weights[0], caps[b]),
                                       atol=1e-7, rtol=0)


def test_matches_cvxpy_and_is_feasible():
    cp = pytest.importorskip("cvxpy")
    theta, weights, capacity = random_instances(11, batch=3)
    gamma = 0.3
    x = Knapsack(weights[0], 5).relax(theta, gamma, capacity=capacity, weights=weights)
    assert isinstance(x, np.ndarray)
    for row, w, c, relaxed in zip(theta, weights, capacity, x):
        var = cp.Variable(len(row))
        cp.Problem(cp.Maximize(row @ var - gamma * cp.sum_squares(var)),
                   [w @ var <= c, var >= 0, var <= 1]).solve(solver=cp.CLARABEL)
        np.testing.assert_allclose(relaxed, var.value, atol=1e-4)
        assert w @ relaxed <= c + 1e-9 and relaxed.min() >= 0 and relaxed.max() <= 1

        def value(v, row=row):
            return row @ v - gamma * v @ v

        assert value(relaxed) >= value(var.value) - 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_gradient_matches_finite_differences(seed):
    theta, weights, capacity = random_instances(seed, batch=4, n=6)
    gamma = 0.4
    u = np.random.default_rng(seed + 100).normal(size=theta.shape)
    knap = Knapsack(weights[0], 4)

    def value(t):
        x = knap.relax(torch.as_tensor(t), gamma, capacity=capacity, weights=weights)
        return float((x.numpy() * u).sum())

    t = torch.tensor(theta, requires_grad=True)
    x = knap.relax(t, gamma, capacity=capacity, weights=weights)
    (x * torch.as_tensor(u)).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), central_difference(value, theta), atol=1e-6)


def test_gradient_matches_the_generic_lp_relaxation():
    theta, weights, capacity = random_instances(5, batch=3, n=7)
    gamma = 0.25
    u = torch.as_tensor(np.random.default_rng(0).normal(size=7))
    for b in range(3):
        t1 = torch.tensor(theta[b:b + 1], requires_grad=True)
        own = Knapsack(weights[b], int(capacity[b])).relax(t1, gamma)
        (own[0] @ u).backward()
        t2 = torch.tensor(theta[b], requires_grad=True)
        (generic(t2, gamma, weights[b], capacity[b]) @ u).backward()
        torch.testing.assert_close(t1.grad[0], t2.grad, atol=1e-7, rtol=0)


def test_binding_capacity_gradient_is_the_projection_on_its_face():
    # two free items sharing a binding capacity: dx/dtheta moves along w-orthogonal directions
    knap = Knapsack([1, 1, 5], 1)
    t = torch.tensor([[1.0, 0.6, -4.0]], dtype=torch.float64, requires_grad=True)
    x = knap.relax(t, 0.5)                                # z = (1, 0.6, -4): x = (0.7, 0.3, 0)
    torch.testing.assert_close(x.detach(), torch.tensor([[0.7, 0.3, 0.0]], dtype=torch.float64))
    x[0, 0].backward()
    torch.testing.assert_close(t.grad, torch.tensor([[0.5, -0.5, 0.0]], dtype=torch.float64))


def test_degenerate_instances():
    theta = torch.tensor([[2.0, 1.0, -1.0], [3.0, 3.0, 3.0], [0.5, 0.2, 4.0],
                          [1.0, 1.0, 1.0]], dtype=torch.float64)
    weights = torch.tensor([[1, 1, 1], [0, 0, 0], [2, 3, 0], [4, 4, 4]])
    capacity = torch.tensor([0, 0, 100, 6])
    x = Knapsack([1, 1, 1], 1).relax(theta, 1.0, capacity=capacity, weights=weights)
    expected = [[0.0, 0.0, 0.0],           # no room: nothing
                [1.0, 1.0, 1.0],           # weightless items: the box projection
                [0.25, 0.1, 1.0],          # room for all: the box projection
                [0.5, 0.5, 0.5]]           # equal shares of a binding capacity
    torch.testing.assert_close(x, torch.tensor(expected, dtype=torch.float64))


def test_dtype_and_gamma():
    theta = torch.tensor([[1.0, 2.0]], dtype=torch.float32)
    x = Knapsack([1, 1], 1).relax(theta, 0.5, capacity=[1])
    assert x.dtype == torch.float32
    with pytest.raises(ValueError, match="gamma must be > 0"):
        Knapsack([1, 1], 1).relax(theta, 0.0)
