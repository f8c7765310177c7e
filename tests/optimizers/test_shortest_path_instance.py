"""ShortestPath with per-instance end nodes and closed arcs, against networkx.

Each row is checked alone on its own graph: the arcs its mask keeps open,
its own source and target. The decision must be a simple path between them
over open arcs, and its cost the optimum networkx finds on that graph.
"""

import inspect

import networkx as nx
import numpy as np
import pytest
import torch

from skdfl.optimizers import LinearProgram, ShortestPath
from skdfl.optimizers import _graph, _graph_rows

from .test_shortest_path import assert_is_path, draw_costs, random_cyclic, random_dag

# ---------------------------------------------------------------- helpers


def open_graph(arcs, n_nodes, mask, costs=None):
    """The row's graph: open arcs only, the cheapest of parallel ones."""
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n_nodes))
    costs = np.zeros(len(arcs)) if costs is None else costs
    for (u, v), c, is_open in zip(np.asarray(arcs).tolist(), costs, mask):
        if is_open and (not graph.has_edge(u, v) or graph[u][v]["weight"] > c):
            graph.add_edge(u, v, weight=float(c))
    return graph


def draw_rows(rng, arcs, n_nodes, n_rows, closed=0.2, ends=(None, None)):
    """Per-row (source, target, mask) with an open path; ``ends`` fixes either end."""
    sources, targets, masks = [], [], []
    while len(sources) < n_rows:
        mask = rng.random(len(arcs)) >= closed
        s, t = rng.choice(n_nodes, 2, replace=False)
        s = s if ends[0] is None else ends[0]
        t = t if ends[1] is None else ends[1]
        if s != t and nx.has_path(open_graph(arcs, n_nodes, mask), s, t):
            sources.append(s)
            targets.append(t)
            masks.append(mask)
    return np.array(sources), np.array(targets), np.array(masks)


def assert_optimal_rows(x, theta, arcs, n_nodes, sources, targets, masks, signed=True):
    for row, cost, s, t, mask in zip(x, theta, sources, targets, masks):
        assert_is_path(row, arcs, s, t, n_nodes)
        assert not row[~mask].any(), "a closed arc is used"
        graph = open_graph(arcs, n_nodes, mask, cost)
        oracle = (nx.bellman_ford_path_length(graph, int(s), int(t)) if signed
                  else nx.dijkstra_path_length(graph, int(s), int(t)))
        assert float(row @ cost) == pytest.approx(oracle, rel=1e-9, abs=1e-9)


@pytest.fixture(params=["listed-paths", "dynamic-programming"])
def kernel(request, monkeypatch):
    """Run a DAG test with each kernel: listed paths (few paths) and the level DP."""
    if request.param == "dynamic-programming":
        monkeypatch.setattr(_graph, "MAX_PATH_ENTRIES", 0)
    return request.param


def problems():
    """(name, ShortestPath, arcs, n_nodes, signed costs allowed)."""
    rng = np.random.default_rng(11)
    out = []
    for grid in [(2, 2), (3, 4), (5, 5)]:
        sp = ShortestPath(grid=grid)
        out.append((f"grid{grid}", sp, sp.arcs, grid[0] * grid[1], True))
    for seed in range(3):
        arcs, s, t = random_dag(rng, int(rng.integers(4, 10)), 0.4)
        out.append((f"dag{seed}", ShortestPath(edges=arcs, source=s, target=t), arcs,
                    int(arcs.max()) + 1, True))
    for seed in range(2):
        arcs, s, t = random_cyclic(rng, int(rng.integers(4, 9)), 0.3)
        out.append((f"cyclic{seed}", ShortestPath(edges=arcs, source=s, target=t), arcs,
                    int(arcs.max()) + 1, False))
    return out


PROBLEMS = problems()
IDS = [p[0] for p in PROBLEMS]


# ------------------------------------------------------ against networkx

