"""Every optimizer against an independent oracle, on random and degenerate instances.

Oracles: networkx for ShortestPath, enumeration for KSubset and Knapsack (and
the coverage optimum), scipy's HiGHS interior-point method for
LinearProgram, a plain-numpy greedy for CoverageMaximizer. The strategies
favour the degenerate cases: ties (values on a coarse grid), all-zero
parameters, k = n, capacity 0, a graph with two nodes, a single item, a
single variable. Sizes stay small so that the whole module runs in seconds.
"""

import itertools
import math
from unittest import mock

import networkx as nx
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linprog

from skdfl.optimizers import CoverageMaximizer, KSubset, Knapsack, LinearProgram, ShortestPath
from skdfl.optimizers import _graph

from .test_coverage import brute_force as coverage_optimum
from .test_coverage import coverage_np, greedy_np
from .test_linear_program import assert_feasible
from .test_shortest_path import assert_is_path, to_digraph

PROPERTY = settings(max_examples=200, deadline=None)


def parameters(shape, values):
    """Arrays whose entries are ties on a grid, free floats, or all zero."""
    tied = arrays(np.float64, shape, elements=st.sampled_from(values))
    free = arrays(np.float64, shape, elements=st.floats(min(values), max(values), width=32))
    zero = st.just(np.zeros(shape))
    return st.one_of(tied, tied, free, zero)


def rows():
    return st.integers(1, 3)


# ------------------------------------------------------------ ShortestPath

@st.composite
def graphs(draw):
    """(ShortestPath, arcs, source, target, whether costs may be negative)."""
    kind = draw(st.sampled_from(["grid", "two-node", "dag", "cyclic"]))
    if kind == "grid":
        h, w = draw(st.tuples(st.integers(1, 4), st.integers(1, 4)).filter(
            lambda g: g[0] * g[1] >= 2))
        sp = ShortestPath(grid=(h, w))
        return sp, sp.arcs, 0, h * w - 1, True
    if kind == "two-node":
        arcs, source, target, signed = draw(st.sampled_from([
            ([(0, 1)], 0, 1, True), ([(1, 0)], 1, 0, True), ([(0, 1), (1, 0)], 0, 1, False)]))
    elif kind == "dag":
        n = draw(st.integers(2, 6))
        order = draw(st.permutations(range(n)))
        pairs = [(order[i], order[j]) for i in range(n) for j in range(i + 1, n)]
        chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
        backbone = [(order[i], order[i + 1]) for i in range(n - 1)]
        arcs = chosen + [a for a in backbone if a not in chosen]
        source, target, signed = order[0], order[-1], True
    else:
        n = draw(st.integers(2, 5))
        pairs = [(u, v) for u in range(n) for v in range(n) if u != v]
        chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
        ring = [(i, (i + 1) % n) for i in range(n)]
        arcs = chosen + [a for a in ring if a not in chosen]
        source, target = draw(st.sampled_from([(u, v) for u, v in pairs]))
        signed = False
    arcs = np.array(draw(st.permutations(arcs)), dtype=np.int64)
    return ShortestPath(edges=arcs, source=source, target=target), arcs, source, target, signed


@PROPERTY
@given(st.data())
def test_shortest_path_matches_networkx(data):
    sp, arcs, source, target, signed = data.draw(graphs())
    values = [-2.0, -1.0, 0.0, 0.5, 1.0, 2.0] if signed else [0.0, 0.5, 1.0, 2.0]
    theta = data.draw(parameters((data.draw(rows()), len(arcs)), values))
    x = sp.solve(theta)
    assert x.shape == theta.shape
    value = sp.objective(x, theta)
    for row, cost, got in zip(x, theta, value):
        assert_is_path(row, arcs, source, target)
        graph = to_digraph(arcs, cost)
        oracle = (nx.bellman_ford_path_length(graph, source, target) if signed
                  else nx.dijkstra_path_length(graph, source, target))
        assert math.isclose(got, np.dot(row, cost), rel_tol=1e-12, abs_tol=1e-12)
        assert math.isclose(got, oracle, rel_tol=1e-9, abs_tol=1e-9)
    # Oracle-free: a positive scaling changes no optimal value.
    scaled = sp.objective(sp.solve(3.0 * theta), theta)
    np.testing.assert_allclose(scaled, value, rtol=1e-9, atol=1e-9)
    if sp.grid is not None:    # every grid path has h + w - 2 arcs: a shift changes nothing
        shifted = sp.objective(sp.solve(theta + 1.5), theta)
        np.testing.assert_allclose(shifted, value, rtol=1e-9, atol=1e-9)


