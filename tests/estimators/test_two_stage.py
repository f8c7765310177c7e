"""PredictThenOptimize: any regressor, then decide."""

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from skdfl import DecisionFocusedRegressor, PredictThenOptimize
from skdfl.datasets import make_shortest_path
from skdfl.metrics import regret
from skdfl.optimizers import Knapsack, KSubset, ShortestPath


@parametrize_with_checks(
    [PredictThenOptimize(LinearRegression(), KSubset(k=1))],
    expected_failed_checks=lambda est: {
        "check_regressors_train": "score is minus the regret (at most 0), not an R^2 above 0.5"},
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_decisions_are_the_optimizer_on_the_regressor_predictions():
    X, C = make_shortest_path(120, degree=2, random_state=0)
    model = PredictThenOptimize(Ridge(alpha=1.0), ShortestPath(grid=(5, 5))).fit(X, C)
    theta_hat = Ridge(alpha=1.0).fit(X, C).predict(X)
    np.testing.assert_allclose(model.predict(X), theta_hat)
    np.testing.assert_array_equal(model.decide(X), ShortestPath(grid=(5, 5)).solve(theta_hat))
    assert model.score(X, C) == pytest.approx(
        -regret(C, theta_hat, optimizer=ShortestPath(grid=(5, 5))))


def test_decide_and_score_in_chunks_equal_one_piece(monkeypatch):
    from skdfl.estimators import _base
    X, C = make_shortest_path(90, degree=2, random_state=3)
    model = PredictThenOptimize(Ridge(alpha=1.0), ShortestPath(grid=(5, 5))).fit(X, C)
    decisions, score = model.decide(X), model.score(X, C)
    monkeypatch.setattr(_base, "CHUNK_SIZE", 16)
    np.testing.assert_array_equal(model.decide(X), decisions)
    assert model.score(X, C) == pytest.approx(score, rel=1e-12)


def test_random_forest_and_grid_search():
    X, C = make_shortest_path(150, degree=4, random_state=1)
    search = GridSearchCV(
        PredictThenOptimize(RandomForestRegressor(n_estimators=5, random_state=0),
                            ShortestPath(grid=(5, 5))),
        {"regressor__max_depth": [2, None]}, cv=2).fit(X, C)
    assert search.best_score_ <= 0


def test_per_item_fits_one_row_per_item():
    rng = np.random.RandomState(0)
    coef = rng.normal(size=3)
    X = rng.normal(size=(40, 6 * 3))
    y = X.reshape(40, 6, 3) @ coef
    model = PredictThenOptimize(LinearRegression(), Knapsack([1] * 6, 3), per_item=True)
    model.fit(X, y)
    np.testing.assert_allclose(model.regressor_.coef_, coef)
    np.testing.assert_allclose(model.predict(X), y)
    with pytest.raises(ValueError, match="multiple of 6"):
        model.fit(X[:, :-1], y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_cross_validates_side_by_side_with_decision_focused_training():
    X, C = make_shortest_path(120, degree=6, noise_width=0.5, random_state=2)
    models = [PredictThenOptimize(LinearRegression(), ShortestPath(grid=(5, 5))),
              DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), max_iter=3, random_state=0)]
    scores = [cross_val_score(m, X, C, cv=3) for m in models]
    for s in scores:
        assert s.shape == (3,) and np.all((s <= 0) & (s > -1))


def test_errors():
    X, C = make_shortest_path(20, random_state=0)
    with pytest.raises(TypeError, match="optimizer must be an skdfl Optimizer"):
        PredictThenOptimize(LinearRegression(), "grid").fit(X, C)
    with pytest.raises(ValueError, match="y must have optimizer.n_params=40"):
        PredictThenOptimize(LinearRegression(), ShortestPath(grid=(5, 5))).fit(X, C[:, :5])
    C = C.copy()
    C[0, 0] = np.nan
    with pytest.raises(ValueError, match="y must contain only finite values"):
        PredictThenOptimize(LinearRegression(), ShortestPath(grid=(5, 5))).fit(X, C)


def test_per_item_with_several_parameters_per_item():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(30, 4 * 2))
    coef = rng.normal(size=(2, 3))
    y = np.clip(X.reshape(30, 4, 2) @ coef / 10 + 0.5, 0, 1).reshape(30, 12)
    from skdfl.optimizers import CoverageMaximizer

    model = PredictThenOptimize(LinearRegression(), CoverageMaximizer(2, 4, 3), per_item=True)
    np.testing.assert_allclose(model.fit(X, y).predict(X).shape, (30, 12))
