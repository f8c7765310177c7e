"""KSubset against brute force over every subset of size k."""

import itertools
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skdfl.optimizers import KSubset


def brute_force(theta, k):
    """Best value and every optimal 0/1 decision, by enumeration."""
    n = len(theta)
    best, argbest = -np.inf, []
    for subset in itertools.combinations(range(n), k):
        value = float(sum(theta[i] for i in subset))
        x = np.zeros(n)
        x[list(subset)] = 1.0
        if value > best + 1e-12:
            best, argbest = value, [x]
        elif abs(value - best) <= 1e-12:
            argbest.append(x)
    return best, argbest


def assert_feasible(x, k):
    x = np.asarray(x)
    assert np.isin(x, (0.0, 1.0)).all()
    np.testing.assert_array_equal(x.sum(-1), k)


@pytest.mark.parametrize("n", range(1, 8))
def test_matches_brute_force(n):
    rng = np.random.default_rng(n)
    theta = rng.normal(size=(6, n))
    for k in range(1, n + 1):
        x = KSubset(k=k).solve(theta)
        assert_feasible(x, k)
        for row, t in zip(x, theta):
            best, argbest = brute_force(t, k)
            assert len(argbest) == 1                     # continuous draws: no ties
            np.testing.assert_array_equal(row, argbest[0])
            assert float(row @ t) == pytest.approx(best)


@pytest.mark.parametrize("n", [3, 5, 7])
def test_ties_reach_the_brute_force_optimum(n):
    rng = np.random.default_rng(10 + n)
    theta = rng.integers(-1, 2, size=(20, n)).astype(float)
    for k in range(1, n + 1):
        opt = KSubset(k=k, n_items=n)
        x = opt.solve(theta)
        assert_feasible(x, k)
        values = opt.objective(x, theta)
        for value, t in zip(values, theta):
            assert value == brute_force(t, k)[0]


def test_all_equal_values():
    x = KSubset(k=2).solve(np.full((3, 5), 0.7))
    assert_feasible(x, 2)


def test_k_equals_n_chooses_everything():
    theta = np.random.default_rng(0).normal(size=(4, 6))
    np.testing.assert_array_equal(KSubset(k=6).solve(theta), np.ones((4, 6)))
    np.testing.assert_array_equal(KSubset(k=6, n_items=6).solve(theta), np.ones((4, 6)))


def test_negative_values_still_choose_exactly_k():
    x = KSubset(k=2).solve(np.array([-3.0, -1.0, -2.0, -5.0]))
    np.testing.assert_array_equal(x, [0.0, 1.0, 1.0, 0.0])


def test_sense_and_objective():
    opt = KSubset(k=2)
    assert opt.sense == "maximize" and opt.is_linear and opt.sign == -1.0
    theta = np.array([[3.0, -1.0, 2.0, 0.5], [0.0, 4.0, 1.0, 2.0]])
    x = opt.solve(theta)
    np.testing.assert_array_equal(x, [[1, 0, 1, 0], [0, 1, 0, 1]])
    np.testing.assert_allclose(opt.objective(x, theta), [5.0, 6.0])


def test_n_items_none_takes_the_width_of_theta():
    opt = KSubset(k=2)
    assert opt.n_params is None and opt.n_vars is None
    assert opt.solve(np.ones((2, 3))).shape == (2, 3)
    assert opt.solve(np.ones((2, 9))).shape == (2, 9)
    assert opt.n_items is None          # solve does not bind the user's object
    assert opt.with_n_params(5).n_params == 5


def test_n_items_given_fixes_the_width():
    opt = KSubset(k=2, n_items=4)
    assert opt.n_params == opt.n_vars == 4
    assert opt.solve(np.ones(4)).shape == (4,)
    with pytest.raises(ValueError, match="theta.*4"):
        opt.solve(np.ones((2, 5)))
    with pytest.raises(ValueError, match="y.*4"):
        opt.with_n_params(3)


@pytest.mark.parametrize("n_items,error", [(0, ValueError), (-2, ValueError), (2.5, TypeError),
                                           (True, TypeError), ("3", TypeError)])
