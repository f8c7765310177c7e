"""The 0-1 knapsack, solved exactly for a whole batch by dynamic programming."""

import numbers

import numpy as np
import torch

from .._validation import check_scalar
from ._base import Optimizer, device_key
from ._linear_program import LinearProgram


class Knapsack(Optimizer):
    """Choose items of largest total value whose total weight fits a capacity.

    The decision ``x`` is a 0/1 vector over the items, feasible when
    ``weights @ x <= capacity``, and the objective ``theta @ x`` (the values)
    is maximized. The solver is an exact dynamic program over the capacity,
    run for the whole batch at once: its cost grows with
    ``n_items * capacity``, so weights must be non-negative integers (scale
    fractional weights and the capacity to integer units first).

    Parameters
    ----------
    weights : array-like of shape (n_items,)
        Non-negative integer weight of each item.
    capacity : int
        Non-negative integer capacity.

    Examples
    --------
    >>> import numpy as np
    >>> from skdfl.optimizers import Knapsack
    >>> knap = Knapsack(weights=[3, 4, 2], capacity=5)
    >>> knap.solve(np.array([[4.0, 5.0, 3.0], [1.0, 6.0, -2.0]]))
    array([[1., 0., 1.],
           [0., 1., 0.]])
    """

    sense = "maximize"
    is_linear = True

    def __init__(self, weights, capacity):
        self.weights = weights
        self.capacity = capacity

    @property
    def item_weights(self):
        """The validated weights as an integer array."""
        return self._cached("weights", self._validated_weights)

    def _validated_weights(self):
        weights = np.asarray(self.weights)
        if weights.ndim != 1 or weights.size == 0 or weights.dtype.kind not in "biuf":
            raise ValueError("weights must be a non-empty 1-D array of non-negative integers; "
                             f"got shape {weights.shape} and dtype {weights.dtype}.")
        if not np.all(np.isfinite(weights)) or np.any(weights != np.round(weights)):
            fractional = weights[weights != np.round(weights)][:3]
            raise ValueError("weights must be integers (scale fractional weights and the "
                             f"capacity to integer units); got {fractional}.")
        if np.any(weights < 0):
            raise ValueError(f"weights must be non-negative; got {weights.min()}.")
        if np.any(weights >= 2.0 ** 62):
            raise ValueError(f"weights must be below 2**62 (64-bit integers); got "
                             f"{weights.max()}.")
        check_scalar(self.capacity, "capacity", kind=numbers.Integral, low=0)
        return weights.astype(np.int64)

    @property
    def n_params(self):
        return len(self.item_weights)

    @property
    def n_vars(self):
        return self.n_params

    def lp_form(self):
        """The LP relaxation ``max theta @ x, weights @ x <= capacity, 0 <= x <= 1``.

        Its vertices are not all integral (one item may be fractional), so it
        serves training through ``method="relaxation"``; decisions at test
        time stay exact.

        Returns
        -------
        lp : LinearProgram
        """
        weights = self.item_weights.astype(np.float64)
        return LinearProgram(A_ub=weights[None, :], b_ub=[float(self.capacity)],
                             bounds=(0, 1), sense="maximize")

    def _solve(self, theta):
        weights = self._cached(("weights", device_key(theta.device)),
                               lambda: torch.as_tensor(self.item_weights, device=theta.device))
        return knapsack_batch(theta.to(torch.float64), weights, int(self.capacity)).to(theta.dtype)


# Rows per solver pass: keeps every tensor of a pass under torch's intra-op
# grain size (32768 elements), where splitting work across threads only adds
# synchronization (milliseconds per operation on a busy machine).
_GRAIN = 32768


def knapsack_batch(values, weights, capacity):
    """Exact 0-1 knapsack for every row of ``values`` (B, n); returns 0/1 decisions.

    ``best[b, c]`` is the largest value reachable with total weight at most
    ``c`` using the items seen so far; each item updates all rows and all
    capacities in one vectorized step, and the choices are traced back
    item by item from the full capacity. Large batches go through in
    passes of ``_GRAIN // (capacity + 1)`` rows.
    """
    rows = max(1, _GRAIN // (capacity + 1))
    if len(values) == 0:
        return values.new_zeros(values.shape)
    return torch.cat([_knapsack_pass(values[i:i + rows], weights, capacity)
                      for i in range(0, len(values), rows)])


def _knapsack_pass(values, weights, capacity):
    batch, n_items = values.shape
    best = values.new_zeros(batch, capacity + 1)
    taken = []
    for i in range(n_items):
        w = int(weights[i])
        shifted = torch.full_like(best, -torch.inf)
        if w <= capacity:
            shifted[:, w:] = best[:, :capacity + 1 - w] + values[:, i:i + 1]
        # Take an item only when it strictly helps: ties keep the lighter choice.
        taken.append(shifted > best)
        best = torch.maximum(best, shifted)
    decisions = values.new_zeros(batch, n_items)
    rows = torch.arange(batch, device=values.device)
    room = torch.full((batch,), capacity, dtype=torch.long, device=values.device)
    for i in range(n_items - 1, -1, -1):
        take = taken[i][rows, room]
        decisions[:, i] = take.to(values.dtype)
        room = room - take.long() * weights[i]
    return decisions