@pytest.mark.parametrize("given", ["all", "ends", "mask", "source", "target"])
@pytest.mark.parametrize("problem", PROBLEMS, ids=IDS)
def test_per_row_matches_networkx(problem, given, kernel):
    name, sp, arcs, n_nodes, signed = problem
    sp = ShortestPath(**sp.get_params())           # fresh caches under the kernel fixture
    rng = np.random.default_rng(len(name) + len(given))
    own = (sp.graph.source, sp.graph.target)
    ends = {"all": (None, None), "ends": (None, None), "mask": own,
            "source": (None, own[1]), "target": (own[0], None)}[given]
    closed = 0.0 if given in ("ends", "source", "target") else 0.25
    sources, targets, masks = draw_rows(rng, arcs, n_nodes, 16, closed, ends)
    theta = draw_costs(rng, (16, len(arcs)), "mixed-ties" if signed else "nonnegative-ties")
    params = {"all": dict(source=sources, target=targets, arc_mask=masks),
              "ends": dict(source=sources, target=targets), "mask": dict(arc_mask=masks),
              "source": dict(source=sources), "target": dict(target=targets)}[given]
    x = sp.solve(theta, **params)
    assert x.shape == theta.shape and np.isin(x, (0.0, 1.0)).all()
    assert_optimal_rows(x, theta, arcs, n_nodes, sources, targets, masks, signed)
    tables = sp._path_tables(torch.device("cpu"))
    listed = tables.segments if given in ("all", "ends", "source", "target") else \
        tables.tensors.paths
    assert (listed is not None) == (kernel == "listed-paths" and not name.startswith("cyclic"))


@pytest.mark.parametrize("problem", PROBLEMS, ids=IDS)
def test_torch_params_and_float32(problem):
    _, sp, arcs, n_nodes, signed = problem
    rng = np.random.default_rng(3)
    sources, targets, masks = draw_rows(rng, arcs, n_nodes, 8)
    theta = draw_costs(rng, (8, len(arcs)), "positive")
    expected = sp.solve(theta, source=sources, target=targets, arc_mask=masks)
    x = sp.solve(torch.as_tensor(theta, dtype=torch.float32), source=torch.as_tensor(sources),
                 target=torch.as_tensor(targets).to(torch.float64),
                 arc_mask=torch.as_tensor(masks).to(torch.int64))
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
    assert_optimal_rows(x.numpy().astype(float), theta.astype(np.float32).astype(float),
                        arcs, n_nodes, sources, targets, masks, signed)
    # lists work as well; one instance as a 1-D theta with per-instance arrays of length 1
    listed = sp.solve(theta, source=sources.tolist(), target=targets.tolist(),
                      arc_mask=masks.tolist())
    np.testing.assert_array_equal(listed, expected)
    one = sp.solve(theta[0], source=sources[:1], target=targets[:1], arc_mask=masks[:1])
    assert one.shape == (len(arcs),)
    assert float(one @ theta[0]) == pytest.approx(float(expected[0] @ theta[0]))


def test_grid_per_row_ends_hand_checked():
    # 2x3 grid: nodes 0 1 2 / 3 4 5; arcs 0:(0,1) 1:(1,2) 2:(0,3) 3:(1,4) 4:(2,5) 5:(3,4) 6:(4,5)
    sp = ShortestPath(grid=(2, 3))
    theta = np.array([[1.0, 1.0, 5.0, 1.0, 9.0, 1.0, 1.0]] * 3)
    x = sp.solve(theta, source=[1, 0, 0], target=[5, 4, 5],
                 arc_mask=[[True] * 7, [True] * 7, [False, True, True, True, True, True, True]])
    np.testing.assert_array_equal(x, [[0, 0, 0, 1, 0, 0, 1],       # 1 -> 4 -> 5
                                      [1, 0, 0, 1, 0, 0, 0],       # 0 -> 1 -> 4
                                      [0, 0, 1, 0, 0, 1, 1]])      # 0 -> 3 -> 4 -> 5


