"""regret and make_regret_scorer: oracle values, properties, sklearn integration."""

import itertools
import pickle

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_validate

from skdfl.datasets import make_shortest_path
from skdfl.metrics import make_regret_scorer, regret
from skdfl.optimizers import KSubset, ShortestPath

SETTINGS = settings(max_examples=60, deadline=None)
finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=64)
nonneg = st.floats(0, 100, allow_nan=False, allow_infinity=False, width=64)
CYCLIC = dict(edges=[(0, 1), (1, 2), (2, 0), (1, 3), (0, 3), (3, 2)], source=0, target=2)


@st.composite
def problems(draw):
    """(optimizer, y_true, y_pred) for exact solvers: grids, a cyclic graph, k-subsets."""
    which = draw(st.sampled_from(["grid", "cyclic", "ksubset"]))
    n = draw(st.integers(1, 5))
    if which == "grid":
        opt = ShortestPath(grid=draw(st.sampled_from([(1, 3), (3, 1), (2, 3), (4, 4)])))
        width, elements = opt.n_params, finite
    elif which == "cyclic":
        opt = ShortestPath(**CYCLIC)
        width, elements = opt.n_params, nonneg
    else:
        width = draw(st.integers(1, 6))
        opt, elements = KSubset(k=draw(st.integers(1, width))), finite
    y_true = draw(arrays(np.float64, (n, width), elements=elements))
    y_pred = draw(arrays(np.float64, (n, width), elements=elements))
    return opt, y_true, y_pred


# ---------------------------------------------------------- oracle values

def test_docstring_example():
    y_true = [[3.0, 1.0, 2.0], [1.0, 1.0, 4.0]]
    y_pred = [[1.0, 3.0, 2.0], [0.0, 1.0, 9.0]]
    opt = KSubset(k=1)
    np.testing.assert_array_equal(regret(y_true, y_pred, optimizer=opt, reduction="none"),
                                  [2.0, 0.0])
    assert regret(y_true, y_pred, optimizer=opt) == pytest.approx(2.0 / 7.0)
    assert regret(y_true, y_pred, optimizer=opt, reduction="mean") == pytest.approx(1.0)


def test_k_subset_regret_against_brute_force():
    rng = np.random.default_rng(0)
    n, k = 6, 3
    y_true, y_pred = rng.normal(size=(20, n)), rng.normal(size=(20, n))
    subsets = [list(s) for s in itertools.combinations(range(n), k)]
    expected, optima = [], []
    for t, p in zip(y_true, y_pred):
        best = max(t[s].sum() for s in subsets)
        chosen = max(subsets, key=lambda s: p[s].sum())
        expected.append(best - t[chosen].sum())
        optima.append(best)
    got = regret(y_true, y_pred, optimizer=KSubset(k=k), reduction="none")
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert regret(y_true, y_pred, optimizer=KSubset(k=k)) == pytest.approx(
        sum(expected) / np.abs(optima).sum())


def test_shortest_path_regret_against_networkx():
    sp = ShortestPath(grid=(4, 5))
    rng = np.random.default_rng(1)
    y_true = rng.normal(0.5, 1.0, size=(15, sp.n_params))          # both signs: a DAG
    y_pred = y_true + rng.normal(0.0, 1.0, size=y_true.shape)
    x_hat = sp.solve(y_pred)
    expected, optima = [], []
    for t, x in zip(y_true, x_hat):
        graph = nx.DiGraph()
        for (u, v), c in zip(sp.arcs.tolist(), t):
            graph.add_edge(u, v, weight=c)
        best = nx.bellman_ford_path_length(graph, 0, 19)
        expected.append(x @ t - best)
        optima.append(best)
    got = regret(y_true, y_pred, optimizer=sp, reduction="none")
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert (got > 1e-9).any()                    # the noise is large enough to cost something
    assert regret(y_true, y_pred, optimizer=sp) == pytest.approx(
        sum(expected) / np.abs(optima).sum())


# ------------------------------------------------------------ properties

