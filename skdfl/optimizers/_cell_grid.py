"""Shortest paths with costs on the cells of a grid, batched in torch.

A path moves between neighbouring cells (4 or 8 neighbours) and costs the
sum of the costs of the cells it visits, both end cells included: the
setting of the Warcraft maps (Vlastelica et al. 2020, Niepert et al. 2021).
The kernel never loops over instances. Bellman-Ford rounds run on the whole
batch at once, as ``(B, H, W)`` tables: each cell takes the cheapest of its
neighbours' distances, read through shifted views of the padded table, plus
its own cost, until no distance changes; the paths are then traced back
from the target cells together.

Costs may be negative as long as no cycle of moves has a negative total:
a cycle's cost is half the sum of the costs of the pairs of neighbouring
cells along it, so there is none exactly when every two neighbouring cells
cost at least zero together (non-negative costs always qualify). A shortest
walk then exists and a simple path attains it; Bellman-Ford's predecessors
form a tree, so the traced path is simple.
"""

import numbers
from dataclasses import dataclass

import numpy as np
import torch

from ._instance import first_bad_row
from ._linear_program import LinearProgram

#: (row, column) steps of the moves between neighbouring cells.
MOVES = {
    4: ((-1, 0), (0, -1), (0, 1), (1, 0)),
    8: ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)),
}


def check_cell_grid(grid, moves):
    """The validated ``(height, width)`` and number of moves of a cell grid."""
    if (not isinstance(grid, (tuple, list)) or len(grid) != 2
            or not all(isinstance(g, numbers.Integral) and not isinstance(g, bool)
                       and g >= 1 for g in grid) or grid[0] * grid[1] < 2):
        raise ValueError("grid must be a pair (height, width) of positive integers with at "
                         f"least two cells; got {grid!r}.")
    moves = 8 if moves is None else moves
    if isinstance(moves, bool) or moves not in MOVES:
        raise ValueError(f"moves must be 4 or 8 (the neighbours a path may step to) with "
                         f"costs='cells'; got {moves!r}.")
    return int(grid[0]), int(grid[1]), int(moves)


@dataclass(frozen=True)
class CellGrid:
    """A grid of cells and the moves between them."""

    height: int
    width: int
    moves: int

    @property
    def n_cells(self):
        return self.height * self.width

    @property
    def steps(self):
        return MOVES[self.moves]

    def arcs(self):
        """The moves as (from cell, to cell) pairs, cells numbered row-major."""
        i, j = np.divmod(np.arange(self.n_cells), self.width)
        pairs = []
        for di, dj in self.steps:
            inside = (0 <= i + di) & (i + di < self.height) & (0 <= j + dj) & (j + dj < self.width)
            tail = np.flatnonzero(inside)
            pairs.append(np.stack([tail, tail + di * self.width + dj], axis=1))
        return np.concatenate(pairs).astype(np.int64)

    def flow_program(self):
        """The path as a unit flow on the moves, top-left to bottom-right cell (an LP)."""
        arcs = self.arcs()
        index = np.arange(len(arcs))
        incidence = np.zeros((self.n_cells, len(arcs)))
        incidence[arcs[:, 0], index] = 1.0
        incidence[arcs[:, 1], index] = -1.0
        supply = np.zeros(self.n_cells)
        supply[0], supply[-1] = 1.0, -1.0
        return LinearProgram(A_eq=incidence, b_eq=supply, bounds=(0, 1), sense="minimize")


def negative_cycle_pairs(grid, costs):
    """Pairs of neighbouring cells that cost less than zero together (a negative cycle).

    ``costs`` is (B, n_cells). Returns a (B, n_cells) boolean table marking
    the first cell of each such pair (its neighbour lies one step to the
    east, south-east, south or south-west: each pair is seen once).
    """
    table = costs.reshape(-1, grid.height, grid.width)
    bad = torch.zeros_like(table, dtype=torch.bool)
    for di, dj in grid.steps:
        if (di, dj) <= (0, 0):             # the opposite step sees the same pairs
            continue
        rows = slice(0, grid.height - di)
        cols = slice(max(0, -dj), grid.width - max(0, dj))
        here = table[:, rows, cols]
        there = table[:, di:grid.height, max(0, dj):grid.width - max(0, -dj)]
        bad[:, rows, cols] |= (here + there) < 0
    return bad.view(costs.shape)