def test_closing_the_cheaper_parallel_arc(kernel):
    arcs = np.array([(0, 1), (0, 1), (1, 2), (0, 2)])
    sp = ShortestPath(edges=arcs, source=0, target=2)
    theta = np.array([[1.0, 2.0, 1.0, 5.0]] * 3)
    x = sp.solve(theta, arc_mask=[[True] * 4, [False, True, True, True],
                                  [False, False, True, True]])
    np.testing.assert_array_equal(x, [[1, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]])


def test_all_open_and_own_ends_give_the_fixed_optimum(kernel):
    sp = ShortestPath(grid=(4, 5))
    theta = np.random.default_rng(0).normal(size=(20, sp.n_params))
    fixed = sp.solve(theta)
    per_row = sp.solve(theta, source=np.zeros(20, dtype=int), target=np.full(20, 19),
                       arc_mask=np.ones((20, sp.n_params), dtype=bool))
    np.testing.assert_allclose((per_row * theta).sum(1), (fixed * theta).sum(1), rtol=1e-12)


def test_fixed_structure_is_untouched_by_an_earlier_per_row_solve():
    sp = ShortestPath(grid=(3, 3))
    theta = np.random.default_rng(1).normal(size=(6, sp.n_params))
    before = ShortestPath(grid=(3, 3)).solve(theta)
    sp.solve(theta, source=[1] * 6, arc_mask=np.ones((6, sp.n_params), dtype=bool))
    np.testing.assert_array_equal(sp.solve(theta), before)


@pytest.mark.parametrize("limit", ["_SCORE_ENTRIES", "MAX_PAIR_ENTRIES"])
def test_scored_in_parts_or_by_the_dp_all_the_same(limit, monkeypatch):
    sp = ShortestPath(grid=(4, 4))
    rng = np.random.default_rng(2)
    sources, targets, masks = draw_rows(rng, sp.arcs, 16, 40)
    theta = draw_costs(rng, (40, sp.n_params), "positive")
    params = dict(source=sources, target=targets, arc_mask=masks)
    whole = sp.solve(theta, **params)
    module = _graph if limit == "_SCORE_ENTRIES" else _graph_rows
    monkeypatch.setattr(module, limit, 30 if limit == "_SCORE_ENTRIES" else 0)
    for kwargs in (params, dict(arc_mask=np.ones_like(masks))):
        other = ShortestPath(grid=(4, 4)).solve(theta, **kwargs)
        expected = whole if kwargs is params else sp.solve(theta)
        np.testing.assert_allclose((other * theta).sum(1), (expected * theta).sum(1))
    assert_optimal_rows(ShortestPath(grid=(4, 4)).solve(theta, **params), theta, sp.arcs, 16,
                        sources, targets, masks)


# ----------------------------------------------------------- objective

def test_objective_with_params_is_the_linear_cost():
    sp = ShortestPath(grid=(3, 3))
    rng = np.random.default_rng(4)
    sources, targets, masks = draw_rows(rng, sp.arcs, 9, 5)
    theta = rng.normal(size=(5, sp.n_params))
    x = sp.solve(theta, source=sources, target=targets, arc_mask=masks)
    value = sp.objective(x, theta, source=sources, target=targets, arc_mask=masks)
    np.testing.assert_allclose(value, (x * theta).sum(1), rtol=1e-12)
    with pytest.raises(ValueError, match=r"arc_mask must have shape \(5, 12\)"):
        sp.objective(x, theta, arc_mask=masks[:, :-1])
    with pytest.raises(ValueError, match="source and target must differ"):
        sp.objective(x, theta, source=targets, target=targets)


# ------------------------------------------------------------- errors

def test_source_equal_to_target_names_the_first_row():
    sp = ShortestPath(grid=(3, 3))
    with pytest.raises(ValueError, match=r"source and target must differ.*both are 8 in row 2"
                                         r".*first of 2"):
        sp.solve(np.ones((4, 12)), source=[0, 1, 8, 8])   # target is the corner 8
    with pytest.raises(ValueError, match=r"both are 0 in row 1"):
        sp.solve(np.ones((2, 12)), target=[8, 0])


