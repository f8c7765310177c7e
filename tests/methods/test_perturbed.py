"""Perturbed optimizers (dpo, dpo-mul) and the multiplicative Fenchel-Young loss (fy-mul).

Oracles: the exact choice probabilities of a 3-item 1-subset under Gaussian
noise (one-dimensional numerical integration) and of a two-path graph
(closed form), the estimators' formulas recomputed sample by sample with
the same noise, and finite differences.
"""

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from skdfl import DecisionFocusedRegressor
from skdfl.methods import PerturbedFenchelYoung, PerturbedOptimizer, PerturbedRegret
from skdfl.optimizers import KSubset, ShortestPath
from tests._oracles import central_difference

from ._training import assert_deterministic, assert_grid_search_runs, assert_lowers_regret

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

CYCLIC = dict(edges=[(0, 1), (1, 2), (2, 0), (1, 3), (0, 3), (3, 2)], source=0, target=2)


def choice_probabilities(theta, sigma):
    """P(item i is the largest of theta + sigma Z), by integrating over Z_i."""
    theta = np.asarray(theta, dtype=float)

    def p(i):
        others = np.delete(theta, i)
        f = lambda z: stats.norm.pdf(z) * np.prod(                          # noqa: E731
            stats.norm.cdf((theta[i] - others) / sigma + z))
        return integrate.quad(f, -12, 12, epsabs=1e-12)[0]

    return np.array([p(i) for i in range(len(theta))])


def exact_jacobian(function, theta, eps=1e-5):
    """d function(theta)_i / d theta_j by central differences of an exact function."""
    return np.stack([central_difference(lambda t: function(t)[i], np.asarray(theta), eps)
                     for i in range(len(theta))])


def monte_carlo(theta, sigma, multiplicative, n_samples=200000, seed=0, optimizer=None):
    """The layer's expected decision and its Jacobian (row i: the gradient of y_i)."""
    optimizer = optimizer or KSubset(k=1, n_items=len(theta))
    rows, y = [], None
    for i in range(len(theta)):
        layer = PerturbedOptimizer(optimizer, sigma=sigma, n_samples=n_samples,
                                   multiplicative=multiplicative,
                                   generator=torch.Generator().manual_seed(seed))
        t = torch.tensor(np.array([theta], dtype=float), requires_grad=True)
        out = layer(t)
        out[0, i].backward()
        y = out.detach().numpy()[0]
        rows.append(t.grad.numpy()[0])
    return y, np.stack(rows)


@pytest.mark.parametrize("theta, sigma", [([0.3, 0.0, -0.4], 1.0), ([1.0, 0.8, 0.2], 0.5)])
def test_expected_decision_and_jacobian_of_a_1_subset_are_exact(theta, sigma):
    y, jacobian = monte_carlo(theta, sigma, multiplicative=False)
    np.testing.assert_allclose(y, choice_probabilities(theta, sigma), atol=6e-3)
    expected = exact_jacobian(lambda t: choice_probabilities(t, sigma), theta)
    np.testing.assert_allclose(jacobian, expected, atol=0.015)
    assert np.abs(expected).max() > 0.1


def test_multiplicative_noise_is_additive_noise_on_the_log_scale():
    theta, sigma = np.array([1.5, 1.0, 0.6]), 0.5
    # theta_i exp(sigma Z_i - sigma^2 / 2) is largest where log theta_i + sigma Z_i is.
    exact = lambda t: choice_probabilities(np.log(t), sigma)                 # noqa: E731
    y, jacobian = monte_carlo(theta, sigma, multiplicative=True)
    np.testing.assert_allclose(y, exact(theta), atol=6e-3)
    np.testing.assert_allclose(jacobian, exact_jacobian(exact, theta), atol=0.02)


def test_two_path_graph_a_minimization_matches_the_closed_form():
    # grid (2, 2): path {0, 2} or path {1, 3}; with additive noise the first
    # is shorter with probability Phi((t1 + t3 - t0 - t2) / (2 sigma)).
    theta, sigma = np.array([1.0, 0.7, 0.6, 1.2]), 0.8
    optimizer = ShortestPath(grid=(2, 2))
    y, jacobian = monte_carlo(theta, sigma, multiplicative=False, optimizer=optimizer)

    def exact(t):
        p = stats.norm.cdf((t[1] + t[3] - t[0] - t[2]) / (2 * sigma))
        return np.array([p, 1 - p, p, 1 - p])

    np.testing.assert_allclose(y, exact(theta), atol=6e-3)
    np.testing.assert_allclose(jacobian, exact_jacobian(exact, theta), atol=0.015)