def raise_negative_cycle(grid, costs, name):
    """Raise ``ValueError`` naming the first row with a negative cycle, if any."""
    if not bool((costs < 0).any()):          # one cheap reduction in the common case
        return
    bad = negative_cycle_pairs(grid, costs)
    row = first_bad_row(bad)
    if row is None:
        return
    cell = int(torch.nonzero(bad[row])[0, 0])
    i, j = divmod(cell, grid.width)
    partner = next((i + di, j + dj) for di, dj in grid.steps if (di, dj) > (0, 0)
                   and 0 <= i + di < grid.height and 0 <= j + dj < grid.width
                   and float(costs[row, cell] + costs[row, (i + di) * grid.width + j + dj]) < 0)
    pair_cost = float(costs[row, cell] + costs[row, partner[0] * grid.width + partner[1]])
    n_bad = int(bad.reshape(len(bad), -1).any(1).sum())
    raise ValueError(
        f"{name} has a negative cycle in row {row} (instance {row}): the neighbouring cells "
        f"{(i, j)} and {partner} cost {pair_cost:g} together, so stepping back and forth "
        "between them lowers a path's cost without end and there is no shortest path. "
        "Cell costs may be negative only where every two neighbouring cells cost at least "
        f"zero together (non-negative costs always qualify); {n_bad} row(s) break this.")


def cell_paths(grid, costs, source, target):
    """Cheapest paths of a batch: 0/1 visited cells (B, n_cells) and their costs (B,).

    ``costs`` is (B, n_cells) float64 without negative cycles; ``source``
    and ``target`` are (B,) long tensors of cell indices. Ties go to the
    first move in ``MOVES`` order.

    The tables are cell-major, ``(H + 2, W + 2, B)`` with a border of
    infinite distance: a neighbour's distances are then a shifted view whose
    rows are whole contiguous batches (several times faster on CPU than
    batch-major views).
    """
    batch, height, width = costs.shape[0], grid.height, grid.width
    cost = costs.T.reshape(height, width, batch)
    padded = costs.new_full((height + 2, width + 2, batch), float("inf"))
    dist = padded[1:-1, 1:-1]                                  # a view: rounds write here
    rows = torch.arange(batch, device=costs.device)
    padded.view(-1, batch)[_padded_index(source, width), rows] = costs[rows, source]
    # Step indices as uint8: their selects and updates run several times
    # faster on CPU than int64 ones.
    came_from = torch.zeros((height, width, batch), dtype=torch.uint8, device=costs.device)
    converged = False
    # Without a negative cycle a cheapest path has at most n_cells - 1 moves:
    # the distances settle within that many rounds, and one more confirms it.
    for _ in range(grid.n_cells):
        best, which = _cheapest_neighbour(padded, grid.steps, height, width)
        candidate = best + cost
        improved = candidate < dist
        if not bool(improved.any()):
            converged = True
            break
        dist.copy_(torch.minimum(candidate, dist))
        # came_from where improved, else unchanged (uint8 arithmetic wraps exactly).
        came_from += improved * (which - came_from)
    if not converged:
        # Only rounding can keep lowering distances here (cycles of zero cost
        # through negative cells): name the first such row.
        row = first_bad_row(improved.reshape(-1, batch).T)
        raise ValueError(
            f"the cell costs of row {row} (instance {row}) keep lowering the path costs after "
            f"{grid.n_cells} rounds (cycles of zero total cost through negative cells, "
            "lowered by rounding); make every two neighbouring cells cost more than zero "
            "together.")
    offsets = torch.tensor([di * width + dj for di, dj in grid.steps], device=costs.device)
    came_from = offsets[came_from.reshape(-1, batch).T.long()]   # flat step to the previous cell
    total = padded.view(-1, batch)[_padded_index(target, width), rows]
    return _trace_back(came_from, source, target, grid.n_cells), total


def _padded_index(cell, width):
    """Flat index in the padded ``(H + 2, W + 2)`` table of row-major cell indices."""
    return (cell // width + 1) * (width + 2) + cell % width + 1


def _cheapest_neighbour(padded, steps, height, width):
    """Each cell's cheapest neighbour distance and the index of its step (first on ties).

    One comparison per step (``argmin`` over a stacked axis, or ``where``,
    are many times slower on CPU). A step that is strictly cheaper than all
    before it takes over; steps come in increasing order, so the last one
    to take over, the largest index recorded, is the first minimum.
    """
    best, which = None, None
    for d, (di, dj) in enumerate(steps):
        there = padded[1 + di:1 + di + height, 1 + dj:1 + dj + width]
        if best is None:
            best = there
            which = torch.zeros(there.shape, dtype=torch.uint8, device=there.device)
            continue
        # (A bool tensor viewed as uint8 is free: 0/1 bytes.)
        which = torch.maximum(which, (there < best).view(torch.uint8) * d)
        best = torch.minimum(best, there)
    return best, which


def _trace_back(came_from, source, target, n_cells):
    """0/1 cells of the paths from each row's target back to its source."""
    batch = came_from.shape[0]
    rows = torch.arange(batch, device=came_from.device)
    used = torch.zeros(batch, n_cells, dtype=torch.float64, device=came_from.device)
    node = target.clone()
    used[rows, node] = 1.0
    for _ in range(n_cells - 1):
        active = node != source
        if not bool(active.any()):
            break
        node = torch.where(active, node + came_from[rows, node], node)
        used[rows, node] = 1.0
    return used
