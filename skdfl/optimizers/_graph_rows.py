"""Shortest paths whose end nodes or open arcs differ from instance to instance.

Still no loop over instances. A closed arc costs infinity (the largest
float inside a matrix product, where 0 * inf would spoil the sum). On a DAG
with few paths, a batch is scored by one matrix product against listed
paths, as without per-instance data:

- for the problem's own end nodes, against its own source-target paths;
- for end nodes given per row, against the DAG's maximal (root-to-sink)
  paths, each row counting only the arcs between its own end nodes.

Otherwise the level DP (Bellman-Ford on a cyclic graph) starts each row at
its own source and traces back from its own target.
"""

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from . import _graph
from ._graph import _dynamic_programming

# Entries (pairs of nodes x (arcs + maximal paths)) of the per-pair tables, at most
# (float64: 16 MiB).
MAX_PAIR_ENTRIES = 1 << 21


@dataclass
class Segments:
    """Maximal paths of a DAG, whose segments are the paths between any two nodes.

    Every s-t path extends (backwards to a root, forwards to a sink) to a
    maximal path, and on a maximal path through s and t the arcs whose tail
    s reaches and whose head reaches t are exactly its s-t segment. So one
    listing serves every pair of end nodes.
    """

    paths: torch.Tensor    # (n_paths, n_arcs) float64 0/1 incidence of the maximal paths
    inside: torch.Tensor   # (n_nodes * n_nodes, n_arcs) float64, row s * n_nodes + t:
                           # 1 on the arcs between s and t, else 0
    penalty: torch.Tensor  # (n_nodes * n_nodes, n_paths) float64, row s * n_nodes + t:
                           # 0 on the paths through an s-t path, else inf (added to their score)
    n_nodes: int

    def __post_init__(self):
        # Read on every solve: built once (small batches pay per operation).
        self.paths_t = self.paths.T.contiguous()     # (a faster product than the view)
        self.big = torch.tensor(torch.finfo(torch.float64).max, dtype=torch.float64,
                                device=self.paths.device)


def segments(graph, device):
    """The maximal paths of a DAG and the masks of every pair of nodes, or None.

    None on a graph with a cycle, when the incidence of the maximal paths
    would have more than ``MAX_PATH_ENTRIES`` entries (as the listing of the
    problem's own paths), or the masks more than ``MAX_PAIR_ENTRIES``.
    """
    n_nodes, n_arcs = graph.n_nodes, len(graph.tails)
    # (Checked first: the reachability table below is n_nodes x n_nodes.)
    if graph.levels is None or n_nodes * n_nodes * (n_arcs + 1) > MAX_PAIR_ENTRIES:
        return None
    out_arcs = [[] for _ in range(n_nodes)]
    for e, tail in enumerate(graph.tails):
        out_arcs[tail].append(e)
    roots = np.setdiff1d(np.arange(n_nodes), np.concatenate([[], *graph.levels]))
    order = np.concatenate([roots, *graph.levels]).astype(np.int64)
    # Paths from each node to a sink, counted exactly (Python integers).
    counts = [0] * n_nodes
    reach = np.eye(n_nodes, dtype=bool)       # reach[u, v]: v can be reached from u
    for node in order[::-1]:
        heads = graph.heads[out_arcs[node]]
        counts[node] = sum(counts[h] for h in heads) if len(heads) else 1
        reach[node] |= reach[heads].any(0)
    starts = [node for node in roots if out_arcs[node]]
    n_paths = sum(counts[node] for node in starts)
    if (n_paths * n_arcs > _graph.MAX_PATH_ENTRIES
            or n_nodes * n_nodes * (n_arcs + n_paths) > MAX_PAIR_ENTRIES):
        return None
    rows, stack = [], [(node, ()) for node in reversed(starts)]
    while stack:
        node, arcs = stack.pop()
        if not out_arcs[node]:
            rows.append(list(arcs))
            continue
        stack.extend((graph.heads[e], arcs + (e,)) for e in reversed(out_arcs[node]))
    paths = np.zeros((n_paths, n_arcs))
    through = np.zeros((n_nodes, n_paths), dtype=bool)
    for i, arcs in enumerate(rows):
        paths[i, arcs] = 1.0
        through[graph.tails[arcs], i] = through[graph.heads[arcs], i] = True
    connected = reach & ~np.eye(n_nodes, dtype=bool)
    inside = reach[:, None, graph.tails] & reach[graph.heads].T[None, :, :]
    # A maximal path through s and t that meets t first holds no s-t path.
    both = through[:, None, :] & through[None, :, :] & connected[:, :, None]
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float64, device=device)  # noqa: E731
    return Segments(as_t(paths), as_t(inside.reshape(n_nodes * n_nodes, n_arcs)),
                    as_t(np.where(both, 0.0, np.inf).reshape(n_nodes * n_nodes, n_paths)),
                    n_nodes)


