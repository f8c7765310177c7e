"""Per-instance problem data through estimators, methods, metrics and model selection.

The oracle everywhere is the same computation done row by row (or fold by
fold) with a fixed-structure optimizer built from that row's values.
"""

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.preprocessing import StandardScaler

from skdfl import DecisionFocusedRegressor, PredictThenOptimize
from skdfl.methods import (BlackboxRegret, ImleRegret, PerturbedFenchelYoung,
                           RelaxationRegret, SPOPlus, SquaredError)
from skdfl.metrics import make_regret_scorer, regret
from skdfl.optimizers import KSubset
from skdfl.pipeline import make_pipeline

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N_ITEMS = 6


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 4))
    y = X @ rng.normal(size=(4, N_ITEMS)) + 0.5 * rng.normal(size=(90, N_ITEMS))
    k = rng.randint(1, N_ITEMS, size=90)
    return X, y, k


def small(**kwargs):
    params = dict(method="spo+", max_iter=3, n_iter_no_change=5, random_state=0)
    params.update(kwargs)
    return DecisionFocusedRegressor(KSubset(k=2), **params)


def row_by_row_regret(y, theta_hat, k, reduction="none"):
    per_row = np.array([regret(y[i:i + 1], theta_hat[i:i + 1], optimizer=KSubset(k=int(k[i])),
                               reduction="none")[0] for i in range(len(y))])
    if reduction == "none":
        return per_row
    optimum = np.array([(y[i] * KSubset(k=int(k[i])).solve(y[i:i + 1])[0]).sum()
                        for i in range(len(y))])
    return per_row.sum() / np.abs(optimum).sum()


def test_regret_with_per_row_params_equals_row_by_row(data):
    _, y, k = data
    theta_hat = y + np.random.RandomState(1).normal(size=y.shape)
    got = regret(y, theta_hat, optimizer=KSubset(k=2), k=k, reduction="none")
    np.testing.assert_allclose(got, row_by_row_regret(y, theta_hat, k))
    assert regret(y, theta_hat, optimizer=KSubset(k=2), k=k) == pytest.approx(
        row_by_row_regret(y, theta_hat, k, "normalized"))


@pytest.mark.parametrize("make", [
    lambda: SPOPlus(KSubset(k=2)),
    lambda: BlackboxRegret(KSubset(k=2), lambd=1.0),
    lambda: ImleRegret(KSubset(k=2), noise=None, lambd=1.0),
    lambda: SquaredError(KSubset(k=2)),
    lambda: RelaxationRegret(KSubset(k=2, n_items=N_ITEMS), gamma=0.5),
], ids=["spo+", "dbb", "imle", "two-stage", "relaxation"])
def test_losses_with_per_row_params_equal_row_by_row(data, make):
    _, y, k = data
    theta = torch.tensor(y[:12])
    theta_hat = (theta + torch.tensor(np.random.RandomState(2).normal(size=(12, N_ITEMS)))
                 ).requires_grad_()
    loss = make()
    value = loss(theta_hat, theta, k=k[:12])
    value.backward()
    grad = theta_hat.grad.clone()
    expected, expected_grad = [], []
    for i in range(12):
        row = make()
        row.optimizer = row.optimizer.set_params(k=int(k[i]))
        if hasattr(row, "layer"):
            row.layer.optimizer = row.optimizer
        one = theta_hat[i:i + 1].detach().clone().requires_grad_()
        v = row(one, theta[i:i + 1])
        # The batch loss is a mean: a row weighs 1/12 of it (dbb and imle
        # perturb by lambd times the incoming gradient, so the scale matters).
        (v / 12).backward()
        expected.append(float(v.detach()))
        expected_grad.append(one.grad[0])
    assert float(value) == pytest.approx(np.mean(expected), rel=1e-9, abs=1e-12)
    torch.testing.assert_close(grad, torch.stack(expected_grad))


def test_fy_with_per_row_params_uses_each_rows_budget(data):
    _, y, k = data
    theta = torch.tensor(y[:8])
    loss = PerturbedFenchelYoung(KSubset(k=2), sigma=1e-9, n_samples=3)
    theta_hat = theta.clone().requires_grad_()
    # With a vanishing perturbation at theta_hat = theta the perturbed optima
    # equal the true ones under each row's k: zero loss and zero gradient.
    value = loss(theta_hat, theta, k=k[:8])
    value.backward()
    assert abs(float(value)) < 1e-6
    assert float(theta_hat.grad.abs().max()) == 0.0
    # ... while the constructor's k=2 would give a different loss on rows with k != 2.
    assert float(loss(theta + 0.0, theta)) == pytest.approx(0.0, abs=1e-6)


