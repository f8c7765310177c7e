"""The pool losses stop on their loss against the pool as training began."""

import numpy as np
import pytest
import torch

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_knapsack
from skdfl.methods import ListwiseRankingLoss, SolutionPool
from skdfl.optimizers import Knapsack


def _knapsack(n=60):
    X, C, weights = make_knapsack(n, n_items=10, degree=4, noise_width=0.5, random_state=0)
    return X, C, Knapsack(weights, int(weights.sum()) // 2)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_stopping_measure_is_the_listwise_loss_against_the_training_optima():
    X, C, optimizer = _knapsack()
    est = DecisionFocusedRegressor(optimizer, method="ltr-list", max_iter=6,
                                   n_iter_no_change=50, random_state=0).fit(X, C)
    recorded = est.net_.history[:, "train_pool_loss"]
    assert len(recorded) == est.n_iter_ == 6
    # Recomputed independently: the listwise loss of the fitted model's predictions,
    # on the rescaled costs training uses, against a pool of the training optima only.
    theta = torch.as_tensor(C / est.target_scale_)
    theta_hat = torch.as_tensor(est.predict(X) / est.target_scale_)
    pool = SolutionPool(optimizer.solve(theta))
    loss = ListwiseRankingLoss(optimizer, pool=pool, tau=1.0).eval()
    assert recorded[-1] == pytest.approx(float(loss(theta_hat, theta)), rel=1e-4)
    # The batches' loss reads a pool that grew with every solve: a larger one.
    assert len(est.net_.criterion_.loss.pool) > len(pool)


def test_a_pool_method_stops_when_that_measure_stalls():
    X, C, optimizer = _knapsack()
    patience, tol = 3, 1e-3
    est = DecisionFocusedRegressor(optimizer, method="ltr-list", max_iter=200,
                                   n_iter_no_change=patience, tol=tol,
                                   random_state=0).fit(X, C)
    measure = np.asarray(est.net_.history[:, "train_pool_loss"])
    assert est.n_iter_ < 200
    # The last `patience` epochs did not improve it by tol, and the epoch before them did.
    best_before = measure[:-patience].min()
    assert measure[-patience:].min() > best_before - tol
    assert measure[-patience - 1] == best_before


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("method", ["spo+", ListwiseRankingLoss(Knapsack([1, 2], 2))])
def test_other_losses_and_own_loss_objects_keep_the_training_loss(method):
    X, C, optimizer = _knapsack(30)
    if not isinstance(method, str):
        method = ListwiseRankingLoss(optimizer)
    est = DecisionFocusedRegressor(optimizer, method=method, max_iter=3,
                                   random_state=0).fit(X, C)
    assert "train_pool_loss" not in est.net_.history[-1]


def test_no_measure_without_a_stopping_rule():
    X, C, optimizer = _knapsack(30)
    est = DecisionFocusedRegressor(optimizer, method="nce", max_iter=3, n_iter_no_change=None,
                                   random_state=0).fit(X, C)
    assert "train_pool_loss" not in est.net_.history[-1]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_large_training_set_is_measured_on_a_sample_with_each_rows_own_data(monkeypatch):
    from scipy import sparse

    import skdfl.estimators._pool_progress as progress
    monkeypatch.setattr(progress, "MAX_ROWS", 20)
    X, C, optimizer = _knapsack(60)
    capacity = np.random.RandomState(0).randint(5, int(optimizer.weights.sum()), 60)
    est = DecisionFocusedRegressor(optimizer, method="ltr-list", max_iter=3, random_state=0)
    est.fit(sparse.csr_matrix(X), C, capacity=capacity)
    callback = dict(est.net_.callbacks_)["pool_progress"]
    assert callback.X.shape[0] == len(callback.target) == 20
    # the sampled rows keep their own row index, hence their own capacity
    rows = callback.target[:, -1].long().numpy()
    assert len(np.unique(rows)) == 20 and rows.max() < 60
    assert np.isfinite(est.net_.history[:, "train_pool_loss"]).all()
