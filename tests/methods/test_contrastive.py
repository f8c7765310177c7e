"""NCE and CMAP against the paper's formulas in plain loops, the pool, and training."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.model_selection import GridSearchCV, KFold

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.methods import (ContrastiveMAP, NoiseContrastiveEstimation, PooledSolver,
                           SolutionPool)
from skdfl.methods._registry import make_loss
from skdfl.optimizers import KSubset, ShortestPath
from tests.methods._pool_cases import (as_set, brute_force_k_subset, call, mixed_pool_case,
                                       per_row_loop, pool_rows, tiny_case)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def nce_row(sign):
    """Mulamba et al.: mean over the pool of sign * theta_hat @ (x* - x')."""
    def row(theta_hat, theta, x_true, entries):
        return np.mean([sign * (theta_hat @ x_true - theta_hat @ d) for d in entries])
    return row


def cmap_row(sign):
    """Mulamba et al.: the largest sign * theta_hat @ (x* - x') over the pool."""
    def row(theta_hat, theta, x_true, entries):
        return max(sign * (theta_hat @ x_true - theta_hat @ d) for d in entries)
    return row


def nce_gradient(theta_hat, x_true, pool, sign, feasible=None):
    grad = np.zeros_like(theta_hat)
    for i in range(len(theta_hat)):
        entries = [d for j, d in enumerate(pool) if feasible is None or feasible[i][j]]
        grad[i] = sign * (x_true[i] - np.mean(entries, axis=0))
    return grad / len(theta_hat)


def cmap_gradient(theta_hat, x_true, pool, sign, feasible=None):
    grad = np.zeros_like(theta_hat)
    for i in range(len(theta_hat)):
        entries = [d for j, d in enumerate(pool) if feasible is None or feasible[i][j]]
        best = min(entries, key=lambda d: sign * (theta_hat[i] @ d))
        grad[i] = sign * (x_true[i] - best)
    return grad / len(theta_hat)


@pytest.mark.parametrize("sense", ["maximize", "minimize"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_losses_and_gradients_equal_the_papers_formulas(sense, seed):
    optimizer, theta, theta_hat, x_true, initial, expected = tiny_case(sense, seed)
    sign = optimizer.sign
    for cls, row, gradient in [(NoiseContrastiveEstimation, nce_row, nce_gradient),
                               (ContrastiveMAP, cmap_row, cmap_gradient)]:
        loss = cls(optimizer, pool=SolutionPool(torch.as_tensor(initial)))
        value, grad = call(loss, theta_hat, theta, x_true)
        # The pool grew by the true decisions and the decisions under theta_hat.
        assert as_set(pool_rows(loss)) == as_set(expected)
        assert value == pytest.approx(per_row_loop(row(sign), theta_hat, theta, x_true,
                                                   expected))
        np.testing.assert_allclose(grad, gradient(theta_hat, x_true, expected, sign),
                                   atol=1e-12)


def test_cmap_is_zero_exactly_when_the_truth_wins_the_pool():
    optimizer, theta, _, x_true, initial, _ = tiny_case("minimize", 3)
    loss = ContrastiveMAP(optimizer, pool=SolutionPool(torch.as_tensor(initial)))
    assert call(loss, theta, theta, x_true)[0] == 0.0
    value = call(loss, theta[:, ::-1].copy(), theta, x_true)[0]
    assert value > 0.0


def test_the_pool_grows_with_every_solve_and_is_deduplicated():
    optimizer = KSubset(k=2, n_items=5)
    rng = np.random.RandomState(4)
    theta = rng.normal(size=(6, 5))
    loss = NoiseContrastiveEstimation(optimizer)             # its own pool
    theta_hat = rng.normal(size=(6, 5))
    call(loss, theta_hat, theta, brute_force_k_subset(theta, 2))
    seen = as_set(np.vstack([brute_force_k_subset(theta, 2),
                             brute_force_k_subset(theta_hat, 2)]))
    assert as_set(pool_rows(loss)) == seen and len(loss.pool) == len(seen)
    size = len(loss.pool)
    call(loss, theta_hat, theta, brute_force_k_subset(theta, 2))   # nothing new
    assert len(loss.pool) == size
    other = -theta_hat
    call(loss, other, theta, brute_force_k_subset(theta, 2))
    seen |= as_set(brute_force_k_subset(other, 2))
    assert as_set(pool_rows(loss)) == seen and len(loss.pool) == len(seen) > size
    # A diverging prediction gives a NaN loss and adds nothing.
    bad = theta_hat.copy()
    bad[0, 0] = np.nan
    value, _ = call(loss, bad, theta, brute_force_k_subset(theta, 2))
    assert np.isnan(value) and torch.isfinite(loss.pool.decisions).all()


@pytest.mark.parametrize("solve_ratio", [0.0, 1.0])
def test_a_pooled_solver_on_the_same_pool_grows_it_once(solve_ratio):
    optimizer = KSubset(k=2, n_items=5)
    rng = np.random.RandomState(8)
    theta, theta_hat = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    x_true = brute_force_k_subset(theta, 2)
    pool = SolutionPool(torch.as_tensor(x_true))                # seeded as in training
    solver = PooledSolver(optimizer, pool, solve_ratio, random_state=0)
    loss = NoiseContrastiveEstimation(optimizer, pool=pool)
    value = loss.batch_loss(torch.as_tensor(theta_hat), torch.as_tensor(theta),
                            torch.as_tensor(x_true), solver)
    grown = as_set(x_true) | (as_set(brute_force_k_subset(theta_hat, 2)) if solve_ratio
                              else set())
    assert as_set(pool.decisions) == grown
    assert float(value) == pytest.approx(per_row_loop(nce_row(-1.0), theta_hat, theta,
                                                      x_true, sorted(grown)))


def test_a_given_pool_is_shared_and_grown_in_place():
    optimizer = KSubset(k=1, n_items=3)
    pool = SolutionPool(torch.tensor([[1.0, 0.0, 0.0]]))
    loss = ContrastiveMAP(optimizer, pool=pool)
    loss(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[0.0, 1.0, 0.0]]))
    assert loss.pool is pool and as_set(pool.decisions) == as_set(np.eye(3))


@pytest.mark.parametrize("pooled", [False, True])
def test_in_evaluation_mode_the_pool_is_only_read(pooled):
    optimizer = KSubset(k=1, n_items=3)
    pool = SolutionPool(torch.tensor([[1.0, 0.0, 0.0]]))
    solver = PooledSolver(optimizer, pool, 1.0, random_state=0) if pooled else optimizer
    loss = ContrastiveMAP(optimizer, pool=pool).eval()
    theta_hat, theta = torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[0.0, 1.0, 0.0]])
    x_true = torch.tensor([[0.0, 1.0, 0.0]])
    value = loss.batch_loss(theta_hat, theta, x_true, solver)
    # x* is not pooled: the best gap, to [1, 0, 0], is negative and clamps at 0.
    assert len(pool) == 1 and float(value) == 0.0
    loss.train()
    value = loss.batch_loss(theta_hat, theta, x_true, solver)
    grown = {(0.0, 0.0, 1.0)} | ({(1.0, 0.0, 0.0)} if pooled else {(1.0, 0.0, 0.0),
                                                                      (0.0, 1.0, 0.0)})
    assert as_set(pool.decisions) == grown


