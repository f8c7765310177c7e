"""DecisionFocusedRegressor: learning, determinism, early stopping, errors."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.metrics import regret
from skdfl.optimizers import KSubset, Optimizer, ShortestPath

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GRID = ShortestPath(grid=(5, 5))


@pytest.fixture(scope="module")
def misspecified():
    """Degree-6 costs: a linear model cannot fit them, decisions need focus."""
    X, C = make_shortest_path(600, degree=6, noise_width=0.5, random_state=1)
    return X[:400], C[:400], X[400:], C[400:]


def test_decision_focused_beats_two_stage_on_misspecified_data(misspecified):
    X, C, X_test, C_test = misspecified
    scores = {}
    for method in ("two-stage", "spo+", "dbb"):
        est = DecisionFocusedRegressor(GRID, method=method, max_iter=15, random_state=0)
        scores[method] = est.fit(X, C).score(X_test, C_test)
    assert scores["spo+"] > scores["two-stage"]
    assert scores["dbb"] > scores["two-stage"] - 0.02
    # every trained model decides far better than deciding on noise
    noise = np.random.RandomState(0).uniform(size=C_test.shape)
    assert min(scores.values()) > -regret(C_test, noise, optimizer=GRID) / 2


def test_outputs_and_fitted_attributes(misspecified):
    X, C, X_test, C_test = misspecified
    est = DecisionFocusedRegressor(GRID, max_iter=4, random_state=0).fit(X, C)
    assert est.method_ == "spo+"
    assert est.n_features_in_ == X.shape[1]
    assert est.n_iter_ == 4 and len(est.loss_curve_) == 4
    assert est.target_scale_ == pytest.approx(np.abs(C).mean())
    theta_hat = est.predict(X_test)
    assert theta_hat.shape == C_test.shape and theta_hat.dtype == np.float64
    decisions = est.decide(X_test)
    np.testing.assert_array_equal(decisions, GRID.solve(theta_hat))
    assert est.score(X_test, C_test) == pytest.approx(
        -regret(C_test, theta_hat, optimizer=GRID))


def test_same_seed_same_model_and_no_global_rng_side_effect(misspecified):
    X, C, X_test, _ = misspecified
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    make = lambda seed: DecisionFocusedRegressor(  # noqa: E731
        GRID, method="dbb", max_iter=3, random_state=seed).fit(X, C)
    first, second, other = make(7), make(7), make(8)
    np.testing.assert_array_equal(first.predict(X_test), second.predict(X_test))
    assert not np.array_equal(first.predict(X_test), other.predict(X_test))
    assert torch.equal(torch.rand(1), before)


def test_targets_in_any_scale_give_the_same_decisions(misspecified):
    X, C, X_test, _ = misspecified
    fit = lambda y: DecisionFocusedRegressor(  # noqa: E731
        GRID, max_iter=3, random_state=0).fit(X, y)
    small, large = fit(C), fit(C * 1000.0)
    np.testing.assert_array_equal(small.decide(X_test), large.decide(X_test))
    np.testing.assert_allclose(large.predict(X_test), 1000 * small.predict(X_test),
                               rtol=1e-4)


def test_early_stopping_on_validation_regret(misspecified):
    X, C, _, _ = misspecified
    est = DecisionFocusedRegressor(GRID, early_stopping=True, n_iter_no_change=2, tol=2.0,
                                   max_iter=50, random_state=0).fit(X, C)
    # No gain of 2 in normalized regret is possible after the first epoch:
    # training stops once n_iter_no_change epochs in a row have not improved.
    assert est.n_iter_ == 3
    assert len(est.validation_scores_) == est.n_iter_
    assert all(-1 <= s <= 0 for s in est.validation_scores_)
    assert est.best_validation_score_ == max(est.validation_scores_)


def test_stops_when_training_loss_stalls(misspecified):
    X, C, _, _ = misspecified
    est = DecisionFocusedRegressor(GRID, n_iter_no_change=1, tol=1e6, max_iter=50,
                                   random_state=0).fit(X, C)
    assert est.n_iter_ == 2
    assert est.validation_scores_ is None


def test_convergence_warning_at_max_iter(misspecified):
    X, C, _, _ = misspecified
    with pytest.warns(ConvergenceWarning, match="max_iter=2") as caught:
        DecisionFocusedRegressor(GRID, max_iter=2, random_state=0).fit(X, C)
    assert caught[0].filename == __file__       # points at the user's fit call


def test_hidden_layers_and_weight_decay(misspecified):
    X, C, X_test, C_test = misspecified
    est = DecisionFocusedRegressor(GRID, hidden_layer_sizes=(16,), activation="tanh",
                                   alpha=1e-4, max_iter=3, random_state=0).fit(X, C)
    assert est.predict(X_test).shape == C_test.shape


def test_per_item_shares_one_model_across_items():
    rng = np.random.RandomState(0)
    n_items, n_item_features = 6, 3
    weights = rng.normal(size=n_item_features)
    X = rng.normal(size=(200, n_items * n_item_features))
    y = (X.reshape(200, n_items, n_item_features) @ weights)
    est = DecisionFocusedRegressor(KSubset(k=2), per_item=True, method="two-stage",
                                   max_iter=60, learning_rate_init=0.05,
                                   random_state=0).fit(X, y)
    linear = est.net_.module_.module[0]
    assert linear.weight.shape == (1, n_item_features)
    np.testing.assert_allclose(linear.weight.detach().numpy()[0] * est.target_scale_,
                               weights, atol=0.05)


class _Quadratic(Optimizer):
    """A non-linear test problem: minimize sum((x - theta)^2) over x in {0, 1}^n."""

    is_linear = False

    def __init__(self, n=3):
        self.n = n

    n_params = property(lambda self: self.n)
    n_vars = property(lambda self: self.n)

    def _solve(self, theta):
        return (theta > 0.5).to(theta.dtype)

    def _objective(self, x, theta):
        return ((x - theta) ** 2).sum(-1)


@pytest.mark.parametrize("X_bad, y_bad, match", [
    ("nan_X", None, "X must contain only finite values"),
    ("inf_X", None, "X must contain only finite values"),
    (None, "nan_y", "y must contain only finite values"),
    (None, "inf_y", "y must contain only finite values"),
    (None, "narrow_y", r"y must have optimizer.n_params=40 columns.*got 39"),
    (None, "flat_y", "y must be 2-D"),
])
def test_bad_data_gets_a_clear_error(misspecified, X_bad, y_bad, match):
    X, C, _, _ = misspecified
    X, C = X.copy(), C.copy()
    if X_bad:
        X[3, 1] = np.nan if X_bad == "nan_X" else np.inf
    if y_bad == "nan_y":
        C[5, 2] = np.nan
    elif y_bad == "inf_y":
        C[5, 2] = -np.inf
    elif y_bad == "narrow_y":
        C = C[:, :-1]
    elif y_bad == "flat_y":
        C = C[:, 0]
    with pytest.raises(ValueError, match=match):
        DecisionFocusedRegressor(GRID, max_iter=1).fit(X, C)


def test_nan_at_predict_time(misspecified):
    X, C, X_test, _ = misspecified
    est = DecisionFocusedRegressor(GRID, max_iter=1).fit(X, C)
    X_test = X_test.copy()
    X_test[0, 0] = np.nan
    with pytest.raises(ValueError, match="X must contain only finite values"):
        est.decide(X_test)


def test_negative_costs_on_a_cyclic_graph_are_rejected():
    cycle = ShortestPath(edges=[(0, 1), (1, 2), (2, 0), (1, 3)], source=0, target=3)
    X = np.random.RandomState(0).normal(size=(20, 2))
    y = np.abs(X[:, :1] @ np.ones((1, 4))) + 1
    y[4, 2] = -1.0
    with pytest.raises(ValueError, match="y must be non-negative.*cycle.*-1"):
        DecisionFocusedRegressor(cycle, max_iter=1).fit(X, y)


def test_negative_costs_on_the_grid_are_solved(misspecified):
    X, C, X_test, _ = misspecified
    est = DecisionFocusedRegressor(GRID, max_iter=2, random_state=0).fit(X, C - 0.8)
    assert (est.predict(X_test) < 0).any()
    assert est.decide(X_test).sum(1).min() == 8


@pytest.mark.parametrize("params, error, match", [
    ({"method": "spo"}, ValueError, r"method must be one of .*'spo\+'.*got 'spo'"),
    ({"method": "spo+", "optimizer": _Quadratic()}, ValueError,
     "method 'spo\\+' needs a linear optimizer.*_Quadratic"),
    ({"method": "dbb", "optimizer": _Quadratic()}, ValueError, "needs a linear optimizer"),
    ({"method": "auto", "optimizer": _Quadratic()}, ValueError, "method='auto'"),
    ({"optimizer": "shortest path"}, TypeError, "optimizer must be an skdfl Optimizer"),
    ({"lambd": 0}, ValueError, "lambd must be > 0.0; got 0"),
    ({"batch_size": 0}, ValueError, "batch_size must be >= 1; got 0"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be an integer"),
    ({"learning_rate_init": -1.0}, ValueError, "learning_rate_init must be > 0.0"),
    ({"max_iter": 0}, ValueError, "max_iter must be >= 1"),
    ({"validation_fraction": 1.0}, ValueError, "validation_fraction must be <= 0.99"),
    ({"hidden_layer_sizes": (0,)}, ValueError, "hidden_layer_sizes must be a tuple"),
    ({"activation": "gelu"}, ValueError, "activation must be one of"),
    ({"early_stopping": "yes"}, TypeError, "early_stopping must be True or False"),
    ({"device": "tpu:9"}, ValueError, "device must name a torch device"),
    ({"method": "imle", "noise": "uniform"}, ValueError, "noise must be one of"),
    ({"method": "imle", "tau": 0.0}, ValueError, "tau must be > 0.0"),
    ({"method": "fy", "sigma": -1.0}, ValueError, "sigma must be > 0.0"),
    ({"method": "fy", "n_samples": 0}, ValueError, "n_samples must be >= 1"),
    ({"method": "imle", "optimizer": _Quadratic()}, ValueError, "'imle' needs a linear"),
    ({"method": "fy", "optimizer": _Quadratic()}, ValueError, "'fy' needs a linear"),
])
def test_bad_parameters_get_a_clear_error(misspecified, params, error, match):
    X, C, _, _ = misspecified
    optimizer = params.pop("optimizer", GRID)
    if isinstance(optimizer, _Quadratic):
        C = C[:, :3]
    with pytest.raises(error, match=match):
        DecisionFocusedRegressor(optimizer, **{"max_iter": 1, **params}).fit(X, C)


def test_two_stage_works_on_a_nonlinear_optimizer(misspecified):
    X, C, X_test, C_test = misspecified
    opt = _Quadratic()
    est = DecisionFocusedRegressor(opt, method="two-stage", max_iter=2).fit(X, C[:, :3] / 3)
    assert est.target_scale_ == 1.0
    assert est.decide(X_test).shape == (len(X_test), 3)


def test_divergence_raises_with_epoch_and_batch(misspecified):
    X, C, _, _ = misspecified
    est = DecisionFocusedRegressor(GRID, method="two-stage", learning_rate_init=1e30,
                                   max_iter=20)
    with pytest.raises(ValueError, match=r"training diverged.*epoch \d+, batch \d+"):
        est.fit(X * 1e10, C)
    # the estimator can be fit again afterwards
    est.set_params(learning_rate_init=0.01, max_iter=1).fit(X, C)


def test_cuda_device_when_available(misspecified):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    X, C, X_test, _ = misspecified
    cpu = DecisionFocusedRegressor(GRID, max_iter=3, random_state=0).fit(X, C)
    gpu = DecisionFocusedRegressor(GRID, max_iter=3, random_state=0, device="cuda").fit(X, C)
    assert next(gpu.net_.module_.parameters()).is_cuda
    theta_hat = gpu.predict(X_test)
    assert isinstance(theta_hat, np.ndarray)
    np.testing.assert_allclose(theta_hat, cpu.predict(X_test), rtol=1e-3, atol=1e-3)


def test_cuda_request_without_cuda_is_a_clear_error(misspecified):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available")
    X, C, _, _ = misspecified
    with pytest.raises(ValueError, match="device='cuda'.*not available"):
        DecisionFocusedRegressor(GRID, device="cuda", max_iter=1).fit(X, C)


@pytest.mark.parametrize("method, params", [
    ("imle", {"noise": "sog", "n_samples": 4}), ("imle", {"noise": "gumbel", "n_samples": 2}),
    ("imle", {"noise": None}), ("fy", {"n_samples": 4, "sigma": 0.5}),
])
def test_perturbation_methods_learn_and_are_reproducible(misspecified, method, params):
    X, C, X_test, C_test = misspecified
    make = lambda seed: DecisionFocusedRegressor(  # noqa: E731
        GRID, method=method, max_iter=5, random_state=seed, **params).fit(X, C)
    first, second = make(3), make(3)
    np.testing.assert_array_equal(first.predict(X_test), second.predict(X_test))
    untrained = DecisionFocusedRegressor(GRID, method=method, max_iter=1,
                                         learning_rate_init=1e-9, random_state=3, **params)
    assert first.score(X_test, C_test) > untrained.fit(X, C).score(X_test, C_test) + 0.05


@pytest.mark.parametrize("metric", ["diagonal", "conditional"])
def test_taskmet_trains_model_and_metric(misspecified, metric):
    X, C, X_test, C_test = misspecified
    est = DecisionFocusedRegressor(GRID, method="taskmet", metric=metric, max_iter=4,
                                   metric_learning_rate=0.05, random_state=0).fit(X, C)
    assert est.method_ == "taskmet"
    weights = est.metric_(torch.tensor(X_test[:5], dtype=torch.float32)).detach()
    assert weights.shape == (5, 40) and bool((weights > 0).all())
    # the metric moved away from its uniform start
    assert float(weights.std()) > 1e-4
    untrained = DecisionFocusedRegressor(GRID, method="two-stage", max_iter=1,
                                         learning_rate_init=1e-9, random_state=0).fit(X, C)
    assert est.score(X_test, C_test) > untrained.score(X_test, C_test) + 0.05
    same = DecisionFocusedRegressor(GRID, method="taskmet", metric=metric, max_iter=4,
                                    metric_learning_rate=0.05, random_state=0).fit(X, C)
    np.testing.assert_array_equal(same.predict(X_test), est.predict(X_test))


def test_verbose_prints_a_line_per_epoch_and_extra_callbacks_run(misspecified, capsys):
    from skorch.callbacks import Callback

    class CountEpochs(Callback):
        def initialize(self):
            self.epochs_ = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.epochs_ += 1

    X, C, _, _ = misspecified
    counter = CountEpochs()
    est = DecisionFocusedRegressor(GRID, max_iter=3, verbose=1, early_stopping=True,
                                   callbacks=[counter], random_state=0).fit(X, C)
    out = capsys.readouterr().out
    assert "valid_regret" in out and "train_loss" in out and "dur" in out
    assert sum(line.strip().startswith(str(e)) for line in out.splitlines()
               for e in (1, 2, 3)) >= 3
    assert est.get_params()["callbacks"][0] is counter
    assert dict(est.net_.callbacks_)["user_0"].epochs_ == 3
    with pytest.raises(TypeError, match="callbacks must hold skorch"):
        DecisionFocusedRegressor(GRID, callbacks=["print"], max_iter=1).fit(X, C)


@pytest.mark.parametrize("out_activation", ["sigmoid", "clip"])
def test_out_activation_keeps_predictions_in_the_unit_interval(out_activation):
    from skdfl.datasets import make_budget_allocation
    from skdfl.optimizers import CoverageMaximizer

    X, y = make_budget_allocation(40, n_channels=6, n_customers=8, n_features=3,
                                  random_state=0)
    coverage = CoverageMaximizer(k=2, n_items=6, n_targets=8)
    est = DecisionFocusedRegressor(coverage, method="relaxation", gamma=1.0, per_item=True,
                                   out_activation=out_activation, max_iter=2,
                                   random_state=0).fit(X, y)
    theta_hat = est.predict(X)
    assert theta_hat.min() >= 0 and theta_hat.max() <= 1
    assert est.decide(X).sum(axis=1).max() <= 2
    with pytest.raises(ValueError, match="out_activation must be one of"):
        DecisionFocusedRegressor(coverage, out_activation="relu", max_iter=1).fit(X, y)


def test_a_fixed_epoch_budget_runs_every_epoch_without_warning():
    import warnings

    X, C = make_shortest_path(60, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = DecisionFocusedRegressor(GRID, n_iter_no_change=None, tol=1e6, max_iter=4,
                                       random_state=0).fit(X, C)
    assert est.n_iter_ == 4 and len(est.loss_curve_) == 4
