"""The solution pool (solve_ratio) against plain loops, and its wiring into training."""

import pickle

import numpy as np
import pytest
import torch

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.methods import PooledSolver, SolutionPool
from skdfl.optimizers import KSubset, ShortestPath

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_pool_is_deduplicated_and_grows():
    pool = SolutionPool(torch.tensor([[1.0, 0.0, 1.0], [1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]))
    assert len(pool) == 2
    pool.add(torch.tensor([[0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [float("nan"), 0.0, 0.0]]))
    assert len(pool) == 3
    assert {tuple(r) for r in pool.decisions.tolist()} == {(1, 0, 1), (0, 1, 1), (1, 1, 0)}


@pytest.mark.parametrize("fraction_at", [None, 3])
def test_pool_holds_each_finite_decision_seen_once(fraction_at):
    # Oracle: the set of finite rows added so far. Batches repeat decisions
    # (within and across batches), carry NaN rows and, from batch
    # ``fraction_at`` on, fractional rows (the pool then sorts instead of keying).
    rng = np.random.RandomState(0)
    first = torch.tensor(rng.randint(0, 3, size=(4, 5)), dtype=torch.float64)
    pool, seen = SolutionPool(first), {tuple(r) for r in first.tolist()}
    for step in range(8):
        batch = torch.tensor(rng.randint(0, 3, size=(12, 5)), dtype=torch.float64)
        batch[rng.randint(12, size=4)] = batch[rng.randint(12, size=4)]
        batch[rng.randint(12)] = float("nan")
        if fraction_at is not None and step >= fraction_at:
            batch[rng.randint(12)] = 0.5
        pool.add(batch)
        seen |= {tuple(r) for r in batch.tolist() if np.isfinite(r).all()}
        rows = [tuple(r) for r in pool.decisions.tolist()]
        assert len(rows) == len(set(rows)) and set(rows) == seen
    assert len(pickle.loads(pickle.dumps(pool))) == len(seen)


def test_decisions_like_follows_the_pool():
    pool = SolutionPool(torch.tensor([[1.0, 0.0]], dtype=torch.float64))
    like = torch.zeros(1, dtype=torch.float32)
    first = pool.decisions_like(like)
    assert first.dtype == torch.float32 and pool.decisions_like(like) is first   # kept
    pool.add(torch.tensor([[1.0, 0.0]]))                   # nothing new: still kept
    assert pool.decisions_like(like) is first
    pool.add(torch.tensor([[0.0, 1.0]]))
    assert pool.decisions_like(like).tolist() == pool.decisions.tolist() == [[1, 0], [0, 1]]
    pool.add(torch.tensor([[0.5, 0.5]]))                   # fractional: sorted again
    assert pool.decisions_like(like).tolist() == pool.decisions.tolist()
    assert len(pool) == 3


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_best_equals_a_plain_loop(sign):
    rng = np.random.RandomState(0)
    decisions = torch.tensor(rng.randint(0, 2, size=(15, 6)), dtype=torch.float64)
    pool = SolutionPool(decisions)
    theta = torch.tensor(rng.normal(size=(20, 6)))
    feasible = torch.tensor(rng.rand(20, len(pool)) < 0.6)
    feasible[3] = False
    got = pool.best(theta, sign, feasible)
    for i in range(20):
        options = [d for d, ok in zip(pool.decisions, feasible[i]) if ok]
        if not options:
            assert torch.isnan(got[i]).all()
            continue
        values = [float(sign * theta[i] @ d) for d in options]
        assert float(sign * theta[i] @ got[i]) == pytest.approx(min(values))


class _Counting(KSubset):
    calls = 0

    def _solve(self, theta, **params):
        type(self).calls += 1
        return super()._solve(theta, **params)


def test_pooled_solver_solves_at_the_given_ratio_and_honours_per_row_params():
    optimizer = _Counting(k=2, n_items=5)
    rng = np.random.RandomState(1)
    k = torch.tensor(rng.randint(1, 5, size=40))
    theta = torch.tensor(rng.normal(size=(40, 5)))
    pool = SolutionPool(optimizer._solve(theta, k=k))
    _Counting.calls = 0
    solver = PooledSolver(optimizer, pool, solve_ratio=0.0, random_state=0)
    x = solver._solve(theta + 0.1, k=k)
    assert _Counting.calls == 0                       # every row found a feasible entry
    np.testing.assert_array_equal(x.sum(1).numpy(), k.numpy())
    solver = PooledSolver(optimizer, pool, solve_ratio=0.3, random_state=0)
    for _ in range(200):
        solver._solve(theta[:4], k=k[:4])
    assert 40 <= _Counting.calls <= 80                # about 30% of 200 calls
    assert solver.sign == optimizer.sign and solver.n_vars == 5


def test_rows_without_a_feasible_entry_are_solved():
    optimizer = KSubset(k=2, n_items=4)
    pool = SolutionPool(torch.tensor([[1.0, 1.0, 0.0, 0.0]]))
    solver = PooledSolver(optimizer, pool, solve_ratio=0.0, random_state=0)
    theta = torch.tensor([[0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0]])
    x = solver._solve(theta, k=torch.tensor([2, 3]))
    assert x.tolist() == [[1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 1.0]]
    assert len(pool) == 2


@pytest.fixture(scope="module")
def data():
    return make_shortest_path(160, degree=4, noise_width=0.5, random_state=0)


@pytest.mark.parametrize("method", ["spo+", "dbb", "fy"])
def test_solve_ratio_one_is_bitwise_the_plain_fit(data, method):
    X, C = data
    plain = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method=method, max_iter=3,
                                     random_state=0).fit(X, C)
    pooled = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method=method, max_iter=3,
                                      solve_ratio=1.0, random_state=0).fit(X, C)
    np.testing.assert_array_equal(plain.predict(X), pooled.predict(X))


@pytest.mark.parametrize("method", ["spo+", "dbb", "imle", "fy"])
def test_a_small_solve_ratio_still_trains(data, method):
    X, C = data
    est = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method=method, solve_ratio=0.1,
                                   max_iter=15, n_iter_no_change=15, random_state=0)
    est.fit(X[:120], C[:120])
    # Better than deciding with random costs, by a wide margin.
    random = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), max_iter=1, random_state=0,
                                      learning_rate_init=1e-9).fit(X[:120], C[:120])
    assert est.score(X[120:], C[120:]) > random.score(X[120:], C[120:]) + 0.05


class _Unchecked(KSubset):
    def pool_feasible(self, decisions, **params):
        return None


def test_solve_ratio_with_params_needs_a_feasibility_check():
    rng = np.random.RandomState(0)
    X, y, k = rng.normal(size=(30, 3)), rng.normal(size=(30, 4)), rng.randint(1, 4, 30)
    est = DecisionFocusedRegressor(_Unchecked(k=2), solve_ratio=0.5, max_iter=1)
    with pytest.raises(ValueError, match="cannot tell which of them suit a row"):
        est.fit(X, y, k=k)
    est = DecisionFocusedRegressor(KSubset(k=2), solve_ratio=0.5, max_iter=2, random_state=0)
    np.testing.assert_array_equal(est.fit(X, y, k=k).decide(X, k=k).sum(1), k)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "half"])
def test_solve_ratio_is_checked(data, bad):
    X, C = data
    with pytest.raises((ValueError, TypeError), match="solve_ratio"):
        DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), solve_ratio=bad).fit(X, C)


def test_a_fit_with_a_pool_pickles(data):
    import pickle

    X, C = data
    est = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), solve_ratio=0.5, max_iter=2,
                                   random_state=0).fit(X, C)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
