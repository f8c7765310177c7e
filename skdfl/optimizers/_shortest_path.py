"""Shortest paths on a grid DAG or any directed graph, batched in torch."""

import numbers

import numpy as np
import torch

from .._validation import check_scalar
from ._base import Optimizer, device_key
from ._graph import Graph, grid_arcs, shortest_path_batch
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
    """

    sense = "minimize"
    is_linear = True

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
        if not self.graph.is_dag and bool((theta < 0).any()):
            raise ValueError(
                f"{name} must be non-negative for ShortestPath on a graph with a cycle (a "
                f"negative cycle has no shortest path); got the minimum {float(theta.min()):g}.")

    def _solve(self, theta):
        if not self.graph.is_dag:
            # Training code calls _solve directly with predictions (the
            # validation regret): a negative cost on a graph with a cycle has
            # no shortest path, so it is an error rather than a decision
            # that is not a path. (The perturbation methods refuse such a
            # graph up front.)
            self.check_theta(theta, "theta (the costs to decide with)")
        tensors = self._cached(("tensors", device_key(theta.device)),
                               lambda: self.graph.tensors(theta.device))
        used = shortest_path_batch(tensors, theta.to(torch.float64))
        return used.to(theta.dtype)

    def lp_form(self):
        """The shortest path as a linear program over arc flows.

        Node-arc incidence equalities (one unit leaves the source and reaches
        the target, flow is conserved elsewhere) with ``0 <= x <= 1``,
        minimizing ``theta @ x``; ``relax`` uses its quadratic relaxation.

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