def _cheapest_shared(tensors, theta, arc_mask, with_cost=True):
    """The cheapest open path of the problem's own listing (``tensors.paths``, 0/1).

    One product, as without a mask. A closed arc costs the largest float
    rather than inf (0 * inf would spoil the product): a path through one
    scores at least about half of it, which no open path reaches (unless its
    arc costs sum to more than 1e307), and through two, inf.
    """
    big = torch.finfo(theta.dtype).max
    score = (theta if arc_mask is None else torch.where(arc_mask, theta, big)) @ tensors.paths_t
    which = score.argmin(1)
    return tensors.paths.index_select(0, which), _chosen_cost(score, which, big, with_cost)


def _chosen_cost(score, which, big, with_cost):
    """The score of each row's chosen path, inf where it crosses a closed arc (or None)."""
    if not with_cost:
        return None
    best = score.gather(1, which.unsqueeze(1)).squeeze(1)
    return best.masked_fill(best > big / 2, float("inf"))


def _in_parts(kernel, listing, theta, *rows, with_cost=True):
    """``kernel(listing, theta, *rows)`` on parts of the batch (bounds the scores' memory)."""
    paths = listing.paths
    size = max(1, _graph._SCORE_ENTRIES // paths.shape[0])
    if theta.shape[0] <= size:
        return kernel(listing, theta, *rows, with_cost=with_cost)
    parts = zip(theta.split(size), *(
        [None] * -(-theta.shape[0] // size) if r is None else r.split(size) for r in rows))
    outputs = [kernel(listing, *part, with_cost=with_cost) for part in parts]
    return tuple(None if column[0] is None else torch.cat(column) for column in zip(*outputs))


def _cheapest_segment(segs, theta, arc_mask, source, target, with_cost=True):
    """Each row's cheapest open path between its own end nodes, one product for all.

    Few tensor operations, as small batches pay per operation: one read of
    each row's two pair tables; the paths that do not pass through both end
    nodes are ruled out by adding their infinite penalty within the product.
    ``theta`` is float64.
    """
    pair = target.add(source, alpha=segs.n_nodes)
    inside = segs.inside.index_select(0, pair)
    # Only the arcs between the row's end nodes count (a closed one costs big there).
    between = theta * inside if arc_mask is None else torch.where(
        arc_mask, theta, segs.big).mul_(inside)
    score = segs.penalty.index_select(0, pair).addmm_(between, segs.paths_t)
    which = score.argmin(1)
    used = segs.paths.index_select(0, which).mul_(inside)
    return used, _chosen_cost(score, which, torch.finfo(theta.dtype).max, with_cost)


class PathTables:
    """A graph's index tensors and listed paths on one device, built on first use."""

    def __init__(self, graph, tensors):
        self.graph = graph
        self.tensors = tensors

    @cached_property
    def segments(self):
        """The maximal paths, for end nodes that differ by row (or None)."""
        return segments(self.graph, self.tensors.tails.device)


def cheapest_paths(tables, theta, source=None, target=None, arc_mask=None, with_cost=True):
    """Batched shortest paths with per-row end nodes and open arcs.

    Parameters
    ----------
    tables : PathTables
        The graph's tensors and listed paths.
    theta : Tensor of shape (B, n_arcs)
        float64 arc costs.
    source, target : Tensor of shape (B,), optional
        Each row's end nodes; both or neither (the problem's own).
    arc_mask : Tensor of shape (B, n_arcs), optional
        bool, False where an arc is closed.
    with_cost : bool, default=True
        False when the caller knows that every row has an open path: the
        listed-path kernels then skip the costs (``cost`` may be None).

    Returns
    -------
    used : Tensor of shape (B, n_arcs)
        0/1 arc use of the chosen paths.
    cost : Tensor of shape (B,)
        The cost of each chosen path; inf where no open path exists.
        (None when ``with_cost`` is False and the listed paths were scored.)
    """
    tensors = tables.tensors
    if source is None and tensors.paths is not None:
        return _in_parts(_cheapest_shared, tensors, theta, arc_mask, with_cost=with_cost)
    if source is not None and tables.segments is not None:
        return _in_parts(_cheapest_segment, tables.segments, theta, arc_mask, source, target,
                         with_cost=with_cost)
    costs = theta if arc_mask is None else theta.masked_fill(~arc_mask, float("inf"))
    if source is None:
        used, dist = _dynamic_programming(tensors, costs)
        return used, dist[tensors.target]
    used, dist = _dynamic_programming(tensors, costs, source, target)
    return used, dist.gather(0, target[None, :])[0]
