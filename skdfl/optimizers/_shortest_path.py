"""Shortest paths on a grid DAG or any directed graph, batched in torch."""

import numbers

import numpy as np
import torch

from .._validation import check_scalar
from ._base import Optimizer, device_key, theta_values
from ._graph import Graph, grid_arcs, shortest_path_batch
from ._graph_rows import PathTables, cheapest_paths
from ._instance import first_bad_row, instance_tensor
from ._linear_program import LinearProgram


class ShortestPath(Optimizer):
    """Minimum-cost path between two nodes of a directed graph.

    The decision ``x`` marks the arcs of the path (1 on the path, 0 off it)
    and the objective is its total cost ``theta @ x``, minimized. Costs of
    any sign are solved exactly on a DAG (the grid included); a graph with a
    cycle needs non-negative costs (a negative cycle has no shortest path).
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

    Attributes
    ----------
    arcs : ndarray of shape (n_arcs, 2)
        The arcs, in the order of ``theta`` and of the decisions.

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
    """

    sense = "minimize"
    is_linear = True
    instance_params = ("source", "target", "arc_mask")

    def __init__(self, grid=None, *, edges=None, source=None, target=None):
        self.grid = grid
        self.edges = edges
        self.source = source
        self.target = target

    @property
    def graph(self):
        """The validated graph structure (built once)."""
        return self._cached("graph", self._build_graph)

    @property
    def any_sign(self):
        """Exact for costs of either sign only on a graph without cycles."""
        return self.graph.is_dag

    @property
    def theta_domain(self):
        """Costs of either sign on a graph without cycles, else non-negative costs."""
        return "real" if self.graph.is_dag else "nonnegative"

    @property
    def arcs(self):
        return np.stack([self.graph.tails, self.graph.heads], axis=1)

    @property
    def n_params(self):
        return len(self.graph.tails)

    @property
    def n_vars(self):
        return self.n_params

    def _build_graph(self):
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
        if not self.graph.is_dag and bool((theta < 0).any()):
            raise ValueError(
                f"{name} must be non-negative for ShortestPath on a graph with a cycle (a "
                f"negative cycle has no shortest path); got the minimum {float(theta.min()):g}.")

    def _solve(self, theta, source=None, target=None, arc_mask=None):
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
            used = shortest_path_batch(tensors, theta.to(torch.float64))
            return used.to(theta.dtype)
        used, cost = self._cheapest_paths(theta.to(torch.float64), source, target, arc_mask)
        if not bool(torch.isfinite(cost).all()):
            self._raise_no_path(cost, source, target, arc_mask)
        return used.to(theta.dtype)

    def _path_tables(self, device):
        key = device_key(device)
        tensors = self._cached(("tensors", key), lambda: self.graph.tensors(device))
        return self._cached(("path_tables", key), lambda: PathTables(self.graph, tensors))

    def _ends(self, source, target, device):
        """Both end nodes per row (the problem's own where one is not given), or None."""
        if source is None and target is None:
            return None, None
        if source is None:
            source = torch.full_like(target, self.graph.source)
        if target is None:
            target = torch.full_like(source, self.graph.target)
        return source.to(device), target.to(device)

    def _cheapest_paths(self, costs, source=None, target=None, arc_mask=None):
        """0/1 arc use and cost of each row's cheapest open path (cost inf: none)."""
        source, target = self._ends(source, target, costs.device)
        if arc_mask is not None:
            arc_mask = arc_mask.to(costs.device)
        return cheapest_paths(self._path_tables(costs.device), costs, source, target, arc_mask)

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

    def _check_instance_params(self, params, n_instances, device):
        n_nodes = self.graph.n_nodes
        checked = {}
        for name in ("source", "target"):
            if name in params:
                checked[name] = instance_tensor(
                    params[name], name, n_instances, integer=True, low=0, high=n_nodes - 1,
                    high_note="the largest node index", device=device, dtype=torch.long)
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

    def _lp_params(self, params):
        if not params:
            return {}
        given = next(iter(params.values()))
        batch, device = len(given), given.device
        # A row without an open path has an empty polytope: name it as solve does.
        self._solve(torch.zeros(batch, self.n_params, dtype=torch.float64, device=device),
                    **params)
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
        lp : LinearProgram
        """
        graph = self.graph
        arcs = np.arange(len(graph.tails))
        incidence = np.zeros((graph.n_nodes, len(arcs)))
        incidence[graph.tails, arcs] = 1.0
        incidence[graph.heads, arcs] = -1.0
        supply = np.zeros(graph.n_nodes)
        supply[graph.source], supply[graph.target] = 1.0, -1.0
        return LinearProgram(A_eq=incidence, b_eq=supply, bounds=(0, 1), sense="minimize")
