"""The learning-to-rank losses against the paper's formulas in plain loops, and training."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import GridSearchCV, KFold

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.methods import (ListwiseRankingLoss, PairwiseRankingLoss, PointwiseRankingLoss,
                           SolutionPool)
from skdfl.methods._registry import make_loss
from skdfl.optimizers import KSubset, ShortestPath
from tests._oracles import central_difference
from tests.methods._pool_cases import (as_set, call, mixed_pool_case, per_row_loop,
                                       pool_rows, tiny_case)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def softmax(scores):
    e = np.exp(scores - np.max(scores))
    return e / e.sum()


def pointwise_row(sign, **_):
    """Mandi et al.: mean squared error of the objective values over the pool."""
    def row(theta_hat, theta, x_true, entries):
        return np.mean([(theta_hat @ d - theta @ d) ** 2 for d in entries])
    return row


def pairwise_row(sign, margin=0.0, **_):
    """Mandi et al.: hinge of the truly best entry against each strictly worse one."""
    def row(theta_hat, theta, x_true, entries):
        best = min(entries, key=lambda d: sign * (theta @ d))
        worse = [d for d in entries if sign * (theta @ d) > sign * (theta @ best)]
        hinges = [max(0.0, margin + sign * (theta_hat @ best - theta_hat @ d)) for d in worse]
        return np.mean(hinges) if hinges else 0.0
    return row


def listwise_row(sign, tau=1.0, **_):
    """Mandi et al.: cross-entropy of softmax(-sign * value / tau) over the pool."""
    def row(theta_hat, theta, x_true, entries):
        p = softmax(np.array([-sign * (theta @ d) / tau for d in entries]))
        q = softmax(np.array([-sign * (theta_hat @ d) / tau for d in entries]))
        return -np.sum(p * np.log(q))
    return row


def hand_gradient(name, theta_hat, theta, pool, sign, feasible=None, margin=0.0, tau=1.0):
    """The gradients derived by hand, one instance and one pool entry at a time."""
    grad = np.zeros_like(theta_hat)
    for i in range(len(theta_hat)):
        entries = [d for j, d in enumerate(pool) if feasible is None or feasible[i][j]]
        th, t = theta_hat[i], theta[i]
        if name == "point":
            grad[i] = np.mean([2 * (th @ d - t @ d) * d for d in entries], axis=0)
        elif name == "pair":
            best = min(entries, key=lambda d: sign * (t @ d))
            worse = [d for d in entries if sign * (t @ d) > sign * (t @ best)]
            active = [sign * (best - d) for d in worse
                      if margin + sign * (th @ best - th @ d) > 0]
            grad[i] = np.sum(active, axis=0) / max(len(worse), 1) if active else 0.0
        else:
            p = softmax(np.array([-sign * (t @ d) / tau for d in entries]))
            q = softmax(np.array([-sign * (th @ d) / tau for d in entries]))
            grad[i] = sum((qj - pj) * (-sign / tau) * d for qj, pj, d in zip(q, p, entries))
    return grad / len(theta_hat)


LOSSES = {
    "point": (lambda opt, pool, **kw: PointwiseRankingLoss(opt, pool), pointwise_row),
    "pair": (lambda opt, pool, margin=0.0, **kw: PairwiseRankingLoss(opt, pool, margin=margin),
             pairwise_row),
    "list": (lambda opt, pool, tau=1.0, **kw: ListwiseRankingLoss(opt, pool, tau=tau),
             listwise_row),
}
SETTINGS = [("point", {}), ("pair", {}), ("pair", {"margin": 0.7}), ("list", {}),
            ("list", {"tau": 0.3})]


@pytest.mark.parametrize("sense", ["maximize", "minimize"])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name, kwargs", SETTINGS)
def test_losses_and_gradients_equal_the_papers_formulas(sense, seed, name, kwargs):
    optimizer, theta, theta_hat, x_true, initial, expected = tiny_case(sense, seed)
    build, row = LOSSES[name]
    loss = build(optimizer, SolutionPool(torch.as_tensor(initial)), **kwargs)
    value, grad = call(loss, theta_hat, theta, x_true)
    assert as_set(pool_rows(loss)) == as_set(expected)
    sign = optimizer.sign
    assert value == pytest.approx(per_row_loop(row(sign, **kwargs), theta_hat, theta, x_true,
                                               expected))
    np.testing.assert_allclose(
        grad, hand_gradient(name, theta_hat, theta, expected, sign, **kwargs), atol=1e-10)


@pytest.mark.parametrize("name, kwargs", [("point", {}), ("list", {}), ("list", {"tau": 0.3})])
def test_smooth_losses_match_finite_differences(name, kwargs):
    optimizer, theta, theta_hat, x_true, _, pool = tiny_case("minimize", 4)
    loss = LOSSES[name][0](optimizer, None, **kwargs)
    decisions = torch.as_tensor(pool)
    feasible = torch.ones(len(theta), len(pool), dtype=torch.bool)

    def value(t):
        return float(loss.pool_loss(torch.as_tensor(t), torch.as_tensor(theta),
                                    torch.as_tensor(x_true), decisions, feasible).mean())

    t = torch.tensor(theta_hat, requires_grad=True)
    loss.pool_loss(t, torch.as_tensor(theta), torch.as_tensor(x_true), decisions,
                   feasible).mean().backward()
    np.testing.assert_allclose(t.grad.numpy(), central_difference(value, theta_hat),
                               atol=1e-6)


def test_pairwise_ignores_entries_that_tie_with_the_best():
    # Items 0 and 1 are equally good; ranking either first is right.
    pool = SolutionPool(torch.eye(3))
    loss = PairwiseRankingLoss(KSubset(k=1), pool=pool)
    theta = torch.tensor([[2.0, 2.0, 0.0]])
    assert float(loss(torch.tensor([[1.0, 1.5, 0.0]]), theta)) == 0.0
    assert float(loss(torch.tensor([[1.0, 1.5, 0.0]]), theta,
                      torch.tensor([[1.0, 0.0, 0.0]]))) == 0.0
    assert float(loss(torch.tensor([[0.0, 0.0, 1.0]]), theta)) == 1.0


def test_listwise_temperature_sharpens_towards_the_best():
    pool = SolutionPool(torch.eye(3))
    theta = torch.tensor([[3.0, 1.0, 0.0]])
    grads = []
    for tau in (10.0, 0.05):
        theta_hat = torch.zeros(1, 3, requires_grad=True)
        ListwiseRankingLoss(KSubset(k=1), pool=pool, tau=tau)(theta_hat, theta).backward()
        grads.append(theta_hat.grad[0] * tau)        # gradient of the scores
    # A cold true distribution puts its mass on item 0 only; a hot one spreads it.
    np.testing.assert_allclose(grads[1].numpy(), [-2 / 3, 1 / 3, 1 / 3], atol=1e-6)
    assert abs(float(grads[0][0])) < 0.1


@pytest.mark.parametrize("name", ["point", "pair", "list"])
def test_per_row_k_keeps_only_pool_entries_with_that_count(name):
    k, theta, theta_hat, x_true, initial, pool, feasible = mixed_pool_case(6)
    assert not feasible.all()
    build, row = LOSSES[name]
    loss = build(KSubset(k=2, n_items=5), SolutionPool(torch.as_tensor(initial)))
    value, grad = call(loss, theta_hat, theta, x_true, k=torch.as_tensor(k))
    assert as_set(pool_rows(loss)) == as_set(pool)
    expected = per_row_loop(row(-1.0), theta_hat, theta, x_true, pool, feasible)
    assert value == pytest.approx(expected)
    assert abs(expected - per_row_loop(row(-1.0), theta_hat, theta, x_true, pool)) > 1e-3
    np.testing.assert_allclose(grad, hand_gradient(name, theta_hat, theta, pool, -1.0,
                                                   feasible), atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["point", "pair", "list"]))
def test_a_batch_with_per_row_k_equals_each_row_alone(seed, name):
    k, theta, theta_hat, x_true, initial, _, _ = mixed_pool_case(seed)
    build = LOSSES[name][0]
    args = [torch.as_tensor(a) for a in (theta_hat, theta, x_true)]
    loss = build(KSubset(k=2, n_items=5), SolutionPool(torch.as_tensor(initial)))
    loss(*args, k=torch.as_tensor(k))                        # grow the pool once
    batched = float(loss(*args, k=torch.as_tensor(k)))
    alone = []
    for i in range(len(k)):
        entries = loss.pool.decisions[loss.pool.decisions.sum(1) == k[i]]
        single = build(KSubset(k=int(k[i]), n_items=5), SolutionPool(entries))
        alone.append(float(single(*(a[i:i + 1] for a in args))))
    assert batched == pytest.approx(np.mean(alone))


class _Unchecked(KSubset):
    def pool_feasible(self, decisions, **params):
        return None


@pytest.mark.parametrize("name", ["point", "pair", "list"])
def test_params_without_a_feasibility_check_are_refused(name):
    loss = LOSSES[name][0](_Unchecked(k=2, n_items=4), None)
    theta = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    with pytest.raises(ValueError, match=r"\['k'\].*checks pool feasibility"):
        loss(theta, theta, k=torch.tensor([2]))


@pytest.mark.parametrize("bad", [0.0, -1.0, "cold"])
def test_tau_and_margin_are_checked(bad):
    with pytest.raises((ValueError, TypeError), match="tau"):
        ListwiseRankingLoss(KSubset(k=1), tau=bad)
    if bad != 0.0:
        with pytest.raises((ValueError, TypeError), match="margin"):
            PairwiseRankingLoss(KSubset(k=1), margin=bad)


def test_the_registry_builds_them_on_the_given_pool_with_tau():
    pool = SolutionPool(torch.eye(3))
    for name, cls in [("ltr-point", PointwiseRankingLoss), ("ltr-pair", PairwiseRankingLoss),
                      ("ltr-list", ListwiseRankingLoss)]:
        loss = make_loss(name, KSubset(k=1), pool=pool, tau=0.25, lambd=1.0, sigma=2.0)
        assert type(loss) is cls and loss.pool is pool
    assert loss.tau == 0.25


@pytest.fixture(scope="module")
def data():
    X, C = make_shortest_path(300, degree=4, noise_width=0.5, random_state=0)
    return X[:200], C[:200], X[200:], C[200:]


@pytest.fixture(scope="module")
def untrained_score(data):
    X, C, X_test, C_test = data
    est = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), max_iter=1,
                                   learning_rate_init=1e-9, random_state=0).fit(X, C)
    return est.score(X_test, C_test)


@pytest.mark.parametrize("method", ["ltr-point", "ltr-pair", "ltr-list"])
@pytest.mark.parametrize("solve_ratio", [0.1, 1.0])
def test_training_lowers_the_test_regret(data, untrained_score, method, solve_ratio):
    X, C, X_test, C_test = data
    est = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method=method, max_iter=10,
                                   solve_ratio=solve_ratio, random_state=0).fit(X, C)
    # Normalized regret 0.08 to 0.32 against 0.55 untrained.
    assert est.score(X_test, C_test) > untrained_score + 0.15
    loss = est.net_.criterion_.loss
    optima = as_set(ShortestPath(grid=(5, 5)).solve(C))
    assert optima < as_set(loss.pool.decisions.numpy())
    if solve_ratio < 1:
        assert est.net_.criterion_.solver.pool is loss.pool


@pytest.mark.parametrize("method, grid", [("ltr-list", {"tau": [0.5, 2.0]}),
                                          ("ltr-pair", {"solve_ratio": [0.3, 1.0]}),
                                          ("ltr-point", {"solve_ratio": [0.3, 1.0]})])
def test_grid_search_and_determinism(data, method, grid):
    X, C, _, _ = data
    search = GridSearchCV(
        DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method=method, max_iter=2,
                                 random_state=0), grid, cv=KFold(2)).fit(X[:100], C[:100])
    (name, values), = grid.items()
    assert search.best_params_[name] in values
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.net_.criterion_.loss.method_name == method
    fits = [DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method=method, max_iter=2,
                                     solve_ratio=0.5, random_state=7).fit(X, C)
            for _ in range(2)]
    np.testing.assert_array_equal(fits[0].predict(X), fits[1].predict(X))


@pytest.mark.parametrize("method", ["ltr-point", "ltr-pair", "ltr-list"])
def test_training_with_a_k_per_row(method):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 4))
    y = X @ rng.normal(size=(4, 8)) + 0.3 * rng.normal(size=(120, 8))
    k = rng.randint(1, 7, size=120)
    untrained = DecisionFocusedRegressor(KSubset(k=3), max_iter=1, learning_rate_init=1e-9,
                                         random_state=0).fit(X[:80], y[:80], k=k[:80])
    est = DecisionFocusedRegressor(KSubset(k=3), method=method, max_iter=15, solve_ratio=0.3,
                                   random_state=0).fit(X[:80], y[:80], k=k[:80])
    np.testing.assert_array_equal(est.decide(X[80:], k=k[80:]).sum(1), k[80:])
    assert (est.score(X[80:], y[80:], k=k[80:])
            > untrained.score(X[80:], y[80:], k=k[80:]) + 0.1)
