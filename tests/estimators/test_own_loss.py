"""A user's own DecisionLoss as the estimators' method."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from skdfl import DecisionFocusedRegressor
from skdfl.datasets import make_shortest_path
from skdfl.methods import DecisionLoss, SPOPlus
from skdfl.optimizers import ShortestPath

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class HingeOnDecisions(DecisionLoss):
    method_name = "hinge"
    needs_linear = True

    def batch_loss(self, theta_hat, theta, x_true, solver, **params):
        with torch.no_grad():
            x_hat = solver._solve(theta_hat.detach(), **params)
        margin = solver.sign * (theta_hat * (x_true - x_hat)).sum(-1)
        return torch.relu(margin).mean()


@pytest.fixture(scope="module")
def data():
    return make_shortest_path(200, degree=4, noise_width=0.5, random_state=0)


def test_own_loss_trains_and_is_named(data):
    X, C = data
    optimizer = ShortestPath(grid=(5, 5))
    est = DecisionFocusedRegressor(optimizer, method=HingeOnDecisions(optimizer), max_iter=10,
                                   random_state=0).fit(X[:150], C[:150])
    assert est.method_ == "hinge"
    untrained = DecisionFocusedRegressor(optimizer, max_iter=1, learning_rate_init=1e-9,
                                         random_state=0).fit(X[:150], C[:150])
    assert est.score(X[150:], C[150:]) > untrained.score(X[150:], C[150:]) + 0.05
    clone(est).fit(X[:50], C[:50])          # clones (deep-copies the loss) and refits


def test_builtin_loss_instance_equals_its_name(data):
    X, C = data
    optimizer = ShortestPath(grid=(5, 5))
    by_name = DecisionFocusedRegressor(optimizer, method="spo+", max_iter=3,
                                       random_state=0).fit(X, C)
    by_loss = DecisionFocusedRegressor(optimizer, method=SPOPlus(optimizer), max_iter=3,
                                       random_state=0).fit(X, C)
    assert by_loss.method_ == "spo+"
    np.testing.assert_array_equal(by_name.predict(X), by_loss.predict(X))


def test_unknown_method_names_the_alternatives(data):
    X, C = data
    with pytest.raises(ValueError, match="or a DecisionLoss instance"):
        DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method="nope").fit(X, C)