def test_bad_n_items(n_items, error):
    with pytest.raises(error, match="n_items"):
        KSubset(k=1, n_items=n_items).n_params
    with pytest.raises(error, match="n_items"):
        KSubset(k=1, n_items=n_items).solve(np.ones(3))


@pytest.mark.parametrize("n_items", [None, 3])
def test_k_larger_than_n(n_items):
    with pytest.raises(ValueError, match="k.*at most"):
        KSubset(k=4, n_items=n_items).solve(np.ones((2, 3)))


@pytest.mark.parametrize("k,error", [(0, ValueError), (-1, ValueError), (1.5, TypeError),
                                     (True, TypeError), (None, TypeError)])
def test_bad_k(k, error):
    with pytest.raises(error, match="k"):
        KSubset(k=k).solve(np.ones((2, 3)))


def test_tensor_in_tensor_out_keeps_dtype():
    theta = torch.tensor([[0.1, 0.9, 0.5]], dtype=torch.float32)
    x = KSubset(k=2).solve(theta)
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
    torch.testing.assert_close(x, torch.tensor([[0.0, 1.0, 1.0]]))


def test_clone_get_params_and_pickle():
    opt = KSubset(k=2, n_items=5)
    assert opt.get_params() == {"k": 2, "n_items": 5}
    other = clone(opt).set_params(k=3)
    assert other.k == 3 and opt.k == 2
    theta = np.random.default_rng(0).normal(size=(3, 5))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(opt)).solve(theta), opt.solve(theta))



# ------------------------------------------------------------ a k per row

@pytest.mark.parametrize("n", [1, 4, 7])
def test_per_row_k_matches_brute_force(n):
    rng = np.random.default_rng(20 + n)
    theta = np.vstack([rng.normal(size=(12, n)), rng.integers(-1, 2, size=(12, n))])
    k = rng.integers(0, n + 1, size=len(theta))
    opt = KSubset(k=1, n_items=n)
    x = opt.solve(theta, k=k)
    assert_feasible(x, k)
    values = opt.objective(x, theta, k=k)
    for i, (row, t) in enumerate(zip(x, theta)):
        best, argbest = brute_force(t, k[i])
        assert values[i] == pytest.approx(best, abs=1e-12)
        if i < 12 and k[i] > 0:                        # continuous draws: one optimum
            np.testing.assert_array_equal(row, argbest[0])


def test_per_row_k_equal_to_the_largest_gives_the_fixed_decision():
    # Ties on purpose: a row whose k is the batch's largest gets exactly the
    # decision of the fixed path with that k (the same topk).
    rng = np.random.default_rng(3)
    theta = rng.integers(0, 3, size=(40, 30)).astype(float)
    k = rng.integers(1, 12, size=40)
    k[::5] = 12
    x = KSubset(k=1, n_items=30).solve(theta, k=k)
    fixed = KSubset(k=12, n_items=30).solve(theta)
    np.testing.assert_array_equal(x[k == 12], fixed[k == 12])
    assert_feasible(x, k)


def test_per_row_k_without_the_cached_staircase(monkeypatch):
    # Wide rows build each row's mask by a comparison instead: the same decisions.
    from skdfl.optimizers import _k_subset

    rng = np.random.default_rng(4)
    theta = torch.as_tensor(rng.normal(size=(9, 20)), dtype=torch.float32)
    k = rng.integers(0, 21, size=9)
    expected = KSubset(k=1, n_items=20).solve(theta, k=k)
    monkeypatch.setattr(_k_subset, "_STAIRS_MAX", 5)
    got = KSubset(k=1, n_items=20).solve(theta, k=k)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert_feasible(got, k)


def test_per_row_k_all_zero_and_empty_batch():
    opt = KSubset(k=2, n_items=4)
    np.testing.assert_array_equal(opt.solve(np.ones((3, 4)), k=[0, 0, 0]), np.zeros((3, 4)))
    empty = opt._solve(torch.zeros(0, 4, dtype=torch.float64), k=torch.zeros(0, dtype=torch.long))
    assert empty.shape == (0, 4)
