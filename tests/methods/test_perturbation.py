"""I-MLE, perturbed Fenchel-Young and their noise: oracles and statistics."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from skdfl.methods import (IMLE, BlackboxDifferentiation, ImleRegret, PerturbedFenchelYoung,
                           gumbel_noise, standard_gamma, sum_of_gamma_noise)
from skdfl.optimizers import KSubset, ShortestPath


@pytest.mark.parametrize("alpha", [0.1, 0.5, 1.0, 4.0])
def test_standard_gamma_matches_scipy(alpha):
    draws = standard_gamma(alpha, (20000,), generator=torch.Generator().manual_seed(0),
                           dtype=torch.float64).numpy()
    assert stats.kstest(draws, stats.gamma(alpha).cdf).pvalue > 1e-3


@pytest.mark.parametrize("k, tau", [(3, 1.0), (8, 0.5)])
def test_sum_of_gamma_over_a_solution_is_gumbel(k, tau):
    """Eq. 13 of Niepert et al.: summed over k entries, SoG noise is Gumbel(0, tau)."""
    g = torch.Generator().manual_seed(1)
    n_terms = 10
    total = sum_of_gamma_noise((20000, k), k, tau, n_terms, generator=g,
                               dtype=torch.float64).sum(-1).numpy()
    # With a finite number of terms the sum has mean tau (H_s - log s) and
    # variance tau^2 sum_{i<=s} 1/i^2, tending to Gumbel's 0.5772 tau, 1.645 tau^2.
    harmonic = sum(1.0 / i for i in range(1, n_terms + 1))
    assert total.mean() == pytest.approx(tau * (harmonic - math.log(n_terms)), abs=0.03 * tau)
    assert total.var() == pytest.approx(
        tau ** 2 * sum(1.0 / i ** 2 for i in range(1, n_terms + 1)), rel=0.06)
    many = sum_of_gamma_noise((5000, k), k, tau, 200, generator=g,
                              dtype=torch.float64).sum(-1).numpy()
    assert stats.kstest(many, stats.gumbel_r(scale=tau).cdf).pvalue > 1e-3


@pytest.mark.parametrize("k, n_terms, n", [(8, 10, 20000), (5, 10, 20000), (1, 10, 20000),
                                           (20, 10, 20000), (0.5, 3, 20000), (2.5, 30, 20000),
                                           (4, 1, 20000), (1, 800, 3000)])
def test_sum_of_gamma_noise_matches_its_definition(k, n_terms, n):
    """Eq. 13 drawn term by term with numpy is the oracle of the mixture sampler
    (and of the term-by-term fallback, taken for 800 terms)."""
    noise = sum_of_gamma_noise((n,), k, 0.7, n_terms, torch.Generator().manual_seed(3),
                               dtype=torch.float64).numpy()
    rng = np.random.default_rng(4)
    terms = sum(rng.gamma(1.0 / k, k / i, size=n) for i in range(1, n_terms + 1))
    oracle = 0.7 / k * (terms - math.log(n_terms))
    assert stats.ks_2samp(noise, oracle).pvalue > 1e-3


def _alias_law(probability, alias):
    """The law an alias table draws from: column j gives j or alias[j]."""
    law = probability / len(probability)
    np.add.at(law, alias, (1.0 - probability) / len(probability))
    return law


def test_alias_table_draws_its_law_exactly():
    from skdfl.methods._noise import _alias_draws, _alias_table
    weights = np.random.default_rng(0).exponential(size=37) ** 3
    probability, alias = _alias_table(weights)
    np.testing.assert_allclose(_alias_law(probability, alias), weights / weights.sum(),
                               rtol=1e-12, atol=1e-15)
    draws = _alias_draws(probability, alias, (200000,), torch.Generator().manual_seed(0),
                         None).numpy()
    counts = np.bincount(draws, minlength=37)
    assert stats.chisquare(counts, 200000 * weights / weights.sum()).pvalue > 1e-3


def test_sum_of_gamma_mixture_is_cut_only_in_a_negligible_tail():
    from skdfl.methods._noise import _gamma_sum_mixture
    rho, probability, alias = _gamma_sum_mixture(8.0, 10)
    law = _alias_law(probability, alias)
    assert rho == pytest.approx(10 / 8)
    assert law.sum() == pytest.approx(1.0, abs=1e-14) and law[-1] < 1e-12
    assert _gamma_sum_mixture(1.0, 800) is None     # C underflows: term by term instead


def test_standard_gamma_with_one_concentration_per_entry():
    from skdfl.methods._noise import _standard_gamma
    alphas = torch.tensor([0.2, 1.5, 7.0], dtype=torch.float64).repeat(10000)
    draws = _standard_gamma(alphas.view(100, 300), (100, 300), torch.Generator().manual_seed(5),
                            None, torch.float64).reshape(-1)
    for i, alpha in enumerate([0.2, 1.5, 7.0]):
        assert stats.kstest(draws[i::3].numpy(), stats.gamma(alpha).cdf).pvalue > 1e-3


def test_gumbel_noise_matches_scipy():
    draws = gumbel_noise((20000,), 2.0, torch.Generator().manual_seed(2),
                         dtype=torch.float64).numpy()
    assert stats.kstest(draws, stats.gumbel_r(scale=2.0).cdf).pvalue > 1e-3


def test_noise_draws_depend_only_on_the_generator():
    a = sum_of_gamma_noise((4, 5), 3, generator=torch.Generator().manual_seed(7))
    torch.manual_seed(0)
    b = sum_of_gamma_noise((4, 5), 3, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


@pytest.mark.parametrize("optimizer, width", [(KSubset(k=3), 7), (ShortestPath(grid=(3, 4)), 17)])
@pytest.mark.parametrize("lambd", [0.5, 5.0])
def test_imle_without_noise_is_blackbox_differentiation(optimizer, width, lambd):
    rng = np.random.RandomState(0)
    theta_hat = rng.uniform(0.2, 2, size=(6, width))
    grad_out = rng.normal(size=(6, width))
    grads = []
    for layer in (IMLE(optimizer, lambd=lambd, noise=None),
                  BlackboxDifferentiation(optimizer, lambd=lambd, normalize=False)):
        t = torch.tensor(theta_hat, requires_grad=True)
        (layer(t) * torch.as_tensor(grad_out)).sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1])
    assert np.abs(grads[0]).sum() > 0


def test_imle_averages_samples_with_shared_noise():
    """The estimate follows the definition, computed sample by sample."""
    optimizer, lambd, n_samples = KSubset(k=2), 2.0, 5
    rng = np.random.RandomState(3)
    theta_hat = torch.as_tensor(rng.normal(size=(4, 6)))
    grad_out = torch.as_tensor(rng.normal(size=(4, 6)))
    layer = IMLE(optimizer, lambd=lambd, noise="gumbel", n_samples=n_samples,
                 generator=torch.Generator().manual_seed(11))
    t = theta_hat.clone().requires_grad_()
    z = layer(t)
    (z * grad_out).sum().backward()
    eps = gumbel_noise((n_samples, 4, 6), 1.0, torch.Generator().manual_seed(11),
                       dtype=torch.float64)
    z_s = torch.stack([optimizer.solve(theta_hat + e) for e in eps])
    z_target = torch.stack([optimizer.solve(theta_hat + e - lambd * grad_out) for e in eps])
    torch.testing.assert_close(z, z_s.mean(0))
    torch.testing.assert_close(t.grad, (z_s - z_target).mean(0) / lambd)


def test_imle_regret_uses_true_costs_as_downstream_gradient():
    rng = np.random.RandomState(4)
    theta = torch.as_tensor(rng.uniform(0.5, 2, size=(5, 12)))
    theta_hat = torch.as_tensor(rng.uniform(0.5, 2, size=(5, 12))).requires_grad_()
    optimizer = ShortestPath(grid=(3, 3))
    ImleRegret(optimizer, lambd=3.0, noise=None)(theta_hat, theta).backward()
    # dL/dz = theta / batch: the DBB gradient with that downstream gradient
    t = theta_hat.detach().clone().requires_grad_()
    (BlackboxDifferentiation(optimizer, lambd=3.0, normalize=False)(t) * theta / 5).sum().backward()
    torch.testing.assert_close(theta_hat.grad, t.grad)


@pytest.mark.parametrize("optimizer, width", [(KSubset(k=2), 6), (ShortestPath(grid=(3, 3)), 12)])
def test_fenchel_young_gradient_and_finite_differences(optimizer, width):
    rng = np.random.RandomState(5)
    theta = torch.as_tensor(rng.uniform(0.5, 2, size=(3, width)))
    theta_hat = rng.uniform(0.5, 2, size=(3, width))

    def loss_at(values):
        fy = PerturbedFenchelYoung(optimizer, sigma=0.5, n_samples=8,
                                   generator=torch.Generator().manual_seed(9))
        return fy(torch.as_tensor(values), theta)

    t = torch.tensor(theta_hat, requires_grad=True)
    loss_at(t).backward()
    # Same noise: the sampled loss is piecewise linear in theta_hat, so a
    # central difference at a generic point is exact.
    eps, fd = 1e-6, np.zeros_like(theta_hat)
    for idx in np.ndindex(theta_hat.shape):
        step = np.zeros_like(theta_hat)
        step[idx] = eps
        fd[idx] = float(loss_at(theta_hat + step) - loss_at(theta_hat - step)) / (2 * eps)
    np.testing.assert_allclose(t.grad.numpy(), fd, atol=1e-6)
    # and the gradient is sign * (x* - mean perturbed decision) / batch
    noise = 0.5 * torch.randn((8, 3, width), generator=torch.Generator().manual_seed(9),
                              dtype=torch.float64)
    z = torch.stack([optimizer.solve(torch.as_tensor(theta_hat) + e) for e in noise])
    expected = optimizer.sign * (optimizer.solve(theta) - z.mean(0)) / 3
    torch.testing.assert_close(t.grad, expected)


def test_fenchel_young_is_nonnegative_in_expectation_and_small_at_truth():
    optimizer = KSubset(k=2)
    rng = np.random.RandomState(6)
    theta = torch.as_tensor(rng.normal(size=(50, 6)) * 3)
    fy = PerturbedFenchelYoung(optimizer, sigma=0.1, n_samples=200,
                               generator=torch.Generator().manual_seed(0))
    at_truth = float(fy(theta, theta))
    elsewhere = float(fy(torch.as_tensor(rng.normal(size=(50, 6))), theta))
    assert at_truth >= -1e-9 and elsewhere > at_truth


@pytest.mark.parametrize("params, match", [
    ({"lambd": 0.0}, "lambd must be > 0"), ({"noise": "uniform"}, "noise must be one of"),
    ({"tau": -1.0}, "tau must be > 0"), ({"n_samples": 0}, "n_samples must be >= 1"),
])
def test_imle_parameter_errors(params, match):
    with pytest.raises(ValueError, match=match):
        IMLE(KSubset(k=1), **params)


def test_fenchel_young_parameter_errors():
    with pytest.raises(ValueError, match="sigma must be > 0"):
        PerturbedFenchelYoung(KSubset(k=1), sigma=0.0)
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        PerturbedFenchelYoung(KSubset(k=1), n_samples=1.5)


def _king_paths(side):
    """Every simple path from the top-left cell to the bottom-right one, 8 moves, as 0/1 rows."""
    import networkx as nx
    graph = nx.Graph()
    for i, j in np.ndindex(side, side):
        for di, dj in ((0, 1), (1, -1), (1, 0), (1, 1)):
            if 0 <= i + di < side and 0 <= j + dj < side:
                graph.add_edge(i * side + j, (i + di) * side + j + dj)
    rows = []
    for path in nx.all_simple_paths(graph, 0, side * side - 1):
        row = np.zeros(side * side)
        row[path] = 1.0
        rows.append(row)
    return np.unique(np.array(rows), axis=0)


def _cheapest(paths, costs):
    """The cheapest of ``paths`` under each row of ``costs`` (asserted unique)."""
    totals = costs @ paths.T
    order = np.sort(totals, axis=-1)
    assert (order[..., 1] - order[..., 0] > 1e-9).all()      # no tie: one answer
    return paths[totals.argmin(-1)]


@pytest.mark.parametrize("noise", ["sog", "gumbel"])
def test_imle_hamming_gradient_on_cells_against_enumeration(noise):
    """I-MLE through the Hamming loss on a minimization (3x3 cells, 8 moves), by hand.

    The paper's max-form with logits ``-theta``: the forward sample is the
    cheapest path under ``theta - eps``; the target solve adds ``lambd *
    dL/dz`` (``(1 - 2 x) / batch`` for the mean Hamming loss) to those
    costs, and the gradient is ``mean_s (z'_s - z_s) / lambd``. Every path
    is enumerated, so a flipped sign of the noise or of the step (or a
    misplaced ``tau``) would fail here.
    """
    from skdfl.methods import HammingLoss
    side, batch, n_samples, lambd, tau, k = 3, 4, 3, 8.0, 0.3, 3.0
    optimizer = ShortestPath(grid=(side, side), costs="cells", negative_costs="clip")
    rng = np.random.RandomState(8)
    theta_hat = rng.uniform(4.0, 4.5, size=(batch, side * side))
    paths = _king_paths(side)
    observed = paths[rng.choice(len(paths), size=batch)]
    layer = IMLE(optimizer, lambd=lambd, noise=noise, tau=tau, n_samples=n_samples, k=k,
                 generator=torch.Generator().manual_seed(5))
    t = torch.tensor(theta_hat, requires_grad=True)
    value = HammingLoss(optimizer, layer)(t, torch.as_tensor(observed))
    value.backward()

    shape, g = (n_samples, batch, side * side), torch.Generator().manual_seed(5)
    eps = (sum_of_gamma_noise(shape, k, tau, generator=g, dtype=torch.float64) if noise == "sog"
           else gumbel_noise(shape, tau, g, dtype=torch.float64)).numpy()
    perturbed = theta_hat - eps
    shifted = perturbed + lambd * (1 - 2 * observed) / batch
    assert perturbed.min() > 0 and shifted.min() > 0      # nothing clipped: exact enumeration
    z, z_target = _cheapest(paths, perturbed), _cheapest(paths, shifted)
    hamming = np.abs(z.mean(0) - observed).sum(-1).mean()
    assert float(value) == pytest.approx(hamming)
    np.testing.assert_allclose(t.grad.numpy(), (z_target - z).mean(0) / lambd, atol=1e-12)
    assert np.abs(t.grad.numpy()).sum() > 0
