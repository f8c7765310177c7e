"""Contrastive losses over a solution pool (Mulamba et al., IJCAI 2021): NCE and CMAP.

Both compare each instance's true optimal decision with the decisions of a
growing pool (the "negative samples"), so their gradient is closed form:
no solver appears in the backward pass. :class:`PoolLoss`, the pool
handling they share, is also the base of the learning-to-rank losses.
"""

import torch

from ._base import DecisionLoss, solve_finite, with_gradient
from ._pool import SolutionPool


class PoolLoss(DecisionLoss):
    """A loss that compares each instance with the decisions of a solution pool.

    On every call in training mode the predictions are solved (through the
    solver the loss is given, so an estimator's ``solve_ratio`` applies), and
    the results and the true decisions join the pool; the loss then reads
    the whole pool. In evaluation mode (``loss.eval()``, as on an
    estimator's validation batches) it only reads the pool. When that
    solver is a :class:`PooledSolver` on the same pool (an estimator with
    ``solve_ratio < 1``), the solver grows the pool itself, which the
    estimator seeded with the true decisions. Subclasses implement
    :meth:`pool_loss`.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    pool : SolutionPool, optional
        The pool to read and grow (the estimators pass the training pool,
        seeded with the training set's optimal decisions). When None the
        loss keeps its own, started from the true decisions of the first
        batch it sees.

    Notes
    -----
    With per-instance parameters (a ``k`` per row of a
    :class:`~skdfl.optimizers.KSubset`, ...) a pooled decision of another
    instance may not suit a row: only the entries that the optimizer's
    ``pool_feasible`` accepts for a row take part in that row's loss. An
    optimizer that cannot check this (``pool_feasible`` returns None) gets
    a ``ValueError`` when per-instance parameters are given.
    """

    needs_linear = True

    def __init__(self, optimizer, pool=None):
        super().__init__(optimizer)
        if pool is not None and not isinstance(pool, SolutionPool):
            raise TypeError(f"pool must be a SolutionPool or None; got "
                            f"{type(pool).__name__}.")
        self.pool = pool

    def instance_losses(self, theta_hat, theta, x_true, solver, **params):
        decisions, feasible = self.grow_pool(theta_hat, x_true, solver, **params)
        return self.pool_loss(theta_hat, theta, x_true, decisions, feasible)

    def pool_loss(self, theta_hat, theta, x_true, decisions, feasible):
        """Loss of each instance against the pool.

        Parameters
        ----------
        theta_hat, theta : Tensor of shape (B, n_params)
        x_true : Tensor of shape (B, n_vars)
        decisions : Tensor of shape (P, n_vars)
            The pool, on ``theta_hat``'s device.
        feasible : Tensor of shape (B, P) of bool, or None
            Which pool entries take part in each row's loss; None when every
            entry does (no per-instance parameters).

        Returns
        -------
        loss : Tensor of shape (B,)
        """
        raise NotImplementedError

    def grow_pool(self, theta_hat, x_true, solver, **params):
        """Add this batch's decisions to the pool; return it and the feasibility mask.

        Returns
        -------
        decisions : Tensor of shape (P, n_vars)
            The pool, in ``theta_hat``'s dtype and on its device.
        feasible : Tensor of shape (B, P) of bool, or None
            None when there are no per-instance parameters (every entry
            suits every row).
        """
        if self.pool is None:
            self.pool = SolutionPool(x_true.detach().to(theta_hat.device))
        elif self.pool.decisions.device != theta_hat.device:
            self.pool.to(theta_hat.device)
        # A PooledSolver on this same pool has added its exact solves already,
        # and its other answers are pool entries: adding them again would only
        # repeat the deduplication, a sort of the whole pool. In evaluation
        # mode (an estimator's validation batches) the pool is only read: the
        # validation instances' decisions must not join the training pool.
        if self.training:
            with torch.no_grad():
                x_hat = solve_finite(solver, theta_hat.detach(), **params)
            if getattr(solver, "pool", None) is not self.pool:
                self.pool.add(torch.cat([x_true.detach(), x_hat]))
        decisions = self.pool.decisions_like(theta_hat)
        if not params:
            return decisions, None
        # (checked on the pool in its own precision)
        feasible = solver.pool_feasible(self.pool.decisions, **params)
        if feasible is None:
            raise ValueError(
                f"method {self.method_name!r} compares each instance with a pool of other "
                f"instances' decisions, and with per-instance {sorted(params)} "
                f"{type(self.optimizer).__name__} cannot tell which of them suit a row "
                "(its pool_feasible returns None). The contrastive and ranking losses need "
                "an optimizer that checks pool feasibility; use another method, such as "
                "'spo+', with these per-instance parameters.")
        return decisions, feasible


def _masked_fill(values, mask, fill):
    """``values`` with ``fill`` where ``mask`` is False (a ``mask`` of None keeps all)."""
    return values if mask is None else values.masked_fill(~mask, fill)


def _row_weights(weights, counts):
    """``weights`` (B, P) divided by each row's count, 0 where the count is 0."""
    return weights / counts.clamp(min=1).unsqueeze(-1)


def _signed(values, sign):
    """``sign * values``, in place (a product by 1 would still cost a pass)."""
    return values if sign == 1.0 else values.mul_(sign)


def predicted_gaps(theta_hat, x_true, decisions, sign):
    """``sign * theta_hat @ (x_true - x')`` for every pool entry ``x'``, shape (B, P).

    Positive where the pool entry looks better than the true decision under
    the predictions (for either sense of the problem).
    """
    true_value = (theta_hat * x_true).sum(-1, keepdim=True)
    return _signed(torch.sub(true_value, theta_hat @ decisions.to(theta_hat).T), sign)