@pytest.mark.parametrize("n_samples", [1, 5])
@pytest.mark.parametrize("multiplicative", [False, True])
@pytest.mark.parametrize("optimizer, width", [(KSubset(k=2), 6), (ShortestPath(grid=(3, 3)), 12)])
def test_backward_follows_the_formula_with_the_same_noise(optimizer, width, multiplicative,
                                                          n_samples):
    rng = np.random.RandomState(0)
    theta_hat = torch.as_tensor(rng.uniform(0.5, 2.0, size=(4, width)))
    grad_out = torch.as_tensor(rng.normal(size=(4, width)))
    sigma = 0.7
    layer = PerturbedOptimizer(optimizer, sigma=sigma, n_samples=n_samples,
                               multiplicative=multiplicative,
                               generator=torch.Generator().manual_seed(3))
    t = theta_hat.clone().requires_grad_()
    y = layer(t)
    (y * grad_out).sum().backward()
    noise = torch.randn((n_samples, 4, width), generator=torch.Generator().manual_seed(3),
                        dtype=torch.float64)
    perturbed = (theta_hat * torch.exp(sigma * noise - sigma ** 2 / 2) if multiplicative
                 else theta_hat + sigma * noise)
    z = torch.stack([optimizer.solve(p) for p in perturbed])
    # E[z Z^T] / sigma with a baseline independent of each sample's noise
    # (zero-mean Z): the other samples' mean, or for one sample the
    # unperturbed decision.
    baseline = ((z.sum(0) - z) / (n_samples - 1) if n_samples > 1
                else optimizer.solve(theta_hat))
    reward = ((z - baseline) * grad_out).sum(-1, keepdim=True)
    expected = (reward * noise).mean(0) / sigma
    if multiplicative:
        expected = expected / theta_hat
    torch.testing.assert_close(y.detach(), z.mean(0))
    torch.testing.assert_close(t.grad, expected)
    assert expected.abs().sum() > 0


@pytest.mark.parametrize("multiplicative", [False, True])
def test_regret_of_the_expected_decision(multiplicative):
    optimizer = ShortestPath(grid=(3, 3))
    rng = np.random.RandomState(1)
    theta = torch.as_tensor(rng.uniform(0.5, 2.0, size=(5, 12)))
    theta_hat = torch.as_tensor(rng.uniform(0.5, 2.0, size=(5, 12))).requires_grad_()
    params = dict(sigma=0.5, n_samples=6, multiplicative=multiplicative)
    loss = PerturbedRegret(optimizer, generator=torch.Generator().manual_seed(2), **params)
    assert loss.method_name == ("dpo-mul" if multiplicative else "dpo")
    value = loss(theta_hat, theta)
    value.backward()
    t = theta_hat.detach().clone().requires_grad_()
    y = PerturbedOptimizer(optimizer, generator=torch.Generator().manual_seed(2), **params)(t)
    expected = (theta * (y - optimizer.solve(theta))).sum(-1).mean()   # a minimization
    expected.backward()
    assert value.item() == pytest.approx(expected.item(), rel=1e-12)
    torch.testing.assert_close(theta_hat.grad, t.grad)


@pytest.mark.parametrize("optimizer, width", [(KSubset(k=2), 6), (ShortestPath(grid=(3, 3)), 12)])
def test_multiplicative_fenchel_young_gradient_and_finite_differences(optimizer, width):
    rng = np.random.RandomState(5)
    theta = torch.as_tensor(rng.uniform(0.5, 2, size=(3, width)))
    theta_hat = rng.uniform(0.5, 2, size=(3, width))
    sigma, n_samples = 0.5, 8

    def loss_at(values):
        fy = PerturbedFenchelYoung(optimizer, sigma=sigma, n_samples=n_samples,
                                   multiplicative=True,
                                   generator=torch.Generator().manual_seed(9))
        return fy(torch.as_tensor(values), theta)

    t = torch.tensor(theta_hat, requires_grad=True)
    loss_at(t).backward()
    # Same noise: the sampled loss is piecewise linear in theta_hat.
    fd = central_difference(lambda v: loss_at(v).item(), theta_hat)
    np.testing.assert_allclose(t.grad.numpy(), fd, atol=1e-6)
    noise = torch.randn((n_samples, 3, width), generator=torch.Generator().manual_seed(9),
                        dtype=torch.float64)
    factor = torch.exp(sigma * noise - sigma ** 2 / 2)
    z = torch.stack([optimizer.solve(torch.as_tensor(theta_hat) * m) for m in factor])
    expected = optimizer.sign * (optimizer.solve(theta) - (factor * z).mean(0)) / 3
    torch.testing.assert_close(t.grad, expected)


