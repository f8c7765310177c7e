"""ShortestPath against networkx, an independent oracle.

Every decision must be a simple source-target path (0/1 entries, +1 flow out
of the source, -1 into the target, 0 elsewhere, no stray cycles) and its cost
must equal the optimal cost networkx computes on the same graph.
"""

import pickle

import networkx as nx
import numpy as np
import pytest
import torch
from sklearn.base import clone

from skdfl.optimizers import ShortestPath
from skdfl.optimizers import _graph

GRIDS = [(1, 2), (1, 7), (2, 1), (6, 1), (2, 2), (3, 4), (4, 3), (5, 5), (8, 3)]


# ---------------------------------------------------------------- helpers

def expected_grid_arcs(height, width):
    """PyEPO's arc order, written independently: per row, east arcs then south arcs."""
    arcs = []
    for i in range(height):
        arcs += [(i * width + j, i * width + j + 1) for j in range(width - 1)]
        if i < height - 1:
            arcs += [(i * width + j, (i + 1) * width + j) for j in range(width)]
    return arcs


def to_digraph(arcs, costs):
    graph = nx.DiGraph()
    for (u, v), c in zip(arcs, costs):
        assert not graph.has_edge(u, v), "the oracle needs a graph without parallel arcs"
        graph.add_edge(int(u), int(v), weight=float(c))
    return graph


def assert_is_path(x, arcs, source, target, n_nodes=None):
    """x marks the arcs of a simple path from source to target, nothing else."""
    x = np.asarray(x, dtype=float)
    arcs = np.asarray(arcs)
    assert x.shape == (len(arcs),)
    assert np.isin(x, (0.0, 1.0)).all(), f"decision is not 0/1: {x}"
    n_nodes = n_nodes or int(arcs.max()) + 1
    flow = np.zeros(n_nodes)
    np.add.at(flow, arcs[:, 0], x)
    np.subtract.at(flow, arcs[:, 1], x)
    expected = np.zeros(n_nodes)
    expected[source] += 1
    expected[target] -= 1
    np.testing.assert_array_equal(flow, expected)
    # Flow conservation allows a path plus disjoint cycles: walk it to exclude them.
    used = {}
    for e in np.flatnonzero(x):
        tail = int(arcs[e, 0])
        assert tail not in used, f"two used arcs leave node {tail}"
        used[tail] = int(arcs[e, 1])
    node, steps = source, 0
    while node != target:
        node = used[node]
        steps += 1
        assert steps <= len(used)
    assert steps == int(x.sum()), "the used arcs hold a cycle besides the path"


def path_cost(x, theta):
    return float(np.dot(np.asarray(x, dtype=float), theta))


def random_dag(rng, n_nodes, p):
    """A DAG on shuffled labels; the source is the first node of the hidden order."""
    order = rng.permutation(n_nodes)
    arcs = [(order[i], order[j]) for i in range(n_nodes) for j in range(i + 1, n_nodes)
            if rng.random() < p]
    # a backbone path keeps the target reachable
    arcs += [(order[i], order[i + 1]) for i in range(n_nodes - 1)
             if (order[i], order[i + 1]) not in set(arcs)]
    arcs = [arcs[i] for i in rng.permutation(len(arcs))]
    return np.array(arcs, dtype=np.int64), int(order[0]), int(order[-1])


def random_cyclic(rng, n_nodes, p):
    arcs = {(u, v) for u in range(n_nodes) for v in range(n_nodes)
            if u != v and rng.random() < p}
    arcs |= {(i, (i + 1) % n_nodes) for i in range(n_nodes)}   # a Hamiltonian cycle
    arcs = sorted(arcs)
    arcs = [arcs[i] for i in rng.permutation(len(arcs))]
    source, target = rng.choice(n_nodes, 2, replace=False)
    return np.array(arcs, dtype=np.int64), int(source), int(target)


