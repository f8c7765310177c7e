"""SPO+ and blackbox differentiation against finite differences and brute force."""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skdfl.methods import BlackboxDifferentiation, BlackboxRegret, SPOPlus
from skdfl.metrics import regret
from skdfl.optimizers import KSubset, ShortestPath
from tests._oracles import central_difference


def brute_force_k_subset(theta, k):
    """Best k-subset of each row by enumeration: the independent oracle."""
    n = theta.shape[1]
    subsets = np.array([[1.0 if i in c else 0.0 for i in range(n)]
                        for c in itertools.combinations(range(n), k)])
    best = np.argmax(theta @ subsets.T, axis=1)
    return subsets[best]


@pytest.mark.parametrize("optimizer, width", [(ShortestPath(grid=(3, 3)), 12),
                                              (KSubset(k=2), 6)])
def test_spo_plus_gradient_matches_finite_differences(optimizer, width):
    rng = np.random.RandomState(0)
    theta = rng.uniform(0.5, 2.0, size=(4, width))
    theta_hat = rng.uniform(0.5, 2.0, size=(4, width))
    loss = SPOPlus(optimizer)

    def value(t):
        return float(loss(torch.as_tensor(t), torch.as_tensor(theta))) * len(t)

    t = torch.tensor(theta_hat, requires_grad=True)
    (loss(t, torch.as_tensor(theta)) * len(theta_hat)).backward()
    np.testing.assert_allclose(t.grad.numpy(), central_difference(value, theta_hat),
                               atol=1e-5)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, (3, 2, 6), elements=st.floats(-3, 3)))
def test_spo_plus_bounds_regret_and_vanishes_at_truth(pair):
    theta, theta_hat = pair[0], pair[1]
    for optimizer in (KSubset(k=2), KSubset(k=5)):
        spo = float(SPOPlus(optimizer)(torch.as_tensor(theta_hat), torch.as_tensor(theta)))
        mean_regret = regret(theta, theta_hat, optimizer=optimizer, reduction="mean")
        assert spo >= mean_regret - 1e-9
        assert float(SPOPlus(optimizer)(torch.as_tensor(theta),
                                        torch.as_tensor(theta))) == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("lambd", [0.5, 3.0])
def test_blackbox_gradient_against_brute_force(lambd, normalize):
    rng = np.random.RandomState(1)
    theta_hat = rng.normal(size=(5, 6))
    grad_out = rng.normal(size=(5, 6))
    t = torch.tensor(theta_hat, requires_grad=True)
    x = BlackboxDifferentiation(KSubset(k=3), lambd=lambd, normalize=normalize)(t)
    np.testing.assert_array_equal(x.detach().numpy(), brute_force_k_subset(theta_hat, 3))
    (x * torch.as_tensor(grad_out)).sum().backward()
    # Maximization: perturb against the loss gradient, difference / lambd;
    # normalized, from theta_hat scaled to a root mean square of 1, and the
    # difference taken back through that scaling.
    norms = np.linalg.norm(theta_hat, axis=1, keepdims=True)
    start = theta_hat * np.sqrt(6) / norms if normalize else theta_hat
    step = (brute_force_k_subset(theta_hat, 3)
            - brute_force_k_subset(start - lambd * grad_out, 3)) / lambd
    if normalize:
        unit = theta_hat / norms
        step = np.sqrt(6) * (step - (step * unit).sum(1, keepdims=True) * unit) / norms
    np.testing.assert_allclose(t.grad.numpy(), step, atol=1e-12)
    assert np.abs(step).sum() > 0


@pytest.mark.parametrize("optimizer, width", [(KSubset(k=3), 8), (ShortestPath(grid=(3, 4)), 17)])
def test_normalized_blackbox_gradient_cannot_shrink_the_predictions(optimizer, width):
    # The regret's blackbox step towards a better decision has a non-positive
    # inner product with theta_hat (the predicted decision was optimal for it):
    # gradient descent shrinks the predictions. Normalized, the gradient is
    # orthogonal to theta_hat and scales as 1 / scale, like the decisions' map.
    rng = np.random.RandomState(3)
    theta = torch.as_tensor(rng.uniform(0.2, 2.0, size=(40, width)))
    theta_hat = torch.as_tensor(rng.uniform(0.2, 2.0, size=(40, width)))

    def gradient(normalize, scale=1.0):
        t = (scale * theta_hat).requires_grad_()
        BlackboxRegret(optimizer, lambd=40.0, normalize=normalize)(t, theta).backward()
        return t.grad

    descent = -gradient(False)
    radial = (descent * theta_hat).sum(1)
    assert bool((radial <= 1e-12).all()) and bool((radial < -1e-6).any())
    normalized = gradient(True)
    assert normalized.abs().sum() > 0
    torch.testing.assert_close((normalized * theta_hat).sum(1),
                               torch.zeros(40, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(gradient(True, scale=0.01), normalized / 0.01)


def test_blackbox_step_lowers_the_regret_loss():
    rng = np.random.RandomState(2)
    theta = torch.as_tensor(rng.uniform(0.5, 2.0, size=(8, 12)))
    theta_hat = torch.as_tensor(rng.uniform(0.5, 2.0, size=(8, 12))).requires_grad_()
    # The loss averages over 8 instances: lambd must be large enough for the
    # perturbation lambd * dL/dx to change the decisions.
    loss = BlackboxRegret(ShortestPath(grid=(3, 3)), lambd=20.0)
    before = loss(theta_hat, theta)
    before.backward()
    with torch.no_grad():
        after = [float(loss(theta_hat - step * theta_hat.grad, theta))
                 for step in (5.0, 10.0, 20.0, 40.0)]
    assert theta_hat.grad.abs().sum() > 0
    assert min(after) < float(before.detach())


def test_linear_methods_refuse_nonlinear_optimizers():
    class Nonlinear(KSubset):
        is_linear = False

    with pytest.raises(ValueError, match="'dbb' needs a linear optimizer"):
        BlackboxDifferentiation(Nonlinear(k=1))
    with pytest.raises(ValueError, match="'spo\\+' needs a linear optimizer"):
        SPOPlus(Nonlinear(k=1))