def reachable_pairs(arcs, n_nodes, mask):
    """(s, t) pairs, s != t, joined by a path of open arcs."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n_nodes))
    graph.add_edges_from(np.asarray(arcs)[mask].tolist())
    return [(s, t) for s in range(n_nodes) for t in sorted(nx.descendants(graph, s))]


@PROPERTY
@given(st.data())
def test_shortest_path_per_row_equals_each_row_alone(data):
    """Batched per-instance solving = each row solved alone on its own open graph."""
    sp, arcs, source, target, signed = data.draw(graphs())
    n_nodes, n = int(np.max(arcs)) + 1, data.draw(rows())
    given = data.draw(st.sampled_from(["all", "ends", "mask"]))
    masks = data.draw(arrays(bool, (n, len(arcs)), elements=st.sampled_from([True, True, False])))
    if given == "ends":
        masks[:] = True
    ends = []
    for mask in masks:
        pairs = reachable_pairs(arcs, n_nodes, mask)
        if given == "mask":
            if (source, target) not in pairs:
                mask[:] = True                      # the problem's own ends need a path
            ends.append((source, target))
            continue
        if not pairs:
            mask[:] = True
            pairs = reachable_pairs(arcs, n_nodes, mask)
        ends.append(data.draw(st.sampled_from(pairs)))
    sources, targets = np.array(ends).T
    values = [-2.0, -1.0, 0.0, 0.5, 1.0, 2.0] if signed else [0.0, 0.5, 1.0, 2.0]
    theta = data.draw(parameters((n, len(arcs)), values))
    params = {"all": dict(source=sources, target=targets, arc_mask=masks),
              "ends": dict(source=sources, target=targets), "mask": dict(arc_mask=masks)}[given]
    dynamic = data.draw(st.booleans())
    with mock.patch.object(_graph, "MAX_PATH_ENTRIES", 0 if dynamic else _graph.MAX_PATH_ENTRIES):
        x = ShortestPath(**sp.get_params()).solve(theta, **params)
    for row, cost, s, t, mask in zip(x, theta, sources, targets, masks):
        assert_is_path(row, arcs, s, t, n_nodes)
        assert not row[~mask].any()
        kept = np.flatnonzero(mask)
        alone = ShortestPath(edges=np.asarray(arcs)[kept], source=int(s), target=int(t))
        back = np.zeros(len(arcs))
        back[kept] = alone.solve(cost[kept])
        assert math.isclose(row @ cost, back @ cost, rel_tol=1e-9, abs_tol=1e-9)


# ------------------------------------------------------------------ KSubset

def k_subset_brute_force(theta, k):
    return max(sum(theta[list(s)]) for s in itertools.combinations(range(len(theta)), k))


@PROPERTY
@given(st.data())
def test_k_subset_matches_brute_force(data):
    n = data.draw(st.integers(1, 7))
    k = data.draw(st.one_of(st.integers(1, n), st.just(n)))
    opt = KSubset(k=k, n_items=data.draw(st.sampled_from([None, n])))
    theta = data.draw(parameters((data.draw(rows()), n), [-1.0, 0.0, 0.5, 1.0, 3.0]))
    x = opt.solve(theta)
    assert np.isin(x, (0.0, 1.0)).all()
    np.testing.assert_array_equal(x.sum(1), k)
    value = opt.objective(x, theta)
    for got, row in zip(value, theta):
        assert math.isclose(got, k_subset_brute_force(row, k), rel_tol=1e-12, abs_tol=1e-12)
    if k == n:
        np.testing.assert_array_equal(x, 1.0)
    # Oracle-free: sum(x) = k, so a shift of every value changes no optimal value.
    shifted = opt.objective(opt.solve(theta - 2.0), theta)
    np.testing.assert_allclose(shifted, value, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------- Knapsack

def knapsack_brute_force(theta, weights, capacity):
    best = 0.0                      # the empty set is always feasible
    for bits in itertools.product((0.0, 1.0), repeat=len(weights)):
        bits = np.array(bits)
        if bits @ weights <= capacity:
            best = max(best, float(bits @ theta))
    return best


@PROPERTY
@given(st.data())
def test_knapsack_matches_brute_force_on_degenerate_instances(data):
    n = data.draw(st.integers(1, 6))
    weights = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    capacity = data.draw(st.one_of(st.just(0), st.integers(0, 8), st.just(int(weights.sum()))))
    opt = Knapsack(weights, capacity)
    theta = data.draw(parameters((data.draw(rows()), n), [-1.0, 0.0, 1.0, 2.0]))
    x = opt.solve(theta)
    assert np.isin(x, (0.0, 1.0)).all()
    assert (x @ weights <= capacity).all()
    value = opt.objective(x, theta)
    for got, row, chosen in zip(value, theta, x):
        best = knapsack_brute_force(row, weights, capacity)
        assert math.isclose(got, best, rel_tol=1e-12, abs_tol=1e-12)
        # An item of negative value is never worth its place; a weightless item of
        # positive value always is (unless its value is lost in the rounding of the sum).
        assert not chosen[row < 0].any()
        assert chosen[(weights == 0) & (row > 1e-12 * (1.0 + np.abs(row).sum()))].all()
        if capacity >= weights.sum():
            assert math.isclose(got, row[row > 0].sum(), abs_tol=1e-12)
    # More room never lowers the optimal value.
    more = Knapsack(weights, capacity + 1)
    assert (more.objective(more.solve(theta), theta) >= value - 1e-12).all()



@settings(max_examples=100, deadline=None)
@given(st.data())
def test_k_subset_per_row_equals_each_row_alone(data):
    """Batched per-row k == a fixed KSubset built from each row's k."""
    n, batch = data.draw(st.integers(1, 7)), data.draw(st.integers(1, 5))
    k = data.draw(arrays(np.int64, batch, elements=st.integers(0, n)))
    theta = data.draw(parameters((batch, n), [-1.0, 0.0, 0.5, 1.0, 3.0]))
    opt = KSubset(k=1, n_items=data.draw(st.sampled_from([None, n])))
    x = opt.solve(theta, k=k)
    value = opt.objective(x, theta, k=k)
    np.testing.assert_array_equal(x.sum(1), k)
    for b in range(batch):
        if k[b] == 0:
            np.testing.assert_array_equal(x[b], 0.0)
            continue
        alone = KSubset(k=int(k[b]), n_items=n)
        expected = alone.solve(theta[b:b + 1])
        assert math.isclose(value[b], alone.objective(expected, theta[b:b + 1])[0],
                            rel_tol=1e-12, abs_tol=1e-12)
        # Without ties, or at the batch's largest k (the same topk): the same decision.
        if len(set(theta[b])) == n or k[b] == k.max():
            np.testing.assert_array_equal(x[b], expected[0])

