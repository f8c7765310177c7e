"""method="relaxation": the layer, the loss, the registry and the estimator."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.methods import Relaxation, RelaxationRegret
from skdfl.methods._registry import METHODS, make_loss, resolve_method
from skdfl.optimizers import KSubset, LinearProgram, Optimizer, ShortestPath
from tests._oracles import central_difference


class _Concave(Optimizer):
    """A non-linear toy problem with its own relaxation: max sum(theta * sqrt(x))."""

    sense = "maximize"
    is_linear = False

    def __init__(self, n=3):
        self.n = n

    n_params = property(lambda self: self.n)
    n_vars = property(lambda self: self.n)

    def _solve(self, theta):
        return torch.ones_like(theta)

    def _objective(self, x, theta):
        return (theta * x.clamp_min(0).sqrt()).sum(-1)

    def relax(self, theta, gamma):
        return torch.sigmoid(theta) + 0 * gamma


class _NonLinearWithout(_Concave):
    relax = Optimizer.relax


@pytest.mark.parametrize("optimizer", [ShortestPath(grid=(3, 3)), KSubset(k=2, n_items=5),
                                       LinearProgram.bipartite_matching(2, 3)])
def test_loss_is_the_regret_of_the_relaxed_decision(optimizer):
    rng = np.random.default_rng(0)
    theta = torch.as_tensor(rng.uniform(0.5, 2.0, size=(4, optimizer.n_params)))
    theta_hat = torch.as_tensor(rng.uniform(0.5, 2.0, size=(4, optimizer.n_params)))
    loss = RelaxationRegret(optimizer, gamma=0.3)
    x_relaxed = optimizer.relax(theta_hat, 0.3)
    x_star = optimizer._solve(theta)
    expected = (optimizer.sign * (theta * (x_relaxed - x_star)).sum(-1)).mean()
    assert float(loss(theta_hat, theta)) == pytest.approx(float(expected))
    assert float(loss(theta_hat, theta, x_star)) == pytest.approx(float(expected))
    assert float(loss(theta_hat, theta)) >= -1e-9        # relaxed decisions are feasible

    def value(t):
        return float(loss(torch.as_tensor(t), theta, x_star))

    t = theta_hat.clone().requires_grad_()
    loss(t, theta, x_star).backward()
    np.testing.assert_allclose(t.grad.numpy(), central_difference(value, theta_hat.numpy()),
                               atol=1e-6)


def test_layer_is_the_optimizer_relaxation():
    optimizer = KSubset(k=2)
    theta = torch.tensor([[2.0, 1.0, 0.5, -1.0]])
    np.testing.assert_allclose(Relaxation(optimizer, gamma=0.5)(theta),
                               optimizer.relax(theta, 0.5))
    with pytest.raises(ValueError, match="needs an optimizer with a continuous relaxation"):
        Relaxation(_NonLinearWithout())
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        Relaxation(optimizer, gamma=-1.0)


def test_non_linear_problems_use_their_own_relaxation_and_objective():
    optimizer = _Concave()
    theta = torch.tensor([[1.0, 2.0, 0.0]])
    loss = RelaxationRegret(optimizer, gamma=0.1)
    x = torch.sigmoid(theta)
    expected = -(optimizer._objective(x, theta) - optimizer._objective(torch.ones(1, 3), theta))
    assert float(loss(theta, theta)) == pytest.approx(float(expected.mean()))


def test_registry_resolves_and_builds_relaxation():
    assert "relaxation" in METHODS
    assert resolve_method("auto", ShortestPath(grid=(2, 2))) == "spo+"
    assert resolve_method("auto", _Concave()) == "relaxation"
    with pytest.raises(ValueError, match="no continuous relaxation"):
        resolve_method("auto", _NonLinearWithout())
    loss = make_loss("relaxation", KSubset(k=1, n_items=3), gamma=0.7)
    assert isinstance(loss, RelaxationRegret) and loss.layer.gamma == 0.7


@pytest.fixture(scope="module")
def data():
    X, C = make_shortest_path(120, degree=2, noise_width=0.5, random_state=0)
    return X, C


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_trains_with_relaxation_and_decides_exactly(data):
    X, C = data
    est = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method="relaxation", gamma=0.2,
                                   max_iter=3, random_state=0).fit(X[:90], C[:90])
    assert est.method_ == "relaxation" and est.get_params()["gamma"] == 0.2
    decisions = est.decide(X[90:])
    assert set(np.unique(decisions)) <= {0.0, 1.0}                 # exact paths at test time
    assert np.isfinite(est.loss_curve_).all()
    assert -est.score(X[90:], C[90:]) < 0.5


def test_gamma_is_validated(data):
    X, C = data
    for gamma, error in [(0.0, ValueError), (-1.0, ValueError), ("big", TypeError)]:
        with pytest.raises(error, match="gamma"):
            DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method="relaxation",
                                     gamma=gamma).fit(X, C)


def test_grid_search_over_gamma(data):
    X, C = data
    search = GridSearchCV(
        DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method="relaxation", max_iter=2,
                                 random_state=0),
        {"gamma": [0.05, 1.0]}, cv=KFold(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, C)
    assert search.best_params_["gamma"] in (0.05, 1.0)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.decide(X[:3]).shape == (3, 40)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_on_a_linear_program():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Y = X @ rng.normal(size=(3, 4)) + 0.1 * rng.normal(size=(40, 4))
    est = DecisionFocusedRegressor(LinearProgram.bipartite_matching(2, 2), method="relaxation",
                                   gamma=0.5, max_iter=2, random_state=0).fit(X, Y)
    assert est.decide(X[:5]).shape == (5, 4)


def test_method_table_lists_every_method_once():
    from skdfl.methods._registry import METHOD_TABLE, method_table_rst

    table = method_table_rst()
    for method in METHOD_TABLE:
        rows = [line for line in table.splitlines() if line.startswith(f'``"{method.name}"``')]
        assert len(rows) == 1 and method.summary in rows[0]
    assert METHODS[0] == "auto" and set(METHODS[1:]) == {m.name for m in METHOD_TABLE}