def test_fenchel_young_value_is_unbiased_nonnegative_and_steady_near_the_truth():
    # Oracle: the plain estimate max_x <perturbed, x> - <theta_hat, x*> of
    # the same draws, recomputed here; its mean is the loss.
    optimizer, sigma, n_draws = KSubset(k=2), 0.2, 4000
    rng = np.random.RandomState(3)
    theta = torch.as_tensor(rng.uniform(0.5, 2.0, size=(1, 6)))
    x_true = optimizer.solve(theta)
    stds = []
    for theta_hat in (torch.as_tensor(rng.uniform(0.5, 2.0, size=(1, 6))), theta):
        # One draw a row, the same instance in every row.
        fy = PerturbedFenchelYoung(optimizer, sigma=sigma,
                                   generator=torch.Generator().manual_seed(4))
        values = fy.instance_losses(theta_hat.expand(n_draws, -1), theta.expand(n_draws, -1),
                                    x_true.expand(n_draws, -1), optimizer)
        noise = torch.randn((1, n_draws, 6), generator=torch.Generator().manual_seed(4),
                            dtype=torch.float64)[0]
        perturbed = theta_hat + sigma * noise
        plain = ((perturbed * optimizer.solve(perturbed)).sum(-1)
                 - (theta_hat * x_true).sum(-1))
        assert (values >= 0).all()
        assert values.mean().item() == pytest.approx(
            plain.mean().item(), abs=4 * plain.std().item() / n_draws ** 0.5)
        stds.append((values.std().item(), plain.std().item()))
    # At the truth a draw that moves no decision has the value 0: the value
    # swings far less than the plain estimate's (which it does not far away).
    assert (values == 0).float().mean() > 0.3
    assert stds[1][0] < 0.5 * stds[1][1]


def test_multiplicative_fenchel_young_is_nonnegative_and_small_at_truth():
    rng = np.random.RandomState(6)
    theta = torch.as_tensor(rng.uniform(0.5, 3.0, size=(50, 6)))
    for sigma in (0.05, 0.5):
        fy = PerturbedFenchelYoung(KSubset(k=2), sigma=sigma, n_samples=200, multiplicative=True,
                                   generator=torch.Generator().manual_seed(0))
        assert fy.method_name == "fy-mul"
        at_truth = fy(theta, theta).item()
        elsewhere = fy(torch.as_tensor(rng.uniform(0.5, 3.0, size=(50, 6))), theta).item()
        assert -1e-2 <= at_truth < elsewhere
    assert at_truth > 1e-3          # sigma = 0.5 smooths: a positive loss at the truth


def test_a_zero_parameter_is_not_perturbed_and_gets_no_gradient():
    layer = PerturbedOptimizer(KSubset(k=1), sigma=1.0, n_samples=50, multiplicative=True,
                               generator=torch.Generator().manual_seed(0))
    theta_hat = torch.tensor([[1.0, 0.0, 0.8]], requires_grad=True)
    y = layer(theta_hat)
    assert y[0, 1] == 0
    (y * torch.tensor([[1.0, -2.0, 0.5]])).sum().backward()
    assert theta_hat.grad[0, 1] == 0 and torch.isfinite(theta_hat.grad).all()