def test_validation_batches_do_not_join_the_training_pool(monkeypatch):
    # skorch scores the validation batches under no_grad, in evaluation mode;
    # every decision that joins the pool must come from a training batch.
    adds = []
    add = SolutionPool.add
    monkeypatch.setattr(SolutionPool, "add", lambda self, decisions: (
        adds.append(torch.is_grad_enabled()), add(self, decisions))[1])
    X, C = make_shortest_path(60, grid=(3, 3), degree=2, random_state=0)[:2]
    DecisionFocusedRegressor(ShortestPath(grid=(3, 3)), method="ltr-pair",
                             early_stopping=True, validation_fraction=0.5, max_iter=2,
                             n_iter_no_change=None, random_state=0).fit(X, C)
    assert len(adds) == 2 * 1 and all(adds)    # one training batch of 30 per epoch


@pytest.mark.parametrize("cls, row, gradient", [
    (NoiseContrastiveEstimation, nce_row, nce_gradient),
    (ContrastiveMAP, cmap_row, cmap_gradient)])
def test_per_row_k_keeps_only_pool_entries_with_that_count(cls, row, gradient):
    k, theta, theta_hat, x_true, initial, pool, feasible = mixed_pool_case(5)
    assert not feasible.all()
    loss = cls(KSubset(k=2, n_items=5), pool=SolutionPool(torch.as_tensor(initial)))
    value, grad = call(loss, theta_hat, theta, x_true, k=torch.as_tensor(k))
    assert as_set(pool_rows(loss)) == as_set(pool)
    expected = per_row_loop(row(-1.0), theta_hat, theta, x_true, pool, feasible)
    assert value == pytest.approx(expected)
    unmasked = per_row_loop(row(-1.0), theta_hat, theta, x_true, pool)
    assert abs(expected - unmasked) > 1e-3                   # the mask changes the loss
    np.testing.assert_allclose(grad, gradient(theta_hat, x_true, pool, -1.0, feasible),
                               atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([NoiseContrastiveEstimation, ContrastiveMAP]))
