"""Probabilistic coverage with a cardinality budget (Wilder, Dilkina and Tambe 2019)."""

import numbers

import numpy as np
import torch

from .._tensor import as_batch
from .._validation import check_scalar
from ._base import Optimizer, device_key, theta_values
from ._coverage_relax import coverage_value, relax_coverage
from ._instance import instance_tensor

#: Argument names under which ``check_theta`` sees a model's predictions.
PREDICTION_NAMES = ("theta_hat", "y_pred")


class CoverageMaximizer(Optimizer):
    """Choose at most ``k`` items that cover weighted targets with the largest probability.

    Item ``i`` covers target ``j`` independently with probability
    ``theta[i, j]``; a set ``S`` of items covers the expected weight

        f(S) = sum_j w_j (1 - prod_{i in S} (1 - theta[i, j])),

    a monotone submodular function, maximized subject to ``|S| <= k``. This
    is the "submodular maximization" problem of Wilder, Dilkina and Tambe
    (AAAI 2019), e.g. budget allocation over advertising channels or
    diverse recommendation.

    ``theta`` is the ``(n_items, n_targets)`` probability matrix flattened
    row-major (item by item), so an instance has ``n_items * n_targets``
    parameters, each in ``[0, 1]``. A decision is a 0/1 vector over the items.

    ``solve`` is the greedy algorithm (``k`` rounds, each adding the item of
    largest marginal gain, stopping early when no item gains anything), run
    for the whole batch at once. Greedy is within a factor ``1 - 1/e`` of the
    optimum (Nemhauser, Wolsey and Fisher 1978), not exact, so regrets
    measured against it can dip below zero. ``objective`` evaluated at a
    fractional ``x`` is the multilinear extension ``F(x)``, the expected
    coverage when item ``i`` is taken independently with probability
    ``x_i``; ``relax`` maximizes it (see :meth:`relax`).

    Parameters
    ----------
    k : int
        The largest number of items to choose, ``1 <= k <= n_items``.
    n_items : int
        The number of items.
    n_targets : int
        The number of targets.
    weights : array-like of shape (n_targets,), default=None
        Non-negative weight of each target; ``None`` weighs every target 1.

    Notes
    -----
    Per-instance parameters (``instance_params``): ``k`` of shape
    ``(n_instances,)``, whole numbers from 0 to ``n_items``, this instance's
    budget (0 chooses nothing); ``weights`` of shape ``(n_instances,
    n_targets)``, finite and non-negative, this instance's target weights.
    Greedy runs as many rounds as the largest budget of the batch, and a row
    stops adding items after its own ``k``; the relaxation projects every
    row onto its own budget.

    See Also
    --------
    KSubset : choose exactly ``k`` items with a linear objective.

    References
    ----------
    B. Wilder, B. Dilkina, M. Tambe. Melding the data-decisions pipeline:
    decision-focused learning for combinatorial optimization. AAAI 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from skdfl.optimizers import CoverageMaximizer
    >>> cover = CoverageMaximizer(k=2, n_items=3, n_targets=2)
    >>> theta = np.array([[0.9, 0.0,     # item 0 covers target 0
    ...                    0.8, 0.1,     # item 1 covers target 0 too
    ...                    0.0, 0.7]])   # item 2 covers target 1
    >>> x = cover.solve(theta)
    >>> x.tolist()
    [[1.0, 0.0, 1.0]]
    >>> cover.objective(x, theta)
    array([1.6])
    >>> cover.objective(np.array([[0.5, 0.5, 1.0]]), theta)  # multilinear extension
    array([1.385])
    >>> both = np.vstack([theta, theta])      # a budget and target weights per instance
    >>> cover.solve(both, k=[1, 3], weights=[[1.0, 1.0], [1.0, 0.0]]).tolist()
    [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]
    """

    sense = "maximize"
    is_linear = False
    theta_domain = "probability"
    instance_params = ("k", "weights")

    def __init__(self, k, n_items, n_targets, weights=None):
        self.k = k
        self.n_items = n_items
        self.n_targets = n_targets
        self.weights = weights

    @property
    def target_weights(self):
        """The validated target weights, a float64 array of shape (n_targets,)."""
        return self._check_params()

    def _check_params(self):
        return self._cached("weights", self._validated)

    def _validated(self):
        check_scalar(self.n_items, "n_items", kind=numbers.Integral, low=1)
        check_scalar(self.n_targets, "n_targets", kind=numbers.Integral, low=1)
        check_scalar(self.k, "k", kind=numbers.Integral, low=1)
        if self.k > self.n_items:
            raise ValueError(f"k must be at most n_items={self.n_items} (the number of items "
                             f"that can be chosen); got k={self.k}.")
        if self.weights is None:
            return np.ones(self.n_targets)
        weights = np.asarray(self.weights)
        if weights.dtype.kind not in "biuf" or weights.shape != (self.n_targets,):
            raise ValueError(f"weights must be a 1-D array of n_targets={self.n_targets} "
                             f"non-negative numbers; got shape {weights.shape} and dtype "
                             f"{weights.dtype}.")
        weights = weights.astype(np.float64)
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            bad = weights[~(np.isfinite(weights) & (weights >= 0))]
            raise ValueError(f"weights must be finite and non-negative; got {bad[:3]}.")
        return weights

    def _weights_on(self, device):
        weights = self.target_weights
        return self._cached(("weights", device_key(device)), lambda: torch.as_tensor(
            weights, dtype=torch.float64, device=device))

    @property
    def n_params(self):
        self._check_params()
        return self.n_items * self.n_targets

    @property
    def n_vars(self):
        self._check_params()
        return self.n_items

    def check_theta(self, theta, name="theta"):
        """Raise ``ValueError`` unless every entry of ``theta`` is a probability in [0, 1].

        Parameters
        ----------
        theta : array-like or Tensor of shape (n_instances, n_params)
        name : str, default="theta"
            The argument's name, used in the message.

        Examples
        --------
        >>> import numpy as np
        >>> from skdfl.optimizers import CoverageMaximizer
        >>> cover = CoverageMaximizer(k=1, n_items=2, n_targets=1)
        >>> cover.check_theta(np.array([[0.2, 0.9]]))   # fine: no error
        >>> cover.check_theta(np.array([[0.2, 1.5]]), "y")
        Traceback (most recent call last):
        ...
        ValueError: y must hold coverage probabilities in [0, 1] ...
        """
        theta = theta_values(theta, name)
        if theta.numel():
            low, high = torch.aminmax(theta)   # (cheaper than a mask of the whole batch)
            if bool(low >= 0) and bool(high <= 1):
                return
        bad = (theta < 0) | (theta > 1)
        if bool(bad.any()):
            first = tuple(int(i) for i in torch.nonzero(bad)[0].tolist())
            # Predictions (not data) out of range: the fix is the model's link.
            hint = (" A model's predictions stay in [0, 1] with the estimator's "
                    "out_activation='sigmoid' (its default for this optimizer) or 'clip'."
                    if name in PREDICTION_NAMES else "")
            raise ValueError(
                f"{name} must hold coverage probabilities in [0, 1] (the item-by-target "
                f"matrix of {type(self).__name__}, flattened row-major); got values from "
                f"{float(theta.detach().min()):.4g} to {float(theta.detach().max()):.4g}, "
                f"{int(bad.sum())} outside [0, 1], the first at index {first}.{hint}")

    def _check_instance_params(self, params, n_instances, device):
        self._check_params()
        checked = {}
        if "k" in params:
            checked["k"] = instance_tensor(params["k"], "k", n_instances, integer=True, low=0,
                                           high=self.n_items, high_note="n_items",
                                           device=device, dtype=torch.long)
        if "weights" in params:
            checked["weights"] = instance_tensor(params["weights"], "weights", n_instances,
                                                 tail=(self.n_targets,), low=0, device=device)
        return checked

    def _matrix(self, theta):
        return theta.to(torch.float64).reshape(-1, self.n_items, self.n_targets)

    def _target_weights(self, weights, device):
        """The checked per-row weights (float64 on ``device``), else the shared ones."""
        if weights is None:
            return self._weights_on(device)
        return weights.to(dtype=torch.float64, device=device)

    def _solve(self, theta, k=None, weights=None):
        w = self._target_weights(weights, theta.device)
        budget = self.k if k is None else k.to(theta.device)
        return greedy_coverage(self._matrix(theta), w, budget).to(theta.dtype)

    def _objective(self, x, theta, k=None, weights=None):
        # The expected coverage does not depend on the budget k.
        w = self._target_weights(weights, theta.device)
        return coverage_value(x.to(torch.float64), self._matrix(theta), w).to(theta.dtype)

    def relax(self, theta, gamma, **params):
        """Maximize the multilinear extension, differentiably in ``theta``.

        Returns a local maximizer of ``F(x, theta) - gamma * ||x||^2`` over
        ``{0 <= x <= 1, sum(x) <= k}`` (``gamma = 0``: the plain multilinear
        extension, the relaxation of Wilder et al. 2019). It is found by
        projected gradient ascent with the deterministic full gradient (not
        the paper's stochastic one), from ``x = k / n`` (tilted by 1e-6 to
        separate identical items), with an exact projection, an adaptive step
        and Newton steps on faces (for ``gamma > 0`` one at every
        iteration). ``F`` is not concave, so the point is a stationary point
        (to rounding where the face is a strict local maximum, else a fixed
        point of the projected gradient step to about 1e-10), not always the
        global maximum. With ``gamma = 0``, ``F`` is
        convex along every direction ``e_i - e_j``, so the result is usually
        a vertex, where the gradient is 0: a positive ``gamma`` gives
        informative gradients.

        The gradient flows back by implicit differentiation of the KKT
        conditions at that point with the exact Hessian of ``F``: items at 0
        or 1 stay fixed, the free ones solve the linear system of the
        stationarity conditions and, where ``sum(x) = k`` is active, of the
        budget. A singular system (``gamma = 0`` with items that cover
        nothing) gets its minimum-norm least-squares solution.

        Parameters
        ----------
        theta : ndarray or Tensor of shape (n_instances, n_items * n_targets)
            Coverage probabilities in [0, 1].
        gamma : float
            Weight of the ``-gamma * ||x||^2`` term, ``>= 0``.
        **params : array-like of shape (n_instances, ...)
            Per-instance ``k`` and ``weights`` (see Notes of the class).

        Returns
        -------
        x : ndarray or Tensor of shape (n_instances, n_items)
            The fractional decisions, of ``theta``'s kind and dtype (a tensor
            carries the autograd graph back to ``theta``).

        Examples
        --------
        >>> import torch
        >>> from skdfl.optimizers import CoverageMaximizer
        >>> cover = CoverageMaximizer(k=1, n_items=2, n_targets=2)
        >>> theta = torch.tensor([[0.8, 0.0,
        ...                        0.0, 0.6]], requires_grad=True)
        >>> cover.relax(theta, gamma=0.0).tolist()   # the plain extension: a vertex
        [[1.0, 0.0]]
        >>> x = cover.relax(theta, gamma=0.5)
        >>> x.detach()
        tensor([[0.6000, 0.4000]])
        >>> x[0, 0].backward()
        >>> theta.grad
        tensor([[ 0.5000,  0.5600, -0.4200, -0.5000]])
        >>> cover.relax(theta, gamma=0.5, k=[2]).detach()   # both items fit
        tensor([[0.8000, 0.6000]])
        """
        check_scalar(gamma, "gamma", low=0)
        batch, restore = as_batch(theta, "theta", width=self.n_params)
        params = self.check_params(params, len(batch), batch.device)
        self.check_theta(batch, "theta")
        return restore(self._relax(batch, gamma, **params))

    def _relax(self, theta, gamma, k=None, weights=None):
        """``relax`` on a validated tensor and checked per-instance parameters (the
        relaxation layer checks its predictions once per batch, before this)."""
        w = self._target_weights(weights, theta.device)
        budget = self.k if k is None else k.to(theta.device)
        return relax_coverage(theta.reshape(-1, self.n_items, self.n_targets), w, budget, gamma)