def test_per_row_k_in_every_solve():
    rng = np.random.RandomState(7)
    theta = torch.as_tensor(rng.uniform(0.5, 2.0, size=(6, 5)))
    theta_hat = torch.as_tensor(rng.uniform(0.5, 2.0, size=(6, 5)))
    k = rng.randint(1, 5, size=6)
    sigma, n_samples = 0.6, 4
    noise = torch.randn((n_samples, 6, 5), generator=torch.Generator().manual_seed(1),
                        dtype=torch.float64)
    factor = torch.exp(sigma * noise - sigma ** 2 / 2)
    for multiplicative in (False, True):
        perturbed = theta_hat * factor if multiplicative else theta_hat + sigma * noise
        # Row by row, with KSubset(k=k_i) and that row's noise.
        x_true = torch.stack([KSubset(k=int(k[i])).solve(theta[i]) for i in range(6)])
        z = torch.stack([torch.stack([KSubset(k=int(k[i])).solve(perturbed[s, i])
                                      for i in range(6)]) for s in range(n_samples)])
        dpo = PerturbedRegret(KSubset(k=2), sigma=sigma, n_samples=n_samples,
                              multiplicative=multiplicative,
                              generator=torch.Generator().manual_seed(1))
        t = theta_hat.clone().requires_grad_()
        value = dpo(t, theta, k=k)
        value.backward()
        regrets = -(theta * (z.mean(0) - x_true)).sum(-1)        # maximize
        assert value.item() == pytest.approx(regrets.mean().item(), rel=1e-12)
        baseline = (z.sum(0) - z) / (n_samples - 1)             # leave-one-out
        reward = ((z - baseline) * (-theta / 6)).sum(-1, keepdim=True)
        grad = (reward * noise).mean(0) / sigma
        torch.testing.assert_close(t.grad, grad / theta_hat if multiplicative else grad)

        fy = PerturbedFenchelYoung(KSubset(k=2), sigma=sigma, n_samples=n_samples,
                                   multiplicative=multiplicative,
                                   generator=torch.Generator().manual_seed(1))
        t = theta_hat.clone().requires_grad_()
        fy(t, theta, k=k).backward()
        weights = factor if multiplicative else torch.ones_like(factor)
        torch.testing.assert_close(t.grad, -(x_true - (weights * z).mean(0)) / 6)


def test_nan_predictions_propagate():
    theta = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    theta_hat = torch.tensor([[1.0, float("nan"), 0.5], [1.0, 2.0, 3.0]], requires_grad=True)
    for multiplicative in (False, True):
        y = PerturbedOptimizer(KSubset(k=1), n_samples=3, multiplicative=multiplicative)(
            theta_hat)
        assert torch.isnan(y[0]).all() and torch.isfinite(y[1]).all()
        for loss in (PerturbedRegret(KSubset(k=1), multiplicative=multiplicative),
                     PerturbedFenchelYoung(KSubset(k=1), multiplicative=multiplicative)):
            assert torch.isnan(loss(theta_hat, theta))


def test_multiplicative_noise_trains_on_a_graph_with_a_cycle():
    with pytest.raises(ValueError, match="method 'dpo' solves at shifted or noisy"):
        PerturbedRegret(ShortestPath(**CYCLIC))
    with pytest.raises(ValueError, match="method 'fy' solves at shifted or noisy"):
        PerturbedFenchelYoung(ShortestPath(**CYCLIC))
    theta = torch.tensor([[1.0, 1.0, 5.0, 1.0, 3.0, 1.0]])
    for loss in (PerturbedRegret(ShortestPath(**CYCLIC), multiplicative=True),
                 PerturbedFenchelYoung(ShortestPath(**CYCLIC), multiplicative=True)):
        assert torch.isfinite(loss(theta + 0.5, theta))
        with pytest.raises(ValueError, match="out_activation='softplus'"):
            loss(theta - 2.0, theta)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    C = np.exp(X @ rng.normal(size=(3, 6)) / 2)
    for method in ("dpo-mul", "fy-mul"):
        est = DecisionFocusedRegressor(ShortestPath(**CYCLIC), method=method,
                                       out_activation="softplus", max_iter=3, random_state=0)
        est.fit(X, C)
        assert est.method_ == method and np.isfinite(est.score(X, C))


@pytest.mark.parametrize("params, error, match", [
    ({"sigma": 0.0}, ValueError, "sigma must be > 0"),
    ({"n_samples": 0}, ValueError, "n_samples must be >= 1"),
    ({"multiplicative": 1}, TypeError, "multiplicative must be True or False"),
])
def test_parameter_errors(params, error, match):
    for make in (PerturbedOptimizer, PerturbedRegret, PerturbedFenchelYoung):
        with pytest.raises(error, match=match):
            make(KSubset(k=1), **params)


@pytest.mark.parametrize("method, params", [
    ("dpo", {}), ("dpo-mul", {"out_activation": "softplus"}), ("fy-mul", {})])
def test_trains_searches_and_reproduces(method, params):
    assert_lowers_regret(method, **params)
    assert_grid_search_runs(method, {"sigma": [0.5, 1.0]}, **params)
    assert_deterministic(method, **params)