def test_fit_decide_score_use_each_rows_params(data):
    X, y, k = data
    est = small().fit(X, y, k=k)
    assert est.instance_params_ == ("k",)
    decisions = est.decide(X, k=k)
    np.testing.assert_array_equal(decisions.sum(1), k)
    theta_hat = est.predict(X)
    assert est.score(X, y, k=k) == pytest.approx(
        -row_by_row_regret(y, theta_hat, k, "normalized"))


@pytest.mark.parametrize("method", ["two-stage", "spo+", "dbb", "imle", "fy", "taskmet"])
def test_every_method_trains_with_per_row_params(data, method):
    X, y, k = data
    est = small(method=method).fit(X, y, k=k)
    assert np.isfinite(est.loss_curve_).all()
    np.testing.assert_array_equal(est.decide(X[:10], k=k[:10]).sum(1), k[:10])


def test_training_sees_the_per_row_params(data):
    X, y, k = data
    with_k = small(max_iter=5).fit(X, y, k=k)
    without = small(max_iter=5).fit(X, y)
    assert not np.allclose(with_k.predict(X), without.predict(X))


def test_early_stopping_carries_params_into_the_validation_split(data):
    X, y, k = data
    est = small(early_stopping=True, validation_fraction=0.2, max_iter=4).fit(X, y, k=k)
    assert len(est.validation_scores_) == est.n_iter_
    assert all(np.isfinite(est.validation_scores_))


def test_decide_and_score_refuse_to_drop_params_given_to_fit(data):
    X, y, k = data
    est = small().fit(X, y, k=k)
    with pytest.raises(ValueError, match="k was given per instance to fit, so decide needs"):
        est.decide(X)
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        est.score(X, y)


def test_bad_params_name_the_argument_and_row(data):
    X, y, k = data
    bad = k.copy()
    bad[7] = N_ITEMS + 1
    with pytest.raises(ValueError, match=r"k must be <= 6 \(the number of items\); got 7 in "
                                         r"row 7"):
        small().fit(X, y, k=bad)
    with pytest.raises(ValueError, match=r"k must have shape \(90,\)"):
        small().fit(X, y, k=k[:10])
    with pytest.raises(ValueError, match="'capacity' is not a per-instance parameter of "
                                         "KSubset"):
        small().fit(X, y, capacity=k)


def hand_folds(estimator, X, y, k, cv):
    scores = []
    for train, test in cv.split(X):
        fitted = clone(estimator).fit(X[train], y[train], k=k[train])
        scores.append(fitted.score(X[test], y[test], k=k[test]))
    return np.array(scores)


def test_cross_validate_routes_params_per_fold(data):
    X, y, k = data
    cv = KFold(3, shuffle=True, random_state=0)
    est = small()
    with sklearn.config_context(enable_metadata_routing=True):
        result = cross_validate(est, X, y, params={"k": k}, cv=cv)
    np.testing.assert_allclose(result["test_score"], hand_folds(est, X, y, k, cv))


def test_grid_search_routes_params_to_fit_and_regret_scorer(data):
    X, y, k = data
    cv = KFold(3)
    est = small()
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(est, {"learning_rate_init": [0.01, 0.1]}, cv=cv,
                              scoring=make_regret_scorer(est.optimizer)).fit(X, y, k=k)
    for i, lr in enumerate([0.01, 0.1]):
        expected = hand_folds(est.set_params(learning_rate_init=lr), X, y, k, cv)
        assert search.cv_results_["mean_test_score"][i] == pytest.approx(expected.mean())
    best = search.best_estimator_
    np.testing.assert_array_equal(best.decide(X[:5], k=k[:5]).sum(1), k[:5])


def test_without_routing_the_scorer_says_how_to_pass_params(data):
    X, y, k = data
    est = small()
    search = GridSearchCV(est, {"learning_rate_init": [0.01]}, cv=KFold(2),
                          scoring=make_regret_scorer(est.optimizer), error_score="raise")
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        search.fit(X, y, k=k)


def test_pipeline_and_two_stage_carry_params(data):
    X, y, k = data
    cv = KFold(3)
    pipe = make_pipeline(StandardScaler(), small())
    with sklearn.config_context(enable_metadata_routing=True):
        pipe.fit(X, y, k=k)
        np.testing.assert_array_equal(pipe.decide(X[:6], k=k[:6]).sum(1), k[:6])
        assert pipe.score(X, y, k=k) == pytest.approx(pipe[-1].score(pipe[0].transform(X), y,
                                                                     k=k))
        model = PredictThenOptimize(LinearRegression(), KSubset(k=2))
        result = cross_validate(model, X, y, params={"k": k}, cv=cv)
    np.testing.assert_allclose(result["test_score"], hand_folds(model, X, y, k, cv))
    fitted = clone(model).fit(X, y, k=k)
    np.testing.assert_array_equal(fitted.decide(X[:6], k=k[:6]).sum(1), k[:6])
    with pytest.raises(ValueError, match="decide needs it too"):
        fitted.decide(X[:6])
