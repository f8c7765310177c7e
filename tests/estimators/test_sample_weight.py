"""sample_weight: in fit (every method), score, regret, the regret scorer, metadata routing."""

import numpy as np
import pytest
import sklearn
import torch
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.neighbors import KNeighborsRegressor

from skdfl import DecisionFocusedClassifier, DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.estimators import PredictThenOptimize
from skdfl.estimators._callbacks import ValidationRegret
from skdfl.methods import DecisionLoss
from skdfl.methods._registry import METHODS
from skdfl.metrics import make_regret_scorer, regret
from skdfl.optimizers import KSubset, ShortestPath

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GRID = ShortestPath(grid=(3, 3))


@pytest.fixture(scope="module")
def data():
    X, C = make_shortest_path(48, grid=(3, 3), degree=4, noise_width=0.5, random_state=0)
    weights = np.random.RandomState(1).randint(0, 4, size=len(X))
    weights[0] = 2   # at least one repeated row, whatever the draw
    return X, C, weights


def repeated(weights, *arrays):
    return [np.repeat(a, weights, axis=0) for a in arrays]


def small(method="spo+", **params):
    params = {"max_iter": 3, "random_state": 0, **params}
    return DecisionFocusedRegressor(GRID, method=method, **params)


# ---------------------------------------------------------------- regret, score

@pytest.mark.parametrize("reduction", ["normalized", "mean"])
def test_integer_weights_equal_repeated_rows_in_regret(data, reduction):
    X, C, w = data
    C_hat = C + np.random.RandomState(2).normal(size=C.shape)
    weighted = regret(C, C_hat, optimizer=GRID, sample_weight=w, reduction=reduction)
    C_rep, C_hat_rep = repeated(w, C, C_hat)
    assert weighted == pytest.approx(regret(C_rep, C_hat_rep, optimizer=GRID,
                                            reduction=reduction), rel=1e-12)
    ones = regret(C, C_hat, optimizer=GRID, sample_weight=np.ones(len(C)), reduction=reduction)
    assert ones == pytest.approx(regret(C, C_hat, optimizer=GRID, reduction=reduction),
                                 rel=1e-12)


def test_integer_weights_equal_repeated_rows_in_score(data):
    X, C, w = data
    X_rep, C_rep = repeated(w, X, C)
    est = small().fit(X, C)
    assert est.score(X, C, sample_weight=w) == pytest.approx(est.score(X_rep, C_rep),
                                                             rel=1e-12)
    ptoy = PredictThenOptimize(LinearRegression(), GRID).fit(X, C)
    assert ptoy.score(X, C, sample_weight=w) == pytest.approx(ptoy.score(X_rep, C_rep),
                                                              rel=1e-12)
    assert ptoy.score(X, C, sample_weight=list(w)) == ptoy.score(X, C, sample_weight=w)


@pytest.mark.parametrize("weights, match", [
    (-np.ones(48), "finite and non-negative; got -1.0 at row 0"),
    (np.r_[np.ones(47), np.nan], "finite and non-negative; got nan at row 47"),
    (np.ones(47), r"shape \(48,\), one weight per row of X; got shape \(47,\)"),
    (np.ones((48, 2)), r"shape \(48,\)"),
    (np.zeros(48), "must not be all zero"),
    (["a"] * 48, "sample_weight must be numeric"),
])
def test_bad_weights_get_a_clear_error(data, weights, match):
    X, C, _ = data
    est = small(max_iter=1).fit(X, C)
    for call in (lambda: small(max_iter=1).fit(X, C, sample_weight=weights),
                 lambda: est.score(X, C, sample_weight=weights),
                 lambda: regret(C, C, optimizer=GRID, sample_weight=weights)):
        with pytest.raises(ValueError, match=match):
            call()


def test_per_instance_regret_takes_no_weights(data):
    _, C, w = data
    with pytest.raises(ValueError, match="reduction='none'.*takes no weights"):
        regret(C, C, optimizer=GRID, sample_weight=w, reduction="none")


# ---------------------------------------------------------------- fit

