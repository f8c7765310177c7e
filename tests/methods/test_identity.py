"""Negative identity (nid): exact decisions forward, minus the identity backward."""

import numpy as np
import pytest
import torch

from skdfl.methods import NegativeIdentity, NegativeIdentityRegret
from skdfl.metrics import regret
from skdfl.optimizers import KSubset, ShortestPath

from ._training import assert_deterministic, assert_grid_search_runs, assert_lowers_regret
from .test_spo_blackbox import brute_force_k_subset

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CYCLIC = dict(edges=[(0, 1), (1, 2), (2, 0), (1, 3), (0, 3), (3, 2)], source=0, target=2)


@pytest.mark.parametrize("optimizer, width", [(KSubset(k=3), 7),
                                              (ShortestPath(grid=(3, 4)), 17)])
def test_forward_is_exact_and_backward_is_minus_sign_times_identity(optimizer, width):
    rng = np.random.RandomState(0)
    theta_hat = torch.tensor(rng.normal(size=(5, width)), requires_grad=True)
    grad_out = torch.as_tensor(rng.normal(size=(5, width)))
    x = NegativeIdentity(optimizer, normalize=False)(theta_hat)
    torch.testing.assert_close(x.detach(), optimizer.solve(theta_hat.detach()))
    if isinstance(optimizer, KSubset):
        np.testing.assert_array_equal(x.detach().numpy(),
                                      brute_force_k_subset(theta_hat.detach().numpy(), 3))
    (x * grad_out).sum().backward()
    # A minimization (sign +1) returns -grad, a maximization (sign -1) +grad.
    torch.testing.assert_close(theta_hat.grad, -optimizer.sign * grad_out)


def test_normalized_backward_goes_through_the_sphere_projection():
    rng = np.random.RandomState(1)
    theta_hat = rng.normal(size=(4, 6)) * 3
    grad_out = rng.normal(size=(4, 6))
    t = torch.tensor(theta_hat, requires_grad=True)
    x = NegativeIdentity(KSubset(k=2))(t)
    # A positive scale changes no decision.
    np.testing.assert_array_equal(x.detach().numpy(), brute_force_k_subset(theta_hat, 2))
    (x * torch.as_tensor(grad_out)).sum().backward()
    # Jacobian of theta / ||theta||: (I - u u^T) / ||theta||, applied to +grad (maximize).
    norm = np.linalg.norm(theta_hat, axis=1, keepdims=True)
    u = theta_hat / norm
    expected = (grad_out - u * (u * grad_out).sum(1, keepdims=True)) / norm
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("optimizer, width", [(KSubset(k=2), 6), (ShortestPath(grid=(3, 3)), 12)])
@pytest.mark.parametrize("normalize", [False, True])
def test_regret_loss_value_and_gradient(optimizer, width, normalize):
    rng = np.random.RandomState(2)
    theta = rng.uniform(0.5, 2.0, size=(6, width))
    theta_hat = rng.uniform(0.5, 2.0, size=(6, width))
    t = torch.tensor(theta_hat, requires_grad=True)
    loss = NegativeIdentityRegret(optimizer, normalize=normalize)(t, torch.as_tensor(theta))
    assert loss.item() == pytest.approx(regret(theta, theta_hat, optimizer=optimizer,
                                               reduction="mean"))
    loss.backward()
    # dL/dx = sign * theta / B, and minus sign times that: -theta / B for either sense.
    expected = -theta / len(theta)
    if normalize:
        norm = np.linalg.norm(theta_hat, axis=1, keepdims=True)
        u = theta_hat / norm
        expected = (expected - u * (u * expected).sum(1, keepdims=True)) / norm
    np.testing.assert_allclose(t.grad.numpy(), expected, rtol=1e-10, atol=1e-15)


def test_a_gradient_step_turns_the_prediction_towards_the_truth():
    rng = np.random.RandomState(3)
    theta = torch.as_tensor(rng.uniform(0.5, 2.0, size=(10, 12)))
    theta_hat = torch.as_tensor(rng.uniform(0.5, 2.0, size=(10, 12))).requires_grad_()
    NegativeIdentityRegret(ShortestPath(grid=(3, 3)))(theta_hat, theta).backward()
    cosine = torch.nn.functional.cosine_similarity
    before = cosine(theta_hat.detach(), theta)
    after = cosine(theta_hat.detach() - 0.5 * theta_hat.grad, theta)
    assert bool((after > before).all())


def test_losses_with_per_row_k_equal_row_by_row():
    rng = np.random.RandomState(4)
    theta = torch.as_tensor(rng.normal(size=(8, 6)))
    theta_hat = torch.as_tensor(rng.normal(size=(8, 6))).requires_grad_()
    k = rng.randint(1, 6, size=8)
    value = NegativeIdentityRegret(KSubset(k=2))(theta_hat, theta, k=k)
    value.backward()
    values, grads = [], []
    for i in range(8):
        one = theta_hat[i:i + 1].detach().clone().requires_grad_()
        v = NegativeIdentityRegret(KSubset(k=int(k[i])))(one, theta[i:i + 1])
        (v / 8).backward()      # the batch loss is a mean: a row weighs 1/8
        values.append(v.item())
        grads.append(one.grad[0])
    assert value.item() == pytest.approx(np.mean(values), rel=1e-12)
    torch.testing.assert_close(theta_hat.grad, torch.stack(grads))


def test_nan_predictions_propagate():
    theta = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    theta_hat = torch.tensor([[1.0, float("nan"), 0.0], [1.0, 2.0, 3.0]], requires_grad=True)
    x = NegativeIdentity(KSubset(k=1))(theta_hat)
    assert torch.isnan(x[0]).all() and torch.isfinite(x[1]).all()
    assert torch.isnan(NegativeIdentityRegret(KSubset(k=1))(theta_hat, theta))


def test_refuses_what_it_cannot_train():
    with pytest.raises(ValueError, match="solves exactly only non-negative ones"):
        NegativeIdentityRegret(ShortestPath(**CYCLIC))
    with pytest.raises(TypeError, match="normalize must be True or False"):
        NegativeIdentity(KSubset(k=1), normalize="yes")


def test_trains_searches_and_reproduces():
    assert_lowers_regret("nid")
    assert_grid_search_runs("nid", {"learning_rate_init": [0.01, 0.05]})
    assert_deterministic("nid")


@pytest.mark.parametrize("normalize", [False, True])
def test_closed_form_regret_matches_autograd_through_the_layer(normalize):
    # The regret's values and gradients are computed in closed form; they
    # must equal autograd through the NegativeIdentity layer, for any
    # weighting of the instances (sample weights) and either sense.
    from skdfl.methods._base import DecisionRegret
    rng = np.random.RandomState(4)
    for optimizer, width in [(KSubset(k=2), 6), (ShortestPath(grid=(3, 3)), 12)]:
        theta = torch.as_tensor(rng.uniform(0.5, 2.0, size=(7, width)))
        x_true = optimizer.solve(theta)
        weights = torch.as_tensor(rng.uniform(0.0, 2.0, size=7))
        loss = NegativeIdentityRegret(optimizer, normalize=normalize)
        grads = []
        for instance_losses in (loss.instance_losses,
                                lambda *a: DecisionRegret.instance_losses(loss, *a)):
            t = torch.as_tensor(rng.normal(size=(7, width))).requires_grad_()
            t.data = torch.as_tensor(np.random.RandomState(5).normal(size=(7, width)))
            values = instance_losses(t, theta, x_true, optimizer)
            (values * weights).sum().backward()
            grads.append((values.detach(), t.grad))
        torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-14)
