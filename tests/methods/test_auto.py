"""method="auto": spo+ where every sign solves exactly, fy-mul where only non-negative ones do.

On costs on cells (and graphs with a cycle) the relaxation, the rule's
former choice, solves a quadratic program over the flows of about eight
moves per cell: tens of seconds a batch on 12x12 cells. fy-mul solves only
at positive multiples of the predictions, exactly, with the combinatorial
solver.
"""

import numpy as np
import pytest

from skdfl import DecisionFocusedRegressor
from skdfl.methods._registry import auto_method, resolve_method, task_loss_method
from skdfl.optimizers import KSubset, ShortestPath

CYCLIC = dict(edges=[(0, 1), (1, 2), (2, 0), (1, 3), (0, 3), (3, 2)], source=0, target=2)


@pytest.mark.parametrize("optimizer, method", [
    (ShortestPath(grid=(2, 3)), "spo+"),                                   # a DAG: any sign
    (KSubset(k=2), "spo+"),
    (ShortestPath(**CYCLIC), "fy-mul"),                                    # a cycle
    (ShortestPath(grid=(4, 4), costs="cells"), "fy-mul"),
    (ShortestPath(grid=(4, 4), costs="cells", negative_costs="clip"), "spo+"),
])
def test_auto_rule(optimizer, method):
    assert resolve_method("auto", optimizer) == auto_method(optimizer) == method
    # the chosen method accepts the problem (fy-mul: its noise keeps each sign)
    assert optimizer.any_sign or method == "fy-mul"


def test_taskmet_keeps_its_task_loss():
    assert task_loss_method(ShortestPath(**CYCLIC)) == "relaxation"
    assert task_loss_method(ShortestPath(grid=(2, 3))) == "spo+"


def _cell_data(n, side, seed):
    """Cell costs linear in the features, through a softplus, all positive."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    W = rng.normal(size=(4, side * side))
    return X, np.log1p(np.exp(2.0 * X @ W)) + 0.05


def test_auto_trains_on_cells_and_beats_deciding_blind():
    side = 5
    sp = ShortestPath(grid=(side, side), costs="cells")
    X, C = _cell_data(160, side, 0)
    est = DecisionFocusedRegressor(sp, max_iter=15, batch_size=16, learning_rate_init=0.02,
                                   n_iter_no_change=None, random_state=0).fit(X[:120], C[:120])
    assert est.method_ == "fy-mul"
    X_test, C_test = X[120:], C[120:]
    best = sp.objective(sp.solve(C_test), C_test)
    learned = sp.objective(est.decide(X_test), C_test)
    blind = sp.objective(sp.solve(np.ones_like(C_test)), C_test)    # the diagonal
    assert (learned - best).mean() < 0.5 * (blind - best).mean()


@pytest.mark.parametrize("negative_costs, method", [("raise", "fy-mul"), ("clip", "fy")])
def test_auto_from_decisions_on_cells(negative_costs, method):
    sp = ShortestPath(grid=(4, 4), costs="cells", negative_costs=negative_costs)
    X, C = _cell_data(24, 4, 1)
    est = DecisionFocusedRegressor(sp, targets="decisions", max_iter=2,
                                   n_iter_no_change=None, random_state=0)
    est.fit(X, sp.solve(C))
    assert est.method_ == method and est.decide(X).shape == (24, 16)
