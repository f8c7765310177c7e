"""scikit-learn conventions: estimator checks, clone, pickle, pipelines, search."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.metrics import make_regret_scorer, regret
from skdfl.optimizers import KSubset, ShortestPath

EXPECTED_FAILED_CHECKS = {
    "check_regressors_train": (
        "score is minus the normalized regret, which is at most 0; the check asks for an "
        "R^2 above 0.5"),
}


@parametrize_with_checks(
    [DecisionFocusedRegressor(KSubset(k=1), max_iter=3, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data():
    X, C = make_shortest_path(120, degree=2, noise_width=0.5, random_state=0)
    return X, C


def small(method="spo+", **params):
    params = {"max_iter": 3, "random_state": 0, **params}
    return DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method=method, **params)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_clone_and_pickle_round_trip(data):
    X, C = data
    est = small().fit(X, C)
    copy = clone(est)
    assert copy.get_params()["optimizer"] is not est.optimizer
    assert not hasattr(copy, "net_")
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.decide(X), est.decide(X))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))


@pytest.mark.parametrize("method_name", ["predict", "decide", "score"])
def test_not_fitted_error(data, method_name):
    X, C = data
    args = (X, C) if method_name == "score" else (X,)
    with pytest.raises(NotFittedError):
        getattr(small(), method_name)(*args)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pipeline_with_scaler(data):
    X, C = data
    pipe = Pipeline([("scale", StandardScaler()), ("dfl", small())]).fit(X, C)
    theta_hat = pipe.predict(X)
    assert theta_hat.shape == C.shape
    assert pipe.score(X, C) == pytest.approx(
        -regret(C, theta_hat, optimizer=ShortestPath(grid=(5, 5))))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_cross_validate_with_regret_scorer(data):
    X, C = data
    scorer = make_regret_scorer(ShortestPath(grid=(5, 5)))
    result = cross_validate(small(), X, C, scoring=scorer, cv=KFold(3),
                            return_estimator=True)
    assert result["test_score"].shape == (3,)
    assert np.all(result["test_score"] <= 0)
    # the scorer and the estimator's own score agree
    est = result["estimator"][0]
    _, test = next(KFold(3).split(X))
    assert result["test_score"][0] == pytest.approx(est.score(X[test], C[test]))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_dbb_over_lambd_and_learning_rate(data):
    X, C = data
    grid = {"lambd": [1.0, 10.0], "learning_rate_init": [0.01, 0.05]}
    search = GridSearchCV(small("dbb"), grid, cv=2).fit(X, C)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["lambd"] in grid["lambd"]
    assert search.best_estimator_.method_ == "dbb"
    assert search.best_score_ <= 0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_over_optimizer_parameter():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3))
    y = X @ rng.normal(size=(3, 6))
    est = DecisionFocusedRegressor(KSubset(k=1), max_iter=2, random_state=0)
    search = GridSearchCV(est, {"optimizer__k": [1, 3]}, cv=2).fit(X, y)
    assert search.best_estimator_.optimizer_.k in (1, 3)
