"""The 0-1 knapsack (one or several capacity dimensions), solved exactly for a batch."""

import numbers

import numpy as np
import torch

from .._validation import check_scalar
from . import _knapsack_dp
from ._base import Optimizer, device_key
from ._instance import first_bad_row, instance_tensor
from ._knapsack_dp import (MAX_TABLE_CAPACITY, solve_by_classes, solve_by_items,
                           solve_by_row_classes, weight_classes)
from ._knapsack_relax import relax_knapsack
from ._linear_program import LinearProgram

# Largest weight a per-instance array may hold: it travels as float64, exact
# for whole numbers up to 2**53.
_MAX_INSTANCE_WEIGHT = 2.0 ** 53
# The cost model that picks the kernel for weights per row (see
# _solve_row_weights), measured on one CPU thread: an operation's overhead in
# table entries, and the operations of an item's and of a weight value's step.
_OP_ENTRIES, _ITEM_OPS, _CLASS_OPS = 2000, 6, 15


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

    With 2-D ``weights`` of shape ``(n_dims, n_items)`` and one capacity per
    dimension it is the multi-dimensional knapsack (``weights @ x <=
    capacity`` row by row), solved exactly by a dynamic program over the
    product of the capacities, one item at a time; that table must fit
    (``prod(capacity + 1)`` at most about ``10**7`` entries, each capacity
    counted up to its row's total weight), else
    :class:`~skdfl.optimizers.MixedIntegerProgram` is the way.

    Parameters
    ----------
    weights : array-like of shape (n_items,) or (n_dims, n_items)
        Non-negative integer weight of each item (in each dimension).
    capacity : int or array-like of shape (n_dims,)
        Non-negative integer capacity; one per dimension for 2-D weights.

    Notes
    -----
    Per-instance parameters (``instance_params``), whole non-negative
    numbers, one row per instance:

    - ``capacity`` of shape ``(n_instances,)`` (``(n_instances, n_dims)``
      for 2-D weights): this instance's capacity. The table runs to the
      largest capacity of the batch and each row's decision is read at its
      own.
    - ``weights`` of shape ``(n_instances, n_items)`` (``(n_instances,
      n_dims, n_items)``): this instance's item weights. The items then
      enter the table one at a time, each row shifted by its own weights
      (by weight value, as without per-row weights, when the batch has few
      distinct weights).

    ``relax`` is the quadratic relaxation ``max theta @ x - gamma ||x||^2``
    over ``{0 <= x <= 1, weights @ x <= capacity}``: for one dimension a
    dedicated batched projection (a multiplier per row, exact up to
    rounding, with an analytic backward) that takes both per-instance
    parameters; for several dimensions the :class:`LinearProgram` relaxation
    of :meth:`lp_form`, which takes a per-instance ``capacity`` but not
    per-instance ``weights``.

    Examples
    --------
    >>> import numpy as np
    >>> from skdfl.optimizers import Knapsack
    >>> knap = Knapsack(weights=[3, 4, 2], capacity=5)
    >>> theta = np.array([[4.0, 5.0, 3.0], [1.0, 6.0, -2.0]])
    >>> knap.solve(theta)
    array([[1., 0., 1.],
           [0., 1., 0.]])
    >>> knap.solve(theta, capacity=[4, 9])              # a capacity per instance
    array([[0., 1., 0.],
           [1., 1., 0.]])
    >>> knap.solve(theta, weights=[[3, 4, 2], [6, 5, 1]])  # weights per instance
    array([[1., 0., 1.],
           [0., 1., 0.]])
    >>> Knapsack(weights=[[3, 4, 2], [1, 1, 4]], capacity=[5, 2]).solve(theta)
    array([[0., 1., 0.],
           [0., 1., 0.]])
    """

    sense = "maximize"
    is_linear = True
    instance_params = ("capacity", "weights")

    def __init__(self, weights, capacity):
        self.weights = weights
        self.capacity = capacity

    # ------------------------------------------------------------------
    # Validation (lazy: __init__ only stores the arguments)
    # ------------------------------------------------------------------

    @property
    def item_weights(self):
        """The validated weights as an integer array (1-D, or 2-D for several dimensions)."""
        return self._cached("weights", self._validated_weights)

    def _validated_weights(self):
        weights = np.asarray(self.weights)
        if weights.ndim not in (1, 2) or weights.size == 0 or weights.dtype.kind not in "biuf":
            raise ValueError("weights must be a non-empty 1-D array of non-negative integers "
                             "(or 2-D, of shape (n_dims, n_items), for several capacity "
                             f"dimensions); got shape {weights.shape} and dtype "
                             f"{weights.dtype}.")
        if not np.all(np.isfinite(weights)) or np.any(weights != np.round(weights)):
            fractional = weights[weights != np.round(weights)][:3]
            raise ValueError("weights must be integers (scale fractional weights and the "
                             f"capacity to integer units); got {fractional}.")
        if np.any(weights < 0):
            raise ValueError(f"weights must be non-negative; got {weights.min()}.")
        if np.any(weights >= 2.0 ** 62):
            raise ValueError(f"weights must be below 2**62 (64-bit integers); got "
                             f"{weights.max()}.")
        return weights.astype(np.int64)

    @property
    def _is_multi(self):
        """Whether the weights are 2-D (a capacity per dimension)."""
        return self.item_weights.ndim == 2

    @property
    def _capacities(self):
        """The validated capacity, one integer per dimension."""
        return self._cached("capacities", self._validated_capacities)

    def _validated_capacities(self):
        if not self._is_multi:
            if np.ndim(self.capacity) != 0:
                raise ValueError("capacity must be one integer for 1-D weights (a capacity "
                                 "per dimension needs weights of shape (n_dims, n_items)); got "
                                 f"shape {np.shape(self.capacity)}.")
            check_scalar(self.capacity, "capacity", kind=numbers.Integral, low=0)
            return np.array([int(self.capacity)], dtype=np.int64)
        n_dims = self.item_weights.shape[0]
        capacity = np.asarray(self.capacity)
        expected = (f"capacity must be a sequence of n_dims={n_dims} non-negative integers, one "
                    "per row of weights (2-D)")
        if capacity.shape != (n_dims,) or capacity.dtype.kind not in "biuf":
            raise ValueError(f"{expected}; got {self.capacity!r}.")
        if not np.all(np.isfinite(capacity)) or np.any(capacity != np.round(capacity)) \
                or np.any(capacity < 0):
            raise ValueError(f"{expected}; got {capacity.tolist()}.")
        return np.minimum(capacity, 2.0 ** 62).astype(np.int64)

    @property
    def n_params(self):
        self._capacities        # weights and capacity must agree (one per dimension)
        return self.item_weights.shape[-1]

    @property
    def n_vars(self):
        return self.n_params

    def _check_instance_params(self, params, n_instances, device):
        n_dims, n_items = self._weights_2d.shape
        self._capacities                   # the constructor's values are checked all the same
        per_dim = (n_dims,) if self._is_multi else ()
        checked = {}
        if "weights" in params:
            checked["weights"] = instance_tensor(
                params["weights"], "weights", n_instances, tail=per_dim + (n_items,),
                integer=True, low=0, high=_MAX_INSTANCE_WEIGHT,
                high_note="2**53, the largest whole number exact in float64", device=device,
                dtype=torch.long)
        if "capacity" in params:
            checked["capacity"] = instance_tensor(
                params["capacity"], "capacity", n_instances, tail=per_dim, integer=True, low=0,
                device=device)
        self._check_tables(checked)
        return checked

    def _check_tables(self, params):
        """Raise unless every row's DP table fits, naming the first row that does not."""
        # On the CPU: the constructor's values live there, and the check syncs anyway.
        capacity = self._row_capacity(params).cpu()
        totals = self._row_totals(params).cpu()
        rooms = torch.minimum(capacity, totals.to(torch.float64))
        entries = (rooms + 1.0).prod(1)
        row = first_bad_row(entries > MAX_TABLE_CAPACITY + 1)
        if row is None:
            return
        show = (lambda t: _show(t[row] if len(t) > 1 else t[0], self._is_multi))  # noqa: E731
        raise ValueError(
            f"capacity must keep the dynamic program's table within {MAX_TABLE_CAPACITY + 1} "
            f"entries per instance (the product over dimensions of min(capacity, total weight) "
            f"+ 1); got capacity {show(capacity)} with total weight {show(totals)} in row {row} "
            f"(instance {row}), {float(entries[row]):.4g} entries. Express weights and capacity "
            "in coarser integer units, or solve it with MixedIntegerProgram.")

    # ------------------------------------------------------------------
    # Per-row data
    # ------------------------------------------------------------------

    @property
    def _weights_2d(self):
        """The weights as (n_dims, n_items): one row for the one-dimensional knapsack."""
        return self.item_weights.reshape(-1, self.n_params)

    def _row_weights(self, params, device):
        """Weights of shape (B, n_dims, n_items), or (1, n_dims, n_items) if shared."""
        weights = params.get("weights")
        if weights is None:
            return self._cached(("weights_3d", device_key(device)), lambda: torch.as_tensor(
                self._weights_2d, device=device).unsqueeze(0))
        return weights.to(device).reshape(len(weights), *self._weights_2d.shape)

    def _row_totals(self, params):
        """Total weight per dimension, of shape (B or 1, n_dims), long."""
        weights = params.get("weights")
        if weights is None:
            return torch.as_tensor(self._weights_2d.sum(1), dtype=torch.long).unsqueeze(0)
        return weights.reshape(len(weights), *self._weights_2d.shape).sum(-1)

    def _row_capacity(self, params):
        """Capacity per dimension, of shape (B or 1, n_dims), float64."""
        capacity = params.get("capacity")
        if capacity is None:
            return torch.as_tensor(self._capacities, dtype=torch.float64).unsqueeze(0)
        return capacity.reshape(len(capacity), len(self._weights_2d))

    def _rooms(self, params, batch, device):
        """Each row's capacity per dimension, capped by its total weight: (B, n_dims)."""
        totals = self._row_totals(params).to(device)
        capacity = self._row_capacity(params).to(device)
        rooms = torch.minimum(capacity, totals.to(torch.float64)).to(torch.long)
        return rooms.expand(batch, -1)

    # ------------------------------------------------------------------
    # Exact solver
    # ------------------------------------------------------------------

    @property
    def _table_capacity(self):
        """The capacities the DP runs over: beyond the total weight nothing changes."""
        return self._cached("table_capacity", self._checked_table_capacity)

    def _checked_table_capacity(self):
        totals = self._weights_2d.sum(1)
        capacity = np.minimum(self._capacities, totals)
        entries = float(np.prod(capacity + 1.0))
        if entries > MAX_TABLE_CAPACITY + 1:
            if not self._is_multi:
                raise ValueError(
                    f"capacity must be at most {MAX_TABLE_CAPACITY} weight units for the "
                    f"dynamic program (or the weights must sum to at most that); got capacity="
                    f"{self.capacity} and total weight {int(totals[0])}. Express weights and "
                    "capacity in coarser integer units, or solve it with MixedIntegerProgram.")
            raise ValueError(
                f"the dynamic program's table would hold {entries:.4g} entries (the product "
                f"over dimensions of min(capacity, total weight) + 1), more than the "
                f"{MAX_TABLE_CAPACITY + 1} it can; got capacity={self._capacities.tolist()} and "
                f"total weights {totals.tolist()}. Express weights and capacities in coarser "
                "integer units, or solve this problem with MixedIntegerProgram.")
        return capacity

    def _solve(self, theta, capacity=None, weights=None):
        values = theta.to(torch.float64)
        if capacity is None and weights is None:
            return self._solve_fixed(values).to(theta.dtype)
        params = {name: value for name, value in (("capacity", capacity), ("weights", weights))
                  if value is not None}
        rooms = self._rooms(params, len(values), values.device)
        if self._is_multi:
            decisions = solve_by_items(values, self._row_weights(params, values.device), rooms)
        elif weights is None:
            decisions = solve_by_classes(values, self._classes(values.device), None, rooms[:, 0])
        else:
            decisions = _solve_row_weights(values, weights.to(values.device), rooms[:, 0],
                                           self._cached("multiset_classes", dict))
        return decisions.to(theta.dtype)

    def _solve_fixed(self, values):
        capacity = self._table_capacity
        if self._is_multi:
            rooms = torch.as_tensor(capacity, device=values.device).expand(len(values), -1)
            return solve_by_items(values, self._row_weights({}, values.device), rooms)
        return solve_by_classes(values, self._classes(values.device), int(capacity[0]))

    def _classes(self, device):
        # The first class's counts are built for the constructor's capacity (a
        # pass with a larger one computes its own).
        capacity = min(int(self._capacities[0]), int(self.item_weights.sum()), MAX_TABLE_CAPACITY)
        return self._cached(("classes", device_key(device)),
                            lambda: weight_classes(self.item_weights, capacity, device))

    def pool_feasible(self, decisions, capacity=None, weights=None):
        """Which decisions fit each instance's capacity with its weights.

        A solution pool holds decisions of other instances; one suits a row
        when ``weights @ x <= capacity`` there, in every dimension.

        Parameters
        ----------
        decisions : Tensor of shape (n_decisions, n_items)
            0/1 decisions.
        capacity, weights : Tensor, optional
            Checked per-instance parameters (see :meth:`check_params`).

        Returns
        -------
        feasible : Tensor of shape (n_instances, n_decisions) of bool, or None
            None without per-instance parameters: every decision of the pool
            then fits.

        Examples
        --------
        >>> import torch
        >>> from skdfl.optimizers import Knapsack
        >>> knap = Knapsack([3, 4, 2], capacity=5)
        >>> params = knap.check_params({"capacity": [4, 9]}, 2)
        >>> knap.pool_feasible(torch.tensor([[1.0, 0, 1], [1, 1, 0]]), **params)
        tensor([[False, False],
                [ True,  True]])
        """
        if capacity is None and weights is None:
            return None
        params = {name: value for name, value in (("capacity", capacity), ("weights", weights))
                  if value is not None}
        n_instances = len(next(iter(params.values())))
        device = decisions.device
        row_weights = self._row_weights(params, device).to(torch.float64)    # (B or 1, d, n)
        loads = row_weights @ decisions.to(device, torch.float64).T          # (B or 1, d, P)
        room = self._row_capacity(params).to(device).unsqueeze(-1)            # (B or 1, d, 1)
        fits = (loads <= room).all(1)
        return fits.expand(n_instances, len(decisions))

    # ------------------------------------------------------------------
    # Relaxation
    # ------------------------------------------------------------------

    def lp_form(self):
        """The LP relaxation ``max theta @ x, weights @ x <= capacity, 0 <= x <= 1``.

        Its vertices are not all integral (an item may be fractional), so it
        serves training through ``method="relaxation"``; decisions at test
        time stay exact. ``A_ub`` is the weights (one row per dimension).

        Returns
        -------
        lp : LinearProgram

        Examples
        --------
        >>> from skdfl.optimizers import Knapsack
        >>> lp = Knapsack(weights=[[3, 4, 2], [1, 1, 4]], capacity=[5, 2]).lp_form()
        >>> lp.A_ub, lp.b_ub
        (array([[3., 4., 2.],
               [1., 1., 4.]]), array([5., 2.]))
        """
        return LinearProgram(A_ub=self._weights_2d.astype(np.float64),
                             b_ub=self._capacities.astype(np.float64),
                             bounds=(0, 1), sense="maximize")

    def _relax(self, theta, gamma, capacity=None, weights=None):
        if self._is_multi:
            if weights is not None:
                raise ValueError(
                    "weights per instance change the matrix of the linear program that relaxes "
                    "a multi-dimensional knapsack, which its relaxation cannot take per "
                    "instance; pass capacity per instance only, or use a method that solves "
                    "exactly (method='spo+', 'dbb', ...).")
            params = {} if capacity is None else {"capacity": capacity}
            return super()._relax(theta, gamma, **params)
        gamma = float(check_scalar(gamma, "gamma", low=0.0, low_inclusive=False))
        device = theta.device
        if weights is None:
            weights = self._cached(("relax_weights", device_key(device)), lambda: torch.as_tensor(
                self.item_weights, dtype=torch.float64, device=device).unsqueeze(0))
        if capacity is None:
            capacity = torch.tensor([float(self._capacities[0])], dtype=torch.float64)
        return relax_knapsack(theta, gamma, weights.to(device, torch.float64),
                              capacity.to(device, torch.float64))

    def _lp_params(self, params):
        if "weights" in params:
            raise ValueError("Knapsack's linear program takes no per-instance weights (they "
                             "change its matrix); pass capacity per instance only.")
        if "capacity" in params:
            capacity = params["capacity"].to(torch.float64)
            return {"b_ub": capacity.reshape(len(capacity), len(self._weights_2d))}
        return {}


def _solve_row_weights(values, weights, rooms, cache):
    """One dimension, weights per row: by weight value when that is cheaper, else by item.

    A rough cost model in table entries: every torch operation costs
    ``_OP_ENTRIES`` (its fixed overhead); an item's step takes
    ``_ITEM_OPS`` operations over the table, a weight value's step
    ``_CLASS_OPS`` small ones plus, for the values between the first and the
    last, a window over the table per count up to the value's largest count
    in one row. By weight value, rows that hold one multiset of weights in
    different orders go through the kernel of shared weights (see
    ``_one_multiset``; ``cache`` keeps its weight classes).
    """
    n_items = values.shape[1]
    multiset = _one_multiset(weights, cache, values.device)
    if multiset is None:
        distinct = _distinct(weights)
        if len(distinct) > n_items:
            return solve_by_items(values, weights.unsqueeze(1), rooms.unsqueeze(1))
        most = (weights.unsqueeze(-1) == distinct).sum(1).amax(0).tolist()  # per weight value
    else:
        order, (classes, most) = multiset
    entries = min(len(values) * (int(rooms.max()) + 1), _knapsack_dp._PASS_ENTRIES)
    windows = sum(count + 1 for count in most[1:-1])
    by_value = len(most) * _CLASS_OPS * _OP_ENTRIES + windows * entries
    by_item = n_items * (_ITEM_OPS * _OP_ENTRIES + entries)
    if by_value > by_item:
        return solve_by_items(values, weights.unsqueeze(1), rooms.unsqueeze(1))
    if multiset is None:
        return solve_by_row_classes(values, weights, rooms, distinct)
    # Within a weight the items keep their order: ties go as in solve_by_row_classes.
    decisions = solve_by_classes(values.gather(1, order), classes, None, rooms)
    return torch.zeros_like(values).scatter_(1, order, decisions)


def _one_multiset(weights, cache, device):
    """Rows whose weights are one multiset in different orders, or None if they are not.

    The same items placed differently per row (a day's appliances in other
    slots): with each row's items sorted by weight (stably), the weights are
    shared, and the faster kernel of shared weights solves the batch. Returns
    that order per row and the multiset's weight classes and item count per
    weight, kept in ``cache`` (a dict of a few entries).
    """
    if len(weights) == 0:
        return None
    # (A sort and one comparison: rows that differ go to kernels that cost far more.)
    ordered, order = weights.sort(dim=1, stable=True)
    if not torch.equal(ordered, ordered[:1].expand_as(ordered)):
        return None
    shared = ordered[0].cpu().numpy()
    key = (device_key(device), shared.tobytes())
    if key not in cache:
        if len(cache) >= 8:
            cache.clear()
        total = min(int(shared.sum()), MAX_TABLE_CAPACITY)
        cache[key] = (weight_classes(shared, total, device),
                      np.unique(shared, return_counts=True)[1].tolist())
    return order, cache[key]


def _distinct(weights):
    """The distinct weights, ascending: counted when they are small (faster than a sort)."""
    if weights.numel() and int(weights.max()) < 1 << 16:
        return torch.bincount(weights.flatten()).nonzero().flatten()
    return torch.unique(weights)


def _show(values, multi):
    values = [int(v) if float(v).is_integer() else float(v) for v in values.tolist()]
    return str(values) if multi else str(values[0])