def greedy_coverage(theta, w, k):
    """Batched greedy: ``k`` rounds, each adding the item of largest marginal gain.

    The marginal gain of item ``a`` given the chosen set ``S`` is
    ``sum_j w_j theta_aj prod_{i in S} (1 - theta_ij)``, computed for every
    item of every instance in one batched product; an instance stops adding items once
    no item has a positive gain. Ties go to the lowest index.

    Parameters
    ----------
    theta : Tensor of shape (B, n, m), float64
    w : Tensor of shape (m,) or (B, m)
        Target weights, shared or one row per instance.
    k : int or Tensor of shape (B,)
        The budget, shared or per instance: the loop runs the largest one,
        and a row stops adding items after its own.

    Returns
    -------
    x : Tensor of shape (B, n), 0/1
    """
    batch, n, m = theta.shape
    uncovered = theta.new_ones(batch, m)
    x = theta.new_zeros(batch, n)
    rows = torch.arange(batch, device=theta.device)
    per_row = isinstance(k, torch.Tensor)
    rounds = (int(k.max()) if k.numel() else 0) if per_row else k
    for r in range(rounds):
        # One batched matrix-vector product (an einsum of the three built the
        # (B, n, m) product first: twice the time).
        gain = torch.bmm(theta, (uncovered * w).unsqueeze(-1))[..., 0]
        gain = gain.masked_fill(x > 0, -1.0)
        best = gain.argmax(1)
        best_gain = gain.gather(1, best.unsqueeze(1))[:, 0]
        take = best_gain > 0
        if per_row:
            take &= r < k
        if not bool(take.any()):
            break
        x[rows[take], best[take]] = 1.0
        chosen = theta[rows, best]
        uncovered = torch.where(take.unsqueeze(1), uncovered * (1.0 - chosen), uncovered)
    return x
