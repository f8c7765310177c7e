"""ShortestPath with costs on the cells of a grid (costs="cells"), against networkx.

The oracle is networkx on the node-weighted grid: an arc from each cell to
each neighbour (4 or 8 moves) costs the cell it enters, so a path's cost is
its source cell's cost plus its length. A decision must mark the cells of a
path between the end cells (connected through the moves) whose cost is the
oracle's optimum.
"""

import pickle

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone

from skdfl.optimizers import ShortestPath
from skdfl.optimizers._cell_grid import CellGrid, negative_cycle_pairs

GRIDS = [(1, 2), (2, 1), (1, 6), (5, 1), (2, 2), (3, 4), (4, 3), (5, 5), (6, 2)]


# ---------------------------------------------------------------- helpers

def neighbours(i, j, height, width, moves):
    """The cells a path may step to from (i, j), written independently of the solver."""
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if (di, dj) == (0, 0) or (moves == 4 and di != 0 and dj != 0):
                continue
            if 0 <= i + di < height and 0 <= j + dj < width:
                yield (i + di) * width + j + dj


def cell_graph(costs, height, width, moves):
    """Node-weighted grid as a DiGraph: the arc into a cell costs that cell."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(height * width))
    for i in range(height):
        for j in range(width):
            for v in neighbours(i, j, height, width, moves):
                graph.add_edge(i * width + j, v, weight=float(costs[v]))
    return graph


def optimum(costs, height, width, moves, source=0, target=None):
    """Cheapest path cost, both end cells included (Bellman-Ford: any sign)."""
    target = height * width - 1 if target is None else target
    graph = cell_graph(costs, height, width, moves)
    return float(costs[source]) + nx.bellman_ford_path_length(graph, source, target)


def assert_is_cheapest_path(x, costs, height, width, moves, source=0, target=None):
    target = height * width - 1 if target is None else target
    x = np.asarray(x, dtype=float)
    assert x.shape == (height * width,)
    assert np.isin(x, (0.0, 1.0)).all(), f"decision is not 0/1: {x}"
    assert x[source] == 1 and x[target] == 1
    visited = np.flatnonzero(x)
    within = cell_graph(costs, height, width, moves).subgraph(visited.tolist())
    assert nx.has_path(within, source, target), "the visited cells do not join the ends"
    np.testing.assert_allclose(x @ costs, optimum(costs, height, width, moves, source, target),
                               rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- against networkx

@pytest.mark.parametrize("moves", [4, 8])
@pytest.mark.parametrize("grid", GRIDS)
def test_random_costs_match_networkx(grid, moves):
    rng = np.random.default_rng(hash((grid, moves)) % 2**32)
    sp = ShortestPath(grid=grid, costs="cells", moves=moves)
    assert sp.n_params == sp.n_vars == grid[0] * grid[1]
    costs = rng.uniform(0.0, 10.0, (6, sp.n_params))
    costs[0] = 0.0                                   # all ties
    costs[1] = rng.integers(1, 4, sp.n_params)       # many ties
    x = sp.solve(costs)
    for row in range(len(costs)):
        assert_is_cheapest_path(x[row], costs[row], *grid, moves)
    np.testing.assert_allclose(sp.objective(x, costs), (x * costs).sum(1))


def test_default_moves_are_eight_and_diagonals_are_used():
    # Only the diagonal is cheap: with 8 moves the path takes it, with 4 it cannot.
    cost = np.full((3, 3), 5.0)
    np.fill_diagonal(cost, 1.0)
    x8 = ShortestPath(grid=(3, 3), costs="cells").solve(cost.reshape(1, -1))
    np.testing.assert_array_equal(x8.reshape(3, 3), np.eye(3))
    x4 = ShortestPath(grid=(3, 3), costs="cells", moves=4).solve(cost.reshape(1, -1))
    assert x4.sum() == 5 and (x4 @ cost.ravel())[0] == 13.0


def test_path_may_go_back_up_and_left():
    # A wall with a single gap at the top forces the path north-west first.
    cost = np.ones((4, 4))
    cost[1:, 1] = 100.0
    cost[0, 1] = 100.0
    cost[3, 0] = 1.0
    cost[:3, 2] = 100.0
    cost[3, 1] = 1.0
    x = ShortestPath(grid=(4, 4), costs="cells").solve(cost.reshape(1, -1))[0]
    assert_is_cheapest_path(x, cost.ravel(), 4, 4, 8)
    assert x.reshape(4, 4)[3, 1] == 1


@pytest.mark.parametrize("moves", [4, 8])
def test_per_instance_end_cells_match_networkx(moves):
    rng = np.random.default_rng(moves)
    height, width = 4, 5
    sp = ShortestPath(grid=(height, width), costs="cells", moves=moves)
    costs = rng.uniform(0.0, 3.0, (8, sp.n_params))
    ends = np.array([rng.choice(sp.n_params, 2, replace=False) for _ in range(8)])
    x = sp.solve(costs, source=ends[:, 0], target=ends[:, 1])
    for row, (s, t) in enumerate(ends):
        assert_is_cheapest_path(x[row], costs[row], height, width, moves, s, t)
    # Only one end given: the other is the grid's own corner.
    targets = rng.integers(1, sp.n_params, 8)
    x = sp.solve(costs, target=targets)
    for row, t in enumerate(targets):
        assert_is_cheapest_path(x[row], costs[row], height, width, moves, 0, t)


def test_batch_equals_rows_alone():
    rng = np.random.default_rng(1)
    sp = ShortestPath(grid=(6, 7), costs="cells")
    costs = rng.uniform(0.0, 1.0, (20, sp.n_params))
    costs[::3] = rng.integers(0, 3, (7, sp.n_params))       # ties
    together = sp.solve(costs)
    alone = np.concatenate([sp.solve(costs[r:r + 1]) for r in range(len(costs))])
    np.testing.assert_array_equal(together, alone)


# ---------------------------------------------------------------- negative costs

def test_negative_costs_without_negative_cycle_are_exact():
    rng = np.random.default_rng(2)
    height, width = 4, 4
    for moves in (4, 8):
        sp = ShortestPath(grid=(height, width), costs="cells", moves=moves)
        costs = rng.uniform(1.0, 2.0, (10, sp.n_params))
        # One negative cell per row, no neighbour cheaper than its magnitude.
        cells = rng.integers(0, sp.n_params, 10)
        costs[np.arange(10), cells] = -rng.uniform(0.0, 1.0, 10)
        x = sp.solve(costs)
        for row in range(10):
            assert_is_cheapest_path(x[row], costs[row], height, width, moves)
        assert (x[np.arange(10), cells] == 1).sum() > 0


def test_negative_cycle_raises_naming_row_and_cells():
    sp = ShortestPath(grid=(3, 3), costs="cells")
    costs = np.ones((3, 9))
    costs[1, 4] = -3.0                  # with its neighbours (cost 1): a negative cycle
    costs[2, 0] = -0.5                  # a cycle of cost 0.5: fine
    with pytest.raises(ValueError, match=r"theta has a negative cycle in row 1 \(instance 1\)"
                       r".*cells \(0, 0\) and \(1, 1\) cost -2 together"):
        sp.solve(costs)
    with pytest.raises(ValueError, match="negative cycle in row 1"):
        sp.check_theta(torch.as_tensor(costs))
    # Training code calls _solve directly: it refuses too.
    with pytest.raises(ValueError, match="costs to decide with.*negative cycle in row 1"):
        sp._solve(torch.as_tensor(costs))
    # Without row 1 the rest is solved, the negative cell included when it pays.
    x = sp.solve(costs[[0, 2]])
    assert_is_cheapest_path(x[1], costs[2], 3, 3, 8)


# ---------------------------------------------------------------- negative_costs="clip"

@pytest.mark.parametrize("moves", [4, 8])
def test_clip_solves_the_clipped_costs_as_networkx(moves):
    rng = np.random.default_rng(11 + moves)
    height, width = 4, 5
    clip = ShortestPath(grid=(height, width), costs="cells", moves=moves,
                        negative_costs="clip")
    raising = ShortestPath(grid=(height, width), costs="cells", moves=moves)
    assert clip.any_sign and not raising.any_sign
    assert clip.theta_domain == raising.theta_domain == "nonnegative"
    costs = rng.normal(0.5, 1.5, (12, clip.n_params))    # many negative cycles
    costs[0] = -1.0                                     # all negative: every path costs 0
    with pytest.raises(ValueError, match="negative cycle"):
        raising.solve(costs)
    clip.check_theta(costs)                             # accepted: it clips
    x = clip.solve(costs)
    for row in range(len(costs)):
        assert_is_cheapest_path(x[row], np.maximum(costs[row], 0.0), height, width, moves)
    # objective scores with the given costs, not the clipped ones
    np.testing.assert_allclose(clip.objective(x, costs), (x * costs).sum(1))
    # training code's direct call clips too, and non-negative costs are solved as before
    np.testing.assert_array_equal(clip._solve(torch.as_tensor(costs)).numpy(), x)
    positive = np.abs(costs)
    np.testing.assert_array_equal(clip.solve(positive), raising.solve(positive))


def test_clip_relax_tends_to_the_clipped_path():
    clip = ShortestPath(grid=(3, 3), costs="cells", negative_costs="clip")
    costs = torch.tensor([[1.0, -4.0, 9.0, 1.0, 9.0, 1.0, 9.0, 1.0, 1.0]], dtype=torch.float64)
    relaxed = clip.relax(costs, 1e-3)
    np.testing.assert_allclose(relaxed.numpy(), clip.solve(costs).numpy(), atol=1e-3)


def test_clip_lets_perturbation_methods_train():
    from skdfl.methods import BlackboxRegret, ImleRegret, PerturbedFenchelYoung, SPOPlus
    raising = ShortestPath(grid=(3, 3), costs="cells")
    clip = ShortestPath(grid=(3, 3), costs="cells", negative_costs="clip")
    theta_hat = torch.rand(4, 9, dtype=torch.float64, requires_grad=True)
    theta = torch.rand(4, 9, dtype=torch.float64) + 0.5
    x = clip.solve(theta)
    for make in (SPOPlus, BlackboxRegret, ImleRegret, PerturbedFenchelYoung):
        with pytest.raises(ValueError, match="solves exactly only non-negative"):
            make(raising)
        loss = make(clip)(theta_hat, theta, x)
        loss.backward()
        assert torch.isfinite(theta_hat.grad).all()
        theta_hat.grad = None


def test_negative_cycle_pairs_match_brute_force():
    rng = np.random.default_rng(3)
    for moves in (4, 8):
        grid = CellGrid(3, 4, moves)
        costs = torch.as_tensor(rng.uniform(-1.0, 2.0, (30, 12)))
        table = negative_cycle_pairs(grid, costs).numpy()
        for row in range(30):
            pairs = {(u, v) for u in range(12)
                     for v in neighbours(u // 4, u % 4, 3, 4, moves)
                     if u < v and costs[row, u] + costs[row, v] < 0}
            assert set(np.flatnonzero(table[row])) == {u for u, _ in pairs}
            graph = cell_graph(costs[row].numpy(), 3, 4, moves)
            has_cycle = nx.negative_edge_cycle(graph)
            assert has_cycle == bool(pairs)


# ---------------------------------------------------------------- property

@st.composite
def cell_problems(draw):
    height, width = draw(st.tuples(st.integers(1, 4), st.integers(1, 4)).filter(
        lambda g: g[0] * g[1] >= 2))
    moves = draw(st.sampled_from([4, 8]))
    n_rows = draw(st.integers(1, 4))
    n = height * width
    tied = arrays(np.float64, (n_rows, n), elements=st.sampled_from([0.0, 0.5, 1.0, 2.0]))
    free = arrays(np.float64, (n_rows, n), elements=st.floats(0.0, 5.0, width=32))
    costs = draw(st.one_of(tied, free, st.just(np.zeros((n_rows, n)))))
    ends = draw(st.lists(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True),
                         min_size=n_rows, max_size=n_rows))
    return height, width, moves, costs, np.array(ends)


@settings(max_examples=60, deadline=None)
@given(cell_problems(), st.booleans())
def test_property_batch_equals_rows_alone_and_is_optimal(problem, per_row_ends):
    height, width, moves, costs, ends = problem
    sp = ShortestPath(grid=(height, width), costs="cells", moves=moves)
    params = {"source": ends[:, 0], "target": ends[:, 1]} if per_row_ends else {}
    x = sp.solve(costs, **params)
    for row in range(len(costs)):
        row_params = {name: value[row:row + 1] for name, value in params.items()}
        np.testing.assert_array_equal(x[row:row + 1], sp.solve(costs[row:row + 1],
                                                               **row_params))
        s, t = ends[row] if per_row_ends else (0, height * width - 1)
        assert_is_cheapest_path(x[row], costs[row], height, width, moves, s, t)


@settings(max_examples=60, deadline=None)
@given(st.tuples(st.integers(1, 4), st.integers(1, 4)).filter(lambda g: g[0] * g[1] >= 2),
       st.sampled_from([4, 8]), st.data())
def test_property_signed_costs_solved_or_refused_as_networkx_says(grid, moves, data):
    height, width = grid
    # Quarters: every sum is exact, so the oracle's verdict on a cycle is too.
    costs = data.draw(arrays(np.float64, (1, height * width),
                             elements=st.integers(-4, 12).map(lambda v: v / 4)))
    sp = ShortestPath(grid=grid, costs="cells", moves=moves)
    if nx.negative_edge_cycle(cell_graph(costs[0], height, width, moves)):
        with pytest.raises(ValueError, match="negative cycle in row 0"):
            sp.solve(costs)
    else:
        assert_is_cheapest_path(sp.solve(costs)[0], costs[0], height, width, moves)


# ---------------------------------------------------------------- protocol

def test_protocol_attributes_clone_and_pickle():
    sp = ShortestPath(grid=(3, 4), costs="cells", moves=4)
    assert sp.any_sign is False and sp.is_linear and sp.sense == "minimize"
    assert sp.lp_form() is None
    assert not hasattr(sp, "arcs")
    assert sp.get_params()["costs"] == "cells" and sp.get_params()["moves"] == 4
    theta = np.random.default_rng(4).uniform(0, 1, (5, 12))
    for copy in (clone(sp), pickle.loads(pickle.dumps(sp))):
        np.testing.assert_array_equal(copy.solve(theta), sp.solve(theta))
    # set_params rebuilds the structure.
    sp.set_params(grid=(2, 6))
    assert sp.n_params == 12 and sp.solve(theta).shape == (5, 12)


def test_torch_input_keeps_dtype_and_one_instance_is_one_row():
    sp = ShortestPath(grid=(3, 3), costs="cells")
    theta = torch.rand(4, 9, dtype=torch.float32)
    x = sp.solve(theta)
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32 and x.shape == (4, 9)
    np.testing.assert_array_equal(sp.solve(theta[0].numpy()), x[0].numpy())


def test_arc_grid_unchanged_by_the_option():
    theta = np.random.default_rng(5).uniform(0, 1, (3, 12))
    np.testing.assert_array_equal(ShortestPath(grid=(3, 3)).solve(theta),
                                  ShortestPath(grid=(3, 3), costs="arcs").solve(theta))


@pytest.mark.parametrize("kwargs, message", [
    (dict(grid=(3, 3), costs="nodes"), r"costs must be one of \['arcs', 'cells'\]"),
    (dict(grid=(3, 3), moves=8), "moves applies to costs='cells'"),
    (dict(grid=(3, 3), costs="cells", moves=6), "moves must be 4 or 8"),
    (dict(grid=(3, 3), costs="cells", moves=True), "moves must be 4 or 8"),
    (dict(edges=[[0, 1]], source=0, target=1, costs="cells"), "costs='cells' needs grid"),
    (dict(grid=(1, 1), costs="cells"), "at least two cells"),
    (dict(grid=(3, 0), costs="cells"), "positive integers"),
    (dict(grid=(3, 3), costs="cells", source=1), "source and target are fixed by grid"),
    (dict(grid=(3, 3), costs="cells", negative_costs="zero"),
     r"negative_costs must be one of \['clip', 'raise'\]"),
    (dict(grid=(3, 3), negative_costs="clip"), "negative_costs='clip' applies to costs='cells'"),
])
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ShortestPath(**kwargs).solve(np.zeros((1, 9)))


def test_bad_instance_parameters():
    sp = ShortestPath(grid=(2, 3), costs="cells")
    theta = np.ones((2, 6))
    with pytest.raises(ValueError, match="arc_mask applies to costs='arcs'"):
        sp.solve(theta, arc_mask=np.ones((2, 6), dtype=bool))
    with pytest.raises(ValueError, match=r"source must be <= 5 \(the largest cell index\).*row 1"):
        sp.solve(theta, source=[0, 6])
    with pytest.raises(ValueError, match=r"must differ in every instance; both are 5 in row 0"):
        sp.solve(theta, source=[5, 0])
    with pytest.raises(ValueError, match=r"target must have shape \(2,\)"):
        sp.solve(theta, target=[1, 2, 3])
    with pytest.raises(ValueError, match="theta"):
        sp.solve(np.ones((2, 7)))


# ---------------------------------------------------------------- relaxation

def test_relax_matches_the_flow_quadratic_program():
    cp = pytest.importorskip("cvxpy")
    height, width, gamma = 2, 3, 0.5
    grid = CellGrid(height, width, 8)
    arcs = grid.arcs()
    sp = ShortestPath(grid=(height, width), costs="cells")
    theta = np.array([[1.0, 2.0, 0.5, 3.0, 0.2, 1.0], [-0.4, 1.0, 2.0, 1.0, 1.0, 0.3]])
    ends = np.array([[0, 5], [4, 0]])
    relaxed = sp.relax(torch.as_tensor(theta), gamma, source=ends[:, 0], target=ends[:, 1])
    for row, (s, t) in enumerate(ends):
        flow = cp.Variable(len(arcs))
        supply = np.zeros(6)
        supply[s], supply[t] = 1.0, -1.0
        incidence = np.zeros((6, len(arcs)))
        incidence[arcs[:, 0], np.arange(len(arcs))] = 1.0
        incidence[arcs[:, 1], np.arange(len(arcs))] -= 1.0
        cost = theta[row][arcs[:, 1]]
        cp.Problem(cp.Minimize(cost @ flow + gamma * cp.sum_squares(flow)),
                   [incidence @ flow == supply, flow >= 0, flow <= 1]).solve(
            solver=cp.CLARABEL, tol_gap_abs=1e-11, tol_gap_rel=1e-11, tol_feas=1e-11)
        expected = np.zeros(6)
        np.add.at(expected, arcs[:, 1], flow.value)
        expected[s] += 1.0
        np.testing.assert_allclose(relaxed[row].numpy(), expected, atol=1e-5)


def test_relax_is_differentiable_and_tends_to_the_path():
    sp = ShortestPath(grid=(2, 3), costs="cells")
    theta = torch.tensor([[1.0, 5.0, 5.0, 5.0, 1.0, 1.0]], dtype=torch.float64,
                         requires_grad=True)
    relaxed = sp.relax(theta, 1e-3)
    np.testing.assert_allclose(relaxed.detach().numpy(), sp.solve(theta.detach()).numpy(),
                               atol=1e-3)
    sp.relax(theta, 1.0).sum().backward()
    assert theta.grad is not None and torch.isfinite(theta.grad).all()


# ---------------------------------------------------------------- device

@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    sp = ShortestPath(grid=(12, 12), costs="cells")
    theta = torch.rand(64, 144, dtype=torch.float64)
    ends = torch.randint(0, 144, (64, 2))
    ends = ends[ends[:, 0] != ends[:, 1]]
    theta = theta[:len(ends)]
    for params in ({}, {"source": ends[:, 0], "target": ends[:, 1]}):
        x = sp.solve(theta.cuda(), **{k: v.cuda() for k, v in params.items()})
        assert x.is_cuda
        torch.testing.assert_close(x.cpu(), sp.solve(theta, **params))
