"""targets="decisions": learning from observed optimal decisions instead of the parameters."""

import itertools
import re

import networkx as nx
import numpy as np
import pytest
import torch
from sklearn.model_selection import KFold, cross_validate

from skdfl import DecisionFocusedClassifier, DecisionFocusedRegressor
from skdfl.estimators._decision_targets import DECISION_METHODS, first_infeasible_row
from skdfl.methods import (BlackboxDifferentiation, DecisionLoss, HammingLoss,
                           PerturbedFenchelYoung)
from skdfl.methods._registry import METHODS
from skdfl.metrics import regret
from skdfl.optimizers import CoverageMaximizer, Knapsack, KSubset, ShortestPath

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SUBSET = KSubset(k=2)


@pytest.fixture(scope="module")
def chosen():
    """Items valued linearly in 4 features; y: the 2 best of 6 items (no values given)."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    values = X @ rng.normal(size=(4, 6)) + 0.1 * rng.normal(size=(300, 6))
    decisions = SUBSET.solve(values)
    return X[:200], decisions[:200], values[:200], X[200:], decisions[200:], values[200:]


def from_decisions(method="fy", **params):
    params = {"max_iter": 3, "random_state": 0, "targets": "decisions", **params}
    return DecisionFocusedRegressor(SUBSET, method=method, **params)


@pytest.mark.parametrize("method", ["fy", "imle", "dbb"])
def test_learns_to_reproduce_the_observed_decisions(chosen, method):
    X, D, _, X_test, D_test, V_test = chosen
    est = from_decisions(method, max_iter=20, n_iter_no_change=None).fit(X, D)
    assert est.target_scale_ == 1.0
    share = est.score(X_test, D_test)
    assert share == (est.decide(X_test) == D_test).all(1).mean()
    untrained = from_decisions(method, max_iter=1, learning_rate_init=1e-8).fit(X, D)
    assert share > 0.6 and share > untrained.score(X_test, D_test) + 0.3
    # and the decisions are good under the values that were never seen
    assert regret(V_test, est.predict(X_test), optimizer=SUBSET) < 0.1


def test_the_solver_layer_methods_train_through_the_hamming_loss(chosen):
    X, D, *_ = chosen
    est = from_decisions("dbb", max_iter=1).fit(X, D)
    loss = est.net_.criterion_.loss
    assert isinstance(loss, HammingLoss) and loss.method_name == "dbb"
    assert isinstance(from_decisions("fy", max_iter=1).fit(X, D).net_.criterion_.loss,
                      PerturbedFenchelYoung)
    assert from_decisions("auto", max_iter=1).fit(X, D).method_ == "fy"


def test_imle_settings_reach_its_layer_and_without_noise_it_is_dbb(chosen):
    """The noise is imle's only difference from dbb through the Hamming loss."""
    X, D, *_ = chosen
    est = from_decisions("imle", max_iter=1, tau=0.3, noise="gumbel", n_samples=3).fit(X, D)
    layer = est.net_.criterion_.loss.layer
    assert (layer.tau, layer.noise, layer.n_samples, layer.lambd) == (0.3, "gumbel", 3,
                                                                      est.lambd_)
    assert layer.k == 2.0       # the mean number of chosen items
    quiet = from_decisions("imle", max_iter=2, noise=None).fit(X, D)
    # From decisions dbb is the paper's layer (no projection onto the sphere,
    # the same "auto" lambd as imle), which imle without noise is.
    dbb = from_decisions("dbb", max_iter=2).fit(X, D)
    assert not dbb.net_.criterion_.loss.layer.normalize and dbb.lambd_ == quiet.lambd_ == 96
    np.testing.assert_array_equal(quiet.loss_curve_, dbb.loss_curve_)
    np.testing.assert_array_equal(quiet.predict(X), dbb.predict(X))


@pytest.mark.parametrize("method", DECISION_METHODS)
def test_every_decision_method_trains(chosen, method):
    X, D, *_ = chosen
    est = from_decisions(method, max_iter=1, batch_size=64).fit(X, D)
    assert est.method_ == method and np.isfinite(est.loss_curve_).all()


@pytest.mark.parametrize("method", [m for m in METHODS
                                    if m not in DECISION_METHODS and m != "auto"])
def test_methods_that_need_the_parameters_are_refused(chosen, method):
    X, D, *_ = chosen
    with pytest.raises(ValueError, match=re.escape(f"method {method!r} needs the true param")):
        from_decisions(method).fit(X, D)


def test_the_hamming_loss_is_the_hamming_distance():
    rng = np.random.RandomState(0)
    theta_hat = rng.normal(size=(20, 5))
    observed = KSubset(k=2).solve(rng.normal(size=(20, 5)))
    loss = HammingLoss(KSubset(k=2), BlackboxDifferentiation(KSubset(k=2)))
    value = loss(torch.as_tensor(theta_hat), observed)
    expected = np.abs(KSubset(k=2).solve(theta_hat) - observed).sum(1).mean()
    assert float(value) == pytest.approx(expected)


class OwnDecisionLoss(DecisionLoss):
    """A perceptron-style loss: reads only the observed decision."""

    method_name = "own"
    needs_parameters = False

    def instance_losses(self, theta_hat, theta, x_true, solver, **params):
        x_hat = solver._solve(theta_hat.detach(), **params)
        return self.optimizer.sign * (theta_hat * (x_true - x_hat)).sum(-1)


class NeedsTheta(OwnDecisionLoss):
    needs_parameters = True


