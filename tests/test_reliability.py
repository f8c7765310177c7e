"""What every public estimator guarantees: determinism, persistence, untouched inputs,
clear errors on broken numerics, and bad input answered with a clear error."""

import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from skdfl import DecisionFocusedClassifier, DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.optimizers import KSubset, ShortestPath

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GRID = ShortestPath(grid=(3, 3))
METHODS = [("two-stage", {}), ("spo+", {}), ("dbb", {}), ("imle", {"n_samples": 2}),
           ("fy", {"n_samples": 2}), ("relaxation", {}), ("taskmet", {}), ("nid", {}),
           ("aimle", {"n_samples": 2}), ("dpo", {"n_samples": 2}),
           ("dpo-mul", {"n_samples": 2}), ("fy-mul", {"n_samples": 2}), ("pg", {}),
           ("nce", {"solve_ratio": 0.5}), ("cmap", {}), ("ltr-point", {}), ("ltr-pair", {}),
           ("ltr-list", {"tau": 0.5})]


@pytest.fixture(scope="module")
def data():
    X, C = make_shortest_path(60, n_features=3, grid=(3, 3), degree=4, random_state=0)
    return X, C


@pytest.mark.parametrize("method, params", METHODS)
def test_same_seed_bitwise_same_model_and_persistence(data, tmp_path, method, params):
    X, C = data
    fit = lambda: DecisionFocusedRegressor(  # noqa: E731
        GRID, method=method, max_iter=2, random_state=4, **params).fit(X, C)
    first, second = fit(), fit()
    for a, b in zip(first.net_.module_.parameters(), second.net_.module_.parameters()):
        assert torch.equal(a, b)
    decisions = first.decide(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(first)).decide(X), decisions)
    joblib.dump(first, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").decide(X), decisions)


def test_a_model_saved_on_cuda_loads_on_a_cpu_only_machine(data):
    X, C = data
    est = DecisionFocusedRegressor(GRID, max_iter=2, random_state=0).fit(X, C)
    expected = est.predict(X)
    # Mock a CUDA-trained net: skorch records the device and maps it back on load.
    est.net_.device = "cuda"
    if torch.cuda.is_available():
        pytest.skip("a GPU exists: the mock would really load on CUDA")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        restored = pickle.loads(pickle.dumps(est))
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_allclose(restored.predict(X), expected)


def test_inputs_are_never_mutated(data):
    X, C = data
    X_ro, C_ro = X.copy(), C.copy()
    X_ro.flags.writeable = False
    C_ro.flags.writeable = False
    est = DecisionFocusedRegressor(GRID, max_iter=2, random_state=0).fit(X_ro, C_ro)
    est.decide(X_ro)
    est.score(X_ro, C_ro)
    np.testing.assert_array_equal(X_ro, X)
    np.testing.assert_array_equal(C_ro, C)


def test_nan_predictions_are_refused_and_refit_recovers(data):
    X, C = data
    est = DecisionFocusedRegressor(GRID, max_iter=2, random_state=0).fit(X, C)
    with torch.no_grad():
        next(est.net_.module_.parameters())[0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite parameters for 60 instance.*row 0"):
        est.decide(X)
    with pytest.raises(ValueError, match="non-finite parameters"):
        est.score(X, C)
    assert np.isfinite(est.fit(X, C).predict(X)).all()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64, bool])
def test_feature_dtypes(data, dtype):
    X, C = data
    est = DecisionFocusedRegressor(GRID, max_iter=1, random_state=0).fit(X.astype(dtype), C)
    assert np.isfinite(est.predict(X.astype(dtype))).all()


def test_pandas_frames_and_feature_names(data):
    pd = pytest.importorskip("pandas")
    X, C = data
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    est = DecisionFocusedRegressor(GRID, max_iter=1, random_state=0).fit(frame, pd.DataFrame(C))
    assert list(est.feature_names_in_) == ["a", "b", "c"]
    with pytest.warns(UserWarning, match="feature names"):
        est.predict(X)
    assert est.score(frame, pd.DataFrame(C)) <= 0


ALLOWED = (ValueError, TypeError, NotFittedError)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n_rows=st.integers(0, 6), n_cols=st.integers(0, 4), width=st.sampled_from([12, 11, 1]),
       poison=st.sampled_from([None, np.nan, np.inf, -np.inf]),
       where=st.sampled_from(["X", "y"]), classifier=st.booleans(),
       dtype=st.sampled_from([np.float16, np.float32, np.float64, np.int32, bool]))
def test_fuzz_fit_predict_answers_or_raises_clearly(n_rows, n_cols, width, poison, where,
                                                     classifier, dtype):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n_rows, n_cols)).astype(dtype)
    y = rng.uniform(size=(n_rows, width))
    if classifier:
        y = (y > 0.5).astype(float)
    if poison is not None and X.size and y.size:
        target = X if where == "X" and X.dtype.kind == "f" else y
        target.flat[0] = poison
    Est = DecisionFocusedClassifier if classifier else DecisionFocusedRegressor
    est = Est(GRID if not classifier else KSubset(k=1), max_iter=1, random_state=0)
    try:
        est.fit(X, y)
    except ALLOWED as exc:
        assert any(name in str(exc) for name in ("X", "y", "sample", "feature", "binary")), exc
        return
    out = est.predict(X)
    assert out.shape == y.shape and np.isfinite(out).all()
    assert est.decide(X).shape == y.shape