@SETTINGS
@given(problem=problems())
def test_regret_is_non_negative_for_exact_solvers(problem):
    opt, y_true, y_pred = problem
    per_instance = regret(y_true, y_pred, optimizer=opt, reduction="none")
    assert per_instance.shape == (len(y_true),)
    assert (per_instance >= -1e-9).all()


@SETTINGS
@given(problem=problems())
def test_regret_of_the_truth_is_exactly_zero(problem):
    opt, y_true, _ = problem
    assert (regret(y_true, y_true, optimizer=opt, reduction="none") == 0.0).all()
    assert regret(y_true, y_true.copy(), optimizer=opt, reduction="mean") == 0.0
    assert regret(y_true, y_true, optimizer=opt) == 0.0       # even when every optimum is 0


@SETTINGS
@given(problem=problems())
def test_reductions_are_consistent(problem):
    opt, y_true, y_pred = problem
    none = regret(y_true, y_pred, optimizer=opt, reduction="none")
    assert isinstance(none, np.ndarray)
    mean = regret(y_true, y_pred, optimizer=opt, reduction="mean")
    assert isinstance(mean, float)
    assert mean == pytest.approx(none.mean(), rel=1e-12, abs=1e-12)
    optimum = np.abs(opt.objective(opt.solve(y_true), y_true)).sum()
    if optimum == 0.0:
        if none.sum() == 0.0:
            assert regret(y_true, y_pred, optimizer=opt) == 0.0
        else:
            with pytest.raises(ValueError, match="normalized"):
                regret(y_true, y_pred, optimizer=opt)
    else:
        normalized = regret(y_true, y_pred, optimizer=opt, reduction="normalized")
        assert isinstance(normalized, float)
        assert normalized == pytest.approx(none.sum() / optimum, rel=1e-9, abs=1e-12)
        assert normalized == regret(y_true, y_pred, optimizer=opt)      # the default


@SETTINGS
@given(problem=problems(), kind=st.sampled_from(["numpy", "torch64", "torch32", "list"]))
def test_input_kinds_agree(problem, kind):
    opt, y_true, y_pred = problem
    expected = regret(y_true, y_pred, optimizer=opt, reduction="none")
    convert = {"numpy": lambda a: a, "list": lambda a: a.tolist(),
               "torch64": torch.as_tensor,
               "torch32": lambda a: torch.as_tensor(a, dtype=torch.float32)}[kind]
    got = regret(convert(y_true), convert(y_pred), optimizer=opt, reduction="none")
    assert isinstance(got, np.ndarray)               # a metric returns numpy
    if kind != "torch32":
        np.testing.assert_array_equal(got, expected)


def test_one_instance_as_1d():
    got = regret([3.0, 1.0, 2.0], [1.0, 3.0, 2.0], optimizer=KSubset(k=1), reduction="none")
    np.testing.assert_array_equal(got, [2.0])


def test_does_not_mutate_inputs():
    y_true = np.random.default_rng(0).uniform(size=(5, 12))
    y_pred = y_true[::-1].copy()
    before = (y_true.copy(), y_pred.copy())
    regret(y_true, y_pred, optimizer=ShortestPath(grid=(3, 3)))
    np.testing.assert_array_equal(y_true, before[0])
    np.testing.assert_array_equal(y_pred, before[1])


# ----------------------------------------------------------------- errors

def test_errors_name_the_argument():
    sp = ShortestPath(grid=(2, 2))
    ok = np.ones((3, 4))
    with pytest.raises(TypeError, match="optimizer"):
        regret(ok, ok, optimizer=LinearRegression())
    with pytest.raises(ValueError, match="reduction"):
        regret(ok, ok, optimizer=sp, reduction="sum")
    with pytest.raises(ValueError, match="y_true and y_pred"):
        regret(ok, np.ones((2, 4)), optimizer=sp)
    with pytest.raises(ValueError, match="y_true.*4 columns"):
        regret(np.ones((3, 5)), np.ones((3, 5)), optimizer=sp)
    bad = ok.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="y_pred.*finite"):
        regret(ok, bad, optimizer=sp)
    with pytest.raises(ValueError, match="y_true.*finite"):
        regret(np.where(np.isnan(bad), np.inf, bad), ok, optimizer=sp)
    with pytest.raises(ValueError, match="k.*at most"):
        regret(ok, ok, optimizer=KSubset(k=5))


