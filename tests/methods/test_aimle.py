"""Adaptive I-MLE: the gradient against its formula, and the adaptation of its step."""

import math

import numpy as np
import pytest
import torch

from skdfl.methods import AdaptiveIMLE, AdaptiveImleRegret, gumbel_noise
from skdfl.optimizers import KSubset, ShortestPath

from ._training import (assert_deterministic, assert_grid_search_runs, assert_lowers_regret,
                        regressor, shortest_paths)
from .test_spo_blackbox import brute_force_k_subset

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def layer_gradient(layer, theta_hat, grad_out, **params):
    t = torch.tensor(theta_hat, requires_grad=True)
    z = layer(t, **params)
    (z * torch.as_tensor(grad_out)).sum().backward()
    return z.detach().numpy(), t.grad.numpy()


def steps(theta_hat, grad_out, lambd):
    """The paper's step, per instance: lambd * ||theta_hat_i|| / ||dL/dz_i||."""
    return lambd * np.linalg.norm(theta_hat, axis=1, keepdims=True) / np.linalg.norm(
        grad_out, axis=1, keepdims=True)


@pytest.mark.parametrize("lambd", [0.2, 1.0, 3.0])
def test_gradient_against_brute_force(lambd):
    rng = np.random.RandomState(0)
    theta_hat, grad_out = rng.normal(size=(6, 7)), rng.normal(size=(6, 7))
    step = steps(theta_hat, grad_out, lambd)
    # Maximization: the target moves against the loss gradient, theta - step * g.
    up = brute_force_k_subset(theta_hat + step * grad_out, 3)
    down = brute_force_k_subset(theta_hat - step * grad_out, 3)
    z, central = layer_gradient(AdaptiveIMLE(KSubset(k=3), lambd=lambd, noise=None),
                                theta_hat, grad_out)
    np.testing.assert_array_equal(z, brute_force_k_subset(theta_hat, 3))
    np.testing.assert_allclose(central, (up - down) / (2 * step), rtol=1e-12)
    _, backward = layer_gradient(AdaptiveIMLE(KSubset(k=3), lambd=lambd, noise=None,
                                              finite_difference="backward"),
                                 theta_hat, grad_out)
    np.testing.assert_allclose(backward, (z - down) / step, rtol=1e-12)


def test_gradient_of_a_minimization_mirrors():
    optimizer = ShortestPath(grid=(3, 4))
    rng = np.random.RandomState(1)
    theta_hat, grad_out = rng.uniform(0.5, 2, size=(5, 17)), rng.normal(size=(5, 17))
    step = steps(theta_hat, grad_out, 1.0)
    solve = lambda theta: optimizer.solve(torch.as_tensor(theta)).numpy()   # noqa: E731
    _, grad = layer_gradient(AdaptiveIMLE(optimizer, lambd=1.0, noise=None), theta_hat,
                             grad_out)
    # Minimization: the target raises the costs along the loss gradient.
    expected = (solve(theta_hat + step * grad_out) - solve(theta_hat - step * grad_out)) / (
        2 * step)
    np.testing.assert_allclose(grad, expected, rtol=1e-12)
    assert np.abs(grad).sum() > 0


def test_samples_share_their_noise_with_the_targets():
    optimizer, n_samples = KSubset(k=2), 4
    rng = np.random.RandomState(2)
    theta_hat, grad_out = rng.normal(size=(3, 6)), rng.normal(size=(3, 6))
    layer = AdaptiveIMLE(optimizer, lambd=0.5, noise="gumbel", n_samples=n_samples,
                         generator=torch.Generator().manual_seed(5))
    z, grad = layer_gradient(layer, theta_hat, grad_out)
    eps = gumbel_noise((n_samples, 3, 6), 1.0, torch.Generator().manual_seed(5),
                       dtype=torch.float64).numpy()
    step = steps(theta_hat, grad_out, 0.5)
    z_s = np.stack([brute_force_k_subset(theta_hat + e, 2) for e in eps])
    up = np.stack([brute_force_k_subset(theta_hat + e + step * grad_out, 2) for e in eps])
    down = np.stack([brute_force_k_subset(theta_hat + e - step * grad_out, 2) for e in eps])
    np.testing.assert_allclose(z, z_s.mean(0))
    np.testing.assert_allclose(grad, ((up - down) / (2 * step)).mean(0), rtol=1e-12)


def test_gradient_is_homogeneous_in_the_loss_and_scale_free_in_theta_hat():
    rng = np.random.RandomState(3)
    theta_hat, grad_out = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    base = layer_gradient(AdaptiveIMLE(KSubset(k=2), noise=None), theta_hat, grad_out)[1]
    louder = layer_gradient(AdaptiveIMLE(KSubset(k=2), noise=None), theta_hat,
                            7.0 * grad_out)[1]
    larger = layer_gradient(AdaptiveIMLE(KSubset(k=2), noise=None), 4.0 * theta_hat,
                            grad_out)[1]
    np.testing.assert_allclose(louder, 7.0 * base, rtol=1e-12)
    np.testing.assert_allclose(larger, base / 4.0, rtol=1e-12)
    assert np.abs(base).sum() > 0