@pytest.mark.parametrize("method", ["two-stage", "relaxation", "taskmet"])
def test_full_batch_fit_with_integer_weights_equals_repeated_rows(data, method):
    X, C, w = data
    X_rep, C_rep = repeated(w, X, C)
    weighted = small(method, batch_size=1000).fit(X, C, sample_weight=w)
    copies = small(method, batch_size=1000).fit(X_rep, C_rep)
    assert weighted.target_scale_ == pytest.approx(copies.target_scale_, rel=1e-12)
    np.testing.assert_allclose(weighted.predict(X), copies.predict(X), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(weighted.loss_curve_, copies.loss_curve_, rtol=1e-5)


def test_full_batch_classifier_with_weights_equals_repeated_rows(data):
    X, C, w = data
    labels = (C > np.median(C)).astype(int)
    X_rep, labels_rep = repeated(w, X, labels)
    make = lambda: DecisionFocusedClassifier(GRID, method="two-stage", batch_size=1000,  # noqa
                                             max_iter=3, random_state=0)
    np.testing.assert_allclose(make().fit(X, labels, sample_weight=w).predict_proba(X),
                               make().fit(X_rep, labels_rep).predict_proba(X), atol=1e-6)


def test_zero_weight_rows_do_not_count(data):
    X, C, w = data
    keep = w > 0
    weighted = small("two-stage", batch_size=1000).fit(X, C, sample_weight=keep * 1.0)
    dropped = small("two-stage", batch_size=1000).fit(X[keep], C[keep])
    np.testing.assert_allclose(weighted.predict(X), dropped.predict(X), atol=1e-6)


def test_weights_change_what_is_learned(data):
    X, C, w = data
    plain = small("spo+").fit(X, C).predict(X)
    weighted = small("spo+").fit(X, C, sample_weight=w).predict(X)
    assert not np.allclose(plain, weighted)


@pytest.mark.parametrize("method", [m for m in METHODS if m != "auto"])
def test_every_method_trains_with_weights(data, method):
    X, C, w = data
    est = small(method, max_iter=1, batch_size=16).fit(X, C, sample_weight=w)
    assert np.isfinite(est.loss_curve_).all()
    assert np.isfinite(est.score(X, C, sample_weight=w))


def test_weighted_batch_loss_is_the_weighted_mean_of_instance_losses():
    from skdfl.methods import SPOPlus
    loss = SPOPlus(KSubset(k=1))
    theta = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    theta_hat = torch.tensor([[0.0, 1.0], [0.0, 1.0], [0.0, 3.0]])
    x_true = KSubset(k=1).with_n_params(2)._solve(theta)
    solver = KSubset(k=1).with_n_params(2)
    each = loss.instance_losses(theta_hat, theta, x_true, solver)
    w = torch.tensor([2.0, 0.0, 1.0])
    value = loss.weighted_loss(w, theta_hat, theta, x_true, solver)
    assert float(value) == pytest.approx(float((2 * each[0] + each[2]) / 3))
    assert float(loss.batch_loss(theta_hat, theta, x_true, solver)) == pytest.approx(
        float(each.mean()))
    assert float(loss.weighted_loss(torch.zeros(3), theta_hat, theta, x_true, solver)) == 0.0


class MeanOnlyLoss(DecisionLoss):
    method_name = "mean-only"

    def batch_loss(self, theta_hat, theta, x_true, solver, **params):
        return ((theta_hat - theta) ** 2).mean()


def test_a_loss_without_instance_losses_refuses_weights_clearly(data):
    X, C, w = data
    small(MeanOnlyLoss(GRID), max_iter=1).fit(X, C)   # fine without weights
    with pytest.raises(ValueError, match="defines only batch_loss.*implement instance_losses"):
        small(MeanOnlyLoss(GRID), max_iter=1).fit(X, C, sample_weight=w)


def test_validation_regret_of_early_stopping_is_weighted(data):
    X, C, w = data
    est = small("two-stage", max_iter=1).fit(X, C)
    theta = torch.as_tensor(C)
    weights = torch.as_tensor(w, dtype=torch.float64)
    callback = ValidationRegret(GRID, torch.tensor(X, dtype=torch.float32), theta,
                                GRID._solve(theta), est._link, weights=weights)
    callback.on_epoch_end(est.net_)
    recorded = est.net_.history[-1, "valid_regret"]
    expected = regret(C, est.predict(X), optimizer=GRID, sample_weight=w)
    assert recorded == pytest.approx(expected, rel=1e-5)
    fitted = small("spo+", early_stopping=True, max_iter=2).fit(X, C, sample_weight=w)
    assert len(fitted.validation_scores_) == 2


# ---------------------------------------------------------------- PredictThenOptimize

def test_two_stage_passes_weights_to_its_regressor(data):
    X, C, w = data
    X_rep, C_rep = repeated(w, X, C)
    weighted = PredictThenOptimize(Ridge(alpha=1.0), GRID).fit(X, C, sample_weight=w)
    copies = PredictThenOptimize(Ridge(alpha=1.0), GRID).fit(X_rep, C_rep)
    np.testing.assert_allclose(weighted.predict(X), copies.predict(X), rtol=1e-8, atol=1e-10)


def test_two_stage_per_item_repeats_the_weights_for_the_items():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 6 * 2))
    y = X.reshape(30, 6, 2) @ np.array([1.0, -1.0]) + rng.normal(size=(30, 6))
    w = rng.randint(1, 4, size=30)
    weighted = PredictThenOptimize(LinearRegression(), KSubset(k=2), per_item=True)
    copies = PredictThenOptimize(LinearRegression(), KSubset(k=2), per_item=True)
    weighted.fit(X, y, sample_weight=w)
    copies.fit(np.repeat(X, w, 0), np.repeat(y, w, 0))
    np.testing.assert_allclose(weighted.predict(X), copies.predict(X), atol=1e-10)


