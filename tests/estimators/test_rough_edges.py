"""What a new user hits first: text targets, devices, sparse X, single-output regressors, logs."""

import io
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from skdfl import DecisionFocusedClassifier, DecisionFocusedRegressor, PredictThenOptimize
from skdfl.datasets import make_shortest_path
from skdfl.estimators._device import available_devices, check_device
from skdfl.estimators._printlog import PlainPrintLog, print_log
from skdfl.optimizers import Knapsack, KSubset, ShortestPath

GRID = ShortestPath(grid=(5, 5))


@pytest.fixture(scope="module")
def data():
    return make_shortest_path(60, degree=2, random_state=0)


# -- non-numeric y -------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: DecisionFocusedRegressor(GRID, max_iter=1, n_iter_no_change=None),
    lambda: PredictThenOptimize(Ridge(), GRID)])
def test_text_targets_are_a_clear_error(make, data):
    X, C = data
    text = C.astype(str)
    text[3, 5] = "cheap"
    with pytest.raises(ValueError, match=r"y must hold numbers; got an array of dtype <U"):
        make().fit(X, text)
    mixed = C.astype(object)
    mixed[2, 1] = "n/a"
    with pytest.raises(ValueError, match=r"y must hold numbers.*'n/a' at index \(2, 1\)"):
        make().fit(X, mixed)
    fitted = make().fit(X, C)
    with pytest.raises(ValueError, match="y must hold numbers"):
        fitted.score(X, text)


def test_numbers_held_as_objects_still_fit(data):
    X, C = data
    a = PredictThenOptimize(Ridge(), GRID).fit(X, C.astype(object))
    np.testing.assert_allclose(a.predict(X), PredictThenOptimize(Ridge(), GRID).fit(X, C)
                               .predict(X))


# -- devices -----------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["mps", "xpu", "cuda", "cuda:7", "nonsense", "meta", 3])
def test_unavailable_devices_are_named(device, data):
    if device in ("cuda", "mps", "xpu", "cuda:7"):
        try:
            check_device(device)
        except ValueError:
            pass
        else:
            pytest.skip(f"{device} is available here")
    X, C = data
    pattern = (r"device must name a torch device available on this machine \(here: 'cpu'"
               rf".*\); got (device=)?{re.escape(repr(device))}")
    with pytest.raises(ValueError, match=pattern):
        DecisionFocusedRegressor(GRID, device=device, max_iter=1).fit(X, C)


def test_check_device_accepts_what_is_here():
    for name in available_devices():
        assert check_device(name) == torch.device(name)
    assert check_device(torch.device("cpu")).type == "cpu"


# -- quiet logs ------------------------------------------------------------------------------


def test_epoch_table_has_no_colour_codes_off_a_terminal(data, capsys):
    X, C = data
    DecisionFocusedRegressor(GRID, max_iter=3, n_iter_no_change=None, verbose=1,
                             random_state=0).fit(X, C)
    out = capsys.readouterr().out
    assert "train_loss" in out and len(out.splitlines()) == 5   # header, rule, 3 epochs
    assert "\x1b[" not in out


def test_colours_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert type(print_log(Terminal())).__name__ == "PrintLog"
    assert isinstance(print_log(io.StringIO()), PlainPrintLog)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_fixed_epoch_budget_never_warns(early_stopping, data):
    X, C = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = DecisionFocusedRegressor(GRID, max_iter=2, n_iter_no_change=None,
                                       early_stopping=early_stopping, random_state=0).fit(X, C)
    assert est.n_iter_ == 2


# -- single-output regressors ------------------------------------------------------------------


@pytest.mark.parametrize("regressor", [
    GradientBoostingRegressor(n_estimators=5, random_state=0),
    HistGradientBoostingRegressor(max_iter=5, random_state=0),
    SVR(), make_pipeline(StandardScaler(), SVR())])
def test_single_output_regressors_are_wrapped(regressor):
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 4))
    model = PredictThenOptimize(regressor, KSubset(k=2)).fit(X, y)
    assert isinstance(model.regressor_, MultiOutputRegressor)
    expected = MultiOutputRegressor(clone(regressor)).fit(X, y).predict(X)
    np.testing.assert_allclose(model.predict(X), expected)
    np.testing.assert_array_equal(model.decide(X), KSubset(k=2).solve(expected))


def test_multi_output_regressors_are_not_wrapped(data):
    X, C = data
    assert isinstance(PredictThenOptimize(Ridge(), GRID).fit(X, C).regressor_, Ridge)


def test_single_output_regressor_per_item_with_one_parameter_per_item():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(30, 6 * 2))
    y = X.reshape(30, 6, 2) @ np.array([1.0, -0.5])
    model = PredictThenOptimize(SVR(), Knapsack([1] * 6, 3), per_item=True).fit(X, y)
    assert isinstance(model.regressor_, SVR)   # one output: a plain 1-D target
    assert model.predict(X).shape == (30, 6)