@pytest.mark.parametrize("name,value,match", [
    ("source", [0, 9], r"source must be <= 8.*largest node index.*row 1"),
    ("target", [-1, 8], r"target must be >= 0.*row 0"),
    ("source", [0, 1.5], r"source must hold whole numbers.*row 1"),
    ("source", [0, np.nan], r"source must be finite.*row 1"),
    ("source", [0, 1, 2], r"source must have shape \(2,\)"),
    ("target", [[8], [8]], r"target must have shape \(2,\)"),
    ("source", ["a", "b"], r"source must hold numbers"),
    ("arc_mask", np.ones((2, 11), dtype=bool), r"arc_mask must have shape \(2, 12\)"),
    ("arc_mask", np.ones(12, dtype=bool), r"arc_mask must have shape \(2, 12\)"),
    ("arc_mask", np.full((2, 12), 2), r"arc_mask must hold True/False.*row 0"),
    ("arc_mask", np.vstack([np.ones(12), np.full(12, 0.5)]), r"arc_mask.*True/False.*row 1"),
])
def test_bad_values_name_the_argument(name, value, match):
    with pytest.raises(ValueError, match=match):
        ShortestPath(grid=(3, 3)).solve(np.ones((2, 12)), **{name: value})


def test_unknown_name():
    with pytest.raises(ValueError, match="'capacity' is not a per-instance parameter"):
        ShortestPath(grid=(3, 3)).solve(np.ones((2, 12)), capacity=[1, 2])


# A DAG: 0 -> 1 -> 2 -> 4 and 3 -> 1, from 0 to 2.
SMALL_DAG = dict(edges=[(0, 1), (1, 2), (3, 1), (2, 4)], source=0, target=2)


@pytest.mark.parametrize("problem,params,match", [
    # the grid's arcs go east and south: nothing leads back up or left
    (dict(grid=(3, 3)), dict(source=[0, 8, 8], target=[8, 0, 2]),
     r"source and target leave no path from source 8 to target 0 in row 1 \(instance 1\), "
     r"the first of 2 such row"),
    (SMALL_DAG, dict(target=[2, 3, 4]), r"^target leaves no path from source 0 to target 3 "
                                        r"in row 1 \(instance 1\), the first of 1 such row"),
    (SMALL_DAG, dict(source=[3, 4]), r"^source leaves no path from source 4 to target 2 in "
                                     r"row 1"),
    # 4 -> 8 runs through arc 6 (4, 5) or arc 8 (4, 7): closing both is the mask's fault
    (dict(grid=(3, 3)), dict(source=[4, 0], arc_mask=[[True] * 6 + [False, True, False]
                                                      + [True] * 3, [True] * 12]),
     r"^arc_mask closes every path from source 4 to target 8 in row 0"),
    # unreachable whatever the mask: the end nodes are to blame
    (dict(grid=(3, 3)), dict(source=[8, 0], target=[0, 8], arc_mask=[[False] * 12] * 2),
     r"^source and target leave no path from source 8 to target 0 in row 0 \(instance 0\), "
     r"the first of 2"),
])
def test_unreachable_end_nodes(problem, params, match, kernel):
    sp = ShortestPath(**problem)
    n = len(next(iter(params.values())))
    with pytest.raises(ValueError, match=match):
        sp.solve(np.ones((n, sp.n_params)), **params)
    # solve finds such rows in its own pass; checking the data alone (as fit
    # does, once) finds the same row with the same words
    with pytest.raises(ValueError, match=match):
        sp.check_params(params, n)


@pytest.mark.parametrize("problem", PROBLEMS, ids=IDS)
def test_mask_closing_every_path_names_arc_mask_and_the_row(problem, kernel):
    _, sp, arcs, n_nodes, _ = problem
    sp = ShortestPath(**sp.get_params())
    masks = np.ones((4, len(arcs)), dtype=bool)
    out_of_source = np.asarray(arcs)[:, 0] == sp.graph.source
    masks[2, out_of_source] = False
    masks[3, out_of_source] = False
    with pytest.raises(ValueError, match=rf"arc_mask closes every path from source "
                                         rf"{sp.graph.source} to target {sp.graph.target} in "
                                         rf"row 2 \(instance 2\), the first of 2"):
        sp.solve(np.ones((4, len(arcs))), arc_mask=masks)
    # the same with per-row end nodes (the problem's own, given per row)
    with pytest.raises(ValueError, match=r"arc_mask closes every path.*in row 2"):
        sp.solve(np.ones((4, len(arcs))), source=np.full(4, sp.graph.source), arc_mask=masks)