# ------------------------------------------------------------ LinearProgram

@st.composite
def linear_programs(draw):
    """A feasible LP in the box [0, 1]^n (so bounded), with degenerate integer rows."""
    n = draw(st.integers(1, 4))
    x0 = draw(arrays(np.float64, n, elements=st.sampled_from([0.0, 0.25, 0.5, 1.0])))
    m_ub, m_eq = draw(st.integers(0, 3)), draw(st.integers(0, 1))
    coef = st.sampled_from([-2.0, -1.0, 0.0, 1.0, 2.0])
    A_ub = draw(arrays(np.float64, (m_ub, n), elements=coef)) if m_ub else None
    A_eq = draw(arrays(np.float64, (m_eq, n), elements=coef)) if m_eq else None
    slack = draw(arrays(np.float64, m_ub, elements=st.sampled_from([0.0, 0.5, 2.0])))
    lp = LinearProgram(
        A_eq=A_eq, b_eq=None if A_eq is None else A_eq @ x0,
        A_ub=A_ub, b_ub=None if A_ub is None else A_ub @ x0 + slack,
        bounds=(0, 1) if A_ub is not None or A_eq is not None else [(0, 1)] * n,
        sense=draw(st.sampled_from(["maximize", "minimize"])))
    return lp, n


@PROPERTY
@given(st.data())
def test_linear_program_matches_highs_interior_point(data):
    lp, n = data.draw(linear_programs())
    theta = data.draw(parameters((data.draw(rows()), n), [-1.0, 0.0, 1.0, 2.0]))
    x = lp.solve(theta)
    value = lp.objective(x, theta)
    d = lp._data
    for got, row, decision in zip(value, theta, x):
        assert_feasible(lp, decision)
        res = linprog(lp.sign * row, A_ub=d.A_ub, b_ub=d.b_ub, A_eq=d.A_eq, b_eq=d.b_eq,
                      bounds=d.linprog_bounds, method="highs-ipm")
        assert res.status == 0
        assert math.isclose(got, lp.sign * res.fun, rel_tol=1e-7, abs_tol=1e-7)
    # The quadratic relaxation is feasible and at least as good as the exact vertex
    # for its own objective theta @ x -/+ gamma ||x||^2.
    gamma = data.draw(st.sampled_from([0.05, 0.5, 2.0]))
    relaxed = lp.relax(torch.as_tensor(theta), gamma).numpy()
    for row, point, vertex in zip(theta, relaxed, x):
        assert_feasible(lp, point, tol=1e-6)

        def penalized(v, row=row):
            return -lp.sign * (row @ v) - gamma * (v @ v)

        assert penalized(point) >= penalized(vertex) - 1e-7


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_linear_program_per_row_rhs_equals_each_row_alone(data):
    """Batched per-row right-hand sides (and upper bounds) == a fixed LP built from each row."""
    lp, n = data.draw(linear_programs())
    d = lp._data
    n_rows = data.draw(rows())
    theta = data.draw(parameters((n_rows, n), [-1.0, 0.0, 1.0, 2.0]))
    # Every row's data around its own point of the box: feasible, often degenerate.
    x0 = data.draw(arrays(np.float64, (n_rows, n), elements=st.sampled_from([0.0, 0.5, 1.0])))
    slack = data.draw(arrays(np.float64, (n_rows, 0 if d.A_ub is None else len(d.A_ub)),
                             elements=st.sampled_from([0.0, 0.5, 2.0])))
    params = {}
    if (d.A_eq is not None or d.A_ub is not None) and data.draw(st.booleans()):
        if d.A_eq is not None:
            params["b_eq"] = x0 @ d.A_eq.T
        if d.A_ub is not None:
            params["b_ub"] = x0 @ d.A_ub.T + slack
    upper = None
    if not params or data.draw(st.booleans()):       # closes some variables at 0.5 or x0
        upper = np.where(data.draw(arrays(bool, (n_rows, n))), np.maximum(x0, 0.5), np.inf)
        if not params:                               # the shared data must hold for x0
            keep = np.ones(n_rows, dtype=bool)
            if d.A_eq is not None:
                keep &= np.abs(x0 @ d.A_eq.T - d.b_eq).max(1) == 0
            if d.A_ub is not None:
                keep &= (x0 @ d.A_ub.T <= d.b_ub).all(1)
            upper = np.where(keep[:, None], upper, np.inf)
    hi = [d.hi] * n_rows if upper is None else np.minimum(d.hi, upper)
    alone = [LinearProgram(A_eq=d.A_eq, b_eq=params.get("b_eq", [d.b_eq] * n_rows)[i],
                           A_ub=d.A_ub, b_ub=params.get("b_ub", [d.b_ub] * n_rows)[i],
                           bounds=list(zip(d.lo, hi[i])), sense=lp.sense)
             for i in range(n_rows)]
    if upper is None:
        x = lp.solve(theta, **params)
        for i, one in enumerate(alone):
            np.testing.assert_array_equal(x[i], one.solve(theta[i]))
    gamma = data.draw(st.sampled_from([0.05, 0.5, 2.0]))
    as_t = lambda a: None if a is None else torch.as_tensor(a)  # noqa: E731
    t = torch.as_tensor(theta).requires_grad_()
    checked = lp.check_params(params, n_rows)
    relaxed = lp._relax(t, gamma, upper=as_t(upper), **checked)
    g = torch.as_tensor(np.linspace(-1.0, 1.0, n_rows * n).reshape(n_rows, n))
    grad, = torch.autograd.grad((relaxed * g).sum(), t)
    for i, one in enumerate(alone):
        t_i = torch.as_tensor(theta[i:i + 1]).requires_grad_()
        x_i = one.relax(t_i, gamma)
        grad_i, = torch.autograd.grad((x_i * g[i]).sum(), t_i)
        np.testing.assert_allclose(relaxed[i].detach(), x_i[0].detach(), atol=1e-7)
        assert_feasible(one, relaxed[i].detach().numpy(), tol=1e-7)
        # The gradient is the projector onto the face: equal where the faces agree,
        # which degenerate ties can break, so compare only at the same point where
        # the active constraints are independent (one face).
        if np.allclose(relaxed[i].detach(), x_i[0].detach(), atol=1e-12) \
                and not degenerate(one, x_i[0].detach().numpy()):
            np.testing.assert_allclose(grad[i], grad_i[0], atol=1e-7)


