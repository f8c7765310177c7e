"""Graph structure for batched shortest paths, built once per problem.

The kernels never loop over instances. A DAG with few source-target paths
(the 5x5 grid has 70) has them all listed once in a path-arc incidence
matrix: a batch is solved by one matrix product and an argmin, a handful of
tensor operations whatever the graph's depth. Otherwise the whole batch
moves together through the nodes (grouped by topological level on a DAG)
or through Bellman-Ford rounds on a graph with a cycle; incoming arcs are
padded to the largest in-degree, the padding pointing at a dummy arc of
infinite cost.
"""

from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import torch

# Paths are listed when the path-arc incidence matrix has at most this many
# entries: one product then costs at most this many multiply-adds per
# instance, far fewer tensor operations than a level-by-level pass.
MAX_PATH_ENTRIES = 1 << 16
# Rows of a batch scored at once against the listed paths (bounds memory).
_SCORE_ENTRIES = 1 << 22
# In-degrees up to which the DP compares incoming arcs one by one.
_FEW_IN_ARCS = 4


def grid_arcs(height, width):
    """Arcs of the grid DAG in PyEPO's order (east arcs of a row, then its south arcs)."""
    arcs = []
    for i in range(height):
        for j in range(width - 1):
            v = i * width + j
            arcs.append((v, v + 1))
        if i == height - 1:
            continue
        for j in range(width):
            v = i * width + j
            arcs.append((v, v + width))
    return np.asarray(arcs, dtype=np.int64).reshape(-1, 2)


@dataclass
class Graph:
    """Index arrays of a directed graph, ready for batched relaxation."""

    tails: np.ndarray          # (m,) arc sources
    heads: np.ndarray          # (m,) arc targets
    n_nodes: int
    source: int
    target: int
    in_arcs: np.ndarray        # (n_nodes, max_in_degree), padded with m
    levels: list | None        # node groups in topological order, None if cyclic

    @property
    def is_dag(self):
        return self.levels is not None

    @classmethod
    def from_arcs(cls, arcs, source, target, n_nodes):
        tails, heads = arcs[:, 0], arcs[:, 1]
        m = len(arcs)
        in_lists = [[] for _ in range(n_nodes)]
        for e, h in enumerate(heads):
            in_lists[h].append(e)
        degree = max(1, max(len(a) for a in in_lists))
        in_arcs = np.full((n_nodes, degree), m, dtype=np.int64)
        for v, arcs_in in enumerate(in_lists):
            in_arcs[v, :len(arcs_in)] = arcs_in
        graph = cls(tails, heads, n_nodes, source, target, in_arcs,
                    _topological_levels(tails, heads, n_nodes))
        if not graph._reaches_target():
            raise ValueError(f"target={target} cannot be reached from source={source} "
                             f"along the given edges.")
        return graph

    def _reaches_target(self):
        return _reaches(self.tails, self.heads, self.n_nodes, self.source)[self.target]

    def paths(self):
        """0/1 path-arc incidence of every source-target path, or None.

        None on a graph with a cycle, or when the matrix would have more than
        ``MAX_PATH_ENTRIES`` entries.
        """
        if self.levels is None:
            return None
        m = len(self.tails)
        useful = _reaches(self.heads, self.tails, self.n_nodes, self.target)
        out_arcs = [[] for _ in range(self.n_nodes)]
        for e, (t, h) in enumerate(zip(self.tails, self.heads)):
            if useful[h]:
                out_arcs[t].append(e)
        roots = np.setdiff1d(np.arange(self.n_nodes), np.concatenate([[], *self.levels]))
        order = np.concatenate([roots, *self.levels]).astype(np.int64)
        n_paths = _count_paths(out_arcs, self.heads, order, self.source, self.target)
        if n_paths * m > MAX_PATH_ENTRIES:
            return None
        rows, stack = [], [(self.source, ())]
        while stack:
            node, arcs = stack.pop()
            if node == self.target:
                rows.append(arcs)
                continue
            stack.extend((self.heads[e], arcs + (e,)) for e in reversed(out_arcs[node]))
        incidence = np.zeros((len(rows), m))
        for i, arcs in enumerate(rows):
            incidence[i, list(arcs)] = 1.0
        return incidence

    def tensors(self, device):
        """Index tensors on ``device`` (and the listed paths, when few)."""
        m = len(self.tails)
        # The dummy arc m starts at the source: with infinite cost it never wins.
        tails = np.append(self.tails, self.source)
        as_t = lambda a: torch.as_tensor(a, dtype=torch.long, device=device)  # noqa: E731

        def step(nodes):
            arcs = self.in_arcs[nodes]
            return LevelStep(as_t(nodes), as_t(arcs), as_t(arcs.ravel()),
                             as_t(tails[arcs].ravel()))

        levels = all_levels = None
        if self.levels is not None:
            # The source keeps distance 0 even when arcs enter it (from nodes
            # it cannot reach, so never on a shortest path).
            levels = [step(level[level != self.source]) for level in self.levels]
            # Sources that differ by row are reset after each level instead.
            all_levels = [step(level) for level in self.levels]
        paths = paths_t = self.paths()
        if paths is not None:
            paths = torch.as_tensor(paths, dtype=torch.float64, device=device)
            paths_t = paths.T.contiguous()
        return GraphTensors(as_t(tails), step(np.arange(self.n_nodes)), levels, m,
                            self.source, self.target, paths, all_levels, paths_t)


