"""Shortest paths on a grid DAG or any directed graph, batched in torch."""

import numbers

import numpy as np
import torch

from .._tensor import as_batch, converted
from .._validation import check_option, check_scalar
from ._base import Optimizer, device_key, theta_values
from ._cell_grid import CellGrid, cell_paths, check_cell_grid, raise_negative_cycle
from ._graph import Graph, grid_arcs, shortest_path_batch
from ._graph_rows import PathTables, cheapest_paths
from ._instance import first_bad_row, instance_tensor
from ._linear_program import LinearProgram


class ShortestPath(Optimizer):
    """Minimum-cost path between two nodes of a directed graph, or across a grid of cells.

    The decision ``x`` marks the arcs of the path (1 on the path, 0 off it)
    and the objective is its total cost ``theta @ x``, minimized (with
    ``costs="cells"``, the costs and the decision are on the cells of a grid
    instead: see the notes). Costs of any sign are solved exactly on a DAG
    (the arc grid included); a graph with a cycle needs non-negative costs
    (a negative cycle has no shortest path).
    A whole batch is solved at once: a DAG with few paths (the 5x5 grid has
    70) has them listed once and scored by one matrix product, a larger one
    goes through a dynamic program over its topological levels, and a graph
    with a cycle through Bellman-Ford rounds.

    Parameters
    ----------
    grid : tuple of (int, int), optional
        ``(height, width)`` of the grid DAG used by PyEPO and Elmachtoub &
        Grigas: arcs go east and south, the path runs from the top-left node
        to the bottom-right one, and arcs are numbered in PyEPO's order (the
        east arcs of a row, then the south arcs below it).
    edges : array-like of shape (n_arcs, 2), optional
        ``(tail, head)`` node indices of any directed graph, instead of
        ``grid``. Nodes are numbered ``0 .. max index``.
    source, target : int, optional
        End nodes of the path when ``edges`` is given.
    costs : {"arcs", "cells"}, default="arcs"
        What ``theta`` and the decision are indexed by. ``"cells"`` (with
        ``grid`` only) is the setting of the Warcraft maps (Vlastelica et
        al. 2020; Niepert et al. 2021): ``theta`` holds one cost per cell of
        the ``(height, width)`` grid, row-major (``n_params = n_vars =
        height * width``); a path steps from a cell to one of its
        neighbours, from the top-left cell to the bottom-right one, and
        costs the sum of the costs of the cells it visits, both end cells
        included; the decision marks the visited cells with 1.
    moves : {4, 8}, optional
        With ``costs="cells"``, the neighbours a path may step to: the 4
        sharing a side, or all 8 (also diagonally; the default). ``None``
        with ``costs="arcs"``.
    negative_costs : {"raise", "clip"}, default="raise"
        With ``costs="cells"``, what a solve does with negative cell costs.
        ``"raise"``: solve them exactly where no cycle of moves costs less
        than zero, else raise a ``ValueError`` (see the notes). ``"clip"``
        (an explicit opt-in): the solve treats every negative cell cost as
        0, so the decision is optimal for ``max(theta, 0)``; ``objective``
        still scores it with the given costs. ``any_sign`` is then True and
        the perturbation methods (``"spo+"``, ``"dbb"``, ``"imle"``,
        ``"fy"``) accept the problem. This is what the reference codes of
        blackbox differentiation (its backward pass solves at
        ``np.maximum(weights + lambda * grad, 0)``) and of I-MLE's Warcraft
        experiments (``np.maximum(w, 0)`` before Dijkstra) do with their
        perturbed costs. Where the costs themselves are non-negative (true
        costs, and predictions through a softplus output) clipping changes
        nothing, so their decisions and regret are unaffected; only the
        shifted or noisy costs a method solves at internally are clipped.

    Attributes
    ----------
    arcs : ndarray of shape (n_arcs, 2)
        The arcs, in the order of ``theta`` and of the decisions (not
        defined with ``costs="cells"``).

    Notes
    -----
    Per-instance parameters (``instance_params``), each with one row per
    instance and optional (the problem's own values stand for those not
    given):

    - ``source``, ``target`` of shape ``(n_instances,)``: node indices, the
      end nodes of this instance's path (two different nodes). They may be
      given on the grid too.
    - ``arc_mask`` of shape ``(n_instances, n_arcs)``, boolean: False closes
      the arc for this instance (a road closed on this day).

    Every row must keep an open path from its source to its target: ``solve``
    and ``relax`` raise a ``ValueError`` naming the first row without one.
    The batch is still solved at once: a closed arc costs infinity inside the
    solver; on a small DAG each row scores the listed maximal paths through
    its own end nodes, counting only the arcs between them (one matrix
    product for the batch), otherwise the dynamic program starts each row at
    its own source. ``objective`` stays ``theta @ x``; ``relax`` maps the end
    nodes to the supplies of the flow equalities and closed arcs to upper
    bounds of 0.

    Costs on cells (``costs="cells"``): the moves between neighbouring cells
    form a graph with cycles, so ``any_sign`` is False (True with
    ``negative_costs="clip"``). Negative costs are
    still solved exactly as long as no cycle of moves has a negative total,
    which holds exactly when every two neighbouring cells cost at least zero
    together (a cycle's cost is half the sum of the pairs along it); then a
    cheapest walk is a simple path and ``solve`` returns one. Otherwise
    (stepping back and forth between two such cells lowers the cost without
    end; a cheapest simple path is NP-hard) ``solve`` and ``check_theta``
    raise a ``ValueError`` naming the first such row and pair of cells.
    Negative costs are clipped only with ``negative_costs="clip"`` (never
    silently): the reference codes of blackbox differentiation and I-MLE
    clip their perturbed costs at zero before their Dijkstra solver, which
    makes the decision optimal for other costs than the objective's where
    a cost is negative. ``theta_domain`` stays ``"nonnegative"`` either way
    (the default output link is softplus). ``relax`` clips too. The batch
    is solved at once by Bellman-Ford rounds over ``(height, width,
    batch)`` tables (each cell takes its cheapest neighbour through shifted
    views) until no distance changes,
    then traced back from every target together; ties go to the first
    neighbour in the order north-west, north, north-east, west, east,
    south-west, south, south-east (4 moves: north, west, east, south).
    ``source`` and ``target`` per instance are cell indices ``i * width +
    j``; ``arc_mask`` is refused. ``lp_form`` is None (the path's cells have
    no linear program over the cells alone); ``relax`` relaxes the unit flow
    on the moves instead (a move's cost is that of the cell it enters, a
    cell's relaxed use is its inflow, plus 1 at the source) with the
    quadratic term on the flows, exact for costs of any sign but slow on
    large grids (a quadratic program over about 8 variables per cell).

    Examples
    --------
    >>> import numpy as np
    >>> from skdfl.optimizers import ShortestPath
    >>> sp = ShortestPath(grid=(2, 2))
    >>> sp.arcs.tolist()
    [[0, 1], [0, 2], [1, 3], [2, 3]]
    >>> sp.solve(np.array([[1.0, 5.0, 1.0, 0.0], [4.0, 1.0, 1.0, 1.0]]))
    array([[1., 0., 1., 0.],
           [0., 1., 0., 1.]])

    Per instance: the first row closes arc 0, the second ends at node 1.

    >>> sp.solve(np.array([[1.0, 5.0, 1.0, 0.0], [4.0, 1.0, 1.0, 1.0]]),
    ...          target=[3, 1], arc_mask=[[False, True, True, True], [True] * 4])
    array([[0., 1., 0., 1.],
           [1., 0., 0., 0.]])

    Costs on the cells of a 3x3 grid, moving to any of the 8 neighbours: the
    path skirts the expensive centre.

    >>> cells = ShortestPath(grid=(3, 3), costs="cells", moves=8)
    >>> cost = np.array([[1.0, 1.0, 9.0], [1.0, 9.0, 1.0], [9.0, 1.0, 1.0]])
    >>> x = cells.solve(cost.reshape(1, -1))
    >>> x.reshape(3, 3)
    array([[1., 1., 0.],
           [0., 0., 1.],
           [0., 0., 1.]])
    >>> cells.objective(x, cost.reshape(1, -1))
    array([4.])

    A negative cost raises a ``ValueError`` where two neighbouring cells
    cost less than zero together; with ``negative_costs="clip"`` the solve
    treats it as 0 and the objective keeps it.

    >>> clip = ShortestPath(grid=(3, 3), costs="cells", negative_costs="clip")
    >>> signed = np.array([[1.0, -5.0, 9.0], [1.0, 9.0, 1.0], [9.0, 1.0, 1.0]])
    >>> x = clip.solve(signed.reshape(1, -1))
    >>> x.reshape(3, 3)
    array([[1., 1., 0.],
           [0., 0., 1.],
           [0., 0., 1.]])
    >>> clip.objective(x, signed.reshape(1, -1)), clip.any_sign
    (array([-2.]), True)
    """

    sense = "minimize"
    is_linear = True
    instance_params = ("source", "target", "arc_mask")

    def __init__(self, grid=None, *, edges=None, source=None, target=None, costs="arcs",
                 moves=None, negative_costs="raise"):
        self.grid = grid
        self.edges = edges
        self.source = source
        self.target = target
        self.costs = costs
        self.moves = moves
        self.negative_costs = negative_costs

    @property
    def graph(self):
        """The validated graph structure (built once)."""
        return self._cached("graph", self._build_graph)

    @property
    def cell_grid(self):
        """The grid of cells with ``costs="cells"`` (built once), else None."""
        return self._cached("cell_grid", self._build_cell_grid)

    @property
    def any_sign(self):
        """Exact for costs of either sign only on a graph without cycles.

        With ``costs="cells"`` and ``negative_costs="clip"``, True: every
        sign is solved (negative costs as 0).
        """
        if self.cell_grid is not None:
            return self._clips
        return self.graph.is_dag

    @property
    def theta_domain(self):
        """Costs of either sign on a graph without cycles, else non-negative costs."""
        if self.cell_grid is not None:
            return "nonnegative"
        return "real" if self.any_sign else "nonnegative"

    @property
    def _clips(self):
        """Whether solves clip negative cell costs at 0 (``negative_costs="clip"``)."""
        return self._cached("clips", lambda: self.cell_grid is not None and check_option(
            self.negative_costs, "negative_costs", ("raise", "clip")) == "clip")

    @property
    def arcs(self):
        if self.cell_grid is not None:
            raise AttributeError("ShortestPath(costs='cells') has no arc variables: theta and "
                                 "the decisions have one entry per cell of the grid.")
        return np.stack([self.graph.tails, self.graph.heads], axis=1)

    @property
    def n_params(self):
        if self.cell_grid is not None:
            return self.cell_grid.n_cells
        return len(self.graph.tails)

    @property
    def n_vars(self):
        return self.n_params

    def _build_cell_grid(self):
        negative = check_option(self.negative_costs, "negative_costs", ("raise", "clip"))
        if check_option(self.costs, "costs", ("arcs", "cells")) == "arcs":
            if negative != "raise":
                raise ValueError("negative_costs='clip' applies to costs='cells'; with arc "
                                 "costs a graph without cycles solves every sign exactly and "
                                 "one with a cycle needs non-negative costs; got "
                                 f"negative_costs={self.negative_costs!r}.")
            if self.moves is not None:
                raise ValueError("moves applies to costs='cells'; the arcs of grid= go east "
                                 "and south (PyEPO's grid), and edges= lists its own; got "
                                 f"moves={self.moves!r}.")
            return None
        if self.grid is None or self.edges is not None:
            raise ValueError("costs='cells' needs grid=(height, width) and no edges; got "
                             f"grid={self.grid!r} and "
                             f"edges={'None' if self.edges is None else 'an array'}.")
        if self.source is not None or self.target is not None:
            raise ValueError("source and target are fixed by grid (top-left to bottom-right "
                             "cell; give them per instance to change them); got "
                             f"source={self.source!r}, target={self.target!r}.")
        return CellGrid(*check_cell_grid(self.grid, self.moves))

    def _build_graph(self):
        if self.cell_grid is not None:
            raise ValueError("ShortestPath(costs='cells') has no arc graph; its costs and "
                             "decisions are the grid's cells.")
        if (self.grid is None) == (self.edges is None):
            raise ValueError("ShortestPath needs exactly one of grid=(height, width) or "
                             f"edges=[(tail, head), ...]; got grid={self.grid!r} and "
                             f"edges={'None' if self.edges is None else 'an array'}.")
        if self.grid is not None:
            return self._grid_graph()
        return self._edge_graph()

    def _grid_graph(self):
        grid = self.grid
        if (not isinstance(grid, (tuple, list)) or len(grid) != 2
                or not all(isinstance(g, numbers.Integral) and not isinstance(g, bool)
                           and g >= 1 for g in grid) or grid[0] * grid[1] < 2):
            raise ValueError("grid must be a pair (height, width) of positive integers with at "
                             f"least two nodes; got {grid!r}.")
        if self.source is not None or self.target is not None:
            raise ValueError("source and target are fixed by grid (top-left to bottom-right); "
                             f"got source={self.source!r}, target={self.target!r}.")
        height, width = int(grid[0]), int(grid[1])
        n_nodes = height * width
        return Graph.from_arcs(grid_arcs(height, width), 0, n_nodes - 1, n_nodes)

    def _edge_graph(self):
        arcs = np.asarray(self.edges)
        if arcs.ndim != 2 or arcs.shape[1] != 2 or len(arcs) == 0 or arcs.dtype.kind not in "iu":
            raise ValueError("edges must be a non-empty integer array of shape (n_arcs, 2) "
                             f"holding (tail, head) pairs; got shape {arcs.shape} and dtype "
                             f"{arcs.dtype}.")
        if arcs.min() < 0:
            raise ValueError(f"edges must hold non-negative node indices; got {arcs.min()}.")
        if np.any(arcs[:, 0] == arcs[:, 1]):
            raise ValueError("edges must not contain self-loops; got "
                             f"{arcs[arcs[:, 0] == arcs[:, 1]][0].tolist()}.")
        n_nodes = int(arcs.max()) + 1
        source = check_scalar(self.source, "source", kind=numbers.Integral, low=0,
                              high=n_nodes - 1)
        target = check_scalar(self.target, "target", kind=numbers.Integral, low=0,
                              high=n_nodes - 1)
        if source == target:
            raise ValueError(f"source and target must differ; both are {source}.")
        return Graph.from_arcs(arcs.astype(np.int64), int(source), int(target), n_nodes)

    def check_theta(self, theta, name="theta"):
        theta = theta_values(theta, name)
        if self.cell_grid is not None:
            if not self._clips:
                raise_negative_cycle(self.cell_grid, theta, name)
            return
        if not self.graph.is_dag and bool((theta < 0).any()):
            raise ValueError(
                f"{name} must be non-negative for ShortestPath on a graph with a cycle (a "
                f"negative cycle has no shortest path); got the minimum {float(theta.min()):g}.")

    def _solve(self, theta, source=None, target=None, arc_mask=None):
        if self.cell_grid is not None:
            return self._solve_cells(theta, source, target)
        if not self.graph.is_dag:
            # Training code calls _solve directly with predictions (the
            # validation regret): a negative cost on a graph with a cycle has
            # no shortest path, so it is an error rather than a decision
            # that is not a path. (The perturbation methods refuse such a
            # graph up front.)
            self.check_theta(theta, "theta (the costs to decide with)")
        if source is None and target is None and arc_mask is None:
            tensors = self._cached(("tensors", device_key(theta.device)),
                                   lambda: self.graph.tensors(theta.device))
            return shortest_path_batch(tensors, theta.to(torch.float64), theta.dtype)
        # check_params has made sure that every row has an open path.
        used = self._cheapest_paths(theta.to(torch.float64), source, target, arc_mask,
                                    with_cost=False)[0]
        return used.to(theta.dtype)

    def _solve_cells(self, theta, source, target):
        # As on a graph with a cycle, training code calls _solve directly with
        # predictions: a negative cycle is an error, not a decision.
        self.check_theta(theta, "theta (the costs to decide with)")
        batch = len(theta)
        if source is None:
            source = torch.zeros(batch, dtype=torch.long, device=theta.device)
        if target is None:
            target = torch.full((batch,), self.n_params - 1, dtype=torch.long,
                                device=theta.device)
        costs = theta.to(torch.float64)
        if self._clips:
            costs = costs.clamp(min=0.0)          # negative_costs="clip", opted in
        used, _ = cell_paths(self.cell_grid, costs, source.to(theta.device),
                             target.to(theta.device))
        return used.to(theta.dtype)

    def _path_tables(self, device):
        # Looked up by the device itself first: every per-row solve reads it.
        by_device = self._cached("path_tables", dict)
        tables = by_device.get(device)
        if tables is None:
            key = device_key(device)
            tensors = self._cached(("tensors", key), lambda: self.graph.tensors(device))
            tables = by_device[device] = self._cached(
                ("path_tables", key), lambda: PathTables(self.graph, tensors))
        return tables

    def _ends(self, source, target, device):
        """Both end nodes per row (the problem's own where one is not given), or None."""
        if source is None and target is None:
            return None, None
        if source is not None and target is not None:
            return converted(source, device=device), converted(target, device=device)
        own = (0, self.n_params - 1) if self.cell_grid is not None else (
            self.graph.source, self.graph.target)
        if source is None:
            source = torch.full_like(target, own[0])
        if target is None:
            target = torch.full_like(source, own[1])
        return converted(source, device=device), converted(target, device=device)

    def _cheapest_paths(self, costs, source=None, target=None, arc_mask=None, with_cost=True):
        """0/1 arc use and cost of each row's cheapest open path (cost inf: none).

        With ``with_cost=False`` the cost may be None (see ``cheapest_paths``).
        """
        source, target = self._ends(source, target, costs.device)
        if arc_mask is not None:
            arc_mask = converted(arc_mask, device=costs.device)
        return cheapest_paths(self._path_tables(costs.device), costs, source, target, arc_mask,
                              with_cost)

    def _check_open_paths(self, params, n_instances, device):
        """Raise where a row has no open path from its source to its target.

        It depends on the per-instance data alone, not on the costs: checked
        once here, so that solving checked data needs no check of its own.
        """
        source, target, arc_mask = (params.get(name) for name in ("source", "target",
                                                                   "arc_mask"))
        zeros = torch.zeros(n_instances, self.n_params, dtype=torch.float64, device=device)
        cost = self._cheapest_paths(zeros, source, target, arc_mask)[1]
        if not bool(torch.isfinite(cost).all()):
            self._raise_no_path(cost, source, target, arc_mask)

    def _raise_no_path(self, cost, source, target, arc_mask):
        """A ValueError naming the first row without an open source-target path."""
        bad = ~torch.isfinite(cost)
        row = first_bad_row(bad)
        given_source, given_target = source, target
        source, target = self._ends(source, target, cost.device)
        if source is None:
            ends, s, t = (None, None), self.graph.source, self.graph.target
        else:
            ends = (source[row:row + 1], target[row:row + 1])
            s, t = int(source[row]), int(target[row])
        # The mask is to blame when the row's end nodes are joined by a path
        # with every arc open; otherwise the end nodes themselves are.
        unmasked = self._cheapest_paths(cost.new_zeros(1, self.n_params), *ends)[1]
        if arc_mask is not None and bool(torch.isfinite(unmasked).all()):
            culprit = "arc_mask closes every path"
        else:
            names = [name for name, value in (("source", given_source),
                                              ("target", given_target)) if value is not None]
            culprit = " and ".join(names) + (" leave" if len(names) > 1 else " leaves") + \
                " no path"
        raise ValueError(f"{culprit} from source {s} to target {t} in row {row} (instance "
                         f"{row}), the first of {int(bad.sum())} such row(s); every instance "
                         f"needs an open path from its source to its target.")

    def solve(self, theta, **params):
        # The solve finds the rows without an open path itself (their cost is
        # inf): one pass over the batch rather than a check and then a solve.
        batch, restore = as_batch(theta, "theta", width=self.n_params)
        checked = super().check_params(params, len(batch), batch.device)
        self.check_theta(batch, "theta")
        if not checked or self.cell_grid is not None:
            return restore(self._solve(batch, **checked))
        used, cost = self._cheapest_paths(batch.to(torch.float64), **checked)
        if not bool(torch.isfinite(cost).all()):
            self._raise_no_path(cost, *(checked.get(name) for name in ("source", "target",
                                                                        "arc_mask")))
        return restore(used.to(batch.dtype))

    def check_params(self, params, n_instances, device=None):
        # Beside each array's own checks, every row must keep an open path.
        checked = super().check_params(params, n_instances, device)
        if checked and self.cell_grid is None:
            self._check_open_paths(checked, int(n_instances), device)
        return checked

    def _check_instance_params(self, params, n_instances, device):
        """The per-instance arrays checked one by one (not yet for an open path)."""
        cells = self.cell_grid
        if cells is not None and "arc_mask" in params:
            raise ValueError("arc_mask applies to costs='arcs'; ShortestPath(costs='cells') "
                             "takes only source and target per instance.")
        n_nodes = self.graph.n_nodes if cells is None else cells.n_cells
        checked = {}
        for name in ("source", "target"):
            if name in params:
                checked[name] = instance_tensor(
                    params[name], name, n_instances, integer=True, low=0, high=n_nodes - 1,
                    high_note=f"the largest {'node' if cells is None else 'cell'} index",
                    device=device, dtype=torch.long)
        if "arc_mask" in params:
            checked["arc_mask"] = instance_tensor(
                params["arc_mask"], "arc_mask", n_instances, tail=(self.n_params,),
                boolean=True, device=device, dtype=torch.bool)
        source, target = self._ends(checked.get("source"), checked.get("target"), device)
        if source is not None:
            row = first_bad_row(source == target)
            if row is not None:
                raise ValueError(
                    f"source and target must differ in every instance; both are "
                    f"{int(source[row])} in row {row} (instance {row}), the first of "
                    f"{int((source == target).sum())} such row(s).")
        return checked

    def _relax(self, theta, gamma, **params):
        if self.cell_grid is None:
            return super()._relax(theta, gamma, **params)
        # Over the flows on the moves: the cells' costs are those of the moves
        # entering them, and a cell's relaxed use is its inflow (plus one at
        # the source); as for MixedIntegerProgram's decision_map, the
        # quadratic term is on the flows (for a path, on all but its source).
        grid, device = self.cell_grid, theta.device
        if self._clips:
            theta = theta.clamp(min=0.0)          # as the solve does (negative_costs="clip")
        program = self._cached("flow_program", grid.flow_program)
        heads = self._cached(("move_heads", device_key(device)), lambda: torch.as_tensor(
            grid.arcs()[:, 1], dtype=torch.long, device=device))
        source, target = self._ends(params.get("source"), params.get("target"), device)
        rows = torch.arange(len(theta), device=device)
        supply = None
        if source is None:
            source = torch.zeros(len(theta), dtype=torch.long, device=device)
        else:
            supply = torch.zeros(len(theta), grid.n_cells, dtype=torch.float64, device=device)
            supply[rows, source] = 1.0
            supply[rows, target] = -1.0
        flow = program._relax(theta.index_select(1, heads), gamma, b_eq=supply)
        used = flow.new_zeros(len(theta), grid.n_cells).index_add(1, heads, flow)
        start = torch.zeros_like(used)
        start[rows, source] = 1.0
        return (used + start).to(theta.dtype)

    def _lp_params(self, params):
        if not params:
            return {}
        given = next(iter(params.values()))
        batch, device = len(given), given.device
        # (check_params has named any row without an open path: its polytope is empty.)
        lp_params = {}
        source, target = self._ends(params.get("source"), params.get("target"), device)
        if source is not None:
            rows = torch.arange(batch, device=device)
            supply = torch.zeros(batch, self.graph.n_nodes, dtype=torch.float64, device=device)
            supply[rows, source] = 1.0
            supply[rows, target] = -1.0
            lp_params["b_eq"] = supply
        if params.get("arc_mask") is not None:
            lp_params["upper"] = params["arc_mask"].to(torch.float64)
        return lp_params

    def lp_form(self):
        """The shortest path as a linear program over arc flows.

        Node-arc incidence equalities (one unit leaves the source and reaches
        the target, flow is conserved elsewhere) with ``0 <= x <= 1``,
        minimizing ``theta @ x``; ``relax`` uses its quadratic relaxation.
        The incidence matrix is the same for any end nodes: per-instance
        ``source`` and ``target`` replace its right-hand side ``b_eq`` (the
        supplies, built here from the problem's own end nodes), and
        ``arc_mask`` the upper bounds (0 on closed arcs).

        Returns
        -------
        lp : LinearProgram or None
            None with ``costs="cells"``: a path's cells have no linear
            program over the cells alone (``relax`` still works, over the
            flows on the moves between cells; see the class notes).
        """
        if self.cell_grid is not None:
            return None
        graph = self.graph
        arcs = np.arange(len(graph.tails))
        incidence = np.zeros((graph.n_nodes, len(arcs)))
        incidence[graph.tails, arcs] = 1.0
        incidence[graph.heads, arcs] = -1.0
        supply = np.zeros(graph.n_nodes)
        supply[graph.source], supply[graph.target] = 1.0, -1.0
        return LinearProgram(A_eq=incidence, b_eq=supply, bounds=(0, 1), sense="minimize")
