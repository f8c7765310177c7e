"""Perturbation-gradient (PG) losses: values, Danskin gradients and their bounds."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skdfl.methods import PerturbationGradient
from skdfl.optimizers import KSubset, ShortestPath
from tests._oracles import central_difference

from ._training import assert_deterministic, assert_grid_search_runs, assert_lowers_regret
from .test_spo_blackbox import brute_force_k_subset

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def optimal_value(theta, k):
    """max_x theta @ x over k-subsets, by enumeration."""
    return (theta * brute_force_k_subset(theta, k)).sum(1)


def pg_loss(theta_hat, theta, sigma, finite_difference, optimizer):
    return PerturbationGradient(optimizer, sigma=sigma, finite_difference=finite_difference)(
        torch.as_tensor(theta_hat), torch.as_tensor(theta))


@pytest.mark.parametrize("finite_difference", ["backward", "central"])
@pytest.mark.parametrize("sigma", [0.3, 1.0])
def test_value_and_gradient_against_brute_force(finite_difference, sigma):
    rng = np.random.RandomState(0)
    theta, theta_hat = rng.normal(size=(6, 7)), rng.normal(size=(6, 7))
    if finite_difference == "central":
        ahead, width = theta_hat + sigma * theta, 2 * sigma
    else:
        ahead, width = theta_hat, sigma
    behind = theta_hat - sigma * theta
    # A maximization: minus the difference of the maximal values.
    expected = -(optimal_value(ahead, 3) - optimal_value(behind, 3)) / width
    t = torch.tensor(theta_hat, requires_grad=True)
    loss = pg_loss(t, theta, sigma, finite_difference, KSubset(k=3))
    assert loss.item() == pytest.approx(expected.mean(), rel=1e-12)
    loss.backward()
    danskin = -(brute_force_k_subset(ahead, 3) - brute_force_k_subset(behind, 3)) / width
    np.testing.assert_allclose(t.grad.numpy(), danskin / 6, rtol=1e-12)
    # The sampled loss is piecewise linear: a central difference is exact.
    fd = central_difference(
        lambda v: pg_loss(v, theta, sigma, finite_difference, KSubset(k=3)).item(), theta_hat)
    np.testing.assert_allclose(t.grad.numpy(), fd, atol=1e-6)
    assert np.abs(danskin).sum() > 0


@pytest.mark.parametrize("finite_difference", ["backward", "central"])
def test_minimization_uses_the_minimal_value(finite_difference):
    optimizer = ShortestPath(grid=(3, 3))
    rng = np.random.RandomState(1)
    theta = rng.uniform(0.5, 2.0, size=(5, 12))
    theta_hat = rng.uniform(0.5, 2.0, size=(5, 12))
    sigma = 0.8
    ahead = theta_hat + sigma * theta if finite_difference == "central" else theta_hat
    width = 2 * sigma if finite_difference == "central" else sigma
    behind = theta_hat - sigma * theta
    solve = lambda c: optimizer.solve(torch.as_tensor(c)).numpy()          # noqa: E731
    t = torch.tensor(theta_hat, requires_grad=True)
    loss = pg_loss(t, theta, sigma, finite_difference, optimizer)
    value = ((ahead * solve(ahead)).sum(1) - (behind * solve(behind)).sum(1)) / width
    assert loss.item() == pytest.approx(value.mean(), rel=1e-12)
    loss.backward()
    np.testing.assert_allclose(t.grad.numpy(), (solve(ahead) - solve(behind)) / width / 5,
                               rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, (2, 3, 6), elements=st.floats(-3, 3)),
       st.sampled_from([0.1, 0.5, 2.0]), st.integers(1, 5))
def test_backward_pg_bounds_the_decision_loss_and_the_central_one(pair, sigma, k):
    theta, theta_hat = pair
    optimizer = KSubset(k=k)
    backward = [pg_loss(theta_hat[i:i + 1], theta[i:i + 1], sigma, "backward", optimizer).item()
                for i in range(3)]
    central = [pg_loss(theta_hat[i:i + 1], theta[i:i + 1], sigma, "central", optimizer).item()
               for i in range(3)]
    # Convexity of the maximal value: its chord behind theta_hat is no steeper
    # than any subgradient there, which is no steeper than the chord ahead.
    decision_loss = -(theta * optimizer.solve(torch.as_tensor(theta_hat)).numpy()).sum(1)
    assert (np.array(backward) >= decision_loss - 1e-9).all()
    assert (np.array(central) <= np.array(backward) + 1e-9).all()


def test_small_steps_approach_the_decision_loss():
    rng = np.random.RandomState(2)
    theta, theta_hat = rng.normal(size=(20, 8)), rng.normal(size=(20, 8))
    decision_loss = -(theta * brute_force_k_subset(theta_hat, 3)).sum(1).mean()
    for form in ("backward", "central"):
        assert pg_loss(theta_hat, theta, 1e-6, form, KSubset(k=3)).item() == pytest.approx(
            decision_loss, abs=1e-5)


def test_losses_with_per_row_k_equal_row_by_row():
    rng = np.random.RandomState(3)
    theta = torch.as_tensor(rng.normal(size=(8, 6)))
    theta_hat = torch.as_tensor(rng.normal(size=(8, 6))).requires_grad_()
    k = rng.randint(1, 6, size=8)
    for form in ("backward", "central"):
        theta_hat.grad = None
        value = PerturbationGradient(KSubset(k=2), finite_difference=form)(theta_hat, theta, k=k)
        value.backward()
        values, grads = [], []
        for i in range(8):
            one = theta_hat[i:i + 1].detach().clone().requires_grad_()
            v = PerturbationGradient(KSubset(k=int(k[i])), finite_difference=form)(
                one, theta[i:i + 1])
            (v / 8).backward()
            values.append(v.item())
            grads.append(one.grad[0])
        assert value.item() == pytest.approx(np.mean(values), rel=1e-12)
        torch.testing.assert_close(theta_hat.grad, torch.stack(grads))


def test_nan_predictions_propagate():
    theta = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    theta_hat = torch.tensor([[1.0, float("nan"), 0.5], [1.0, 2.0, 3.0]])
    for form in ("backward", "central"):
        assert torch.isnan(PerturbationGradient(KSubset(k=1), finite_difference=form)(
            theta_hat, theta))


@pytest.mark.parametrize("params, match", [
    ({"sigma": 0.0}, "sigma must be > 0"),
    ({"finite_difference": "forward"}, "finite_difference must be one of"),
])
def test_parameter_errors(params, match):
    with pytest.raises(ValueError, match=match):
        PerturbationGradient(KSubset(k=1), **params)


def test_refuses_a_graph_with_a_cycle():
    cyclic = dict(edges=[(0, 1), (1, 2), (2, 0), (1, 3), (0, 3), (3, 2)], source=0, target=2)
    with pytest.raises(ValueError, match="method 'pg' solves at shifted"):
        PerturbationGradient(ShortestPath(**cyclic))


@pytest.mark.parametrize("finite_difference", ["central", "backward"])
def test_trains_searches_and_reproduces(finite_difference):
    assert_lowers_regret("pg", finite_difference=finite_difference)
    assert_grid_search_runs("pg", {"sigma": [0.5, 1.0]}, finite_difference=finite_difference)
    assert_deterministic("pg", finite_difference=finite_difference)


def test_the_estimator_checks_finite_difference():
    from ._training import regressor, shortest_paths
    X, C = shortest_paths()
    with pytest.raises(ValueError, match="finite_difference must be one of"):
        regressor("pg", finite_difference="forward").fit(X[:20], C[:20])