def test_a_loss_of_ones_own_declares_whether_it_reads_the_parameters(chosen):
    X, D, *_ = chosen
    assert from_decisions(OwnDecisionLoss(SUBSET), max_iter=1).fit(X, D).method_ == "own"
    with pytest.raises(ValueError, match="NeedsTheta reads the true parameters"):
        from_decisions(NeedsTheta(SUBSET)).fit(X, D)


@pytest.mark.parametrize("y_change, match", [
    (lambda D: np.where(D == 1, 0.5, D), r"0/1 decisions; got 0.5 in row 0"),
    (lambda D: D[:, :5], r"n_params=6 columns|n_vars=6 columns"),
    (lambda D: np.vstack([D[:3], np.ones((1, 6)), D[4:]]),
     "row 3 violates its constraints"),
])
def test_bad_decisions_get_a_clear_error(chosen, y_change, match):
    X, D, *_ = chosen
    opt = KSubset(k=2, n_items=6)
    with pytest.raises(ValueError, match=match):
        DecisionFocusedRegressor(opt, targets="decisions", max_iter=1).fit(X, y_change(D))


def test_bad_targets_and_nonlinear_optimizers_are_refused(chosen):
    X, D, *_ = chosen
    with pytest.raises(ValueError, match="targets"):
        from_decisions(targets="costs").fit(X, D)
    coverage = CoverageMaximizer(k=1, n_items=2, n_targets=3)
    with pytest.raises(ValueError, match="targets='decisions' needs a linear optimizer"):
        DecisionFocusedRegressor(coverage, targets="decisions").fit(X, D)


def test_feasibility_is_checked_against_brute_force():
    # every 0/1 vector of 5 items, with a capacity per row: a knapsack
    weights = np.array([2, 3, 1, 4, 2])
    vectors = np.array(list(itertools.product((0.0, 1.0), repeat=5)))
    capacity = np.random.RandomState(0).randint(0, 12, size=len(vectors))
    knapsack = Knapsack(weights=weights, capacity=6)
    params = knapsack.check_params({"capacity": capacity}, len(vectors))
    feasible = vectors @ weights <= capacity
    for i in range(len(vectors)):
        row_params = {k: v[i:i + 1] for k, v in params.items()}
        expected = None if feasible[i] else 0
        assert first_infeasible_row(knapsack, vectors[i:i + 1], row_params) == expected


def _is_path(graph, x):
    """Oracle: the chosen arcs form exactly one simple source-to-target path (networkx)."""
    chosen = [(int(t), int(h)) for t, h, on in zip(graph.tails, graph.heads, x) if on]
    g = nx.DiGraph(chosen)
    if len(chosen) == 0 or graph.source not in g or graph.target not in g:
        return False
    paths = list(nx.all_simple_paths(g, graph.source, graph.target))
    return len(paths) == 1 and len(paths[0]) - 1 == len(chosen)


def test_shortest_path_decisions_must_be_paths():
    grid = ShortestPath(grid=(3, 3))
    rng = np.random.RandomState(0)
    paths = grid.solve(rng.uniform(size=(30, grid.n_params)))
    assert first_infeasible_row(grid, paths, {}) is None
    # random arc sets and paths with one arc flipped: the LP check agrees with networkx
    candidates = np.vstack([rng.randint(0, 2, size=(60, grid.n_params)).astype(float),
                            paths, paths.copy()])
    flips = rng.randint(0, grid.n_params, size=30)
    candidates[-30:][np.arange(30), flips] = 1 - candidates[-30:][np.arange(30), flips]
    for x in candidates:
        expected = None if _is_path(grid.graph, x) else 0
        assert first_infeasible_row(grid, x[None], {}) == expected


def test_per_instance_parameters_with_decisions(chosen):
    X, _, values, *_ = chosen
    k = np.random.RandomState(1).randint(1, 4, size=len(X))
    D = SUBSET.solve(values, k=k)
    est = from_decisions("imle", max_iter=2).fit(X, D, k=k)
    assert est.score(X, D, k=k) >= 0
    wrong_k = np.where(k == 1, 2, 1)
    with pytest.raises(ValueError, match="violates its constraints"):
        from_decisions("imle").fit(X, D, k=wrong_k)


def test_early_stopping_and_weights_from_decisions(chosen):
    X, D, *_ = chosen
    est = from_decisions("dbb", early_stopping=True, max_iter=4, n_iter_no_change=2)
    est.fit(X, D)
    assert all(0.0 <= s <= 1.0 for s in est.validation_scores_)
    w = np.random.RandomState(0).randint(0, 3, size=len(X))
    weighted = from_decisions("imle", max_iter=2).fit(X, D, sample_weight=w)
    equal = (weighted.decide(X) == D).all(1)
    assert weighted.score(X, D, sample_weight=w) == pytest.approx(np.average(equal,
                                                                             weights=w))
    assert weighted.score(X, D, sample_weight=w) == pytest.approx(
        weighted.score(np.repeat(X, w, 0), np.repeat(D, w, 0)))


def test_cross_validate_scores_the_share_of_matching_decisions(chosen):
    X, D, *_ = chosen
    result = cross_validate(from_decisions("fy", max_iter=2), X, D, cv=KFold(2),
                            return_estimator=True)
    for est, (_, test) in zip(result["estimator"], KFold(2).split(X)):
        assert 0 <= est.score(X[test], D[test]) <= 1
    np.testing.assert_allclose(result["test_score"],
                               [e.score(X[t], D[t]) for e, (_, t) in
                                zip(result["estimator"], KFold(2).split(X))])


def test_a_classifier_learns_from_decisions_too(chosen):
    X, D, *_ = chosen
    clf = DecisionFocusedClassifier(SUBSET, method="imle", targets="decisions", max_iter=2,
                                    random_state=0).fit(X, D)
    assert 0 <= clf.score(X, D) <= 1