class LevelStep(NamedTuple):
    """The nodes relaxed together and their incoming arcs, padded with the dummy arc."""

    nodes: torch.Tensor        # (L,)
    arcs: torch.Tensor         # (L, D) incoming arcs of each node
    arc_ids: torch.Tensor      # (L * D,) the same, flat (for index_select)
    arc_tails: torch.Tensor    # (L * D,) their tails


@dataclass
class GraphTensors:
    tails: torch.Tensor        # (m + 1,) including the dummy arc
    every_node: LevelStep      # all nodes at once (Bellman-Ford rounds)
    levels: list | None        # LevelStep per topological level, without the source
    n_arcs: int
    source: int
    target: int
    paths: torch.Tensor | None  # (n_paths, m) 0/1 incidence, or None
    all_levels: list | None = None   # levels with the source kept (per-row sources)
    paths_t: torch.Tensor | None = None   # paths.T, contiguous (a faster product)
    paths_as: dict = field(default_factory=dict)   # paths in other dtypes, made on use


def _reaches(tails, heads, n_nodes, start):
    """Boolean mask of the nodes reachable from ``start`` along ``tails -> heads``."""
    out_lists = [[] for _ in range(n_nodes)]
    for t, h in zip(tails, heads):
        out_lists[t].append(h)
    seen = np.zeros(n_nodes, dtype=bool)
    seen[start] = True
    queue = deque([start])
    while queue:
        for h in out_lists[queue.popleft()]:
            if not seen[h]:
                seen[h] = True
                queue.append(h)
    return seen


def _count_paths(out_arcs, heads, order, source, target):
    """Number of source-target paths of a DAG whose nodes are in topological ``order``."""
    counts = np.zeros(len(out_arcs), dtype=object)   # exact: path counts grow fast
    counts[target] = 1
    for node in reversed(order):
        if node != target:
            counts[node] = sum(counts[heads[e]] for e in out_arcs[node])
    return counts[source]


def _topological_levels(tails, heads, n_nodes):
    """Group nodes by longest distance from a root; None if there is a cycle."""
    indegree = np.bincount(heads, minlength=n_nodes)
    out_lists = [[] for _ in range(n_nodes)]
    for t, h in zip(tails, heads):
        out_lists[t].append(h)
    level = np.zeros(n_nodes, dtype=np.int64)
    queue = deque(np.flatnonzero(indegree == 0).tolist())
    visited = 0
    while queue:
        v = queue.popleft()
        visited += 1
        for h in out_lists[v]:
            level[h] = max(level[h], level[v] + 1)
            indegree[h] -= 1
            if indegree[h] == 0:
                queue.append(h)
    if visited < n_nodes:
        return None
    return [np.flatnonzero(level == k) for k in range(1, level.max() + 1)]


def shortest_path_batch(graph, theta, dtype):
    """Batched shortest paths; ``theta`` is (B, m) float64, returns 0/1 arc use in ``dtype``."""
    if graph.paths is not None:
        return _best_listed_path(graph, theta, dtype)
    return _dynamic_programming(graph, theta)[0].to(dtype)


