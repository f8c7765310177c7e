"""Perturbation methods need exact solves at parameters of either sign."""

import numpy as np
import pytest
import torch

from skdfl import DecisionFocusedRegressor
from skdfl.methods import (IMLE, BlackboxDifferentiation, BlackboxRegret, ImleRegret,
                           PerturbedFenchelYoung, SPOPlus)
from skdfl.optimizers import ShortestPath

CYCLIC = dict(edges=[(0, 1), (1, 2), (2, 0), (1, 3), (0, 3), (3, 2)], source=0, target=2)


@pytest.mark.parametrize("make", [SPOPlus, BlackboxRegret, ImleRegret, PerturbedFenchelYoung,
                                  BlackboxDifferentiation, IMLE])
def test_perturbation_methods_refuse_a_graph_with_a_cycle(make):
    with pytest.raises(ValueError, match="solves exactly only non-negative ones"):
        make(ShortestPath(**CYCLIC))
    make(ShortestPath(grid=(2, 3)))     # a DAG solves any sign


def test_negative_costs_reaching_the_cyclic_solver_are_an_error():
    # layers call _solve directly; a negative cycle (0 -> 1 -> 2 -> 0) has no shortest path
    with pytest.raises(ValueError, match="must be non-negative"):
        ShortestPath(**CYCLIC)._solve(torch.tensor([[-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]]))


def test_negative_predictions_on_a_graph_with_a_cycle_name_the_link():
    rng = np.random.default_rng(1)
    X, C = rng.normal(size=(40, 3)), rng.uniform(0.5, 2.0, size=(40, 6))
    est = DecisionFocusedRegressor(ShortestPath(**CYCLIC), method="two-stage", max_iter=1,
                                   out_activation="identity", random_state=0)
    with pytest.warns(Warning):
        est.fit(X, C)
    X_far = X * 100.0      # a linear model predicts negative costs somewhere far out
    assert (est.predict(X_far) < 0).any()
    for call in (est.decide, lambda X: est.score(X, C)):
        with pytest.raises(ValueError, match="out_activation='softplus'"):
            call(X_far)


def test_auto_picks_fy_mul_on_a_graph_with_a_cycle():
    # (the rule itself: tests/methods/test_auto.py)
    rng = np.random.default_rng(0)
    X, C = rng.normal(size=(40, 3)), rng.uniform(0.5, 2.0, size=(40, 6))
    est = DecisionFocusedRegressor(ShortestPath(**CYCLIC), out_activation="softplus",
                                   max_iter=2, random_state=0)
    with pytest.warns(Warning):
        est.fit(X, C)
    assert est.method_ == "fy-mul" and est.decide(X).shape == (40, 6)
    assert (est.predict(X) > 0).all() and est.score(X, C) <= 0
    with pytest.raises(ValueError, match="method 'spo\\+' solves at shifted or noisy"):
        DecisionFocusedRegressor(ShortestPath(**CYCLIC), method="spo+", max_iter=2).fit(X, C)