def test_step_grows_while_gradients_are_sparse_and_shrinks_while_dense():
    rng = np.random.RandomState(4)
    theta_hat, grad_out = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
    sparse = AdaptiveIMLE(KSubset(k=3), lambd=1e-6, noise=None, adaptation_rate=0.1)
    dense = AdaptiveIMLE(KSubset(k=3), lambd=100.0, noise=None, adaptation_rate=0.1)
    for i in range(1, 4):
        assert np.abs(layer_gradient(sparse, theta_hat, grad_out)[1]).sum() == 0
        assert sparse.nonzeros_ == 0.0 and sparse.lambd_ == pytest.approx(1e-6 * math.exp(0.1 * i))
        layer_gradient(dense, theta_hat, grad_out)
        assert dense.nonzeros_ > 1.0 and dense.lambd_ == pytest.approx(100.0 * math.exp(-0.1 * i))


def test_running_mean_of_nonzeros_skips_rows_without_a_gradient():
    rng = np.random.RandomState(5)
    theta_hat, grad_out = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
    grad_out[2] = 0.0          # nothing to move towards: not counted
    layer = AdaptiveIMLE(KSubset(k=3), lambd=2.0, noise=None)
    counts = []
    for lambd in (2.0, 2.0 * math.exp(-0.05)):
        with np.errstate(divide="ignore", invalid="ignore"):    # row 2: no step
            step = steps(theta_hat, grad_out, lambd)
            change = (brute_force_k_subset(theta_hat + step * grad_out, 3)
                      != brute_force_k_subset(theta_hat - step * grad_out, 3))
        counts.append(np.delete(change.sum(1), 2).mean())
        grad = layer_gradient(layer, theta_hat, grad_out)[1]
        assert (grad[2] == 0).all()
    assert counts[0] > 1.0
    assert layer.nonzeros_ == pytest.approx(0.9 * counts[0] + 0.1 * counts[1])


def test_adaptation_settles_near_the_target_density():
    rng = np.random.RandomState(6)
    theta_hat, grad_out = rng.normal(size=(32, 10)), rng.normal(size=(32, 10))
    layer = AdaptiveIMLE(KSubset(k=4), lambd=50.0, noise="gumbel", target_nonzeros=1.0,
                         generator=torch.Generator().manual_seed(0))
    history = []
    for _ in range(150):
        layer_gradient(layer, theta_hat, grad_out)
        history.append(layer.nonzeros_)
    assert layer.lambd_ < 5.0
    assert 0.4 < np.mean(history[-50:]) < 2.0


def test_losses_with_per_row_k_equal_row_by_row():
    rng = np.random.RandomState(7)
    theta = torch.as_tensor(rng.normal(size=(8, 6)))
    theta_hat = torch.as_tensor(rng.normal(size=(8, 6))).requires_grad_()
    k = rng.randint(1, 6, size=8)

    def make(optimizer):
        return AdaptiveImleRegret(optimizer, lambd=2.0, noise=None)

    value = make(KSubset(k=2))(theta_hat, theta, k=k)
    value.backward()
    values, grads = [], []
    for i in range(8):
        one = theta_hat[i:i + 1].detach().clone().requires_grad_()
        v = make(KSubset(k=int(k[i])))(one, theta[i:i + 1])
        (v / 8).backward()      # the batch loss is a mean: a row weighs 1/8
        values.append(v.item())
        grads.append(one.grad[0])
    assert value.item() == pytest.approx(np.mean(values), rel=1e-12)
    torch.testing.assert_close(theta_hat.grad, torch.stack(grads))
    assert theta_hat.grad.abs().sum() > 0


def test_nan_predictions_propagate_and_do_not_count():
    layer = AdaptiveIMLE(KSubset(k=1), noise=None)
    theta_hat = torch.tensor([[1.0, float("nan"), 0.0], [1.0, 2.0, 3.0]], requires_grad=True)
    z = layer(theta_hat)
    assert torch.isnan(z[0]).all() and torch.isfinite(z[1]).all()
    (z * torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 5.0]])).sum().backward()
    assert torch.isnan(theta_hat.grad[0]).all() and torch.isfinite(theta_hat.grad[1]).all()
    assert layer.nonzeros_ == 2.0      # the finite row only


@pytest.mark.parametrize("params, error, match", [
    ({"finite_difference": "forward"}, ValueError, "finite_difference must be one of"),
    ({"target_nonzeros": 0.0}, ValueError, "target_nonzeros must be > 0"),
    ({"adaptation_rate": -0.1}, ValueError, "adaptation_rate must be >= 0"),
    ({"lambd": 0.0}, ValueError, "lambd must be > 0"),
])
def test_parameter_errors(params, error, match):
    with pytest.raises(error, match=match):
        AdaptiveIMLE(KSubset(k=1), **params)


def test_refuses_a_graph_with_a_cycle():
    cyclic = dict(edges=[(0, 1), (1, 2), (2, 0), (1, 3), (0, 3), (3, 2)], source=0, target=2)
    with pytest.raises(ValueError, match="method 'aimle' solves at shifted"):
        AdaptiveImleRegret(ShortestPath(**cyclic))


def test_trains_searches_and_reproduces():
    assert_lowers_regret("aimle")
    assert_grid_search_runs("aimle", {"lambd": [1.0, 10.0],
                                      "finite_difference": ["central", "backward"]})
    assert_deterministic("aimle")


def test_the_adapted_step_lives_in_the_fitted_loss():
    X, C = shortest_paths()
    est = regressor("aimle", max_iter=3, lambd=10.0).fit(X[:100], C[:100])
    layer = est.net_.criterion_.loss.layer
    assert layer.lambd_ < 10.0 and layer.nonzeros_ is not None
