"""Estimator-level checks shared by the method families' tests.

Each method must train on a small shortest-path problem, search its
hyperparameters with ``GridSearchCV``, and be reproducible with a seed.
"""

import functools
import pickle

import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.metrics import make_regret_scorer
from skdfl.optimizers import ShortestPath

N_TRAIN = 150


@functools.cache
def shortest_paths():
    return make_shortest_path(200, degree=4, noise_width=0.5, random_state=0)


def regressor(method, **params):
    settings = dict(method=method, max_iter=8, n_iter_no_change=8, random_state=0)
    settings.update(params)
    return DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), **settings)


@functools.cache
def untrained_test_regret():
    X, C = shortest_paths()
    est = regressor("spo+", max_iter=1, learning_rate_init=1e-9)
    return -est.fit(X[:N_TRAIN], C[:N_TRAIN]).score(X[N_TRAIN:], C[N_TRAIN:])


def trained_regret(method, **params):
    """Normalized test regret after a short training run (a few epochs)."""
    X, C = shortest_paths()
    est = regressor(method, **params).fit(X[:N_TRAIN], C[:N_TRAIN])
    assert np.isfinite(est.loss_curve_).all()
    return -est.score(X[N_TRAIN:], C[N_TRAIN:])


def assert_lowers_regret(method, margin=0.1, **params):
    """Training lowers the test regret of an untrained model by ``margin`` at least."""
    trained, untrained = trained_regret(method, **params), untrained_test_regret()
    assert trained < untrained - margin, (method, trained, untrained)
    return trained


def assert_grid_search_runs(method, grid, **params):
    """A 2-fold grid search over ``grid`` scores every candidate and refits the best."""
    X, C = shortest_paths()
    search = GridSearchCV(regressor(method, max_iter=2, **params), grid, cv=KFold(2),
                          scoring=make_regret_scorer(ShortestPath(grid=(5, 5))))
    search.fit(X[:60], C[:60])
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.method_ == method
    return search


def assert_deterministic(method, **params):
    """Two fits with the same seed predict the same parameters, bit for bit (and pickle)."""
    X, C = shortest_paths()
    fitted = regressor(method, max_iter=2, **params).fit(X[:60], C[:60])
    first = fitted.predict(X[60:90])
    second = regressor(method, max_iter=2, **params).fit(X[:60], C[:60]).predict(X[60:90])
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(fitted)).predict(X[60:90]), first)
    other = regressor(method, max_iter=2, random_state=1, **params).fit(X[:60], C[:60])
    assert not np.array_equal(first, other.predict(X[60:90]))
