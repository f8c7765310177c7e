import pickle

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.optimizers import ShortestPath
from skdfl.pipeline import DecisionPipeline, make_pipeline

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def data():
    return make_shortest_path(90, degree=2, random_state=0)


def estimator():
    return DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), max_iter=2, random_state=0)


def test_decide_transforms_then_decides(data):
    X, C = data
    pipe = make_pipeline(StandardScaler(), estimator()).fit(X, C)
    assert isinstance(pipe, DecisionPipeline)
    expected = pipe[-1].decide(pipe[0].transform(X))
    np.testing.assert_array_equal(pipe.decide(X), expected)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.decide(X), expected)


def test_single_step_pipeline(data):
    X, C = data
    pipe = make_pipeline(estimator()).fit(X, C)
    np.testing.assert_array_equal(pipe.decide(X), pipe[-1].decide(X))


def test_decide_only_when_the_final_step_decides(data):
    X, C = data
    pipe = make_pipeline(StandardScaler(), LinearRegression()).fit(X, C)
    assert not hasattr(pipe, "decide")


def test_grid_search_through_the_pipeline(data):
    X, C = data
    search = GridSearchCV(make_pipeline(StandardScaler(), estimator()),
                          {"decisionfocusedregressor__method": ["two-stage", "spo+"]}, cv=2)
    search.fit(X, C)
    assert search.best_estimator_.decide(X).shape == C.shape
