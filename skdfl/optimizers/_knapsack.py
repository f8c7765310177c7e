"""The 0-1 knapsack, solved exactly for a whole batch by dynamic programming."""

import numbers
from dataclasses import dataclass

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
    run for the whole batch at once, with one step per distinct weight
    (items of equal weight enter together): its cost grows with
    ``capacity`` times the number of distinct weights, so weights must be
    non-negative integers (scale fractional weights and the capacity to
    integer units first).

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

    @property
    def _table_capacity(self):
        """The capacity the DP runs over: beyond the total weight nothing changes."""
        capacity = min(int(self.capacity), int(self.item_weights.sum()))
        if capacity > MAX_TABLE_CAPACITY:
            raise ValueError(
                f"capacity must be at most {MAX_TABLE_CAPACITY} weight units for the dynamic "
                f"program (or the weights must sum to at most that); got capacity="
                f"{self.capacity} and total weight {int(self.item_weights.sum())}. Express "
                "weights and capacity in coarser integer units.")
        return capacity

    def _solve(self, theta):
        capacity = self._table_capacity
        classes = self._cached(("classes", device_key(theta.device)),
                               lambda: weight_classes(self.item_weights, capacity, theta.device))
        return knapsack_batch(theta.to(torch.float64), classes, capacity).to(theta.dtype)


# Largest capacity of the DP table: one row of it per instance must fit in memory.
MAX_TABLE_CAPACITY = 10 ** 7
# Entries of a DP table (rows x capacities) per solver pass: small tables
# stay in cache, and tiny operations below torch's intra-op grain size
# (32768 elements) do not pay for synchronizing threads.
_PASS_ENTRIES = 1 << 15


@dataclass
class WeightClass:
    """Items of one weight."""

    weight: int
    first: int                 # index of its first item
    items: torch.Tensor        # (n,) item indices
    most: torch.Tensor         # (capacity + 1,): how many of them fit in capacity c
    steps: torch.Tensor        # (n + 1,): weight of taking m of them, m = 0..n


def weight_classes(weights, capacity, device):
    """Group the items by weight (one DP step per group instead of per item)."""
    classes = []
    room = np.arange(capacity + 1)
    as_t = lambda a: torch.as_tensor(a, device=device)  # noqa: E731
    for weight in np.unique(weights):
        items = np.flatnonzero(weights == weight)
        most = np.minimum(room // weight, len(items)) if weight else np.full_like(room, len(items))
        classes.append(WeightClass(int(weight), int(items[0]), as_t(items), as_t(most),
                                   as_t(np.arange(len(items) + 1) * int(weight))))
    return classes


def knapsack_batch(values, classes, capacity):
    """Exact 0-1 knapsack for every row of ``values`` (B, n); returns 0/1 decisions.

    Items of equal weight form a class: taking ``m`` of them is best done
    with the ``m`` most valuable, whose sum ``top[m]`` is concave in ``m``.
    So a class enters the dynamic program in one step,
    ``best[c] = max_m best[c - m w] + top[m]``, where ``best[b, c]`` is the
    largest value reachable with total weight at most ``c`` using the
    classes seen so far (a strided view of ``best``, no copy). The first
    class needs no search (concavity: the best count within ``c`` is
    ``min(c // w, number of positive values)``) and the last one only the
    full capacity: the real data's 48 items have three weights, hence a
    single full step. Going back from the last class, each class's count is
    the best one at the capacity left, found from the table before it.
    Large batches go through in passes that bound the working memory.
    """
    if len(values) == 0:
        return values.new_zeros(values.shape)
    rows = max(1, _PASS_ENTRIES // (capacity + 1))
    if len(values) <= rows:
        return _knapsack_pass(values, classes, capacity)
    return torch.cat([_knapsack_pass(part, classes, capacity) for part in values.split(rows)])


def _ranked(values, cls):
    """Descending order of a class's values, the sums of its top m, and its positive count."""
    ranked, order = values[:, cls.items].sort(dim=1, descending=True, stable=True)
    top = torch.cat([ranked.new_zeros(len(values), 1), ranked.cumsum(1)], dim=1)
    return order, top, (ranked > 0).sum(1)


def _add_class(best, top, cls):
    """``max_m best[c - m w] + top[m]`` for every capacity ``c``."""
    n, width = top.shape[1] - 1, best.shape[1]
    if cls.weight >= width:                       # none of them ever fits
        return best
    # Left padding by n * w entries of -inf makes "m items do not fit"
    # impossible; in reversed count order r = n - m the candidates are a
    # view with positive strides: padded[c + r * w].
    padded = torch.cat([best.new_full((len(best), n * cls.weight), -torch.inf), best], dim=1)
    window = padded.as_strided((len(best), width, n + 1),
                               (padded.stride(0), 1, cls.weight))
    return (window + top.flip(1).unsqueeze(1)).amax(-1)


def _add_item(best, value, weight):
    """The 0-1 step of a class of one item: the new table and where the item is taken.

    The item is taken only where it strictly helps (ties keep the lighter
    choice).
    """
    shifted = torch.full_like(best, -torch.inf)
    if weight < best.shape[1]:
        shifted[:, weight:] = best[:, :best.shape[1] - weight] + value
    taken = shifted > best
    return torch.maximum(best, shifted), taken


def _best_count(before, top, room, cls):
    """The count of a class that reaches ``best`` at capacity ``room`` (fewest on ties)."""
    left = room.unsqueeze(1) - cls.steps                   # (B, n + 1)
    values = top if before is None else before.gather(1, left.clamp_min(0)) + top
    return values.masked_fill(left < 0, -torch.inf).argmax(1)


def _knapsack_pass(values, classes, capacity):
    batch = values.shape[0]
    # What the trace back needs per class: the 0/1 choice table of a single
    # item, or the table before a class of several items and their ranking.
    best, memory = None, []
    for cls in classes[:-1]:
        if best is not None and len(cls.items) == 1:
            best, taken = _add_item(best, values[:, cls.first:cls.first + 1], cls.weight)
            memory.append(taken)
            continue
        order, top, n_positive = _ranked(values, cls)
        memory.append((best, order, top))
        if best is None:
            count = torch.minimum(cls.most.unsqueeze(0), n_positive.unsqueeze(1))
            best = top.gather(1, count)
        else:
            best = _add_class(best, top, cls)
    memory.append((best, *_ranked(values, classes[-1])[:2]))
    decisions = values.new_zeros(values.shape)
    rows = torch.arange(batch, device=values.device)
    room = torch.full((batch,), capacity, dtype=torch.long, device=values.device)
    for cls, kept in zip(reversed(classes), reversed(memory)):
        if isinstance(kept, torch.Tensor):
            taken = kept[rows, room]
            decisions[:, cls.first] = taken.to(values.dtype)
            room = room - taken.long() * cls.weight
            continue
        before, order, top = kept
        taken = _best_count(before, top, room, cls)
        room = room - taken * cls.weight
        ranks = torch.arange(len(cls.items), device=values.device)
        chosen = (ranks < taken.unsqueeze(1)).to(values.dtype)
        decisions[:, cls.items] = torch.zeros_like(chosen).scatter_(1, order, chosen)
    return decisions