def draw_costs(rng, shape, kind):
    if kind == "positive":
        return rng.uniform(0.01, 2.0, shape)
    if kind == "nonnegative-ties":
        return rng.integers(0, 3, shape).astype(float)
    if kind == "mixed":
        return rng.normal(0.0, 1.0, shape)
    if kind == "negative":
        return -rng.uniform(0.01, 2.0, shape)
    if kind == "mixed-ties":
        return rng.integers(-2, 3, shape).astype(float)
    raise AssertionError(kind)


@pytest.fixture(params=["listed-paths", "dynamic-programming"])
def kernel(request, monkeypatch):
    """Run a DAG test with each kernel: listed paths (few paths) and the level DP."""
    if request.param == "dynamic-programming":
        monkeypatch.setattr(_graph, "MAX_PATH_ENTRIES", 0)
    return request.param


# ------------------------------------------------------------- arc order

def test_grid_arc_order_is_pyepo_order_hardcoded():
    arcs = ShortestPath(grid=(5, 5)).arcs
    assert arcs.shape == (40, 2)
    assert arcs[:12].tolist() == [[0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [1, 6], [2, 7],
                                  [3, 8], [4, 9], [5, 6], [6, 7], [7, 8]]
    assert arcs[-4:].tolist() == [[20, 21], [21, 22], [22, 23], [23, 24]]


@pytest.mark.parametrize("grid", GRIDS + [(3, 7)])
def test_grid_arcs_east_then_south(grid):
    h, w = grid
    sp = ShortestPath(grid=grid)
    assert sp.arcs.tolist() == [list(a) for a in expected_grid_arcs(h, w)]
    assert sp.n_params == sp.n_vars == h * (w - 1) + (h - 1) * w
    assert sp.arcs.dtype.kind == "i"


@pytest.mark.parametrize("grid", [(5, 5), (1, 4), (4, 1), (3, 7), (2, 2)])
def test_grid_arcs_equal_pyepo_model(grid):
    pytest.importorskip("gurobipy")
    grb = pytest.importorskip("pyepo.model.grb")
    expected = grb.shortestPathModel(grid).arcs
    assert ShortestPath(grid=grid).arcs.tolist() == [list(a) for a in expected]


# --------------------------------------------------------- grid vs oracle

@pytest.mark.parametrize("kind", ["positive", "mixed", "negative", "mixed-ties"])
@pytest.mark.parametrize("grid", GRIDS)
def test_grid_matches_networkx(grid, kind, kernel):
    rng = np.random.default_rng([*grid, len(kind)])
    h, w = grid
    sp = ShortestPath(grid=grid)
    arcs = expected_grid_arcs(h, w)
    theta = draw_costs(rng, (12, len(arcs)), kind)
    x = sp.solve(theta)
    assert isinstance(x, np.ndarray) and x.shape == theta.shape
    for row, cost in zip(x, theta):
        assert_is_path(row, arcs, 0, h * w - 1)
        oracle = nx.bellman_ford_path_length(to_digraph(arcs, cost), 0, h * w - 1)
        assert path_cost(row, cost) == pytest.approx(oracle, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("grid", [(1, 5), (5, 1)])
def test_single_row_or_column_uses_every_arc(grid):
    sp = ShortestPath(grid=grid)
    theta = np.random.default_rng(0).normal(size=(4, 4))
    np.testing.assert_array_equal(sp.solve(theta), np.ones((4, 4)))


# ---------------------------------------------------- edges= vs oracle

@pytest.mark.parametrize("kind", ["positive", "mixed", "negative", "mixed-ties"])
@pytest.mark.parametrize("seed", range(8))
def test_random_dag_matches_networkx(seed, kind, kernel):
    rng = np.random.default_rng(seed)
    arcs, source, target = random_dag(rng, int(rng.integers(2, 12)), float(rng.uniform(0.1, 0.6)))
    assert nx.is_directed_acyclic_graph(nx.DiGraph(arcs.tolist()))
    sp = ShortestPath(edges=arcs, source=source, target=target)
    np.testing.assert_array_equal(sp.arcs, arcs)
    theta = draw_costs(rng, (10, len(arcs)), kind)
    x = sp.solve(theta)
    for row, cost in zip(x, theta):
        assert_is_path(row, arcs, source, target)
        oracle = nx.bellman_ford_path_length(to_digraph(arcs, cost), source, target)
        assert path_cost(row, cost) == pytest.approx(oracle, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("kind", ["positive", "nonnegative-ties"])
@pytest.mark.parametrize("seed", range(8))
def test_random_cyclic_graph_matches_dijkstra(seed, kind):
    rng = np.random.default_rng(100 + seed)
    arcs, source, target = random_cyclic(rng, int(rng.integers(3, 11)),
                                         float(rng.uniform(0.1, 0.5)))
    assert not nx.is_directed_acyclic_graph(nx.DiGraph(arcs.tolist()))
    sp = ShortestPath(edges=arcs, source=source, target=target)
    theta = draw_costs(rng, (10, len(arcs)), kind)
    x = sp.solve(theta)
    for row, cost in zip(x, theta):
        assert_is_path(row, arcs, source, target)
        oracle = nx.dijkstra_path_length(to_digraph(arcs, cost), source, target)
        assert path_cost(row, cost) == pytest.approx(oracle, rel=1e-9, abs=1e-9)


def test_cyclic_graph_with_zero_cost_cycles():
    # all-zero costs: every s-t path is optimal, the decision must still be one path
    rng = np.random.default_rng(7)
    arcs, source, target = random_cyclic(rng, 9, 0.4)
    sp = ShortestPath(edges=arcs, source=source, target=target)
    for row in sp.solve(np.zeros((3, len(arcs)))):
        assert_is_path(row, arcs, source, target)


@pytest.mark.parametrize("cyclic", [False, True])
def test_parallel_arcs_take_the_cheapest(cyclic, kernel):
    # networkx's DiGraph has no parallel arcs: the oracle keeps the cheapest of each pair
    arcs = [(0, 1), (0, 1), (1, 2), (0, 2), (1, 2), (2, 3), (1, 3)]
    if cyclic:
        arcs.append((3, 0))
    arcs = np.array(arcs)
    sp = ShortestPath(edges=arcs, source=0, target=3)
    rng = np.random.default_rng(3)
    theta = rng.uniform(0.0, 2.0, (20, len(arcs)))
    for row, cost in zip(sp.solve(theta), theta):
        assert_is_path(row, arcs, 0, 3)
        graph = nx.DiGraph()
        for (u, v), c in zip(arcs.tolist(), cost):
            if not graph.has_edge(u, v) or graph[u][v]["weight"] > c:
                graph.add_edge(u, v, weight=c)
        assert path_cost(row, cost) == pytest.approx(nx.dijkstra_path_length(graph, 0, 3))


def test_edges_as_list_of_tuples_and_unused_node_labels():
    # node 2 appears in no arc: nodes are numbered 0 .. max index
    sp = ShortestPath(edges=[(0, 1), (1, 3), (0, 3)], source=0, target=3)
    np.testing.assert_array_equal(sp.solve(np.array([1.0, 1.0, 3.0])), [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(sp.solve(np.array([1.0, 1.0, 1.5])), [0.0, 0.0, 1.0])


def test_target_with_outgoing_arcs(kernel):
    arcs = np.array([(0, 1), (1, 2), (0, 2), (2, 3), (1, 3)])
    sp = ShortestPath(edges=arcs, source=0, target=2)
    theta = np.array([[1.0, 1.0, 3.0, -5.0, -5.0], [1.0, 1.0, 1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(sp.solve(theta), [[1, 1, 0, 0, 0], [0, 0, 1, 0, 0]])


# Regression: on a DAG, a source with incoming arcs must keep distance 0 when
# its topological level is relaxed (its predecessors are unreachable from it).
def test_dag_source_with_incoming_arcs_minimal(kernel):
    arcs = np.array([(1, 0), (1, 2), (0, 2)])
    sp = ShortestPath(edges=arcs, source=0, target=2)
    x = sp.solve(np.array([1.0, 2.0, 3.0]))
    assert_is_path(x, arcs, 0, 2)
    np.testing.assert_array_equal(x, [0.0, 0.0, 1.0])


def test_random_dag_source_with_incoming_arcs_matches_networkx(kernel):
    failures = []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        n_nodes = int(rng.integers(4, 10))
        order = rng.permutation(n_nodes)
        arcs = sorted({(order[i], order[j]) for i in range(n_nodes)
                       for j in range(i + 1, n_nodes) if rng.random() < 0.5}
                      | {(order[i], order[i + 1]) for i in range(n_nodes - 1)})
        arcs = np.array(arcs)
        source, target = int(order[1]), int(order[-1])    # order[0] -> source exists
        sp = ShortestPath(edges=arcs, source=source, target=target)
        theta = rng.normal(size=(5, len(arcs)))
        for row, cost in zip(sp.solve(theta), theta):
            oracle = nx.bellman_ford_path_length(to_digraph(arcs, cost), source, target)
            try:
                assert_is_path(row, arcs, source, target)
                assert path_cost(row, cost) == pytest.approx(oracle)
            except (AssertionError, KeyError):
                failures.append(seed)
    assert not failures


# ------------------------------------------------------- listed paths

@pytest.mark.parametrize("seed", range(6))
def test_listed_paths_are_every_simple_path(seed):
    rng = np.random.default_rng(seed)
    arcs, source, target = random_dag(rng, int(rng.integers(2, 9)), 0.5)
    paths = ShortestPath(edges=arcs, source=source, target=target).graph.paths()
    multigraph = nx.MultiDiGraph()
    multigraph.add_edges_from((int(u), int(v), e) for e, (u, v) in enumerate(arcs))
    oracle = {frozenset(key for *_, key in path)
              for path in nx.all_simple_edge_paths(multigraph, source, target)}
    listed = {frozenset(np.flatnonzero(row).tolist()) for row in paths}
    assert len(paths) == len(oracle) and listed == oracle


def test_paths_listed_only_when_few():
    assert ShortestPath(grid=(5, 5)).graph.paths().shape == (70, 40)
    assert ShortestPath(grid=(7, 7)).graph.paths() is None      # 924 paths x 84 arcs
    arcs, source, target = random_cyclic(np.random.default_rng(0), 5, 0.3)
    assert ShortestPath(edges=arcs, source=source, target=target).graph.paths() is None


def test_listed_paths_score_a_large_batch_in_parts(monkeypatch):
    sp = ShortestPath(grid=(3, 4))
    theta = np.random.default_rng(0).normal(size=(50, sp.n_params))
    whole = sp.solve(theta)
    monkeypatch.setattr(_graph, "_SCORE_ENTRIES", 30)   # 3 rows of 10 paths at a time
    np.testing.assert_array_equal(ShortestPath(grid=(3, 4)).solve(theta), whole)


# ----------------------------------------------------------- batching

def make_problem(name):
    if name == "grid":
        return ShortestPath(grid=(4, 6)), "mixed"
    if name == "dag":
        arcs, source, target = random_dag(np.random.default_rng(1), 10, 0.4)
        return ShortestPath(edges=arcs, source=source, target=target), "mixed"
    arcs, source, target = random_cyclic(np.random.default_rng(2), 9, 0.3)
    return ShortestPath(edges=arcs, source=source, target=target), "positive"


@pytest.mark.parametrize("name", ["grid", "dag", "cyclic"])
def test_batch_equals_instance_by_instance(name, kernel):
    sp, kind = make_problem(name)
    theta = draw_costs(np.random.default_rng(5), (64, sp.n_params), kind)
    batch = sp.solve(theta)
    one_by_one = np.stack([sp.solve(row) for row in theta])
    np.testing.assert_array_equal(batch, one_by_one)
    torch_batch = sp.solve(torch.as_tensor(theta))
    np.testing.assert_array_equal(torch_batch.numpy(), batch)


def test_float32_tensor_keeps_dtype():
    sp = ShortestPath(grid=(3, 3))
    theta = torch.rand(5, sp.n_params, dtype=torch.float32)
    x = sp.solve(theta)
    assert x.dtype == torch.float32 and x.shape == theta.shape
    np.testing.assert_array_equal(x.numpy(), sp.solve(theta.double().numpy()))


def test_solve_does_not_mutate_theta():
    sp = ShortestPath(grid=(3, 3))
    theta = np.random.default_rng(0).normal(size=(4, sp.n_params))
    before = theta.copy()
    sp.solve(theta)
    sp.objective(sp.solve(theta), theta)
    np.testing.assert_array_equal(theta, before)


def test_pickle_and_clone_keep_behaviour():
    arcs, source, target = random_cyclic(np.random.default_rng(4), 8, 0.3)
    sp = ShortestPath(edges=arcs, source=source, target=target)
    theta = np.random.default_rng(1).uniform(size=(6, len(arcs)))
    expected = sp.solve(theta)
    for other in (pickle.loads(pickle.dumps(sp)), clone(sp)):
        np.testing.assert_array_equal(other.solve(theta), expected)
    assert sp.sense == "minimize" and sp.is_linear


def test_set_params_after_use_rebuilds_the_graph():
    sp = ShortestPath(grid=(3, 3))
    assert sp.n_params == 12
    sp.set_params(grid=(5, 5))
    assert sp.n_params == 40                           # stays 12
    assert sp.solve(np.ones(40)).shape == (40,)        # ValueError: theta must have 12 columns


# --------------------------------------------------------------- errors

CYCLIC = dict(edges=[(0, 1), (1, 2), (2, 0), (1, 3)], source=0, target=3)


def test_negative_costs_on_cyclic_graph_name_theta():
    sp = ShortestPath(**CYCLIC)
    with pytest.raises(ValueError, match="theta.*non-negative"):
        sp.solve(np.array([1.0, -0.5, 1.0, 1.0]))
    with pytest.raises(ValueError, match="theta"):
        sp.solve(torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, -1e-12, 1.0]]))
    # zero costs are fine
    np.testing.assert_array_equal(sp.solve(np.zeros(4)), [1.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize("kwargs", [{}, dict(grid=(2, 2), edges=[(0, 1)])],
                         ids=["neither", "both"])
def test_exactly_one_of_grid_and_edges(kwargs):
    with pytest.raises(ValueError, match=r"grid.*edges"):
        ShortestPath(**kwargs).n_params


@pytest.mark.parametrize("grid", [(0, 5), (5, 0), (5,), (1, 1), (2, 2, 2), (2.0, 3), (True, 2),
                                  (3, -1), "55", 5, np.float64(3.0)])
def test_bad_grid(grid):
    with pytest.raises(ValueError, match="grid"):
        ShortestPath(grid=grid).n_params


def test_grid_accepts_numpy_integers_and_lists():
    assert ShortestPath(grid=(np.int64(3), np.int32(4))).n_params == 17
    assert ShortestPath(grid=[3, 4]).n_params == 17


def test_grid_rejects_source_and_target():
    with pytest.raises(ValueError, match="source"):
        ShortestPath(grid=(3, 3), source=0, target=8).n_params


@pytest.mark.parametrize("edges", [[(0, 1), (1, 1), (1, 2)], [(2, 2)]])
def test_self_loop(edges):
    with pytest.raises(ValueError, match="edges.*self-loop"):
        ShortestPath(edges=edges, source=0, target=2).n_params


@pytest.mark.parametrize("edges", [[], [0, 1, 2], [(0, 1, 2)], [(0.0, 1.0)], [(-1, 0), (0, 1)],
                                   [("a", "b")]])
def test_bad_edges(edges):
    with pytest.raises(ValueError, match="edges"):
        ShortestPath(edges=edges, source=0, target=1).n_params


@pytest.mark.parametrize("edges,source,target", [
    ([(0, 1), (2, 3)], 0, 3),           # disconnected
    ([(0, 1), (2, 1)], 0, 2),           # arcs point the wrong way
    ([(1, 0), (0, 2)], 0, 1),
])
def test_unreachable_target(edges, source, target):
    with pytest.raises(ValueError, match="target"):
        ShortestPath(edges=edges, source=source, target=target).n_params


def test_source_equals_target():
    with pytest.raises(ValueError, match="source"):
        ShortestPath(edges=[(0, 1), (1, 0)], source=1, target=1).n_params


@pytest.mark.parametrize("name,kwargs,error", [
    ("source", dict(source=None, target=2), TypeError),
    ("target", dict(source=0, target=None), TypeError),
    ("source", dict(source=5, target=2), ValueError),
    ("target", dict(source=0, target=-1), ValueError),
    ("source", dict(source=0.0, target=2), TypeError),
    ("target", dict(source=0, target=True), TypeError),
])
def test_bad_source_or_target(name, kwargs, error):
    with pytest.raises(error, match=name):
        ShortestPath(edges=[(0, 1), (1, 2)], **kwargs).n_params


@pytest.mark.parametrize("width", [39, 41])
def test_theta_wrong_width(width):
    sp = ShortestPath(grid=(5, 5))
    with pytest.raises(ValueError, match="theta.*40"):
        sp.solve(np.ones((3, width)))
    with pytest.raises(ValueError, match="theta"):
        sp.solve(torch.ones(width))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("cyclic", [False, True])
def test_non_finite_theta(bad, cyclic):
    sp = ShortestPath(**CYCLIC) if cyclic else ShortestPath(grid=(2, 3))
    theta = np.ones((2, sp.n_params))
    theta[1, 2] = bad
    with pytest.raises(ValueError, match="theta.*finite"):
        sp.solve(theta)
    with pytest.raises(ValueError, match="theta.*finite"):
        sp.solve(torch.as_tensor(theta, dtype=torch.float32))


@pytest.mark.parametrize("theta,error", [
    (np.ones((2, 2, 4)), ValueError),
    (np.array(["a", "b", "c", "d"]), TypeError),
    (torch.ones(4, dtype=torch.complex64), TypeError),
])
def test_theta_bad_kind(theta, error):
    with pytest.raises(error, match="theta"):
        ShortestPath(grid=(2, 2)).solve(theta)


# ----------------------------------------------------------------- CUDA

@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["grid", "dag", "cyclic"])
def test_cuda_matches_cpu(name):
    sp, kind = make_problem(name)
    theta = torch.as_tensor(draw_costs(np.random.default_rng(0), (32, sp.n_params), kind))
    for dtype in (torch.float64, torch.float32):
        cpu = sp.solve(theta.to(dtype))
        x = sp.solve(theta.to("cuda", dtype))
        assert x.is_cuda and x.dtype == dtype and x.shape == theta.shape
        torch.testing.assert_close(x.cpu(), cpu, rtol=0, atol=0)
    # one instance, 1-D, on the device
    x1 = sp.solve(theta[0].cuda())
    assert x1.is_cuda and x1.shape == (sp.n_params,)
    # the CPU structures still work after the CUDA ones were built
    np.testing.assert_array_equal(sp.solve(theta).numpy(), sp.solve(theta.numpy()))


@pytest.mark.parametrize("few", [0, 100])
@pytest.mark.parametrize("name", ["grid", "dag", "cyclic"])
def test_dp_compares_incoming_arcs_either_way_alike(name, few, monkeypatch):
    # the DP picks the best incoming arc by comparisons (low in-degree) or by an
    # argmin (high): the same decisions, ties included
    monkeypatch.setattr(_graph, "MAX_PATH_ENTRIES", 0)
    sp, kind = make_problem(name)
    theta = draw_costs(np.random.default_rng(9), (64, sp.n_params),
                       "mixed-ties" if kind == "mixed" else "nonnegative-ties")
    expected = sp.solve(theta)
    monkeypatch.setattr(_graph, "_FEW_IN_ARCS", few)
    np.testing.assert_array_equal(ShortestPath(**sp.get_params()).solve(theta), expected)