class NoiseContrastiveEstimation(PoolLoss):
    """Noise-contrastive loss: the true decision against every pooled decision.

    For a minimization the loss of an instance is the mean over the pool
    entries ``x'`` (the negative samples) of
    ``theta_hat @ x* - theta_hat @ x'``: it lowers the predicted cost of the
    true optimal decision ``x*`` relative to the others (``x*`` itself, in
    the pool, contributes zero). A maximization flips the sign. The loss is
    linear in ``theta_hat``, with the closed-form gradient
    ``x* - mean(x')``; only the pool entries that suit a row (per-instance
    parameters) count in its mean. Being linear it has no lower bound: in
    training its value keeps falling as the predictions grow in scale,
    which leaves the decisions (that depend on their direction) unharmed.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    pool : SolutionPool, optional
        The pool of decisions to contrast with; see :class:`PoolLoss`. When
        None the loss keeps its own, started from the true decisions it
        sees and grown with every solve.

    See Also
    --------
    ContrastiveMAP : contrast with the best pooled decision only.

    References
    ----------
    M. Mulamba, J. Mandi, M. Diligenti, M. Lombardi, V. Bucarey and T. Guns,
    "Contrastive Losses and Solution Caching for Predict-and-Optimize",
    IJCAI 2021.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import NoiseContrastiveEstimation, SolutionPool
    >>> from skdfl.optimizers import KSubset
    >>> pool = SolutionPool(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    >>> loss = NoiseContrastiveEstimation(KSubset(k=1), pool=pool)
    >>> theta = torch.tensor([[3.0, 1.0, 0.0]])            # item 0 is best
    >>> theta_hat = torch.tensor([[1.0, 2.0, 0.0]], requires_grad=True)
    >>> value = loss(theta_hat, theta)    # solving theta_hat adds [0, 1, 0] again
    >>> len(pool)
    2
    >>> value          # maximize: mean of theta_hat @ (x' - x*) over the pool
    tensor(0.5000, grad_fn=<MeanBackward0>)
    >>> value.backward()
    >>> theta_hat.grad                 # raise item 0, lower item 1
    tensor([[-0.5000,  0.5000,  0.0000]])
    """

    method_name = "nce"
    # Predicted gaps to the true decision: the true parameters are not read.
    needs_parameters = False

    def pool_loss(self, theta_hat, theta, x_true, decisions, feasible):
        # Linear in theta_hat: the loss is theta_hat @ (gradient row).
        sign = self.optimizer.sign
        with torch.no_grad():
            x_true = x_true.to(theta_hat)
            if feasible is None:
                grad = sign * (x_true - decisions.mean(0))
            else:
                counts = feasible.sum(-1)
                weights = _row_weights(feasible.to(theta_hat), counts)
                grad = sign * (x_true * (counts > 0).unsqueeze(-1) - weights @ decisions)
            values = (theta_hat * grad).sum(-1)
        return with_gradient(theta_hat, values, grad)


class ContrastiveMAP(PoolLoss):
    """Contrastive MAP loss: the true decision against the best pooled decision.

    For a minimization the loss of an instance is
    ``theta_hat @ x* - min_{x'} theta_hat @ x'`` over the pool entries
    ``x'`` that suit the row: how much better than the true optimal
    decision ``x*`` the pool's best decision under the predictions looks.
    It is non-negative (``x*`` is in the pool) and zero exactly when ``x*``
    is a best pooled decision under ``theta_hat``. A maximization mirrors
    it.

    Parameters
    ----------
    optimizer : Optimizer
        A linear decision problem.
    pool : SolutionPool, optional
        The pool of decisions to contrast with; see :class:`PoolLoss`. When
        None the loss keeps its own, started from the true decisions it
        sees and grown with every solve.

    See Also
    --------
    NoiseContrastiveEstimation : contrast with every pooled decision.

    References
    ----------
    M. Mulamba, J. Mandi, M. Diligenti, M. Lombardi, V. Bucarey and T. Guns,
    "Contrastive Losses and Solution Caching for Predict-and-Optimize",
    IJCAI 2021.

    Examples
    --------
    >>> import torch
    >>> from skdfl.methods import ContrastiveMAP
    >>> from skdfl.optimizers import KSubset
    >>> loss = ContrastiveMAP(KSubset(k=1))     # keeps its own pool
    >>> theta = torch.tensor([[3.0, 1.0, 0.0]])
    >>> float(loss(torch.tensor([[1.0, 2.0, 0.0]]), theta))  # pool: x* and [0, 1, 0]
    1.0
    >>> float(loss(theta, theta))      # x* is the best pooled decision: zero loss
    0.0
    >>> len(loss.pool)
    2
    """

    method_name = "cmap"
    needs_parameters = False

    def pool_loss(self, theta_hat, theta, x_true, decisions, feasible):
        sign = self.optimizer.sign
        with torch.no_grad():
            gaps = predicted_gaps(theta_hat, x_true, decisions, sign)
            largest, best = _masked_fill(gaps, feasible, -torch.inf).max(-1)
            # x* is in the pool with a gap of exactly zero; the clamp keeps the
            # rounding of its gap (matrix product against row sum) from going below.
            values = largest.clamp(min=0.0)
            grad = torch.sub(x_true.to(theta_hat), decisions.index_select(0, best))
            grad = _signed(grad.mul_(largest.ge(0.0).unsqueeze_(-1)), sign)
        return with_gradient(theta_hat, values, grad)