def degenerate(lp, x, tol=1e-9):
    """More constraints of ``lp`` active at ``x`` than their rank: the face is not unique."""
    d = lp._data
    active = [np.eye(len(x))[(np.abs(x - d.lo) <= tol) | (np.abs(x - d.hi) <= tol)]]
    if d.A_eq is not None:
        active.append(d.A_eq)
    if d.A_ub is not None:
        active.append(d.A_ub[np.abs(d.A_ub @ x - d.b_ub) <= tol])
    active = np.vstack(active)
    return len(active) > 0 and len(active) > np.linalg.matrix_rank(active)


# ------------------------------------------------------- CoverageMaximizer

@PROPERTY
@given(st.data())
def test_coverage_greedy_against_reference_and_optimum(data):
    n, m = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 3))
    k = data.draw(st.one_of(st.integers(1, n), st.just(1), st.just(n)))
    weights = data.draw(st.one_of(st.none(), arrays(np.float64, m,
                                                    elements=st.sampled_from([0.0, 1.0, 2.0]))))
    # dyadic probabilities: every gain is exact, so ties are real ties
    theta = data.draw(st.one_of(
        arrays(np.float64, (data.draw(rows()), n * m), elements=st.integers(0, 8).map(
            lambda i: i / 8)),
        st.just(np.zeros((1, n * m)))))
    opt = CoverageMaximizer(k=k, n_items=n, n_targets=m, weights=weights)
    w = np.ones(m) if weights is None else weights
    x = opt.solve(theta)
    assert np.isin(x, (0.0, 1.0)).all() and (x.sum(1) <= k).all()
    value = opt.objective(x, theta)
    bigger = CoverageMaximizer(k=min(k + 1, n), n_items=n, n_targets=m, weights=weights)
    x_more = bigger.solve(theta)
    for got, row, chosen, chosen_more in zip(value, theta, x, x_more):
        probabilities = row.reshape(n, m)
        np.testing.assert_array_equal(chosen, greedy_np(probabilities, w, k))
        assert math.isclose(got, coverage_np(chosen, probabilities, w), abs_tol=1e-12)
        best = coverage_optimum(probabilities, w, k)
        assert got <= best + 1e-12
        assert got >= (1 - 1 / math.e) * best - 1e-12
        if k == 1:                       # one greedy step is the best single item
            assert math.isclose(got, best, abs_tol=1e-12)
        if not row.any():
            assert not chosen.any()      # nothing to cover: nothing chosen
        assert (chosen_more >= chosen).all()       # greedy sets are nested in k


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_coverage_per_row_budget_and_weights_equal_each_row_alone(data):
    """Batched per-row k and weights == a fixed CoverageMaximizer built from each row."""
    n, m, n_rows = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 3)), data.draw(rows())
    k = data.draw(arrays(np.int64, n_rows, elements=st.integers(0, n)))
    weights = data.draw(arrays(np.float64, (n_rows, m),
                               elements=st.sampled_from([0.0, 0.5, 1.0, 2.0])))
    theta = data.draw(arrays(np.float64, (n_rows, n * m),
                             elements=st.integers(0, 8).map(lambda i: i / 8)))
    given_params = data.draw(st.sampled_from([("k",), ("weights",), ("k", "weights")]))
    params = {name: {"k": k, "weights": weights}[name] for name in given_params}
    k_rows = k if "k" in params else np.full(n_rows, n)
    w_rows = weights if "weights" in params else np.ones((n_rows, m))
    opt = CoverageMaximizer(k=n, n_items=n, n_targets=m)
    x = opt.solve(theta, **params)
    gamma = data.draw(st.sampled_from([0.0, 0.1, 1.0]))
    t = torch.as_tensor(theta).requires_grad_()
    relaxed = opt.relax(t, gamma, **params)
    c = torch.as_tensor(np.linspace(-1.0, 1.0, n_rows * n).reshape(n_rows, n))
    grad, = torch.autograd.grad((relaxed * c).sum(), t)
    for i in range(n_rows):
        if k_rows[i] == 0:                       # nothing to choose: nothing chosen, no gradient
            assert not x[i].any() and not relaxed[i].any() and not grad[i].any()
            continue
        alone = CoverageMaximizer(k=int(k_rows[i]), n_items=n, n_targets=m, weights=w_rows[i])
        np.testing.assert_array_equal(x[i], alone.solve(theta[i]))
        np.testing.assert_array_equal(x[i], greedy_np(theta[i].reshape(n, m), w_rows[i],
                                                      k_rows[i]))
        t_i = torch.as_tensor(theta[i:i + 1]).requires_grad_()
        x_i = alone.relax(t_i, gamma)
        grad_i, = torch.autograd.grad((x_i * c[i]).sum(), t_i)
        np.testing.assert_allclose(relaxed[i].detach(), x_i[0].detach(), atol=1e-9)
        np.testing.assert_allclose(grad[i], grad_i[0], rtol=1e-6, atol=1e-8)