def test_unreachable_on_a_dag_whose_maximal_path_meets_target_first(kernel):
    # 0 -> 1 -> 2: a path through 2 and 0 exists, but none from 2 to 0
    sp = ShortestPath(edges=[(0, 1), (1, 2)], source=0, target=2)
    with pytest.raises(ValueError, match="from source 2 to target 0 in row 0"):
        sp.solve(np.ones((1, 2)), source=[2], target=[0])
    with pytest.raises(ValueError, match="from source 1 to target 0 in row 1"):
        sp.solve(np.ones((2, 2)), source=[0, 1], target=[1, 0])


def test_cyclic_graph_negative_costs_still_refused_with_params():
    sp = ShortestPath(edges=[(0, 1), (1, 2), (2, 0), (1, 3)], source=0, target=3)
    with pytest.raises(ValueError, match="theta.*non-negative"):
        sp.solve(np.array([[1.0, -1.0, 1.0, 1.0]]), arc_mask=[[True] * 4])


# ---------------------------------------------------------- relaxation

def test_lp_params_map_end_nodes_to_supplies_and_closed_arcs_to_bounds():
    sp = ShortestPath(grid=(2, 2))     # nodes 0..3, arcs (0,1) (0,2) (1,3) (2,3)
    checked = sp.check_params(dict(source=[0, 1], target=[3, 3],
                                   arc_mask=[[True, False, True, True], [True] * 4]), 2)
    lp = sp._lp_params(checked)
    assert set(lp) == {"b_eq", "upper"}
    assert lp["b_eq"].dtype == lp["upper"].dtype == torch.float64
    np.testing.assert_array_equal(lp["b_eq"], [[1, 0, 0, -1], [0, 1, 0, -1]])
    np.testing.assert_array_equal(lp["upper"], [[1, 0, 1, 1], [1, 1, 1, 1]])
    only_mask = sp._lp_params(sp.check_params(dict(arc_mask=[[True] * 4]), 1))
    assert set(only_mask) == {"upper"}
    only_target = sp._lp_params(sp.check_params(dict(target=[2]), 1))
    np.testing.assert_array_equal(only_target["b_eq"], [[1, 0, -1, 0]])
    assert sp._lp_params({}) == {}
    # the constructor's supplies are the lp_form's own right-hand side
    np.testing.assert_array_equal(sp.lp_form().b_eq, [1, 0, 0, -1])
    with pytest.raises(ValueError, match="arc_mask closes every path.*row 0"):
        sp._lp_params(sp.check_params(dict(arc_mask=[[True, False, False, True]]), 1))


def _lp_takes_instance_data():
    return {"b_eq", "upper"} <= set(inspect.signature(LinearProgram._relax).parameters)


needs_lp_instance_data = pytest.mark.skipif(
    not _lp_takes_instance_data(),
    reason="needs LinearProgram._relax(theta, gamma, b_ub=, b_eq=, upper=) (branch lpcov)")


def relaxed_oracle(theta, gamma, arcs, n_nodes, source, target, mask):
    """min theta @ x + gamma ||x||^2 over the row's flow polytope, by cvxpy."""
    cp = pytest.importorskip("cvxpy")
    incidence = np.zeros((n_nodes, len(arcs)))
    incidence[arcs[:, 0], np.arange(len(arcs))] = 1.0
    incidence[arcs[:, 1], np.arange(len(arcs))] = -1.0
    supply = np.zeros(n_nodes)
    supply[source], supply[target] = 1.0, -1.0
    x = cp.Variable(len(arcs))
    problem = cp.Problem(cp.Minimize(theta @ x + gamma * cp.sum_squares(x)),
                         [incidence @ x == supply, x >= 0, x <= mask.astype(float)])
    problem.solve(solver=cp.CLARABEL)    # interior point, accurate to ~1e-8
    return x.value