def test_two_stage_with_a_regressor_without_weights_says_so(data):
    X, C, w = data
    with pytest.raises(ValueError, match="KNeighborsRegressor takes no sample_weight"):
        PredictThenOptimize(KNeighborsRegressor(), GRID).fit(X, C, sample_weight=w)


# ---------------------------------------------------------------- metadata routing

def test_cross_validate_routes_weights_and_equals_a_hand_loop(data):
    X, C, w = data
    cv = KFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        est = small("spo+").set_fit_request(sample_weight=True).set_score_request(
            sample_weight=True)
        scorer = make_regret_scorer(GRID).set_score_request(sample_weight=True)
        result = cross_validate(est, X, C, cv=cv, params={"sample_weight": w},
                                return_estimator=True)
        scored = cross_validate(est, X, C, cv=cv, params={"sample_weight": w},
                                scoring=scorer)
    expected, expected_regret = [], []
    for train, test in cv.split(X):
        fitted = small("spo+").fit(X[train], C[train], sample_weight=w[train])
        expected.append(fitted.score(X[test], C[test], sample_weight=w[test]))
        expected_regret.append(-regret(C[test], fitted.predict(X[test]), optimizer=GRID,
                                       sample_weight=w[test]))
    assert np.isfinite(result["test_score"]).all()
    np.testing.assert_allclose(result["test_score"], expected, rtol=1e-10)
    np.testing.assert_allclose(scored["test_score"], expected_regret, rtol=1e-10)
    for fitted, (train, _) in zip(result["estimator"], cv.split(X)):
        np.testing.assert_array_equal(
            fitted.predict(X), small("spo+").fit(X[train], C[train],
                                                 sample_weight=w[train]).predict(X))


def test_grid_search_routes_fit_weights(data):
    X, C, w = data
    with sklearn.config_context(enable_metadata_routing=True):
        est = small("spo+").set_fit_request(sample_weight=True).set_score_request(
            sample_weight=True)
        search = GridSearchCV(est, {"learning_rate_init": [0.01, 0.05]}, cv=2)
        search.fit(X, C, sample_weight=w)
    best = search.best_estimator_
    refit = small("spo+", learning_rate_init=best.learning_rate_init).fit(X, C,
                                                                         sample_weight=w)
    np.testing.assert_array_equal(best.predict(X), refit.predict(X))


def test_two_stage_routes_fit_weights_to_its_regressor(data):
    X, C, w = data
    with sklearn.config_context(enable_metadata_routing=True):
        model = PredictThenOptimize(Ridge().set_fit_request(sample_weight=True), GRID)
        model.set_score_request(sample_weight=True)
        result = cross_validate(model, X, C, cv=KFold(2), params={"sample_weight": w},
                                return_estimator=True)
        unrequested = PredictThenOptimize(Ridge(), GRID)
        with pytest.raises(Exception, match=r"sample_weight.*Ridge.set_fit_request"):
            unrequested.fit(X, C, sample_weight=w)
        ignored = Ridge().set_fit_request(sample_weight=False)
        own = PredictThenOptimize(ignored, GRID).set_fit_request(sample_weight=True)
        with pytest.raises(ValueError, match=r"Ridge\(\).set_fit_request\(sample_weight"):
            own.fit(X, C, sample_weight=w)
    train, test = next(KFold(2).split(X))
    by_hand = PredictThenOptimize(Ridge(), GRID).fit(X[train], C[train], sample_weight=w[train])
    np.testing.assert_allclose(result["estimator"][0].regressor_.coef_,
                               by_hand.regressor_.coef_)
    assert result["test_score"][0] == pytest.approx(
        by_hand.score(X[test], C[test], sample_weight=w[test]))