@st.composite
def knapsack_rows(draw):
    """A knapsack (1-D or multi-dimensional) and per-row capacities and weights."""
    n, batch = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    n_dims = draw(st.sampled_from([None, 1, 2]))          # None: 1-D weights
    dims = () if n_dims is None else (n_dims,)
    weights = draw(arrays(np.int64, (batch, *dims, n), elements=st.integers(0, 4)))
    capacity = draw(arrays(np.int64, (batch, *dims), elements=st.one_of(
        st.integers(0, 10), st.just(0), st.just(40))))
    knapsack = Knapsack(draw(arrays(np.int64, (*dims, n), elements=st.integers(0, 4))),
                        draw(arrays(np.int64, dims, elements=st.integers(0, 10))).tolist()
                        if dims else draw(st.integers(0, 10)))
    given = draw(st.sampled_from([("capacity",), ("weights",), ("capacity", "weights")]))
    params = {name: {"capacity": capacity, "weights": weights}[name] for name in given}
    return knapsack, params, batch, n


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_knapsack_per_row_equals_each_row_alone(data):
    knapsack, params, batch, n = data.draw(knapsack_rows())
    # values on a grid of halves (ties included): every sum is exact
    theta = data.draw(arrays(np.float64, (batch, n),
                             elements=st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0])))
    x = knapsack.solve(theta, **params)
    value = knapsack.objective(x, theta, **params)
    for b in range(batch):
        weights = params.get("weights", np.asarray(knapsack.weights)[None].repeat(batch, 0))[b]
        capacity = params.get("capacity", np.asarray(knapsack.capacity)[None].repeat(batch, 0))[b]
        alone = Knapsack(weights, capacity.tolist() if np.ndim(capacity) else int(capacity))
        expected = alone.objective(alone.solve(theta[b:b + 1]), theta[b:b + 1])[0]
        assert np.isin(x[b], (0.0, 1.0)).all()
        assert np.all(np.atleast_2d(weights) @ x[b] <= capacity)
        assert value[b] == expected == float(x[b] @ theta[b])