@needs_lp_instance_data
@pytest.mark.parametrize("problem", [p for p in PROBLEMS if p[0] in ("grid(3, 4)", "dag0")],
                         ids=["grid", "dag"])
def test_relax_with_params_matches_cvxpy(problem):
    _, sp, arcs, n_nodes, _ = problem
    rng = np.random.default_rng(5)
    sources, targets, masks = draw_rows(rng, arcs, n_nodes, 4)
    theta = rng.uniform(0.5, 2.0, (4, len(arcs)))
    gamma = 0.5
    x = sp.relax(torch.as_tensor(theta), gamma, source=sources, target=targets,
                 arc_mask=masks).numpy()
    for row, cost, s, t, mask in zip(x, theta, sources, targets, masks):
        expected = relaxed_oracle(cost, gamma, np.asarray(arcs), n_nodes, s, t, mask)
        np.testing.assert_allclose(row, expected, atol=1e-5)
        assert np.all(np.abs(row[~mask]) <= 1e-7)


@needs_lp_instance_data
def test_relax_with_small_gamma_approaches_the_exact_paths():
    sp = ShortestPath(grid=(3, 3))
    rng = np.random.default_rng(6)
    sources, targets, masks = draw_rows(rng, sp.arcs, 9, 6)
    theta = rng.uniform(0.5, 2.0, (6, sp.n_params))
    params = dict(source=sources, target=targets, arc_mask=masks)
    exact = sp.solve(theta, **params)
    relaxed = sp.relax(torch.as_tensor(theta), 1e-4, **params).numpy()
    np.testing.assert_allclose((relaxed * theta).sum(1), (exact * theta).sum(1), rtol=1e-3)


@needs_lp_instance_data
def test_relax_gradient_flows_with_params():
    sp = ShortestPath(grid=(3, 3))
    theta = torch.rand(3, sp.n_params, dtype=torch.float64, requires_grad=True)
    x = sp.relax(theta, 0.5, source=[0, 1, 3], target=[8, 5, 7],
                 arc_mask=np.ones((3, sp.n_params), dtype=bool))
    (x * torch.arange(sp.n_params)).sum().backward()
    assert theta.grad is not None and torch.isfinite(theta.grad).all()


def test_relax_without_a_path_names_the_row():
    sp = ShortestPath(grid=(3, 3))
    with pytest.raises(ValueError, match=r"source and target leave no path.*row 1"):
        sp.relax(torch.ones(2, sp.n_params), 0.5, source=[0, 8], target=[8, 0])


# ---------------------------------------------------------------- CUDA

@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("problem", [p for p in PROBLEMS if p[0] in ("grid(5, 5)", "dag0",
                                                                     "cyclic0")],
                         ids=["grid", "dag", "cyclic"])
def test_cuda_matches_cpu(problem, kernel):
    _, sp, arcs, n_nodes, _ = problem
    sp = ShortestPath(**sp.get_params())
    rng = np.random.default_rng(8)
    sources, targets, masks = draw_rows(rng, arcs, n_nodes, 32)
    theta = torch.as_tensor(draw_costs(rng, (32, len(arcs)), "positive"))
    params = dict(source=torch.as_tensor(sources), target=torch.as_tensor(targets),
                  arc_mask=torch.as_tensor(masks))
    cpu = sp.solve(theta, **params)
    x = sp.solve(theta.cuda(), **{k: v.cuda() for k, v in params.items()})
    assert x.is_cuda
    torch.testing.assert_close(x.cpu(), cpu, rtol=0, atol=0)
    bad = dict(params, arc_mask=torch.zeros_like(params["arc_mask"]).cuda())
    with pytest.raises(ValueError, match="row 0"):
        sp.solve(theta.cuda(), **bad)