def test_a_batch_with_per_row_k_equals_each_row_alone(seed, cls):
    k, theta, theta_hat, x_true, initial, _, _ = mixed_pool_case(seed)
    args = [torch.as_tensor(a) for a in (theta_hat, theta, x_true)]
    loss = cls(KSubset(k=2, n_items=5), pool=SolutionPool(torch.as_tensor(initial)))
    loss(*args, k=torch.as_tensor(k))                        # grow the pool once
    batched = float(loss(*args, k=torch.as_tensor(k)))
    alone = []
    for i in range(len(k)):
        entries = loss.pool.decisions[loss.pool.decisions.sum(1) == k[i]]
        single = cls(KSubset(k=int(k[i]), n_items=5), pool=SolutionPool(entries))
        alone.append(float(single(*(a[i:i + 1] for a in args))))
    assert batched == pytest.approx(np.mean(alone))


class _Unchecked(KSubset):
    def pool_feasible(self, decisions, **params):
        return None


@pytest.mark.parametrize("cls", [NoiseContrastiveEstimation, ContrastiveMAP])
def test_params_without_a_feasibility_check_are_refused(cls):
    loss = cls(_Unchecked(k=2, n_items=4))
    theta = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    with pytest.raises(ValueError, match=r"\['k'\].*checks pool feasibility"):
        loss(theta, theta, k=torch.tensor([2]))
    assert float(loss(theta, theta)) == 0.0                # without params it trains


def test_the_registry_builds_them_on_the_given_pool():
    pool = SolutionPool(torch.eye(3))
    for name, cls in [("nce", NoiseContrastiveEstimation), ("cmap", ContrastiveMAP)]:
        loss = make_loss(name, KSubset(k=1), pool=pool, tau=3.0, lambd=1.0)
        assert type(loss) is cls and loss.pool is pool


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


@pytest.mark.parametrize("method", ["nce", "cmap"])
@pytest.mark.parametrize("solve_ratio", [0.1, 1.0])
def test_training_lowers_the_test_regret(data, untrained_score, method, solve_ratio):
    X, C, X_test, C_test = data
    est = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method=method, max_iter=10,
                                   solve_ratio=solve_ratio, random_state=0).fit(X, C)
    # Regret about 0.15 against 0.55 untrained (normalized).
    assert est.score(X_test, C_test) > untrained_score + 0.2
    loss = est.net_.criterion_.loss
    # The loss read the training pool: every training optimum, and more.
    optima = as_set(ShortestPath(grid=(5, 5)).solve(C))
    assert optima < as_set(loss.pool.decisions.numpy())
    if solve_ratio < 1:
        assert est.net_.criterion_.solver.pool is loss.pool


@pytest.mark.parametrize("method", ["nce", "cmap"])
def test_grid_search_over_solve_ratio_and_determinism(data, method):
    X, C, _, _ = data
    search = GridSearchCV(
        DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method=method, max_iter=2,
                                 random_state=0),
        {"solve_ratio": [0.3, 1.0]}, cv=KFold(2)).fit(X[:100], C[:100])
    assert search.best_params_["solve_ratio"] in (0.3, 1.0)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    fits = [DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method=method, max_iter=2,
                                     solve_ratio=0.5, random_state=7).fit(X, C)
            for _ in range(2)]
    np.testing.assert_array_equal(fits[0].predict(X), fits[1].predict(X))


@pytest.mark.parametrize("method", ["nce", "cmap"])
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


@pytest.mark.parametrize("name", ["nce", "cmap", "ltr-point", "ltr-pair", "ltr-list"])
def test_pool_loss_without_a_mask_equals_an_all_true_mask(name):
    # Without per-instance parameters the losses get feasible=None and skip
    # the masking: the same values and gradients as a mask that keeps all.
    rng = np.random.RandomState(3)
    optimizer = KSubset(k=2, n_items=5)
    loss = make_loss(name, optimizer)
    theta = torch.tensor(rng.normal(size=(6, 5)))
    x_true = optimizer._solve(theta)
    decisions = torch.cat([x_true, optimizer._solve(torch.tensor(rng.normal(size=(6, 5))))])
    predictions, results = rng.normal(size=(6, 5)), []
    for feasible in (None, torch.ones(6, len(decisions), dtype=torch.bool)):
        theta_hat = torch.tensor(predictions, requires_grad=True)
        value = loss.pool_loss(theta_hat, theta, x_true, decisions, feasible)
        value.sum().backward()
        results.append((value.detach(), theta_hat.grad))
    torch.testing.assert_close(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1])