# -- sparse X ----------------------------------------------------------------------------------


def _sparse_copy(X):
    X = X.copy()
    X[np.abs(X) < 0.5] = 0.0   # genuinely sparse
    return X, sp.csr_matrix(X)


@pytest.mark.parametrize("params", [
    dict(method="spo+"), dict(method="dbb", early_stopping=True),
    dict(method="taskmet", metric="conditional")])
def test_decision_focused_sparse_equals_dense(params, data):
    X, C = data
    X, Xs = _sparse_copy(X)
    dense = DecisionFocusedRegressor(GRID, max_iter=3, n_iter_no_change=None,
                                     random_state=0, **params).fit(X, C)
    sparse = DecisionFocusedRegressor(GRID, max_iter=3, n_iter_no_change=None,
                                      random_state=0, **params).fit(Xs, C)
    np.testing.assert_allclose(sparse.predict(Xs), dense.predict(X), rtol=1e-6)
    np.testing.assert_array_equal(sparse.decide(Xs), dense.decide(X))
    assert sparse.score(Xs, C) == pytest.approx(dense.score(X, C))
    np.testing.assert_allclose(sparse.predict(sp.csc_matrix(Xs)), dense.predict(X), rtol=1e-6)


def test_classifier_and_per_item_take_sparse_rows():
    rng = np.random.RandomState(0)
    X = rng.binomial(1, 0.2, size=(40, 6 * 2)).astype(float)
    y = (X.reshape(40, 6, 2).sum(-1) > 0).astype(int)
    dense = DecisionFocusedClassifier(KSubset(k=2), per_item=True, max_iter=2,
                                      n_iter_no_change=None, random_state=0).fit(X, y)
    sparse = DecisionFocusedClassifier(KSubset(k=2), per_item=True, max_iter=2,
                                       n_iter_no_change=None, random_state=0)
    sparse.fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X),
                               rtol=1e-6)


def test_sparse_non_finite_names_the_entry(data):
    X, C = data
    Xs = sp.lil_matrix(X)
    Xs[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"X must contain only finite.*index \(4, 2\)"):
        DecisionFocusedRegressor(GRID, max_iter=1).fit(Xs.tocsr(), C)
    with pytest.raises(ValueError, match=r"X must contain only finite.*index \(4, 2\)"):
        PredictThenOptimize(Ridge(), GRID).fit(Xs.tocsr(), C)


class _RecordingRidge(Ridge):
    def fit(self, X, y):
        self.saw_sparse_ = sp.issparse(X)
        return super().fit(X, y)


class _DenseOnlyRidge(_RecordingRidge):
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def test_predict_then_optimize_passes_sparse_only_where_accepted(data):
    X, C = data
    X, Xs = _sparse_copy(X)
    takes = PredictThenOptimize(_RecordingRidge(), GRID).fit(Xs, C)
    assert takes.regressor_.saw_sparse_
    np.testing.assert_allclose(takes.predict(Xs), Ridge().fit(Xs, C).predict(Xs))
    refuses = PredictThenOptimize(_DenseOnlyRidge(), GRID).fit(Xs, C)
    assert not refuses.regressor_.saw_sparse_
    np.testing.assert_allclose(refuses.predict(Xs), Ridge().fit(X, C).predict(X))
    hist = PredictThenOptimize(HistGradientBoostingRegressor(max_iter=3), KSubset(k=1))
    hist.fit(Xs[:, :3], C[:, :2])   # dense for a regressor that takes no sparse input
    assert hist.predict(Xs[:, :3]).shape == (len(C), 2)


def test_predict_then_optimize_per_item_sparse():
    rng = np.random.RandomState(0)
    X = rng.binomial(1, 0.3, size=(40, 6 * 3)).astype(float)
    y = X.reshape(40, 6, 3) @ np.array([1.0, 2.0, -1.0])
    dense = PredictThenOptimize(Ridge(), Knapsack([1] * 6, 3), per_item=True).fit(X, y)
    sparse = PredictThenOptimize(Ridge(), Knapsack([1] * 6, 3), per_item=True)
    sparse.fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.predict(sp.csr_matrix(X)), dense.predict(X), atol=1e-6)


# -- documentation -----------------------------------------------------------------------------


def test_user_guide_snippets_run():
    import doctest
    from pathlib import Path

    guide = Path(__file__).resolve().parents[2] / "doc" / "user_guide.rst"
    result = doctest.testfile(str(guide), module_relative=False, verbose=False,
                              optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted >= 10 and result.failed == 0


def test_method_table_has_no_stray_bullets():
    docutils = pytest.importorskip("docutils.core")
    from docutils import nodes

    from skdfl.methods._registry import method_table_rst

    tree = docutils.publish_doctree(method_table_rst())
    assert not list(tree.findall(nodes.bullet_list))
    assert len(list(tree.findall(nodes.row))) > 10