def test_negative_costs_on_cyclic_graph_name_y_pred_or_y_true():
    sp = ShortestPath(**CYCLIC)
    ok = np.ones((2, 6))
    neg = ok.copy()
    neg[0, 3] = -0.1
    with pytest.raises(ValueError, match="y_pred.*non-negative"):
        regret(ok, neg, optimizer=sp)
    with pytest.raises(ValueError, match="y_true.*non-negative"):
        regret(neg, ok, optimizer=sp)


def test_normalized_undefined_when_every_optimum_is_zero():
    opt = KSubset(k=1)
    y_true = np.array([[0.0, 0.0, -1.0]])        # optimum 0 (item 0 or 1)
    y_pred = np.array([[0.0, 0.0, 1.0]])         # chooses item 2: regret 1
    with pytest.raises(ValueError, match="normalized.*reduction='mean'"):
        regret(y_true, y_pred, optimizer=opt)
    assert regret(y_true, y_pred, optimizer=opt, reduction="mean") == 1.0
    # no regret at all over zero optima: 0, not an error
    assert regret(np.zeros((2, 3)), np.ones((2, 3)), optimizer=opt) == 0.0


# ---------------------------------------------------------------- scorer

@pytest.fixture(scope="module")
def sp_data():
    X, C = make_shortest_path(90, n_features=4, grid=(3, 4), degree=4, noise_width=0.3,
                              random_state=0)
    return X, C, ShortestPath(grid=(3, 4))


def test_scorer_in_cross_validate_equals_minus_regret_by_hand(sp_data):
    X, C, sp = sp_data
    cv = KFold(3, shuffle=True, random_state=0)
    scoring = {"normalized": make_regret_scorer(sp),
               "mean": make_regret_scorer(sp, reduction="mean")}
    result = cross_validate(LinearRegression(), X, C, scoring=scoring, cv=cv)
    for name in scoring:
        scores = result[f"test_{name}"]
        assert scores.shape == (3,) and np.isfinite(scores).all() and (scores <= 0).all()
    assert (result["test_normalized"] < 0).any()           # degree 4: linear model misfits
    train, test = next(cv.split(X))
    pred = LinearRegression().fit(X[train], C[train]).predict(X[test])
    assert result["test_normalized"][0] == pytest.approx(
        -regret(C[test], pred, optimizer=sp), rel=1e-12)
    assert result["test_mean"][0] == pytest.approx(
        -regret(C[test], pred, optimizer=sp, reduction="mean"), rel=1e-12)
    # the scorer called directly agrees too
    model = LinearRegression().fit(X[train], C[train])
    assert make_regret_scorer(sp)(model, X[test], C[test]) == pytest.approx(
        -regret(C[test], pred, optimizer=sp), rel=1e-12)


def test_scorer_in_grid_search_prefers_lower_regret(sp_data):
    X, C, sp = sp_data
    search = GridSearchCV(Ridge(), {"alpha": [1e-3, 1e6]}, scoring=make_regret_scorer(sp),
                          cv=3).fit(X, C)
    # an enormous penalty predicts the mean cost for every instance: worse decisions
    assert search.best_params_ == {"alpha": 1e-3}
    assert (search.cv_results_["mean_test_score"] <= 0).all()


def test_scorer_pickles_and_rejects_reduction_none(sp_data):
    X, C, sp = sp_data
    scorer = make_regret_scorer(sp)
    model = LinearRegression().fit(X, C)
    assert pickle.loads(pickle.dumps(scorer))(model, X, C) == scorer(model, X, C)
    with pytest.raises(ValueError, match="reduction"):
        make_regret_scorer(sp, reduction="none")