def _best_listed_path(graph, theta, dtype):
    """The cheapest of the listed paths, instance by instance (first on ties)."""
    # The chosen rows are gathered from a copy of the 0/1 listing in the
    # decisions' dtype (exact in any), which saves converting them.
    paths = graph.paths_as.get(dtype)
    if paths is None:
        paths = graph.paths_as[dtype] = graph.paths.to(dtype)
    rows = max(1, _SCORE_ENTRIES // paths.shape[0])
    if theta.shape[0] <= rows:
        return paths.index_select(0, (theta @ graph.paths_t).argmin(-1))
    return torch.cat([paths.index_select(0, (part @ graph.paths_t).argmin(-1))
                      for part in theta.split(rows)])


def _dynamic_programming(graph, theta, source=None, target=None):
    """Level-synchronous DP on a DAG, Bellman-Ford rounds on a cyclic graph.

    ``source`` and ``target``, (B,) long tensors, give each row its own end
    nodes (default: the graph's). Returns the 0/1 arc use and the distances
    from each row's source, node-major: (n_nodes, B); an infinite cost
    closes an arc. Node-major tables make every gather and write below copy
    whole rows (several times faster on CPU than column gathers); the values
    and the tie-breaking are those of the row-major formulation.
    """
    batch = theta.shape[0]
    costs = torch.cat([theta.T, theta.new_full((1, batch), float("inf"))])    # (m + 1, B)
    every = graph.every_node
    dist = theta.new_full((every.nodes.shape[0], batch), float("inf"))
    if source is None:
        dist[graph.source] = 0.0
    else:
        source_row = source.unsqueeze(0)
        dist.scatter_(0, source_row, 0.0)
    pred = torch.full_like(dist, graph.n_arcs, dtype=torch.long)
    if graph.levels is not None:
        for step in graph.levels if source is None else graph.all_levels:
            best, chosen = _relax(dist, costs, step)
            dist.index_copy_(0, step.nodes, best)
            if source is not None:
                # Nothing reaches a row's own source in a DAG: it keeps 0.
                dist.scatter_(0, source_row, 0.0)
            pred.index_copy_(0, step.nodes, chosen)
        steps = len(graph.levels)
    else:
        for _ in range(every.nodes.shape[0] - 1):
            best, chosen = _relax(dist, costs, every)
            improved = best < dist
            if not bool(improved.any()):
                break
            dist = torch.where(improved, best, dist)
            pred = torch.where(improved, chosen, pred)
        steps = every.nodes.shape[0] - 1
    return _trace_back(graph, pred, steps, source, target), dist


def _relax(dist, costs, step):
    """Best distance to each node of ``step`` through one incoming arc, and that arc."""
    cand = dist.index_select(0, step.arc_tails) + costs.index_select(0, step.arc_ids)
    cand = cand.view(*step.arcs.shape, dist.shape[1])                     # (L, D, B)
    if cand.shape[1] <= _FEW_IN_ARCS:
        # argmin over a middle axis is slow on CPU; a few comparisons are not.
        # (Strictly smaller replaces: the first minimum wins, as with argmin.)
        best, which = cand[:, 0], torch.zeros_like(cand[:, 0], dtype=torch.long)
        for d in range(1, cand.shape[1]):
            smaller = cand[:, d] < best
            best = torch.where(smaller, cand[:, d], best)
            which = which.masked_fill(smaller, d)
    else:
        best, which = _min_last(cand.transpose(1, 2).contiguous())
    return best, step.arcs.gather(1, which)


def _min_last(values):
    """Minimum and its first index along the last axis.

    ``argmin`` then ``gather`` rather than ``min(dim)``: on CPU the latter
    enters a parallel region even for tiny tensors, which costs milliseconds
    per call on a busy machine; the result and tie-breaking are the same.
    """
    which = values.argmin(dim=-1)
    return values.gather(-1, which.unsqueeze(-1)).squeeze(-1), which


def _trace_back(graph, pred, steps, source=None, target=None):
    """0/1 arc use of the paths that ``pred`` (n_nodes, B) records, target to source."""
    batch = pred.shape[1]
    source = graph.source if source is None else source
    if target is None:
        node = torch.full((batch,), graph.target, dtype=torch.long, device=pred.device)
    else:
        node = target.clone()
    used = torch.zeros(batch, graph.n_arcs + 1, dtype=pred.dtype, device=pred.device)
    for _ in range(steps):
        active = node != source
        arc = torch.where(active, pred.gather(0, node[None, :])[0], graph.n_arcs)
        used.scatter_(1, arc[:, None], 1)
        node = torch.where(active, graph.tails.index_select(0, arc), node)
    return used[:, :graph.n_arcs]
